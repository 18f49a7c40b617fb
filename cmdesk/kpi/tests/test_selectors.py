"""Scope reaches the engine: the same golden numbers, cut by each role's restrict()."""

from __future__ import annotations

import pytest

from cmdesk.analytics.query import Filter
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.tests.factories import StaffFactory, user_without_role
from cmdesk.kpi.selectors import kpi, merge, resolve_scope, user_filter
from cmdesk.org.choices import Role

from .data import build_world

pytestmark = pytest.mark.django_db


def test_centre_sees_the_city_and_drills_down():
    w = build_world()
    centre = StaffFactory(role=Role.CENTRE, org_unit=w.tree.centre).user
    city = kpi(centre, "2026-10").one()
    assert (city["served"], city["cartons"], city["amount"]) == (4, 19, 1070.0)
    rows = kpi(centre, "2026-10", ("branch",)).rows
    assert [(r["branch_code"], r["cartons"]) for r in rows] == [("A", 17), ("B", 2)]
    assert kpi(centre, "2026-10", scope="A-D").one()["cartons"] == 17
    assert kpi(centre, "2026-10", scope="RA").one()["cartons"] == 14
    assert kpi(centre, "2026-10", scope="cm2").one()["cartons"] == 3
    assert kpi(centre, "2026-10", ("product",), scope="440000000001").rows[0]["cartons"] == 3


def test_cm_sees_only_its_routes():
    w = build_world()
    user = w.cm1.user
    assert user_filter(user) == Filter(cm_ids=(w.cm1.pk,))
    mine = kpi(user, "2026-10").one()
    assert (mine["served"], mine["cartons"]) == (2, 14)
    assert [r["cm_code"] for r in kpi(user, "2026-10", ("cm",)).rows] == ["cm1"]
    for other in ("cm2", "RB", "B", "440000000003", "C"):
        with pytest.raises(OutOfScope):
            kpi(user, "2026-10", scope=other)


def test_head_and_clerk_see_their_subtree():
    w = build_world()
    head = StaffFactory(role=Role.HEAD, org_unit=w.tree.dept_a).user
    assert kpi(head, "2026-10").one()["cartons"] == 17
    assert resolve_scope(head, None).next_level == "area"
    with pytest.raises(OutOfScope):
        kpi(head, "2026-10", scope="B")
    clerk = StaffFactory(role=Role.CLERK, org_unit=w.tree.dept_b).user
    assert kpi(clerk, "2026-10").one()["cartons"] == 2  # a clerk's scope is its whole branch


def test_no_role_sees_nothing():
    build_world()
    r = kpi(user_without_role(), "2026-10").one()
    assert (r["served"], r["cartons"]) == (0, 0)


def test_merge_intersects():
    assert merge(Filter(org_paths=("0001",)), Filter(org_paths=("00010002",))).org_paths == ("00010002",)
    assert merge(Filter(org_paths=("00010001",)), Filter(org_paths=("00010002",))).nothing
    assert merge(Filter(cm_ids=(1,)), Filter(cm_ids=(2,))).nothing
    assert merge(Filter(cm_ids=(1,)), Filter(route_codes=("RA",))) == Filter(cm_ids=(1,), route_codes=("RA",))


def test_records_change_reaches_the_snapshot():
    w = build_world()
    centre = StaffFactory(role=Role.CENTRE, org_unit=w.tree.centre).user
    assert kpi(centre, "2026-10", scope="RB").one()["served"] == 1
    w.retailers[1].route = w.route_b
    w.retailers[1].save()
    # the snapshot is re-exported on the next query, so retailer 2 now counts on route RB
    assert kpi(centre, "2026-10", scope="RB").one()["served"] == 2


def test_a_retailer_not_yet_tiered_is_exported_with_a_null_tier(settings):
    """A new retailer has no tier until the first recompute; the dimension snapshot keeps it (tier null)."""
    import pyarrow.parquet as pq

    from cmdesk.analytics.layout import dim_file
    from cmdesk.core.tests.factories import RetailerFactory, RouteFactory, build_org_tree
    from cmdesk.kpi.dims import export_dims

    route = RouteFactory(org_unit=build_org_tree().area_a1)
    tiered = RetailerFactory(route=route, tier=7)
    newcomer = RetailerFactory(route=route, tier=None)
    export_dims()
    table = pq.read_table(dim_file(settings.CMDESK_DATA_DIR, "retailers"), columns=["retailer_id", "tier"])
    assert dict(zip(*table.to_pydict().values(), strict=True)) == {tiered.pk: 7, newcomer.pk: None}
