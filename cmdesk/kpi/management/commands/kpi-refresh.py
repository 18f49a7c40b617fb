"""`cmdesk kpi-refresh`: re-export the dimension snapshots and rebuild stale (or, with --all, every) month's
aggregates. Imports run this for the months they touch; use it after editing records in bulk or restoring data."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from cmdesk.kpi.refresh import refresh_all


class Command(BaseCommand):
    help = "Rebuild the KPI engine's dimension snapshots and monthly aggregates."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="rebuild every month, not only the stale ones")
        parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")

    def handle(self, *args, **o):
        report = refresh_all(full=o["all"], engine_name=o["engine"])
        self.stdout.write(
            f"{len(report.months)} months rebuilt, {len(report.removed)} removed, route cubes of "
            f"{len(report.cubes)} months rebuilt in {report.seconds:.1f}s"
        )
