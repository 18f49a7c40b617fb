"""What every engine shares: the result type, the aggregate-building SQL and the freshness bookkeeping."""

from __future__ import annotations

import datetime as dt
import json
import operator
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..indicators import INDICATORS
from ..layout import (
    AGG_DIR,
    QM_SCHEMA,
    QPM_SCHEMA,
    RM_SCHEMA,
    RPM_SCHEMA,
    agg_file,
    dim_file,
    m_idx,
    month_of_idx,
    order_file,
    order_months,
)
from ..query import KpiQuery
from ..sql import Plan, build

STATE_FILE = "state.json"
CUBES_FILE = "cubes.json"


class EngineError(RuntimeError):
    pass


@dataclass
class KpiResult:
    query: KpiQuery
    columns: list[str]
    rows: list[dict[str, Any]]
    source: str  # aggregates | lines
    engine: str
    sql: str = field(repr=False, default="")

    @property
    def group_columns(self) -> list[str]:
        return [c for c in self.columns if c not in INDICATORS]

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows) if self.rows else pa.table({c: [] for c in self.columns})

    def one(self) -> dict[str, Any]:
        if len(self.rows) != 1:
            raise EngineError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]


def rpm_sql(source_view: str, month: str, midx: int) -> str:
    return (
        f"SELECT '{month}' AS month, CAST({midx} AS INT) AS m_idx, retailer_id, product_id, "
        "CAST(COUNT(*) AS BIGINT) AS lines, "
        "CAST(SUM(CASE WHEN channel = 'online' THEN 1 ELSE 0 END) AS BIGINT) AS online_lines, "
        "CAST(SUM(demanded) AS BIGINT) AS demanded, CAST(SUM(allotted) AS BIGINT) AS allotted, "
        "CAST(SUM(ordered) AS BIGINT) AS ordered, CAST(SUM(supplied) AS BIGINT) AS supplied, "
        "CAST(SUM(CAST(ROUND(amount * 100) AS BIGINT)) AS BIGINT) AS amount_fen "
        f"FROM {source_view} GROUP BY retailer_id, product_id ORDER BY retailer_id, product_id"
    )


def rm_sql(source_view: str, month: str, midx: int) -> str:
    return (
        f"SELECT '{month}' AS month, CAST({midx} AS INT) AS m_idx, retailer_id, "
        "CAST(COUNT(DISTINCT order_id) AS BIGINT) AS orders, "
        "CAST(COUNT(DISTINCT CASE WHEN channel = 'online' THEN order_id END) AS BIGINT) AS online_orders "
        f"FROM {source_view} GROUP BY retailer_id ORDER BY retailer_id"
    )


AGG_TABLES = {"rpm": (RPM_SCHEMA, rpm_sql), "rm": (RM_SCHEMA, rm_sql)}

# --- the route cubes (see cmdesk.analytics.layout), built from a month's rpm/rm, the previous month's rpm and the
# snapshots, registered as the views rpm_cur, rpm_prev, rm_cur, retailers, products. ``cube_pairs_sql`` is computed
# once (the engine keeps it as the table ``cube_pairs``) and both cubes are grouped from it.


def cube_pairs_sql() -> str:
    """The month's retailer × product rows in the snapshots, with the route and whether the pair (bought_lm) and the
    retailer (retailer_bought_lm) bought the month before."""
    return (
        "WITH pv AS (SELECT b.retailer_id, b.product_id FROM rpm_prev b JOIN products p "
        "ON b.product_id = p.product_id WHERE b.supplied > 0), "
        "pvr AS (SELECT DISTINCT retailer_id FROM pv) "
        "SELECT r.route_id, b.retailer_id, b.product_id, b.lines, b.online_lines, b.demanded, b.allotted, "
        "b.ordered, b.supplied, b.amount_fen, p.provincial, "
        "CASE WHEN pv.retailer_id IS NULL THEN 0 ELSE 1 END AS bought_lm, "
        "CASE WHEN pvr.retailer_id IS NULL THEN 0 ELSE 1 END AS retailer_bought_lm "
        "FROM rpm_cur b JOIN retailers r ON b.retailer_id = r.retailer_id "
        "JOIN products p ON b.product_id = p.product_id "
        "LEFT JOIN pv ON b.retailer_id = pv.retailer_id AND b.product_id = pv.product_id "
        "LEFT JOIN pvr ON b.retailer_id = pvr.retailer_id"
    )


