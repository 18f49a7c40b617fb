"""Demo allocations of the scarce brands by tier, built through the real services after the KPI refresh.

For every customer-service department and every scarce product on sale that at least ``MIN_BUYERS`` of its retailers
ordered in the last ``WEEKS`` order weeks that ended before ``as_of``, a chain of weekly allocations:

1. the first week: brands ordered by ``BROAD_BUYERS`` or more retailers a week are allocated by tier (every other one
   by tier and market type, rural weighted 0.8), the others at selected points (选点: the retailers that ordered them);
   the lowest tier served is the 5th percentile of the buyers' tiers; the cartons available are 110% of what the
   department ordered that week (the supply the ordering system saw); linear tier curve; published;
2. CMs adjust a few lines the Friday before the week (about ``RANDOM_ADJUSTMENTS`` cuts or raises a department and
   week, with reasons); in each department one planted CM (the seed picks it) cuts the same three high-tier
   retailers of the department's most ordered scarce brand every week: the fairness report's repeat rule flags
   exactly these CMs (its share rule may also flag a CM whose few random cuts add up: 2 of 105 on the city demo as of
   2026-10-31, 0 of 10 on the county);
3. the week is evaluated from the real order facts, and next week's allocation is proposed from the outcome with
   that week's supply; it is published and the chain goes on. The last proposal is for the week after the last
   complete one: published (with adjustments) when ``as_of`` falls inside it, else left as next week's draft.

The order facts of all the weeks are read once (one DuckDB query). Deterministic for ``seed`` and ``as_of``.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from django.conf import settings

from cmdesk.analytics.layout import month_label, order_file
from cmdesk.catalog.models import Product, ProductStatus
from cmdesk.org.choices import OrgKind, Role
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.retail.models import Retailer
from cmdesk.supply.models import (
    Allocation,
    AllocationAdjustment,
    AllocationLine,
    AllocationStatus,
    AllocationVariant,
)
from cmdesk.supply.services import allocation as svc

WEEKS = 4  # evaluated weeks per chain (the proposal after them is a fifth, left as a draft)
MIN_BUYERS = 5  # a scarce brand fewer of the department's retailers ordered in those weeks is not allocated
BROAD_BUYERS = 30  # ordered by this many retailers a week on average: by tier; fewer: at selected points (选点)
SUPPLY_FACTOR = 1.1  # cartons available = this × what the department ordered that week
TIER_PERCENTILE = 5  # the lowest tier served: this percentile of the ordering retailers' tiers
RANDOM_ADJUSTMENTS = 3  # ordinary adjustments per department and week, on average (one line each, random products)
PLANTED_CUTS = 3  # retailers the planted CM cuts every week
CUT_REASONS = ["该户近期资金紧张", "该户库存较多", "店面装修", "该户本周不需要"]
RAISE_REASONS = ["陈列位置好，动销快", "节日备货", "新开便利店，需求旺"]


def _weeks(as_of: dt.date) -> list[dt.date]:
    """The last WEEKS Mondays whose week ended before ``as_of``, oldest first."""
    last = svc.week_start_of(as_of) - dt.timedelta(days=7)
    if last + dt.timedelta(days=6) >= as_of:
        last -= dt.timedelta(days=7)
    return [last - dt.timedelta(weeks=k) for k in range(WEEKS - 1, -1, -1)]


def _read_weeks(data_dir: Path, weeks: list[dt.date], product_ids: list[int]) -> dict[tuple[int, dt.date], dict]:
    """{(product, week): {retailer: (ordered, demanded, supplied)}} for the scarce products, in one query."""
    start, end = weeks[0], weeks[-1] + dt.timedelta(days=6)
    months, day = set(), start
    while day <= end:
        months.add(month_label(day))
        day += dt.timedelta(days=1)
    files = [str(order_file(data_dir, m)) for m in sorted(months) if order_file(data_dir, m).exists()]
    out: dict[tuple[int, dt.date], dict] = defaultdict(dict)
    if not files:
        return out
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT product_id, retailer_id, date_trunc('week', order_date)::DATE AS week, SUM(ordered), "
            "SUM(demanded), SUM(supplied) FROM read_parquet(?) WHERE order_date BETWEEN ? AND ? "
            "AND product_id IN (SELECT UNNEST(?)) GROUP BY ALL",
            [files, start, end, product_ids],
        ).fetchall()
    finally:
        con.close()
    for pid, rid, week, o, d, s in rows:
        out[(int(pid), week)][int(rid)] = (int(o), int(d), int(s))
    return out


class _Demo:
    def __init__(self, as_of: dt.date, seed: int):
        self.as_of = as_of
        self.rng = np.random.default_rng([seed, 0xA110C])
        self.weeks = _weeks(as_of)
        self.products = list(Product.objects.filter(scarce=True, status=ProductStatus.ON_SALE).order_by("code"))
        self.departments = list(OrgUnit.objects.filter(kind=OrgKind.DEPARTMENT).order_by("path"))
        self.counts = {"allocations": 0, "lines": 0, "adjustments": 0, "evaluated": 0, "proposals": 0}
        rows = Retailer.objects.values_list("pk", "tier", "route__org_unit__path", "route__cm_id")
        self.tier = {r[0]: r[1] for r in rows}
        self.path = {r[0]: r[2] for r in rows}
        self.cm_of = {r[0]: r[3] for r in rows}
        self.users = {s.pk: s.user for s in Staff.objects.filter(role__in=[Role.CM, Role.HEAD]).select_related("user")}
        self.heads = {
            s.org_unit.path: s.user for s in Staff.objects.filter(role=Role.HEAD).select_related("org_unit", "user")
        }

    def run(self) -> dict[str, Any]:
        if not self.products or not self.departments:
            return self.counts
        facts = _read_weeks(Path(settings.CMDESK_DATA_DIR), self.weeks, [p.pk for p in self.products])
        for dept in self.departments:
            self._department(dept, facts)
        return self.counts

    def _ordered(self, facts, product: Product, week: dt.date, dept: OrgUnit) -> dict[int, tuple[int, int, int]]:
        return {rid: v for rid, v in facts.get((product.pk, week), {}).items() if self.path[rid].startswith(dept.path)}

    def _department(self, dept: OrgUnit, facts) -> None:
        head = self.heads.get(dept.path)
        orderers = {p.pk: [self._ordered(facts, p, w, dept) for w in self.weeks] for p in self.products}
        volume = {pk: sum(v[0] for week in weeks for v in week.values()) for pk, weeks in orderers.items()}
        hot = max(self.products, key=lambda p: (volume[p.pk], p.code))
        self.planted = (None, [])
        ordered = [hot] + [p for p in self.products if p != hot]  # the planted CM is known before the others adjust
        for i, product in enumerate(ordered):
            weeks = orderers[product.pk]
            buyers = sorted({rid for week in weeks for rid in week})
            if len(buyers) < MIN_BUYERS:
                continue
            broad = len(buyers) / len(self.weeks) >= BROAD_BUYERS
            tiers = sorted(self.tier[r] for r in buyers)
            min_tier = max(1, int(np.percentile(tiers, TIER_PERCENTILE, method="lower")))
            req = svc.AllocationRequest(
                product=product,
                org_unit=dept,
                week_start=self.weeks[0],
                available=self._supply(weeks[0]),
                min_tier=min_tier,
                # the broad brands by tier (every other one split urban / rural), the narrow ones at selected points
                variant=AllocationVariant.TIER_MARKET if broad and i % 2 else AllocationVariant.TIER,
                segment_weights={"urban": 1.0, "rural": 0.8} if broad and i % 2 else {},
                selected=[] if broad else buyers,
                selected_only=not broad,
                note="演示：按档位投放" if broad else "演示：选点投放",
            )
            allocation = svc.create_allocation(req, head)
            self._chain(allocation, product == hot, weeks, head)

    def _supply(self, week: dict) -> int:
        return max(1, math.ceil(SUPPLY_FACTOR * sum(v[0] for v in week.values())))

    def _chain(self, allocation: Allocation, hot: bool, weeks: list[dict], head) -> None:
        """Publish, adjust, evaluate and propose week after week; stop where a week allots nothing."""
        self.counts["allocations"] += 1
        for k in range(len(self.weeks)):
            if not allocation.lines.exists():
                return  # the supply reaches no retailer: the draft stays for the desk to rework
            allocation = svc.publish(allocation, head)
            if hot and self.planted[0] is None:
                self.planted = self._pick_planted(allocation)
            self._adjust(allocation, *(self.planted if hot else (None, [])))
            self.counts["lines"] += allocation.lines.count()
            svc.evaluate(allocation, head, as_of=self.as_of, orders=weeks[k])
            self.counts["evaluated"] += 1
            supply = self._supply(weeks[k + 1]) if k + 1 < len(weeks) else None
            allocation = svc.propose(allocation, head, available=supply)
            self.counts["proposals"] += 1
            self.counts["allocations"] += 1
        if allocation.week_start <= self.as_of and allocation.lines.exists():
            allocation = svc.publish(allocation, head)  # the proposal's week has begun: this week's allotment
            self._adjust(allocation, *(self.planted if hot else (None, [])))
        self.counts["lines"] += allocation.lines.count()

    def _pick_planted(self, allocation: Allocation) -> tuple[int | None, list[int]]:
        """A CM with at least PLANTED_CUTS allotted retailers of tier ≥ the median, and those retailers."""
        lines = list(allocation.lines.order_by("-tier", "retailer_id").values_list("retailer_id", "tier"))
        by_cm: dict[int, list[int]] = defaultdict(list)
        for rid, _tier in lines:
            if self.cm_of[rid] is not None:
                by_cm[self.cm_of[rid]].append(rid)
        candidates = sorted(cm for cm, rids in by_cm.items() if len(rids) >= PLANTED_CUTS + 2)
        if not candidates:
            return None, []
        cm = candidates[int(self.rng.integers(0, len(candidates)))]
        return cm, by_cm[cm][:PLANTED_CUTS]

    def _adjust(self, allocation: Allocation, planted_cm: int | None = None, victims: list[int] | None = None) -> None:
        """The planted CM's cuts and a few ordinary adjustments, dated the Friday before the week."""
        day = allocation.week_start - dt.timedelta(days=3)
        victims = victims or []
        made: list[int] = []
        if planted_cm is not None:
            for line in allocation.lines.filter(retailer_id__in=victims, quantity__gt=0):
                to = int(self.rng.integers(0, max(1, line.quantity // 3) + 1))
                if to < line.final_quantity:
                    reason = CUT_REASONS[int(self.rng.integers(0, len(CUT_REASONS)))]
                    made.append(svc.adjust_line(line, self.users[planted_cm], to, reason, today=day).pk)
        ids = list(allocation.lines.exclude(retailer_id__in=victims).order_by("pk").values_list("pk", flat=True))
        draw = self.rng.random() < RANDOM_ADJUSTMENTS / len(self.products)
        picks = [ids[int(self.rng.integers(0, len(ids)))]] if ids and draw else []
        for pk in picks:
            line = AllocationLine.objects.get(pk=pk)
            cm = self.cm_of[line.retailer_id]
            if cm is None or cm == self.planted[0] or cm not in self.users:
                continue
            allocation.refresh_from_db(fields=["allotted_total"])
            free = allocation.available - allocation.allotted_total
            if self.rng.random() < 0.5 and free >= 1:
                to, reasons = line.final_quantity + 1, RAISE_REASONS
            elif line.final_quantity > 0:
                to, reasons = line.final_quantity - 1, CUT_REASONS
            else:
                continue
            reason = reasons[int(self.rng.integers(0, len(reasons)))]
            made.append(svc.adjust_line(line, self.users[cm], to, reason, today=day).pk)
        # The adjustments happened before the week, not when the demo was built.
        for i, pk in enumerate(made):
            at = dt.datetime.combine(day, dt.time(9 + i % 8, 7 * i % 60), tzinfo=dt.UTC)
            AllocationAdjustment.objects.filter(pk=pk).update(at=at)
        self.counts["adjustments"] += len(made)


def build_allocation_demo(as_of: dt.date, seed: int) -> dict[str, Any]:
    """Build the step and return counts and the time taken, for the demo's log."""
    started = time.perf_counter()
    counts = _Demo(as_of, seed).run()
    report = svc.fairness(None, _weeks(as_of)[0], _weeks(as_of)[-1])
    flagged = [r.name for r in report.flagged]
    published = Allocation.objects.filter(status=AllocationStatus.PUBLISHED).count()
    return {
        **counts,
        "published": published,
        "flagged CMs": len(flagged),
        "flagged": ", ".join(flagged),
        "seconds": f"{time.perf_counter() - started:.1f}",
    }
