"""The xlsx exports open in LibreOffice: the 通报 and a CM's history, converted by headless ``soffice`` to CSV (every
sheet, values as displayed), hold the expected names and totals exactly; a broken workbook would not convert."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from cmdesk.work.tests.world import build_work_world

from .test_exports import make_run

pytestmark = [pytest.mark.django_db, pytest.mark.libreoffice]

# CSV filter options: comma, double quote, UTF-8 (76), from line 1, …, cells as shown (true), every sheet (-1).
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"


def soffice_csv(content: bytes, tmp_path: Path, stem: str) -> dict[str, list[list[str]]]:
    """Convert an xlsx with headless LibreOffice (its own profile under ``tmp_path``); the rows of each sheet."""
    source = tmp_path / f"{stem}.xlsx"
    source.write_bytes(content)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            shutil.which("soffice") or "soffice",
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--norestore",
            "--convert-to",
            CSV_FILTER,
            "--outdir",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    sheets = {}
    for path in sorted(out.glob(f"{stem}-*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            sheets[path.stem.removeprefix(f"{stem}-")] = [row for row in csv.reader(f)]
    assert sheets, f"LibreOffice converted nothing: {result.returncode} {result.stdout} {result.stderr}"
    return sheets


@pytest.fixture
def w():
    return build_work_world(orders=False)


def test_the_publication_xlsx_opens_in_libreoffice(client, w, tmp_path):
    run = make_run(w)
    client.force_login(w.head.user)
    response = client.get(reverse("assess:run_export_xlsx", args=[run.pk]))
    assert response.status_code == 200
    sheets = soffice_csv(response.content, tmp_path, "report")
    assert list(sheets) == ["分布", "排名", "明细"]
    assert sheets["排名"] == [
        ["名次", "客户经理", "工号", "所属部门", "总分", "业绩得分", "市场得分"],
        ["1", "张一", "cm1", "甲县一片区", "92.50", "55.50", "37.00"],
        ["2", "李二", "cm2", "甲县二片区", "88.00", "50.00", "38.00"],
    ]
    details = sheets["明细"]
    assert [row[:6] + row[9:10] for row in details[1:]] == [
        ["1", "张一", "cm1", "销量完成率", "业绩", "60.00", "55.50"],
        ["1", "张一", "cm1", "拜访覆盖率", "市场", "40.00", "37.00"],
        ["2", "李二", "cm2", "销量完成率", "业绩", "60.00", "50.00"],
        ["2", "李二", "cm2", "拜访覆盖率", "市场", "40.00", "38.00"],
    ]
    assert details[1][10] == "完成率 92.5%，目标 100%：60 × 92.5% = 55.50 分"
    assert sheets["分布"] == [
        ["分数段", "人数", "占比"],
        ["95分及以上", "0", "0.0%"],
        ["90–95分", "1", "50.0%"],
        ["85–90分", "1", "50.0%"],
        ["80–85分", "0", "0.0%"],
        ["70–80分", "0", "0.0%"],
        ["70分以下", "0", "0.0%"],
        ["", "", ""],
        ["人数", "2", ""],
        ["平均分", "90.25", ""],
        ["最高分", "92.5", ""],
        ["最低分", "88", ""],
    ]


def test_a_history_xlsx_opens_in_libreoffice(client, w, tmp_path):
    september = {w.cm1: (Decimal("48.00"), Decimal("31.50")), w.cm2: (Decimal("52.00"), Decimal("36.00"))}
    make_run(w, month=dt.date(2026, 9, 1), points=september)
    make_run(w)  # October: cm1 55.50 + 37.00
    client.force_login(w.head.user)
    response = client.get(reverse("assess:history_xlsx"), {"cm": w.cm1.pk})
    assert response.status_code == 200
    sheets = soffice_csv(response.content, tmp_path, "history")
    assert list(sheets) == ["考核历史"]
    assert sheets["考核历史"] == [
        ["月份", "版本", "状态", "总分", "名次", "销量完成率", "拜访覆盖率"],
        ["2026-09", "1", "已通报", "79.50", "2", "48.00", "31.50"],
        ["2026-10", "1", "已通报", "92.50", "1", "55.50", "37.00"],
    ]