_PAIR_COUNTS = (
    "CAST(SUM(CASE WHEN allotted > 0 THEN 1 ELSE 0 END) AS BIGINT) AS pairs_allotted, "
    "CAST(SUM(CASE WHEN allotted > 0 AND ordered >= allotted THEN 1 ELSE 0 END) AS BIGINT) AS pairs_full, "
    "CAST(SUM(CASE WHEN allotted > 0 AND ordered > 0 THEN 1 ELSE 0 END) AS BIGINT) AS pairs_ordering"
)


def qpm_sql(month: str, midx: int) -> str:
    """route × product: a pair is one row of cube_pairs, so the retailer counts are counts of rows."""
    return (
        f"SELECT '{month}' AS month, CAST({midx} AS INT) AS m_idx, route_id, product_id, "
        "CAST(SUM(lines) AS BIGINT) AS lines, CAST(SUM(online_lines) AS BIGINT) AS online_lines, "
        "CAST(SUM(demanded) AS BIGINT) AS demanded, CAST(SUM(allotted) AS BIGINT) AS allotted, "
        "CAST(SUM(ordered) AS BIGINT) AS ordered, CAST(SUM(supplied) AS BIGINT) AS cartons, "
        "CAST(SUM(amount_fen) AS BIGINT) AS amount_fen, "
        "CAST(SUM(CASE WHEN supplied > 0 THEN 1 ELSE 0 END) AS BIGINT) AS buyers, "
        "CAST(SUM(CASE WHEN ordered > 0 THEN 1 ELSE 0 END) AS BIGINT) AS orderers, "
        "CAST(SUM(CASE WHEN supplied > 0 AND bought_lm = 1 THEN 1 ELSE 0 END) AS BIGINT) AS repeat_buyers, "
        f"{_PAIR_COUNTS} FROM cube_pairs GROUP BY route_id, product_id ORDER BY route_id, product_id"
    )


def qm_sql(month: str, midx: int) -> str:
    """route × month: each retailer summed over the snapshot's products first, then counted per route; the orders
    come from rm (every retailer of the snapshot with orders, whatever it bought)."""
    cols = [
        "demanded", "allotted", "ordered", "cartons", "amount_fen", "buyers", "orderers", "repeat_buyers",
        "pairs_allotted", "pairs_full", "pairs_ordering", "prov_cartons",
    ]  # fmt: skip
    return (
        "WITH rr AS (SELECT route_id, retailer_id, CAST(SUM(demanded) AS BIGINT) AS demanded, "
        "CAST(SUM(allotted) AS BIGINT) AS allotted, CAST(SUM(ordered) AS BIGINT) AS ordered, "
        "CAST(SUM(supplied) AS BIGINT) AS cartons, CAST(SUM(amount_fen) AS BIGINT) AS amount_fen, "
        "CAST(SUM(CASE WHEN provincial THEN supplied ELSE 0 END) AS BIGINT) AS prov_cartons, "
        "MAX(CASE WHEN supplied > 0 THEN 1 ELSE 0 END) AS bought, "
        "MAX(CASE WHEN ordered > 0 THEN 1 ELSE 0 END) AS ordering, MAX(retailer_bought_lm) AS bought_lm, "
        f"{_PAIR_COUNTS} FROM cube_pairs GROUP BY route_id, retailer_id), "
        "s AS (SELECT route_id, CAST(SUM(demanded) AS BIGINT) AS demanded, "
        "CAST(SUM(allotted) AS BIGINT) AS allotted, CAST(SUM(ordered) AS BIGINT) AS ordered, "
        "CAST(SUM(cartons) AS BIGINT) AS cartons, CAST(SUM(amount_fen) AS BIGINT) AS amount_fen, "
        "CAST(SUM(bought) AS BIGINT) AS buyers, CAST(SUM(ordering) AS BIGINT) AS orderers, "
        "CAST(SUM(CASE WHEN bought = 1 AND bought_lm = 1 THEN 1 ELSE 0 END) AS BIGINT) AS repeat_buyers, "
        "CAST(SUM(pairs_allotted) AS BIGINT) AS pairs_allotted, CAST(SUM(pairs_full) AS BIGINT) AS pairs_full, "
        "CAST(SUM(pairs_ordering) AS BIGINT) AS pairs_ordering, "
        "CAST(SUM(prov_cartons) AS BIGINT) AS prov_cartons FROM rr GROUP BY route_id), "
        "o AS (SELECT r.route_id, CAST(SUM(o.orders) AS BIGINT) AS orders, "
        "CAST(SUM(o.online_orders) AS BIGINT) AS online_orders "
        "FROM rm_cur o JOIN retailers r ON o.retailer_id = r.retailer_id GROUP BY r.route_id), "
        "k AS (SELECT route_id FROM s UNION SELECT route_id FROM o) "
        f"SELECT '{month}' AS month, CAST({midx} AS INT) AS m_idx, k.route_id, "
        + ", ".join(f"COALESCE(s.{c}, 0) AS {c}" for c in cols)
        + ", COALESCE(o.orders, 0) AS orders, COALESCE(o.online_orders, 0) AS online_orders "
        "FROM k LEFT JOIN s ON k.route_id = s.route_id LEFT JOIN o ON k.route_id = o.route_id ORDER BY k.route_id"
    )


