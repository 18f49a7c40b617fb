"""The monthly run: score every active CM of an org unit's subtree by a scheme, with evidence behind every point.

``score_month(scheme, org_unit, month, user)`` creates version 1 of the month's run (refused while a run for that unit
and month exists: a run under review is changed by the head item by item; a closed run is corrected with
``rescore(run, user)``, a new version that supersedes the old, which stays untouched).

Speed: the metrics measure all CMs at once (one KPI engine query per indicator set, grouped by CM; one database query
per record type), and Scores and ScoreItems are written with ``bulk_create``. bulk_create sends no signals, so
django-auditlog writes no per-row entries for them: the audit trail of a run is the Run row itself (created inside
``acting_as(user)``, so its LogEntry names the actor) plus ``scored_by``/``scored_at``; later changes to single items
(review, appeals) are audited row by row by their services.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cmdesk.assess.models import Rule, Run, RunStatus, Scheme, Score, ScoreItem
from cmdesk.core.audit import acting_as
from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.org.choices import Role
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.work.services.board import parse_month

from .metrics import METRICS, Context, Measure, ev
from .rules import apply, fmt
from .schemes import scheme_for, validate_items

ZERO = Decimal("0.00")
NO_DATA = "no_data"


def is_no_data(item: ScoreItem) -> bool:
    """An item the data could not score (marked by an evidence entry with value "no_data")."""
    return any(e.get("kind") == "note" and e.get("flag") == NO_DATA for e in item.evidence or [])


def check_can_score(user: Any, org_unit: OrgUnit) -> None:
    if not has_model_perm(user, Run, "add"):
        raise PermissionDenied(_("You may not score assessments."))
    scope = user_scope(user)
    if scope.kind == "all":
        return
    if scope.kind == "org" and scope.org_path and org_unit.path.startswith(scope.org_path):
        return
    raise PermissionDenied(_("The org unit %(unit)s is outside your scope.") % {"unit": org_unit.code})


def unit_cms(org_unit: OrgUnit) -> list[Staff]:
    return list(
        Staff.objects.filter(role=Role.CM, active=True, org_unit__path__startswith=org_unit.path)
        .select_related("org_unit")
        .order_by("org_unit__path", "employee_no")
    )


def rank(totals: dict[int, Decimal]) -> dict[int, int]:
    """Competition ranks, highest total first; equal totals share a rank (1, 2, 2, 4)."""
    order = sorted(totals.items(), key=lambda kv: -kv[1])
    ranks: dict[int, int] = {}
    prev, prev_rank = None, 0
    for i, (key, total) in enumerate(order, 1):
        if total != prev:
            prev, prev_rank = total, i
        ranks[key] = prev_rank
    return ranks


def score_item(item: Any, m: Measure) -> dict[str, Any]:
    """The ScoreItem fields for one measured value."""
    weight = Decimal(str(item.weight))
    evidence = list(m.evidence)
    target = m.target
    if target is None and isinstance(item.rule_params, dict) and item.rule_params.get("target") not in (None, ""):
        target = Decimal(str(item.rule_params["target"]))
    if m.value is None:
        if item.rule == Rule.MANUAL:
            text = _("Manual rating: awaiting the head's points and justification.")
        else:
            text = _("No data: left for a manual rating by the head (0 points until then).")
        evidence.append({"kind": "note", "label": text, "url": "", "value": _("no data"), "flag": NO_DATA})
        points, measured = ZERO, None
    else:
        res = apply(item.rule, weight, item.rule_params, m.value)
        points, text, measured = res.points, res.text, m.value
        if m.explain:
            text = f"{m.explain}; {text}"
    if not evidence:
        evidence = [ev("note", _("measured"), value=fmt(measured))]
    return {
        "measured": measured,
        "target": target,
        "adjusted_target": m.adjusted_target if m.adjusted_target is not None else target,
        "adjustment": m.adjustment,
        "computed_points": points,
        "points": points,
        "rule_text": text,
        "evidence": evidence,
    }


def _build(run: Run, scheme: Scheme, org_unit: OrgUnit, month: dt.date, today: dt.date | None, **ctx_kw: Any) -> Run:
    items = list(scheme.items.all().order_by("position", "code"))
    cms = unit_cms(org_unit)
    ctx = Context(org_unit, month, cms, today=today, **ctx_kw)
    measured: dict[int, dict[int, Measure]] = {it.pk: METRICS[it.metric].measure(ctx, it) for it in items}
    scores = Score.objects.bulk_create(Score(run=run, cm=cm) for cm in cms)
    rows, totals = [], {}
    for score, cm in zip(scores, cms, strict=True):
        total = Decimal("0")
        for it in items:
            fields = score_item(it, measured[it.pk].get(cm.pk) or Measure(None))
            total += fields["points"]
            rows.append(ScoreItem(score=score, scheme_item=it, cm=cm, **fields))
        score.total = total
        totals[score.pk] = total
    ScoreItem.objects.bulk_create(rows, batch_size=500)
    ranks = rank(totals)
    for score in scores:
        score.rank = ranks[score.pk]
    Score.objects.bulk_update(scores, ["total", "rank"], batch_size=500)
    run.kpi_queries = ctx.queries  # for the benchmark
    return run


def score_month(
    scheme: Scheme | None,
    org_unit: OrgUnit,
    month: str | dt.date,
    user: Any,
    *,
    today: dt.date | None = None,
    **ctx_kw: Any,
) -> Run:
    """Score ``month`` for every active CM under ``org_unit``; version 1 of the month's run."""
    month = parse_month(month)
    check_can_score(user, org_unit)
    if scheme is None:
        scheme = scheme_for(org_unit, month)
        if scheme is None:
            raise ValidationError(
                {
                    "scheme": _("No active scheme applies to %(unit)s in %(m)s.")
                    % {"unit": org_unit.code, "m": f"{month:%Y-%m}"}
                }
            )
    validate_items(list(scheme.items.all()))
    with transaction.atomic():
        existing = Run.objects.select_for_update().filter(org_unit=org_unit, month=month).order_by("-version").first()
        if existing is not None:
            if existing.status == RunStatus.CLOSED:
                msg = _("%(unit)s %(m)s was scored and closed (version %(v)s); a correction is a re-score.")
            else:
                msg = _("%(unit)s %(m)s is already scored (version %(v)s, %(status)s); review that run instead.")
            raise ValidationError(
                {
                    "month": msg
                    % {
                        "unit": org_unit.code,
                        "m": f"{month:%Y-%m}",
                        "v": existing.version,
                        "status": existing.get_status_display(),
                    }
                }
            )
        with acting_as(user):
            run = Run.objects.create(
                scheme=scheme,
                org_unit=org_unit,
                month=month,
                version=1,
                scored_at=timezone.now(),
                scored_by=user if getattr(user, "pk", None) else None,
            )
        return _build(run, scheme, org_unit, month, today, **ctx_kw)


def rescore(run: Run, user: Any, *, scheme: Scheme | None = None, note: str = "", today: dt.date | None = None) -> Run:
    """Correct a closed run: a new version that supersedes it (the old run and its items stay as they are)."""
    check_can_score(user, run.org_unit)
    if run.status != RunStatus.CLOSED:
        raise ValidationError({"run": _("Only a closed run is corrected by a re-score; this one is still open.")})
    scheme = scheme or run.scheme
    validate_items(list(scheme.items.all()))
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if Run.objects.filter(supersedes=run).exists():
            raise ValidationError({"run": _("This run was corrected already; re-score the latest version.")})
        top = Run.objects.filter(org_unit=run.org_unit, month=run.month).order_by("-version").first()
        with acting_as(user):
            new = Run.objects.create(
                scheme=scheme,
                org_unit=run.org_unit,
                month=run.month,
                version=top.version + 1,
                supersedes=run,
                scored_at=timezone.now(),
                scored_by=user if getattr(user, "pk", None) else None,
                note=note,
            )
        return _build(new, scheme, run.org_unit, run.month, today)
