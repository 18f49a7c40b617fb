"""The default engine: DuckDB in process, reading the Parquet files directly."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb

from ..layout import ORDER_SCHEMA, PRODUCT_DIM_SCHEMA, RETAILER_DIM_SCHEMA, agg_file
from ..sql import Plan
from .base import AGG_TABLES, CUBE_TABLES, Engine, cube_pairs_sql

EMPTY = {
    "lines": ORDER_SCHEMA,
    "retailers": RETAILER_DIM_SCHEMA,
    "products": PRODUCT_DIM_SCHEMA,
    **{name: schema for name, (schema, _) in AGG_TABLES.items()},
    **{name: schema for name, (schema, _) in CUBE_TABLES.items()},
    # the views a cube is built from
    "rpm_cur": AGG_TABLES["rpm"][0],
    "rpm_prev": AGG_TABLES["rpm"][0],
    "rm_cur": AGG_TABLES["rm"][0],
}


# one in-memory database per process (and settings), shared by every DuckDBEngine: see DuckDBEngine.cursor
_DATABASES: dict[tuple, duckdb.DuckDBPyConnection] = {}
_LOCK = threading.Lock()


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class DuckDBEngine(Engine):
    name = "duckdb"

    def __init__(self, data_dir: str | os.PathLike, *, threads: int | None = None, memory_limit: str | None = None):
        super().__init__(data_dir)
        self.threads = threads
        self.memory_limit = memory_limit

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")
        if self.memory_limit:
            con.execute(f"SET memory_limit = '{self.memory_limit}'")
        return con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new connection to this process's long-lived in-memory database (queries only).

        Opening a database costs ≈ 15–25 ms a query; a cursor shares the database (its settings and thread pool) but
        has its own temporary views, so concurrent queries from several threads do not see each other's files.
        """
        key = (os.getpid(), self.threads, self.memory_limit)  # a database opened before a fork is not the child's
        with _LOCK:
            db = _DATABASES.get(key)
            if db is None:
                db = self.connect()
                db.execute("SET preserve_insertion_order = false")  # results are sorted in Python anyway
                _DATABASES[key] = db
            return db.cursor()

    def _register(self, con: duckdb.DuckDBPyConnection, views: dict[str, list[Path]]) -> None:
        for name, files in views.items():
            if files:
                con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet([{', '.join(map(_lit, files))}])"
                )
            else:
                con.register(name, EMPTY[name].empty_table())

    def _execute_arrow(self, plan: Plan):
        con = self.cursor()
        try:
            self._register(con, self.view_files(plan))
            # through Arrow (sorted and turned into rows column by column): the same Python values as fetchall(), in
            # a fraction of the time for a large result
            return con.execute(plan.sql).to_arrow_table()
        finally:
            con.close()

    def _execute(self, plan: Plan) -> tuple[list[str], list[tuple]]:
        table = self._execute_arrow(plan)
        return table.column_names, list(zip(*(col.to_pylist() for col in table.columns), strict=True))

    def sql(self, text: str, views: dict[str, list[Path]] | None = None) -> tuple[list[str], list[tuple]]:
        """Run ad-hoc SQL over registered views (tests, benchmarks)."""
        con = self.connect()
        try:
            self._register(con, views or {})
            cur = con.execute(text)
            return [d[0] for d in cur.description], cur.fetchall()
        finally:
            con.close()

    def _build_month(self, src: Path, month: str, midx: int) -> None:
        con = self.connect()
        try:
            con.execute(f"CREATE TEMP VIEW src AS SELECT * FROM read_parquet({_lit(src)})")
            for table, (_schema, make_sql) in AGG_TABLES.items():
                final = agg_file(self.data_dir, table, month)
                final.parent.mkdir(parents=True, exist_ok=True)
                tmp = final.with_name(f".part-0.{os.getpid()}.tmp")
                con.execute(f"COPY ({make_sql('src', month, midx)}) TO {_lit(tmp)} (FORMAT parquet, COMPRESSION zstd)")
                os.replace(tmp, final)
        finally:
            con.close()

    def _build_cube(self, views: dict[str, list[Path]], month: str, midx: int) -> None:
        con = self.connect()
        try:
            self._register(con, views)
            con.execute(f"CREATE TEMP TABLE cube_pairs AS {cube_pairs_sql()}")
            for table, (_schema, make_sql) in CUBE_TABLES.items():
                final = agg_file(self.data_dir, table, month)
                final.parent.mkdir(parents=True, exist_ok=True)
                tmp = final.with_name(f".part-0.{os.getpid()}.tmp")
                con.execute(f"COPY ({make_sql(month, midx)}) TO {_lit(tmp)} (FORMAT parquet, COMPRESSION zstd)")
                os.replace(tmp, final)
        finally:
            con.close()
