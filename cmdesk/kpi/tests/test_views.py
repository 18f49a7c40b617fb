"""KPI pages on the golden world (cmdesk/kpi/tests/data.py): the figures in the HTML and in the xlsx exports are the
hand-computed ones of cmdesk/analytics/tests/test_engine.py, cut by each role's scope."""

from __future__ import annotations

import datetime as dt
import html
import io
import re

import pytest
from openpyxl import load_workbook

from cmdesk.analytics.periods import Period
from cmdesk.core.tests.factories import StaffFactory, user_without_role
from cmdesk.kpi.dashboards import default_period, next_period
from cmdesk.org.choices import Role

from .data import build_world

pytestmark = pytest.mark.django_db


def table_rows(content: bytes, table_id: str) -> list[list[str]]:
    """The body rows of one dashboard table card, as lists of cell texts."""
    text = content.decode()
    start = text.index(f'id="{table_id}"')
    end = text.find('class="card h-100 kpi-table"', start)
    body = text[start : end if end > 0 else len(text)]
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


def card_text(content: bytes, key: str) -> str:
    text = content.decode()
    start = text.index(">", text.index(f'data-card="{key}"')) + 1
    chunk = text[start : text.index("</div>\n    </div>", start)]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", chunk)).split())


def workbook_rows(response) -> list[tuple]:
    ws = load_workbook(io.BytesIO(response.content)).active
    return [tuple(c for c in row) for row in ws.iter_rows(values_only=True)]


@pytest.fixture
def world():
    return build_world()


@pytest.fixture
def centre(world):
    return StaffFactory(role=Role.CENTRE, org_unit=world.tree.centre).user


def test_centre_sees_the_city_ranked_by_branch(client, world, centre):
    client.force_login(centre)
    r = client.get("/kpi/")  # default period: the latest month with order data
    assert r.status_code == 200
    assert r.context["period"] == Period.parse("2026-10")
    # headline: 19 cartons = 0.08 cases, +8 cartons on last year's 11; 1,070 yuan; supplied 19 of 23 demanded
    assert card_text(r.content, "cases").split() == [
        "销量(箱)",
        "0.08",
        "销量同比",
        "+72.73%",
        "销量(条)",
        "19",
        "销量环比",
        "+375.00%",
    ]
    assert "1,070.00" in card_text(r.content, "amount")
    assert "+55.07%" in card_text(r.content, "amount")  # 380 / 690
    assert "56.32" in card_text(r.content, "avg_price")  # 1070 / 19
    assert "42.11%" in card_text(r.content, "provincial")  # 8 / 19
    assert "82.61%" in card_text(r.content, "satisfaction")
    assert "60.00%" in card_text(r.content, "online")  # 3 of 5 orders online
    ranking = table_rows(r.content, "kpi-ranking")
    # code, name, cartons, cases, YoY, share, amount, 条均价 ...
    assert [row[:3] + [row[6]] for row in ranking] == [
        ["A", "甲县分公司", "17", "970.00"],
        ["B", "乙县分公司", "2", "100.00"],
    ]
    assert 'href="/kpi/?period=2026-10&amp;scope=A"' in r.content.decode()
    assert 'href="/kpi/?period=2026-10&amp;scope=B"' in r.content.decode()
    classes = table_rows(r.content, "kpi-classes")
    assert [row[:3] for row in classes] == [["一类", "4", "0.02"], ["三类", "11", "0.04"], ["五类", "4", "0.02"]]
    assert [row[3] for row in classes] == ["21.05%", "57.89%", "21.05%"]
    assert r.context["classes_chart"]["data"] == [
        {"name": "一类", "value": 4},
        {"name": "三类", "value": 11},
        {"name": "五类", "value": 4},
    ]
    # key brands: only P1, bought by retailers 1 and 3 of 4 served, on routes RA and RB of 3
    assert [row[:6] for row in table_rows(r.content, "kpi-brands")] == [["P1", "一号烟", "2", "50.00%", "66.67%", "4"]]
    # retailers 1 and 2 bought in September and in October: nobody stopped
    assert r.context["tables"]["stopped"]["data"]["rows"] == []
    trend = r.context["trend_chart"]
    assert trend["months"] == [f"{m:02d}" for m in range(1, 11)]
    assert trend["series"][0]["data"][8:] == [0.02, 0.08] and trend["series"][1]["data"][9] == 0.04
    # period picker
    assert 'href="/kpi/?period=2026-09"' in r.content.decode()
    assert 'href="/kpi/?period=2026-11"' in r.content.decode()
    assert 'href="/kpi/"' in r.content.decode()  # the nav entry


