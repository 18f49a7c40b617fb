"""Order-anomaly alerts shared with enforcement (专销结合): rules, detection, and the referral workflow.

* :func:`rules_for` — the thresholds for an org unit: the nearest ancestor's :class:`AlertRules` row, else the city
  default (created on demand with the national values); :func:`apply_preset` sets the national or the stricter
  province values (:data:`PRESETS`).
* :func:`detect_month` — runs :func:`cmdesk.analytics.anomaly.detect` over a month for a scope (the city, or one org
  unit's subtree) and upserts :class:`Alert` rows by key (kind, subject, period): rerunning updates the figures of
  open alerts and never duplicates; a dismissed or closed alert keeps its status. Each retailer is judged by the
  rules of its nearest unit with own rules, else the scope's (:func:`detect_by_rules`).
* workflow: :func:`alert_dismiss` (CM or head, with a reason), :func:`alert_refer` (to the area's inspector with a
  deadline and a note), :func:`referral_answer` (the inspector's outcome and feedback close the alert),
  :func:`remind_overdue` (one in-app reminder per overdue referral for the inspector and the referrer).
  Every write runs in a transaction under ``acting_as`` and is audited.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cmdesk.analytics import anomaly
from cmdesk.analytics.layout import MONTH_RE, order_months
from cmdesk.catalog.models import Product
from cmdesk.core.audit import acting_as, history_for, register
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.org.choices import OrgKind, Role
from cmdesk.org.models import OrgUnit, Staff, staff_of
from cmdesk.retail.choices import RetailerStatus
from cmdesk.retail.models import Retailer

from ..models import Alert, AlertPreset, AlertRules, AlertStatus, Referral, ReferralOutcome

for _model in (AlertRules, Alert, Referral):
    register(_model)

#: The preset values (DOMAIN.md: national rule, one province's tighter values).
PRESETS: dict[str, dict[str, Decimal]] = {
    AlertPreset.NATIONAL: {
        "brand_month_growth": Decimal("0.50"),
        "day_share": Decimal("0.15"),
        "order_ratio": Decimal("2.00"),
    },
    AlertPreset.PROVINCE: {
        "brand_month_growth": Decimal("0.75"),
        "day_share": Decimal("0.20"),
        "order_ratio": Decimal("2.50"),
    },
}
UNRESOLVED = (AlertStatus.OPEN, AlertStatus.REFERRED)
RETAILER_CLOSED = (RetailerStatus.CLOSED, RetailerStatus.CANCELLED)


# --- rules ------------------------------------------------------------------------------------------------------------


def city_rules() -> AlertRules:
    """The city default row (national values), created on first use."""
    rules = AlertRules.objects.filter(org_unit__isnull=True).first()
    if rules is None:
        with transaction.atomic():
            rules, _created = AlertRules.objects.get_or_create(org_unit=None)
    return rules


def rules_for(unit: OrgUnit | None) -> AlertRules:
    """The nearest ancestor's (or the unit's own) rules, else the city default."""
    if unit is not None:
        paths = [unit.path[:i] for i in range(OrgUnit.steplen, len(unit.path) + 1, OrgUnit.steplen)]
        row = (
            AlertRules.objects.filter(org_unit__path__in=paths)
            .select_related("org_unit")
            .order_by("-org_unit__depth")
            .first()
        )
        if row is not None:
            return row
    return city_rules()


def apply_preset(rules: AlertRules, preset: str, user: Any = None) -> AlertRules:
    """Set the preset's thresholds on ``rules`` (``national`` or the stricter ``province``) and save (audited)."""
    if preset not in PRESETS:
        raise ValidationError({"preset": _("Unknown preset %(preset)s.") % {"preset": preset}})
    with transaction.atomic(), acting_as(user):
        for name, value in PRESETS[preset].items():
            setattr(rules, name, value)
        rules.preset = preset
        rules.save()
    return rules


def province_preset(rules: AlertRules, user: Any = None) -> AlertRules:
    """The stricter province values: brand +75%, one day 20%, single order 250%."""
    return apply_preset(rules, AlertPreset.PROVINCE, user)


def holidays_of(rules: AlertRules) -> tuple[dt.date, ...]:
    """The rules' holiday dates; a bad entry is a clear error (the centre edits the list)."""
    out = []
    for i, item in enumerate(rules.holidays or []):
        text = item.get("date") if isinstance(item, dict) else item
        try:
            out.append(dt.date.fromisoformat(str(text)))
        except ValueError as exc:
            raise ValidationError(
                {"holidays": _("Holiday %(n)d has no valid date (YYYY-MM-DD): %(value)s") % {"n": i + 1, "value": text}}
            ) from exc
    return tuple(out)


def thresholds(rules: AlertRules) -> anomaly.Thresholds:
    return anomaly.Thresholds(
        brand_month_growth=float(rules.brand_month_growth),
        day_share=float(rules.day_share),
        order_ratio=float(rules.order_ratio),
        order_ratio_periods=rules.order_ratio_periods,
        order_min_cartons=rules.order_min_cartons,
        new_retailer_days=rules.new_retailer_days,
        month_ratio=float(rules.month_ratio),
        peer_ratio=float(rules.peer_ratio),
        collapse_ratio=float(rules.collapse_ratio),
        peer_tier_band=rules.peer_tier_band,
        peer_min_size=rules.peer_min_size,
        launch_weeks=rules.launch_weeks,
        holiday_weeks=rules.holiday_weeks,
        holidays=holidays_of(rules),
        short_supply=float(rules.short_supply),
        brand_min_cartons=rules.brand_min_cartons,
        proxy_similarity=float(rules.proxy_similarity),
        proxy_volume_ratio=float(rules.proxy_volume_ratio),
    )


