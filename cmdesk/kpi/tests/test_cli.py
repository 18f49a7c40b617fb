"""`cmdesk kpi` against hand-computed answers (the golden dataset on real records), on both engines."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from cmdesk.analytics.tests.conftest import HAVE_SPARK

from .data import build_world

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("kpi", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_json_by_cm():
    build_world()
    payload = json.loads(run("--period", "2026-10", "--by", "cm", "--format", "json"))
    assert payload["period"] == "2026-10" and payload["source"] == "aggregates" and payload["engine"] == "duckdb"
    got = [(r["cm_code"], r["served"], r["cartons"], r["amount"], r["orders"]) for r in payload["rows"]]
    # cm1: retailers 1 and 2 (3+6+2+3 cartons; 360+300+20+150 yuan; 3 orders); cm2: retailer 3; cm3: retailer 4
    assert got == [("cm1", 2, 14, 830.0, 3), ("cm2", 1, 3, 140.0, 1), ("cm3", 1, 2, 100.0, 1)]
    assert payload["rows"][0]["avg_price"] == 830 / 14


def test_csv_by_product_has_every_indicator():
    build_world()
    rows = list(csv.DictReader(io.StringIO(run("--period", "2026-10", "--by", "product", "--format", "csv"))))
    assert [r["product_code"] for r in rows] == ["P1", "P2", "P3"]
    p2 = rows[1]
    assert (p2["cartons"], p2["buyers"], p2["listing_rate"]) == ("11", "3", "0.75")
    assert p2["cases_yoy"] == str((11 - 9) / 9)


def test_table_by_org_under_a_branch_is_by_department():
    build_world()
    text = run("--period", "2026-10", "--by", "org", "--scope", "A", "--lang", "en")
    lines = text.splitlines()
    assert lines[0] == "甲县分公司 · 2026-10"
    assert lines[1].split()[:2] == ["Department", "code"]
    assert "A-D" in lines[3] and "甲县客户服务部" in lines[3]
    # 17 cartons = 0.07 cases (rounded), 3 served retailers of branch A
    assert lines[3].split()[2:4] == ["3", "3"]
    assert lines[-1] == "(1 rows; source: aggregates, engine: duckdb)"


def test_week_period_reads_lines(tmp_path):
    build_world()
    payload = json.loads(run("--period", "2026-W41", "--format", "json", "--indicators", "cartons,orders"))
    assert payload["source"] == "lines"
    assert payload["rows"] == [{"cartons": 15, "orders": 3}]


def test_xlsx(tmp_path):
    build_world()
    path = tmp_path / "kpi.xlsx"
    run("--period", "2026-10", "--by", "class", "--format", "xlsx", "--output", str(path), "--indicators",
        "cartons,share")
    ws = load_workbook(path).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0][0] == "示范市烟草公司 · 2026-10"
    assert values[1] == ["价类", "销量(条)", "结构占比"]
    # xlsx keeps 15 significant digits
    assert values[2:] == [
        ["一类", 4, pytest.approx(4 / 19, rel=1e-14)],
        ["三类", 11, pytest.approx(11 / 19, rel=1e-14)],
        ["五类", 4, pytest.approx(4 / 19, rel=1e-14)],
    ]
    assert ws.cell(row=3, column=3).number_format == "0.00%"


def test_user_scope_applies(tmp_path):
    w = build_world()
    payload = json.loads(run("--period", "2026-10", "--format", "json", "--user", w.cm1.user.username))
    assert payload["rows"][0]["cartons"] == 14
    with pytest.raises(CommandError, match="not an org unit"):
        run("--period", "2026-10", "--user", w.cm1.user.username, "--scope", "cm2")


def test_bad_input_is_a_clear_error():
    build_world()
    with pytest.raises(CommandError, match="invalid period '2026-13'"):
        run("--period", "2026-13")
    with pytest.raises(CommandError, match="unknown grouping shop"):
        run("--period", "2026-10", "--by", "shop")
    with pytest.raises(CommandError, match="unknown indicator volume"):
        run("--period", "2026-10", "--indicators", "volume")
    with pytest.raises(CommandError, match="needs --output"):
        run("--period", "2026-10", "--format", "xlsx")


@pytest.mark.spark
@pytest.mark.skipif(not HAVE_SPARK, reason="pyspark or java not installed")
def test_spark_engine_gives_the_same_answer():
    build_world()
    args = ["--period", "2026-10", "--by", "cm,class", "--format", "json", "--indicators", "all"]
    duck = json.loads(run(*args, "--engine", "duckdb"))
    spark = json.loads(run(*args, "--engine", "spark"))
    assert spark["engine"] == "spark"
    assert spark["rows"] == duck["rows"] and len(duck["rows"]) == 6


def test_docs_list_every_indicator_as_defined():
    from pathlib import Path

    from cmdesk.kpi.management.commands.kpi import explain_markdown

    docs = (Path(__file__).resolve().parents[3] / "docs" / "indicators.md").read_text(encoding="utf-8")
    assert explain_markdown() in docs, "regenerate the table in docs/indicators.md with `cmdesk kpi --explain`"
