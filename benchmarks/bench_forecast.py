"""Benchmark: weekly demand forecasts for every retailer of the demo city (issue 6, item 4), in one run.

1. builds the demo (records in SQLite under ``<data-dir>/.var``, order facts in ``<data-dir>``) like bench_kpi.py,
   or reuses ``--data-dir``; migrates the database (the supply tables);
2. the production run end to end, as ``cmdesk forecast`` does it (``create_run``): one DuckDB query builds every
   retailer's weekly series, a rolling-origin backtest of every candidate model over the last 8 weeks (one
   statsforecast call for all series), the per-series choice, the forecast (one call per chosen model), 核量, and the
   database write (bulk inserts); each step timed separately. It runs inside a transaction that is rolled back, so
   the database is left as it was;
3. a holdout in the same run: the same computation with the history cut ``--horizon`` weeks before the data's last
   complete week, scored against what the retailers then ordered: the realised accuracy of the chosen models against
   the naive baseline (last week's cartons) and seasonal naive (the same week a year earlier), which, unlike the
   backtest figure, is not flattered by the model choice;
4. prints the figures (``--json FILE`` writes them).

    .venv/bin/python benchmarks/bench_forecast.py --data-dir /tmp/demo-city          # reuse the city demo
    .venv/bin/python benchmarks/bench_forecast.py --scale county --jobs 1

Goal (issue 6): all retailers of the city demo forecast in ≤ 2 min on 2 cores, accuracy against a naive baseline
reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_assess import Rollback, setup_django  # noqa: E402
from bench_kpi import AS_OF, build_demo, environment, has_build, log  # noqa: E402


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.2f}%"


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["county", "city"], default="city")
    parser.add_argument("--data-dir", type=Path, help="build here (kept), or reuse the build already here")
    parser.add_argument("--as-of", default=AS_OF)
    parser.add_argument("--history-end", type=dt.date.fromisoformat, help="default: the demo's as-of date")
    parser.add_argument("--horizon", type=int, default=4)
    parser.add_argument("--backtest-weeks", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2, help="statsforecast worker processes (default 2)")
    parser.add_argument("--level", choices=["retailer", "retailer_brand"], default="retailer")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    print("environment: " + ", ".join(f"{k} {v}" for k, v in environment().items()), flush=True)
    data_dir = args.data_dir.resolve() if args.data_dir else Path(tempfile.mkdtemp(prefix="bench-fc-")) / "data"
    if has_build(data_dir) and (data_dir / ".var" / "cmdesk.sqlite3").is_file():
        log(f"reusing the build in {data_dir}")
    else:
        log(f"building the {args.scale} demo (3 years, as of {args.as_of}) in {data_dir}")
        log(f"build: {build_demo(data_dir, args.scale, args.as_of):.1f} s")
    setup_django(data_dir)

    import numpy as np
    import pandas as pd
    import statsforecast
    from django.db import connection, transaction

    from cmdesk.analytics import forecast as fc
    from cmdesk.kpi.selectors import SYSTEM
    from cmdesk.org.models import OrgUnit
    from cmdesk.supply.models import Forecast
    from cmdesk.supply.services import forecasts as svc

    history_end = args.history_end or dt.date.fromisoformat(args.as_of)
    root = OrgUnit.objects.get_root_nodes().first()
    figures: dict = {"statsforecast": statsforecast.__version__, "jobs": args.jobs, "level": args.level}

    # --- 2. the production run, rolled back -------------------------------------------------------------------------
    log(f"run: {root.name}, {args.level}, history up to {history_end}, {args.horizon} weeks, {args.jobs} jobs")
    t0 = time.perf_counter()
    try:
        with transaction.atomic():
            run = svc.create_run(
                org_unit=root,
                history_end=history_end,
                user=SYSTEM,
                horizon=args.horizon,
                level=args.level,
                backtest_weeks=args.backtest_weeks,
                n_jobs=args.jobs,
                progress=lambda msg: log(f"  {msg}"),
            )
            wall = time.perf_counter() - t0
            rows = Forecast.objects.filter(run=run).count()
            metrics = run.metrics
            raise Rollback
    except Rollback:
        pass
    secs = metrics["seconds"]
    compute = secs["series"] + secs["backtest"] + secs["forecast"]
    figures["run"] = {
        "series": metrics["series"],
        "backtested": metrics["backtested"],
        "rows": rows,
        "seconds": secs,
        "compute_seconds": round(compute, 2),
        "wall_seconds": round(wall, 2),
        "backtest_accuracy": metrics["accuracy"],
        "naive_accuracy": metrics["naive_accuracy"],
        "seasonal_naive_accuracy": metrics["seasonal_naive_accuracy"],
        "models": metrics["models"],
        "wins": metrics["wins"],
    }

    # --- 3. holdout --------------------------------------------------------------------------------------------------
    last = fc.data_end(data_dir)
    through = fc.complete_through(last)
    first_week = fc.monday(through) - dt.timedelta(weeks=args.horizon - 1)
    cut = first_week - dt.timedelta(days=1)
    log(f"holdout: history up to {cut}, weeks {first_week} … {fc.monday(through)} (data end {last})")
    cfg = fc.ForecastConfig(horizon=args.horizon, backtest_weeks=args.backtest_weeks, n_jobs=args.jobs)
    products = svc.products_table()
    ids = svc.scope_retailers(root)
    t1 = time.perf_counter()
    series, result = fc.forecast(data_dir, cut, cfg, products=products, level=args.level, retailer_ids=ids)
    holdout_seconds = time.perf_counter() - t1
    actual = fc.weekly_actuals(data_dir, result.rows, products=products, level=args.level)
    merged = result.rows.merge(actual, on=["retailer_id", "brand", "week_start"])
    a = merged["actual"].to_numpy()
    f = merged["quantity"].to_numpy()
    naive = np.repeat(series.values[:, -1], args.horizon)  # last history week, every week ahead
    lag = [fc.monday(cut) - dt.timedelta(weeks=52 - 1 - k) for k in range(args.horizon)]
    idx = [int((np.datetime64(w) - series.weeks[0]).astype(int) // 7) for w in lag]
    seasonal = series.values[:, idx].ravel()
    order = pd.MultiIndex.from_arrays([merged["retailer_id"], merged["brand"], merged["week_start"]])
    expected = pd.MultiIndex.from_arrays([result.rows["retailer_id"], result.rows["brand"], result.rows["week_start"]])
    assert order.equals(expected), "holdout rows out of order"

    def acc(pred: np.ndarray) -> float:
        return fc.accuracy_from_sums(float(np.abs(a - pred).sum()), float(a.sum()))

    figures["holdout"] = {
        "history_end": cut.isoformat(),
        "weeks": [(first_week + dt.timedelta(weeks=k)).isoformat() for k in range(args.horizon)],
        "series": len(series),
        "seconds": round(holdout_seconds, 2),
        "accuracy": round(acc(f), 6),
        "naive_accuracy": round(acc(naive), 6),
        "seasonal_naive_accuracy": round(acc(seasonal), 6),
        "suggested_cover": round(float((merged["suggested"].to_numpy() >= a).mean()), 4),
    }

    r, h = figures["run"], figures["holdout"]
    print()
    print(
        f"{args.level} forecasts for {r['series']} series ({r['backtested']} backtested), {args.horizon} weeks, "
        f"{args.jobs} jobs:"
    )
    print(
        f"  series {secs['series']:.1f} s, backtest {secs['backtest']:.1f} s, forecast {secs['forecast']:.1f} s "
        f"→ computation {compute:.1f} s; database write {secs['write']:.1f} s ({rows} rows); "
        f"end to end {wall:.1f} s (goal ≤ 120 s: {'met' if wall <= 120 else 'NOT met'})"
    )
    print(
        f"  backtest ({metrics['backtest_weeks']} weeks): chosen {pct(r['backtest_accuracy'])}, "
        f"naive {pct(r['naive_accuracy'])}, seasonal naive {pct(r['seasonal_naive_accuracy'])}"
    )
    for name, m in r["models"].items():
        print(f"    {name:<16} {pct(m['accuracy']):>8}  wins {r['wins'].get(name, 0)}")
    if fc.SHORT_MODEL in r["wins"]:
        print(f"    {fc.SHORT_MODEL:<16} {'':>8}  {r['wins'][fc.SHORT_MODEL]} series too short to backtest")
    print(
        f"  holdout {h['weeks'][0]} … {h['weeks'][-1]} (history up to {h['history_end']}, {h['seconds']:.1f} s): "
        f"chosen {pct(h['accuracy'])}, naive {pct(h['naive_accuracy'])}, "
        f"seasonal naive {pct(h['seasonal_naive_accuracy'])}; 核量 ≥ actual in {h['suggested_cover'] * 100:.1f}% "
        "of retailer-weeks"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    connection.close()


if __name__ == "__main__":
    main()
