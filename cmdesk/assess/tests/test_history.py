"""A CM's history across months: the page with its chart data, the trend, the xlsx; who sees whose history."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from cmdesk.assess.models import RunStatus
from cmdesk.work.tests.world import build_work_world

from .test_exports import make_run, make_scheme

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    world = build_work_world(orders=False)
    items = make_scheme(world.tree)
    d = Decimal

    def run(month, cm1, status=RunStatus.PUBLISHED, version=1, supersedes=None):
        return make_run(
            world, month=month, status=status, version=version, scheme_items=items, supersedes=supersedes,
            points={world.cm1: cm1, world.cm2: (d("55"), d("35"))},
        )  # fmt: skip

    run(dt.date(2026, 8, 1), cm1=(d("50"), d("30")))
    september = run(dt.date(2026, 9, 1), status=RunStatus.CLOSED, cm1=(d("52"), d("31")))
    run(dt.date(2026, 9, 1), version=2, cm1=(d("54"), d("31")), supersedes=september)  # a correction
    run(dt.date(2026, 10, 1), cm1=(d("56"), d("35.5")))
    run(dt.date(2026, 11, 1), status=RunStatus.SCORED, cm1=(d("40"), d("20")))  # under review
    return world


def test_cm_sees_its_published_months_with_the_newest_version(client, w):
    client.force_login(w.cm1.user)
    response = client.get(reverse("assess:history"), {"cm": w.cm2.pk})  # ?cm= is ignored for a CM
    assert response.status_code == 200
    assert response.context["cm"] == w.cm1
    rows = response.context["rows"]
    assert [(r["label"], r["version"], r["total"]) for r in rows] == [
        ("2026-08", 1, Decimal("80.00")),
        ("2026-09", 2, Decimal("85.00")),
        ("2026-10", 1, Decimal("91.50")),
    ]
    assert response.context["trend"] == Decimal("6.50")
    chart = json.loads(response.content.decode().split('id="history-data" type="application/json">')[1].split("<")[0])
    assert chart == {
        "months": ["2026-08", "2026-09", "2026-10"],
        "total": [80.0, 85.0, 91.5],
        "items": [
            {"name": "销量完成率", "data": [50.0, 54.0, 56.0]},
            {"name": "拜访覆盖率", "data": [30.0, 31.0, 35.5]},
        ],
    }
    assert b"vendor/echarts/echarts.min.js" in response.content


def test_head_picks_a_cm_in_its_department(client, w):
    client.force_login(w.head.user)
    picker = client.get(reverse("assess:history"))
    assert picker.status_code == 200
    assert [s.employee_no for s in picker.context["cms"]] == ["cm1", "cm2"]
    page = client.get(reverse("assess:history"), {"cm": w.cm1.pk})
    assert [r["label"] for r in page.context["rows"]] == ["2026-08", "2026-09", "2026-10", "2026-11"]
    assert client.get(reverse("assess:history"), {"cm": w.cm3.pk}).status_code == 404
    assert client.get(reverse("assess:history"), {"cm": w.head.pk}).status_code == 404  # not a CM
    assert client.get(reverse("assess:history_xlsx"), {"cm": w.cm3.pk}).status_code == 404
    client.force_login(w.inspector.user)
    assert client.get(reverse("assess:history"), {"cm": w.cm1.pk}).status_code == 403
    assert client.get(reverse("assess:history_xlsx"), {"cm": w.cm1.pk}).status_code == 403


def test_history_xlsx(client, w):
    from openpyxl import load_workbook

    client.force_login(w.cm1.user)
    response = client.get(reverse("assess:history_xlsx"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ws = load_workbook(io.BytesIO(response.content))["考核历史"]
    assert [[c.value for c in row] for row in ws.iter_rows()] == [
        ["月份", "版本", "状态", "总分", "名次", "销量完成率", "拜访覆盖率"],
        ["2026-08", 1, "已通报", 80.0, 2, 50.0, 30.0],
        ["2026-09", 2, "已通报", 85.0, 2, 54.0, 31.0],
        ["2026-10", 1, "已通报", 91.5, 1, 56.0, 35.5],
    ]
    assert ws.freeze_panes == "A2"
    assert ws["D2"].number_format == "0.00"


def test_history_without_scores(client, w):
    client.force_login(w.cm3.user)
    response = client.get(reverse("assess:history"))
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert b'id="history-empty"' in response.content