def rules_update(rules: AlertRules, values: dict[str, Any], user: Any) -> AlertRules:
    """Change thresholds (the centre): validated with the model's own validators, audited."""
    if not has_model_perm(user, AlertRules, "change"):
        raise PermissionDenied(_("Only the marketing centre changes the alert rules."))
    editable = {f.name for f in AlertRules._meta.concrete_fields} - {"id", "org_unit", "updated_at"}
    unknown = set(values) - editable
    if unknown:
        raise ValidationError({name: _("This setting cannot be changed.") for name in sorted(unknown)})
    with transaction.atomic(), acting_as(user):
        for name, value in values.items():
            setattr(rules, name, value)
        rules.full_clean(exclude=["org_unit"])
        holidays_of(rules)
        rules.save()
    return rules


# --- detection --------------------------------------------------------------------------------------------------------


def parse_month(text: str) -> str:
    text = (text or "").strip()
    if not MONTH_RE.match(text):
        raise ValidationError({"month": _("Give the month as YYYY-MM, not %(value)r.") % {"value": text}})
    return text


def scope_unit(code: str | None) -> OrgUnit:
    """The org unit detected over: the unit with ``code``, else the city (the root)."""
    if code:
        unit = OrgUnit.objects.filter(code=code).first()
        if unit is None:
            raise ValidationError({"scope": _("No org unit with code %(code)s.") % {"code": code}})
        return unit
    root = OrgUnit.objects.get_root_nodes().first()
    if root is None:
        raise ValidationError({"scope": _("There is no org tree yet.")})
    return root


def _branch_of(path: str, branches: dict[str, OrgUnit]) -> OrgUnit | None:
    for bpath, unit in branches.items():
        if path.startswith(bpath):
            return unit
    return None


@dataclass
class Population:
    """The retailers and products of a scope as Arrow tables for the detector, and how to map keys back."""

    unit: OrgUnit
    retailers: pa.Table
    products: pa.Table
    route_unit: dict[int, int]  # retailer id → its route's org unit id
    branches: dict[str, OrgUnit]  # branch key ("id") → branch
    unit_paths: dict[int, str] = field(default_factory=dict)  # route org unit id → its path


