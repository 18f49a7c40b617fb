"""`cmdesk allocate`: allocate a scarce brand by tier (按档位投放), evaluate a week, propose the next, export, and
the fairness report.

    cmdesk allocate --product 6901028000001 --week 2026-11-02 --available 1200 [--scope A-D] [--variant tier_market]
                    [--min-tier 10] [--cap 5] [--segment-weights '{"urban": 1, "rural": 0.6}']
                    [--tier-weights '{"30": 3, "20": 2, "10": 1}'] [--selected LICENCE,LICENCE] [--publish]
                    [--export FILE.csv|FILE.xlsx]
    cmdesk allocate show --id N
    cmdesk allocate publish --id N
    cmdesk allocate export --id N --out FILE.csv|FILE.xlsx
    cmdesk allocate evaluate --id N [--as-of 2026-11-09] [--propose [--available 1300]]
    cmdesk allocate propose --id N [--available 1300]
    cmdesk allocate fairness --from 2026-09-01 --to 2026-10-31 [--scope A-D] [--repeat 3] [--window 8] [--ratio 3]
                    [--min-cut 2] [--xlsx FILE]

Without --user the command acts as the system operator (the whole city); with --user it acts inside that user's
scope and permissions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from cmdesk.catalog.models import Product
from cmdesk.org.models import OrgUnit
from cmdesk.retail.models import Retailer
from cmdesk.supply.models import Allocation, AllocationVariant
from cmdesk.supply.services import allocation as svc


def _date(text: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise CommandError(f"{flag}: {text!r} is not a date (YYYY-MM-DD)") from exc


def _json(text: str | None, flag: str) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{flag}: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise CommandError(f"{flag}: expected an object")
    return value


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{k}: {' '.join(m for e in v for m in e.messages)}" for k, v in exc.error_dict.items())
    return "; ".join(exc.messages)


class Command(BaseCommand):
    help = (
        "Allocate a scarce brand by tier for an order week (default action), or: show, publish, export, evaluate, "
        "propose (next week from an evaluated one), fairness (CMs cutting the same retailers below their tier)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", help="act as this user (default: the system operator, whole city)")
        parser.add_argument("--lang", default="zh-hans", help="messages: zh-hans (default) or en")
        parser.add_argument("--product", help="product code (create)")
        parser.add_argument("--week", help="order week, a Monday YYYY-MM-DD (create)")
        parser.add_argument("--available", type=int, help="cartons available (create; propose/evaluate: next week's)")
        parser.add_argument("--scope", help="org unit code (default: the whole city)")
        parser.add_argument("--variant", choices=AllocationVariant.values, default=AllocationVariant.TIER)
        parser.add_argument("--min-tier", type=int, default=1, help="lowest tier served (default 1)")
        parser.add_argument("--cap", type=int, help="cap per retailer (cartons)")
        parser.add_argument("--segment-weights", help='JSON, e.g. \'{"urban": 1, "rural": 0.6}\'')
        parser.add_argument("--tier-weights", help='JSON, e.g. \'{"30": 3, "20": 2, "10": 1}\' (default linear)')
        parser.add_argument("--selected", help="selected points only (选点): licence numbers, comma-separated")
        parser.add_argument("--note", default="")
        parser.add_argument("--publish", action="store_true", help="publish right away")
        parser.add_argument("--export", metavar="FILE", help="write the allotments to FILE (.csv or .xlsx)")
        common = argparse.ArgumentParser(add_help=False)  # --user and --lang also after the subcommand
        common.add_argument("--user", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        common.add_argument("--lang", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sub = parser.add_subparsers(dest="action", metavar="{show,publish,export,evaluate,propose,fairness}")
        for name, text in (
            ("show", "print an allocation's tiers and totals"),
            ("publish", "publish a draft to the CMs"),
            ("export", "write the allotments for the ordering system"),
            ("evaluate", "after the week: 订足率, 订足面, 进货面, 订单满足率 per tier; closes it"),
            ("propose", "next week's draft from an evaluated allocation"),
        ):
            p = sub.add_parser(name, help=text, parents=[common])
            p.add_argument("--id", type=int, required=True, help="allocation id")
            if name == "export":
                p.add_argument("--out", required=True, help="FILE.csv or FILE.xlsx")
            if name == "evaluate":
                p.add_argument("--as-of", help="evaluate as of this day (default today)")
                p.add_argument("--propose", action="store_true", help="then propose next week")
            if name in ("evaluate", "propose"):
                p.add_argument("--available", type=int, dest="next_available", help="next week's cartons")
        f = sub.add_parser("fairness", help="CMs whose adjustments keep cutting the same retailers", parents=[common])
        f.add_argument("--from", dest="date_from", required=True, help="first order week (YYYY-MM-DD)")
        f.add_argument("--to", dest="date_to", required=True, help="last order week (YYYY-MM-DD)")
        f.add_argument("--repeat", type=int, default=svc.FAIRNESS["repeat_min"], help="cuts of one retailer (weeks)")
        f.add_argument("--window", type=int, default=svc.FAIRNESS["window_weeks"], help="… within this many weeks")
        f.add_argument("--ratio", type=float, default=svc.FAIRNESS["share_ratio"], help="share ≥ ratio × dept's")
        f.add_argument("--min-cut", type=int, default=svc.FAIRNESS["min_cut_retailers"], help="retailers cut, min")
        f.add_argument("--scope", dest="fairness_scope", help="org unit code (default: the whole city)")
        f.add_argument("--xlsx", help="also write the report to this workbook")

    def handle(self, *args, **o):
        with translation.override(o["lang"]):
            try:
                self._run(o)
            except ValidationError as exc:
                raise CommandError(_errors(exc)) from exc
            except PermissionDenied as exc:
                raise CommandError("refused: outside the user's permissions or scope") from exc

    def _run(self, o):
        self.user = None
        if o["user"]:
            try:
                self.user = get_user_model().objects.get(username=o["user"])
            except get_user_model().DoesNotExist as exc:
                raise CommandError(f"--user: no user {o['user']!r}") from exc
        action = o.get("action")
        if action is None:
            return self._create(o)
        if action == "fairness":
            return self._fairness(o)
        allocation = self._allocation(o["id"])
        if action == "show":
            self._show(allocation)
        elif action == "publish":
            self._show(svc.publish(allocation, self.user))
        elif action == "export":
            self._export(allocation, o["out"])
        elif action == "evaluate":
            as_of = _date(o["as_of"], "--as-of") if o.get("as_of") else None
            allocation = svc.evaluate(allocation, self.user, as_of=as_of)
            self._outcome(allocation)
            if o["propose"]:
                self._propose(allocation, o["next_available"])
        elif action == "propose":
            self._propose(allocation, o["next_available"])

    def _allocation(self, pk: int) -> Allocation:
        qs = Allocation.objects.all() if self.user is None else Allocation.objects.restrict(self.user, "view")
        allocation = qs.select_related("product", "org_unit").filter(pk=pk).first()
        if allocation is None:
            raise CommandError(f"--id: no allocation {pk} in scope")
        return allocation

    def _create(self, o):
        missing = [f for f in ("product", "week", "available") if o.get(f) in (None, "")]
        if missing:
            raise CommandError(
                "create needs " + ", ".join(f"--{m}" for m in missing) + " (or a subcommand: see --help)"
            )
        product = Product.objects.filter(code=o["product"]).first()
        if product is None:
            raise CommandError(f"--product: no product {o['product']!r}")
        if o["scope"]:
            unit = OrgUnit.objects.filter(code=o["scope"]).first()
            if unit is None:
                raise CommandError(f"--scope: no org unit {o['scope']!r}")
        else:
            unit = OrgUnit.objects.get_root_nodes().first()
            if unit is None:
                raise CommandError("There is no org tree yet.")
        selected: list[int] = []
        if o["selected"]:
            licences = [x.strip() for x in o["selected"].split(",") if x.strip()]
            found = dict(Retailer.objects.filter(licence_no__in=licences).values_list("licence_no", "pk"))
            unknown = [x for x in licences if x not in found]
            if unknown:
                raise CommandError(f"--selected: unknown licences {', '.join(unknown)}")
            selected = [found[x] for x in licences]
        req = svc.AllocationRequest(
            product=product,
            org_unit=unit,
            week_start=_date(o["week"], "--week"),
            available=o["available"],
            variant=o["variant"],
            min_tier=o["min_tier"],
            cap_per_retailer=o["cap"],
            selected=selected,
            selected_only=bool(selected),
            segment_weights=_json(o["segment_weights"], "--segment-weights"),
            tier_weights=_json(o["tier_weights"], "--tier-weights"),
            note=o["note"],
        )
        allocation = svc.create_allocation(req, self.user)
        if o["publish"]:
            allocation = svc.publish(allocation, self.user)
        self._show(allocation)
        if o["export"]:
            self._export(allocation, o["export"])

    def _show(self, a: Allocation) -> None:
        w = self.stdout.write
        w(
            f"#{a.pk} {a.product.code} {a.product.name} · {a.org_unit.code} · week {a.week_start} · "
            f"{a.get_variant_display()} · {a.get_status_display()}"
        )
        w(f"available {a.available} · allotted {a.allotted_total} · left {a.available - a.allotted_total}")
        w(f"{'segment':<16}{'tier':>6}{'retailers':>11}{'a_g':>6}{'cartons':>9}")
        for t in a.tiers.order_by("segment", "-tier"):
            w(f"{t.segment or '-':<16}{'D' + str(t.tier):>6}{t.retailers:>11}{t.quantity:>6}{t.total:>9}")

    def _outcome(self, a: Allocation) -> None:
        w = self.stdout.write
        w(f"#{a.pk} {a.product.code} week {a.week_start}: evaluated")
        w(
            f"{'tier':>6}{'retailers':>10}{'allotted':>10}{'ordered':>9}{'订足率':>8}{'订足面':>8}{'进货面':>8}{'满足率':>8}"
        )

        def pct(v):
            return "—" if v is None else f"{v * 100:.1f}%"

        for r in [*a.outcome["tiers"], a.outcome["total"]]:
            tier = r["tier"] if r["tier"] == "total" else f"D{r['tier']}"
            w(
                f"{tier:>6}{r['retailers']:>10}{r['allotted']:>10}{r['ordered']:>9}{pct(r['fill_rate']):>9}"
                f"{pct(r['full_share']):>9}{pct(r['intake_share']):>9}{pct(r['satisfaction']):>9}"
            )

    def _propose(self, a: Allocation, available: int | None) -> None:
        nxt = svc.propose(a, self.user, available=available)
        for r in nxt.based_on.outcome["proposal"]["tiers"]:
            self.stdout.write(f"D{r['tier']}: {r['weight_from']} → {r['weight_to']}  {r['reason']}")
        self._show(nxt)

    def _export(self, a: Allocation, out: str) -> None:
        path = Path(out)
        kind = path.suffix.lower().lstrip(".")
        content, _ct, _name = svc.export_file(a, kind, self.user)
        path.write_bytes(content)
        self.stdout.write(f"wrote {path} ({a.lines.count()} lines)")

    def _fairness(self, o):
        unit = None
        if o["fairness_scope"]:
            unit = OrgUnit.objects.filter(code=o["fairness_scope"]).first()
            if unit is None:
                raise CommandError(f"--scope: no org unit {o['fairness_scope']!r}")
        report = svc.fairness(
            self.user,
            org_unit=unit,
            date_from=_date(o["date_from"], "--from"),
            date_to=_date(o["date_to"], "--to"),
            repeat_min=o["repeat"],
            window_weeks=o["window"],
            share_ratio=o["ratio"],
            min_cut_retailers=o["min_cut"],
        )
        w = self.stdout.write
        w(f"fairness {report.date_from} – {report.date_to} · {report.params}")
        for r in report.rows:
            mark = "FLAG" if r.flagged else "    "
            w(
                f"{mark} {r.employee_no} {r.name} ({r.department}): {len(r.cuts)} cuts of {r.cut_retailers} "
                f"retailers / {r.allotted_retailers} allotted; {'; '.join(r.flags)}"
            )
            for rep in r.repeated:
                weeks = ", ".join(d.isoformat() for d in rep["weeks"])
                w(f"       {rep['licence']} {rep['shop']}: weeks {weeks}; {', '.join(rep['brands'])}")
        if o["xlsx"]:
            Path(o["xlsx"]).write_bytes(svc.fairness_xlsx(report))
            w(f"wrote {o['xlsx']}")
