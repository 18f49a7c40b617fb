"""Which work rules apply to a CM, and the deadlines they set.

Rules are looked up from the CM's org unit upwards: the nearest unit with a :class:`WorkRules` row wins, then the city
default row (no org unit), then the model's defaults (an unsaved row), so a fresh database works without set-up.
Deadlines are the end of the due day (23:59:59.999999) in the site's time zone.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from cmdesk.org.models import OrgUnit, Staff

from .models import SummaryKind, WorkRules


def rules_for_unit(unit: OrgUnit | None) -> WorkRules:
    if unit is not None:
        paths = [unit.path[:i] for i in range(OrgUnit.steplen, len(unit.path) + 1, OrgUnit.steplen)]
        found = {
            r.org_unit.path: r for r in WorkRules.objects.select_related("org_unit").filter(org_unit__path__in=paths)
        }
        for path in reversed(paths):
            if path in found:
                return found[path]
    default = WorkRules.objects.filter(org_unit__isnull=True).order_by("id").first()
    return default if default is not None else WorkRules()


def rules_for(cm: Staff) -> WorkRules:
    return rules_for_unit(cm.org_unit)


def end_of_day(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.max))


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def next_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def previous_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


def month_end(month: datetime.date) -> datetime.date:
    return next_month(month) - datetime.timedelta(days=1)


def week_start(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def plan_due(month: datetime.date, rules: WorkRules) -> datetime.datetime:
    """A month's plan is due on ``plan_due_day`` of the month before."""
    before = previous_month(month)
    return end_of_day(before.replace(day=min(rules.plan_due_day, month_end(before).day)))


def arrangement_due(monday: datetime.date, rules: WorkRules) -> datetime.datetime:
    """A week's arrangement is due on ``arrangement_due_weekday`` of the week before."""
    return end_of_day(monday - datetime.timedelta(days=7) + datetime.timedelta(days=rules.arrangement_due_weekday))


def summary_due(kind: str, start: datetime.date, end: datetime.date, rules: WorkRules) -> datetime.datetime:
    if kind == SummaryKind.WEEK:
        return end_of_day(end + datetime.timedelta(days=rules.week_summary_due_days))
    if kind == SummaryKind.MONTH:
        following = next_month(start)
        return end_of_day(following.replace(day=min(rules.month_summary_due_day, month_end(following).day)))
    return end_of_day(datetime.date(end.year + 1, 1, min(rules.year_summary_due_day, 31)))
