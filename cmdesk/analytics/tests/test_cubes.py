"""The route cubes (qm, qpm) answer exactly what the retailer × product aggregates and the raw lines answer.

Every query below runs three ways on the golden dataset: from the cubes (when the planner may use them), from
rpm/rm with the cubes turned off, and from the lines. All three must give identical rows, value for value.
"""

from __future__ import annotations

import dataclasses
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cmdesk.analytics.engines import get_engine
from cmdesk.analytics.layout import agg_file, dim_file
from cmdesk.analytics.periods import Period
from cmdesk.analytics.query import Filter, KpiQuery
from cmdesk.analytics.sql import build, cube_kind
from cmdesk.analytics.tests.golden import B1_PATH

OCT = Period.parse("2026-10")

CUBE_QUERIES = [
    (KpiQuery(OCT, by=("cm",)), "qm"),
    (KpiQuery(OCT), "qm"),
    (KpiQuery(OCT, by=("branch",)), "qm"),
    (KpiQuery(OCT, by=("dept", "area", "route")), "qm"),
    (KpiQuery(OCT, by=("cm",), filter=Filter(org_paths=(B1_PATH,))), "qm"),
    (KpiQuery(OCT, by=("route",), filter=Filter(cm_ids=(1, 3))), "qm"),
    (KpiQuery(Period.parse("2026"), by=("month",)), "qm"),
    (KpiQuery(Period.parse("2026"), by=("cm", "month")), "qm"),
    (KpiQuery(OCT, by=("product",)), "qpm"),
    (KpiQuery(OCT, by=("cm", "product")), "qpm"),
    (KpiQuery(OCT, by=("product", "brand")), "qpm"),
    (KpiQuery(OCT, by=("branch", "product"), filter=Filter(key_brands_only=True)), "qpm"),
    (KpiQuery(Period.parse("2026-Q3"), by=("product", "month")), "qpm"),
    (KpiQuery(Period.parse("2026-09"), by=("route", "product"), filter=Filter(route_codes=("RA",))), "qpm"),
]
# what the cubes cannot count exactly: distinct retailers across months, products or retailer-level groups
NO_CUBE = [
    KpiQuery(Period.parse("2026-Q4"), by=("cm",)),
    KpiQuery(OCT, by=("brand",)),
    KpiQuery(OCT, by=("cm", "class")),
    KpiQuery(OCT, by=("market_type",)),
    KpiQuery(OCT, by=("tier", "product")),
    KpiQuery(OCT, by=("cm",), filter=Filter(brands=("双喜",))),
    KpiQuery(OCT, by=("cm",), filter=Filter(retailer_ids=(1, 2))),
    KpiQuery(OCT, by=("cm",), source="lines"),
]


def _query_id(item) -> str:
    q = item[0] if isinstance(item, tuple) else item
    return f"{q.period}-{'-'.join(q.by) or 'all'}"


@pytest.mark.parametrize("item", CUBE_QUERIES, ids=_query_id)
def test_cube_answers_like_the_pairs_and_the_lines(duck, item):
    q, kind = item
    assert cube_kind(q) == kind
    plan = duck.plan(q)
    assert (plan.cube, plan.source) == (kind, "aggregates")
    from_cube = duck.run(q)
    assert from_cube.rows, "the query should return rows"
    pairs_engine = get_engine("duckdb", duck.data_dir)
    pairs_engine.use_cubes = False
    assert pairs_engine.plan(q).cube is None
    from_pairs = pairs_engine.run(q)
    from_lines = duck.run(dataclasses.replace(q, source="lines"))
    assert from_cube.rows == from_pairs.rows
    assert from_cube.rows == from_lines.rows


@pytest.mark.parametrize("q", NO_CUBE, ids=_query_id)
def test_no_cube_where_counts_do_not_add_up(q):
    assert cube_kind(q) is None
    plan = build(q)
    assert plan.cube is None
    assert plan.tables == ("rpm", "rm")


