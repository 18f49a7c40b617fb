"""The demo city reproduces DOMAIN.md's source city: counts and every listed share within 0.5 percentage point."""

import datetime as dt
import json
from collections import Counter

import pytest
from django.db.models import Avg, Count, Max
from django.test import Client

from cmdesk.demo.build import DEMO_PASSWORD, DemoSpec, build_demo, clear_records
from cmdesk.org.choices import Role
from cmdesk.org.models import Staff
from cmdesk.retail.models import Retailer, Route, TierChange

AS_OF = dt.date(2026, 11, 20)

# DOMAIN.md, seed 001: (field, value) → share of 26,400 retailers
RETAILER_SHARES = {
    ("market_type", "urban"): 9_493 / 26_400,
    ("market_type", "rural"): 16_907 / 26_400,
    ("business_format", "grocery"): 0.738,
    ("business_format", "tobacco_liquor"): 0.1255,
    ("business_format", "supermarket"): 0.038,
    ("business_format", "mall"): 0.0014,
    ("business_format", "convenience"): 0.0607,
    ("business_format", "entertainment"): 0.0204,
    ("business_format", "other"): 0.0161,
    ("order_method", "phone"): 0.12,
    ("order_method", "online"): 0.75,
    ("order_method", "mobile"): 0.0275,
    ("settlement_method", "online_transfer"): 0.83,
    ("settlement_method", "pos"): 0.06,
    ("settlement_method", "cash"): 0.01,
}
CM_COUNTS = {
    "age": {"<30": 12, "30-35": 11, "36-40": 17, "41-45": 28, "46-50": 19, ">50": 18},
    "education": {"bachelor": 27, "college": 55, "high_school": 23},
    "skill_grade": {"grade3": 49, "grade4": 40, "grade5": 1, "none": 15},
    "tenure": {">3": 58, "1-3": 39, "<1": 8},
}


def age_band(age: int) -> str:
    return (
        "<30"
        if age < 30
        else "30-35"
        if age <= 35
        else "36-40"
        if age <= 40
        else "41-45"
        if age <= 45
        else ("46-50" if age <= 50 else ">50")
    )


def tenure_band(since: dt.date) -> str:
    years = (AS_OF - since).days / 365.25
    return ">3" if years > 3 else "1-3" if years >= 1 else "<1"


def assert_city_shares(n_expected_cms: int = 105) -> None:
    n = Retailer.objects.count()
    for (field, value), share in RETAILER_SHARES.items():
        got = Retailer.objects.filter(**{field: value}).count() / n
        assert abs(got - share) <= 0.005, f"{field}={value}: {got:.4f} vs {share:.4f}"
    electronic = Retailer.objects.filter(settlement_method__in=["online_transfer", "pos"]).count() / n
    assert abs(electronic - 0.89) <= 0.005

    cms = list(Staff.objects.filter(role=Role.CM))
    assert len(cms) == n_expected_cms
    shares = {
        "age": Counter(age_band(s.age_on(AS_OF)) for s in cms),
        "education": Counter(s.education for s in cms),
        "skill_grade": Counter(s.skill_grade for s in cms),
        "tenure": Counter(tenure_band(s.cm_since) for s in cms),
    }
    for dimension, counts in CM_COUNTS.items():
        total = sum(counts.values())
        for key, count in counts.items():
            got = shares[dimension][key] / len(cms)
            assert abs(got - count / total) <= 0.005, f"CM {dimension} {key}: {got:.4f} vs {count / total:.4f}"
    mean_age = sum(s.age_on(AS_OF) for s in cms) / len(cms)
    assert 41.5 <= mean_age <= 42.5  # DOMAIN.md: average age 42


@pytest.mark.slow
@pytest.mark.django_db
def test_city_demo_reproduces_the_source_city():
    result = build_demo(DemoSpec(scale="city", years=0, seed=7, as_of=AS_OF))
    assert result.counts["routes"] == 105
    assert result.counts["retailers"] == 26_400
    assert Route.objects.filter(cm__isnull=False).count() == 105
    per_route = Route.objects.annotate(n=Count("retailers")).aggregate(avg=Avg("n"), max=Max("n"))
    assert round(per_route["avg"]) == 251
    assert per_route["max"] == 415
    km = Route.objects.aggregate(avg=Avg("length_km"), max=Max("length_km"))
    assert abs(float(km["avg"]) - 30) <= 1.0
    assert float(km["max"]) == 80.0
    rural_km = Route.objects.filter(market_type="rural").aggregate(a=Avg("length_km"))["a"]
    urban_km = Route.objects.filter(market_type="urban").aggregate(a=Avg("length_km"))["a"]
    assert rural_km > urban_km
    assert_city_shares()
    # every retailer has a valid licence, coordinates and an initial tier with its reason
    assert Retailer.objects.filter(latitude__isnull=True).count() == 0
    assert TierChange.objects.count() == 26_400
    assert Retailer.objects.values("licence_no").distinct().count() == 26_400
    assert 380 <= result.counts["products"] <= 420


@pytest.mark.django_db
def test_county_demo_is_deterministic_and_logins_work(settings):
    spec = DemoSpec(scale="county", years=0, seed=11, as_of=AS_OF)
    result = build_demo(spec)
    assert result.counts["routes"] == 10
    assert 2_400 <= result.counts["retailers"] <= 2_600
    urban = Retailer.objects.filter(market_type="urban").count() / result.counts["retailers"]
    assert abs(urban - 9_493 / 26_400) <= 0.005
    first = list(Retailer.objects.order_by("licence_no").values_list("licence_no", "shop_name", "tier")[:20])

    manifest = json.loads((settings.CMDESK_DATA_DIR / "demo.json").read_text(encoding="utf-8"))
    assert manifest["logins"] == result.logins
    roles = {login["username"] for login in result.logins}
    assert {"admin", "centre", "head09", "clerk09", "inspector09"} <= roles
    for login in result.logins:
        client = Client()
        assert client.login(username=login["username"], password=DEMO_PASSWORD), login["username"]
        assert login["password"] == DEMO_PASSWORD

    # same spec, emptied database → the same retailers
    clear_records()
    assert Retailer.objects.count() == 0
    build_demo(spec)
    assert list(Retailer.objects.order_by("licence_no").values_list("licence_no", "shop_name", "tier")[:20]) == first