CUBE_TABLES = {"qpm": (QPM_SCHEMA, qpm_sql), "qm": (QM_SCHEMA, qm_sql)}
# the snapshot columns a cube depends on
CUBE_DIM_COLUMNS = {"retailers": ("retailer_id", "route_id"), "products": ("product_id", "provincial")}
_DIGESTS: dict[str, tuple[list[int] | None, str]] = {}  # snapshot path -> (file signature, digest), per process


def dims_digest(data_dir: Path) -> str:
    """A digest of what the cubes read from the snapshots (retailer → route, product → provincial), cached on the
    files' signatures: re-exporting unchanged routes (a tier change, a new phone number) keeps the cubes valid."""
    import hashlib

    import pyarrow.parquet as pq

    parts = []
    for name, cols in CUBE_DIM_COLUMNS.items():
        path = dim_file(data_dir, name)
        sig = _signature(path)
        if sig is None:
            parts.append("-")
            continue
        cached = _DIGESTS.get(str(path))
        if cached is None or cached[0] != sig:
            table = pq.read_table(path, columns=list(cols)).sort_by([(cols[0], "ascending")])
            h = hashlib.sha256()
            for col in table.columns:
                h.update(col.to_numpy().tobytes())
                h.update(b"|")
            cached = (sig, h.hexdigest()[:20])
            _DIGESTS[str(path)] = cached
        parts.append(cached[1])
    return ".".join(parts)


def _signature(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns]


@dataclass
class RefreshReport:
    months: list[str]
    removed: list[str]
    seconds: float
    cubes: list[str] = field(default_factory=list)  # months whose route cubes were rebuilt