def test_repeat_buyers_from_the_cube(duck):
    """By hand from the golden orders: in September retailer 1 bought P1 and retailer 2 bought P2 (both CM 1's);
    in October CM 1's buyers are retailers 1 (P1, P2, P3) and 2 (P2), CM 2's retailer 3, CM 3's retailer 4."""
    q = KpiQuery(OCT, by=("cm",), indicators=("buyers", "repeat_rate"))
    assert duck.plan(q).cube == "qm"
    assert [(r["cm_code"], r["buyers"], r["repeat_rate"]) for r in duck.run(q).rows] == [
        ("cm1", 2, 1.0),
        ("cm2", 1, 0.0),
        ("cm3", 1, 0.0),
    ]
    q = KpiQuery(OCT, by=("cm", "product"), indicators=("buyers", "repeat_rate"))
    assert duck.plan(q).cube == "qpm"
    assert [(r["cm_code"], r["product_code"], r["buyers"], r["repeat_rate"]) for r in duck.run(q).rows] == [
        ("cm1", "P1", 1, 1.0),
        ("cm1", "P2", 2, 0.5),
        ("cm1", "P3", 1, 0.0),
        ("cm2", "P1", 1, 0.0),
        ("cm2", "P3", 1, 0.0),
        ("cm3", "P2", 1, 0.0),
    ]


def test_cubes_follow_the_files_and_the_snapshots(golden_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(golden_dir, copy)
    eng = get_engine("duckdb", copy)
    q = KpiQuery(OCT, by=("cm",))
    before = eng.run(q).rows
    assert eng.plan(q).cube == "qm" and eng.stale_cubes() == []

    # re-exporting the same routes (a tier changed, say) keeps the cubes
    retailers = pq.read_table(dim_file(copy, "retailers"))
    tiers = pa.array([t + 1 if t is not None else None for t in retailers["tier"].to_pylist()], pa.int32())
    retailers = retailers.set_column(retailers.schema.get_field_index("tier"), "tier", tiers)
    pq.write_table(retailers, dim_file(copy, "retailers"))
    assert eng.stale_cubes() == [] and eng.plan(q).cube == "qm"

    # moving retailer 3 from route RB (CM 2) to RA (CM 1): every month's cubes are stale until rebuilt; meanwhile
    # the engine answers from rpm/rm, with the new routes
    retailers = pq.read_table(dim_file(copy, "retailers")).to_pylist()
    ra = next(r for r in retailers if r["route_code"] == "RA")
    for r in retailers:
        if r["retailer_id"] == 3:
            keys = ("route_id", "route_code", "route_name", "cm_id", "cm_code", "cm_name", "org_path")
            r.update({k: ra[k] for k in keys})
    schema = pq.read_schema(dim_file(copy, "retailers"))
    pq.write_table(pa.Table.from_pylist(retailers, schema=schema), dim_file(copy, "retailers"))
    assert eng.stale_cubes() == sorted(eng.load_state())
    assert eng.plan(q).cube is None
    moved = eng.run(q).rows
    assert moved != before
    assert eng.refresh_cubes() == sorted(eng.load_state())
    assert eng.plan(q).cube == "qm"
    assert eng.run(q).rows == moved

    # a month's aggregates rebuilt: its cubes and the next month's (repeat buyers) are stale, and rebuilt by the refresh
    report = eng.refresh_aggregates(["2026-09"])
    assert report.months == ["2026-09"] and report.cubes == ["2026-09", "2026-10"]
    assert eng.stale_cubes() == []

    # a month whose order file vanished loses its cubes with its aggregates
    (copy / "orders" / "month=2026-10" / "part-0.parquet").unlink()
    eng.refresh_aggregates()
    assert not agg_file(copy, "qm", "2026-10").exists() and not agg_file(copy, "qpm", "2026-10").exists()
    assert "2026-10" not in eng.load_cubes()
