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
from ..layout import AGG_DIR, RM_SCHEMA, RPM_SCHEMA, agg_file, dim_file, m_idx, month_of_idx, order_file, order_months
from ..query import KpiQuery
from ..sql import Plan, build

STATE_FILE = "state.json"


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


class Engine:
    """Common behaviour; subclasses provide ``_execute(plan_sql, views) -> (columns, rows)`` and ``_build_month``."""

    name = "base"

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
        return RefreshReport(built, removed, time.perf_counter() - t0)

    def _build_month(self, src: Path, month: str, midx: int) -> None:
        raise NotImplementedError

    # --- queries ------------------------------------------------------------------------------------------------
    def plan(self, q: KpiQuery) -> Plan:
        if q.source == "auto" and q.period.month_aligned:
            plan = build(q)
            if self.stale_months(list(plan.months)) and any(
                order_file(self.data_dir, m).is_file() for m in plan.months
            ):
                # never answer from stale aggregates: fall back to the raw lines
                return build(replace(q, source="lines"))
            return plan
        return build(q)

    def view_files(self, plan: Plan) -> dict[str, list[Path]]:
        if plan.source == "aggregates":
            files = {t: [agg_file(self.data_dir, t, m) for m in plan.months] for t in AGG_TABLES}
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

    def close(self) -> None:
        pass


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
