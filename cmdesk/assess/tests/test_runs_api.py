"""API: /api/assess/runs/, scores/, score-items/, appeals/ — a round trip, and the same scope as the pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from cmdesk.assess.models import Appeal, AppealStatus, ItemStatus, RunStatus, Score, ScoreItem

from .test_review_world import build_review_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def _as(api, staff):
    api.force_authenticate(staff.user)
    return api


def test_api_round_trip(api):
    w, r = build_review_world()
    head = _as(api, w.head)
    runs = head.get("/api/assess/runs/").json()
    assert [x["id"] for x in runs["results"]] == [r.run.pk]
    ranking = head.get(f"/api/assess/runs/{r.run.pk}/ranking/").json()
    assert [(s["cm_name"], s["rank"]) for s in ranking["ranking"]] == [("张一", 1), ("李二", 2)]
    assert ranking["distribution"]["count"] == 2

    item = r.items[w.cm2.pk]["volume"]
    response = head.post(f"/api/assess/score-items/{item.pk}/override/", {"points": "47.5", "reason": ""})
    assert response.status_code == 400 and "reason" in response.json()
    response = head.post(f"/api/assess/score-items/{item.pk}/override/", {"points": "47.5", "reason": "停供核定"})
    assert response.status_code == 200
    assert response.json()["points"] == "47.50" and response.json()["computed_points"] == "30.00"
    score = head.get(f"/api/assess/scores/{r.scores[w.cm2.pk].pk}/").json()
    assert score["total"] == "89.50" and score["rank"] == 1 and len(score["items"]) == 3

    cm = APIClient()
    cm.force_authenticate(w.cm2.user)
    assert cm.get("/api/assess/scores/").json()["results"] == []  # unpublished
    assert cm.get(f"/api/assess/score-items/{item.pk}/").status_code == 404
    assert head.post(f"/api/assess/runs/{r.run.pk}/publish/").json()["status"] == RunStatus.PUBLISHED

    scores = cm.get("/api/assess/scores/").json()["results"]
    assert [s["id"] for s in scores] == [r.scores[w.cm2.pk].pk]
    assert cm.get(f"/api/assess/scores/{r.scores[w.cm1.pk].pk}/").status_code == 404
    assert cm.get(f"/api/assess/runs/{r.run.pk}/ranking/").status_code == 404
    visits = r.items[w.cm2.pk]["visits"]
    response = cm.post(f"/api/assess/score-items/{visits.pk}/appeal/", {"reason": ""})
    assert response.status_code == 400 and "reason" in response.json()
    response = cm.post(f"/api/assess/score-items/{visits.pk}/appeal/", {"reason": "封路三天"})
    assert response.status_code == 201
    appeal_id = response.json()["id"]
    assert cm.post(f"/api/assess/appeals/{appeal_id}/decide/", {"accept": False, "decision": "x"}).status_code == 403
    assert cm.post(f"/api/assess/score-items/{item.pk}/sign/").json()["status"] == ItemStatus.SIGNED
    response = head.post(f"/api/assess/score-items/{item.pk}/override/", {"points": "1", "reason": "x"})
    assert response.status_code == 400  # signed

    assert [a["id"] for a in head.get("/api/assess/appeals/?status=open").json()["results"]] == [appeal_id]
    response = head.post(f"/api/assess/appeals/{appeal_id}/decide/", {"accept": False, "decision": ""}, format="json")
    assert response.status_code == 400 and "decision" in response.json()
    response = head.post(
        f"/api/assess/appeals/{appeal_id}/decide/", {"accept": True, "points": "29", "decision": "属实"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == AppealStatus.ACCEPTED
    new_id = response.json()["new_item"]
    old = cm.get(f"/api/assess/score-items/{visits.pk}/").json()  # the old version stays readable
    assert old["superseded_by"] == new_id and old["status"] == ItemStatus.SUPERSEDED and old["points"] == "22.00"
    current = cm.get(f"/api/assess/scores/{r.scores[w.cm2.pk].pk}/").json()
    assert {i["id"] for i in current["items"]} == {item.pk, r.items[w.cm2.pk]["forecast"].pk, new_id}
    assert current["total"] == "96.50"
    signed = cm.post(f"/api/assess/scores/{r.scores[w.cm2.pk].pk}/sign/").json()
    assert {i["status"] for i in signed["items"]} == {ItemStatus.SIGNED}

    assert head.post(f"/api/assess/runs/{r.run.pk}/close/").json()["status"] == RunStatus.CLOSED
    response = head.post(
        f"/api/assess/score-items/{r.items[w.cm1.pk]['volume'].pk}/override/", {"points": "1", "reason": "x"}
    )
    assert response.status_code == 400 and str(r.run) in str(response.json())
    assert Score.objects.get(pk=r.scores[w.cm1.pk].pk).total == Decimal("88.00")


def test_api_scope(api):
    w, r = build_review_world(status=RunStatus.PUBLISHED)
    insp = _as(api, w.inspector)
    for url in ("/api/assess/runs/", "/api/assess/scores/", "/api/assess/appeals/"):
        assert insp.get(url).status_code == 403, url
    assert insp.get(f"/api/assess/score-items/{r.items[w.cm1.pk]['volume'].pk}/").status_code == 403
    head = _as(APIClient(), w.head)
    assert head.get(f"/api/assess/runs/{r.run_b.pk}/").status_code == 404
    response = head.post(
        f"/api/assess/score-items/{r.items[w.cm3.pk]['volume'].pk}/override/", {"points": "1", "reason": "x"}
    )
    assert response.status_code == 404
    clerk = _as(APIClient(), w.clerk)
    assert clerk.post(f"/api/assess/runs/{r.run.pk}/close/").status_code == 403
    cm = _as(APIClient(), w.cm1)
    assert cm.post(f"/api/assess/runs/{r.run.pk}/close/").status_code == 403
    assert cm.post("/api/assess/appeals/", {"item": r.items[w.cm1.pk]["volume"].pk, "reason": "x"}).status_code == 405
    assert not Appeal.objects.exists()
    assert ScoreItem.objects.filter(override_reason="").count() == 9


def test_openapi_schema_lists_the_assessment_routes(client):
    w, _r = build_review_world()
    client.force_login(w.head.user)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for route in (
        "/api/assess/runs/{id}/publish/",
        "/api/assess/runs/{id}/close/",
        "/api/assess/scores/{id}/sign/",
        "/api/assess/score-items/{id}/override/",
        "/api/assess/score-items/{id}/appeal/",
        "/api/assess/appeals/{id}/decide/",
    ):
        assert "post" in paths[route], route
