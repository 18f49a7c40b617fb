"""`cmdesk forecast`: weekly demand forecasts with per-series model choice, and the realised accuracy afterwards.

    cmdesk forecast --history-end 2026-10-31 --horizon 4                     # every retailer of the city
    cmdesk forecast --scope A-D --history-end 2026-10-31 --level retailer_brand --user head-a
    cmdesk forecast --score-actuals [--through 2026-11-29]                   # fill actuals, realised accuracy

Prints progress (series, backtest, forecast per model, rows written) and the run's figures: backtest accuracy of the
chosen models against the naive baseline (last week's value) and seasonal naive, wins per model, seconds per step.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from cmdesk.kpi.selectors import SYSTEM
from cmdesk.org.models import OrgUnit
from cmdesk.supply.models import ForecastLevel, ForecastRun
from cmdesk.supply.services import forecasts as svc


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


class Command(BaseCommand):
    help = "Forecast weekly demand per retailer (or retailer × key brand), or score past forecasts against actuals."

    def add_arguments(self, parser):
        parser.add_argument("--scope", help="org unit code (default: the whole city)")
        parser.add_argument("--history-end", type=dt.date.fromisoformat, help="last day of the history (YYYY-MM-DD)")
        parser.add_argument("--horizon", type=int, default=4, help="weeks ahead (default 4)")
        parser.add_argument("--level", choices=ForecastLevel.values, default=ForecastLevel.RETAILER)
        parser.add_argument("--backtest-weeks", type=int, default=8)
        parser.add_argument("--history-weeks", type=int, default=104)
        parser.add_argument("--jobs", type=int, default=1, help="statsforecast worker processes (default 1)")
        parser.add_argument("--user", help="run as this user (default: the system operator)")
        parser.add_argument("--score-actuals", action="store_true", help="fill actuals of past weeks and report")
        parser.add_argument("--through", type=dt.date.fromisoformat, help="with --score-actuals: last day counted")
        parser.add_argument("--format", choices=("text", "json"), default="text")

    def handle(self, *args, **o):
        user = SYSTEM
        if o["user"]:
            try:
                user = get_user_model().objects.get(username=o["user"])
            except get_user_model().DoesNotExist as exc:
                raise CommandError(f"--user: no user {o['user']!r}") from exc
        say = (lambda msg: None) if o["format"] == "json" else (lambda msg: self.stderr.write(f"  {msg}"))
        if o["score_actuals"]:
            self._score(o, say)
            return
        if o["history_end"] is None:
            raise CommandError("--history-end is required (or give --score-actuals)")
        if o["scope"]:
            unit = OrgUnit.objects.filter(code=o["scope"]).first()
            if unit is None:
                raise CommandError(f"--scope: no org unit {o['scope']!r}")
        else:
            unit = OrgUnit.objects.get_root_nodes().first()
            if unit is None:
                raise CommandError("There is no org tree yet (run `cmdesk demo` or import the org units).")
        t0 = time.perf_counter()
        try:
            run = svc.create_run(
                org_unit=unit,
                history_end=o["history_end"],
                user=user,
                horizon=o["horizon"],
                level=o["level"],
                backtest_weeks=o["backtest_weeks"],
                history_weeks=o["history_weeks"],
                n_jobs=o["jobs"],
                progress=say,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        wall = time.perf_counter() - t0
        if o["format"] == "json":
            self.stdout.write(json.dumps({"run": run.pk, "wall_seconds": round(wall, 2), **run.metrics}, default=str))
            return
        self._print(run, wall)

    def _print(self, run: ForecastRun, wall: float) -> None:
        m = run.metrics
        self.stdout.write(
            f"run {run.pk}: {run.org_unit.code} {run.get_level_display()}, weeks {run.first_week} +{run.horizon}, "
            f"{run.series} series ({m.get('backtested', 0)} backtested over {run.backtest_weeks} weeks, "
            f"{m.get('short', 0)} too short)"
        )
        self.stdout.write(
            f"backtest accuracy: chosen {_pct(m.get('accuracy'))}, naive (last week) {_pct(m.get('naive_accuracy'))}, "
            f"seasonal naive {_pct(m.get('seasonal_naive_accuracy'))}"
        )
        for name, fig in m.get("models", {}).items():
            self.stdout.write(f"  {name:<16} {_pct(fig['accuracy']):>8}  wins {m['wins'].get(name, 0)}")
        secs = m.get("seconds", {})
        self.stdout.write(
            "seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in secs.items()) + f"; {m.get('rows', 0)} rows; "
            f"wall {wall:.1f}"
        )

    def _score(self, o, say) -> None:
        runs = None
        if o["scope"]:
            runs = ForecastRun.objects.filter(org_unit__code=o["scope"])
        done = svc.score_actuals(through=o["through"], runs=runs, progress=say)
        if o["format"] == "json":
            self.stdout.write(json.dumps(done))
            return
        if not done:
            self.stdout.write("no forecast weeks are complete in the data yet")
        for pk, r in done.items():
            self.stdout.write(
                f"run {pk}: {r['weeks']} weeks, {r['rows']} rows, realised accuracy {_pct(r['accuracy'])} "
                f"(naive {_pct(r['naive_accuracy'])}), through {r['through']}"
            )
