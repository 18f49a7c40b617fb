"""Benchmark: the KPI engine on the demo city (issue 3, item 6), in one run.

1. builds the demo with 3 years of order facts in a temporary directory (or reuses ``--data-dir``);
2. a full recompute of the monthly aggregates (every month) with DuckDB;
3. one month's full indicator set (every indicator) by CM, by product and by CM × product, from the aggregates and from
   the raw lines, DuckDB; five runs each, the first (cold), the median and the best reported;
4. the same month by a plain pandas implementation (by CM and by product, a representative subset of indicators),
   checked against the engine's numbers;
5. the engine's own SQL on PostgreSQL over the same lines (loaded with COPY into a scratch schema that is dropped at the
   end), as is by CM and with ``=`` joins by CM and by product, checked too;
6. Spark local[2] (the optional extra), by CM from the aggregates and from the lines, rows compared for equality.

"cpu wait" is the share of a measurement's wall time in which some task on the machine waited for a CPU
(/proc/pressure/cpu): figures taken with a high wait were contended. PostgreSQL: ``BENCH_PG_DSN`` (default
``host=127.0.0.1 port=5432 user=postgres dbname=test``).

    .venv/bin/python benchmarks/bench_kpi.py                          # city, build in a temp dir
    .venv/bin/python benchmarks/bench_kpi.py --data-dir /tmp/kpi-city  # build there once, reuse afterwards
    .venv/bin/python benchmarks/bench_kpi.py --scale county --no-spark --no-postgres

Goals (issue 3): a month's indicators for the whole city in ≤ 1 s from the aggregates and ≤ 5 s from the raw lines,
≥ 10× faster than pandas; Spark local gives the same numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from cmdesk.analytics.engines import get_engine  # noqa: E402
from cmdesk.analytics.indicators import INDICATORS  # noqa: E402
from cmdesk.analytics.layout import (  # noqa: E402
    ORDER_SCHEMA,
    PRODUCT_DIM_SCHEMA,
    RETAILER_DIM_SCHEMA,
    dim_file,
    m_idx,
    month_of_idx,
    order_file,
    order_months,
)
from cmdesk.analytics.periods import Period  # noqa: E402
from cmdesk.analytics.query import KpiQuery  # noqa: E402
from cmdesk.analytics.sql import build  # noqa: E402

PY = sys.executable
AS_OF = "2026-10-31"
REPEATS = 5
PG_REPEATS = 2  # PostgreSQL takes tens of seconds a query
GROUPINGS = (("cm",), ("product",), ("cm", "product"))
# the subset the pandas implementation computes (integers compared exactly, ratios to 1e-9 relative)
PANDAS_INDICATORS = (
    "cartons",
    "amount",
    "avg_price",
    "buyers",
    "listing_rate",
    "cases_yoy",
    "fill_rate",
    "satisfaction",
    "repeat_rate",
    "orders",
    "online_share",
)
REL_TOL = 1e-9
PG_DSN = os.environ.get("BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")


# --- small helpers ----------------------------------------------------------------------------------------------------
def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} rss-peak {peak_mb():6.0f} MB] {msg}", flush=True)


def cpu_stall_us() -> int | None:
    """Microseconds some task has waited for a CPU since boot (/proc/pressure/cpu), or None."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return int(line.rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


LAST_STALL: list[float | None] = [None]


def timed(fn, repeats: int = REPEATS):
    """(first seconds, median seconds, last result, every time) over ``repeats`` calls.

    Also leaves in LAST_STALL the share of the wall time during which some task on the machine waited for a CPU:
    near 0 on a quiet machine; high when other work competed with the benchmark for the 2 cores.
    """
    times, result = [], None
    s0, w0 = cpu_stall_us(), time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    s1, wall = cpu_stall_us(), time.perf_counter() - w0
    LAST_STALL[0] = (s1 - s0) / 1e6 / wall if s0 is not None and s1 is not None and wall > 0 else None
    return times[0], statistics.median(times), result, times


def norm(v):
    """Comparable form of a group key or value: NaN/NA → None, integral floats → int, numpy scalars → Python."""
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if v.is_integer():
            return int(v)
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return v


