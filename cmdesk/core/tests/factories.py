"""Test factories (factory_boy) for the record models, and a small org tree builder.

tree = build_org_tree()            # city, centre, two branches with a department and two areas each
cm = StaffFactory(role=Role.CM, org_unit=tree.area_a1)
route = RouteFactory(org_unit=tree.area_a1, cm=cm)
retailer = RetailerFactory(route=route)
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from cmdesk.catalog.models import PriceBand, Product
from cmdesk.catalog.services import price_bands_ensure_default
from cmdesk.org.choices import OrgKind, Role
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.org.roles import group_name, sync_role_groups
from cmdesk.retail.choices import BusinessFormat, MarketType
from cmdesk.retail.models import Retailer, Route
from cmdesk.retail.services import search_key

PASSWORD = "test-pass-123"


@dataclass
class OrgTree:
    city: OrgUnit
    centre: OrgUnit
    branch_a: OrgUnit
    dept_a: OrgUnit
    area_a1: OrgUnit
    area_a2: OrgUnit
    branch_b: OrgUnit
    dept_b: OrgUnit
    area_b1: OrgUnit


def build_org_tree() -> OrgTree:
    """City → marketing centre; two county branches, each → customer-service department → market areas."""
    city = OrgUnit.objects.new_root(code="C", name="示范市烟草公司", kind=OrgKind.CITY)
    centre = OrgUnit.objects.new_child(city, code="C-MC", name="卷烟营销中心", kind=OrgKind.CENTRE)
    branch_a = OrgUnit.objects.new_child(city, code="A", name="甲县分公司", kind=OrgKind.BRANCH)
    dept_a = OrgUnit.objects.new_child(branch_a, code="A-D", name="甲县客户服务部", kind=OrgKind.DEPARTMENT)
    area_a1 = OrgUnit.objects.new_child(dept_a, code="A-1", name="甲县一片区", kind=OrgKind.AREA)
    area_a2 = OrgUnit.objects.new_child(dept_a, code="A-2", name="甲县二片区", kind=OrgKind.AREA)
    branch_b = OrgUnit.objects.new_child(city, code="B", name="乙县分公司", kind=OrgKind.BRANCH)
    dept_b = OrgUnit.objects.new_child(branch_b, code="B-D", name="乙县客户服务部", kind=OrgKind.DEPARTMENT)
    area_b1 = OrgUnit.objects.new_child(dept_b, code="B-1", name="乙县一片区", kind=OrgKind.AREA)
    return OrgTree(city, centre, branch_a, dept_a, area_a1, area_a2, branch_b, dept_b, area_b1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(factory.django.DjangoModelFactory):
    """A staff member with a login in its role's group (groups are synced after migrate)."""

    class Meta:
        model = Staff
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    employee_no = factory.Sequence(lambda n: f"E{n:05d}")
    name = factory.Sequence(lambda n: f"员工{n}")
    role = Role.CM
    org_unit = factory.LazyFunction(lambda: OrgUnit.objects.filter(depth=1).first())
    birth_date = datetime.date(1984, 5, 1)

    @factory.post_generation
    def groups(obj, create, extracted, **kwargs):
        if not create:
            return
        if not Group.objects.filter(name=group_name(obj.role)).exists():
            sync_role_groups()
        obj.user.groups.add(Group.objects.get(name=group_name(obj.role)))
        if obj.role == Role.ADMIN:
            obj.user.is_superuser = obj.user.is_staff = True
            obj.user.save(update_fields=["is_superuser", "is_staff"])


def user_without_role():
    """A logged-in user with no staff profile and no permissions."""
    return UserFactory()


class RouteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Route

    code = factory.Sequence(lambda n: f"R{n:04d}")
    name = factory.Sequence(lambda n: f"线路{n}")
    market_type = MarketType.RURAL
    length_km = Decimal("30.0")
    visit_cycle_days = 30
    order_weekdays = factory.LazyFunction(lambda: [1])
    delivery_weekdays = factory.LazyFunction(lambda: [2])


class RetailerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Retailer

    licence_no = factory.Sequence(lambda n: f"4301{n:08d}")
    shop_name = factory.Sequence(lambda n: f"黄记烟酒{n}号店")
    owner_name = "黄大明"
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    address = "示范路1号"
    latitude = Decimal("27.500000")
    longitude = Decimal("110.000000")
    market_type = MarketType.URBAN
    business_format = BusinessFormat.GROCERY
    tier = 10
    visit_order = factory.Sequence(lambda n: n)
    search_key = factory.LazyAttribute(lambda o: search_key(o.shop_name, o.owner_name))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    code = factory.Sequence(lambda n: f"69{n:011d}")
    name = factory.Sequence(lambda n: f"示范(硬{n})")
    brand = "示范"
    manufacturer = "示范中烟"
    wholesale_price = Decimal("85.00")
    retail_price = Decimal("100.00")
    price_class = factory.LazyAttribute(lambda o: PriceBand.classify(o.wholesale_price, price_bands_ensure_default()))
