"""The API under every role: anonymous, no permission, in scope, out of scope; writes validated and audited."""

import pytest
from auditlog.models import LogEntry
from rest_framework.test import APIClient

from cmdesk.core.tests.factories import (
    ProductFactory,
    RetailerFactory,
    RouteFactory,
    StaffFactory,
    build_org_tree,
    user_without_role,
)
from cmdesk.org.choices import Role
from cmdesk.retail.models import Retailer, Route, TierChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    tree = build_org_tree()
    cm = StaffFactory(role=Role.CM, org_unit=tree.area_a1)
    other_cm = StaffFactory(role=Role.CM, org_unit=tree.area_b1)
    mine = RouteFactory(org_unit=tree.area_a1, cm=cm)
    theirs = RouteFactory(org_unit=tree.area_b1, cm=other_cm)
    return {
        "tree": tree,
        "cm": cm,
        "other_cm": other_cm,
        "mine": mine,
        "theirs": theirs,
        "my_shop": RetailerFactory(route=mine, shop_name="黄记烟酒", owner_name="黄大明"),
        "their_shop": RetailerFactory(route=theirs),
    }


def client_for(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def snapshot(obj):
    obj.refresh_from_db()
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.parametrize("url", ["/api/retailers/", "/api/routes/", "/api/staff/", "/api/products/"])
def test_anonymous_is_refused(world, url):
    response = client_for().get(url)
    assert response.status_code == 403
    assert (
        response.json()["detail"].startswith("Authentication credentials were not provided")
        or response.json()["detail"]
    )


@pytest.mark.parametrize("url", ["/api/retailers/", "/api/routes/", "/api/staff/", "/api/products/"])
def test_no_permission_is_forbidden(world, url):
    assert client_for(user_without_role()).get(url).status_code == 403


def test_cm_lists_only_its_retailers(world):
    response = client_for(world["cm"].user).get("/api/retailers/")
    assert response.status_code == 200
    assert [r["licence_no"] for r in response.json()["results"]] == [world["my_shop"].licence_no]


def test_cm_reads_in_scope_and_gets_404_out_of_scope(world):
    client = client_for(world["cm"].user)
    assert client.get(f"/api/retailers/{world['my_shop'].pk}/").status_code == 200
    assert client.get(f"/api/retailers/{world['their_shop'].pk}/").status_code == 404
    assert client.get("/api/retailers/999999/").status_code == 404
    assert client.get(f"/api/routes/{world['theirs'].pk}/").status_code == 404
    assert client.get(f"/api/staff/{world['other_cm'].pk}/").status_code == 404


def test_cm_cannot_change_an_out_of_scope_retailer(world):
    shop = world["their_shop"]
    before = snapshot(shop)
    response = client_for(world["cm"].user).patch(f"/api/retailers/{shop.pk}/", {"phone": "13900000000"}, format="json")
    assert response.status_code == 404
    assert snapshot(shop) == before


def test_cm_edits_its_retailer_and_the_change_is_audited(world):
    shop = world["my_shop"]
    response = client_for(world["cm"].user).patch(
        f"/api/retailers/{shop.pk}/", {"phone": "13912345678"}, format="json", HTTP_X_REQUEST_ID="req-42"
    )
    assert response.status_code == 200, response.json()
    shop.refresh_from_db()
    assert shop.phone == "13912345678"
    entry = LogEntry.objects.get_for_object(shop).get(action=LogEntry.Action.UPDATE)
    assert entry.actor == world["cm"].user
    assert entry.changes_dict["phone"][1] == "13912345678"
    assert entry.cid == "req-42"


def test_cm_cannot_move_a_retailer_or_change_its_tier(world):
    shop = world["my_shop"]
    before = snapshot(shop)
    client = client_for(world["cm"].user)
    response = client.patch(f"/api/retailers/{shop.pk}/", {"tier": 30}, format="json")
    assert response.status_code == 400
    assert "tier" in response.json()
    response = client.patch(f"/api/retailers/{shop.pk}/", {"route": world["theirs"].pk}, format="json")
    assert response.status_code == 400
    assert snapshot(shop) == before


def test_head_changes_tier_with_history(world):
    head = StaffFactory(role=Role.HEAD, org_unit=world["tree"].dept_a)
    shop = world["my_shop"]
    response = client_for(head.user).patch(
        f"/api/retailers/{shop.pk}/", {"tier": 12, "reason": "volume up for 3 months"}, format="json"
    )
    assert response.status_code == 200, response.json()
    change = TierChange.objects.get(retailer=shop)
    assert (change.tier_from, change.tier_to, change.reason) == (10, 12, "volume up for 3 months")


def test_head_cannot_move_a_retailer_out_of_its_department(world):
    head = StaffFactory(role=Role.HEAD, org_unit=world["tree"].dept_a)
    shop = world["my_shop"]
    before = snapshot(shop)
    response = client_for(head.user).patch(f"/api/retailers/{shop.pk}/", {"route": world["theirs"].pk}, format="json")
    assert response.status_code == 400
    assert snapshot(shop) == before


def test_inspector_reads_but_cannot_write(world):
    inspector = StaffFactory(role=Role.INSPECTOR, org_unit=world["tree"].branch_a)
    client = client_for(inspector.user)
    shop = world["my_shop"]
    before = snapshot(shop)
    assert client.get(f"/api/retailers/{shop.pk}/").status_code == 200
    assert client.get(f"/api/retailers/{world['their_shop'].pk}/").status_code == 404
    assert client.patch(f"/api/retailers/{shop.pk}/", {"phone": "1"}, format="json").status_code == 403
    assert client.get("/api/staff/").status_code == 403
    assert snapshot(shop) == before


def new_retailer_payload(route, **overrides):
    payload = {
        "licence_no": "433109123456",
        "shop_name": "兴旺便民店",
        "owner_name": "李小红",
        "market_type": "rural",
        "business_format": "grocery",
        "route": route.pk,
        "latitude": "27.512345",
        "longitude": "110.123456",
    }
    payload.update(overrides)
    return payload


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"licence_no": "12AB"}, "licence_no"),
        ({"licence_no": "4331091234567"}, "licence_no"),
        ({"latitude": "95.000000"}, "latitude"),
        ({"longitude": "-181.000000"}, "longitude"),
    ],
)
def test_bad_retailer_input_gets_a_field_error_and_saves_nothing(world, overrides, field):
    head = StaffFactory(role=Role.HEAD, org_unit=world["tree"].dept_a)
    count = Retailer.objects.count()
    response = client_for(head.user).post(
        "/api/retailers/", new_retailer_payload(world["mine"], **overrides), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert Retailer.objects.count() == count


def test_duplicate_licence_is_refused(world):
    head = StaffFactory(role=Role.HEAD, org_unit=world["tree"].dept_a)
    payload = new_retailer_payload(world["mine"], licence_no=world["their_shop"].licence_no)
    count = Retailer.objects.count()
    response = client_for(head.user).post("/api/retailers/", payload, format="json")
    assert response.status_code == 400
    assert "licence_no" in response.json()
    assert Retailer.objects.count() == count


def test_head_creates_a_retailer_in_scope_only(world):
    head = StaffFactory(role=Role.HEAD, org_unit=world["tree"].dept_a)
    client = client_for(head.user)
    response = client.post("/api/retailers/", new_retailer_payload(world["mine"], tier=5), format="json")
    assert response.status_code == 201, response.json()
    created = Retailer.objects.get(licence_no="433109123456")
    assert created.search_key.startswith("xwbmd ")
    assert TierChange.objects.get(retailer=created).tier_to == 5
    response = client.post(
        "/api/retailers/", new_retailer_payload(world["theirs"], licence_no="433109123457"), format="json"
    )
    assert response.status_code == 400
    assert "route" in response.json()
    assert not Retailer.objects.filter(licence_no="433109123457").exists()


def test_search_by_pinyin_initials(world):
    response = client_for(world["cm"].user).get("/api/retailers/", {"q": "hjyj"})
    assert [r["id"] for r in response.json()["results"]] == [world["my_shop"].pk]


def test_route_assignment_keeps_history(world):
    head = StaffFactory(role=Role.HEAD, org_unit=world["tree"].dept_a)
    new_cm = StaffFactory(role=Role.CM, org_unit=world["tree"].area_a2)
    route = world["mine"]
    response = client_for(head.user).post(
        f"/api/routes/{route.pk}/assign/",
        {"cm": new_cm.pk, "started": "2026-11-01", "reason": "rotation"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    route.refresh_from_db()
    assert route.cm == new_cm
    history = list(route.assignments.order_by("started").values_list("cm_id", "ended"))
    assert history[-1] == (new_cm.pk, None)


def test_route_assign_to_out_of_scope_cm_is_404_and_changes_nothing(world):
    head = StaffFactory(role=Role.HEAD, org_unit=world["tree"].dept_a)
    route = world["mine"]
    response = client_for(head.user).post(
        f"/api/routes/{route.pk}/assign/", {"cm": world["other_cm"].pk, "started": "2026-11-01"}, format="json"
    )
    assert response.status_code == 404
    assert Route.objects.get(pk=route.pk).cm == world["cm"]


def test_product_price_class_is_derived(world):
    centre = StaffFactory(role=Role.CENTRE, org_unit=world["tree"].centre)
    ProductFactory()  # makes the default bands
    payload = {
        "code": "6901000000001",
        "name": "湘岳(硬)",
        "brand": "湘岳",
        "manufacturer": "本省中烟",
        "wholesale_price": "120.00",
        "retail_price": "150.00",
    }
    response = client_for(centre.user).post("/api/products/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["price_class_name"] == "一类"
    response = client_for(world["cm"].user).post("/api/products/", {**payload, "code": "6901000000002"}, format="json")
    assert response.status_code == 403


def test_openapi_schema_and_docs(world, client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
