"""The same golden dataset through DuckDB and Spark: the results must be identical, value for value."""

from __future__ import annotations

import pytest

from cmdesk.analytics.periods import Period
from cmdesk.analytics.query import Filter, KpiQuery
from cmdesk.analytics.tests.golden import B1_PATH

QUERIES = [
    KpiQuery(Period.parse("2026-10")),
    KpiQuery(Period.parse("2026-10"), by=("cm", "class"), source="aggregates"),
    KpiQuery(Period.parse("2026-10"), by=("product",), source="lines"),
    KpiQuery(Period.parse("2026-10"), by=("branch", "provincial"), filter=Filter(org_paths=(B1_PATH,))),
    KpiQuery(Period.parse("2026-W41"), by=("route",)),
    KpiQuery(Period.parse("2026"), by=("month",)),
    KpiQuery(Period.parse("2026-Q4"), by=("brand",), filter=Filter(key_brands_only=True)),
    KpiQuery(Period.parse("2026-10"), by=("cm", "product")),  # the route × product cube
    KpiQuery(Period.parse("2026-09"), by=("dept", "cm")),  # the route cube
]


@pytest.mark.spark
@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.period}-{'-'.join(q.by) or 'all'}-{q.source}")
def test_duckdb_and_spark_agree(duck, spark_engine, query):
    a, b = duck.run(query), spark_engine.run(query)
    assert a.source == b.source
    assert a.columns == b.columns
    assert a.rows == b.rows
    assert a.rows, "the query should return rows"


@pytest.mark.spark
def test_spark_builds_the_same_aggregates(golden_dir, tmp_path, spark_engine):
    import shutil

    import pyarrow.parquet as pq

    from cmdesk.analytics.engines.spark import SparkEngine

    copy = tmp_path / "copy"
    shutil.copytree(golden_dir, copy)
    shutil.rmtree(copy / "aggregates")
    SparkEngine(copy).refresh_aggregates()
    for table in ("rpm", "rm", "qpm", "qm"):
        for month in ("2025-10", "2026-09", "2026-10"):
            rel = f"aggregates/{table}/month={month}/part-0.parquet"
            mine = pq.read_table(copy / rel).to_pylist()
            theirs = pq.read_table(golden_dir / rel).to_pylist()
            assert mine == theirs, rel