def test_drill_down_city_branch_department_area_cm_retailer(client, world, centre):
    client.force_login(centre)
    steps = [
        ("A", "dept", [["A-D", "甲县客户服务部", "17"]]),
        ("A-D", "area", [["A-1", "甲县一片区", "14"], ["A-2", "甲县二片区", "3"]]),
        ("A-1", "cm", [["cm1", "甲", "14"]]),
        ("cm1", "retailer", [["440000000001", "一号店", "11"], ["440000000002", "二号店", "3"]]),
        ("440000000001", "product", [["P2", "二号烟", "6"], ["P1", "一号烟", "3"], ["P3", "三号烟", "2"]]),
    ]
    for scope, level, expected in steps:
        r = client.get(f"/kpi/?period=2026-10&scope={scope}")
        assert r.status_code == 200, scope
        assert r.context["target"].next_level == level
        assert [row[:3] for row in table_rows(r.content, "kpi-ranking")] == expected
        if level != "product":
            assert f'href="/kpi/?period=2026-10&amp;scope={expected[0][0]}"' in r.content.decode()
    # the breadcrumb at the retailer: city › branch › department › area › CM › retailer
    assert [c["label"] for c in r.context["crumbs"]] == [
        "示范市烟草公司",
        "甲县分公司",
        "甲县客户服务部",
        "甲县一片区",
        "甲",
        "一号店",
    ]
    assert r.context["crumbs"][4]["url"] == "/kpi/?period=2026-10&scope=cm1"


def test_head_sees_its_department(client, world):
    head = StaffFactory(role=Role.HEAD, org_unit=world.tree.dept_a).user
    client.force_login(head)
    r = client.get("/kpi/?period=2026-10")
    assert r.context["target"].code == "A-D"
    assert "17" in card_text(r.content, "cases").split()
    assert [row[:3] + [row[6]] for row in table_rows(r.content, "kpi-ranking")] == [
        ["A-1", "甲县一片区", "14", "830.00"],
        ["A-2", "甲县二片区", "3", "140.00"],
    ]
    r = client.get("/kpi/?period=2026-10&scope=A-2")
    # the breadcrumb starts at the head's own department, not at the city
    assert [c["label"] for c in r.context["crumbs"]] == ["甲县客户服务部", "甲县二片区"]
    for other in ("B", "B-D", "cm3", "RC", "440000000004", "C"):
        assert client.get(f"/kpi/?period=2026-10&scope={other}").status_code == 404, other


def test_cm_sees_its_retailers_and_nobody_else(client, world):
    client.force_login(world.cm1.user)
    r = client.get("/kpi/?period=2026-10")
    assert r.status_code == 200
    assert r.context["target"].code == "cm1"
    assert "14" in card_text(r.content, "cases").split()
    assert [row[:3] + [row[6]] for row in table_rows(r.content, "kpi-ranking")] == [
        ["440000000001", "一号店", "11", "680.00"],
        ["440000000002", "二号店", "3", "150.00"],
    ]
    assert 'href="/kpi/?period=2026-10&amp;scope=440000000001"' in r.content.decode()
    for other in ("cm2", "RB", "A", "B", "440000000003", "C"):
        assert client.get(f"/kpi/?period=2026-10&scope={other}").status_code == 404, other
        assert client.get(f"/kpi/export.xlsx?period=2026-10&scope={other}&table=ranking").status_code == 404