def population(unit: OrgUnit) -> Population:
    """Three queries: the branches, the scope's retailers (with their route's org unit) and the products."""
    branches = {
        u.path: u
        for u in OrgUnit.objects.filter(kind=OrgKind.BRANCH).order_by("path")
        if u.path.startswith(unit.path) or unit.path.startswith(u.path)
    }
    rows = list(
        Retailer.objects.filter(route__org_unit__path__startswith=unit.path).values_list(
            "id",
            "tier",
            "business_format",
            "market_type",
            "route__org_unit_id",
            "route__org_unit__path",
            "opened_on",
            "closed_on",
            "phone",
            "settlement_account",
            "status",
        )  # fmt: skip
    )
    route_unit = {}
    unit_paths: dict[int, str] = {}
    cols: dict[str, list] = {name: [] for name in anomaly.RETAILER_SCHEMA.names}
    for rid, tier, fmt, mkt, unit_id, path, opened, closed, phone, account, status in rows:
        branch = _branch_of(path, branches)
        route_unit[rid] = unit_id
        unit_paths[unit_id] = path
        if status in RETAILER_CLOSED and closed is None:
            closed = dt.date.min  # closed without a date: never part of the population
        for name, value in (
            ("retailer_id", rid), ("tier", tier), ("business_format", fmt), ("market_type", mkt),
            ("branch", str(branch.pk) if branch else None), ("opened_on", opened), ("closed_on", closed),
            ("phone", phone or None), ("account", account or None),
        ):  # fmt: skip
            cols[name].append(value)
    products = list(Product.objects.values_list("id", "brand", "launched_on"))
    return Population(
        unit,
        pa.table(cols, schema=anomaly.RETAILER_SCHEMA),
        pa.table(
            {
                "product_id": [p[0] for p in products],
                "brand": [p[1] for p in products],
                "launched_on": [p[2] for p in products],
            },
            schema=anomaly.PRODUCT_SCHEMA,
        ),
        route_unit,
        {str(u.pk): u for u in branches.values()},
        unit_paths,
    )


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def describe(f: anomaly.Finding, th: anomaly.Thresholds) -> tuple[str, str]:
    """(the rule with its threshold, the sentence with the figures), in the active language."""
    m = f.measured
    if f.kind == anomaly.BRAND_MONTH:
        return (
            _("brand's monthly sales up more than %(t)s on last month") % {"t": _pct(th.brand_month_growth)},
            _("%(brand)s: %(n)d cartons this month against %(last)d last month (+%(g)s)")
            % {"brand": f.brand, "n": m["cartons"], "last": m["last_month"], "g": _pct(m["growth"])},
        )
    if f.kind == anomaly.DAY_SHARE:
        return (
            _("one day above %(t)s of a brand's month") % {"t": _pct(th.day_share)},
            _("%(brand)s: %(n)d cartons on %(day)s, %(share)s of the month's %(month)d")
            % {
                "brand": f.brand,
                "n": m["cartons"],
                "day": f.period_start.isoformat(),
                "share": _pct(m["share"]),
                "month": m["month"],
            },
        )
    if f.kind == anomaly.ORDER_SPIKE:
        return (
            _("single order above %(t)s of the average of the last %(n)d orders (orders of %(min)d cartons or more)")
            % {"t": _pct(th.order_ratio), "n": th.order_ratio_periods, "min": th.order_min_cartons},
            _("Order of %(day)s: %(n)d cartons, %(r)s of the last %(k)d orders' average %(avg)s")
            % {
                "day": f.period_start.isoformat(),
                "n": m["cartons"],
                "r": _pct(m["ratio"]),
                "k": m["orders_averaged"],
                "avg": m["average"],
            },
        )
    if f.kind == anomaly.MONTH_SPIKE:
        return (
            _("monthly order above %(t)s of last month") % {"t": _pct(th.month_ratio)},
            _("%(n)d cartons this month, %(r)s of last month's %(last)d")
            % {"n": m["cartons"], "r": _pct(m["ratio"]), "last": m["last_month"]},
        )
    if f.kind == anomaly.PEER_GROWTH:
        return (
            _("month-on-month growth below %(t)s × the peer group's") % {"t": th.peer_ratio},
            _("%(n)d cartons against %(last)d last month (%(g)s); peers %(p)s; ratio %(r)s")
            % {
                "n": m["cartons"],
                "last": m["last_month"],
                "g": _pct(m["growth"]),
                "p": _pct(m["peer_growth"]),
                "r": f"{m['ratio']:.2f}",
            },
        )
    if f.kind == anomaly.COLLAPSE:
        return (
            _("month below %(t)s × its 3-month average, relative to the peer group") % {"t": th.collapse_ratio},
            _("%(n)d cartons in %(o)d orders against a 3-month average of %(avg)s; ratio to peers %(r)s")
            % {"n": m["cartons"], "o": m["orders"], "avg": m["average_3m"], "r": f"{m['ratio']:.2f}"},
        )
    if f.kind == anomaly.ABOVE_TIER:
        return (
            _("monthly volume above %(t)s × the median of its tier and format") % {"t": th.proxy_volume_ratio},
            _("%(n)d cartons this month, %(r)s× the median %(med)s of tier D%(tier)s")
            % {"n": m["cartons"], "r": f"{m['ratio']:.1f}", "med": m["median"], "tier": m["tier"]},
        )
    if f.kind == anomaly.PROXY:
        return (
            _("orders mirror a bigger shop's: similarity at least %(t)s") % {"t": th.proxy_similarity},
            _(
                "Similarity %(s)s to a higher-tier shop over three months: %(d)d common order days, "
                "%(o)s of its lines the same day and product, weekly correlation %(c)s"
            )
            % {
                "s": f"{m['similarity']:.2f}",
                "d": m["common_days"],
                "o": _pct(m["line_overlap"]),
                "c": f"{m['weekly_correlation']:.2f}",
            },
        )
    what = []
    if m.get("same_phone"):
        what.append(_("phone"))
    if m.get("same_account"):
        what.append(_("settlement account"))
    return (
        _("the same phone or settlement account as another retailer"),
        _("Shares its %(what)s with another retailer (%(n)d against %(p)d cartons this month)")
        % {"what": ", ".join(what), "n": m["cartons"], "p": m["partner_cartons"]},
    )


def alert_key(f: anomaly.Finding, month: str) -> str:
    """Kind, subject and period. Shared accounts are a standing fact: their key has no period."""
    if f.kind == anomaly.SHARED_ACCOUNT:
        return f"{f.kind}:{anomaly.pair_key(f)}"
    period = f.period_start.isoformat() if f.kind in (anomaly.ORDER_SPIKE, anomaly.DAY_SHARE) else month
    return f"{f.kind}:{f.subject}:{period}"


#: Rules whose figures come from the whole population (the median month of a tier and format; partners in any
#: branch), with the thresholds they read. A unit's own rules run over the whole population for these, and only when
#: the unit's values of those thresholds differ from the scope's (else the scope's run has the same findings).
POPULATION_RULES: dict[str, tuple[str, ...]] = {
    anomaly.ABOVE_TIER: ("peer_tier_band", "peer_min_size", "order_min_cartons", "proxy_volume_ratio"),
    anomaly.PROXY: ("peer_tier_band", "peer_min_size", "order_min_cartons", "proxy_similarity"),
}
#: Rules that read no threshold: the scope's run answers them for every retailer.
FIXED_RULES = frozenset({anomaly.SHARED_ACCOUNT})
BRAND_RULES = frozenset({anomaly.BRAND_MONTH, anomaly.DAY_SHARE})
#: Rules that compare a retailer with itself or with its own county branch (brand totals per branch; peer groups are
#: keyed by branch): run over the whole branches concerned, they give the figures of a run over the whole population.
BRANCH_RULES = frozenset(anomaly.KINDS) - set(POPULATION_RULES) - FIXED_RULES


@dataclass
class RulesUse:
    """A rules row a detection applied: the retailers it judged and the alerts it gave (a brand alert counts for the
    rules of its unit: the scope's for the scope's totals, a branch's own for the branch's)."""

    rules: AlertRules
    retailers: int = 0
    alerts: int = 0


