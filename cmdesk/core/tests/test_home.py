"""The home page by role: what each role sees, inside its scope, in a fixed handful of queries."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cmdesk.core.tests.factories import RetailerFactory, RouteFactory, StaffFactory, build_org_tree, user_without_role
from cmdesk.org.choices import Role
from cmdesk.retail.choices import BusinessFormat, MarketType, RetailerStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    tree = build_org_tree()
    cm_a = StaffFactory(role=Role.CM, org_unit=tree.area_a1, name="张三")
    cm_b = StaffFactory(role=Role.CM, org_unit=tree.area_b1, name="王五")
    route_a = RouteFactory(org_unit=tree.area_a1, cm=cm_a, order_weekdays=[0, 3])
    route_b = RouteFactory(org_unit=tree.area_b1, cm=cm_b)
    RetailerFactory(route=route_a)
    RetailerFactory(route=route_a, status=RetailerStatus.SUSPENDED, business_format=BusinessFormat.SUPERMARKET)
    RetailerFactory(route=route_b, market_type=MarketType.RURAL)
    return SimpleNamespace(
        tree=tree,
        cm_a=cm_a,
        cm_b=cm_b,
        route_a=route_a,
        route_b=route_b,
        head_a=StaffFactory(role=Role.HEAD, org_unit=tree.dept_a, name="赵主任"),
        clerk_b=StaffFactory(role=Role.CLERK, org_unit=tree.branch_b),
        centre=StaffFactory(role=Role.CENTRE, org_unit=tree.centre),
        inspector_a=StaffFactory(role=Role.INSPECTOR, org_unit=tree.dept_a),
    )


def get_home(client, staff):
    client.force_login(staff.user)
    response = client.get(reverse("core:home"))
    assert response.status_code == 200
    return response


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(reverse("core:home"))
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next=/"


def test_user_without_staff_profile_gets_a_notice(client, db):
    client.force_login(user_without_role())
    response = client.get(reverse("core:home"))
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "core/home/none.html"


def test_cm_home(client, w):
    response = get_home(client, w.cm_a)
    assert response.context["routes"] == [w.route_a]
    assert response.context["routes"][0].retailer_count == 2
    assert {row["value"]: row["n"] for row in response.context["by_status"]} == {"normal": 1, "suspended": 1}
    content = response.content.decode()
    assert w.route_a.code in content and w.route_b.code not in content
    assert 'action="/retail/retailers/"' in content  # the quick search box
    assert "周一, 周四" in content  # order weekdays [0, 3], in the default zh-Hans


def test_head_home(client, w):
    response = get_home(client, w.head_a)
    assert response.context["routes"] == [w.route_a]
    assert [cm.pk for cm in response.context["cms"]] == [w.cm_a.pk]
    assert response.context["cms"][0].retailer_count == 2
    assert response.context["chart_format"] == [
        {"name": str(BusinessFormat.GROCERY.label), "value": 1},
        {"name": str(BusinessFormat.SUPERMARKET.label), "value": 1},
    ]
    content = response.content.decode()
    assert 'id="chart-format"' in content and "vendor/echarts/echarts.min.js" in content


def test_clerk_home_is_the_branch(client, w):
    response = get_home(client, w.clerk_b)
    assert response.context["routes"] == [w.route_b]
    assert response.context["chart_market"] == [{"name": str(MarketType.RURAL.label), "value": 1}]


def test_centre_home_is_the_city(client, w):
    response = get_home(client, w.centre)
    branches = {row["unit"].pk: (row["routes"], row["cms"], row["retailers"]) for row in response.context["branches"]}
    assert branches == {w.tree.branch_a.pk: (1, 1, 2), w.tree.branch_b.pk: (1, 1, 1)}
    assert response.context["totals"] == {"routes": 2, "cms": 2, "retailers": 3}
    roles = {row["value"]: row["n"] for row in response.context["by_role"]}
    assert roles == {"cm": 2, "head": 1, "clerk": 1, "centre": 1, "inspector": 1}


def test_inspector_home(client, w):
    response = get_home(client, w.inspector_a)
    assert {row["value"]: row["n"] for row in response.context["by_status"]} == {"normal": 1, "suspended": 1}
    assert response.context["retailer_total"] == 2


@pytest.mark.parametrize("who", ["cm_a", "head_a", "centre", "inspector_a"])
def test_home_query_count_does_not_grow_with_data(client, w, who):
    staff = getattr(w, who)
    client.force_login(staff.user)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("core:home"))
    for i in range(10):
        cm = StaffFactory(role=Role.CM, org_unit=w.tree.area_a2 if i % 2 else w.tree.area_b1)
        route = RouteFactory(org_unit=cm.org_unit, cm=cm)
        RetailerFactory(route=route)
        RetailerFactory(route=w.route_a)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("core:home"))
    assert len(many.captured_queries) == len(few.captured_queries) <= 20  # of which up to 4 the supply counts
