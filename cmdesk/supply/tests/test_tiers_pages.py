"""Tier and class pages and API: scope (own retailers, others 404, the inspector 403), recompute and apply from the
page, the run's filter and export, the retailer's explanation."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from cmdesk.core.tests.factories import PASSWORD
from cmdesk.retail.models import Retailer, TierChange
from cmdesk.supply.models import ClassPreset, RunStatus, TierRun
from cmdesk.supply.services import classes as classes_svc
from cmdesk.supply.services import tiers as svc

from .tierworld import AS_OF, build_tier_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_tier_world()


@pytest.fixture
def applied(world):
    run = svc.recompute(world.tree.city, AS_OF)
    svc.apply_run(run)
    return run


def login(staff) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=staff.user.username, password=PASSWORD)
    return client


def api(staff) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff.user)
    return client


def test_cm_sees_its_own_retailers_explanation_and_not_another_cms(world, applied):
    client = login(world.cm1)
    with translation.override("en"):
        page = client.get(reverse("supply:tier_retailer", args=[world.shops[8].pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    body = page.content.decode()
    assert "about 44 more cartons a month" in body and 'id="history"' in body
    assert client.get(reverse("supply:tier_retailer", args=[world.shops[10].pk])).status_code == 404


def test_inspector_is_refused_the_tier_and_class_pages(world, applied):
    client = login(world.inspector)
    for url in (
        reverse("supply:tier_overview"),
        reverse("supply:tier_run_detail", args=[applied.pk]),
        reverse("supply:tier_retailer", args=[world.shops[0].pk]),
        reverse("supply:class_scheme_list"),
    ):
        assert client.get(url).status_code == 403, url
    assert api(world.inspector).get(f"/api/supply/tiers/retailer/{world.shops[0].pk}/").status_code == 403
    assert api(world.inspector).get("/api/supply/tier-runs/").status_code == 403


def test_overview_shows_the_distribution_in_scope(world, applied):
    page = login(world.cm2).get(reverse("supply:tier_overview"))
    assert page.status_code == 200
    chart = page.context["chart"]
    assert chart["labels"] == ["D1", "D2", "D3", "D4"] and chart["counts"] == [1, 0, 0, 2]  # shops 10, 11, quiet
    assert page.context["units"] == []  # a CM does not recompute
    assert [r.pk for r in page.context["runs"]] == [applied.pk]


def test_head_recomputes_from_the_page_and_the_centre_applies(world):
    head = login(world.head)
    response = head.post(reverse("supply:tier_run_create"), {"org_unit": world.tree.dept_a.pk, "as_of": "2026-10-31"})
    run = TierRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("supply:tier_run_detail", args=[run.pk])
    assert head.post(reverse("supply:tier_run_apply", args=[run.pk])).status_code == 403
    # a department head may not recompute another branch
    assert (
        head.post(
            reverse("supply:tier_run_create"), {"org_unit": world.tree.branch_b.pk, "as_of": "2026-10-31"}
        ).status_code
        == 404
    )
    centre = login(world.centre)
    detail = centre.get(reverse("supply:tier_run_detail", args=[run.pk]))
    assert detail.context["can_apply"]
    centre.post(reverse("supply:tier_run_apply", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == RunStatus.APPLIED
    assert TierChange.objects.filter(source=TierChange.Source.RECOMPUTE).count() == 11
    again = centre.post(reverse("supply:tier_run_apply", args=[run.pk]), follow=True)
    assert any("only a draft can be applied" in str(m) for m in again.context["messages"])


def test_run_detail_filters_and_exports(world, applied):
    client = login(world.centre)
    up = client.get(reverse("supply:tier_run_detail", args=[applied.pk]), {"change": "up"})
    assert {s.retailer_id for s in up.context["page"]} == {s.pk for s in world.shops[6:]}
    down = client.get(reverse("supply:tier_run_detail", args=[applied.pk]), {"change": "down"})
    assert {s.retailer_id for s in down.context["page"]} == {*(s.pk for s in world.shops[:3]), world.quiet.pk}
    export = client.get(reverse("supply:tier_run_export", args=[applied.pk]), {"change": "new"})
    assert export.status_code == 200
    from openpyxl import load_workbook

    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert len(rows) == 3 and {r[0] for r in rows[1:]} == {world.newcomer.licence_no, world.quiet.licence_no}


def test_cm_sees_only_its_retailers_in_a_run(world, applied):
    page = login(world.cm2).get(reverse("supply:tier_run_detail", args=[applied.pk]))
    assert {s.retailer_id for s in page.context["page"]} == {world.shops[10].pk, world.shops[11].pk, world.quiet.pk}
    assert not page.context["can_apply"] and not page.context["can_discard"]
    assert login(world.cm3).get(reverse("supply:tier_run_detail", args=[applied.pk])).status_code == 404


def test_api_explanation_and_scope(world, applied):
    client = api(world.cm1)
    with translation.override("en"):
        data = client.get(f"/api/supply/tiers/retailer/{world.shops[8].pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert data["tier_label"] == "D3"
    assert data["needed"] == {"cartons": 44, "amount": 2200.0, "price": 50.0, "tier": 4, "score": 0.7545}
    assert data["history"][0]["source"] == "recompute"
    assert client.get(f"/api/supply/tiers/retailer/{world.shops[10].pk}/").status_code == 404
    scores = client.get("/api/supply/tier-scores/", {"run": applied.pk, "change": "up"}).json()
    assert {s["retailer"] for s in scores["results"]} == {s.pk for s in world.shops[6:10]}
    assert (
        client.post("/api/supply/tier-runs/", {"org_unit": world.tree.city.pk, "as_of": "2026-10-31"}).status_code
        == 403
    )


def test_api_recompute_apply_and_scheme_validation(world):
    centre = api(world.centre)
    created = centre.post(
        "/api/supply/tier-runs/", {"org_unit": world.tree.branch_a.pk, "as_of": "2026-10-31"}, format="json"
    )
    assert created.status_code == 201 and created.json()["stats"]["retailers"] == 14
    run_id = created.json()["id"]
    assert api(world.head).post(f"/api/supply/tier-runs/{run_id}/apply/").status_code == 403
    applied = centre.post(f"/api/supply/tier-runs/{run_id}/apply/")
    assert applied.status_code == 200 and applied.json()["status"] == "applied"
    assert centre.post(f"/api/supply/tier-runs/{run_id}/apply/").status_code == 400
    scheme_id = svc.city_default().pk
    with translation.override("en"):
        bad = centre.patch(
            f"/api/supply/tier-schemes/{scheme_id}/", {"weights": {"quantity": 1, "amount": 1, "ability": 0}},
            format="json", HTTP_ACCEPT_LANGUAGE="en",
        )  # fmt: skip
    assert bad.status_code == 400 and bad.json() == {"weights": ["The weights sum to 2.0; they must sum to 1."]}
    assert (
        api(world.head).patch(f"/api/supply/tier-schemes/{scheme_id}/", {"max_step": 2}, format="json").status_code
        == 403
    )


def test_class_pages_and_api(world):
    scheme = classes_svc.create_preset(ClassPreset.CODE_2008, "2008", active=True)
    centre = login(world.centre)
    centre.post(reverse("supply:class_classify", args=[scheme.pk]))
    detail = login(world.cm2).get(reverse("supply:class_scheme_detail", args=[scheme.pk]))
    assert detail.status_code == 200
    assert detail.context["dist"]["count"] == 3  # cm2's shops 10, 11 and the quiet one
    assert {rc.code for rc in detail.context["page"]} == {"CZ3", "XZ3", "CQ3"}
    rows = api(world.cm1).get("/api/supply/retailer-classes/", {"scheme": scheme.pk}).json()
    assert rows["count"] == 11
    assert api(world.cm1).post(f"/api/supply/class-schemes/{scheme.pk}/classify/").status_code == 403
    assert api(world.centre).post(f"/api/supply/class-schemes/{scheme.pk}/classify/").json() == {
        "retailers": 14,
        "classes": 3,
    }
    export = centre.get(reverse("supply:class_export", args=[scheme.pk]))
    assert export.status_code == 200


def test_a_head_reads_a_city_recompute_for_its_own_retailers_but_cannot_discard_it(world):
    """A city-wide draft: the head sees the run and only its department's rows; setting it aside is the city's call."""
    run = svc.recompute(world.tree.city, AS_OF)
    client = login(world.head)
    page = client.get(reverse("supply:tier_run_detail", args=[run.pk]))
    assert page.status_code == 200
    shown = {s.retailer_id for s in page.context["page"].object_list}
    assert shown and shown <= set(
        Retailer.objects.filter(route__org_unit__path__startswith=world.tree.dept_a.path).values_list("pk", flat=True)
    )
    listing = api(world.head).get("/api/supply/tier-runs/").json()
    assert [r["id"] for r in listing["results"]] == [run.pk]
    with pytest.raises(PermissionDenied):
        svc.discard_run(run, world.head.user)
    assert svc.discard_run(run, world.centre.user).status == "discarded"