def same(a, b, exact: bool) -> bool:
    a, b = norm(a), norm(b)
    if a is None or b is None:
        return a is None and b is None
    if exact or (isinstance(a, int) and isinstance(b, int)):
        return a == b
    a, b = float(a), float(b)
    return a == b or abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def compare(ref_rows, ref_keys, other: dict, indicators, exact_ints=True) -> tuple[int, list[str]]:
    """Compare ``other`` ({key tuple: {indicator: value}}) with the engine's rows; (values compared, mismatches)."""
    ref = {tuple(norm(r[k]) for k in ref_keys): r for r in ref_rows}
    problems = []
    if set(ref) != set(other):
        only_ref, only_other = set(ref) - set(other), set(other) - set(ref)
        problems.append(
            f"groups differ: {len(only_ref)} only in engine {sorted(only_ref, key=str)[:3]}, "
            f"{len(only_other)} only in other {sorted(only_other, key=str)[:3]}"
        )
    n = 0
    for key in set(ref) & set(other):
        for name in indicators:
            n += 1
            exact = exact_ints and INDICATORS[name].unit == "count" or name == "cartons"
            if not same(ref[key][name], other[key][name], exact):
                if len(problems) < 10:
                    problems.append(f"{key} {name}: engine {ref[key][name]!r} other {other[key][name]!r}")
    return n, problems


# --- 1. the demo build ------------------------------------------------------------------------------------------------
def has_build(data_dir: Path) -> bool:
    return bool(order_months(data_dir)) and all(dim_file(data_dir, n).is_file() for n in ("retailers", "products"))


