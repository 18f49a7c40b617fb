"""Product pages: everyone with a role reads the catalogue; only the marketing centre edits it, via product_save."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cmdesk.catalog.models import Product
from cmdesk.core.tests.factories import ProductFactory, StaffFactory, build_org_tree, user_without_role
from cmdesk.org.choices import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    tree = build_org_tree()
    return SimpleNamespace(
        tree=tree,
        cm=StaffFactory(role=Role.CM, org_unit=tree.area_a1),
        head=StaffFactory(role=Role.HEAD, org_unit=tree.dept_a),
        centre=StaffFactory(role=Role.CENTRE, org_unit=tree.centre),
        product=ProductFactory(name="示范(硬蓝)", wholesale_price=Decimal("85.00")),
    )


def login(client, staff):
    client.force_login(staff.user)
    return client


def snapshot(obj):
    obj = type(obj).objects.get(pk=obj.pk)
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def product_post_data(product: Product, **overrides) -> dict:
    data = {
        "code": product.code,
        "name": product.name,
        "brand": product.brand,
        "manufacturer": product.manufacturer,
        "wholesale_price": product.wholesale_price,
        "retail_price": product.retail_price,
        "tar_mg": "",
        "provincial": "on" if product.provincial else "",
        "key_brand": "",
        "scarce": "",
        "launched_on": "",
        "status": product.status,
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "name, needs_pk",
    [
        ("catalog:product_list", False),
        ("catalog:product_add", False),
        ("catalog:product_detail", True),
        ("catalog:product_edit", True),
    ],
)
def test_anonymous_is_sent_to_login(client, w, name, needs_pk):
    url = reverse(name, args=[w.product.pk] if needs_pk else [])
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


def test_list_without_permission_is_forbidden(client, w):
    client.force_login(user_without_role())
    assert client.get(reverse("catalog:product_list")).status_code == 403
    assert client.get(reverse("catalog:product_detail", args=[w.product.pk])).status_code == 403


def test_list_and_detail_for_a_cm(client, w):
    login(client, w.cm)
    response = client.get(reverse("catalog:product_list"), {"q": "硬蓝"})
    assert response.status_code == 200
    assert [row.record for row in response.context["table"].page.object_list] == [w.product]
    assert response.context["add_url"] is None
    response = client.get(reverse("catalog:product_detail", args=[w.product.pk]))
    assert response.status_code == 200
    assert "二类" in response.content.decode()  # 85 yuan a carton: class 2 (70–100)
    assert response.context["edit_url"] is None


def test_missing_product_is_404(client, w):
    login(client, w.centre)
    assert client.get(reverse("catalog:product_detail", args=[999999])).status_code == 404
    assert client.get(reverse("catalog:product_edit", args=[999999])).status_code == 404


def test_list_query_count_does_not_grow_with_rows(client, w, django_assert_max_num_queries):
    login(client, w.cm)
    url = reverse("catalog:product_list")
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(30):
        ProductFactory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.context["table"].paginator.count == 31


@pytest.mark.parametrize("who", ["cm", "head"])
def test_edit_without_permission_is_forbidden_and_changes_nothing(client, w, who):
    before = snapshot(w.product)
    login(client, getattr(w, who))
    url = reverse("catalog:product_edit", args=[w.product.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, product_post_data(w.product, name="改名")).status_code == 403
    assert client.post(reverse("catalog:product_add"), product_post_data(w.product, code="X1")).status_code == 403
    assert snapshot(w.product) == before
    assert Product.objects.count() == 1


def test_centre_edits_and_the_price_class_is_derived(client, w):
    url = reverse("catalog:product_edit", args=[w.product.pk])
    login(client, w.centre)
    assert client.get(url).status_code == 200
    response = client.post(url, product_post_data(w.product, wholesale_price="120.00", retail_price="150.00"))
    assert response.status_code == 302
    product = Product.objects.select_related("price_class").get(pk=w.product.pk)
    assert (product.wholesale_price, product.price_class.name) == (Decimal("120.00"), "一类")
    detail = client.get(reverse("catalog:product_detail", args=[product.pk]))
    changed = {c["field"] for c in detail.context["history"][0]["changes"]}
    assert {"wholesale_price", "price_class"} <= changed


def test_invalid_price_is_a_field_error(client, w):
    before = snapshot(w.product)
    url = reverse("catalog:product_edit", args=[w.product.pk])
    response = login(client, w.centre).post(url, product_post_data(w.product, wholesale_price="0"))
    assert response.status_code == 200
    assert "wholesale_price" in response.context["form"].errors
    assert snapshot(w.product) == before


def test_centre_creates_a_product(client, w):
    data = product_post_data(w.product, code="6901234567890", name="示范(细支)", wholesale_price="20.00")
    response = login(client, w.centre).post(reverse("catalog:product_add"), data)
    assert response.status_code == 302
    product = Product.objects.get(code="6901234567890")
    assert response.url == product.get_absolute_url()
    assert product.price_class.name == "四类"
