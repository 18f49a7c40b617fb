"""Order-anomaly alerts shared with enforcement (专销结合): rules, detection, and the referral workflow.

* :func:`rules_for` — the thresholds for an org unit: the nearest ancestor's :class:`AlertRules` row, else the city
  default (created on demand with the national values); :func:`apply_preset` sets the national or the stricter
  province values (:data:`PRESETS`).
* :func:`detect_month` — runs :func:`cmdesk.analytics.anomaly.detect` over a month for a scope (the city, or one org
  unit's subtree) and upserts :class:`Alert` rows by key (kind, subject, period): rerunning updates the figures of
  open alerts and never duplicates; a dismissed or closed alert keeps its status.
* workflow: :func:`alert_dismiss` (CM or head, with a reason), :func:`alert_refer` (to the area's inspector with a
  deadline and a note), :func:`referral_answer` (the inspector's outcome and feedback close the alert),
  :func:`remind_overdue` (one in-app reminder per overdue referral for the inspector and the referrer).
  Every write runs in a transaction under ``acting_as`` and is audited.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cmdesk.analytics import anomaly
from cmdesk.analytics.layout import MONTH_RE
from cmdesk.catalog.models import Product
from cmdesk.core.audit import acting_as, register
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm
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
    cols: dict[str, list] = {name: [] for name in anomaly.RETAILER_SCHEMA.names}
    for rid, tier, fmt, mkt, unit_id, path, opened, closed, phone, account, status in rows:
        branch = _branch_of(path, branches)
        route_unit[rid] = unit_id
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


@dataclass
class DetectReport:
    month: str
    unit: OrgUnit
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # dismissed or closed alerts found again (left as they are)
    by_kind: dict[str, int] = field(default_factory=dict)
    screened: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    lines: int = 0


def _brand_products(brands: set[str]) -> dict[str, int]:
    """One product per brand (the first by code) to link brand alerts to."""
    out: dict[str, int] = {}
    for pid, brand in Product.objects.filter(brand__in=brands).order_by("brand", "code").values_list("id", "brand"):
        out.setdefault(brand, pid)
    return out


def detect_month(month: str, scope: str | None = None, user: Any = None) -> DetectReport:
    """Detect ``month`` over the scope (an org unit code, default the city) and upsert the alerts."""
    month = parse_month(month)
    unit = scope_unit(scope)
    rules = rules_for(unit)
    th = thresholds(rules)
    t0 = time.perf_counter()
    pop = population(unit)
    try:
        det = anomaly.detect(settings.CMDESK_DATA_DIR, month, pop.retailers, pop.products, th)
    except FileNotFoundError as exc:
        raise ValidationError({"month": str(exc)}) from exc
    report = DetectReport(month, unit, screened=dict(det.screened), lines=det.lines)
    brand_product = _brand_products({f.brand for f in det.findings if f.brand})
    keys = {alert_key(f, month): f for f in det.findings}
    existing = {a.key: a for a in Alert.objects.filter(key__in=list(keys))}
    with transaction.atomic(), acting_as(user), translation.override(settings.LANGUAGE_CODE):
        new = []
        for key, f in keys.items():
            rule, detail = describe(f, th)
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
                "detail": detail[:500],
                "severity": f.severity,
            }
            report.by_kind[f.kind] = report.by_kind.get(f.kind, 0) + 1
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
    report.seconds = time.perf_counter() - t0
    return report


# --- workflow ---------------------------------------------------------------------------------------------------------


def visible_alerts(user: Any, action: str = "view"):
    return Alert.objects.restrict(user, action)


def get_alert(user: Any, pk: int, action: str = "view") -> Alert:
    alert = (
        visible_alerts(user, action)
        .select_related("retailer", "retailer__route", "retailer__route__cm", "partner", "product", "org_unit")
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