@dataclass
class DetectRun:
    """A detector run under units' own rules (beyond the scope's run): over how many retailers, for which rules."""

    rules: list[AlertRules]  # the own rules rows sharing these thresholds
    retailers: int
    kinds: tuple[str, ...]
    screened: dict[str, int]
    seconds: float


@dataclass
class DetectReport:
    month: str
    unit: OrgUnit
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # dismissed or closed alerts found again (left as they are)
    by_kind: dict[str, int] = field(default_factory=dict)
    screened: dict[str, int] = field(default_factory=dict)  # by the run of the scope's rules over the whole scope
    seconds: float = 0.0
    lines: int = 0
    rules: list[RulesUse] = field(default_factory=list)  # the scope's rules first, then units' own rules by path
    runs: list[DetectRun] = field(default_factory=list)  # the runs under units' own rules
    deferred: tuple[str, ...] = ()  # whole-month rules left for when the month is over


def _brand_products(brands: set[str]) -> dict[str, int]:
    """One product per brand (the first by code) to link brand alerts to."""
    out: dict[str, int] = {}
    for pid, brand in Product.objects.filter(brand__in=brands).order_by("brand", "code").values_list("id", "brand"):
        out.setdefault(brand, pid)
    return out


@dataclass
class RulesPlan:
    """Which rules judge what in a detection over a scope: a retailer the rules of its nearest unit with own rules
    (:func:`rules_for` of its route's unit), a branch's brand totals the branch's, anything else the scope's."""

    scope_rules: AlertRules
    own: list[AlertRules]  # units' own rules below the scope, by path
    thresholds: dict[int, anomaly.Thresholds]  # rules pk → its thresholds
    retailer_rules: dict[int, AlertRules] = field(default_factory=dict)  # retailer → own rules (absent: the scope's)
    branch_rules: dict[str, AlertRules] = field(default_factory=dict)  # branch key → own rules (absent: the scope's)

    @property
    def th(self) -> anomaly.Thresholds:
        return self.thresholds[self.scope_rules.pk]

    def owner(self, f: anomaly.Finding) -> AlertRules:
        """The rules that judge a finding's subject."""
        if f.retailer_id is None:
            return self.branch_rules.get(f.unit, self.scope_rules)
        return self.retailer_rules.get(f.retailer_id, self.scope_rules)


def rules_plan(unit: OrgUnit, pop: Population) -> RulesPlan:
    """The rules of a detection over ``unit``'s population (one query for the own rules below the unit)."""
    scope_rules = rules_for(unit)
    own = list(
        AlertRules.objects.filter(org_unit__path__startswith=unit.path, org_unit__depth__gt=unit.depth)
        .select_related("org_unit")
        .order_by("org_unit__path")
    )
    plan = RulesPlan(scope_rules, own, {r.pk: thresholds(r) for r in [scope_rules, *own]})
    if not own:
        return plan
    by_path = {r.org_unit.path: r for r in own}

    def nearest(path: str) -> AlertRules | None:
        for end in range(len(path), len(unit.path), -OrgUnit.steplen):
            row = by_path.get(path[:end])
            if row is not None:
                return row
        return None

    by_unit = {uid: nearest(path) for uid, path in pop.unit_paths.items()}
    plan.retailer_rules = {rid: row for rid, uid in pop.route_unit.items() if (row := by_unit[uid]) is not None}
    plan.branch_rules = {key: row for key, b in pop.branches.items() if (row := nearest(b.path)) is not None}
    return plan


def month_complete(month: str, data_dir: Path | None = None, today: dt.date | None = None) -> bool:
    """Is ``month`` over, so that its whole-month rules can be judged? Yes once the calendar has passed its last day,
    or once the store holds orders of a later month (history imported after the fact)."""
    if (today or timezone.localdate()) > anomaly.month_bounds(month)[1]:
        return True
    return any(m > month for m in order_months(Path(data_dir or settings.CMDESK_DATA_DIR)))


def _run(
    month: str,
    retailers: pa.Table,
    products: pa.Table,
    th: anomaly.Thresholds,
    kinds=anomaly.KINDS,
    data_dir: Path | None = None,
    complete: bool = True,
):
    try:
        return anomaly.detect(data_dir or settings.CMDESK_DATA_DIR, month, retailers, products, th, kinds, complete)
    except FileNotFoundError as exc:
        raise ValidationError({"month": str(exc)}) from exc


