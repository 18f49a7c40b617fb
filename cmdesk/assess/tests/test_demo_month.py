"""A month scored on the county demo itself: the demo builder's records, order facts and work records, the default
scheme and the demo's spot checks, scored by `cmdesk assess` as the department's head. Every CM gets a score; every
point is backed by evidence that opens (200) for the head, or is flagged "no data"; the review rules hold (no change
without a reason, a signed item is frozen, an accepted appeal is a new version and the old one stays readable); a CM
gets 404 on another CM's items and an inspector 403.

The demo is built once for the module (about 15 s: county scale, two years of orders so that year-on-year indicators
have a base) and removed afterwards; each test's own writes are rolled back.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from cmdesk.assess.models import ItemStatus, Run, RunStatus, Score, ScoreItem
from cmdesk.assess.services import review
from cmdesk.assess.services.schemes import DEFAULT_NAME, default_scheme
from cmdesk.assess.services.scoring import is_no_data, unit_cms
from cmdesk.demo.assess import _spot_checks
from cmdesk.demo.build import DemoSpec, build_demo, clear_records
from cmdesk.kpi.refresh import refresh_all
from cmdesk.org.choices import OrgKind, Role
from cmdesk.org.models import OrgUnit, Staff

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 10, 20)
MONTH = dt.date(2026, 9, 1)  # the last complete month; its quarter holds the demo's spot checks
SEED = 20141
# Items the demo cannot measure: forecasts are not recorded in cmdesk for the assessment yet (issue 6). They must say
# so ("no data", 0 points until the head rates them by hand); every other item is measured from the demo's data.
NO_DATA_ALLOWED = {"forecast-accuracy"}


@dataclass
class Demo:
    data_dir: Path
    dept: OrgUnit
    run: Run
    head: Staff
    inspector: Staff
    cms: list[Staff]
    command_output: dict


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo-county")
    with django_db_blocker.unblock(), override_settings(CMDESK_DATA_DIR=data_dir):
        try:
            build_demo(DemoSpec(scale="county", years=2, seed=SEED, as_of=AS_OF), data_dir=data_dir)
            refresh_all(full=True)  # as `cmdesk demo` does before the assessment: the scoring reads the aggregates
            centre = Staff.objects.get(role=Role.CENTRE)
            default_scheme(user=centre.user)
            _spot_checks(centre.user, AS_OF, np.random.default_rng(SEED + 5))  # the demo's published spot checks
            dept = OrgUnit.objects.get(kind=OrgKind.DEPARTMENT)
            head = Staff.objects.get(role=Role.HEAD, org_unit=dept)
            out = StringIO()
            call_command(
                "assess",
                "--month",
                f"{MONTH:%Y-%m}",
                "--scope",
                dept.code,
                "--user",
                head.user.username,
                "--format",
                "json",
                stdout=out,
            )
            yield Demo(
                data_dir=data_dir,
                dept=dept,
                run=Run.objects.get(org_unit=dept, month=MONTH),
                head=head,
                inspector=Staff.objects.get(role=Role.INSPECTOR),
                cms=unit_cms(dept),
                command_output=json.loads(out.getvalue()),
            )
        finally:
            clear_records()


@pytest.fixture
def d(demo, settings):
    settings.CMDESK_DATA_DIR = demo.data_dir  # the per-test data directory of conftest would be empty
    return demo


def _client(staff: Staff) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


def _items(run: Run) -> list[ScoreItem]:
    return list(
        ScoreItem.objects.filter(score__run=run, superseded_by__isnull=True)
        .select_related("scheme_item", "cm")
        .order_by("cm__employee_no", "scheme_item__position")
    )


def test_every_cm_in_scope_gets_a_score(d):
    run = d.run
    assert run.scheme.name == DEFAULT_NAME and run.status == RunStatus.SCORED and run.scored_by == d.head.user
    assert len(d.cms) == 10
    scores = {s.cm_id: s for s in Score.objects.filter(run=run)}
    assert set(scores) == {cm.pk for cm in d.cms}
    assert [s["cm"] for s in d.command_output["scores"]] == [
        s.cm.employee_no for s in Score.objects.filter(run=run).select_related("cm").order_by("rank", "cm__employee_no")
    ]
    items = _items(run)
    assert len(items) == 10 * 15
    for score in scores.values():
        mine = [i for i in items if i.score_id == score.pk]
        assert score.total == sum(i.points for i in mine)
        assert score.rank is not None
    assert len({s.total for s in scores.values()}) > 1  # the demo's CMs differ


def test_every_point_is_backed_by_evidence(d):
    head = _client(d.head)
    urls: set[str] = set()
    no_data: set[str] = set()
    for item in _items(d.run):
        code = item.scheme_item.code
        if is_no_data(item):
            no_data.add(code)
            assert item.points == 0 and item.measured is None, code
            continue
        assert item.measured is not None and item.rule_text, code
        links = [e["url"] for e in item.evidence if e.get("url")]
        assert links, f"{item.cm.employee_no} {code}: no evidence link"
        urls.update(links)
    assert no_data <= NO_DATA_ALLOWED, no_data
    kinds = {re.sub(r"/\d+/", "/<id>/", urlsplit(u).path) for u in urls}
    assert {
        "/kpi/explore/",  # the KPI explorer with the exact query
        "/work/visits/",
        "/work/visits/<id>/",
        "/work/plans/<id>/",
        "/assess/spotchecks/<id>/",
    } <= kinds, kinds
    failed = {}
    for url in sorted(urls):
        status = head.get(url).status_code
        if status != 200:
            failed[url] = status
    assert not failed, failed


def test_review_on_the_demo_month(d):
    run, head = d.run, d.head.user
    items = {(i.cm_id, i.scheme_item.code): i for i in _items(run)}
    cm1, cm2 = d.cms[0], d.cms[1]
    volume = items[(cm1.pk, "volume-target")]

    for reason in ("", "   "):  # the head's change without a reason is refused
        with pytest.raises(ValidationError) as exc:
            review.override_item(volume, head, "5", reason)
        assert "reason" in exc.value.message_dict
    volume.refresh_from_db()
    assert volume.points == volume.computed_points and not volume.override_reason
    response = _client(d.head).post(reverse("assess:item_override", args=[volume.pk]), {"points": "5", "reason": ""})
    assert response.status_code == 302
    volume.refresh_from_db()
    assert volume.points == volume.computed_points

    review.publish_run(run, head)
    signed = review.sign_item(items[(cm1.pk, "growth-rate")], cm1.user)
    with pytest.raises(ValidationError):  # a signed item cannot change
        review.override_item(signed, head, "1", "核减")
    with pytest.raises(ValidationError):
        review.appeal_item(signed, cm1.user, "不同意")
    signed.refresh_from_db()
    assert signed.status == ItemStatus.SIGNED and signed.points == signed.computed_points

    visits = items[(cm1.pk, "visit-coverage")]
    appeal = review.appeal_item(visits, cm1.user, "9 月有 3 户停业, 不应计入")
    review.decide_appeal(appeal, head, True, "属实", points="6")
    visits.refresh_from_db()
    new = visits.superseded_by
    assert new is not None and new.version == visits.version + 1 and new.points == 6
    assert visits.status == ItemStatus.SUPERSEDED and visits.points == visits.computed_points
    api = APIClient()
    api.force_authenticate(cm1.user)
    old = api.get(f"/api/assess/score-items/{visits.pk}/").json()  # the old version is still readable
    assert (old["superseded_by"], old["status"], old["points"]) == (new.pk, "superseded", f"{visits.points:.2f}")
    score = api.get(f"/api/assess/scores/{visits.score_id}/").json()
    assert new.pk in {i["id"] for i in score["items"]} and visits.pk not in {i["id"] for i in score["items"]}

    other = items[(cm2.pk, "visit-coverage")]  # another CM's items: 404 on the page and the API
    assert _client(cm1).get(reverse("assess:score_detail", args=[other.score_id])).status_code == 404
    assert api.get(f"/api/assess/score-items/{other.pk}/").status_code == 404
    assert api.get(f"/api/assess/scores/{other.score_id}/").status_code == 404
    assert _client(cm2).get(reverse("assess:score_detail", args=[other.score_id])).status_code == 200


def test_an_inspector_sees_none_of_it(d):
    inspector = _client(d.inspector)
    score = Score.objects.filter(run=d.run).first()
    assert inspector.get(reverse("assess:run_list")).status_code == 403
    assert inspector.get(reverse("assess:run_detail", args=[d.run.pk])).status_code == 403
    assert inspector.get(reverse("assess:score_detail", args=[score.pk])).status_code == 403
    api = APIClient()
    api.force_authenticate(d.inspector.user)
    for url in (
        "/api/assess/runs/",
        "/api/assess/scores/",
        "/api/assess/score-items/",
        f"/api/assess/scores/{score.pk}/",
    ):
        assert api.get(url).status_code == 403, url
