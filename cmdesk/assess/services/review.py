"""Review, publication (通报), sign-off (签字确认), appeals and closing of an assessment run.

Workflow (each function atomic, audited through django-auditlog inside ``acting_as(user)``, scope-checked):

* :func:`override_item` — the head changes one item's points, only with a written reason; ``computed_points`` keeps
  what the rule gave, the audit log keeps before/after; the score is re-totalled and the run re-ranked.
* :func:`publish_run` — the run is published (通报): from then on each CM sees its own items.
* :func:`sign_item` / :func:`sign_score` — the CM signs one item or all its open items; a signed item never changes.
* :func:`appeal_item` — the CM appeals one item with a reason, to the head or to the city company (one open appeal).
* :func:`decide_appeal` — rejecting needs a reason; accepting re-scores the item as a new version (the old row stays,
  pointing to the new one through ``superseded_by``, and no longer counts).
* :func:`close_run` — the run becomes immutable; a correction is a new run version (see the scoring services).

Reads: ``visible_*`` fetch and authorise in one call (missing and out of scope both raise :class:`OutOfScope`); a CM
sees only its own scores, items and appeals, and only of published or closed runs. :func:`ranking`,
:func:`distribution`, :func:`current_items` and :func:`cm_history` serve the pages, the API and the exports.
"""

from __future__ import annotations

import statistics
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cmdesk.core.audit import acting_as
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import user_scope
from cmdesk.org.choices import Role
from cmdesk.org.models import Staff, staff_of

from ..models import Appeal, AppealStatus, ItemStatus, Run, RunStatus, Score, ScoreItem

VISIBLE_TO_CM = (RunStatus.PUBLISHED, RunStatus.CLOSED)
BANDS = (  # (key, label, lower bound inclusive, upper bound exclusive)
    ("lt60", "<60", None, Decimal("60")),
    ("60_70", "60–70", Decimal("60"), Decimal("70")),
    ("70_80", "70–80", Decimal("70"), Decimal("80")),
    ("80_90", "80–90", Decimal("80"), Decimal("90")),
    ("ge90", "≥90", Decimal("90"), None),
)
MAX_POINTS = Decimal("99999")  # ScoreItem.points has 7 digits, 2 decimals
TWO_PLACES = Decimal("0.01")


# --- reads ---------------------------------------------------------------------------------------------------------
def is_own_scope(user: Any) -> bool:
    """A customer manager (scope: what is assigned to it): sees only its own, and only published runs."""
    return user_scope(user).kind == "own"


def _published_only(queryset: models.QuerySet, user: Any, run_path: str) -> models.QuerySet:
    if is_own_scope(user):
        return queryset.filter(**{f"{run_path}status__in": VISIBLE_TO_CM})
    return queryset


def runs_for(user: Any, action: str = "view") -> models.QuerySet:
    """Runs the user may read: heads, clerks and the centre by org unit; a CM those it has a published score in."""
    queryset = Run.objects.restrict(user, action)
    if is_own_scope(user):
        queryset = queryset.filter(status__in=VISIBLE_TO_CM).distinct()
    return queryset


def scores_for(user: Any, action: str = "view") -> models.QuerySet:
    return _published_only(Score.objects.restrict(user, action), user, "run__")


def items_for(user: Any, action: str = "view") -> models.QuerySet:
    return _published_only(ScoreItem.objects.restrict(user, action), user, "score__run__")


def appeals_for(user: Any, action: str = "view") -> models.QuerySet:
    return _published_only(Appeal.objects.restrict(user, action), user, "item__score__run__")


def _fetch(queryset: models.QuerySet, pk: Any) -> Any:
    try:
        obj = queryset.filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        obj = None
    if obj is None:
        raise OutOfScope(pk)
    return obj


def visible_run(user: Any, pk: Any) -> Run:
    return _fetch(runs_for(user).select_related("scheme", "org_unit", "supersedes"), pk)


def visible_score(user: Any, pk: Any) -> Score:
    return _fetch(scores_for(user).select_related("run__scheme", "run__org_unit", "cm"), pk)


def visible_item(user: Any, pk: Any) -> ScoreItem:
    return _fetch(items_for(user).select_related("score__run", "scheme_item", "cm"), pk)


def visible_appeal(user: Any, pk: Any) -> Appeal:
    return _fetch(appeals_for(user).select_related("item__score__run", "item__scheme_item", "cm"), pk)


def current_items(score: Score) -> models.QuerySet:
    """The items that count: the newest version of each indicator (``superseded_by`` empty)."""
    return (
        score.items.filter(superseded_by__isnull=True)
        .select_related("scheme_item", "overridden_by")
        .order_by("scheme_item__position", "scheme_item__code")
    )