def detect_by_rules(
    month: str, pop: Population, plan: RulesPlan, data_dir: Path | None = None, complete: bool = True
) -> tuple[anomaly.Detection, list[tuple[anomaly.Finding, AlertRules]], list[DetectRun]]:
    """Run the detector so that every subject is judged by its own rules; (the scope's run, the findings each with
    the rules that judged it, the runs under own rules).

    The scope's rules run over the whole population, exactly as when no unit has its own rules. Each distinct set of
    thresholds of own rules below the scope (rows equal to the scope's need no run) runs again: for
    :data:`BRANCH_RULES` over the whole branches of the retailers (and branch totals) it judges, for
    :data:`POPULATION_RULES` whose thresholds differ over the whole population. Peer groups and medians are thus always
    those of the whole population, and a finding is kept only from the run of the rules that judge its subject.
    ``data_dir``: the order files' directory (default the configured one); ``complete=False``: the month is still in
    progress and its whole-month rules wait (:func:`month_complete`)."""
    scope_det = _run(month, pop.retailers, pop.products, plan.th, data_dir=data_dir, complete=complete)
    dets = [scope_det]
    runs: list[DetectRun] = []
    answer: dict[tuple[int, str], int] = {}  # (rules pk, kind) → the index in dets of the run that answers it
    groups: dict[anomaly.Thresholds, list[AlertRules]] = {}
    for row in plan.own:
        th = plan.thresholds[row.pk]
        if th != plan.th:
            groups.setdefault(th, []).append(row)
    if not groups:
        return scope_det, [(f, plan.owner(f)) for f in scope_det.findings], runs
    branch_keys = pop.retailers.column("branch").to_pylist()
    branch_of = dict(zip(pop.retailers.column("retailer_id").to_pylist(), branch_keys, strict=True))

    def run(rows: list[AlertRules], retailers: pa.Table, th: anomaly.Thresholds, kinds: set[str]) -> None:
        t0 = time.perf_counter()
        kinds_run = tuple(k for k in anomaly.KINDS if k in kinds and (complete or k not in anomaly.WHOLE_MONTH_KINDS))
        if not kinds_run:
            return
        dets.append(_run(month, retailers, pop.products, th, kinds_run, data_dir, complete))
        for row in rows:
            answer.update({(row.pk, k): len(dets) - 1 for k in kinds_run})
        det = dets[-1]
        runs.append(DetectRun(rows, det.retailers, kinds_run, dict(det.screened), time.perf_counter() - t0))

    for th, rows in groups.items():
        pks = {r.pk for r in rows}
        judged = [rid for rid, r in plan.retailer_rules.items() if r.pk in pks]
        totals = {key for key, r in plan.branch_rules.items() if r.pk in pks}
        kinds = (BRANCH_RULES - BRAND_RULES if judged else set()) | (BRAND_RULES if totals else set())
        if kinds:
            keys = {branch_of[rid] for rid in judged} | totals
            run(rows, pop.retailers.filter(pa.array([b in keys for b in branch_keys], pa.bool_())), th, kinds)
        wide = {k for k, names in POPULATION_RULES.items() if any(getattr(th, n) != getattr(plan.th, n) for n in names)}
        if judged and wide:
            run(rows, pop.retailers, th, wide)
    found = []
    for i, det in enumerate(dets):
        for f in det.findings:
            owner = plan.owner(f)
            if answer.get((owner.pk, f.kind), 0) == i:
                found.append((f, owner))
    return scope_det, found, runs


def detect_month(month: str, scope: str | None = None, user: Any = None) -> DetectReport:
    """Detect ``month`` over the scope (an org unit code, default the city) and upsert the alerts.

    Each retailer is judged by the rules of its nearest unit with own rules, else the scope's (see
    :func:`detect_by_rules`); an alert's rule text gives the thresholds that judged it."""
    month = parse_month(month)
    unit = scope_unit(scope)
    t0 = time.perf_counter()
    pop = population(unit)
    plan = rules_plan(unit, pop)
    det, found, runs = detect_by_rules(month, pop, plan, complete=month_complete(month))
    report = DetectReport(month, unit, screened=dict(det.screened), lines=det.lines, runs=runs, deferred=det.deferred)
    brand_product = _brand_products({f.brand for f, _owner in found if f.brand})
    keys = {alert_key(f, month): (f, owner) for f, owner in found}
    alerts_by_rules: dict[int, int] = {}
    existing = {a.key: a for a in Alert.objects.filter(key__in=list(keys))}
    with transaction.atomic(), acting_as(user), translation.override(settings.LANGUAGE_CODE):
        new = []
        for key, (f, owner) in keys.items():
            rule, detail = describe(f, plan.thresholds[owner.pk])
            org_unit_id = (
                pop.route_unit[f.retailer_id]
                if f.retailer_id
                else (pop.branches[f.unit].pk if f.unit in pop.branches else unit.pk)
            )
            values = {
                "kind": f.kind,
                "org_unit_id": org_unit_id,
                "retailer_id": f.retailer_id,
                "partner_id": f.partner_id,
                "product_id": brand_product.get(f.brand),
                "period_start": f.period_start,
                "period_end": f.period_end,
                "measured": {**f.measured, **({"brand": f.brand} if f.brand else {})},
                "threshold": rule[:200],
                "rules_id": owner.pk,
                "detail": detail[:500],
                "severity": f.severity,
            }
            report.by_kind[f.kind] = report.by_kind.get(f.kind, 0) + 1
            alerts_by_rules[owner.pk] = alerts_by_rules.get(owner.pk, 0) + 1
            alert = existing.get(key)
            if alert is None:
                new.append(Alert(key=key, **values))
                continue
            if alert.status not in UNRESOLVED:
                report.unchanged += 1
                continue
            values["period_start"] = min(alert.period_start, f.period_start)
            values["period_end"] = max(alert.period_end, f.period_end)
            changed = [k for k, v in values.items() if getattr(alert, k) != v]
            if changed:
                for k in changed:
                    setattr(alert, k, values[k])
                alert.save()
                report.updated += 1
            else:
                report.unchanged += 1
        for alert in new:
            alert.save()  # one by one so that each creation is audited
        report.created = len(new)
    judged = Counter(row.pk for row in plan.retailer_rules.values())
    report.rules = [
        RulesUse(
            plan.scope_rules,
            len(pop.route_unit) - len(plan.retailer_rules),
            alerts_by_rules.get(plan.scope_rules.pk, 0),
        ),
        *(RulesUse(row, judged[row.pk], alerts_by_rules.get(row.pk, 0)) for row in plan.own),
    ]
    report.seconds = time.perf_counter() - t0
    return report


