"""Retailer and route pages: login, permission (403), scope (404, nothing written), validation, search, query counts."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cmdesk.core.tests.factories import (
    RetailerFactory,
    RouteFactory,
    StaffFactory,
    build_org_tree,
    user_without_role,
)
from cmdesk.org.choices import Role
from cmdesk.retail.models import Retailer, Route, RouteAssignment, TierChange
from cmdesk.retail.services import search_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    """Branch A (department A, areas A1/A2) and branch B, a CM on each side, a head, a clerk and an inspector in A."""
    tree = build_org_tree()
    cm_a = StaffFactory(role=Role.CM, org_unit=tree.area_a1, name="张三")
    cm_a2 = StaffFactory(role=Role.CM, org_unit=tree.area_a2, name="李四")
    cm_b = StaffFactory(role=Role.CM, org_unit=tree.area_b1, name="王五")
    route_a = RouteFactory(org_unit=tree.area_a1, cm=cm_a)
    route_a2 = RouteFactory(org_unit=tree.area_a2, cm=cm_a2)
    route_b = RouteFactory(org_unit=tree.area_b1, cm=cm_b)
    return SimpleNamespace(
        tree=tree,
        cm_a=cm_a,
        cm_a2=cm_a2,
        cm_b=cm_b,
        head_a=StaffFactory(role=Role.HEAD, org_unit=tree.dept_a),
        clerk_a=StaffFactory(role=Role.CLERK, org_unit=tree.area_a1),
        inspector_a=StaffFactory(role=Role.INSPECTOR, org_unit=tree.dept_a),
        route_a=route_a,
        route_a2=route_a2,
        route_b=route_b,
        retailer_a=RetailerFactory(route=route_a),
        retailer_a2=RetailerFactory(route=route_a2),
        retailer_b=RetailerFactory(route=route_b),
    )


def rows(response, name="table"):
    """The records on the page of the named table in the response's context."""
    return [row.record for row in response.context[name].page.object_list]


def login(client, staff):
    client.force_login(staff.user)
    return client


def snapshot(obj):
    """Every concrete field's value, to assert that a refused request changed nothing."""
    obj = type(obj).objects.get(pk=obj.pk)
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def retailer_post_data(retailer: Retailer, **overrides) -> dict:
    """A complete, valid form submission for a head or clerk (all retailer fields)."""
    data = {
        "licence_no": retailer.licence_no,
        "shop_name": retailer.shop_name,
        "owner_name": retailer.owner_name,
        "phone": retailer.phone,
        "address": retailer.address,
        "route": retailer.route_id,
        "visit_order": retailer.visit_order,
        "market_type": retailer.market_type,
        "business_format": retailer.business_format,
        "floor_area": "",
        "display_fixtures": "",
        "order_method": retailer.order_method,
        "settlement_method": retailer.settlement_method,
        "settlement_account": "",
        "tier": retailer.tier or "",
        "credit_grade": retailer.credit_grade,
        "status": retailer.status,
        "latitude": retailer.latitude,
        "longitude": retailer.longitude,
        "opened_on": "",
        "closed_on": "",
        "reason": "",
    }
    data.update(overrides)
    return {k: ("" if v is None else v) for k, v in data.items()}


CM_FIELDS = (
    "shop_name",
    "owner_name",
    "phone",
    "address",
    "latitude",
    "longitude",
    "business_format",
    "floor_area",
    "display_fixtures",
    "order_method",
    "settlement_method",
    "opened_on",
)


def cm_post_data(retailer: Retailer, **overrides) -> dict:
    data = {k: v for k, v in retailer_post_data(retailer).items() if k in CM_FIELDS}
    data.update(overrides)
    return data


# --- login and permission --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, needs_pk",
    [
        ("retail:retailer_list", False),
        ("retail:retailer_add", False),
        ("retail:retailer_detail", True),
        ("retail:retailer_edit", True),
        ("retail:route_list", False),
        ("retail:route_add", False),
        ("retail:route_detail", True),
        ("retail:route_edit", True),
        ("retail:route_assign", True),
    ],
)
def test_anonymous_is_sent_to_login(client, w, name, needs_pk):
    pk = w.retailer_a.pk if name.startswith("retail:retailer") else w.route_a.pk
    url = reverse(name, args=[pk] if needs_pk else [])
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", ["retail:retailer_list", "retail:route_list"])
def test_list_without_permission_is_forbidden(client, w, name):
    client.force_login(user_without_role())
    assert client.get(reverse(name)).status_code == 403