def item_history(item: ScoreItem) -> list[ScoreItem]:
    """Every version of this item's indicator in the score, oldest first (the superseded ones stay readable)."""
    return list(
        ScoreItem.objects.filter(score_id=item.score_id, scheme_item_id=item.scheme_item_id)
        .select_related("scheme_item")
        .order_by("version")
    )


def ranking(run: Run) -> list[Score]:
    """The run's scores by rank (ties share a rank), with the CM and its org unit."""
    return list(
        run.scores.select_related("cm", "cm__org_unit")
        .annotate(
            open_items=Count("items", filter=Q(items__superseded_by__isnull=True, items__status=ItemStatus.OPEN)),
            appealed_items=Count(
                "items", filter=Q(items__superseded_by__isnull=True, items__status=ItemStatus.APPEALED)
            ),
        )
        .order_by(models.F("rank").asc(nulls_last=True), "-total", "cm__employee_no")
    )


def distribution(run: Run) -> dict[str, Any]:
    """How the run's totals spread over the bands (<60, 60–70, 70–80, 80–90, ≥90), with count, mean and median."""
    totals = [Decimal(t) for t in run.scores.values_list("total", flat=True)]
    bands = []
    for key, label, low, high in BANDS:
        n = sum(1 for t in totals if (low is None or t >= low) and (high is None or t < high))
        bands.append({"key": key, "label": label, "count": n})
    mean = median = None
    if totals:
        mean = (sum(totals) / len(totals)).quantize(TWO_PLACES)
        median = Decimal(statistics.median(totals)).quantize(TWO_PLACES)
    return {
        "count": len(totals),
        "mean": mean,
        "median": median,
        "max": max(totals) if totals else None,
        "min": min(totals) if totals else None,
        "bands": bands,
    }


def cm_history(user: Any, cm: Staff) -> list[Score]:
    """The CM's scores across months that the user may read (a CM: published and closed runs only), oldest first.

    Of several versions of a month's run the newest counts; the older ones are corrections kept for the record.
    """
    scores = (
        scores_for(user)
        .filter(cm=cm)
        .select_related("run", "run__scheme")
        .order_by("run__month", "run__org_unit_id", "-run__version")
    )
    newest: dict[tuple, Score] = {}
    for score in scores:
        newest.setdefault((score.run.month, score.run.org_unit_id), score)
    return sorted(newest.values(), key=lambda s: s.run.month)


# --- helpers -------------------------------------------------------------------------------------------------------


def _require_perm(user: Any, perm: str) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm(perm):
        raise PermissionDenied(_("You may not do this."))


def _ensure_open(run: Run) -> None:
    """Every write refuses on a closed run, naming it."""
    if run.status == RunStatus.CLOSED:
        raise ValidationError(
            _("The run %(run)s is closed: nothing in it can change. A correction is a new version of the run.")
            % {"run": run}
        )


def _lock_run(run: Run) -> Run:
    """Re-read the run under a row lock so two reviewers cannot interleave totals and ranks."""
    return Run.objects.select_for_update().get(pk=run.pk)


def _lock_item(item: ScoreItem) -> ScoreItem:
    return ScoreItem.objects.select_for_update().select_related("score__run", "scheme_item", "cm").get(pk=item.pk)


def _in_scope(queryset: models.QuerySet, obj: models.Model) -> None:
    if not queryset.filter(pk=obj.pk).exists():
        raise OutOfScope(obj.pk)


def _reason(text: Any, field: str, message: str) -> str:
    text = (text or "").strip() if isinstance(text, str) or text is None else str(text).strip()
    if not text:
        raise ValidationError({field: message})
    return text


def _points(value: Any) -> Decimal:
    if value is None or value == "":
        raise ValidationError({"points": _("Give the new points.")})
    try:
        points = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({"points": _("Points must be a number.")}) from exc
    if not points.is_finite() or abs(points) > MAX_POINTS:
        raise ValidationError({"points": _("Points must be a number between -99999 and 99999.")})
    return points.quantize(TWO_PLACES)


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"


def retotal(score: Score) -> Score:
    """The score's total is the sum of its current items' points."""
    total = score.items.filter(superseded_by__isnull=True).aggregate(s=models.Sum("points"))["s"] or Decimal("0")
    if score.total != total:
        score.total = total
        score.save(update_fields=["total"])
    return score


def rerank(run: Run) -> None:
    """Rank the run's scores by total, highest first; equal totals share a rank (1, 2, 2, 4)."""
    rank = 0
    previous = None
    for position, score in enumerate(run.scores.order_by("-total", "cm__employee_no"), start=1):
        if score.total != previous:
            rank = position
            previous = score.total
        if score.rank != rank:
            score.rank = rank
            score.save(update_fields=["rank"])