# --- workflow ---------------------------------------------------------------------------------------------------------


def visible_alerts(user: Any, action: str = "view"):
    return Alert.objects.restrict(user, action)


def get_alert(user: Any, pk: int, action: str = "view") -> Alert:
    alert = (
        visible_alerts(user, action)
        .select_related(
            "retailer", "retailer__route", "retailer__route__cm", "partner", "product", "org_unit", "rules__org_unit"
        )
        .filter(pk=pk)
        .first()
    )
    if alert is None:
        raise OutOfScope
    return alert


def inspector_for(alert: Alert) -> Staff | None:
    """The active inspector whose org unit is the nearest ancestor (or the unit itself) of the retailer's route unit
    (a brand alert: of the alert's unit)."""
    unit = alert.retailer.route.org_unit if alert.retailer_id else alert.org_unit
    paths = [unit.path[:i] for i in range(OrgUnit.steplen, len(unit.path) + 1, OrgUnit.steplen)]
    return (
        Staff.objects.filter(role=Role.INSPECTOR, active=True, org_unit__path__in=paths)
        .select_related("org_unit")
        .order_by("-org_unit__depth", "employee_no")
        .first()
    )


def _check_workflow(user: Any, alert: Alert, perm: str) -> Staff:
    if not Alert.objects.restrict(user, "view").filter(pk=alert.pk).exists():
        raise OutOfScope
    staff = staff_of(user)
    if not user.has_perm(perm) or staff is None or staff.role not in (Role.CM, Role.HEAD, Role.CLERK, Role.CENTRE):
        raise PermissionDenied(_("Only customer managers and their heads act on alerts."))
    if not Alert.objects.restrict(user, "change").filter(pk=alert.pk).exists():
        raise OutOfScope
    if alert.status != AlertStatus.OPEN:
        raise ValidationError(
            _("The alert is %(status)s; only open alerts can be dismissed or referred.")
            % {"status": alert.get_status_display()}
        )
    return staff


def alert_dismiss(user: Any, alert: Alert, reason: str) -> Alert:
    """Dismiss an open alert with a reason (CM or head), audited."""
    staff = _check_workflow(user, alert, "supply.change_alert")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the alert is dismissed.")})
    with transaction.atomic(), acting_as(user):
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        alert.status = AlertStatus.DISMISSED
        alert.status_note = f"{staff.name}: {reason}"[:300]
        alert.save()
    return alert


def default_deadline(alert: Alert, today: dt.date | None = None) -> dt.date:
    return (today or timezone.localdate()) + dt.timedelta(days=rules_for(alert.org_unit).referral_days)


def alert_refer(
    user: Any, alert: Alert, deadline: dt.date | None = None, note: str = "", today: dt.date | None = None
) -> Referral:
    """Refer an open alert to the area's inspector with a deadline (default today + referral_days) and a note."""
    staff = _check_workflow(user, alert, "supply.refer_alert")
    today = today or timezone.localdate()
    deadline = deadline or default_deadline(alert, today)
    if deadline < today:
        raise ValidationError({"deadline": _("The deadline cannot be in the past.")})
    inspector = inspector_for(alert)
    if inspector is None:
        raise ValidationError(
            _("No active market inspector serves %(unit)s or a unit above it.") % {"unit": alert.org_unit}
        )
    with transaction.atomic(), acting_as(user):
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        referral = Referral.objects.create(
            alert=alert, inspector=inspector, referred_by=staff, deadline=deadline, note=(note or "").strip()[:500]
        )
        alert.status = AlertStatus.REFERRED
        alert.status_note = _("Referred to %(name)s, due %(day)s") % {"name": inspector.name, "day": deadline}
        alert.save()
    return referral


def visible_referrals(user: Any, action: str = "view"):
    """Referrals a user may read: an inspector those sent to it; others by scope."""
    qs = Referral.objects.restrict(user, action)
    staff = staff_of(user)
    if staff is not None and staff.role == Role.INSPECTOR:
        qs = qs.filter(inspector=staff)
    return qs


def get_referral(user: Any, pk: int, action: str = "view") -> Referral:
    ref = (
        visible_referrals(user, action)
        .select_related("alert", "alert__retailer", "alert__org_unit", "inspector", "referred_by")
        .filter(pk=pk)
        .first()
    )
    if ref is None:
        raise OutOfScope
    return ref


def referral_answer(user: Any, referral: Referral, outcome: str, feedback: str) -> Referral:
    """The inspector's outcome and feedback; closes the alert."""
    staff = staff_of(user)
    if staff is None or staff.pk != referral.inspector_id:
        if Referral.objects.restrict(user, "view").filter(pk=referral.pk).exists():
            raise PermissionDenied(_("Only the inspector the alert was referred to answers it."))
        raise OutOfScope
    if not user.has_perm("supply.answer_referral"):
        raise PermissionDenied(_("Only market inspectors answer referrals."))
    if referral.outcome:
        raise ValidationError(_("This referral has already been answered."))
    if outcome not in ReferralOutcome.values:
        raise ValidationError({"outcome": _("Choose an outcome.")})
    feedback = (feedback or "").strip()
    if not feedback:
        raise ValidationError({"feedback": _("Write what was found.")})
    with transaction.atomic(), acting_as(user):
        referral = Referral.objects.select_for_update().get(pk=referral.pk)
        referral.outcome = outcome
        referral.feedback = feedback
        referral.feedback_at = timezone.now()
        referral.save()
        alert = referral.alert
        alert.status = AlertStatus.CLOSED
        alert.status_note = f"{referral.get_outcome_display()}: {feedback}"[:300]
        alert.save()
    return referral