def build_demo(data_dir: Path, scale: str, as_of: str) -> float:
    var = data_dir / ".var"
    var.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cmdesk.config.settings",
        "CMDESK_DEV_SECRET": "1",
        "CMDESK_VAR_DIR": str(var),
        "CMDESK_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{var / 'cmdesk.sqlite3'}",
    }
    subprocess.run([PY, "-m", "cmdesk.cli", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [PY, "-m", "cmdesk.cli", "demo", "--scale", scale, "--years", "3", "--as-of", as_of, "--reset"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith(("Order facts", "Indicator aggregates")):
            log(f"  demo: {line}")
    if not all(dim_file(data_dir, n).is_file() for n in ("retailers", "products")):
        # an older demo command that does not refresh the indicators: export the snapshots ourselves
        script = "import django; django.setup(); from cmdesk.kpi.dims import export_dims; print(export_dims())"
        subprocess.run([PY, "-c", script], cwd=ROOT, env=env, check=True)
    return seconds


def default_month(data_dir: Path) -> str:
    """The last full month: from the demo's as-of date, else the last order month if its lines reach its last week."""
    months = order_months(data_dir)
    try:
        as_of = dt.date.fromisoformat(json.loads((data_dir / "demo.json").read_text(encoding="utf-8"))["as_of"])
        nxt = as_of + dt.timedelta(days=1)
        label = f"{as_of.year:04d}-{as_of.month:02d}"
        return label if nxt.month != as_of.month else month_of_idx(m_idx(label) - 1)
    except (FileNotFoundError, KeyError, ValueError):
        last = months[-1]
        top = pq.read_table(order_file(data_dir, last), columns=["order_date"]).column(0)
        import pyarrow.compute as pc

        p = Period.parse(last)
        full = pc.max(top).as_py() >= p.end - dt.timedelta(days=6)
        return last if full else months[-2]


# --- 4. the plain pandas implementation -------------------------------------------------------------------------------
def pandas_month(data_dir: Path, month: str, by: str) -> dict:
    """The month's indicators (PANDAS_INDICATORS) by "cm" or "product", with pyarrow → pandas, groupby and merges.

    Same rules as the engine: lines are summed per retailer × product; only retailers and products in the snapshots
    count; "served" are the retailers open in the month; 上柜 = supplied > 0; repeat buyers bought (the same product,
    when grouped by product) in the previous month too; with a product grouping the orders are the lines.
    """
    import pandas as pd

    period = Period.parse(month)
    lm, ly = month_of_idx(m_idx(month) - 1), month_of_idx(m_idx(month) - 12)

    def read(m: str, cols: list[str]) -> pd.DataFrame:
        return pq.read_table(order_file(data_dir, m), columns=cols).to_pandas()

    ret = pq.read_table(
        dim_file(data_dir, "retailers"),
        columns=["retailer_id", "route_id", "cm_id", "cm_code", "cm_name", "opened_on", "closed_on"],
    ).to_pandas()
    prod = pq.read_table(dim_file(data_dir, "products"), columns=["product_id", "product_code", "product_name"])
    prod = prod.to_pandas()
    keys = ["cm_id", "cm_code", "cm_name"] if by == "cm" else ["product_code", "product_name"]

    cur = read(
        month,
        ["order_id", "retailer_id", "product_id", "demanded", "allotted", "ordered", "supplied", "amount", "channel"],
    )
    cur["amount_fen"] = np.round(cur["amount"].to_numpy() * 100).astype(np.int64)
    cur["online"] = (cur["channel"] == "online").astype(np.int64)

    def pairs(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
        """retailer × product sums joined to the snapshots (inner: unknown retailers/products drop out)."""
        g = df.groupby(["retailer_id", "product_id"], sort=False)[cols].sum().reset_index()
        g = g.merge(ret[["retailer_id", "route_id", "cm_id", "cm_code", "cm_name"]], on="retailer_id")
        return g.merge(prod, on="product_id")

    x = pairs(cur.assign(lines=1), ["lines", "online", "demanded", "allotted", "ordered", "supplied", "amount_fen"])
    g = x.groupby(keys, dropna=False).agg(
        cartons=("supplied", "sum"),
        amount_fen=("amount_fen", "sum"),
        demanded=("demanded", "sum"),
        allotted=("allotted", "sum"),
        ordered=("ordered", "sum"),
        lines=("lines", "sum"),
        online_lines=("online", "sum"),
    )
    sold = x[x["supplied"] > 0]
    g["buyers"] = sold.groupby(keys, dropna=False)["retailer_id"].nunique()

    x_ly = pairs(read(ly, ["retailer_id", "product_id", "supplied"]), ["supplied"])
    g["cartons_ly"] = x_ly.groupby(keys, dropna=False)["supplied"].sum()
    x_lm = pairs(read(lm, ["retailer_id", "product_id", "supplied"]), ["supplied"])

    # repeat buyers: (retailer[, product]) bought in both months
    kcols = ["retailer_id"] + (["product_code", "product_name"] if by == "product" else [])
    k_cur = sold[kcols + (["cm_id", "cm_code", "cm_name"] if by == "cm" else [])].drop_duplicates()
    k_lm = x_lm.loc[x_lm["supplied"] > 0, kcols].drop_duplicates()
    g["repeat_buyers"] = k_cur.merge(k_lm, on=kcols).groupby(keys, dropna=False).size()

    # retailers served: open at some point of the month
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    opened, closed = pd.to_datetime(ret["opened_on"]), pd.to_datetime(ret["closed_on"])
    open_ = ret[(opened.isna() | (opened <= end)) & (closed.isna() | (closed >= start))]

    if by == "cm":
        # every CM with served retailers is a row; orders = distinct order ids per retailer
        served = open_.groupby(keys, dropna=False).size().rename("served")
        per_r = cur.groupby("retailer_id").agg(orders=("order_id", "nunique"))
        per_r["online_orders"] = cur[cur["online"] == 1].groupby("retailer_id")["order_id"].nunique()
        per_r = per_r.fillna(0).reset_index().merge(ret[["retailer_id", *keys]], on="retailer_id")
        o = per_r.groupby(keys, dropna=False)[["orders", "online_orders"]].sum()
        out = served.to_frame().join(g, how="left").join(o, how="left")
    else:
        # products that sold (were on a line) are the rows; every one is measured against all retailers served
        out = g.copy()
        out["served"] = len(open_)
        out["orders"], out["online_orders"] = out["lines"], out["online_lines"]
    out = out.fillna(0)

    def ratio(a: str, b: str) -> pd.Series:
        den = out[b].astype(float)
        return (out[a].astype(float) / den).where(den != 0)

    res = pd.DataFrame(index=out.index)
    res["cartons"] = out["cartons"].astype(np.int64)
    res["amount"] = out["amount_fen"].astype(float) / 100
    res["avg_price"] = (out["amount_fen"].astype(float) / (out["cartons"] * 100)).where(out["cartons"] != 0)
    res["buyers"] = out["buyers"].astype(np.int64)
    res["listing_rate"] = ratio("buyers", "served")
    res["cases_yoy"] = ((out["cartons"] - out["cartons_ly"]).astype(float) / out["cartons_ly"]).where(
        out["cartons_ly"] != 0
    )
    res["fill_rate"] = ratio("ordered", "allotted")
    res["satisfaction"] = ratio("cartons", "demanded")
    res["repeat_rate"] = ratio("repeat_buyers", "buyers")
    res["orders"] = out["orders"].astype(np.int64)
    res["online_share"] = ratio("online_orders", "orders")
    return {
        tuple(norm(k) for k in (key if isinstance(key, tuple) else (key,))): {c: norm(v) for c, v in row.items()}
        for key, row in zip(res.index, res.to_dict("records"), strict=True)
    }


# --- 5. PostgreSQL ----------------------------------------------------------------------------------------------------
PG_TYPES = {
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE PRECISION",
    pa.string(): "TEXT",
    pa.date32(): "DATE",
    pa.bool_(): "BOOLEAN",
}


def pg_sql(sql: str, *, hashable: bool = False) -> str:
    """The engine's SQL for PostgreSQL: only DuckDB/Spark's DOUBLE needs its PostgreSQL name.

    ``hashable`` also turns ``IS NOT DISTINCT FROM`` into ``=`` (PostgreSQL plans only nested loops for the former);
    that drops groups whose key is NULL, which the comparison with DuckDB would report.
    """
    sql = sql.replace("AS DOUBLE)", "AS DOUBLE PRECISION)")
    return sql.replace(" IS NOT DISTINCT FROM ", " = ") if hashable else sql


def pg_copy(cur, table: str, schema: pa.Schema, batches) -> int:
    cols = ", ".join(f.name for f in schema)
    n = 0
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)") as cp:
        for batch in batches:
            buf = io.BytesIO()
            pacsv.write_csv(pa.Table.from_batches([batch]), buf, pacsv.WriteOptions(include_header=False))
            cp.write(buf.getbuffer())
            n += batch.num_rows
    return n


def pg_load(con, schema_name: str, data_dir: Path, months: list[str]) -> int:
    with con.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema_name}")
        cur.execute(f"SET search_path TO {schema_name}")
        for name, schema in (
            ("lines", ORDER_SCHEMA),
            ("retailers", RETAILER_DIM_SCHEMA),
            ("products", PRODUCT_DIM_SCHEMA),
        ):
            cols = ", ".join(f"{f.name} {PG_TYPES[f.type]}" for f in schema)
            cur.execute(f"CREATE UNLOGGED TABLE {name} ({cols})")
        n = 0
        for m in months:
            n += pg_copy(cur, "lines", ORDER_SCHEMA, pq.ParquetFile(order_file(data_dir, m)).iter_batches(200_000))
        for name, schema in (("retailers", RETAILER_DIM_SCHEMA), ("products", PRODUCT_DIM_SCHEMA)):
            pg_copy(cur, name, schema, pq.read_table(dim_file(data_dir, name)).to_batches())
        cur.execute("ANALYZE lines; ANALYZE retailers; ANALYZE products")
    con.commit()
    return n


# --- Spark's JVM memory (best effort) ---------------------------------------------------------------------------------
def jvm_peak_mb() -> float | None:
    try:
        from pyspark import SparkContext

        pid = SparkContext._gateway.proc.pid  # the launcher; the JVM is it or a child of it
    except Exception:  # noqa: BLE001
        return None
    best = None
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    kb = int(line.split()[1])
                    best = max(best or 0, kb / 1024)
        except OSError:
            pass
    return best


def _children(pid: int) -> list[int]:
    out = []
    try:
        for p in Path(f"/proc/{pid}/task").iterdir():
            for c in (p / "children").read_text().split():
                out.append(int(c))
                out.extend(_children(int(c)))
    except OSError:
        pass
    return out


def cpu_pressure() -> str:
    """The kernel's CPU pressure (share of time some task waited for a CPU): other load on the machine."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "n/a"
    return " ".join(line.split()[1:4])


# --- the run ----------------------------------------------------------------------------------------------------------
def environment() -> dict:
    import duckdb
    import pandas as pd

    env = {
        "cores": os.cpu_count(),
        "usable cores": len(os.sched_getaffinity(0)),
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "cpu pressure": cpu_pressure(),
    }
    try:
        import pyspark

        env["pyspark"] = pyspark.__version__
    except ImportError:
        env["pyspark"] = "not installed"
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr
        env["java"] = out.splitlines()[0] if out else "?"
    except FileNotFoundError:
        env["java"] = "not installed"
    return env


def main() -> None:  # noqa: C901, PLR0912, PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["county", "city"], default="city")
    parser.add_argument("--data-dir", type=Path, help="build here (kept), or reuse the build already here")
    parser.add_argument("--month", help="YYYY-MM (default: the last full month)")
    parser.add_argument("--as-of", default=AS_OF, help=f"the demo's as-of date when building (default {AS_OF})")
    parser.add_argument("--spark", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    env = environment()
    print("environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), flush=True)
    figures: dict[str, dict] = {}
    checks: list[str] = []

    tmp = None
    if args.data_dir is None:
        tmp = tempfile.mkdtemp(prefix=f"bench-kpi-{args.scale}-")
        data_dir = Path(tmp) / "data"
    else:
        data_dir = args.data_dir.resolve()
    try:
        # 1. build or reuse --------------------------------------------------------------------------------------------
        if has_build(data_dir):
            log(f"reusing the build in {data_dir}")
            figures["build"] = {"seconds": None}
        else:
            log(f"building the {args.scale} demo (3 years, as of {args.as_of}) in {data_dir}")
            secs = build_demo(data_dir, args.scale, args.as_of)
            figures["build"] = {"seconds": secs}
            log(f"build: {secs:.1f} s")
        months = order_months(data_dir)
        month = args.month or default_month(data_dir)
        lines_total = sum(pq.ParquetFile(order_file(data_dir, m)).metadata.num_rows for m in months)
        month_lines = pq.ParquetFile(order_file(data_dir, month)).metadata.num_rows
        retailers = pq.ParquetFile(dim_file(data_dir, "retailers")).metadata.num_rows
        log(
            f"{len(months)} months {months[0]}..{months[-1]}, {lines_total:,} lines, {retailers:,} retailers; "
            f"month {month}: {month_lines:,} lines"
        )
        period = Period.parse(month)
        lm, ly = month_of_idx(m_idx(month) - 1), month_of_idx(m_idx(month) - 12)
        three = [ly, lm, month]
        three_lines = sum(pq.ParquetFile(order_file(data_dir, m)).metadata.num_rows for m in three)

        # 2. full recompute of the aggregates --------------------------------------------------------------------------
        duck = get_engine("duckdb", data_dir)
        s0 = cpu_stall_us()
        report = duck.refresh_aggregates(months)
        s1 = cpu_stall_us()
        stall = (s1 - s0) / 1e6 / report.seconds if s0 is not None and s1 is not None else None
        figures["refresh"] = {"seconds": report.seconds, "months": len(report.months), "stall": stall}
        log(
            f"refresh_aggregates, all {len(report.months)} months: {report.seconds:.1f} s "
            f"({lines_total / report.seconds / 1e6:.2f} M lines/s)"
        )

        t0 = time.perf_counter()
        cube_months = duck.refresh_cubes(months)
        cube_secs = time.perf_counter() - t0
        figures["cubes"] = {"seconds": cube_secs, "months": len(cube_months)}
        log(f"of which the route cubes alone (rebuilt again): {len(cube_months)} months in {cube_secs:.1f} s")

        # 3. the month's full indicator set, DuckDB: from the route cubes ("aggregates"), from the retailer × product
        #    aggregates with the cubes turned off ("pairs"), from the lines --------------------------------------------
        duck_pairs = get_engine("duckdb", data_dir)
        duck_pairs.use_cubes = False
        duck_rows: dict[tuple, object] = {}
        for by in GROUPINGS:
            for source in ("aggregates", "pairs", "lines"):
                eng = duck_pairs if source == "pairs" else duck
                q = KpiQuery(period, by=by, source="aggregates" if source == "pairs" else source)
                first, med, res, times = timed(lambda q=q, eng=eng: eng.run(q))
                assert res.source == q.source
                assert (eng.plan(q).cube is not None) == (source == "aggregates"), (by, source)
                duck_rows[(by, source)] = res
                figures[f"duckdb {'×'.join(by)} {source}"] = {
                    "first": first,
                    "median": med,
                    "best": min(times),
                    "rows": len(res.rows),
                    "all": times,
                    "stall": LAST_STALL[0],
                }
                log(
                    f"duckdb by {'×'.join(by):<12} from {source:<10}: first {first:.3f} s, median {med:.3f} s, "
                    f"{len(res.rows):,} rows × {len(res.columns)} columns; "
                    f"runs {', '.join(f'{t:.3f}' for t in times)}; cpu wait {LAST_STALL[0] or 0:.0%}"
                )
        for by in GROUPINGS:
            for other in ("pairs", "lines"):
                a, b = duck_rows[(by, "aggregates")], duck_rows[(by, other)]
                n, problems = compare(
                    a.rows,
                    a.group_columns,
                    {tuple(norm(r[k]) for k in b.group_columns): r for r in b.rows},
                    list(INDICATORS),
                )
                checks.append(
                    f"duckdb cubes = {other} by {'×'.join(by)}: {n:,} values, "
                    f"{'OK' if not problems else 'MISMATCH ' + '; '.join(problems)}"
                )
                log(checks[-1])

        # 4. plain pandas ----------------------------------------------------------------------------------------------
        for by in ("cm", "product"):
            first, med, res, times = timed(lambda by=by: pandas_month(data_dir, month, by))
            figures[f"pandas {by}"] = {
                "first": first,
                "median": med,
                "best": min(times),
                "rows": len(res),
                "all": times,
                "stall": LAST_STALL[0],
            }
            log(f"pandas by {by:<8}: first {first:.3f} s, median {med:.3f} s, {len(res):,} rows")
            ref = duck_rows[((by,), "aggregates")]
            n, problems = compare(ref.rows, ref.group_columns, res, PANDAS_INDICATORS)
            checks.append(
                f"pandas = duckdb by {by} ({len(PANDAS_INDICATORS)} indicators): {n:,} values, "
                f"{'OK' if not problems else 'MISMATCH ' + '; '.join(problems)}"
            )
            log(checks[-1])

        # 5. PostgreSQL ------------------------------------------------------------------------------------------------
        if args.postgres:
            import psycopg

            schema_name = f"bench_kpi_{os.getpid()}"
            con = psycopg.connect(PG_DSN, autocommit=False)
            try:
                with con.cursor() as cur:
                    cur.execute("SHOW server_version")
                    env["postgresql"] = cur.fetchone()[0]
                    cur.execute("SHOW work_mem")
                    work_mem = cur.fetchone()[0]
                log(
                    f"PostgreSQL {env['postgresql']}: loading {three_lines:,} lines of {', '.join(three)} "
                    f"and the snapshots into {schema_name}"
                )
                t0 = time.perf_counter()
                n = pg_load(con, schema_name, data_dir, three)
                load = time.perf_counter() - t0
                figures["postgres load"] = {"seconds": load, "rows": n}
                log(f"PostgreSQL load (COPY + ANALYZE): {load:.1f} s ({n / load / 1e3:.0f} k lines/s)")
                log(f"PostgreSQL work_mem {work_mem} (the server's setting), parallel workers as configured")

                def run_pg(sql: str):
                    with con.cursor() as cur:
                        cur.execute(sql)
                        cols = [d.name for d in cur.description]
                        return cols, cur.fetchall()

                # (a) the engine's statement as it is: PostgreSQL cannot hash or merge-join on IS NOT DISTINCT FROM,
                #     so the repeat-buyer join becomes a nested loop (by product: hours; only by CM is run, once)
                # (b) the same with "=" in its joins: valid here because no join key is NULL in this data (the check
                #     against DuckDB confirms every group and value)
                runs = [
                    ("as is", ("cm",), 1, False),
                    ("= joins", ("cm",), PG_REPEATS, True),
                    ("= joins", ("product",), PG_REPEATS, True),
                ]
                for variant, by, repeats, hashable in runs:
                    sql = pg_sql(build(KpiQuery(period, by=by, source="lines")).sql, hashable=hashable)
                    first, med, (cols, rows), times = timed(lambda sql=sql: run_pg(sql), repeats)
                    con.rollback()
                    key = f"postgres {by[0]} lines, SQL {variant}"
                    figures[key] = {
                        "first": first,
                        "median": med,
                        "best": min(times),
                        "rows": len(rows),
                        "all": times,
                        "stall": LAST_STALL[0],
                    }
                    log(f"{key}: first {first:.3f} s, median of {repeats} {med:.3f} s, {len(rows):,} rows")
                    ref = duck_rows[(by, "lines")]
                    gc = ref.group_columns
                    other = {}
                    for row in rows:
                        d = dict(zip(cols, row, strict=True))
                        other[tuple(norm(d[k]) for k in gc)] = {k: norm(v) for k, v in d.items()}
                    n, problems = compare(ref.rows, gc, other, list(INDICATORS))
                    verdict = "OK" if not problems else "MISMATCH " + "; ".join(problems)
                    checks.append(
                        f"postgres (SQL {variant}) = duckdb by {by[0]} (all {len(INDICATORS)} indicators): "
                        f"{n:,} values, {verdict}"
                    )
                    log(checks[-1])
            finally:
                con.rollback()
                with con.cursor() as cur:
                    cur.execute(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE")
                con.commit()
                con.close()
                log(f"dropped {schema_name}")

        # 6. Spark local[2] --------------------------------------------------------------------------------------------
        if args.spark:
            t0 = time.perf_counter()
            spark = get_engine("spark", data_dir)
            figures["spark start"] = {"seconds": time.perf_counter() - t0}
            log(
                f"Spark session: {figures['spark start']['seconds']:.1f} s "
                f"({spark.spark.sparkContext.master}, Spark {spark.spark.version})"
            )
            for source in ("aggregates", "lines"):
                q = KpiQuery(period, by=("cm",), source=source)
                t0 = time.perf_counter()
                spark.run(q)  # warm-up
                warm = time.perf_counter() - t0
                first, med, res, times = timed(lambda q=q: spark.run(q))
                figures[f"spark cm {source}"] = {
                    "first": warm,
                    "median": med,
                    "best": min(times),
                    "rows": len(res.rows),
                    "all": times,
                    "stall": LAST_STALL[0],
                }
                log(f"spark by cm from {source}: warm-up {warm:.2f} s, then median {med:.3f} s")
                ref = duck_rows[(("cm",), source)]
                ok = ref.rows == res.rows and ref.columns == res.columns
                detail = "OK (identical rows)" if ok else "MISMATCH"
                if not ok:
                    n, problems = compare(
                        ref.rows,
                        ref.group_columns,
                        {tuple(norm(r[k]) for k in res.group_columns): r for r in res.rows},
                        list(INDICATORS),
                    )
                    detail += f" ({'within 1e-9' if not problems else '; '.join(problems)})"
                checks.append(
                    f"spark = duckdb by cm from {source}: {len(res.rows)} rows × {len(res.columns)} columns {detail}"
                )
                log(checks[-1])
            jvm = jvm_peak_mb()
            if jvm:
                figures["spark jvm peak MB"] = {"value": jvm}
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    # 7. the table -----------------------------------------------------------------------------------------------------
    env["load average (end)"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    env["cpu pressure (end)"] = cpu_pressure()
    print()
    print(
        f"month {month}; {len(months)} months, {lines_total:,} lines; month {month_lines:,} lines; "
        f"the three months read {three_lines:,} lines"
    )
    print(f"{'measurement':<44} {'first s':>9} {'median s':>9} {'best s':>9} {'rows':>8} {'cpu wait':>9}")
    for k, v in figures.items():
        if "median" in v:
            stall = f"{v['stall']:.0%}" if v.get("stall") is not None else "-"
            print(f"{k:<44} {v['first']:>9.3f} {v['median']:>9.3f} {v['best']:>9.3f} {v['rows']:>8,} {stall:>9}")
        elif "seconds" in v and v["seconds"] is not None:
            stall = f"{v['stall']:.0%}" if v.get("stall") is not None else "-"
            print(f"{k:<44} {v['seconds']:>9.1f} {'':>9} {'':>9} {'':>8} {stall:>9}")
    print()

    def med(key):
        return figures[key]["median"] if key in figures else None

    ratios = []
    for by in ("cm", "product"):
        agg, lin, pdm = med(f"duckdb {by} aggregates"), med(f"duckdb {by} lines"), med(f"pandas {by}")
        ratios.append((f"pandas ÷ engine from aggregates, by {by}", pdm / agg))
        ratios.append((f"pandas ÷ engine from rpm (cubes off), by {by}", pdm / med(f"duckdb {by} pairs")))
        ratios.append((f"rpm (cubes off) ÷ cubes, by {by}", med(f"duckdb {by} pairs") / agg))
        ratios.append((f"pandas ÷ engine from lines, by {by}", pdm / lin))
        pg = med(f"postgres {by} lines, SQL = joins")
        if pg:
            ratios.append((f"PostgreSQL (= joins) ÷ engine from aggregates, by {by}", pg / agg))
            ratios.append((f"PostgreSQL (= joins) ÷ engine from lines, by {by}", pg / lin))
        ratios.append((f"lines ÷ aggregates, by {by}", lin / agg))
    ratios.append(
        ("lines ÷ aggregates, by cm×product", med("duckdb cm×product lines") / med("duckdb cm×product aggregates"))
    )
    ratios.append(
        ("rpm (cubes off) ÷ cubes, by cm×product", med("duckdb cm×product pairs") / med("duckdb cm×product aggregates"))
    )
    if "spark cm aggregates" in figures:
        ratios.append(
            ("Spark ÷ DuckDB from aggregates, by cm", med("spark cm aggregates") / med("duckdb cm aggregates"))
        )
        ratios.append(("Spark ÷ DuckDB from lines, by cm", med("spark cm lines") / med("duckdb cm lines")))
    for name, r in ratios:
        print(f"{name:<60} {r:>7.1f}×")
    print()
    worst_agg = max(med(f"duckdb {'×'.join(b)} aggregates") for b in GROUPINGS)
    worst_lin = max(med(f"duckdb {'×'.join(b)} lines") for b in GROUPINGS)
    pandas_ratio = min(r for n, r in ratios if n.startswith("pandas ÷ engine from aggregates"))
    worst_pairs = max(med(f"duckdb {'×'.join(b)} pairs") for b in GROUPINGS)
    print(
        f"goal ≤ 1 s from the aggregates: slowest grouping {worst_agg:.3f} s → {'met' if worst_agg <= 1 else 'MISSED'}"
    )
    print(f"  (with the cubes off, from rpm/rm: slowest grouping {worst_pairs:.3f} s)")
    print(
        f"goal ≤ 5 s from the lines:      slowest grouping {worst_lin:.3f} s → {'met' if worst_lin <= 5 else 'MISSED'}"
    )
    print(f"goal ≥ 10× pandas:              {pandas_ratio:.1f}× → {'met' if pandas_ratio >= 10 else 'MISSED'}")
    for c in checks:
        print("check: " + c)
    peak_self = peak_mb()
    jvm = figures.get("spark jvm peak MB", {}).get("value")
    print(f"peak RSS: this process {peak_self:.0f} MB" + (f", Spark JVM {jvm:.0f} MB" if jvm else ""))
    print("environment: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "env": env,
                    "month": month,
                    "figures": figures,
                    "ratios": dict(ratios),
                    "checks": checks,
                    "peak_rss_mb": peak_self,
                },
                indent=1,
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