def test_stopped_retailers_and_their_export(client, world):
    client.force_login(world.cm1.user)
    # November has no orders: both of cm1's retailers bought in October and nothing since
    r = client.get("/kpi/?period=2026-11")
    assert table_rows(r.content, "kpi-stopped") == [
        ["440000000001", "一号店", "RA", "A线", "0.04"],
        ["440000000002", "二号店", "RA", "A线", "0.01"],
    ]
    assert 'href="/kpi/?period=2026-11&amp;scope=440000000001"' in r.content.decode()
    x = client.get("/kpi/export.xlsx?period=2026-11&table=stopped")
    assert x.status_code == 200
    assert x["Content-Disposition"] == 'attachment; filename="kpi-stopped-2026-11-cm1.xlsx"'
    rows = workbook_rows(x)
    assert rows[0][0] == "甲 · 2026-11 · 停订零售户"
    assert rows[2:] == [
        ("440000000001", "一号店", "RA", "A线", 11 / 250),
        ("440000000002", "二号店", "RA", "A线", 3 / 250),
    ]


def test_xlsx_exports_hold_the_exact_values(client, world, centre):
    client.force_login(centre)
    x = client.get("/kpi/export.xlsx?period=2026-10&table=ranking")
    assert x.status_code == 200
    assert x["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert x["Content-Disposition"] == 'attachment; filename="kpi-ranking-2026-10-all.xlsx"'
    rows = workbook_rows(x)
    assert rows[1][:4] == ("分公司编码", "分公司", "销量(条)", "销量(箱)")
    assert [r[:4] + (r[6],) for r in rows[2:]] == [
        ("A", "甲县分公司", 17, 17 / 250, 970.0),
        ("B", "乙县分公司", 2, 2 / 250, 100.0),
    ]
    x = client.get("/kpi/export.xlsx?period=2026-10&scope=A-D&table=ranking")
    assert [r[:3] for r in workbook_rows(x)[2:]] == [("A-1", "甲县一片区", 14), ("A-2", "甲县二片区", 3)]
    rows = workbook_rows(client.get("/kpi/export.xlsx?period=2026-10&table=classes"))
    assert [r[:3] for r in rows[2:]] == [("一类", 4, 4 / 250), ("三类", 11, 11 / 250), ("五类", 4, 4 / 250)]
    rows = workbook_rows(client.get("/kpi/export.xlsx?period=2026-10&table=brands"))
    assert [r[:5] for r in rows[2:]] == [("P1", "一号烟", 2, 0.5, 2 / 3)]
    rows = workbook_rows(client.get("/kpi/export.xlsx?period=2026-10&table=trend"))
    assert [r[:2] for r in rows[2:]][8:] == [("2026-09", 4), ("2026-10", 19)]
    rows = workbook_rows(client.get("/kpi/export.xlsx?period=2026-10&table=headline"))
    assert rows[2][:2] == (19, 19 / 250)
    # the explorer's generic export: any grouping and indicators
    x = client.get("/kpi/export.xlsx?period=2026-10&by=cm&indicators=cartons&indicators=amount")
    assert x["Content-Disposition"] == 'attachment; filename="kpi-cm-2026-10-all.xlsx"'
    assert workbook_rows(x)[2:] == [("cm1", "甲", 14, 830.0), ("cm2", "乙", 3, 140.0), ("cm3", "丙", 2, 100.0)]
    # bad requests
    assert client.get("/kpi/export.xlsx?period=2026-10&table=nope").status_code == 400
    assert client.get("/kpi/export.xlsx?period=2026-13&table=ranking").status_code == 400
    bad = client.get("/kpi/export.xlsx?period=2026-13&by=cm")
    assert bad.status_code == 400 and "month must be in 1..12" in bad.content.decode()
    assert client.get("/kpi/export.xlsx?period=2026-10&table=ranking&scope=NOPE").status_code == 404
    assert client.get("/kpi/export.xlsx?period=2026-10&by=cm&scope=NOPE").status_code == 404


def test_explorer(client, world, centre):
    client.force_login(centre)
    r = client.get("/kpi/explore/")
    assert r.status_code == 200
    assert r.context["form"].is_valid() and r.context["period"] == Period.parse("2026-10")
    r = client.get("/kpi/explore/?period=2026-10&by=cm&scope=A&indicators=cartons&indicators=listing_rate")
    assert r.status_code == 200
    rows = [[c["text"] for c in row["cells"]] for row in r.context["result"]["rows"]]
    assert rows == [["cm1", "甲", "14", "100.00%"], ["cm2", "乙", "3", "100.00%"]]
    assert "上柜户数 ÷ served" in r.content.decode()  # the formula list
    assert r.context["export_url"] == (
        "/kpi/export.xlsx?period=2026-10&by=cm&scope=A&indicators=cartons&indicators=listing_rate"
    )
    # a week reads the raw lines: 5-11 October
    r = client.get("/kpi/explore/?period=2026-W41&indicators=cartons")
    assert r.context["source"] == "lines" and r.context["result"]["rows"][0]["cells"][0]["text"] == "15"


def test_explorer_shows_form_errors(client, world):
    client.force_login(world.cm1.user)
    r = client.get("/kpi/explore/?period=2026-13")
    assert r.status_code == 200
    assert r.context["form"].errors["period"] == ["invalid period '2026-13': month must be in 1..12"]
    assert "invalid period &#x27;2026-13&#x27;: month must be in 1..12" in r.content.decode()
    assert r.context["result"] is None
    r = client.get("/kpi/explore/?period=2026-10&scope=cm2")
    assert r.status_code == 200 and "scope" in r.context["form"].errors
    r = client.get("/kpi/explore/?period=2026-10&by=shop")
    assert r.status_code == 200 and "by" in r.context["form"].errors


def test_bad_period_on_the_dashboard_falls_back_with_a_message(client, world, centre):
    client.force_login(centre)
    r = client.get("/kpi/?period=2026-13")
    assert r.status_code == 200
    assert r.context["period"] == Period.parse("2026-10")
    assert "month must be in 1..12" in r.content.decode()


def test_permissions(client, world):
    assert client.get("/kpi/").status_code == 302  # to the login page
    client.force_login(user_without_role())
    for url in ("/kpi/", "/kpi/explore/", "/kpi/export.xlsx?table=ranking", "/kpi/export.xlsx?by=cm"):
        assert client.get(url).status_code == 403, url
    # an inspector may view retailers: its subtree renders
    inspector = StaffFactory(role=Role.INSPECTOR, org_unit=world.tree.branch_b).user
    client.force_login(inspector)
    r = client.get("/kpi/?period=2026-10")
    assert r.status_code == 200 and "2" in card_text(r.content, "cases").split()


def test_periods_step_by_shape(settings, tmp_path):
    settings.CMDESK_DATA_DIR = tmp_path  # no order data: the current month
    assert default_period() == Period.parse(f"{dt.date.today():%Y-%m}")
    assert next_period(Period.parse("2026-12")).label == "2027-01"
    assert next_period(Period.parse("2026-Q4")).label == "2027-Q1"
    assert next_period(Period.parse("2026")).label == "2027"
    assert next_period(Period.parse("2026-W52")).label == "2026-W53"
    assert next_period(Period.parse("2026-10-01..2026-10-10")).label == "2026-10-11..2026-10-20"
    for text in ("2026-10", "2026-Q3", "2026-W42", "2026-10-01..2026-10-10"):
        p = Period.parse(text)
        assert next_period(p).previous() == p


def test_permission_without_a_staff_role_renders_an_empty_dashboard(client, world):
    from django.contrib.auth.models import Permission

    user = user_without_role()
    user.user_permissions.add(Permission.objects.get(codename="view_retailer", content_type__app_label="retail"))
    client.force_login(user)
    r = client.get("/kpi/?period=2026-10")
    assert r.status_code == 200
    assert r.context["target"].kind == "none"
    assert card_text(r.content, "cases").split()[:2] == ["销量(箱)", "0.00"]
    assert r.context["tables"]["ranking"]["data"] is None and r.context["crumbs"] == []
    assert client.get("/kpi/explore/?period=2026-10&by=cm").context["result"]["rows"] == []
    assert client.get("/api/kpi/?period=2026-10&indicators=cartons").json()["rows"] == [{"cartons": 0}]
