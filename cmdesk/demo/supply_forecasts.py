"""Demo forecasts: two retailer-level runs for the whole city through the real service.

* the run for the 4 weeks after ``as_of`` (history up to ``as_of``): what CMs see as next weeks' forecasts and 核量;
* an earlier run whose weeks are inside the data: the weeks that end in the month before ``as_of``'s month (the month
  the assessment demo scores), with history up to the Sunday before the first of them, its actuals scored. So the
  assessment's forecast-accuracy item has real data (run the assessment demo after this step).

Runs after the KPI aggregates are refreshed; deterministic (the models are; ``seed`` is not needed and only kept for
the common signature of demo steps).
"""

from __future__ import annotations

import datetime as dt
import os
import time

from cmdesk.kpi.selectors import SYSTEM
from cmdesk.org.models import OrgUnit
from cmdesk.supply.models import ForecastLevel, ForecastRun
from cmdesk.supply.services import forecasts as svc


def build_forecasts_demo(as_of: dt.date, seed: int) -> dict:
    """Create the two runs and score the earlier one; returns counts and seconds."""
    del seed  # the computation has no randomness
    root = OrgUnit.objects.get_root_nodes().first()
    if root is None:
        return {}
    t0 = time.perf_counter()
    month = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)  # as the assessment demo picks it
    mondays = svc.month_mondays_ending_in(month)
    jobs = min(2, os.cpu_count() or 1)  # the results do not depend on it
    past = svc.create_run(
        org_unit=root,
        history_end=mondays[0] - dt.timedelta(days=1),
        user=SYSTEM,
        horizon=len(mondays),
        level=ForecastLevel.RETAILER,
        n_jobs=jobs,
    )
    realised = svc.score_actuals(runs=ForecastRun.objects.filter(pk=past.pk))
    current = svc.create_run(
        org_unit=root, history_end=as_of, user=SYSTEM, horizon=4, level=ForecastLevel.RETAILER, n_jobs=jobs
    )
    return {
        "forecast_runs": 2,
        "forecasts": past.metrics.get("rows", 0) + current.metrics.get("rows", 0),
        "past_run_realised_accuracy": realised.get(past.pk, {}).get("accuracy"),
        "current_run_backtest_accuracy": current.metrics.get("accuracy"),
        "seconds": round(time.perf_counter() - t0, 1),
    }