# --- review --------------------------------------------------------------------------------------------------------
def override_item(item: ScoreItem, user: Any, points: Any, reason: str) -> ScoreItem:
    """The head changes one item's points with a written reason; the rule's ``computed_points`` stay for comparison."""
    _require_perm(user, "assess.review_run")
    reason = _reason(reason, "reason", _("Write the reason for the change: the CM and the audit log will see it."))
    points = _points(points)
    with transaction.atomic(), acting_as(user):
        _in_scope(items_for(user), item)
        item = _lock_item(item)
        run = _lock_run(item.score.run)
        _ensure_open(run)
        if item.superseded_by_id is not None or item.status == ItemStatus.SUPERSEDED:
            raise ValidationError(_("This item has been re-scored; change its newest version."))
        if item.status == ItemStatus.SIGNED:
            raise ValidationError(_("The customer manager has signed this item: it cannot change any more."))
        if item.status == ItemStatus.APPEALED:
            raise ValidationError(_("This item is under appeal: decide the appeal instead."))
        item.points = points
        item.override_reason = reason
        item.overridden_by = user
        item.overridden_at = timezone.now()
        item.save(update_fields=["points", "override_reason", "overridden_by", "overridden_at"])
        retotal(item.score)
        rerank(run)
    return item


def publish_run(run: Run, user: Any) -> Run:
    """Publish the run (通报): its ranking, distribution and each CM's own items become visible to the CMs."""
    _require_perm(user, "assess.review_run")
    with transaction.atomic(), acting_as(user):
        _in_scope(Run.objects.restrict(user, "view"), run)
        run = _lock_run(run)
        _ensure_open(run)
        if run.status != RunStatus.SCORED:
            raise ValidationError(_("The run %(run)s is already published.") % {"run": run})
        if not run.scores.exists():
            raise ValidationError(_("The run %(run)s has no scores to publish.") % {"run": run})
        run.status = RunStatus.PUBLISHED
        run.published_at = timezone.now()
        run.save(update_fields=["status", "published_at"])
    return run


def close_run(run: Run, user: Any) -> Run:
    """Close a published run once its appeals are decided; afterwards nothing in it changes."""
    _require_perm(user, "assess.close_run")
    with transaction.atomic(), acting_as(user):
        _in_scope(Run.objects.restrict(user, "view"), run)
        run = _lock_run(run)
        _ensure_open(run)
        if run.status != RunStatus.PUBLISHED:
            raise ValidationError(_("Publish the run %(run)s before closing it.") % {"run": run})
        open_appeals = Appeal.objects.filter(item__score__run=run, status=AppealStatus.OPEN).count()
        if open_appeals:
            raise ValidationError(
                _("The run %(run)s has %(n)s open appeal(s): decide them before closing.")
                % {"run": run, "n": open_appeals}
            )
        run.status = RunStatus.CLOSED
        run.closed_at = timezone.now()
        run.save(update_fields=["status", "closed_at"])
    return run


# --- the CM: sign and appeal ---------------------------------------------------------------------------------------
def _own_item(item: ScoreItem, user: Any, perm: str) -> tuple[ScoreItem, Run]:
    """Lock the CM's own item of a published, open run (anything else looks missing or is refused)."""
    _require_perm(user, perm)
    staff = staff_of(user)
    if staff is None or staff.role != Role.CM or item.cm_id != staff.pk:
        raise OutOfScope(item.pk)
    _in_scope(items_for(user), item)
    item = _lock_item(item)
    run = _lock_run(item.score.run)
    _ensure_open(run)
    if run.status != RunStatus.PUBLISHED:
        raise ValidationError(_("The run %(run)s is not published yet.") % {"run": run})
    if item.superseded_by_id is not None or item.status == ItemStatus.SUPERSEDED:
        raise ValidationError(_("This item has been re-scored; sign or appeal its newest version."))
    return item, run


def sign_item(item: ScoreItem, user: Any) -> ScoreItem:
    """The CM signs one of its items (签字确认): from then on the item cannot change."""
    with transaction.atomic(), acting_as(user):
        item, _run = _own_item(item, user, "assess.sign_scoreitem")
        if item.status == ItemStatus.SIGNED:
            raise ValidationError(_("You have already signed this item."))
        if item.status == ItemStatus.APPEALED:
            raise ValidationError(_("This item is under appeal: wait for the decision before signing."))
        item.status = ItemStatus.SIGNED
        item.signed_at = timezone.now()
        item.save(update_fields=["status", "signed_at"])
    return item


