"""`cmdesk work-remind [--today YYYY-MM-DD]`: write the day's in-app reminders for late or missing work items.

Run it once a day from cron, e.g. ``30 7 * * * /path/to/.venv/bin/cmdesk work-remind``. Running it again the same
day (or after a missed day) creates nothing twice: each item has one reminder per recipient.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from cmdesk.work.services.reminders import send_reminders


class Command(BaseCommand):
    help = (
        "Write in-app reminders for overdue monthly plans, weekly arrangements, weekly and monthly summaries and open "
        "retailer feedback, to each customer manager and the department heads above it. Meant for a daily cron job "
        "(e.g. '30 7 * * * cmdesk work-remind'); safe to run more than once a day: no reminder is written twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--today",
            default=None,
            help="the day to check deadlines against, YYYY-MM-DD (default: today in the site's time zone)",
        )

    def handle(self, *args, today=None, **options):
        day = None
        if today:
            try:
                day = dt.date.fromisoformat(today)
            except ValueError:
                raise CommandError(f"--today: {today!r} is not a date; use YYYY-MM-DD") from None
        sent = send_reminders(day)
        names = {}
        if sent.created:
            from django.contrib.auth import get_user_model

            users = get_user_model().objects.filter(pk__in={r.user_id for r in sent.created})
            names = {u.pk: u.username for u in users}
        for r in sent.created:
            self.stdout.write(f"{names.get(r.user_id, r.user_id)}\t{r.key}\t{r.text}")
        self.stdout.write(f"{sent.count} reminders created for {sent.items} overdue items.")