class Engine:
    """Common behaviour; subclasses provide ``_execute(plan_sql, views) -> (columns, rows)`` and ``_build_month``."""

    name = "base"
    use_cubes = True  # False: answer from rpm/rm even where the route cubes could (benchmarks, diagnosis)

    def __init__(self, data_dir: str | os.PathLike):
        self.data_dir = Path(data_dir)

    # --- freshness of the aggregates ------------------------------------------------------------------------------
    def _state_path(self) -> Path:
        return self.data_dir / AGG_DIR / STATE_FILE

    def load_state(self) -> dict[str, list[int]]:
        try:
            return json.loads(self._state_path().read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def _save_state(self, state: dict[str, list[int]]) -> None:
        path = self._state_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, sort_keys=True, indent=0), encoding="utf-8")
        os.replace(tmp, path)

    def stale_months(self, months: list[str] | None = None) -> list[str]:
        """Months whose order file changed (or appeared, or vanished) since their aggregates were built."""
        state = self.load_state()
        wanted = set(order_months(self.data_dir)) | set(state) if months is None else set(months)
        out = []
        for m in sorted(wanted):
            sig = _signature(order_file(self.data_dir, m))
            if state.get(m) != sig or (
                sig is not None and not all(agg_file(self.data_dir, t, m).is_file() for t in AGG_TABLES)
            ):
                out.append(m)
        return out

    def refresh_aggregates(self, months: list[str] | None = None) -> RefreshReport:
        """Rebuild the aggregates of ``months`` (default: every stale month); each file is replaced atomically."""
        t0 = time.perf_counter()
        todo = self.stale_months() if months is None else sorted(set(months))
        state = self.load_state()
        built, removed = [], []
        for m in todo:
            src = order_file(self.data_dir, m)
            sig = _signature(src)
            if sig is None:
                for t in AGG_TABLES:
                    agg_file(self.data_dir, t, m).unlink(missing_ok=True)
                state.pop(m, None)
                removed.append(m)
                continue
            self._build_month(src, m, m_idx(m))
            state[m] = sig
            built.append(m)
        self._save_state(state)
        cubes = self.refresh_cubes()
        return RefreshReport(built, removed, time.perf_counter() - t0, cubes)

    def _build_month(self, src: Path, month: str, midx: int) -> None:
        raise NotImplementedError

    # --- the route cubes -----------------------------------------------------------------------------------------
    def _cubes_path(self) -> Path:
        return self.data_dir / AGG_DIR / CUBES_FILE

    def load_cubes(self) -> dict[str, list]:
        try:
            return json.loads(self._cubes_path().read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def cube_deps(self, month: str, digest: str | None = None) -> list | None:
        """What the month's cubes are built from: its rpm and rm files, the previous month's rpm, the snapshots."""
        cur = _signature(agg_file(self.data_dir, "rpm", month))
        if cur is None:
            return None
        prev = month_of_idx(m_idx(month) - 1)
        return [
            cur,
            _signature(agg_file(self.data_dir, "rm", month)),
            _signature(agg_file(self.data_dir, "rpm", prev)),
            digest if digest is not None else dims_digest(self.data_dir),
        ]

    def stale_cubes(self, months: list[str] | None = None) -> list[str]:
        """Months (with aggregates) whose cubes are missing or were built from other files or snapshots."""
        done = self.load_cubes()
        if months is None:
            months = sorted(set(self.load_state()) | set(done))
        digest = dims_digest(self.data_dir)
        out = []
        for m in sorted(set(months)):
            deps = self.cube_deps(m, digest)
            if deps is None:
                if m in done:
                    out.append(m)  # aggregates gone: the cubes go too
                continue
            if done.get(m) != deps or not all(agg_file(self.data_dir, t, m).is_file() for t in CUBE_TABLES):
                out.append(m)
        return out

    def cubes_fresh(self, months: list[str]) -> bool:
        """True when every month that has aggregates has its cubes built from them and today's snapshots (a month
        without aggregates reads as empty either way)."""
        return not self.stale_cubes(months)

    def refresh_cubes(self, months: list[str] | None = None) -> list[str]:
        """Rebuild the route cubes of ``months`` (default: every stale month); returns the months rebuilt."""
        if not all(dim_file(self.data_dir, n).is_file() for n in CUBE_DIM_COLUMNS):
            return []  # no snapshots yet: queries use rpm/rm until they exist
        todo = self.stale_cubes() if months is None else sorted(set(months))
        done = self.load_cubes()
        digest = dims_digest(self.data_dir)
        built = []
        for m in todo:
            deps = self.cube_deps(m, digest)
            if deps is None:
                for t in CUBE_TABLES:
                    agg_file(self.data_dir, t, m).unlink(missing_ok=True)
                done.pop(m, None)
                continue
            prev = month_of_idx(m_idx(m) - 1)
            views = {
                "rpm_cur": [agg_file(self.data_dir, "rpm", m)],
                "rm_cur": [agg_file(self.data_dir, "rm", m)],
                "rpm_prev": [p for p in [agg_file(self.data_dir, "rpm", prev)] if p.is_file()],
                "retailers": [dim_file(self.data_dir, "retailers")],
                "products": [dim_file(self.data_dir, "products")],
            }
            self._build_cube(views, m, m_idx(m))
            done[m] = deps
            built.append(m)
        path = self._cubes_path()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(done, sort_keys=True, indent=0), encoding="utf-8")
        os.replace(tmp, path)
        return built

    def _build_cube(self, views: dict[str, list[Path]], month: str, midx: int) -> None:
        raise NotImplementedError

    # --- queries ------------------------------------------------------------------------------------------------
    def plan(self, q: KpiQuery) -> Plan:
        if q.resolved_source != "aggregates":
            return build(q)
        plan = build(q, cubes=self.use_cubes)
        if plan.cube and not self.cubes_fresh(list(plan.months)):
            plan = build(q, cubes=False)  # never answer from cubes of other files or snapshots
        if (
            q.source == "auto"
            and self.stale_months(list(plan.months))
            and any(order_file(self.data_dir, m).is_file() for m in plan.months)
        ):
            # never answer from stale aggregates: fall back to the raw lines
            return build(replace(q, source="lines"))
        return plan

    def view_files(self, plan: Plan) -> dict[str, list[Path]]:
        if plan.source == "aggregates":
            files = {t: [agg_file(self.data_dir, t, m) for m in plan.months] for t in plan.tables}
        else:
            files = {"lines": [order_file(self.data_dir, m) for m in plan.months]}
        files = {k: [p for p in v if p.is_file()] for k, v in files.items()}
        for name in ("retailers", "products"):
            path = dim_file(self.data_dir, name)
            if not path.is_file():
                raise EngineError(f"{path} is missing: export the dimension snapshots first")
            files[name] = [path]
        return files

    def run(self, q: KpiQuery) -> KpiResult:
        plan = self.plan(q)
        table = self._execute_arrow(plan)
        if table is not None:
            out_cols = ["month" if c == "m_idx" else c for c in table.column_names]
            return KpiResult(q, out_cols, _arrow_rows(table, plan), plan.source, self.name, plan.sql)
        columns, rows = self._execute(plan)
        out_cols = ["month" if c == "m_idx" else c for c in columns]
        if "m_idx" in plan.group_columns:
            i = columns.index("m_idx")
            rows = [(*row[:i], month_of_idx(int(row[i])), *row[i + 1 :]) for row in rows]
        keys = [out_cols.index("month" if c == "m_idx" else c) for c in plan.group_columns]
        result_rows = [dict(zip(out_cols, row, strict=True)) for row in _sorted(rows, keys)]
        return KpiResult(q, out_cols, result_rows, plan.source, self.name, plan.sql)

    def _execute(self, plan: Plan) -> tuple[list[str], list[tuple]]:
        raise NotImplementedError

    def _execute_arrow(self, plan: Plan) -> pa.Table | None:
        """The result as an Arrow table, for engines that have one (faster to sort and turn into rows); else None."""
        return None

    def close(self) -> None:
        pass


