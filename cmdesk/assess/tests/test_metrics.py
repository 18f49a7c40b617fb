"""The metrics on build_work_world(), with the values worked out by hand."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import translation

from cmdesk.assess.models import FindingCategory
from cmdesk.assess.services.metrics import METRICS, Context
from cmdesk.assess.tests.factories import TODAY, make_spot_check, make_visit
from cmdesk.work.models import DeptTarget, Feedback, FeedbackKind, RetailerUpdate, VisitStatus
from cmdesk.work.tests.world import build_work_world

pytestmark = pytest.mark.django_db
F = D("0.0001")
OCT = dt.date(2026, 10, 1)


class It:  # a scheme item as the metrics read it
    def __init__(self, params=None, season=False, potential=False):
        self.params, self.adjust_season, self.adjust_potential = params or {}, season, potential


@pytest.fixture
def world():
    return build_work_world()


def ctx(w):
    return Context(w.tree.dept_a, OCT, [w.cm1, w.cm2], today=TODAY)


def test_growth_rate_is_cases_yoy_in_percent(world):
    c = ctx(world)
    got = METRICS["growth_rate"].measure(c, It())
    # cm1's October 2026: 638 cartons against 672 a year before (R1-03 stopped, R1-05 halved, R1-07's spike)
    assert got[world.cm1.pk].value == ((D(638) / D(672) - 1) * 100).quantize(F) == D("-5.0595")
    assert got[world.cm2.pk].value == D("0.0000")
    e = got[world.cm1.pk].evidence[0]
    assert e["url"].startswith("/kpi/explore/?period=2026-10&scope=cm1")
    assert e["kind"] == "kpi"


def test_kpi_metrics_query_once_for_all_cms(world):
    c = ctx(world)
    for code in ("growth_rate", "avg_price_growth", "listing_rate"):
        METRICS[code].measure(c, It())
    assert c.queries == 2  # one engine query per filter (all products; key brands), grouped by CM
    listing = METRICS["listing_rate"].measure(c, It())
    assert listing[world.cm1.pk].value == (D(11) / D(12) * 100).quantize(F)  # R1-03 bought nothing
    assert c.queries == 2  # cached


def test_forecast_accuracy_without_forecasts_has_no_data(world):
    with translation.override("en"):
        got = METRICS["forecast_accuracy"].measure(ctx(world), It())
    assert got[world.cm1.pk].value is None
    assert got[world.cm1.pk].evidence[0]["label"].startswith("no weekly forecasts of the CM's retailers")


def test_visit_coverage_and_duration(world):
    s = world.shops1
    make_visit(world.cm1, s[0], dt.date(2026, 10, 1), 15)  # 30 days before 10-31: within the 30-day cycle
    make_visit(world.cm1, s[1], dt.date(2026, 9, 30), 15)  # 31 days: outside
    make_visit(world.cm1, s[2], dt.date(2026, 10, 20), 5)  # short (minimum 10 minutes)
    make_visit(world.cm1, s[3], dt.date(2026, 10, 21), 9)  # short
    make_visit(world.cm1, s[4], dt.date(2026, 10, 22), 10)  # exactly the minimum: fine
    make_visit(world.cm1, s[5], dt.date(2026, 10, 23), 2, status=VisitStatus.CANCELLED)
    c = ctx(world)
    cov = METRICS["visit_coverage"].measure(c, It())
    assert cov[world.cm1.pk].value == (D(4) / D(12) * 100).quantize(F)
    assert cov[world.cm1.pk].evidence[0]["url"] == f"/work/visits/?cm={world.cm1.pk}&month=2026-10"
    assert cov[world.cm2.pk].value == D("0.0000")
    dur = METRICS["visit_duration"].measure(c, It())
    assert dur[world.cm1.pk].value == D(2)
    assert [e["value"] for e in dur[world.cm1.pk].evidence[1:]] == ["5 min", "9 min"] or len(
        dur[world.cm1.pk].evidence
    ) == 3
    assert dur[world.cm1.pk].evidence[1]["url"].startswith("/work/visits/")


def test_info_collected_and_referrals(world):
    v = make_visit(world.cm1, world.shops1[0], dt.date(2026, 10, 5), 20)
    RetailerUpdate.objects.create(visit=v, retailer=world.shops1[0], field="phone", before="1", after="2")
    Feedback.objects.create(cm=world.cm1, retailer=world.shops1[0], visit=v, kind=FeedbackKind.COMPLIANCE, text="x")
    Feedback.objects.create(cm=world.cm1, retailer=world.shops1[1], kind=FeedbackKind.NEED, text="y")
    Feedback.objects.create(cm=world.cm1, retailer=world.shops1[2], kind=FeedbackKind.COMPLIANCE, text="november")
    at = dt.datetime(2026, 10, 5, 11, tzinfo=dt.UTC)
    RetailerUpdate.objects.update(at=at)
    Feedback.objects.exclude(text="november").update(created_at=at)
    c = ctx(world)
    assert METRICS["info_collected"].measure(c, It())[world.cm1.pk].value == D(3)  # 1 update + 2 October feedback
    ref = METRICS["referrals"].measure(c, It())[world.cm1.pk]
    assert ref.value == D(1)
    assert ref.evidence[1]["url"] == f"/work/visits/{v.pk}/"


def test_spotcheck_findings_published_of_the_quarter(world):
    make_spot_check(
        world,
        world.shops1[0],
        world.cm1,
        findings=[(FindingCategory.DISPLAY, False, "1.5"), (FindingCategory.PRICE_TAGS, True, "0")],
    )
    make_spot_check(world, world.shops1[1], world.cm1, findings=[(FindingCategory.INFO, False, "2")], published=False)
    make_spot_check(
        world, world.shops1[2], world.cm1, date=dt.date(2026, 9, 10), findings=[(FindingCategory.INFO, False, "3")]
    )  # Q3
    got = METRICS["spotcheck_findings"].measure(ctx(world), It())
    assert got[world.cm1.pk].value == D("1.5")
    assert got[world.cm1.pk].evidence[1]["value"] == "−1.5"
    assert got[world.cm2.pk].value == D("0")
    # the evidence opens the quarter's list filtered to the CM (the quarter as the list page reads it)
    assert got[world.cm1.pk].evidence[0]["url"] == f"/assess/spotchecks/?cm={world.cm1.pk}&quarter=2026-Q4"


def test_the_spot_check_list_filters_to_one_cm(world, client):
    mine = make_spot_check(world, world.shops1[0], world.cm1, findings=[(FindingCategory.DISPLAY, False, "1")])
    other = make_spot_check(world, world.shops2[0], world.cm2, findings=[(FindingCategory.DISPLAY, False, "1")])
    client.force_login(world.head.user)
    page = client.get("/assess/spotchecks/", {"cm": world.cm1.pk, "quarter": "2026-Q4"})
    assert page.status_code == 200
    shown = {row["check"].pk for row in page.context["rows"]}
    assert shown == {mine.pk}
    assert other.pk not in shown and not page.context["error"]


def test_volume_target_split_and_adjusted(world):
    DeptTarget.objects.create(org_unit=world.tree.dept_a, month=OCT, volume_cases=D("10"))
    c = ctx(world)
    plain = METRICS["volume_vs_target"].measure(c, It())[world.cm1.pk]
    assert (plain.target, plain.adjusted_target) == (D("5.0000"), D("5.0000"))
    assert plain.value == (D("2.552") / D(5) * 100).quantize(F)
    adj = METRICS["volume_vs_target"].measure(c, It(season=True, potential=True))[world.cm1.pk]
    share = D("2.688") / (D("2.688") + D("1.824"))  # cm1's share of dept A's cases in October 2025
    assert adj.adjusted_target == (D(10) * share).quantize(F)
    assert adj.value == (D("2.552") / adj.adjusted_target * 100).quantize(F)
    assert adj.adjustment["season"]["cm_cases"] == "2.688"
    assert adj.adjustment["source"] == "dept" and adj.adjustment["cms"] == 2
    assert "potential" in adj.adjustment