def test_retailer_list_shows_only_the_cms_own_retailers(client, w):
    response = login(client, w.cm_a).get(reverse("retail:retailer_list"))
    assert response.status_code == 200
    records = rows(response)
    assert records == [w.retailer_a]
    assert w.retailer_a.licence_no in response.content.decode()
    assert w.retailer_b.licence_no not in response.content.decode()


def test_retailer_list_for_a_head_is_the_department(client, w):
    response = login(client, w.head_a).get(reverse("retail:retailer_list"))
    assert response.status_code == 200
    assert {r.pk for r in rows(response)} == {w.retailer_a.pk, w.retailer_a2.pk}


def test_route_list_for_a_clerk_is_the_branch(client, w):
    response = login(client, w.clerk_a).get(reverse("retail:route_list"))
    assert response.status_code == 200
    assert {r.pk for r in rows(response)} == {w.route_a.pk, w.route_a2.pk}
    assert response.context["add_url"] == reverse("retail:route_add")  # clerks may add routes


def test_retailer_list_htmx_renders_only_the_results(client, w):
    response = login(client, w.head_a).get(reverse("retail:retailer_list"), {"q": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content
    assert w.retailer_a.licence_no in content


def test_retailer_list_shows_cards_for_phones(client, w):
    content = login(client, w.cm_a).get(reverse("retail:retailer_list")).content.decode()
    assert "retailer-card" in content
    assert f'href="tel:{w.retailer_a.phone}"' in content


# --- search ----------------------------------------------------------------------------------------------------------


def test_search_by_pinyin_initials(client, w):
    other = RetailerFactory(route=w.route_a, shop_name="王家超市", owner_name="王小二")
    Retailer.objects.filter(pk=w.retailer_a.pk).update(
        shop_name="黄记烟酒", search_key=search_key("黄记烟酒", "黄大明")
    )
    response = login(client, w.cm_a).get(reverse("retail:retailer_list"), {"q": "hjyj"})
    assert response.status_code == 200
    assert [r.pk for r in rows(response)] == [w.retailer_a.pk]
    response = client.get(reverse("retail:retailer_list"), {"q": "wjcs"})
    assert [r.pk for r in rows(response)] == [other.pk]


def test_search_by_licence_number_and_owner(client, w):
    login(client, w.head_a)
    response = client.get(reverse("retail:retailer_list"), {"q": w.retailer_a2.licence_no})
    assert [r.pk for r in rows(response)] == [w.retailer_a2.pk]
    # out of scope: searching a licence number of branch B finds nothing
    response = client.get(reverse("retail:retailer_list"), {"q": w.retailer_b.licence_no})
    assert rows(response) == []


def test_search_never_leaves_scope(client, w):
    response = login(client, w.cm_a).get(reverse("retail:retailer_list"), {"q": "hj"})
    assert {r.pk for r in rows(response)} == {w.retailer_a.pk}


# --- detail ----------------------------------------------------------------------------------------------------------


def test_retailer_detail_in_scope(client, w):
    TierChange.objects.create(retailer=w.retailer_a, tier_from=9, tier_to=10, effective="2025-01-01", reason="升档")
    response = login(client, w.cm_a).get(reverse("retail:retailer_detail", args=[w.retailer_a.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert w.retailer_a.shop_name in content
    assert w.cm_a.name in content
    assert "升档" in content
    assert "geo:27.500000,110.000000" in content
    assert response.context["edit_url"] == reverse("retail:retailer_edit", args=[w.retailer_a.pk])


@pytest.mark.parametrize("who", ["cm_a", "head_a", "inspector_a"])
def test_retailer_detail_out_of_scope_is_404(client, w, who):
    response = login(client, getattr(w, who)).get(reverse("retail:retailer_detail", args=[w.retailer_b.pk]))
    assert response.status_code == 404


def test_retailer_detail_missing_is_404(client, w):
    assert login(client, w.head_a).get(reverse("retail:retailer_detail", args=[999999])).status_code == 404


def test_inspector_reads_but_does_not_edit(client, w):
    login(client, w.inspector_a)
    response = client.get(reverse("retail:retailer_detail", args=[w.retailer_a.pk]))
    assert response.status_code == 200
    assert response.context["edit_url"] is None
    assert client.get(reverse("retail:retailer_edit", args=[w.retailer_a.pk])).status_code == 403


def test_route_detail_lists_retailers_in_visit_order_and_assignments(client, w):
    Retailer.objects.filter(pk=w.retailer_a.pk).update(visit_order=50)
    later = RetailerFactory(route=w.route_a, visit_order=100)
    earlier = RetailerFactory(route=w.route_a, visit_order=1)
    RouteAssignment.objects.create(route=w.route_a, cm=w.cm_a, started="2024-01-01", reason="新线路")
    response = login(client, w.cm_a).get(reverse("retail:route_detail", args=[w.route_a.pk]))
    assert response.status_code == 200
    records = [r.pk for r in rows(response, "retailer_table")]
    assert records == [earlier.pk, w.retailer_a.pk, later.pk]
    assert w.retailer_b.pk not in records
    assert "新线路" in response.content.decode()
    assert response.context["edit_url"] is None  # a CM may view its route, not change it


@pytest.mark.parametrize("who", ["cm_a", "head_a"])
def test_route_detail_out_of_scope_is_404(client, w, who):
    assert login(client, getattr(w, who)).get(reverse("retail:route_detail", args=[w.route_b.pk])).status_code == 404


# --- retailer edit ---------------------------------------------------------------------------------------------------


def test_retailer_edit_in_scope_get(client, w):
    response = login(client, w.head_a).get(reverse("retail:retailer_edit", args=[w.retailer_a.pk]))
    assert response.status_code == 200
    form = response.context["form"]
    assert "route" in form.fields and "tier" in form.fields
    assert set(form.fields["route"].queryset) == {w.route_a, w.route_a2}  # choices are scoped


@pytest.mark.parametrize("who", ["cm_a", "head_a", "clerk_a"])
def test_retailer_edit_out_of_scope_is_404_and_changes_nothing(client, w, who):
    url = reverse("retail:retailer_edit", args=[w.retailer_b.pk])
    before = snapshot(w.retailer_b)
    login(client, getattr(w, who))
    assert client.get(url).status_code == 404
    response = client.post(url, retailer_post_data(w.retailer_b, shop_name="改名", phone="13000000000"))
    assert response.status_code == 404
    assert snapshot(w.retailer_b) == before


def test_retailer_edit_saves_through_the_service_and_shows_in_history(client, w):
    url = reverse("retail:retailer_edit", args=[w.retailer_a.pk])
    login(client, w.head_a)
    response = client.post(url, retailer_post_data(w.retailer_a, tier=12, phone="13800001111", reason="销量增长"))
    assert response.status_code == 302
    assert response.url == reverse("retail:retailer_detail", args=[w.retailer_a.pk])
    retailer = Retailer.objects.get(pk=w.retailer_a.pk)
    assert (retailer.tier, retailer.phone) == (12, "13800001111")
    change = TierChange.objects.get(retailer=retailer)
    assert (change.tier_from, change.tier_to, change.reason, change.recorded_by) == (10, 12, "销量增长", w.head_a.user)

    detail = client.get(reverse("retail:retailer_detail", args=[retailer.pk]))
    history = detail.context["history"]
    assert history[0]["entry"].actor == w.head_a.user
    assert history[0]["entry"].cid  # the request id
    changed = {c["field"]: (c["before"], c["after"]) for c in history[0]["changes"]}
    assert changed["phone"] == (w.retailer_a.phone, "13800001111")
    content = detail.content.decode()
    assert "13800001111" in content and 'id="pane-history"' in content
    assert history[0]["entry"].cid[:12] in content
    assert w.head_a.name in content  # the actor by its staff name


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"licence_no": "12AB"}, "licence_no"),
        ({"latitude": "95"}, "latitude"),
        ({"longitude": "-181"}, "longitude"),
        ({"tier": "31"}, "tier"),
    ],
)
def test_retailer_edit_invalid_values_are_field_errors(client, w, overrides, field):
    before = snapshot(w.retailer_a)
    url = reverse("retail:retailer_edit", args=[w.retailer_a.pk])
    response = login(client, w.head_a).post(url, retailer_post_data(w.retailer_a, **overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert snapshot(w.retailer_a) == before


def test_retailer_edit_duplicate_licence_is_a_field_error(client, w):
    before = snapshot(w.retailer_a)
    url = reverse("retail:retailer_edit", args=[w.retailer_a.pk])
    response = login(client, w.head_a).post(url, retailer_post_data(w.retailer_a, licence_no=w.retailer_a2.licence_no))
    assert response.status_code == 200
    assert "licence_no" in response.context["form"].errors
    assert snapshot(w.retailer_a) == before


def test_retailer_edit_route_out_of_scope_is_not_a_choice(client, w):
    before = snapshot(w.retailer_a)
    url = reverse("retail:retailer_edit", args=[w.retailer_a.pk])
    response = login(client, w.head_a).post(url, retailer_post_data(w.retailer_a, route=w.route_b.pk))
    assert response.status_code == 200
    assert "route" in response.context["form"].errors
    assert snapshot(w.retailer_a) == before


def test_cm_form_offers_only_cm_fields(client, w):
    response = login(client, w.cm_a).get(reverse("retail:retailer_edit", args=[w.retailer_a.pk]))
    assert response.status_code == 200
    assert set(response.context["form"].fields) == set(CM_FIELDS)
    content = response.content.decode()
    assert 'name="route"' not in content and 'name="tier"' not in content and 'name="licence_no"' not in content


def test_cm_crafted_post_cannot_change_route_or_tier(client, w):
    url = reverse("retail:retailer_edit", args=[w.retailer_a.pk])
    data = cm_post_data(w.retailer_a, phone="13911112222")
    data.update({"route": w.route_a2.pk, "tier": 30, "status": "cancelled", "licence_no": "430199999999"})
    response = login(client, w.cm_a).post(url, data)
    assert response.status_code == 302  # the allowed change is saved, the rest is not on the form
    retailer = Retailer.objects.get(pk=w.retailer_a.pk)
    assert retailer.phone == "13911112222"
    assert (retailer.route_id, retailer.tier, retailer.status, retailer.licence_no) == (
        w.route_a.pk,
        10,
        "normal",
        w.retailer_a.licence_no,
    )
    assert not TierChange.objects.exists()


def test_cm_cannot_add_retailers(client, w):
    login(client, w.cm_a)
    assert client.get(reverse("retail:retailer_add")).status_code == 403
    count = Retailer.objects.count()
    data = retailer_post_data(w.retailer_a, licence_no="430100009999")
    assert client.post(reverse("retail:retailer_add"), data).status_code == 403
    assert Retailer.objects.count() == count


def test_head_creates_a_retailer_with_an_initial_tier(client, w):
    template = RetailerFactory.build(route=w.route_a2, licence_no="430100001234", shop_name="新开便利店", tier=5)
    response = login(client, w.head_a).post(reverse("retail:retailer_add"), retailer_post_data(template))
    assert response.status_code == 302
    retailer = Retailer.objects.get(licence_no="430100001234")
    assert response.url == retailer.get_absolute_url()
    assert retailer.route == w.route_a2
    assert retailer.search_key.startswith("xkbld")
    assert TierChange.objects.get(retailer=retailer).source == TierChange.Source.INITIAL


def test_head_cannot_create_a_retailer_on_a_route_out_of_scope(client, w):
    template = RetailerFactory.build(route=w.route_b, licence_no="430100001235")
    response = login(client, w.head_a).post(reverse("retail:retailer_add"), retailer_post_data(template))
    assert response.status_code == 200
    assert "route" in response.context["form"].errors
    assert not Retailer.objects.filter(licence_no="430100001235").exists()


# --- routes ----------------------------------------------------------------------------------------------------------


def route_post_data(route: Route, **overrides) -> dict:
    data = {
        "name": route.name,
        "org_unit": route.org_unit_id,
        "market_type": route.market_type,
        "length_km": route.length_km,
        "visit_cycle_days": route.visit_cycle_days,
        "order_weekdays": route.order_weekdays,
        "delivery_weekdays": route.delivery_weekdays,
        "active": "on" if route.active else "",
    }
    data.update(overrides)
    return data


def test_route_edit_saves_through_the_service(client, w):
    url = reverse("retail:route_edit", args=[w.route_a.pk])
    login(client, w.head_a)
    assert client.get(url).status_code == 200
    response = client.post(url, route_post_data(w.route_a, name="东线", order_weekdays=[3, 0], length_km="42.5"))
    assert response.status_code == 302
    route = Route.objects.get(pk=w.route_a.pk)
    assert (route.name, route.order_weekdays, route.length_km) == ("东线", [0, 3], Decimal("42.5"))


def test_route_edit_org_unit_out_of_scope_is_refused(client, w):
    before = snapshot(w.route_a)
    url = reverse("retail:route_edit", args=[w.route_a.pk])
    response = login(client, w.head_a).post(url, route_post_data(w.route_a, org_unit=w.tree.area_b1.pk))
    assert response.status_code == 200
    assert "org_unit" in response.context["form"].errors
    assert snapshot(w.route_a) == before


@pytest.mark.parametrize("name", ["retail:route_edit", "retail:route_assign"])
def test_route_writes_out_of_scope_are_404_and_change_nothing(client, w, name):
    url = reverse(name, args=[w.route_b.pk])
    before = snapshot(w.route_b)
    login(client, w.head_a)
    assert client.get(url).status_code == 404
    data = route_post_data(w.route_b, name="改名") | {"cm": w.cm_a.pk, "started": "2025-01-01", "reason": "x"}
    assert client.post(url, data).status_code == 404
    assert snapshot(w.route_b) == before
    assert not RouteAssignment.objects.exists()


def test_cm_cannot_edit_routes(client, w):
    login(client, w.cm_a)
    assert client.get(reverse("retail:route_edit", args=[w.route_a.pk])).status_code == 403
    assert client.post(reverse("retail:route_assign", args=[w.route_a.pk]), {"cm": w.cm_a2.pk}).status_code == 403


def test_route_assign_keeps_history(client, w):
    RouteAssignment.objects.create(route=w.route_a2, cm=w.cm_a2, started="2024-01-01")
    url = reverse("retail:route_assign", args=[w.route_a2.pk])
    login(client, w.head_a)
    response = client.get(url)
    assert response.status_code == 200
    assert set(response.context["form"].fields["cm"].queryset) == {w.cm_a, w.cm_a2}  # CMs in scope only
    response = client.post(url, {"cm": w.cm_a.pk, "started": "2025-03-01", "reason": "调整片区"})
    assert response.status_code == 302
    route = Route.objects.get(pk=w.route_a2.pk)
    assert route.cm == w.cm_a
    old, new = RouteAssignment.objects.filter(route=route).order_by("started")
    assert (str(old.ended), new.cm, new.reason) == ("2025-03-01", w.cm_a, "调整片区")


def test_route_assign_service_error_shows_on_the_form(client, w):
    RouteAssignment.objects.create(route=w.route_a2, cm=w.cm_a2, started="2025-06-01")
    url = reverse("retail:route_assign", args=[w.route_a2.pk])
    response = login(client, w.head_a).post(url, {"cm": w.cm_a.pk, "started": "2025-01-01", "reason": "x"})
    assert response.status_code == 200
    assert "started" in response.context["form"].errors
    assert Route.objects.get(pk=w.route_a2.pk).cm == w.cm_a2


def test_route_assign_cm_out_of_scope_is_not_a_choice(client, w):
    url = reverse("retail:route_assign", args=[w.route_a2.pk])
    response = login(client, w.head_a).post(url, {"cm": w.cm_b.pk, "started": "2025-01-01", "reason": "x"})
    assert response.status_code == 200
    assert "cm" in response.context["form"].errors
    assert Route.objects.get(pk=w.route_a2.pk).cm == w.cm_a2


def test_clerk_creates_a_route(client, w):
    data = route_post_data(RouteFactory.build(org_unit=w.tree.area_a2), code="RNEW", name="新线路")
    response = login(client, w.clerk_a).post(reverse("retail:route_add"), data)
    assert response.status_code == 302
    assert Route.objects.get(code="RNEW").org_unit == w.tree.area_a2


# --- query counts ----------------------------------------------------------------------------------------------------


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_retailer_list_query_count_does_not_grow_with_rows(client, w, django_assert_max_num_queries):
    login(client, w.head_a)
    url = reverse("retail:retailer_list")
    few = _count_queries(client, url)
    for i in range(30):
        RetailerFactory(route=w.route_a if i % 2 else w.route_a2)
    with django_assert_max_num_queries(14):
        response = client.get(url)
    assert response.context["table"].paginator.count == 32
    assert _count_queries(client, url) == few


def test_route_list_query_count_does_not_grow_with_rows(client, w, django_assert_max_num_queries):
    login(client, w.clerk_a)
    url = reverse("retail:route_list")
    few = _count_queries(client, url)
    for _ in range(30):
        RouteFactory(org_unit=w.tree.area_a1, cm=w.cm_a)
    with django_assert_max_num_queries(14):
        client.get(url)
    assert _count_queries(client, url) == few
