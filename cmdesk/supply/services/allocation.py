"""Allocation of a scarce brand by tier (按档位投放): the tier curve, per-retailer allotments, CM adjustments, the
export for the ordering system, the evaluation after the week, next week's proposal and the fairness report.

The tier curve (:func:`tier_curve`)
-----------------------------------
The eligible retailers fall into cells (segment, tier): one segment for the plain variant, else the market type,
business format, market area or 4+X class. Each cell c has n_c retailers and a weight w_c = w(g) × s(segment), where
w(g) is the tier weight (default linear: g − min_tier + 1; configurable per tier, must not decrease with the tier)
and s the segment weight (default 1). The per-retailer quantity a_c must satisfy

* a_c integer, 0 ≤ a_c ≤ cap;
* within a segment, a higher tier never gets less than a lower one (a_(g,s) ≥ a_(g',s) for g > g');
* Σ_c a_c × n_c ≤ available.

1. Scale: the largest λ (bisection) with Σ_c n_c × min(cap, ⌊λ w_c⌋) ≤ available. ⌊λ w⌋ keeps the order of w, so
   every rule holds.
2. Round up: the leftover cartons go, from the top tier down (segments in name order within a tier), one carton more
   per retailer to each cell whose whole cell fits in the leftover, stays within the cap and does not pass the
   next higher tier of its segment. Each cell is offered one extra carton at most: a cell's quantity is its
   proportional share rounded down or up, never more, so no tier soaks up the remainder.

Same inputs, same result: no randomness, cells in a fixed order, bisection from fixed bounds.

Rules of the rest (all thresholds are parameters with the defaults below):

* Adjustments: a reason is required; 0 ≤ new ≤ min(cap, tier quantity + max(1, ⌈RAISE_SHARE × tier quantity⌉));
  the allocation's total stays within the cartons available; drafts (heads, clerks, centre) and published
  allocations before the order week starts may change; an evaluated (closed) allocation never changes.
* Evaluation (per tier, over the lines with an allotment > 0): 订足率 = Σ min(ordered, allotment) ÷ Σ allotment
  (the allotment is the ordering system's cap: anything ordered beyond it is reported apart as ``over``),
  订足面 = retailers with ordered ≥ allotment ÷ retailers allotted, 进货面 = retailers with ordered > 0 ÷ retailers
  allotted, 订单满足率 = Σ supplied ÷ Σ demanded.
* Proposal: a tier with 订足率 ≥ PROPOSAL["high_fill"] and 订足面 ≥ PROPOSAL["high_full"] gains PROPOSAL["step"] of
  its weight (demand exceeds the allotment); a tier with 订足率 < PROPOSAL["low_fill"] loses it; then the weights are
  made non-decreasing again by isotonic regression (pool-adjacent-violators, weighted by retailers) and next week's
  allocation is computed from them with the same tier-curve algorithm.
* Fairness: see :func:`fairness`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cmdesk.analytics.layout import month_label, order_file
from cmdesk.catalog.models import Product, ProductStatus
from cmdesk.core.audit import acting_as
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import user_scope
from cmdesk.core.xlsx import XLSX_CONTENT_TYPE, Sheet, xlsx_bytes
from cmdesk.org.choices import OrgKind
from cmdesk.org.models import OrgUnit, Staff, staff_of
from cmdesk.retail.choices import BusinessFormat, MarketType, RetailerStatus
from cmdesk.retail.models import TIER_MAX, Retailer

from ..models import (
    Allocation,
    AllocationAdjustment,
    AllocationLine,
    AllocationStatus,
    AllocationTier,
    AllocationVariant,
)

RAISE_SHARE = 0.5  # an adjustment may raise a line by at most this share of its tier quantity (at least 1 carton)
PROPOSAL = {"high_fill": 0.95, "high_full": 0.8, "low_fill": 0.6, "step": 0.2}
FAIRNESS = {"repeat_min": 3, "window_weeks": 8, "share_ratio": 3.0, "min_cut_retailers": 3}
EXPORT_HEADERS = ["licence", "retailer", "product_code", "week", "allotment"]
_BISECT_STEPS = 200


# ------------------------------------------------------------------------------------------------ the tier curve
@dataclass(frozen=True)
class Cell:
    """Retailers of one tier in one segment, and their weight w(g) × s(segment)."""

    segment: str
    tier: int
    retailers: int
    weight: float


@dataclass
class Curve:
    """Per-retailer quantity per cell, the cartons it uses and the scale λ found."""

    quantities: dict[tuple[str, int], int]
    total: int
    available: int
    scale: float

    @property
    def leftover(self) -> int:
        return self.available - self.total


def tier_curve(cells: Sequence[Cell], available: int, cap: int | None = None) -> Curve:
    """Integer per-retailer quantities for ``cells`` (see the module docstring). Pure and deterministic."""
    if available < 0:
        raise ValueError("available must be ≥ 0")
    live = sorted((c for c in cells if c.retailers > 0), key=lambda c: (-c.tier, c.segment))
    if not live:
        return Curve({}, 0, available, 0.0)
    n = np.array([c.retailers for c in live], dtype=np.int64)
    w = np.array([c.weight for c in live], dtype=np.float64)
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be finite and ≥ 0")
    limit = np.int64(cap) if cap is not None else np.int64(available)  # no retailer can use more than everything

    def quantities(lam: float) -> np.ndarray:
        return np.minimum(limit, np.floor(lam * w)).astype(np.int64)

    lo = 0.0
    positive = w[w > 0]
    if positive.size:
        hi = (available + 1) / positive.min() + 1.0
        if int((quantities(hi) * n).sum()) <= available:
            lo = hi  # everything saturated (caps): nothing larger helps
        else:
            for _step in range(_BISECT_STEPS):
                mid = (lo + hi) / 2
                if mid in (lo, hi):
                    break
                if int((quantities(mid) * n).sum()) <= available:
                    lo = mid
                else:
                    hi = mid
    q = quantities(lo)
    left = available - int((q * n).sum())
    above: dict[str, int] = {}  # segment → index of its last (next higher) cell seen
    for i, c in enumerate(live):
        j = above.get(c.segment)
        if left >= n[i] and q[i] + 1 <= limit and (j is None or q[i] + 1 <= q[j]):
            q[i] += 1
            left -= int(n[i])
        above[c.segment] = i
    result = {(c.segment, c.tier): int(q[i]) for i, c in enumerate(live)}
    return Curve(result, available - left, available, lo)


def tier_weight_curve(tier_weights: dict | None, min_tier: int) -> dict[int, float]:
    """w(g) for every tier served: linear by default, else the configured weights (a tier without one takes the
    next lower tier's, 0 below every configured tier). Refuses weights that decrease with the tier."""
    if not tier_weights:
        return {g: float(g - min_tier + 1) for g in range(min_tier, TIER_MAX + 1)}
    given: dict[int, float] = {}
    for key, value in tier_weights.items():
        try:
            tier, weight = int(key), float(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                {"tier_weights": _("Tier weight %(key)s: %(value)s is not a number.") % {"key": key, "value": value}}
            ) from exc
        if not 1 <= tier <= TIER_MAX or weight < 0 or not math.isfinite(weight):
            raise ValidationError(
                {"tier_weights": _("Tier weight %(key)s: tiers run 1..30 and weights are ≥ 0.") % {"key": key}}
            )
        given[tier] = weight
    previous = None
    for tier in sorted(given):
        if previous is not None and given[tier] < given[previous]:
            raise ValidationError(
                {
                    "tier_weights": _(
                        "Tier weights must not decrease from a lower tier to a higher one: D%(low)s has %(a)s, "
                        "D%(high)s has %(b)s."
                    )
                    % {"low": previous, "a": given[previous], "high": tier, "b": given[tier]}
                }
            )
        previous = tier
    curve = {}
    for g in range(min_tier, TIER_MAX + 1):
        below = [t for t in given if t <= g]
        curve[g] = given[max(below)] if below else 0.0
    return curve


def isotonic(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """The non-decreasing sequence closest to ``values`` in weighted least squares (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, wt in zip(values, weights, strict=True):
        blocks.append([float(v), max(float(wt), 1e-9), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    out: list[float] = []
    for mean, _w, count in blocks:
        out.extend([mean] * count)
    return out


# ------------------------------------------------------------------------------------------- eligible retailers
def week_start_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


@dataclass
class Eligible:
    """The retailers an allocation serves, as parallel lists (ids, tiers, segments)."""

    ids: list[int]
    tiers: list[int]
    segments: list[str]


def _segments(variant: str, rows: list[tuple]) -> list[str]:
    """Each row's segment: (id, tier, market_type, business_format, area code)."""
    if variant == AllocationVariant.TIER:
        return ["" for _r in rows]
    if variant == AllocationVariant.TIER_MARKET:
        return [r[2] for r in rows]
    if variant == AllocationVariant.TIER_FORMAT:
        return [r[3] for r in rows]
    if variant == AllocationVariant.TIER_AREA:
        return [r[4] for r in rows]
    if variant == AllocationVariant.TIER_CLASS:
        try:
            from cmdesk.supply.services.classes import class_codes
        except ImportError as exc:
            raise ValidationError(
                {"variant": _("The 4+X classes are not available yet: choose another variant.")}
            ) from exc
        codes = class_codes([r[0] for r in rows])
        return [str(codes.get(r[0]) or "")[:32] for r in rows]
    raise ValidationError({"variant": _("Unknown variant %(v)s.") % {"v": variant}})


def eligible_retailers(allocation: Allocation) -> Eligible:
    """The org unit's open retailers with a tier ≥ the lowest tier served (only the selected points if so)."""
    week_end = allocation.week_start + dt.timedelta(days=6)
    qs = Retailer.objects.filter(
        route__org_unit__path__startswith=allocation.org_unit.path,
        status=RetailerStatus.NORMAL,
        tier__gte=allocation.min_tier,
    ).filter(
        Q(opened_on__isnull=True) | Q(opened_on__lte=week_end),
        Q(closed_on__isnull=True) | Q(closed_on__gte=allocation.week_start),
    )
    if allocation.selected_only:
        qs = qs.filter(pk__in=allocation.selected.values("pk"))
    rows = list(qs.order_by("pk").values_list("pk", "tier", "market_type", "business_format", "route__org_unit__code"))
    return Eligible([r[0] for r in rows], [r[1] for r in rows], _segments(allocation.variant, rows))


def segment_label(variant: str, segment: str) -> str:
    """A readable name for a segment code."""
    if variant == AllocationVariant.TIER:
        return ""
    if variant == AllocationVariant.TIER_MARKET and segment in MarketType.values:
        return str(MarketType(segment).label)
    if variant == AllocationVariant.TIER_FORMAT and segment in BusinessFormat.values:
        return str(BusinessFormat(segment).label)
    if variant == AllocationVariant.TIER_AREA:
        unit = OrgUnit.objects.filter(code=segment).only("name").first()
        return unit.name if unit else segment
    return segment or str(_("unclassified"))


def _segment_weight(weights: dict, segment: str) -> float:
    value = (weights or {}).get(segment, 1.0)
    return float(value)


def _validate_segment_weights(weights: Any) -> dict:
    if weights in (None, ""):
        return {}
    if not isinstance(weights, dict):
        raise ValidationError({"segment_weights": _("Segment weights must be an object {segment: weight}.")})
    clean = {}
    for key, value in weights.items():
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                {"segment_weights": _("Segment %(s)s: %(v)s is not a number.") % {"s": key, "v": value}}
            ) from exc
        if number < 0 or not math.isfinite(number):
            raise ValidationError({"segment_weights": _("Segment %(s)s: the weight must be ≥ 0.") % {"s": key}})
        clean[str(key)] = number
    return clean


# ------------------------------------------------------------------------------------------------------- selectors
def is_own_scope(user: Any) -> bool:
    return user_scope(user).kind == "own"


def allocations_for(user: Any, action: str = "view"):
    """Allocations the user may see: its scope; a CM only published or evaluated ones reaching its retailers."""
    qs = Allocation.objects.restrict(user, action)
    if is_own_scope(user):
        qs = qs.exclude(status=AllocationStatus.DRAFT).distinct()
    return qs


def lines_for(user: Any):
    """Allotment lines the user may see (a CM: its own retailers', never of a draft)."""
    qs = AllocationLine.objects.restrict(user, "view")
    if is_own_scope(user):
        qs = qs.exclude(allocation__status=AllocationStatus.DRAFT)
    return qs


# ------------------------------------------------------------------------------------------------- create / compute
def _require(user: Any, perm: str) -> None:
    if user is not None and not user.has_perm(perm):
        raise PermissionDenied


def _check_unit(user: Any, unit: OrgUnit) -> None:
    """The org unit must lie inside the user's scope (the command line acts for the whole city)."""
    if user is None:
        return
    scope = user_scope(user)
    if scope.kind == "all":
        return
    if scope.kind == "org" and unit.path.startswith(scope.org_path):
        return
    raise ValidationError({"org_unit": _("%(unit)s is outside your scope.") % {"unit": unit.name}})


def _check_product(product: Product) -> None:
    if not product.scarce:
        raise ValidationError(
            {
                "product": _("%(p)s (%(c)s) is not a scarce brand: only scarce brands (紧俏烟) are allocated by tier.")
                % {"p": product.name, "c": product.code}
            }
        )
    if product.status != ProductStatus.ON_SALE:
        raise ValidationError(
            {
                "product": _("%(p)s (%(c)s) is not on sale (%(s)s).")
                % {"p": product.name, "c": product.code, "s": product.get_status_display()}
            }
        )


def compute(allocation: Allocation) -> Curve:
    """(Re)build the tier rows and the lines of a saved allocation from its parameters; returns the curve."""
    eligible = eligible_retailers(allocation)
    if not eligible.ids:
        raise ValidationError(
            _("No retailer of %(unit)s qualifies (open, tier ≥ D%(t)s%(sel)s).")
            % {
                "unit": allocation.org_unit.name,
                "t": allocation.min_tier,
                "sel": _(", selected points only") if allocation.selected_only else "",
            }
        )
    w_tier = tier_weight_curve(allocation.tier_weights, allocation.min_tier)
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for tier, segment in zip(eligible.tiers, eligible.segments, strict=True):
        counts[(segment, tier)] += 1
    cells = [
        Cell(seg, tier, n, w_tier[tier] * _segment_weight(allocation.segment_weights, seg))
        for (seg, tier), n in counts.items()
    ]
    curve = tier_curve(cells, allocation.available, allocation.cap_per_retailer)
    allocation.tiers.all().delete()
    allocation.lines.all().delete()
    AllocationTier.objects.bulk_create(
        [
            AllocationTier(
                allocation=allocation,
                tier=c.tier,
                segment=c.segment,
                retailers=c.retailers,
                quantity=curve.quantities[(c.segment, c.tier)],
                total=curve.quantities[(c.segment, c.tier)] * c.retailers,
            )
            for c in sorted(cells, key=lambda c: (c.segment, -c.tier))
        ]
    )
    lines = []
    for rid, tier, seg in zip(eligible.ids, eligible.tiers, eligible.segments, strict=True):
        q = curve.quantities[(seg, tier)]
        if q > 0:
            lines.append(
                AllocationLine(
                    allocation=allocation, retailer_id=rid, tier=tier, segment=seg, quantity=q, final_quantity=q
                )
            )
    AllocationLine.objects.bulk_create(lines, batch_size=2000)
    allocation.allotted_total = curve.total
    allocation.save(update_fields=["allotted_total"])
    return curve


@dataclass
class AllocationRequest:
    """What an allocation is asked for (the form, the API body and the command line all build one)."""

    product: Product
    org_unit: OrgUnit
    week_start: dt.date
    available: int
    variant: str = AllocationVariant.TIER
    min_tier: int = 1
    cap_per_retailer: int | None = None
    selected: list[int] = field(default_factory=list)  # retailer ids (选点)
    selected_only: bool = False
    segment_weights: dict = field(default_factory=dict)
    tier_weights: dict = field(default_factory=dict)
    note: str = ""


def validate_request(req: AllocationRequest) -> None:
    """Refuse what can never be allocated, naming the field."""
    _check_product(req.product)
    if not isinstance(req.available, int) or req.available <= 0:
        raise ValidationError({"available": _("The cartons available must be a whole number above 0.")})
    if req.week_start.weekday() != 0:
        raise ValidationError(
            {"week_start": _("The order week must start on a Monday: %(d)s is not one.") % {"d": req.week_start}}
        )
    if not 1 <= req.min_tier <= TIER_MAX:
        raise ValidationError({"min_tier": _("The lowest tier served must be between 1 and 30.")})
    if req.cap_per_retailer is not None and req.cap_per_retailer <= 0:
        raise ValidationError({"cap_per_retailer": _("The cap per retailer must be above 0 (or empty for none).")})
    if req.variant not in AllocationVariant.values:
        raise ValidationError({"variant": _("Unknown variant %(v)s.") % {"v": req.variant}})
    if req.selected_only and not req.selected:
        raise ValidationError({"selected": _("Selected points only, but no retailer is selected.")})
    if req.selected:
        inside = set(
            Retailer.objects.filter(
                pk__in=req.selected, route__org_unit__path__startswith=req.org_unit.path
            ).values_list("pk", flat=True)
        )
        outside = sorted(set(req.selected) - inside)
        if outside:
            licences = list(Retailer.objects.filter(pk__in=outside[:5]).values_list("licence_no", flat=True))
            raise ValidationError(
                {
                    "selected": _("Selected retailers outside %(unit)s: %(list)s.")
                    % {"unit": req.org_unit.name, "list": ", ".join(licences or map(str, outside[:5]))}
                }
            )
    req.segment_weights = _validate_segment_weights(req.segment_weights)
    tier_weight_curve(req.tier_weights, req.min_tier)


def create_allocation(req: AllocationRequest, user: Any = None, *, based_on: Allocation | None = None) -> Allocation:
    """Create a draft allocation and compute its tiers and lines (atomic, audited)."""
    _require(user, "supply.add_allocation")
    validate_request(req)
    _check_unit(user, req.org_unit)
    existing = Allocation.objects.filter(product=req.product, org_unit=req.org_unit, week_start=req.week_start).first()
    if existing is not None:
        raise ValidationError(
            {
                "week_start": _("%(p)s already has an allocation for %(unit)s in the week of %(w)s (#%(id)s).")
                % {"p": req.product.name, "unit": req.org_unit.name, "w": req.week_start, "id": existing.pk}
            }
        )
    with transaction.atomic(), acting_as(user):
        allocation = Allocation.objects.create(
            product=req.product,
            org_unit=req.org_unit,
            week_start=req.week_start,
            available=req.available,
            variant=req.variant,
            min_tier=req.min_tier,
            cap_per_retailer=req.cap_per_retailer,
            selected_only=req.selected_only,
            segment_weights=req.segment_weights,
            tier_weights={str(k): v for k, v in (req.tier_weights or {}).items()},
            based_on=based_on,
            note=req.note[:300],
            created_by=user if getattr(user, "pk", None) else None,
        )
        if req.selected:
            allocation.selected.set(req.selected)
        compute(allocation)
    return allocation


def publish(allocation: Allocation, user: Any = None) -> Allocation:
    """Draft → published: the CMs see their retailers' lines."""
    _require(user, "supply.publish_allocation")
    with transaction.atomic(), acting_as(user):
        allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
        if allocation.status != AllocationStatus.DRAFT:
            raise ValidationError(
                _("Only a draft can be published: this allocation is %(s)s.") % {"s": allocation.get_status_display()}
            )
        if not allocation.lines.exists():
            raise ValidationError(_("Nothing to publish: no retailer has an allotment."))
        allocation.status = AllocationStatus.PUBLISHED
        allocation.published_at = timezone.now()
        allocation.save(update_fields=["status", "published_at"])
    return allocation


# ------------------------------------------------------------------------------------------------------ adjustments
def raise_limit(line: AllocationLine, cap: int | None) -> int:
    """The most a line may be raised to: its tier quantity + max(1, ⌈RAISE_SHARE × quantity⌉), within the cap."""
    top = line.quantity + max(1, math.ceil(RAISE_SHARE * line.quantity))
    return min(top, cap) if cap is not None else top


def adjust_line(
    line: AllocationLine, user: Any, quantity: int, reason: str, *, today: dt.date | None = None
) -> AllocationAdjustment:
    """Change one retailer's allotment with a reason, logged as an :class:`AllocationAdjustment` (audited)."""
    if user is None or not user.has_perm("supply.adjust_allocationline"):
        raise PermissionDenied
    staff = staff_of(user)
    if staff is None:
        raise ValidationError(_("Adjustments are signed by a staff member: this login has no staff profile."))
    if not lines_for(user).filter(pk=line.pk).exists():
        raise OutOfScope
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the adjustment.")})
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        raise ValidationError({"quantity": _("The allotment must be a whole number of cartons, 0 or more.")})
    today = today or timezone.localdate()
    with transaction.atomic(), acting_as(user):
        allocation = Allocation.objects.select_for_update().get(pk=line.allocation_id)
        line = AllocationLine.objects.select_related("retailer").get(pk=line.pk)
        if allocation.status == AllocationStatus.CLOSED:
            raise ValidationError(_("This allocation has been evaluated (closed): its allotments no longer change."))
        if today >= allocation.week_start:
            raise ValidationError(
                _("The order week started on %(d)s: allotments can only change before it.")
                % {"d": allocation.week_start}
            )
        if quantity == line.final_quantity:
            raise ValidationError({"quantity": _("The allotment is already %(q)s.") % {"q": quantity}})
        top = raise_limit(line, allocation.cap_per_retailer)
        if quantity > top:
            raise ValidationError(
                {
                    "quantity": _("%(shop)s (D%(t)s, %(q)s by tier) may be raised to %(top)s cartons at most.")
                    % {"shop": line.retailer.shop_name, "t": line.tier, "q": line.quantity, "top": top}
                }
            )
        total = allocation.allotted_total - line.final_quantity + quantity
        if total > allocation.available:
            raise ValidationError(
                {
                    "quantity": _(
                        "That would allot %(total)s cartons, more than the %(available)s available "
                        "(%(free)s still free)."
                    )
                    % {
                        "total": total,
                        "available": allocation.available,
                        "free": allocation.available - allocation.allotted_total,
                    }
                }
            )
        adjustment = AllocationAdjustment.objects.create(
            line=line, by=staff, quantity_from=line.final_quantity, quantity_to=quantity, reason=reason[:300]
        )
        line.final_quantity = quantity
        line.save(update_fields=["final_quantity"])
        allocation.allotted_total = total
        allocation.save(update_fields=["allotted_total"])
    return adjustment


# ---------------------------------------------------------------------------------------------------------- export
def export_rows(allocation: Allocation, user: Any = None) -> list[list]:
    """(licence, retailer, product code, week, allotment) per line the user may see (all lines for the system)."""
    lines = AllocationLine.objects.filter(allocation=allocation)
    if user is not None:
        lines = lines_for(user).filter(allocation=allocation)
    week = allocation.week_start.isoformat()
    code = allocation.product.code
    return [
        [licence, shop, code, week, final]
        for licence, shop, final in lines.order_by("-tier", "retailer__licence_no").values_list(
            "retailer__licence_no", "retailer__shop_name", "final_quantity"
        )
    ]


def rows_csv(headers: list[str], rows: Iterable[list]) -> bytes:
    """CSV in UTF-8 with a byte-order mark (Excel opens it with the Chinese names intact)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(headers)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def export_file(allocation: Allocation, kind: str, user: Any = None) -> tuple[bytes, str, str]:
    """The allotments as ``csv`` or ``xlsx``: (content, content type, file name)."""
    rows = export_rows(allocation, user)
    stem = f"allotment-{allocation.product.code}-{allocation.week_start:%Y%m%d}-{allocation.org_unit.code}"
    if kind == "csv":
        return rows_csv(EXPORT_HEADERS, rows), "text/csv; charset=utf-8", f"{stem}.csv"
    if kind == "xlsx":
        return xlsx_bytes(Sheet("allotment", EXPORT_HEADERS, rows)), XLSX_CONTENT_TYPE, f"{stem}.xlsx"
    raise ValidationError({"kind": _("Export as csv or xlsx, not %(k)s.") % {"k": kind}})


# ------------------------------------------------------------------------------------------------------ evaluation
def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _outcome_row(key: Any, rows: list[tuple[int, int, int, int]]) -> dict[str, Any]:
    """Figures of lines (allotment, ordered, demanded, supplied) with an allotment > 0."""
    allotted = [r for r in rows if r[0] > 0]
    a = sum(r[0] for r in allotted)
    ordered = sum(r[1] for r in allotted)
    within = sum(min(r[1], r[0]) for r in allotted)
    demanded = sum(r[2] for r in allotted)
    supplied = sum(r[3] for r in allotted)
    full = sum(1 for r in allotted if r[1] >= r[0])
    buying = sum(1 for r in allotted if r[1] > 0)
    return {
        "tier": key,
        "retailers": len(allotted),
        "allotted": a,
        "ordered": ordered,
        "over": ordered - within,
        "demanded": demanded,
        "supplied": supplied,
        "full": full,
        "buying": buying,
        "fill_rate": _ratio(within, a),
        "full_share": _ratio(full, len(allotted)),
        "intake_share": _ratio(buying, len(allotted)),
        "satisfaction": _ratio(supplied, demanded),
    }


def week_orders(product_id: int, week_start: dt.date, data_dir: Path | None = None) -> dict[int, tuple[int, int, int]]:
    """{retailer id: (ordered, demanded, supplied)} of one product in one order week, from the Parquet facts."""
    import duckdb

    data_dir = Path(data_dir or settings.CMDESK_DATA_DIR)
    week_end = week_start + dt.timedelta(days=6)
    months = sorted({month_label(week_start), month_label(week_end)})
    files = [order_file(data_dir, m) for m in months]
    present = [str(f) for f in files if f.exists()]
    if not present:
        raise ValidationError(
            _("No order data for the week of %(w)s (expected %(files)s).")
            % {"w": week_start, "files": ", ".join(str(f) for f in files)}
        )
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT retailer_id, SUM(ordered), SUM(demanded), SUM(supplied) FROM read_parquet(?) "
            "WHERE product_id = ? AND order_date BETWEEN ? AND ? GROUP BY retailer_id",
            [present, product_id, week_start, week_end],
        ).fetchall()
    finally:
        con.close()
    return {int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def evaluate(
    allocation: Allocation,
    user: Any = None,
    *,
    as_of: dt.date | None = None,
    data_dir: Path | None = None,
    orders: dict[int, tuple[int, int, int]] | None = None,
) -> Allocation:
    """After the week: per line ordered, demanded, supplied; per tier 订足率, 订足面, 进货面, 订单满足率; closes it."""
    _require(user, "supply.change_allocation")
    allocation = Allocation.objects.select_related("product", "org_unit").get(pk=allocation.pk)
    as_of = as_of or timezone.localdate()
    week_end = allocation.week_start + dt.timedelta(days=6)
    if allocation.status == AllocationStatus.DRAFT:
        raise ValidationError(_("A draft was never published: there is nothing to evaluate."))
    if as_of <= week_end:
        raise ValidationError(_("The order week ends on %(end)s: evaluate it afterwards.") % {"end": week_end})
    if orders is None:  # a caller evaluating many allocations reads the week's facts once (see week_orders)
        orders = week_orders(allocation.product_id, allocation.week_start, data_dir)
    with transaction.atomic(), acting_as(user):
        allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
        lines = list(allocation.lines.values_list("pk", "retailer_id", "tier", "final_quantity"))
        by_values: dict[tuple[int, int, int], list[int]] = defaultdict(list)
        per_tier: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
        allotted_ids = set()
        for pk, rid, tier, final in lines:
            o, d, s = orders.get(rid, (0, 0, 0))
            by_values[(o, d, s)].append(pk)
            per_tier[tier].append((final, o, d, s))
            allotted_ids.add(rid)
        # One UPDATE per distinct (ordered, demanded, supplied): a few dozen queries whatever the retailer count.
        for (o, d, s), pks in by_values.items():
            for start in range(0, len(pks), 5000):
                AllocationLine.objects.filter(pk__in=pks[start : start + 5000]).update(
                    ordered=o, demanded=d, supplied=s
                )
        outside = [v for rid, v in orders.items() if rid not in allotted_ids]
        tiers = [_outcome_row(t, per_tier[t]) for t in sorted(per_tier, reverse=True)]
        total = _outcome_row("total", [r for t in per_tier for r in per_tier[t]])
        allocation.outcome = {
            "as_of": as_of.isoformat(),
            "evaluated_at": timezone.now().isoformat(timespec="seconds"),
            "tiers": tiers,
            "total": total,
            "outside": {"retailers": len(outside), "ordered": sum(v[0] for v in outside)},
        }
        allocation.status = AllocationStatus.CLOSED
        allocation.save(update_fields=["outcome", "status"])
    return allocation


# -------------------------------------------------------------------------------------------------------- proposal
def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def proposal_for(allocation: Allocation) -> list[dict[str, Any]]:
    """Next week's tier weights from this week's outcome, with the reason per tier (highest tier first)."""
    weights = tier_weight_curve(allocation.tier_weights, allocation.min_tier)
    outcome = {row["tier"]: row for row in (allocation.outcome or {}).get("tiers", [])}
    counts: dict[int, int] = defaultdict(int)
    for tier, n in allocation.tiers.values_list("tier", "retailers"):
        counts[tier] += n
    tiers = list(range(allocation.min_tier, TIER_MAX + 1))
    step = PROPOSAL["step"]
    raw, reasons, factors = [], [], []
    for g in tiers:
        row = outcome.get(g)
        fill, full = (row or {}).get("fill_rate"), (row or {}).get("full_share")
        if not row or not row["retailers"]:
            factor, reason = 1.0, _("no retailer allotted: unchanged")
        elif fill is not None and full is not None and fill >= PROPOSAL["high_fill"] and full >= PROPOSAL["high_full"]:
            factor = 1 + step
            reason = _(
                "订足率 %(fill)s ≥ %(hf)s and 订足面 %(full)s ≥ %(hs)s: demand exceeds the allotment, +%(step)s"
            ) % {
                "fill": _pct(fill),
                "hf": _pct(PROPOSAL["high_fill"]),
                "full": _pct(full),
                "hs": _pct(PROPOSAL["high_full"]),
                "step": _pct(step),
            }
        elif fill is not None and fill < PROPOSAL["low_fill"]:
            factor = 1 - step
            reason = _("订足率 %(fill)s < %(lf)s: the allotment is not taken up, −%(step)s") % {
                "fill": _pct(fill),
                "lf": _pct(PROPOSAL["low_fill"]),
                "step": _pct(step),
            }
        else:
            factor = 1.0
            reason = _("订足率 %(fill)s, 订足面 %(full)s: unchanged") % {"fill": _pct(fill), "full": _pct(full)}
        raw.append(weights[g] * factor)
        factors.append(factor)
        reasons.append(reason)
    levelled = isotonic(raw, [counts.get(g, 0) for g in tiers])
    out = []
    for g, w0, target, final, factor, reason in zip(
        tiers, [weights[g] for g in tiers], raw, levelled, factors, reasons, strict=True
    ):
        final = round(final, 4)
        text = reason
        if final != round(target, 4):
            text = f"{reason}; " + _("levelled with the neighbouring tiers so that no lower tier weighs more")
        out.append({"tier": g, "weight_from": round(w0, 4), "weight_to": final, "factor": factor, "reason": str(text)})
    out.reverse()
    return out


def propose(allocation: Allocation, user: Any = None, *, available: int | None = None, note: str = "") -> Allocation:
    """Create (or recompute, while still a draft) next week's allocation from this week's outcome."""
    _require(user, "supply.add_allocation")
    allocation = Allocation.objects.select_related("product", "org_unit").get(pk=allocation.pk)
    if allocation.status != AllocationStatus.CLOSED:
        raise ValidationError(_("Evaluate the week first: the proposal follows from its outcome."))
    rows = proposal_for(allocation)
    next_week = allocation.week_start + dt.timedelta(days=7)
    available = allocation.available if available is None else available
    weights = {str(r["tier"]): r["weight_to"] for r in rows}
    existing = Allocation.objects.filter(
        product=allocation.product, org_unit=allocation.org_unit, week_start=next_week
    ).first()
    if existing is not None and existing.status != AllocationStatus.DRAFT:
        raise ValidationError(
            _("The week of %(w)s already has a %(s)s allocation (#%(id)s): it can no longer be replaced.")
            % {"w": next_week, "s": existing.get_status_display(), "id": existing.pk}
        )
    selected = list(allocation.selected.values_list("pk", flat=True))
    req = AllocationRequest(
        product=allocation.product,
        org_unit=allocation.org_unit,
        week_start=next_week,
        available=available,
        variant=allocation.variant,
        min_tier=allocation.min_tier,
        cap_per_retailer=allocation.cap_per_retailer,
        selected=selected,
        selected_only=allocation.selected_only,
        segment_weights=allocation.segment_weights,
        tier_weights=weights,
        note=note or _("Proposed from the outcome of the week of %(w)s.") % {"w": allocation.week_start},
    )
    with transaction.atomic(), acting_as(user):
        outcome = dict(allocation.outcome or {})
        outcome["proposal"] = {"week": next_week.isoformat(), "available": available, "tiers": rows}
        Allocation.objects.filter(pk=allocation.pk).update(outcome=outcome)
        allocation.outcome = outcome
        if existing is None:
            return create_allocation(req, user, based_on=allocation)
        validate_request(req)
        _check_unit(user, req.org_unit)
        existing.available = req.available
        existing.tier_weights = weights
        existing.based_on = allocation
        existing.note = req.note[:300]
        existing.save(update_fields=["available", "tier_weights", "based_on", "note"])
        compute(existing)
        return existing


# -------------------------------------------------------------------------------------------------------- fairness
@dataclass
class Cut:
    """One line an adjustment left below its tier quantity."""

    week: dt.date
    allocation_id: int
    product_code: str
    product_name: str
    brand: str
    retailer_id: int
    licence: str
    shop: str
    tier: int
    quantity: int
    final: int
    reason: str
    at: dt.datetime


@dataclass
class FairnessRow:
    staff_id: int
    name: str
    employee_no: str
    department: str
    allotted_retailers: int  # distinct retailers of the staff member's routes with an allotment in the period
    cuts: list[Cut]
    cut_retailers: int
    share: float | None
    department_share: float | None
    repeated: list[dict[str, Any]]  # retailers cut in ≥ repeat_min weeks within window_weeks
    flags: list[str]

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


@dataclass
class FairnessReport:
    date_from: dt.date
    date_to: dt.date
    params: dict[str, Any]
    rows: list[FairnessRow]

    @property
    def flagged(self) -> list[FairnessRow]:
        return [r for r in self.rows if r.flagged]


def _departments() -> list[tuple[str, str]]:
    """(path, name) of every customer-service department, longest path first."""
    rows = OrgUnit.objects.filter(kind=OrgKind.DEPARTMENT).values_list("path", "name")
    return sorted(rows, key=lambda r: -len(r[0]))


def _dept_of(path: str, depts: list[tuple[str, str]]) -> tuple[str, str]:
    for dept_path, name in depts:
        if path.startswith(dept_path):
            return dept_path, name
    return "", ""


def _repeats(
    weeks_by_retailer: dict[int, set[dt.date]], repeat_min: int, window_weeks: int
) -> list[tuple[int, list[dt.date]]]:
    """Retailers cut in ≥ repeat_min distinct weeks that fit within window_weeks weeks, with those weeks."""
    out = []
    span = dt.timedelta(weeks=window_weeks)
    for rid, weeks in weeks_by_retailer.items():
        ordered = sorted(weeks)
        best: list[dt.date] = []
        for i in range(len(ordered)):
            j = i
            while j + 1 < len(ordered) and ordered[j + 1] - ordered[i] < span:
                j += 1
            if j - i + 1 > len(best):
                best = ordered[i : j + 1]
        if len(best) >= repeat_min:
            out.append((rid, best))
    return sorted(out, key=lambda x: (-len(x[1]), x[0]))


def fairness(
    user: Any,
    date_from: dt.date,
    date_to: dt.date,
    *,
    repeat_min: int = FAIRNESS["repeat_min"],
    window_weeks: int = FAIRNESS["window_weeks"],
    share_ratio: float = FAIRNESS["share_ratio"],
    min_cut_retailers: int = FAIRNESS["min_cut_retailers"],
    org_unit: OrgUnit | None = None,
) -> FairnessReport:
    """Who keeps cutting particular retailers' scarce brands below their tier (seed 004, case 3).

    A cut is a line of a scarce product, in an order week from ``date_from`` to ``date_to``, whose allotment ends
    below its tier quantity after an adjustment; it is attributed to the staff member of the line's last adjustment.
    A staff member is flagged when (1) one retailer was cut in ≥ ``repeat_min`` distinct weeks within
    ``window_weeks`` weeks, or (2) the share of its route's allotted retailers it cut is ≥ ``share_ratio`` × its
    department's share (all cuts ÷ all allotted retailers of the department) and it cut ≥ ``min_cut_retailers``
    retailers. ``user`` None reads the whole city (command line); ``org_unit`` narrows to its subtree."""
    if date_from > date_to:
        raise ValidationError(_("The period starts after it ends."))
    if repeat_min < 2 or window_weeks < 1 or share_ratio <= 0 or min_cut_retailers < 1:
        raise ValidationError(_("Thresholds: repeat ≥ 2, window ≥ 1 week, ratio > 0, minimum cut retailers ≥ 1."))
    lines = AllocationLine.objects.all() if user is None else lines_for(user)
    if org_unit is not None:
        lines = lines.filter(retailer__route__org_unit__path__startswith=org_unit.path)
    lines = lines.filter(
        allocation__week_start__gte=date_from,
        allocation__week_start__lte=date_to,
        allocation__product__scarce=True,
        allocation__status__in=[AllocationStatus.PUBLISHED, AllocationStatus.CLOSED],
    )
    cut_lines = list(
        lines.filter(adjustments__isnull=False, final_quantity__lt=F("quantity"))
        .distinct()
        .values_list(
            "pk",
            "allocation_id",
            "allocation__week_start",
            "allocation__product__code",
            "allocation__product__name",
            "allocation__product__brand",
            "retailer_id",
            "retailer__licence_no",
            "retailer__shop_name",
            "tier",
            "quantity",
            "final_quantity",
        )
    )
    last: dict[int, tuple[int, str, dt.datetime]] = {}
    for line_id, by_id, reason, at in (
        AllocationAdjustment.objects.filter(line_id__in=[c[0] for c in cut_lines])
        .order_by("line_id", "at", "id")
        .values_list("line_id", "by_id", "reason", "at")
    ):
        last[line_id] = (by_id, reason, at)
    cuts_by: dict[int, list[Cut]] = defaultdict(list)
    for c in cut_lines:
        by_id, reason, at = last[c[0]]
        cuts_by[by_id].append(Cut(c[2], c[1], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], reason, at))
    depts = _departments()
    # Allotted retailers per route CM and per department (distinct retailers over the period).
    per_cm: dict[int, set[int]] = defaultdict(set)
    per_dept: dict[str, set[int]] = defaultdict(set)
    for rid, cm_id, path in lines.values_list(
        "retailer_id", "retailer__route__cm_id", "retailer__route__org_unit__path"
    ).distinct():
        per_cm[cm_id].add(rid)
        per_dept[_dept_of(path, depts)[0]].add(rid)
    cut_dept: dict[str, set[int]] = defaultdict(set)
    for rid, path in (
        AllocationLine.objects.filter(pk__in=[c[0] for c in cut_lines])
        .values_list("retailer_id", "retailer__route__org_unit__path")
        .distinct()
    ):
        cut_dept[_dept_of(path, depts)[0]].add(rid)
    staff = {s.pk: s for s in Staff.objects.filter(pk__in=cuts_by).select_related("org_unit")}
    rows = []
    for staff_id, cuts in cuts_by.items():
        person = staff[staff_id]
        dept_path, dept_name = _dept_of(person.org_unit.path, depts)
        cut_retailers = {c.retailer_id for c in cuts}
        allotted = len(per_cm.get(staff_id, set()) | cut_retailers)
        share = _ratio(len(cut_retailers), allotted)
        dept_share = _ratio(len(cut_dept.get(dept_path, set())), len(per_dept.get(dept_path, set())))
        weeks_by_retailer: dict[int, set[dt.date]] = defaultdict(set)
        for c in cuts:
            weeks_by_retailer[c.retailer_id].add(c.week)
        repeated = []
        info = {c.retailer_id: c for c in cuts}
        for rid, weeks in _repeats(weeks_by_retailer, repeat_min, window_weeks):
            brands = sorted({c.brand for c in cuts if c.retailer_id == rid and c.week in weeks})
            repeated.append(
                {
                    "retailer_id": rid,
                    "licence": info[rid].licence,
                    "shop": info[rid].shop,
                    "weeks": weeks,
                    "brands": brands,
                }
            )
        flags = []
        if repeated:
            flags.append(
                _("%(n)s retailer(s) cut in %(k)s or more weeks within %(w)s weeks")
                % {"n": len(repeated), "k": repeat_min, "w": window_weeks}
            )
        if (
            share is not None
            and dept_share
            and len(cut_retailers) >= min_cut_retailers
            and share >= share_ratio * dept_share
        ):
            flags.append(
                _("cut %(share)s of its retailers, %(ratio)s× the department's %(dept)s")
                % {"share": _pct(share), "ratio": f"{share / dept_share:.1f}", "dept": _pct(dept_share)}
            )
        cuts.sort(key=lambda c: (c.week, c.licence, c.product_code))
        rows.append(
            FairnessRow(
                staff_id=staff_id,
                name=person.name,
                employee_no=person.employee_no,
                department=dept_name,
                allotted_retailers=allotted,
                cuts=cuts,
                cut_retailers=len(cut_retailers),
                share=share,
                department_share=dept_share,
                repeated=repeated,
                flags=[str(f) for f in flags],
            )
        )
    rows.sort(key=lambda r: (not r.flagged, -len(r.cuts), r.employee_no))
    params = {
        "repeat_min": repeat_min,
        "window_weeks": window_weeks,
        "share_ratio": share_ratio,
        "min_cut_retailers": min_cut_retailers,
    }
    return FairnessReport(date_from, date_to, params, rows)


FAIRNESS_HEADERS = ["工号", "姓名", "部门", "投放户数", "压减户数", "压减占比", "部门占比", "预警"]
CUT_HEADERS = [
    "工号",
    "姓名",
    "订货周",
    "卷烟代码",
    "卷烟",
    "品牌",
    "许可证号",
    "零售户",
    "档位",
    "按档定量",
    "调整后",
    "原因",
]


def fairness_xlsx(report: FairnessReport) -> bytes:
    """The report as a workbook: one row per staff member, and every cut as evidence."""
    summary = [
        [
            r.employee_no,
            r.name,
            r.department,
            r.allotted_retailers,
            r.cut_retailers,
            r.share,
            r.department_share,
            "; ".join(r.flags),
        ]
        for r in report.rows
    ]
    cuts = [
        [
            r.employee_no,
            r.name,
            c.week.isoformat(),
            c.product_code,
            c.product_name,
            c.brand,
            c.licence,
            c.shop,
            c.tier,
            c.quantity,
            c.final,
            c.reason,
        ]
        for r in report.rows
        for c in r.cuts
    ]
    return xlsx_bytes(Sheet("压减汇总", FAIRNESS_HEADERS, summary), Sheet("压减明细", CUT_HEADERS, cuts))
