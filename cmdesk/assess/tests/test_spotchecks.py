"""Quarterly spot checks: recording and its validation, the CM at the check date, publication, who sees what
(pages and API), and the quarter's report per CM and per category."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cmdesk.assess.models import FindingCategory, SpotCheck, SpotFinding
from cmdesk.assess.services import spotchecks as svc
from cmdesk.retail.models import RouteAssignment
from cmdesk.work.tests.world import build_work_world

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 5)


@pytest.fixture
def w():
    return build_work_world(orders=False)


def record(w, shop, findings, day=NOV, **kwargs):
    return svc.spotcheck_record(actor=w.centre.user, retailer=shop, date=day, findings=findings, **kwargs)


def standard(w):
    """Three checks in 2026-Q4: cm1 (two shops), cm2 (one), and one of cm3 in branch B."""
    a = record(
        w,
        w.shops1[0],
        [
            {"category": "price_tags", "ok": False, "note": "缺价签"},
            {"category": "display", "ok": True},
            {"category": "satisfaction", "score": 2},
        ],
    )
    b = record(w, w.shops1[1], [{"category": "info", "ok": False}, {"category": "key_task", "ok": True}])
    c = record(w, w.shops2[0], [{"category": "display", "ok": False, "deduction": "3", "note": "陈列严重不规范"}])
    d = record(w, w.shops3[0], [{"category": "terminal", "ok": False}])
    return a, b, c, d


# --- recording and validation ---------------------------------------------------------------------------------------


def test_record_sets_quarter_cm_checker_and_default_deductions(w):
    a, b, c, d = standard(w)
    assert (a.quarter, a.cm, a.checker, a.published) == (dt.date(2026, 10, 1), w.cm1, w.centre, False)
    assert (c.cm, d.cm) == (w.cm2, w.cm3)
    rows = {f.category: (f.ok, f.score, f.deduction, f.note) for f in a.findings.all()}
    assert rows == {
        "price_tags": (False, None, Decimal("1.00"), "缺价签"),
        "display": (True, None, Decimal("0.00"), ""),
        "satisfaction": (False, 2, Decimal("1.00"), ""),  # 2 out of 5 is not in order
    }
    assert svc.total_deduction(a) == Decimal("2.00")
    assert svc.total_deduction(b) == svc.DEFAULT_DEDUCTIONS[FindingCategory.INFO]
    assert svc.total_deduction(c) == Decimal("3.00")


def test_override_of_the_default_deduction_needs_a_note(w):
    with pytest.raises(ValidationError) as exc:
        record(w, w.shops1[0], [{"category": "display", "ok": False, "deduction": "2.5"}])
    assert list(exc.value.message_dict) == ["findings"]
    assert "2.5" in exc.value.message_dict["findings"][0]
    assert SpotCheck.objects.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"retailer": "999999999999"}, "retailer"),
        ({"retailer": None}, "retailer"),
        ({"findings": [{"category": "display", "ok": False}, {"category": "display", "ok": True}]}, "findings"),
        ({"findings": [{"category": "display", "ok": False, "deduction": "-1", "note": "x"}]}, "findings"),
        ({"findings": [{"category": "display", "ok": True, "deduction": "1"}]}, "findings"),
        ({"findings": [{"category": "satisfaction", "score": 6}]}, "findings"),
        ({"findings": [{"category": "satisfaction"}]}, "findings"),
        ({"findings": [{"category": "nonsense"}]}, "findings"),
        ({"findings": []}, "findings"),
        ({"date": dt.date(2026, 9, 30), "quarter": "2026-Q4"}, "date"),
        ({"quarter": "2026-Q7"}, "quarter"),
        ({"date": None}, "date"),
    ],
)
def test_validation_names_the_field_and_writes_nothing(w, kwargs, field):
    args = {
        "actor": w.centre.user,
        "retailer": w.shops1[0],
        "date": NOV,
        "findings": [{"category": "display", "ok": True}],
        **kwargs,
    }
    with pytest.raises(ValidationError) as exc:
        svc.spotcheck_record(**args)
    assert field in exc.value.message_dict
    assert SpotCheck.objects.count() == 0
    assert SpotFinding.objects.count() == 0


def test_retailer_by_licence_and_the_cm_at_the_check_date(w):
    RouteAssignment.objects.create(route=w.route1, cm=w.cm2, started=dt.date(2026, 7, 1), ended=dt.date(2026, 10, 31))
    RouteAssignment.objects.create(route=w.route1, cm=w.cm1, started=dt.date(2026, 11, 1))
    october = record(w, w.shops1[0].licence_no, [{"category": "display", "ok": True}], day=dt.date(2026, 10, 20))
    november = record(w, w.shops1[0].licence_no, [{"category": "display", "ok": True}], day=NOV)
    assert (october.retailer, october.cm) == (w.shops1[0], w.cm2)
    assert november.cm == w.cm1


def test_only_the_centre_records_and_a_published_check_is_frozen(w):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        svc.spotcheck_record(actor=w.head.user, retailer=w.shops1[0], date=NOV, findings=[{"category": "info"}])
    check = record(w, w.shops1[0], [{"category": "display", "ok": True}])
    edited = record(w, w.shops1[1], [{"category": "info", "ok": False}], spot_check=check)
    assert (edited.pk, edited.retailer, list(edited.findings.values_list("category", flat=True))) == (
        check.pk,
        w.shops1[1],
        ["info"],
    )
    svc.spotcheck_publish(actor=w.centre.user, spot_check=check)
    with pytest.raises(ValidationError):
        record(w, w.shops1[0], [{"category": "display", "ok": True}], spot_check=check)


# --- publication, scope and the report ------------------------------------------------------------------------------


def test_unpublished_checks_are_invisible_to_cms_and_heads(w):
    standard(w)
    assert svc.visible_spotchecks(w.centre.user).count() == 4
    assert svc.visible_spotchecks(w.cm1.user).count() == 0
    assert svc.visible_spotchecks(w.head.user).count() == 0
    assert svc.visible_spotchecks(w.inspector.user).count() == 0


def test_publish_quarter_then_cm_sees_own_and_head_its_department(w):
    a, b, c, d = standard(w)
    other_quarter = record(w, w.shops1[2], [{"category": "display", "ok": True}], day=dt.date(2026, 8, 3))
    assert svc.quarter_publish(actor=w.centre.user, quarter="2026-Q4") == 4
    assert SpotCheck.objects.get(pk=other_quarter.pk).published is False
    assert set(svc.visible_spotchecks(w.cm1.user)) == {a, b}
    assert set(svc.visible_spotchecks(w.cm2.user)) == {c}
    assert set(svc.visible_spotchecks(w.head.user)) == {a, b, c}
    assert svc.visible_spotchecks(w.inspector.user).count() == 0
    # What the scoring engine reads: published findings of the CM in the quarter.
    deducted = SpotFinding.objects.filter(
        spot_check__published=True, spot_check__cm=w.cm1, spot_check__quarter=dt.date(2026, 10, 1)
    )
    assert sum(f.deduction for f in deducted) == Decimal("2.50")


def test_quarter_summary_per_cm_and_category(w):
    standard(w)
    svc.quarter_publish(actor=w.centre.user, quarter="2026-Q4")
    report = svc.quarter_summary(w.head.user, "2026-Q4")
    assert report["label"] == "2026-Q4"
    assert report["checks"] == 3
    assert [(r["cm_name"], r["checks"], r["not_ok"], r["deduction"], r["satisfaction"]) for r in report["cms"]] == [
        ("李二", 1, 1, Decimal("3.00"), None),
        ("张一", 2, 3, Decimal("2.50"), 2.0),
    ]
    cats = {c["category"]: (c["findings"], c["not_ok"], c["deduction"]) for c in report["categories"]}
    assert cats["display"] == (2, 1, Decimal("3.00"))
    assert cats["price_tags"] == (1, 1, Decimal("1.00"))
    assert cats["terminal"] == (0, 0, Decimal("0"))  # cm3's check is outside the head's department
    assert report["deduction"] == Decimal("5.50")
    mine = svc.quarter_summary(w.cm1.user, "2026-Q4")
    assert [r["cm_name"] for r in mine["cms"]] == ["张一"]


# --- pages ----------------------------------------------------------------------------------------------------------


def test_pages_record_edit_publish(client, w):
    client.force_login(w.centre.user)
    assert client.get(reverse("assess:spotcheck_new")).status_code == 200
    data = {
        "retailer": w.shops1[0].licence_no,
        "date": "2026-11-05",
        "quarter": "",
        "price_tags_state": "bad",
        "price_tags_note": "缺价签",
        "satisfaction_score": "4",
        "display_state": "bad",
        "display_deduction": "2",
        "display_note": "陈列杂乱",
        "note": "",
    }
    response = client.post(reverse("assess:spotcheck_new"), data)
    check = SpotCheck.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("assess:spotcheck_detail", args=[check.pk])
    assert {f.category: f.deduction for f in check.findings.all()} == {
        "price_tags": Decimal("1.00"),
        "display": Decimal("2.00"),
        "satisfaction": Decimal("0.00"),
    }
    # An error comes back on the form and nothing changes.
    bad = client.post(
        reverse("assess:spotcheck_edit", args=[check.pk]), {**data, "date": "2026-09-30", "quarter": "2026-Q4"}
    )
    assert bad.status_code == 400
    assert "date" in bad.context["form"].errors
    assert SpotCheck.objects.get().date == NOV
    unknown = client.post(reverse("assess:spotcheck_new"), {**data, "retailer": "000000000000"})
    assert unknown.status_code == 400
    assert "retailer" in unknown.context["form"].errors
    edit = client.get(reverse("assess:spotcheck_edit", args=[check.pk]))
    assert edit.status_code == 200
    assert edit.context["form"].initial["display_deduction"] == Decimal("2.00")

    listing = client.get(reverse("assess:spotcheck_list"), {"quarter": "2026-Q4"})
    assert listing.status_code == 200
    assert [r["check"] for r in listing.context["rows"]] == [check]
    assert listing.context["unpublished"] == 1
    response = client.post(reverse("assess:spotcheck_publish_quarter"), {"quarter": "2026-Q4"})
    assert response.status_code == 302
    assert SpotCheck.objects.get().published is True
    assert client.get(reverse("assess:spotcheck_edit", args=[check.pk])).status_code == 302


def test_pages_scope(client, w):
    a, b, c, d = standard(w)
    client.force_login(w.cm1.user)
    assert client.get(reverse("assess:spotcheck_detail", args=[a.pk])).status_code == 404  # not yet published
    svc.quarter_publish(actor=w.centre.user, quarter="2026-Q4")
    page = client.get(reverse("assess:spotcheck_detail", args=[a.pk]))
    assert page.status_code == 200
    assert [f.category for f in page.context["findings"]] == ["display", "price_tags", "satisfaction"]
    assert page.context["can_change"] is False
    assert client.get(reverse("assess:spotcheck_detail", args=[c.pk])).status_code == 404
    listing = client.get(reverse("assess:spotcheck_list"))
    assert listing.context["quarter_label"] == "2026-Q4"
    assert {r["check"].pk for r in listing.context["rows"]} == {a.pk, b.pk}
    assert client.get(reverse("assess:spotcheck_new")).status_code == 403
    assert client.post(reverse("assess:spotcheck_publish", args=[a.pk])).status_code == 403

    client.force_login(w.head.user)
    listing = client.get(reverse("assess:spotcheck_list"), {"quarter": "2026-Q4"})
    assert {r["check"].pk for r in listing.context["rows"]} == {a.pk, b.pk, c.pk}
    assert client.get(reverse("assess:spotcheck_detail", args=[d.pk])).status_code == 404

    client.force_login(w.inspector.user)
    assert client.get(reverse("assess:spotcheck_list")).status_code == 403
    assert client.get(reverse("assess:spotcheck_detail", args=[a.pk])).status_code == 403


# --- API ------------------------------------------------------------------------------------------------------------

API = "/api/assess/spot-checks/"


def test_api_create_publish_summary(client, w):
    client.force_login(w.centre.user)
    body = {
        "licence": w.shops1[0].licence_no,
        "date": "2026-11-05",
        "findings": [
            {"category": "display", "ok": False},
            {"category": "satisfaction", "score": 5},
            {"category": "key_task", "ok": False, "deduction": "4", "note": "未完成季度重点任务"},
        ],
    }
    response = client.post(API, body, content_type="application/json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["cm"], data["quarter_label"], data["published"], data["total_deduction"]) == (
        w.cm1.pk,
        "2026-Q4",
        False,
        "5.00",
    )
    assert [(f["category"], f["deduction"]) for f in data["findings"]] == [
        ("display", "1.00"),
        ("key_task", "4.00"),
        ("satisfaction", "0.00"),
    ]
    pk = data["id"]
    twice = {**body, "findings": [{"category": "info", "ok": True}, {"category": "info", "ok": False}]}
    bad = client.post(API, twice, content_type="application/json")
    assert bad.status_code == 400
    assert list(bad.json()) == ["findings"]
    negative = {**body, "findings": [{"category": "info", "ok": False, "deduction": "-2", "note": "x"}]}
    assert list(client.post(API, negative, content_type="application/json").json()) == ["findings"]
    outside = client.post(API, {**body, "date": "2027-01-02", "quarter": "2026-Q4"}, content_type="application/json")
    assert (outside.status_code, list(outside.json())) == (400, ["date"])
    unknown = client.post(API, {**body, "licence": "123"}, content_type="application/json")
    assert (unknown.status_code, list(unknown.json())) == (400, ["retailer"])
    assert SpotCheck.objects.count() == 1

    patched = client.patch(
        f"{API}{pk}/", {**body, "findings": [{"category": "info", "ok": False}]}, content_type="application/json"
    )
    assert patched.status_code == 200
    assert patched.json()["total_deduction"] == "0.50"

    client.force_login(w.cm1.user)
    assert client.get(API).json()["count"] == 0
    assert client.get(f"{API}{pk}/").status_code == 404
    assert client.post(f"{API}{pk}/publish/").status_code == 403

    client.force_login(w.centre.user)
    published = client.post(f"{API}{pk}/publish/")
    assert (published.status_code, published.json()["published"]) == (200, True)
    assert client.patch(f"{API}{pk}/", body, content_type="application/json").status_code == 400

    client.force_login(w.cm1.user)
    listing = client.get(API, {"quarter": "2026-Q4"}).json()
    assert [r["id"] for r in listing["results"]] == [pk]
    summary = client.get(f"{API}summary/", {"quarter": "2026-Q4"}).json()
    assert [(r["cm_name"], r["deduction"]) for r in summary["cms"]] == [("张一", "0.50")]
    assert client.get(f"{API}summary/", {"quarter": "bad"}).status_code == 400

    client.force_login(w.cm2.user)
    assert client.get(f"{API}{pk}/").status_code == 404
    assert client.get(f"{API}summary/", {"quarter": "2026-Q4"}).json()["cms"] == []
    client.force_login(w.inspector.user)
    assert client.get(API).status_code == 403


def test_api_publish_quarter(client, w):
    standard(w)
    client.force_login(w.head.user)
    assert (
        client.post(f"{API}publish-quarter/", {"quarter": "2026-Q4"}, content_type="application/json").status_code
        == 403
    )
    client.force_login(w.centre.user)
    response = client.post(f"{API}publish-quarter/", {"quarter": "2026-Q4"}, content_type="application/json")
    assert response.json() == {"quarter": "2026-Q4", "published": 4}
    assert SpotCheck.objects.filter(published=False).count() == 0
