"""The KPI engine on the golden dataset: every figure below was computed by hand from tests/golden.py."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from cmdesk.analytics.periods import Period, PeriodError
from cmdesk.analytics.query import Filter, KpiQuery, QueryError
from cmdesk.analytics.tests.golden import B1_PATH

OCT = Period.parse("2026-10")


def run(engine, period=OCT, **kw):
    return engine.run(KpiQuery(period, **kw))


@pytest.mark.parametrize("source", ["aggregates", "lines"])
def test_city_month_by_hand(duck, source):
    r = run(duck, source=source).one()
    # served: retailers 1-4 (5 closed in January 2025); cartons 3+6+2+3+1+2+2
    assert (r["served"], r["orderers"], r["buyers"], r["cartons"]) == (4, 4, 4, 19)
    assert r["cases"] == 19 / 250
    assert r["amount"] == 1070.0
    assert r["avg_price"] == 1070 / 19
    assert r["amount_per_case"] == 1070 * 250 / 19
    # orders: retailer 1 on 5 and 12 October, 2, 3, 4 once; online: retailer 1 twice, 3 once
    assert (r["orders"], r["online_share"]) == (5, 3 / 5)
    # last year (2025-10): 2+5+4 cartons for 240+250+200 yuan; previous month: 1+3 cartons, 120+150 yuan
    assert r["cases_ly"] == 11 / 250 and r["cases_yoy"] == 8 / 11
    assert r["cases_yoy_change"] == 8 / 250
    assert r["cases_lm"] == 4 / 250 and r["cases_mom"] == 15 / 4
    assert r["avg_price_ly"] == 690 / 11
    assert r["avg_price_yoy"] == (1070 / 19) / (690 / 11) - 1
    assert r["amount_yoy"] == 380 / 690
    # provincial: P1 3+1, P3 2+2; last year P1 2
    assert (r["provincial_cases"], r["provincial_share"], r["provincial_yoy"]) == (8 / 250, 8 / 19, 3.0)
    assert (r["listing_rate"], r["ordering_rate"], r["coverage"]) == (1.0, 1.0, 1.0)
    # allotment: ordered 20 of allotted 40; supplied 19 of demanded 23
    assert (r["fill_rate"], r["satisfaction"]) == (20 / 40, 19 / 23)
    # 7 retailer x product pairs; full: R1P1 3>=3, R1P3 2>=2, R3P3 2>=2
    assert (r["full_share"], r["intake_share"]) == (3 / 7, 1.0)
    # repeat: retailers 1 and 2 bought in September too
    assert r["repeat_rate"] == 2 / 4
    # 动销率: per-buyer 19/4 against September's 4/2; every product on sale sold
    assert (r["per_buyer"], r["dongxiao_per_buyer"], r["dongxiao_sku"]) == (4.75, 4.75 / 2, 1.0)
    assert r["share"] == 1.0


def test_by_product(duck):
    rows = {r["product_code"]: r for r in run(duck, by=("product",)).rows}
    assert list(rows) == ["P1", "P2", "P3"]
    p2 = rows["P2"]
    # P2: R1 6, R2 3, R4 2; bought by 3 of 4 served; sold on routes RA and RC of 3
    assert (p2["cartons"], p2["buyers"], p2["listing_rate"], p2["coverage"]) == (11, 3, 3 / 4, 2 / 3)
    assert p2["share"] == 11 / 19
    # September: only R2 bought P2, and R2 bought it again in October
    assert (p2["repeat_rate"], p2["dongxiao_per_buyer"]) == (1 / 3, (11 / 3) / 3)
    assert p2["cases_yoy"] == (11 - 9) / 9
    # orders containing P2: 3, one of them online
    assert (p2["orders"], p2["online_share"]) == (3, 1 / 3)
    assert (p2["fill_rate"], p2["full_share"], p2["satisfaction"]) == (12 / 30, 0.0, 11 / 12)
    p3 = rows["P3"]
    assert (p3["fill_rate"], p3["full_share"], p3["satisfaction"]) == (1.0, 1.0, 4 / 7)
    assert p3["cases_ly"] == 0 and p3["cases_yoy"] is None


def test_by_cm_includes_every_served_route(duck):
    rows = run(duck, by=("cm",)).rows
    assert [(r["cm_code"], r["served"], r["cartons"], r["share"]) for r in rows] == [
        ("cm1", 2, 14, 14 / 19),
        ("cm2", 1, 3, 3 / 19),
        ("cm3", 1, 2, 2 / 19),
    ]


def test_structure_within_parent(duck):
    rows = run(duck, by=("cm", "class")).rows
    cm1 = [(r["class_name"], r["cartons"], r["share"]) for r in rows if r["cm_code"] == "cm1"]
    assert cm1 == [("一类", 3, 3 / 14), ("三类", 9, 9 / 14), ("五类", 2, 2 / 14)]


def test_scope_filter_cuts_served_and_sales(duck):
    r = run(duck, filter=Filter(org_paths=(B1_PATH,))).one()
    assert (r["served"], r["cartons"], r["orders"]) == (3, 17, 4)
    assert run(duck, filter=Filter(cm_ids=(2,))).one()["cartons"] == 3
    nothing = run(duck, filter=Filter(nothing=True)).one()
    assert (nothing["served"], nothing["cartons"], nothing["listing_rate"]) == (0, 0, None)


def test_product_filter_drops_order_counts(duck):
    r = run(duck, filter=Filter(brands=("甲牌",))).one()
    assert (r["cartons"], r["orders"], r["online_share"]) == (8, None, None)


def test_week_and_range_read_the_lines(duck):
    week = run(duck, Period.parse("2026-W41"))
    assert week.source == "lines"
    r = week.one()
    # 5-11 October: R1 3+6, R2 3, R3 1+2; the week before had no orders
    assert (r["cartons"], r["cases_lm"], r["cases_mom"]) == (15, 0.0, None)
    rng = run(duck, Period.parse("2026-10-12..2026-10-31")).one()
    assert (rng["cartons"], rng["orders"]) == (4, 2)


def test_by_month_trend_with_last_year(duck):
    rows = run(duck, Period.parse("2026"), by=("month",)).rows
    assert [r["month"] for r in rows] == [f"2026-{m:02d}" for m in range(1, 13)]
    oct_ = rows[9]
    assert (oct_["cartons"], oct_["cases_ly"], oct_["cases_lm"]) == (19, 11 / 250, 4 / 250)
    sep = rows[8]
    assert (sep["cartons"], sep["served"], sep["buyers"]) == (4, 3, 2)


def test_auto_source_falls_back_to_lines_when_aggregates_are_stale(golden_dir, duck, tmp_path):
    import shutil

    from cmdesk.analytics.engines import get_engine

    copy = tmp_path / "copy"
    shutil.copytree(golden_dir, copy)
    eng = get_engine("duckdb", copy)
    assert eng.run(KpiQuery(OCT)).source == "aggregates"
    (copy / "aggregates" / "state.json").write_text("{}")
    assert eng.stale_months(["2026-10"]) == ["2026-10"]
    res = eng.run(KpiQuery(OCT))
    assert res.source == "lines" and res.one()["cartons"] == 19
    eng.refresh_aggregates()
    assert eng.run(KpiQuery(OCT)).source == "aggregates"


def test_periods():
    assert Period.parse("2026-10").previous() == Period.parse("2026-09")
    assert Period.parse("2026-01").previous().label == "2025-12"
    assert Period.parse("2026-Q1").previous().label == "2025-Q4"
    assert Period.parse("2026-Q3").year_ago().label == "2025-Q3"
    assert Period.parse("2026-W01").previous().label == "2025-W52"
    assert Period.parse("2024-02-29..2024-02-29").year_ago().start == dt.date(2023, 2, 28)
    assert Period.parse("2026-10-01..2026-10-10").previous() == Period.range(dt.date(2026, 9, 21), dt.date(2026, 9, 30))
    for bad in ("2026-13", "2026-W60", "10/2026", "2026-10-05..2026-10-01"):
        with pytest.raises(PeriodError):
            Period.parse(bad)


def test_query_validation():
    with pytest.raises(QueryError, match="unknown grouping"):
        KpiQuery(OCT, by=("shop",))
    with pytest.raises(QueryError, match="invalid org path"):
        Filter(org_paths=("0001' OR 1=1 --",))
    with pytest.raises(QueryError, match="cannot answer"):
        KpiQuery(Period.parse("2026-W41"), source="aggregates")
    with pytest.raises(QueryError, match="unknown indicator"):
        KpiQuery(OCT, indicators=("volume",))


def test_package_has_no_django_imports():
    code = (
        "import sys, cmdesk.analytics.engines.duckdb, cmdesk.analytics.sql, cmdesk.analytics.indicators; "
        "import pkgutil, importlib, cmdesk.analytics as a; "
        "[importlib.import_module('cmdesk.analytics.' + m.name) for m in pkgutil.iter_modules(a.__path__) "
        "if m.name not in ('tests',)]; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_arrow_rows_order_like_the_generic_sort():
    """DuckDB's results are ordered in Arrow; the order must be the one the generic path gives any engine."""
    import pyarrow as pa

    from cmdesk.analytics.engines.base import _arrow_rows, _sorted
    from cmdesk.analytics.sql import Plan

    table = pa.table(
        {
            "cm_code": ["乙", None, "甲", "a", "甲", "Z", None, "甲"],
            "provincial": [True, False, None, True, False, True, True, False],
            "m_idx": [24321, 24320, 24321, 24320, 24320, 24321, 24320, 24320],
            "cartons": [1, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    plan = Plan("", "aggregates", (), ("cm_code", "provincial", "m_idx"), ("cartons",))
    rows = _arrow_rows(table, plan)
    tuples = list(zip(*(c.to_pylist() for c in table.columns), strict=True))
    expected = [
        {"cm_code": c, "provincial": p, "month": f"{m // 12:04d}-{m % 12 + 1:02d}", "cartons": n}
        for c, p, m, n in _sorted(tuples, [0, 1, 2])
    ]
    assert rows == expected
    # Z < a < 乙 (U+4E59) < 甲 (U+7532) < None; False < True < None; equal keys keep their order (5 before 8)
    assert [r["cartons"] for r in rows] == [6, 4, 1, 5, 8, 3, 2, 7]