def overdue_referrals(today: dt.date | None = None):
    today = today or timezone.localdate()
    return Referral.objects.filter(outcome="", deadline__lt=today)


def is_overdue(referral: Referral, today: dt.date | None = None) -> bool:
    return not referral.outcome and referral.deadline < (today or timezone.localdate())


def remind_overdue(today: dt.date | None = None) -> int:
    """One reminder per overdue referral for its inspector and its referrer (keyed, so reruns add nothing)."""
    from cmdesk.work.models import Reminder

    today = today or timezone.localdate()
    created = 0
    refs = list(overdue_referrals(today).select_related("alert", "alert__retailer", "inspector", "referred_by"))
    with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
        for ref in refs:
            subject = ref.alert.retailer.shop_name if ref.alert.retailer_id else ref.alert.measured.get("brand", "")
            text = _("Referral overdue since %(day)s: %(subject)s, %(kind)s") % {
                "day": ref.deadline,
                "subject": subject,
                "kind": ref.alert.get_kind_display(),
            }
            for staff in (ref.inspector, ref.referred_by):
                _obj, made = Reminder.objects.get_or_create(
                    user_id=staff.user_id,
                    key=f"referral:{ref.pk}",
                    defaults={"text": text[:300], "url": reverse("supply:referral_detail", args=[ref.pk])},
                )
                created += made
    return created


def open_alerts_by_retailer(retailer_ids: list[int]) -> dict[int, Alert]:
    """The most severe, newest unresolved alert of each retailer (one query)."""
    out: dict[int, Alert] = {}
    for alert in (
        Alert.objects.filter(retailer_id__in=retailer_ids, status__in=UNRESOLVED)
        .order_by("retailer_id", "-severity", "-period_end", "-id")
        .only("id", "retailer_id", "kind", "detail", "severity", "period_end")
    ):
        out.setdefault(alert.retailer_id, alert)
    return out


def unresolved_q() -> Q:
    return Q(status__in=UNRESOLVED)


# --- own rules of a branch or department, and the holiday list ----------------------------------------------------

#: The org units that may hold their own rules row (the unit chooser of the rules page lists these).
OWN_RULES_KINDS = (OrgKind.BRANCH, OrgKind.DEPARTMENT)
#: The longest holiday range one line may give (a typo like 2026 → 2036 must not write thousands of dates).
HOLIDAY_RANGE_MAX_DAYS = 31
_HOLIDAY_DATE = r"\d{4}-\d{2}-\d{2}"
_HOLIDAY_LINE = re.compile(
    rf"^(?P<start>{_HOLIDAY_DATE})(?:\s*(?:\.\.|~|～|至)\s*(?P<end>{_HOLIDAY_DATE}))?(?:\s+(?P<name>\S.*))?$"
)
_HOLIDAY_NAME_MAX = 50


def rules_units(user: Any):
    """The branches and departments whose rules ``user`` may read: the whole city (the centre, administrators), the
    subtree of a head, clerk or inspector, and for a customer manager the department and branch it belongs to."""
    units = OrgUnit.objects.filter(kind__in=OWN_RULES_KINDS)
    if not has_model_perm(user, AlertRules, "view"):
        return units.none()
    scope = user_scope(user)
    if scope.kind == "all":
        return units
    if scope.kind == "org" and scope.org_path:
        return units.filter(path__startswith=scope.org_path)
    if scope.kind == "own" and scope.staff_id is not None:
        staff = Staff.objects.select_related("org_unit").filter(pk=scope.staff_id).first()
        if staff is not None:
            path = staff.org_unit.path
            return units.filter(path__in=[path[:i] for i in range(OrgUnit.steplen, len(path) + 1, OrgUnit.steplen)])
    return units.none()


def _check_rules_change(user: Any, rules_or_unit: AlertRules | OrgUnit | None) -> None:
    """The centre's permission, and the unit (if any) inside the user's scope (else :class:`OutOfScope`)."""
    if not has_model_perm(user, AlertRules, "change"):
        raise PermissionDenied(_("Only the marketing centre changes the alert rules."))
    unit = rules_or_unit.org_unit if isinstance(rules_or_unit, AlertRules) else rules_or_unit
    if unit is not None and not rules_units(user).filter(pk=unit.pk).exists():
        raise OutOfScope


