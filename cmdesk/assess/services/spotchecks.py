"""Quarterly spot checks (市公司抽查): record, publish, and the quarter's report per CM and per category.

* :func:`spotcheck_record` — the city's marketing centre records (or corrects, until published) a check of one retailer:
  the date (inside the quarter), a finding per category (in order or not, a note, a deduction). A finding not in order
  costs the category's default deduction from :data:`DEFAULT_DEDUCTIONS` unless the checker gives another one with a
  note saying why. The CM is the one serving the retailer's route on the check date (the route's assignment history).
* :func:`spotcheck_publish` / :func:`quarter_publish` — publish one check or all of a quarter's checks in the actor's
  scope. Published findings feed the CMs' assessments: the scoring engine reads ``SpotFinding`` rows with
  ``spot_check__published=True`` for the CM in the month's quarter.
* :func:`visible_spotchecks` — what a user may read: whoever records checks (``assess.add_spotcheck``) sees drafts too;
  everybody else (CMs, heads, clerks) only published checks, within their scope (a CM its own, a head its department).
* :func:`quarter_summary` — the published spot-check report: per CM and per category, checks, findings not in order
  and points deducted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from cmdesk.analytics.periods import Period, PeriodError
from cmdesk.core.audit import acting_as
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm, in_scope
from cmdesk.org.models import Staff, staff_of
from cmdesk.retail.models import Retailer, RouteAssignment

from ..models import FindingCategory, SpotCheck, SpotFinding

# Points a finding not in order costs by default (the checker may set another deduction with a note).
DEFAULT_DEDUCTIONS: dict[str, Decimal] = {
    FindingCategory.PRICE_TAGS: Decimal("1.0"),
    FindingCategory.DISPLAY: Decimal("1.0"),
    FindingCategory.TERMINAL: Decimal("1.0"),
    FindingCategory.SATISFACTION: Decimal("1.0"),
    FindingCategory.KEY_BRANDS: Decimal("1.0"),
    FindingCategory.INFO: Decimal("0.5"),
    FindingCategory.KEY_TASK: Decimal("2.0"),
}
SATISFACTION_OK_FROM = 3  # a satisfaction score of 1 or 2 (out of 5) is a finding not in order
MAX_DEDUCTION = Decimal("100")


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_end(start: dt.date) -> dt.date:
    month = start.month + 2
    nxt = dt.date(start.year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def quarter_label(start: dt.date) -> str:
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def parse_quarter(text: str | dt.date | None, *, field_name: str = "quarter") -> dt.date:
    """``2026-Q4`` (or any date, or a month like ``2026-11``) → the first day of its quarter."""
    if isinstance(text, dt.date):
        return quarter_start(text)
    try:
        period = Period.parse((text or "").strip())
    except PeriodError as exc:
        raise ValidationError({field_name: _("Give a quarter such as 2026-Q4, not %(v)r.") % {"v": text}}) from exc
    if period.kind not in ("quarter", "month"):
        raise ValidationError({field_name: _("Give a quarter such as 2026-Q4, not %(v)r.") % {"v": text}})
    return quarter_start(period.start)


def cm_at(retailer: Retailer, day: dt.date) -> Staff | None:
    """The CM serving the retailer's route on ``day`` (assignment history; else the route's current CM)."""
    route = retailer.route
    if route is None:
        return None
    assignment = (
        RouteAssignment.objects.filter(route=route, started__lte=day)
        .filter(Q(ended__isnull=True) | Q(ended__gte=day))
        .select_related("cm")
        .order_by("-started")
        .first()
    )
    if assignment is not None:
        return assignment.cm
    return route.cm


def visible_spotchecks(user: Any, action: str = "view") -> QuerySet[SpotCheck]:
    """Checks the user may read: drafts only for those who record checks; published ones for everybody in scope."""
    queryset = SpotCheck.objects.restrict(user, action)
    if not has_model_perm(user, SpotCheck, "add"):
        queryset = queryset.filter(published=True)
    return queryset


def visible_findings(user: Any) -> QuerySet[SpotFinding]:
    queryset = SpotFinding.objects.restrict(user, "view")
    if not has_model_perm(user, SpotCheck, "add"):
        queryset = queryset.filter(spot_check__published=True)
    return queryset


def get_spotcheck(user: Any, pk: int, action: str = "view") -> SpotCheck:
    """One check the user may ``action`` (missing and out of scope look the same: OutOfScope)."""
    check = visible_spotchecks(user, action).select_related("retailer", "cm", "checker").filter(pk=pk).first()
    if check is None:
        raise OutOfScope
    return check


# --- recording ------------------------------------------------------------------------------------------------------


@dataclass
class FindingInput:
    category: str
    ok: bool = True
    score: int | None = None
    deduction: Decimal | None = None  # None: the category's default when not in order, 0 when in order
    note: str = ""


@dataclass
class _Errors:
    by_field: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, name: str, message: str) -> None:
        self.by_field[name].append(message)

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ValidationError({k: v for k, v in self.by_field.items()})


def _resolve_retailer(actor: Any, retailer: Retailer | int | str | None, errors: _Errors) -> Retailer | None:
    """A Retailer, its id or its licence number, within what the actor may view."""
    if retailer is None or retailer == "":
        errors.add("retailer", _("Choose the retailer that was checked."))
        return None
    queryset = Retailer.objects.restrict(actor, "view").select_related("route", "route__cm")
    if isinstance(retailer, Retailer):
        found = queryset.filter(pk=retailer.pk).first()
    elif isinstance(retailer, int) or (isinstance(retailer, str) and retailer.isdigit() and len(retailer) < 10):
        found = queryset.filter(pk=int(retailer)).first()
    else:
        found = queryset.filter(licence_no=str(retailer).strip()).first()
    if found is None:
        errors.add("retailer", _("Unknown retailer: %(v)s.") % {"v": retailer})
    return found


def _as_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(str(value)) from exc


def _clean_findings(raw: list[FindingInput | dict[str, Any]], errors: _Errors) -> list[FindingInput]:
    labels = dict(FindingCategory.choices)
    seen: set[str] = set()
    out: list[FindingInput] = []
    if not raw:
        errors.add("findings", _("Record at least one finding."))
    for item in raw:
        if isinstance(item, dict):
            item = FindingInput(
                category=item.get("category", ""),
                ok=bool(item.get("ok", True)),
                score=item.get("score"),
                deduction=item.get("deduction"),
                note=(item.get("note") or "").strip(),
            )
        cat = item.category
        if cat not in labels:
            errors.add("findings", _("Unknown finding category %(c)r.") % {"c": cat})
            continue
        label = labels[cat]
        if cat in seen:
            errors.add("findings", _("The category %(c)s is recorded twice.") % {"c": label})
            continue
        seen.add(cat)
        try:
            deduction = _as_decimal(item.deduction)
        except ValueError:
            errors.add("findings", _("%(c)s: the deduction %(v)r is not a number.") % {"c": label, "v": item.deduction})
            continue
        score, ok = item.score, item.ok
        if cat == FindingCategory.SATISFACTION:
            if score in (None, ""):
                errors.add("findings", _("%(c)s: give a score from 1 to 5.") % {"c": label})
                continue
            try:
                score = int(score)
            except (TypeError, ValueError):
                score = 0
            if not 1 <= score <= 5:
                errors.add("findings", _("%(c)s: the score must be from 1 to 5.") % {"c": label})
                continue
            ok = score >= SATISFACTION_OK_FROM  # the score decides: 1 or 2 out of 5 is not in order
        elif score not in (None, ""):
            errors.add("findings", _("%(c)s: only satisfaction takes a score.") % {"c": label})
            continue
        else:
            score = None
        if deduction is not None and deduction < 0:
            errors.add("findings", _("%(c)s: the deduction cannot be negative.") % {"c": label})
            continue
        if deduction is not None and deduction > MAX_DEDUCTION:
            errors.add("findings", _("%(c)s: the deduction cannot exceed %(m)s.") % {"c": label, "m": MAX_DEDUCTION})
            continue
        note = (item.note or "").strip()
        if ok:
            if deduction:
                errors.add("findings", _("%(c)s: a finding in order costs no points.") % {"c": label})
                continue
            deduction = Decimal("0")
        else:
            default = DEFAULT_DEDUCTIONS[cat]
            if deduction is None:
                deduction = default
            elif deduction != default and not note:
                errors.add(
                    "findings",
                    _("%(c)s: explain in the note why the deduction is %(d)s instead of %(default)s.")
                    % {"c": label, "d": deduction, "default": default},
                )
                continue
        out.append(FindingInput(category=cat, ok=ok, score=score, deduction=deduction, note=note[:300]))
    return out


@transaction.atomic
def spotcheck_record(
    *,
    actor: Any,
    retailer: Retailer | int | str | None,
    date: dt.date | None,
    findings: list[FindingInput | dict[str, Any]],
    quarter: str | dt.date | None = None,
    note: str = "",
    spot_check: SpotCheck | None = None,
) -> SpotCheck:
    """Record a new check (``spot_check`` None) or correct an unpublished one; all of its findings are replaced.

    ``quarter`` defaults to the quarter of ``date``; a date outside the given quarter is refused.
    """
    action = "add" if spot_check is None else "change"
    if not has_model_perm(actor, SpotCheck, action):
        raise PermissionDenied
    if spot_check is not None:
        spot_check = get_spotcheck(actor, spot_check.pk, "change")
        if spot_check.published:
            raise ValidationError(_("A published spot check cannot be changed."))
    checker = staff_of(actor)
    errors = _Errors()
    if checker is None:
        errors.add("checker", _("Only a staff member records spot checks."))
    found = _resolve_retailer(actor, retailer, errors)
    start = None
    if quarter not in (None, ""):
        try:
            start = parse_quarter(quarter)
        except ValidationError as exc:
            for message in exc.message_dict["quarter"]:
                errors.add("quarter", message)
    if date is None:
        errors.add("date", _("Give the date of the check."))
    else:
        if start is None and "quarter" not in errors.by_field:
            start = quarter_start(date)
        if start is not None and not start <= date <= quarter_end(start):
            errors.add(
                "date",
                _("The date %(d)s is outside the quarter %(q)s (%(a)s – %(b)s).")
                % {"d": date, "q": quarter_label(start), "a": start, "b": quarter_end(start)},
            )
    cleaned = _clean_findings(list(findings or []), errors)
    cm = None
    if found is not None and date is not None:
        cm = cm_at(found, date)
        if cm is None:
            errors.add("retailer", _("The retailer's route had no customer manager on %(d)s.") % {"d": date})
    errors.raise_if_any()

    with acting_as(actor):
        if spot_check is None:
            spot_check = SpotCheck(checker=checker)
        spot_check.quarter = start
        spot_check.date = date
        spot_check.retailer = found
        spot_check.cm = cm
        spot_check.note = (note or "").strip()
        spot_check.save()
        existing = {f.category: f for f in spot_check.findings.all()}
        wanted = {f.category for f in cleaned}
        for category, finding in existing.items():
            if category not in wanted:
                finding.delete()
        for item in cleaned:
            finding = existing.get(item.category) or SpotFinding(spot_check=spot_check, category=item.category)
            finding.ok, finding.score, finding.deduction, finding.note = item.ok, item.score, item.deduction, item.note
            finding.save()
    if not in_scope(actor, spot_check, action if action == "change" else "view"):
        raise OutOfScope  # rolls back: the check would land outside the actor's scope
    return spot_check


@transaction.atomic
def spotcheck_publish(*, actor: Any, spot_check: SpotCheck) -> SpotCheck:
    """Publish one check: its findings now count in its CM's assessment and the CM sees them."""
    if not has_model_perm(actor, SpotCheck, "change"):
        raise PermissionDenied
    spot_check = get_spotcheck(actor, spot_check.pk, "change")
    if spot_check.published:
        return spot_check
    with acting_as(actor):
        spot_check.published = True
        spot_check.save(update_fields=["published"])
    return spot_check


