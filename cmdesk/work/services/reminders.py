"""In-app reminders (提醒) for late or missing work items, and marking them read.

``send_reminders(today)`` is meant to run once a day (``cmdesk work-remind``). For every active CM it looks at what
the CM still owes (:func:`cmdesk.work.services.board.open_items`) and, for each item whose deadline has passed, writes
one :class:`~cmdesk.work.models.Reminder` for the CM and one for each head above it (staff with role head whose org
unit is the CM's unit or an ancestor of it). The reminder's ``key`` names the item (``plan:<cm id>:2026-11``), so
running the job again, the same day or the next, creates nothing new for the same item. Texts are in the site's
language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cmdesk.org.choices import Role
from cmdesk.org.models import Staff
from cmdesk.work.models import Reminder

from .board import OpenItem, RulesCache, month_label, open_items


@dataclass
class RemindersSent:
    created: list[Reminder]
    items: int  # overdue items found

    @property
    def count(self) -> int:
        return len(self.created)


def _period_text(item: OpenItem) -> str:
    if item.kind in ("plan", "month_summary"):
        return month_label(item.period)
    return item.period.isoformat()


def _due_text(item: OpenItem) -> str:
    due = item.due
    if isinstance(due, dt.datetime):
        due = timezone.localtime(due).date()
    return due.isoformat()


def reminder_text(item: OpenItem, *, for_head: bool) -> str:
    """The reminder's sentence, in the active language (called inside translation.override)."""
    period, due = _period_text(item), _due_text(item)
    if item.kind == "feedback":
        snippet = item.text[:60]
        if for_head:
            return _("%(cm)s has not resolved a retailer's feedback due %(due)s: %(text)s") % {
                "cm": item.cm.name,
                "due": due,
                "text": snippet,
            }
        return _("A retailer's feedback was due %(due)s and is still open: %(text)s") % {"due": due, "text": snippet}
    what = {
        "plan": _("monthly plan for %(period)s"),
        "arrangement": _("weekly arrangement for the week of %(period)s"),
        "week_summary": _("weekly summary for the week of %(period)s"),
        "month_summary": _("monthly summary for %(period)s"),
    }[item.kind] % {"period": period}
    if item.kind == "plan" and item.state == "returned":
        if for_head:
            return _("%(cm)s has not resubmitted the returned %(what)s (due %(due)s).") % {
                "cm": item.cm.name,
                "what": what,
                "due": due,
            }
        return _("Your %(what)s was returned and is overdue (due %(due)s): revise and resubmit it.") % {
            "what": what,
            "due": due,
        }
    if for_head:
        return _("%(cm)s's %(what)s is late (due %(due)s).") % {"cm": item.cm.name, "what": what, "due": due}
    return _("Your %(what)s is late (due %(due)s).") % {"what": what, "due": due}


def _fallback_url() -> str:
    return reverse("work:home")


def heads_of(cm: Staff, heads: list[Staff]) -> list[Staff]:
    """The heads whose org unit is the CM's unit or an ancestor of it."""
    return [h for h in heads if cm.org_unit.path.startswith(h.org_unit.path)]


def send_reminders(today: dt.date | None = None) -> RemindersSent:
    """Write the reminders due as of ``today`` (default: today); returns the ones created (none twice per item)."""
    today = today or timezone.localdate()
    cms = list(Staff.objects.filter(role=Role.CM, active=True).select_related("org_unit", "user"))
    heads = list(Staff.objects.filter(role=Role.HEAD, active=True).select_related("org_unit", "user"))
    items = [i for i in open_items(cms, today, rules=RulesCache()) if i.overdue]
    fallback = _fallback_url()
    wanted: dict[tuple[int, str], Reminder] = {}
    with translation.override(settings.LANGUAGE_CODE):
        for item in items:
            url = (item.url or fallback)[:300]
            recipients = [(item.cm, False)] + [(h, True) for h in heads_of(item.cm, heads)]
            for staff, for_head in recipients:
                if not staff.user.is_active:
                    continue
                text = reminder_text(item, for_head=for_head)[:300]
                wanted.setdefault(
                    (staff.user_id, item.key), Reminder(user_id=staff.user_id, key=item.key, text=text, url=url)
                )
    if not wanted:
        return RemindersSent([], len(items))
    with transaction.atomic():
        existing = set(
            Reminder.objects.filter(user_id__in={u for u, _k in wanted}, key__in={k for _u, k in wanted}).values_list(
                "user_id", "key"
            )
        )
        new = [r for k, r in wanted.items() if k not in existing]
        Reminder.objects.bulk_create(new, ignore_conflicts=True)
    return RemindersSent(new, len(items))


# ---- the user's own reminders ----------------------------------------------------------------------------------------


def reminders_for(user: Any, *, unread_only: bool = False):
    """The user's reminders, unread first, newest first."""
    qs = Reminder.objects.filter(user_id=user.pk)
    return qs.filter(read_at__isnull=True) if unread_only else qs


def reminder_mark_read(*, actor: Any, reminder_id: int) -> Reminder:
    """Mark one of the actor's reminders read (404 for anyone else's: the same answer as a missing one)."""
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().filter(user_id=actor.pk, pk=reminder_id).first()
        if reminder is None:
            raise Http404("no such reminder")
        if reminder.read_at is None:
            reminder.read_at = timezone.now()
            reminder.save(update_fields=["read_at"])
    return reminder


def reminders_mark_all_read(*, actor: Any) -> int:
    """Mark every unread reminder of the actor read; returns how many."""
    with transaction.atomic():
        return Reminder.objects.filter(user_id=actor.pk, read_at__isnull=True).update(read_at=timezone.now())