def create_override(unit: OrgUnit, user: Any) -> AlertRules:
    """Give ``unit`` (a branch or a department) its own rules: a copy of the rules it inherits now (audited).

    From then on :func:`rules_for` answers this row for the unit and everything under it."""
    _check_rules_change(user, unit)
    if unit.kind not in OWN_RULES_KINDS:
        raise ValidationError(_("Only county branches and customer service departments can have their own rules."))
    with transaction.atomic(), acting_as(user):
        if AlertRules.objects.select_for_update().filter(org_unit=unit).exists():
            raise ValidationError(_("%(unit)s already has its own rules.") % {"unit": unit})
        source = rules_for(unit)
        skip = {"id", "org_unit", "updated_at"}
        values = {f.name: getattr(source, f.name) for f in AlertRules._meta.concrete_fields if f.name not in skip}
        values["holidays"] = [dict(h) if isinstance(h, dict) else h for h in (source.holidays or [])]
        rules = AlertRules(org_unit=unit, **values)
        try:
            with transaction.atomic():
                rules.save()
        except IntegrityError as exc:  # another request created it between the check and the insert
            raise ValidationError(_("%(unit)s already has its own rules.") % {"unit": unit}) from exc
    return rules


def delete_override(rules: AlertRules, user: Any) -> OrgUnit:
    """Remove a unit's own rules (audited): the unit inherits again. The city default is never removed."""
    if rules.org_unit_id is None:
        raise ValidationError(_("The city default rules cannot be removed."))
    _check_rules_change(user, rules)
    unit = rules.org_unit
    with transaction.atomic(), acting_as(user):
        AlertRules.objects.select_for_update().get(pk=rules.pk).delete()
    return unit


def parse_holidays(text: str) -> list[dict[str, str]]:
    """The rules page's holiday text, one date or range per line (``2026-02-17 春节``, ``2026-10-01..2026-10-07 国庆``;
    ``~``, ``～`` and ``至`` also separate a range; the name is optional), as the stored list
    (``[{"name": ..., "date": "YYYY-MM-DD"}]``, a range as one entry per day, which :func:`holidays_of` reads).

    Every bad line is reported with its number; blank lines are skipped."""
    entries: list[dict[str, str]] = []
    errors: list[str] = []
    for n, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _HOLIDAY_LINE.match(line)
        try:
            if match is None:
                raise ValueError(line)
            start = dt.date.fromisoformat(match["start"])
            end = dt.date.fromisoformat(match["end"]) if match["end"] else start
        except ValueError:
            errors.append(
                _("Line %(n)d: %(line)s is not a date (YYYY-MM-DD) or a range (YYYY-MM-DD..YYYY-MM-DD).")
                % {"n": n, "line": line}
            )
            continue
        if end < start:
            errors.append(_("Line %(n)d: the range ends before it starts.") % {"n": n})
            continue
        days = (end - start).days + 1
        if days > HOLIDAY_RANGE_MAX_DAYS:
            errors.append(
                _("Line %(n)d: a range may cover at most %(max)d days, not %(days)d.")
                % {"n": n, "max": HOLIDAY_RANGE_MAX_DAYS, "days": days}
            )
            continue
        name = (match["name"] or "").strip()
        if len(name) > _HOLIDAY_NAME_MAX:
            errors.append(
                _("Line %(n)d: the name is longer than %(max)d characters.") % {"n": n, "max": _HOLIDAY_NAME_MAX}
            )
            continue
        for i in range(days):
            day = (start + dt.timedelta(days=i)).isoformat()
            entries.append({"name": name, "date": day} if name else {"date": day})
    if errors:
        raise ValidationError({"holidays": errors})
    return entries


def holidays_text(rules: AlertRules) -> str:
    """The stored holiday list as the page's lines: consecutive days with the same name are shown as one range, so
    saving the text unchanged writes the same list back."""
    lines: list[str] = []
    run: list[Any] = []  # [start, end, name] of the range being collected

    def flush() -> None:
        if run:
            start, end, name = run
            text = start.isoformat() if start == end else f"{start.isoformat()}..{end.isoformat()}"
            lines.append(f"{text} {name}".strip())
            run.clear()

    for item in rules.holidays or []:
        raw, name = (item.get("date"), str(item.get("name") or "").strip()) if isinstance(item, dict) else (item, "")
        try:
            day = dt.date.fromisoformat(str(raw))
        except ValueError:
            flush()
            lines.append(f"{raw} {name}".strip())  # shown as stored, so the centre sees and corrects it
            continue
        if run and run[2] == name and day == run[1] + dt.timedelta(days=1):
            run[1] = day
            continue
        flush()
        run.extend([day, day, name])
    flush()
    return "\n".join(lines)


def set_holidays(rules: AlertRules, text: str, user: Any) -> AlertRules:
    """Replace the rules' holidays from the page's lines (see :func:`parse_holidays`); all or nothing, audited."""
    _check_rules_change(user, rules)
    return rules_update(rules, {"holidays": parse_holidays(text)}, user)


def rules_history(unit: OrgUnit, limit: int = 50) -> list[dict[str, Any]]:
    """The audit history of every rules row ``unit`` has had, removed ones included, newest first (the shape of
    :func:`cmdesk.core.audit.history_for`)."""
    created = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(AlertRules), action=LogEntry.Action.CREATE
    ).only("object_pk", "changes")
    pks = {e.object_pk for e in created if str(((e.changes_dict or {}).get("org_unit") or [None])[-1]) == str(unit.pk)}
    current = AlertRules.objects.filter(org_unit=unit).values_list("pk", flat=True).first()
    if current is not None:
        pks.add(str(current))
    items = [item for pk in pks for item in history_for(AlertRules(pk=int(pk), org_unit=unit), limit)]
    items.sort(key=lambda item: (item["entry"].timestamp, item["entry"].pk), reverse=True)
    return items[:limit]
