"""The default engine: DuckDB in process, reading the Parquet files directly."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from ..layout import ORDER_SCHEMA, PRODUCT_DIM_SCHEMA, RETAILER_DIM_SCHEMA, agg_file
from ..sql import Plan
from .base import AGG_TABLES, Engine

EMPTY = {
    "lines": ORDER_SCHEMA,
    "retailers": RETAILER_DIM_SCHEMA,
    "products": PRODUCT_DIM_SCHEMA,
    **{name: schema for name, (schema, _) in AGG_TABLES.items()},
}


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

    def _register(self, con: duckdb.DuckDBPyConnection, views: dict[str, list[Path]]) -> None:
        for name, files in views.items():
            if files:
                con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet([{', '.join(map(_lit, files))}])"
                )
            else:
                con.register(name, EMPTY[name].empty_table())

    def _execute(self, plan: Plan) -> tuple[list[str], list[tuple]]:
        con = self.connect()
        try:
            self._register(con, self.view_files(plan))
            cur = con.execute(plan.sql)
            columns = [d[0] for d in cur.description]
            return columns, cur.fetchall()
        finally:
            con.close()

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
                con.execute(
                    f"COPY ({make_sql('src', month, midx)}) TO {_lit(tmp)} (FORMAT parquet, COMPRESSION zstd)"
                )
                os.replace(tmp, final)
        finally:
            con.close()
