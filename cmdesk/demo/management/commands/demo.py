"""`cmdesk demo --scale county|city [--years N] [--seed N] [--as-of DATE]`: build the deterministic demo dataset."""

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from cmdesk.demo.build import DemoSpec, build_demo, clear_records, demo_exists, stored_logins


class Command(BaseCommand):
    help = "Build the demo city (or one county) with records, users for every role and years of order facts."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=["county", "city"], default="county")
        parser.add_argument("--years", type=int, default=3, help="years of weekly orders up to --as-of (0: none)")
        parser.add_argument("--seed", type=int, default=20141)
        parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
        parser.add_argument("--reset", action="store_true", help="empty the database first (all data is lost)")
        parser.add_argument("--if-empty", action="store_true", help="build only when the database has no records")

    def handle(self, *args, scale, years, seed, as_of, reset, if_empty, **options):
        if years < 0 or years > 10:
            raise CommandError("--years must be between 0 and 10")
        if demo_exists():
            if if_empty:
                self.stdout.write("The database already has records; demo not rebuilt.")
                self._refresh_indicators(full=False)
                self._print_logins(stored_logins())
                return
            if not reset:
                raise CommandError("The database already has records. Use --reset to replace them with the demo.")
            self.stdout.write("Deleting the existing records…")
            clear_records()
        spec = DemoSpec(scale=scale, years=years, seed=seed, as_of=as_of or dt.date.today())
        started = time.perf_counter()

        def progress(msg: str) -> None:
            self.stdout.write(f"[{time.perf_counter() - started:6.1f}s] {msg}")
            self.stdout.flush()

        result = build_demo(spec, progress=progress)
        counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo built in {time.perf_counter() - started:.1f}s: {counts}"))
        if result.orders:
            o = result.orders
            self.stdout.write(f"Order facts: {o['lines']:,} lines in {o['orders']:,} orders over {o['months']} months")
        self._refresh_indicators(full=True)
        self._supply(spec, progress)
        self._assessment(spec)
        self._print_logins(result.logins)

    def _refresh_indicators(self, *, full: bool) -> None:
        """Dimension snapshots and monthly aggregates for the KPI engine (only stale months unless ``full``)."""
        from cmdesk.kpi.refresh import refresh_all

        report = refresh_all(full=full)
        if report.months or report.removed:
            self.stdout.write(
                f"Indicator aggregates: {len(report.months)} months rebuilt, {len(report.removed)} removed, "
                f"route cubes of {len(report.cubes)} months in {report.seconds:.1f}s"
            )

    def _supply(self, spec: DemoSpec, progress) -> None:
        """Tiers, classes, allocations, forecasts and alerts (after the aggregates, before the assessment)."""
        from cmdesk.demo.supply import build_supply_demo

        if spec.years == 0:
            self.stdout.write("Supply: skipped (no order facts for tiers, allocations, forecasts or alerts)")
            return
        build_supply_demo(as_of=spec.as_of, seed=spec.seed, progress=progress)

    def _assessment(self, spec: DemoSpec) -> None:
        """The default scheme, spot checks and the last complete month scored (after the aggregates: it reads them)."""
        from cmdesk.demo.assess import build_assess_demo

        started = time.perf_counter()
        counts = build_assess_demo(as_of=spec.as_of, seed=spec.seed)
        done = ", ".join(f"{k} {v}" for k, v in counts.items())
        self.stdout.write(f"Assessment: {done} in {time.perf_counter() - started:.1f}s")

    def _print_logins(self, logins):
        if not logins:
            return
        self.stdout.write("\nDemo logins (演示账号):")
        width = max(len(x["username"]) for x in logins)
        for x in logins:
            self.stdout.write(f"  {x['username']:<{width}}  {x['password']}  {x['role']} · {x['org_unit']}")
