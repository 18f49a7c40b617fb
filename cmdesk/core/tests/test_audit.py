"""Audit rows for records changed in bulk: the same changes, actor and request id as a save() would have written."""

from __future__ import annotations

import copy

import pytest
from auditlog.cid import set_cid
from auditlog.models import LogEntry

from cmdesk.core.audit import acting_as, changes_of, log_bulk_updates
from cmdesk.core.tests.factories import RetailerFactory, RouteFactory, StaffFactory, build_org_tree
from cmdesk.org.choices import Role
from cmdesk.retail.models import Retailer

pytestmark = pytest.mark.django_db


def test_bulk_rows_match_what_a_save_writes():
    tree = build_org_tree()
    clerk = StaffFactory(role=Role.CLERK, org_unit=tree.dept_a)
    route = RouteFactory(org_unit=tree.area_a1)
    saved, bulk, untouched = RetailerFactory.create_batch(3, route=route)
    LogEntry.objects.all().delete()

    with acting_as(clerk.user):
        saved.owner_name = "王五"
        saved.save()
    [by_save] = LogEntry.objects.get_for_object(saved)

    before = copy.copy(bulk)
    bulk.owner_name = "王五"
    Retailer.objects.filter(pk=bulk.pk).update(owner_name="王五")
    set_cid(None)  # a new request id, as for the next request
    with acting_as(clerk.user):
        written = log_bulk_updates(
            Retailer,
            [
                (bulk.pk, str(bulk), changes_of(before, bulk, ["owner_name", "shop_name"])),
                (untouched.pk, str(untouched), changes_of(untouched, untouched, ["owner_name"])),  # no change: no row
            ],
            additional_data={"job": "rename"},
        )
    assert written == 1
    [by_bulk] = LogEntry.objects.get_for_object(bulk)
    assert by_bulk.changes == by_save.changes == {"owner_name": ["黄大明", "王五"]}
    assert (by_bulk.action, by_bulk.actor, by_bulk.object_repr, by_bulk.object_id) == (
        LogEntry.Action.UPDATE,
        clerk.user,
        str(bulk),
        bulk.pk,
    )
    assert by_bulk.additional_data == {"job": "rename"}
    assert not LogEntry.objects.get_for_object(untouched).exists()


def test_without_an_actor_the_rows_are_unattributed():
    tree = build_org_tree()
    retailer = RetailerFactory(route=RouteFactory(org_unit=tree.area_a1))
    LogEntry.objects.all().delete()
    with acting_as(None):
        log_bulk_updates(Retailer, [(retailer.pk, "x", {"tier": ["1", "2"]})])
    [entry] = LogEntry.objects.all()
    assert entry.actor is None and entry.changes == {"tier": ["1", "2"]}