def sign_score(score: Score, user: Any) -> list[ScoreItem]:
    """The CM signs all its open items of one score at once; items under appeal are left for their decision."""
    staff = staff_of(user)
    if staff is None or score.cm_id != staff.pk:
        raise OutOfScope(score.pk)
    signed = []
    with transaction.atomic():
        items = list(current_items(score).filter(status=ItemStatus.OPEN))
        if not items:
            raise ValidationError(_("There is nothing left to sign in this score."))
        for item in items:
            signed.append(sign_item(item, user))
    return signed


def appeal_item(item: ScoreItem, user: Any, reason: str, to_city: bool = False) -> Appeal:
    """The CM appeals one item with a reason, to its head or to the city company; one open appeal per item."""
    reason = _reason(reason, "reason", _("Say why you appeal: which figure is wrong and why."))
    with transaction.atomic(), acting_as(user):
        item, _run = _own_item(item, user, "assess.add_appeal")
        if item.status == ItemStatus.SIGNED:
            raise ValidationError(_("You have signed this item: it can no longer be appealed."))
        if item.status == ItemStatus.APPEALED or item.appeals.filter(status=AppealStatus.OPEN).exists():
            raise ValidationError(_("This item already has an open appeal."))
        appeal = Appeal.objects.create(item=item, cm=item.cm, reason=reason, to_city=bool(to_city))
        item.status = ItemStatus.APPEALED
        item.save(update_fields=["status"])
    return appeal


def can_decide(user: Any, appeal: Appeal) -> bool:
    """Heads decide appeals addressed to them; appeals to the city company are the centre's."""
    if not user.has_perm("assess.decide_appeal"):
        return False
    if appeal.to_city:
        return user_scope(user).is_all
    return True


def decide_appeal(appeal: Appeal, user: Any, accept: bool, decision: str, points: Any = None) -> Appeal:
    """Accept (re-score the item as a new version with ``points``) or reject (a reason is required) an appeal."""
    _require_perm(user, "assess.decide_appeal")
    if accept:
        decision = (decision or "").strip()
        points = _points(points)
    else:
        decision = _reason(decision, "decision", _("Write why the appeal is rejected."))
    with transaction.atomic(), acting_as(user):
        _in_scope(Appeal.objects.restrict(user, "view"), appeal)
        appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
        if appeal.to_city and not user_scope(user).is_all:
            raise PermissionDenied(_("This appeal is addressed to the city company."))
        item = _lock_item(appeal.item)
        run = _lock_run(item.score.run)
        _ensure_open(run)
        if appeal.status != AppealStatus.OPEN:
            raise ValidationError(_("This appeal has already been decided."))
        now = timezone.now()
        if accept:
            new_item = _rescore(item, appeal, user, points, decision, now)
            item.superseded_by = new_item
            item.status = ItemStatus.SUPERSEDED
            item.save(update_fields=["superseded_by", "status"])
            appeal.new_item = new_item
            appeal.status = AppealStatus.ACCEPTED
        else:
            item.status = ItemStatus.OPEN  # the CM may now sign it, or appeal to the city company
            item.save(update_fields=["status"])
            appeal.status = AppealStatus.REJECTED
        appeal.decision = decision
        appeal.decided_by = user
        appeal.decided_at = now
        appeal.save(update_fields=["status", "decision", "decided_by", "decided_at", "new_item"])
        if accept:
            retotal(item.score)
            rerank(run)
    return appeal


def _rescore(item: ScoreItem, appeal: Appeal, user: Any, points: Decimal, decision: str, now: Any) -> ScoreItem:
    """The accepted appeal's new version of the item: same measurement and evidence, the new points explained."""
    note = f"申诉（第{appeal.pk}号）已采纳：{_fmt(item.points)} 分改为 {_fmt(points)} 分"
    if decision:
        note += f"。{decision}"
    evidence = list(item.evidence or [])
    evidence.append(
        {
            "kind": "record",
            "label": f"申诉第{appeal.pk}号：{appeal.reason}",
            "url": f"{reverse('assess:appeal_list')}#appeal-{appeal.pk}",
            "value": _fmt(points),
        }
    )
    return ScoreItem.objects.create(
        score=item.score,
        scheme_item=item.scheme_item,
        cm=item.cm,
        version=item.version + 1,
        measured=item.measured,
        target=item.target,
        adjusted_target=item.adjusted_target,
        adjustment=item.adjustment,
        computed_points=item.computed_points,
        points=points,
        rule_text=f"{item.rule_text}\n{note}" if item.rule_text else note,
        evidence=evidence,
        override_reason=note,
        overridden_by=user,
        overridden_at=now,
        status=ItemStatus.OPEN,
    )
