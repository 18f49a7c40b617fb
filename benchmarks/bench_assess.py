"""Benchmark: scoring a whole month of the monthly assessment (issue 5, item 6), in one run.

1. builds the demo (records in SQLite under ``<data-dir>/.var``, order facts in ``<data-dir>``) like bench_kpi.py,
   or reuses ``--data-dir``; migrates the database (the assess tables);
2. scores the month for the whole city (every active CM) with the default scheme: one KPI engine query per indicator
   set grouped by CM, one database query per record type, bulk inserts;
3. the baseline in the same run: the same scoring with one KPI engine query per CM and indicator set (the naive way);
4. prints the times (first, median, best), the KPI query counts and the ratio.

Each scoring runs inside a transaction that is rolled back, so the database is left as it was and every repeat scores
the same month afresh. The KPI result cache is bypassed in both variants.

    .venv/bin/python benchmarks/bench_assess.py --data-dir /tmp/kpi-city      # build there once, reuse afterwards
    .venv/bin/python benchmarks/bench_assess.py --scale county

Goal (issue 5): a whole city month (105 CMs) scored in ≤ 10 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_kpi import AS_OF, build_demo, default_month, environment, has_build, log  # noqa: E402

PY = sys.executable


class Rollback(Exception):
    pass


def setup_django(data_dir: Path) -> None:
    var = data_dir / ".var"
    var.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "cmdesk.config.settings",
            "CMDESK_DEV_SECRET": "1",
            "CMDESK_VAR_DIR": str(var),
            "CMDESK_DATA_DIR": str(data_dir),
            "DATABASE_URL": f"sqlite:///{var / 'cmdesk.sqlite3'}",
        }
    )
    subprocess.run([PY, "-m", "cmdesk.cli", "migrate", "-v", "0"], cwd=ROOT, env=os.environ, check=True)
    import django

    django.setup()


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["county", "city"], default="city")
    parser.add_argument("--data-dir", type=Path, help="build here (kept), or reuse the build already here")
    parser.add_argument("--month", help="YYYY-MM (default: the last full month)")
    parser.add_argument("--as-of", default=AS_OF)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-repeats", type=int, default=1)
    args = parser.parse_args()

    print("environment: " + ", ".join(f"{k} {v}" for k, v in environment().items()), flush=True)
    data_dir = args.data_dir.resolve() if args.data_dir else Path(tempfile.mkdtemp(prefix="bench-assess-")) / "data"
    if has_build(data_dir) and (data_dir / ".var" / "cmdesk.sqlite3").is_file():
        log(f"reusing the build in {data_dir}")
    else:
        log(f"building the {args.scale} demo (3 years, as of {args.as_of}) in {data_dir}")
        log(f"build: {build_demo(data_dir, args.scale, args.as_of):.1f} s")
    setup_django(data_dir)
    month = args.month or default_month(data_dir)

    from django.db import connection, transaction

    from cmdesk.assess.models import ScoreItem
    from cmdesk.assess.services.schemes import default_scheme
    from cmdesk.assess.services.scoring import score_month, unit_cms
    from cmdesk.kpi.refresh import ensure_dims
    from cmdesk.kpi.selectors import SYSTEM
    from cmdesk.org.models import OrgUnit

    ensure_dims()
    root = OrgUnit.objects.get_root_nodes().first()
    scheme = default_scheme()
    n_cms = len(unit_cms(root))
    n_items = scheme.items.count()
    log(f"month {month}: {n_cms} CMs in {root.name}, scheme {scheme} with {n_items} items")

    def once(per_cm: bool) -> tuple[float, int, int]:
        t0 = time.perf_counter()
        try:
            with transaction.atomic():
                run = score_month(scheme, root, month, SYSTEM, use_cache=False, per_cm_queries=per_cm)
                seconds = time.perf_counter() - t0
                rows = ScoreItem.objects.filter(score__run=run).count()
                queries = run.kpi_queries
                raise Rollback
        except Rollback:
            pass
        return seconds, queries, rows

    figures = {}
    for name, per_cm, repeats in (("bulk", False, args.repeats), ("per-CM baseline", True, args.baseline_repeats)):
        times, queries, rows = [], 0, 0
        for _ in range(max(1, repeats)):
            secs, queries, rows = once(per_cm)
            times.append(secs)
        figures[name] = times
        log(
            f"{name}: first {times[0]:.2f} s, median {statistics.median(times):.2f} s, best {min(times):.2f} s "
            f"({repeats} runs; {queries} KPI engine queries; {rows} score items)"
        )
    ratio = statistics.median(figures["per-CM baseline"]) / statistics.median(figures["bulk"])
    goal = "met" if statistics.median(figures["bulk"]) <= 10 else "NOT met"
    print(
        f"\nscoring {month}, {n_cms} CMs × {n_items} items: {statistics.median(figures['bulk']):.2f} s "
        f"(goal ≤ 10 s for the city: {goal}); per-CM baseline {statistics.median(figures['per-CM baseline']):.2f} s; "
        f"{ratio:.1f}× faster",
        flush=True,
    )
    connection.close()


if __name__ == "__main__":
    main()
