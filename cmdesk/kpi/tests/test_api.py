"""GET /api/kpi/ and /api/kpi/indicators/: the dashboards' data as JSON, scoped like the pages."""

from __future__ import annotations

import pytest

from cmdesk.analytics.indicators import DEFAULT, INDICATORS
from cmdesk.core.tests.factories import StaffFactory, user_without_role
from cmdesk.org.choices import Role

from .data import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


@pytest.fixture
def centre(world):
    return StaffFactory(role=Role.CENTRE, org_unit=world.tree.centre).user


def test_by_cm_for_the_city(client, world, centre):
    client.force_login(centre)
    r = client.get("/api/kpi/?period=2026-10&by=cm&indicators=cartons,amount,avg_price")
    assert r.status_code == 200
    assert r.json() == {
        "period": "2026-10",
        "scope": {"kind": "city", "code": "", "label": "示范市烟草公司"},
        "source": "aggregates",
        "engine": "duckdb",
        "columns": [
            {"name": "cm_id", "label": "人员 ID", "unit": None},
            {"name": "cm_code", "label": "工号", "unit": None},
            {"name": "cm_name", "label": "客户经理", "unit": None},
            {"name": "cartons", "label": "销量(条)", "unit": "carton"},
            {"name": "amount", "label": "销售额(元)", "unit": "yuan"},
            {"name": "avg_price", "label": "条均价(元)", "unit": "yuan/carton"},
        ],
        "rows": [
            {
                "cm_id": world.cm1.pk,
                "cm_code": "cm1",
                "cm_name": "甲",
                "cartons": 14,
                "amount": 830.0,
                "avg_price": 830 / 14,
            },
            {
                "cm_id": world.cm2.pk,
                "cm_code": "cm2",
                "cm_name": "乙",
                "cartons": 3,
                "amount": 140.0,
                "avg_price": 140 / 3,
            },
            {
                "cm_id": world.cm3.pk,
                "cm_code": "cm3",
                "cm_name": "丙",
                "cartons": 2,
                "amount": 100.0,
                "avg_price": 50.0,
            },
        ],
    }


def test_cm_by_class_and_defaults(client, world):
    client.force_login(world.cm1.user)
    r = client.get("/api/kpi/?by=cm,class&indicators=cartons,share,avg_price")  # default period: latest with data
    body = r.json()
    assert (body["period"], body["scope"]) == ("2026-10", {"kind": "cm", "code": "cm1", "label": "甲"})
    assert [(x["cm_code"], x["class_name"], x["cartons"], x["share"], x["avg_price"]) for x in body["rows"]] == [
        ("cm1", "一类", 3, 3 / 14, 120.0),
        ("cm1", "三类", 9, 9 / 14, 50.0),
        ("cm1", "五类", 2, 2 / 14, 10.0),
    ]
    # no indicators named: all of them
    r = client.get("/api/kpi/?period=2026-10")
    assert [c["name"] for c in r.json()["columns"]] == list(INDICATORS)
    row = r.json()["rows"][0]
    assert (row["served"], row["cartons"], row["amount"], row["satisfaction"]) == (2, 14, 830.0, 14 / 18)


def test_org_level_below_the_scope_and_other_periods(client, world, centre):
    client.force_login(centre)
    r = client.get("/api/kpi/?period=2026-10&by=org&scope=A&indicators=cartons,listing_rate")
    body = r.json()
    assert body["scope"] == {"kind": "org", "code": "A", "label": "甲县分公司"}
    assert body["rows"] == [{"dept_code": "A-D", "dept_name": "甲县客户服务部", "cartons": 17, "listing_rate": 1.0}]
    r = client.get("/api/kpi/?period=2026-W41&indicators=cartons")
    assert (r.json()["source"], r.json()["rows"]) == ("lines", [{"cartons": 15}])
    r = client.get("/api/kpi/?period=2026-10&by=product&scope=440000000001&indicators=cartons&source=lines")
    assert r.json()["source"] == "lines"
    assert [(x["product_code"], x["cartons"]) for x in r.json()["rows"]] == [("P1", 3), ("P2", 6), ("P3", 2)]


@pytest.mark.parametrize(
    "query, message",
    [
        ("period=2026-13", "invalid period '2026-13': month must be in 1..12"),
        ("period=2026-10&by=shop", "unknown grouping 'shop'"),
        ("period=2026-10&by=cm,cm", "a grouping is repeated"),
        ("period=2026-10&indicators=cases,volume", "unknown indicator volume"),
        ("period=2026-10&engine=oracle", "unknown engine 'oracle'"),
        ("period=2026-10&source=cache", "unknown source 'cache'"),
        ("period=2026-W41&source=aggregates", "the monthly aggregates cannot answer 2026-W41"),
    ],
)
def test_bad_requests_are_400(client, world, centre, query, message):
    client.force_login(centre)
    r = client.get(f"/api/kpi/?{query}")
    assert r.status_code == 400
    assert message in r.json()["detail"]


def test_out_of_scope_is_404_and_no_permission_is_403(client, world):
    client.force_login(world.cm1.user)
    for code in ("cm2", "RB", "A", "440000000003", "NOPE"):
        assert client.get(f"/api/kpi/?period=2026-10&scope={code}").status_code == 404, code
    assert client.get("/api/kpi/?period=2026-10&scope=440000000001").status_code == 200
    client.force_login(user_without_role())
    assert client.get("/api/kpi/?period=2026-10").status_code == 403
    assert client.get("/api/kpi/indicators/").status_code == 403
    client.logout()
    assert client.get("/api/kpi/?period=2026-10").status_code == 403


def test_indicator_definitions(client, world):
    client.force_login(world.cm1.user)
    body = client.get("/api/kpi/indicators/").json()
    assert [i["name"] for i in body] == list(INDICATORS)
    listing = next(i for i in body if i["name"] == "listing_rate")
    assert listing == {
        "name": "listing_rate",
        "label_zh": "上柜率",
        "label_en": "listing rate",
        "unit": "ratio",
        "formula": "上柜户数 ÷ served",
        "digits": 2,
        "default": True,
    }
    assert sum(i["default"] for i in body) == len(DEFAULT)


def test_schema_documents_the_kpi_endpoints(client, centre):
    client.force_login(centre)
    schema = client.get("/api/schema/?format=json").json()
    op = schema["paths"]["/api/kpi/"]["get"]
    assert op["operationId"] == "kpi_query"
    assert [p["name"] for p in op["parameters"]] == ["by", "engine", "indicators", "period", "scope", "source"]
    assert set(op["responses"]) == {"200", "400", "403", "404"}
    assert "/api/kpi/indicators/" in schema["paths"]
