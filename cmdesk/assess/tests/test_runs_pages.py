"""Pages: run list, the publication (通报), a CM's score with sign-off and appeal, appeals; scope and roles."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from cmdesk.assess.models import Appeal, AppealStatus, ItemStatus, RunStatus, Score, ScoreItem
from cmdesk.assess.services import review as svc

from .test_review_world import build_review_world

pytestmark = pytest.mark.django_db


def _login(client, staff):
    client.force_login(staff.user)
    return client


def test_publication_page_shows_ranking_and_distribution(client):
    w, r = build_review_world()
    _login(client, w.head)
    response = client.get(reverse("assess:run_detail", args=[r.run.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    ranking = response.context["rows"]
    assert [(row["score"].cm.employee_no, row["score"].rank) for row in ranking] == [("cm1", 1), ("cm2", 2)]
    assert [len(row["items"]) for row in ranking] == [3, 3]
    assert html.index("张一") < html.index("李二")
    assert "王三" not in html  # branch B is not in this run
    assert response.context["chart"]["counts"] == [0, 0, 1, 1, 0]
    assert 'data-band="80_90">1<' in html and 'data-stat="mean">80.00<' in html
    assert "vendor/echarts/echarts.min.js" in html
    assert response.context["can_publish"] and not response.context["can_close"]
    assert reverse("assess:run_publish", args=[r.run.pk]) in html
    assert reverse("assess:score_detail", args=[r.scores[w.cm1.pk].pk]) in html


def test_run_list_by_role(client):
    w, r = build_review_world()
    response = _login(client, w.clerk).get(reverse("assess:run_list"))
    assert response.status_code == 200
    assert [run.pk for run in response.context["runs"]] == [r.run.pk]  # branch A's clerk: not branch B
    response = _login(client, w.centre).get(reverse("assess:run_list"), {"month": "2026-10"})
    assert {run.pk for run in response.context["runs"]} == {r.run.pk, r.run_b.pk}
    response = _login(client, w.centre).get(reverse("assess:run_list"), {"month": "2026-09"})
    assert list(response.context["runs"]) == []
    response = _login(client, w.cm1).get(reverse("assess:run_list"))
    assert response.status_code == 200
    assert list(response.context["scores"]) == []  # nothing published yet
    svc.publish_run(r.run, w.head.user)
    response = _login(client, w.cm1).get(reverse("assess:run_list"))
    scores = list(response.context["scores"])
    assert [s.pk for s in scores] == [r.scores[w.cm1.pk].pk]
    assert scores[0].open_items == 3 and scores[0].cm_count == 2


def test_inspector_sees_nothing(client):
    w, r = build_review_world(status=RunStatus.PUBLISHED)
    _login(client, w.inspector)
    for name, args in [
        ("assess:run_list", []),
        ("assess:run_detail", [r.run.pk]),
        ("assess:score_detail", [r.scores[w.cm1.pk].pk]),
        ("assess:appeal_list", []),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 403, name
    item = r.items[w.cm1.pk]["volume"]
    response = client.post(reverse("assess:item_override", args=[item.pk]), {"points": "1", "reason": "x"})
    assert response.status_code == 404
    item.refresh_from_db()
    assert item.points == Decimal("35.00")


def test_cm_cannot_see_another_cms_score_nor_an_unpublished_run(client):
    w, r = build_review_world()
    _login(client, w.cm1)
    own = reverse("assess:score_detail", args=[r.scores[w.cm1.pk].pk])
    other = reverse("assess:score_detail", args=[r.scores[w.cm2.pk].pk])
    assert client.get(own).status_code == 404  # unpublished
    assert client.get(reverse("assess:run_detail", args=[r.run.pk])).status_code == 404
    svc.publish_run(r.run, w.head.user)
    assert client.get(other).status_code == 404
    assert client.get(reverse("assess:score_detail", args=[r.scores[w.cm3.pk].pk])).status_code == 404
    response = client.get(reverse("assess:run_detail", args=[r.run.pk]))
    assert response.status_code == 302 and response["Location"] == own  # the CM reads its own score
    response = client.get(own)
    assert response.status_code == 200
    assert "李二" not in response.content.decode()
    other_item = r.items[w.cm2.pk]["volume"]
    assert client.post(reverse("assess:item_sign", args=[other_item.pk])).status_code == 404
    other_item.refresh_from_db()
    assert other_item.status == ItemStatus.OPEN


def test_score_page_shows_evidence_and_the_adjustment(client):
    w, r = build_review_world(status=RunStatus.PUBLISHED)
    response = _login(client, w.cm1).get(reverse("assess:score_detail", args=[r.scores[w.cm1.pk].pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/kpi/explore/?cm={w.cm1.pk}&amp;month=2026-10" in html
    assert "去年同期销量低于全市平均，目标下调5%" in html
    assert "销量完成率：实际 93%，目标 95%，得 35 分" in html
    assert [row["can_sign"] for row in response.context["items"]] == [True, True, True]
    assert response.context["can_sign_all"]
    assert reverse("assess:item_appeal", args=[r.items[w.cm1.pk]["volume"].pk]) in html
    assert not any(row["can_override"] for row in response.context["items"])  # a CM does not change points


def test_cm_signs_and_appeals_through_the_page(client):
    w, r = build_review_world(status=RunStatus.PUBLISHED)
    _login(client, w.cm2)
    score_url = reverse("assess:score_detail", args=[r.scores[w.cm2.pk].pk])
    volume, visits = r.items[w.cm2.pk]["volume"], r.items[w.cm2.pk]["visits"]
    response = client.post(reverse("assess:item_sign", args=[volume.pk]))
    assert response.status_code == 302 and response["Location"].startswith(score_url)
    response = client.post(reverse("assess:item_appeal", args=[visits.pk]), {"reason": ""})
    assert response.status_code == 302
    assert not Appeal.objects.exists()  # no reason, no appeal
    client.post(reverse("assess:item_appeal", args=[visits.pk]), {"reason": "封路三天", "to_city": "on"})
    appeal = Appeal.objects.get()
    assert appeal.to_city and appeal.reason == "封路三天" and appeal.item == visits
    client.post(reverse("assess:score_sign", args=[r.scores[w.cm2.pk].pk]))
    statuses = dict(ScoreItem.objects.filter(score=r.scores[w.cm2.pk]).values_list("scheme_item__code", "status"))
    assert statuses == {"volume": "signed", "forecast": "signed", "visits": "appealed"}
    response = client.get(reverse("assess:appeal_list"))
    assert [row["appeal"].pk for row in response.context["rows"]] == [appeal.pk]
    assert response.context["rows"][0]["can_decide"] is False


def test_head_overrides_publishes_decides_and_closes_through_the_pages(client):
    w, r = build_review_world()
    _login(client, w.head)
    item = r.items[w.cm2.pk]["volume"]
    url = reverse("assess:item_override", args=[item.pk])
    client.post(url, {"points": "47.5", "reason": ""})
    item.refresh_from_db()
    assert item.points == Decimal("30.00")
    response = client.post(url, {"points": "47.5", "reason": "停供核定"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.points == Decimal("47.50") and item.override_reason == "停供核定"
    assert Score.objects.get(pk=r.scores[w.cm2.pk].pk).rank == 1
    client.post(reverse("assess:run_publish", args=[r.run.pk]))
    r.run.refresh_from_db()
    assert r.run.status == RunStatus.PUBLISHED
    appeal = svc.appeal_item(r.items[w.cm1.pk]["visits"], w.cm1.user, "拜访漏记")
    response = client.get(reverse("assess:appeal_list"), {"status": "open"})
    assert [(row["appeal"].pk, row["can_decide"]) for row in response.context["rows"]] == [(appeal.pk, True)]
    decide = reverse("assess:appeal_decide", args=[appeal.pk])
    client.post(decide, {"accept": "0", "decision": ""})
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.OPEN
    client.post(decide, {"accept": "1", "points": "28", "decision": "补录属实"})
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.ACCEPTED and appeal.new_item.points == Decimal("28.00")
    response = client.get(reverse("assess:score_detail", args=[r.scores[w.cm1.pk].pk]))
    assert [len(row["history"]) for row in response.context["items"]] == [0, 0, 1]
    client.post(reverse("assess:run_close", args=[r.run.pk]))
    r.run.refresh_from_db()
    assert r.run.status == RunStatus.CLOSED
    response = client.post(
        reverse("assess:item_override", args=[r.items[w.cm1.pk]["volume"].pk]),
        {"points": "1", "reason": "x"},
        follow=True,
    )
    assert str(r.run) in " ".join(str(m) for m in response.context["messages"])
    assert ScoreItem.objects.get(pk=r.items[w.cm1.pk]["volume"].pk).points == Decimal("35.00")
    response = client.get(reverse("assess:run_detail", args=[r.run.pk]))
    assert not response.context["can_review"] and not response.context["can_close"]
