"""restrict(user, action): what each role sees and may change."""

import pytest

from cmdesk.core.scope import in_scope
from cmdesk.core.tests.factories import (
    RetailerFactory,
    RouteFactory,
    StaffFactory,
    build_org_tree,
    user_without_role,
)
from cmdesk.org.choices import Role
from cmdesk.org.models import Staff
from cmdesk.retail.models import Retailer, Route

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    tree = build_org_tree()
    cm_a1 = StaffFactory(role=Role.CM, org_unit=tree.area_a1)
    cm_a2 = StaffFactory(role=Role.CM, org_unit=tree.area_a2)
    cm_b1 = StaffFactory(role=Role.CM, org_unit=tree.area_b1)
    r_a1 = RouteFactory(org_unit=tree.area_a1, cm=cm_a1)
    r_a2 = RouteFactory(org_unit=tree.area_a2, cm=cm_a2)
    r_b1 = RouteFactory(org_unit=tree.area_b1, cm=cm_b1)
    shops = {
        "a1": RetailerFactory.create_batch(3, route=r_a1),
        "a2": RetailerFactory.create_batch(2, route=r_a2),
        "b1": RetailerFactory.create_batch(4, route=r_b1),
    }
    return tree, {"a1": cm_a1, "a2": cm_a2, "b1": cm_b1}, {"a1": r_a1, "a2": r_a2, "b1": r_b1}, shops


def ids(qs):
    return set(qs.values_list("pk", flat=True))


def test_cm_sees_only_its_routes_and_retailers(world):
    tree, cms, routes, shops = world
    user = cms["a1"].user
    assert ids(Retailer.objects.restrict(user, "view")) == {r.pk for r in shops["a1"]}
    assert ids(Retailer.objects.restrict(user, "change")) == {r.pk for r in shops["a1"]}
    assert ids(Route.objects.restrict(user, "view")) == {routes["a1"].pk}
    assert ids(Route.objects.restrict(user, "change")) == set()  # CMs do not edit routes
    assert ids(Staff.objects.restrict(user, "view")) == {cms["a1"].pk}


def test_head_sees_its_department(world):
    tree, cms, routes, shops = world
    head = StaffFactory(role=Role.HEAD, org_unit=tree.dept_a)
    assert ids(Retailer.objects.restrict(head.user, "change")) == {r.pk for r in shops["a1"] + shops["a2"]}
    assert ids(Route.objects.restrict(head.user, "change")) == {routes["a1"].pk, routes["a2"].pk}
    assert ids(Staff.objects.restrict(head.user, "view")) == {cms["a1"].pk, cms["a2"].pk, head.pk}


def test_clerk_sees_its_branch_from_a_department_seat(world):
    tree, cms, routes, shops = world
    clerk = StaffFactory(role=Role.CLERK, org_unit=tree.dept_b)
    assert ids(Retailer.objects.restrict(clerk.user, "view")) == {r.pk for r in shops["b1"]}
    assert clerk.scope().org_path == tree.branch_b.path


def test_centre_sees_the_city(world):
    tree, cms, routes, shops = world
    centre = StaffFactory(role=Role.CENTRE, org_unit=tree.centre)
    assert Retailer.objects.restrict(centre.user, "view").count() == 9
    assert Route.objects.restrict(centre.user, "change").count() == 3


def test_inspector_reads_its_area_and_changes_nothing(world):
    tree, cms, routes, shops = world
    inspector = StaffFactory(role=Role.INSPECTOR, org_unit=tree.branch_a)
    assert ids(Retailer.objects.restrict(inspector.user, "view")) == {r.pk for r in shops["a1"] + shops["a2"]}
    assert Retailer.objects.restrict(inspector.user, "change").count() == 0
    assert Staff.objects.restrict(inspector.user, "view").count() == 0


def test_no_role_and_inactive_staff_see_nothing(world):
    tree, cms, routes, shops = world
    assert Retailer.objects.restrict(user_without_role(), "view").count() == 0
    cms["a1"].active = False
    cms["a1"].save()
    user = Staff.objects.get(pk=cms["a1"].pk).user
    assert Retailer.objects.restrict(user, "view").count() == 0


def test_in_scope_matches_restrict(world):
    tree, cms, routes, shops = world
    assert in_scope(cms["a1"].user, shops["a1"][0], "change")
    assert not in_scope(cms["a1"].user, shops["a2"][0], "change")
