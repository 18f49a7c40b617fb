"""Shared helpers for the assessment tests (stable API: other test modules import these).

w = build_work_world()
scheme = default_scheme()                  # the default 100-point scheme, active, city-wide
run = scored_run(w, "2026-10")             # the month scored for branch A's department by its head
item = item_of(run, w.cm1, "growth-rate")  # one CM's current ScoreItem of a scheme item code
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from cmdesk.assess.models import Run, ScoreItem, SpotCheck, SpotFinding
from cmdesk.assess.services.schemes import default_scheme
from cmdesk.assess.services.scoring import score_month
from cmdesk.work.models import Visit, VisitStatus

__all__ = ["default_scheme", "scored_run", "item_of", "make_visit", "make_spot_check", "TODAY"]

TODAY = dt.date(2026, 11, 20)  # after every deadline of October 2026


def scored_run(world: Any, month: str = "2026-10", *, unit: Any = None, user: Any = None, scheme: Any = None) -> Run:
    """``month`` scored with the default scheme (or ``scheme``) for ``unit`` (default dept A) by ``user`` (the head)."""
    return score_month(
        scheme or default_scheme(),
        unit or world.tree.dept_a,
        month,
        (user or world.head).user,
        today=TODAY,
    )


def item_of(run: Run, cm: Any, code: str) -> ScoreItem:
    return ScoreItem.objects.get(score__run=run, cm=cm, scheme_item__code=code, superseded_by__isnull=True)


def make_visit(
    cm: Any, retailer: Any, at: dt.datetime | dt.date, minutes: int | None = 15, status: str = VisitStatus.DONE
) -> Visit:
    """A visit checked in at ``at`` (a date: 10:00 that day) lasting ``minutes``."""
    if isinstance(at, dt.date) and not isinstance(at, dt.datetime):
        at = dt.datetime.combine(at, dt.time(10, 0))
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    return Visit.objects.create(
        cm=cm,
        retailer=retailer,
        status=status,
        checkin_at=at,
        checkout_at=at + dt.timedelta(minutes=minutes) if minutes is not None else None,
        duration_minutes=minutes,
    )


def make_spot_check(
    world: Any,
    retailer: Any,
    cm: Any,
    *,
    date: dt.date = dt.date(2026, 10, 20),
    findings: list[tuple[str, bool, str]] = (),
    published: bool = True,
) -> SpotCheck:
    """A spot check of ``retailer`` (quarter from ``date``) with findings (category, ok, deduction)."""
    quarter = dt.date(date.year, 3 * ((date.month - 1) // 3) + 1, 1)
    check = SpotCheck.objects.create(
        quarter=quarter, date=date, retailer=retailer, cm=cm, checker=world.centre, published=published
    )
    for category, ok, deduction in findings:
        SpotFinding.objects.create(spot_check=check, category=category, ok=ok, deduction=Decimal(deduction))
    return check