def _arrow_rows(table: pa.Table, plan: Plan) -> list[dict[str, Any]]:
    """Rows as dicts, ordered by the group columns exactly as :func:`_sorted` orders them (a stable sort, None last,
    numbers by value, text by code point: UTF-8 bytes sort in code point order), with m_idx as the month label."""
    import pyarrow.compute as pc

    keys = list(plan.group_columns)
    if keys and table.num_rows > 1:
        order = pc.sort_indices(table, sort_keys=[(k, "ascending", "at_end") for k in keys])
        table = table.take(order)
    names = ["month" if c == "m_idx" else c for c in table.column_names]
    cols = [col.to_pylist() for col in table.columns]
    if "m_idx" in table.column_names and "m_idx" in keys:
        i = table.column_names.index("m_idx")
        cols[i] = [month_of_idx(int(v)) for v in cols[i]]
    return [dict(zip(names, vals, strict=True)) for vals in zip(*cols, strict=True)]


def _sorted(rows: list[tuple], keys: list[int]) -> list[tuple]:
    """``rows`` ordered by the columns ``keys`` (None last, numbers by value, the rest by text), stable.

    When every key column holds only text or only integers (no None, no bool) the values order themselves as
    :func:`_sort_key` orders them, and the much cheaper plain tuple key is used (37,674 rows: ≈ 0.2 s less).
    """
    if not keys or not rows:
        return list(rows)
    plain = True
    for k in keys:
        kinds = {type(row[k]) for row in rows}
        if kinds == {int}:
            plain = all(-(2**53) < row[k] < 2**53 for row in rows)  # float(v) is exact: same order
        else:
            plain = kinds == {str}
        if not plain:
            break
    if plain:
        return sorted(rows, key=operator.itemgetter(*keys))
    return sorted(rows, key=lambda row: tuple(_sort_key(row[k]) for k in keys))


def _sort_key(v: Any) -> tuple:
    if v is None:
        return (1, "")
    if isinstance(v, bool | int | float):
        return (0, float(v), "")
    if isinstance(v, dt.date):
        return (0, v.toordinal(), "")
    return (0, 0.0, str(v))