@transaction.atomic
def quarter_publish(*, actor: Any, quarter: str | dt.date) -> int:
    """Publish every unpublished check of the quarter in the actor's scope; returns how many were published."""
    if not has_model_perm(actor, SpotCheck, "change"):
        raise PermissionDenied
    start = parse_quarter(quarter)
    checks = list(SpotCheck.objects.restrict(actor, "change").filter(quarter=start, published=False))
    with acting_as(actor):
        for check in checks:  # one save each, so the audit log has a row per check
            check.published = True
            check.save(update_fields=["published"])
    return len(checks)


# --- the quarter's report ------------------------------------------------------------------------------------------


def total_deduction(check: SpotCheck) -> Decimal:
    return sum((f.deduction for f in check.findings.all()), Decimal("0"))


def quarter_summary(user: Any, quarter: str | dt.date, *, published_only: bool | None = None) -> dict[str, Any]:
    """Per CM and per category: checks, findings not in order, points deducted (what the user may see).

    ``published_only`` defaults to True for readers and False for those who record checks (they see drafts too).
    """
    start = parse_quarter(quarter)
    checks = visible_spotchecks(user).filter(quarter=start)
    if published_only:
        checks = checks.filter(published=True)
    findings = list(
        SpotFinding.objects.filter(spot_check__in=checks)
        .select_related("spot_check", "spot_check__cm", "spot_check__cm__org_unit")
        .order_by("spot_check__cm__employee_no", "category")
    )
    check_rows = checks.select_related("cm").values_list("cm_id", "published")
    labels = dict(FindingCategory.choices)
    per_cm: dict[int, dict[str, Any]] = {}
    per_cat: dict[str, dict[str, Any]] = {
        c: {"category": c, "label": str(labels[c]), "findings": 0, "not_ok": 0, "deduction": Decimal("0")}
        for c in FindingCategory.values
    }
    checks_per_cm: dict[int, int] = defaultdict(int)
    published_per_cm: dict[int, int] = defaultdict(int)
    for cm_id, published in check_rows:
        checks_per_cm[cm_id] += 1
        published_per_cm[cm_id] += bool(published)
    satisfaction: dict[int, list[int]] = defaultdict(list)
    for f in findings:
        cm = f.spot_check.cm
        row = per_cm.setdefault(
            cm.pk,
            {
                "cm": cm,
                "cm_id": cm.pk,
                "cm_name": cm.name,
                "employee_no": cm.employee_no,
                "org_unit": str(cm.org_unit),
                "checks": checks_per_cm[cm.pk],
                "published": published_per_cm[cm.pk],
                "findings": 0,
                "not_ok": 0,
                "deduction": Decimal("0"),
                "by_category": {c: Decimal("0") for c in FindingCategory.values},
            },
        )
        row["findings"] += 1
        cat = per_cat[f.category]
        cat["findings"] += 1
        if f.score is not None:
            satisfaction[cm.pk].append(f.score)
        if not f.ok:
            row["not_ok"] += 1
            cat["not_ok"] += 1
        row["deduction"] += f.deduction
        row["by_category"][f.category] += f.deduction
        cat["deduction"] += f.deduction
    for cm_id, row in per_cm.items():
        scores = satisfaction.get(cm_id)
        row["satisfaction"] = round(sum(scores) / len(scores), 2) if scores else None
    cms = sorted(per_cm.values(), key=lambda r: (-r["deduction"], r["employee_no"]))
    return {
        "quarter": start,
        "label": quarter_label(start),
        "checks": sum(checks_per_cm.values()),
        "published": sum(published_per_cm.values()),
        "cms": cms,
        "categories": list(per_cat.values()),
        "deduction": sum((r["deduction"] for r in cms), Decimal("0")),
    }
