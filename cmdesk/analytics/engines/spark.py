"""Spark (PySpark local mode, or a cluster given by CMDESK_SPARK_MASTER) over the same Parquet files and SQL.

An optional extra: ``pip install cmdesk[spark]``; needs Java 17 or later. One SparkSession per process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

import pyarrow as pa

from ..layout import agg_file
from ..sql import Plan
from .base import AGG_TABLES, CUBE_TABLES, Engine, EngineError, cube_pairs_sql
from .duckdb import EMPTY

_LOCK = threading.Lock()
_SESSION = None


def spark_session():
    """The process's SparkSession (created on first use): local[2] unless CMDESK_SPARK_MASTER says otherwise."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            try:
                from pyspark.sql import SparkSession
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise EngineError("the Spark engine needs the 'spark' extra: pip install 'cmdesk[spark]'") from exc
            import logging

            logging.getLogger("py4j").setLevel(logging.WARNING)  # its __del__ logs after pytest closed the streams
            master = os.environ.get("CMDESK_SPARK_MASTER", "local[2]")
            _SESSION = (
                SparkSession.builder.master(master)
                .appName("cmdesk-kpi")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.shuffle.partitions", os.environ.get("CMDESK_SPARK_PARTITIONS", "4"))
                .config("spark.driver.memory", os.environ.get("CMDESK_SPARK_MEMORY", "2g"))
                .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
                .config("spark.sql.parquet.enableVectorizedReader", "true")
                .config("spark.driver.extraJavaOptions", "-Dio.netty.tryReflectionSetAccessible=true")
                .getOrCreate()
            )
            _SESSION.sparkContext.setLogLevel("ERROR")
        return _SESSION


def _spark_type(t: pa.DataType):
    from pyspark.sql import types as T

    if pa.types.is_int64(t):
        return T.LongType()
    if pa.types.is_int32(t):
        return T.IntegerType()
    if pa.types.is_float64(t):
        return T.DoubleType()
    if pa.types.is_boolean(t):
        return T.BooleanType()
    if pa.types.is_date32(t):
        return T.DateType()
    if pa.types.is_string(t):
        return T.StringType()
    raise EngineError(f"no Spark type for {t}")


def spark_schema(schema: pa.Schema):
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, _spark_type(f.type), True) for f in schema])


class SparkEngine(Engine):
    name = "spark"

    def __init__(self, data_dir: str | os.PathLike):
        super().__init__(data_dir)
        self.spark = spark_session()

    def _register(self, views: dict[str, list[Path]]) -> None:
        for name, files in views.items():
            schema = spark_schema(EMPTY[name])
            if files:
                df = self.spark.read.schema(schema).parquet(*[str(f) for f in files])
            else:
                df = self.spark.createDataFrame([], schema)
            df.createOrReplaceTempView(name)

    def _execute(self, plan: Plan) -> tuple[list[str], list[tuple]]:
        with _LOCK:  # temp views are per session: one query at a time
            self._register(self.view_files(plan))
            df = self.spark.sql(plan.sql)
            return list(df.columns), [tuple(r) for r in df.collect()]

    def sql(self, text: str, views: dict[str, list[Path]] | None = None) -> tuple[list[str], list[tuple]]:
        with _LOCK:
            self._register(views or {})
            df = self.spark.sql(text)
            return list(df.columns), [tuple(r) for r in df.collect()]

    def _write(self, sql: str, table: str, month: str) -> None:
        """Write one statement's result as the month's single parquet file of ``table`` (atomically)."""
        final = agg_file(self.data_dir, table, month)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmpdir = Path(tempfile.mkdtemp(prefix=".spark-", dir=final.parent))
        try:
            out = tmpdir / "out"
            self.spark.sql(sql).coalesce(1).write.option("compression", "zstd").parquet(str(out))
            parts = sorted(out.glob("part-*.parquet"))
            if len(parts) != 1:
                raise EngineError(f"Spark wrote {len(parts)} files for {table} {month}")
            os.replace(parts[0], final)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def _build_month(self, src: Path, month: str, midx: int) -> None:
        with _LOCK:
            self._register({"lines": [src]})
            for table, (_schema, make_sql) in AGG_TABLES.items():
                self._write(make_sql("lines", month, midx), table, month)

    def _build_cube(self, views: dict[str, list[Path]], month: str, midx: int) -> None:
        with _LOCK:
            self._register(views)
            pairs = self.spark.sql(cube_pairs_sql()).cache()
            pairs.createOrReplaceTempView("cube_pairs")
            try:
                for table, (_schema, make_sql) in CUBE_TABLES.items():
                    self._write(make_sql(month, midx), table, month)
            finally:
                pairs.unpersist()
