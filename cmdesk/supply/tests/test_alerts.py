"""Alerts end to end on the work world: detection (idempotent), the referral workflow, scope, pages and API."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from cmdesk.analytics import anomaly
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.tests.factories import PASSWORD, StaffFactory
from cmdesk.org.choices import Role
from cmdesk.supply.models import Alert, AlertKind, AlertPreset, AlertStatus, Referral, ReferralOutcome
from cmdesk.supply.services import alerts as svc
from cmdesk.work.models import FocusReason, Reminder
from cmdesk.work.services.plans import suggest_plan
from cmdesk.work.tests.world import SPIKE, SPIKE_DAY, build_work_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    world = build_work_world()
    svc.detect_month("2026-10")
    return world


def login(staff) -> Client:
    c = Client()
    assert c.login(username=staff.user.username, password=PASSWORD)
    return c


def spike(w) -> Alert:
    return Alert.objects.get(kind=AlertKind.ORDER_SPIKE, retailer=w.shops1[SPIKE])


def test_detect_finds_the_spike_and_is_idempotent(w):
    assert sorted(Alert.objects.values_list("key", flat=True)) == [
        "day_share:*:红塔山:2026-10-13",
        "day_share:*:芙蓉王:2026-10-06",
        f"day_share:{w.tree.branch_a.pk}:红塔山:2026-10-13",
        f"day_share:{w.tree.branch_a.pk}:芙蓉王:2026-10-06",
        f"order_spike:r{w.shops1[SPIKE].pk}:2026-10-13",
    ]
    alert = spike(w)
    assert (alert.org_unit, alert.period_start, alert.severity) == (w.route1.org_unit, SPIKE_DAY, 3)
    assert alert.measured == {"order_id": alert.measured["order_id"], "cartons": 60, "average": 6.0,
                              "orders_averaged": 3, "ratio": 10.0}  # fmt: skip
    again = svc.detect_month("2026-10")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert Alert.objects.count() == 5
    svc.alert_dismiss(w.cm1.user, alert, "婚宴采购")
    svc.detect_month("2026-10")
    alert.refresh_from_db()
    assert (alert.status, alert.status_note) == (AlertStatus.DISMISSED, "张一: 婚宴采购")


def alert_rows() -> dict[str, tuple]:
    return {
        a.key: (a.kind, a.org_unit_id, a.retailer_id, a.partner_id, a.period_start, a.period_end, a.measured,
                a.threshold, a.detail, a.severity)
        for a in Alert.objects.all()
    }  # fmt: skip


def test_without_own_rules_the_city_run_is_one_run_of_the_city_rules(w, settings):
    """No unit has its own rules: detection is the pure detector run once over the whole city with the city's
    thresholds, stored as it always was (the alerts of the fixture's run are exactly those)."""
    city = svc.city_rules()
    th = svc.thresholds(city)
    pop = svc.population(w.tree.city)
    det = anomaly.detect(settings.CMDESK_DATA_DIR, "2026-10", pop.retailers, pop.products, th)
    assert pop.retailers.num_rows == 21 and len(det.findings) == 5
    with translation.override(settings.LANGUAGE_CODE):
        expected = {
            svc.alert_key(f, "2026-10"): (
                f.kind,
                pop.route_unit[f.retailer_id] if f.retailer_id else pop.branches.get(f.unit, w.tree.city).pk,
                f.retailer_id, f.partner_id, f.period_start, f.period_end,
                {**f.measured, **({"brand": f.brand} if f.brand else {})},
                *svc.describe(f, th), f.severity,
            )
            for f in det.findings
        }  # fmt: skip
    assert alert_rows() == expected
    report = svc.detect_month("2026-10")
    assert (report.created, report.updated, report.unchanged, report.runs) == (0, 0, 5, [])
    assert [(u.rules.pk, u.retailers, u.alerts) for u in report.rules] == [(city.pk, 21, 5)]
    assert alert_rows() == expected


def test_rules_nearest_ancestor_and_province_preset(w):
    city = svc.rules_for(w.route1.org_unit)
    assert city.org_unit is None and city.preset == AlertPreset.NATIONAL
    branch = svc.AlertRules.objects.create(org_unit=w.tree.branch_a, order_ratio="3.00")
    assert svc.rules_for(w.route1.org_unit) == branch
    assert svc.rules_for(w.route3.org_unit) == city
    svc.province_preset(city, w.centre.user)
    city.refresh_from_db()
    assert (str(city.brand_month_growth), str(city.day_share), str(city.order_ratio), city.preset) == (
        "0.75", "0.20", "2.50", "province",
    )  # fmt: skip


def test_refer_then_answer_closes(w):
    alert = spike(w)
    today = timezone.localdate()
    ref = svc.alert_refer(w.cm1.user, alert, None, "请核查")
    assert (ref.inspector, ref.deadline, ref.referred_by) == (w.inspector, today + dt.timedelta(days=7), w.cm1)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.REFERRED
    with pytest.raises(ValidationError):
        svc.alert_dismiss(w.cm1.user, alert, "x")  # no longer open
    with pytest.raises(PermissionDenied):
        svc.referral_answer(w.head.user, ref, ReferralOutcome.CONFIRMED, "x")
    svc.referral_answer(w.inspector.user, ref, ReferralOutcome.CONFIRMED, "确认代订")
    alert.refresh_from_db()
    ref.refresh_from_db()
    assert (alert.status, ref.outcome, ref.feedback) == (AlertStatus.CLOSED, "confirmed", "确认代订")
    assert alert.status_note.endswith(": 确认代订")


def test_overdue_highlighted_and_reminded(w):
    today = timezone.localdate()
    ref = svc.alert_refer(w.head.user, spike(w), today - dt.timedelta(days=2), "", today - dt.timedelta(days=10))
    assert svc.is_overdue(ref) and list(svc.overdue_referrals()) == [ref]
    assert svc.remind_overdue() == 2 and svc.remind_overdue() == 0
    assert set(Reminder.objects.values_list("user_id", flat=True)) == {w.inspector.user_id, w.head.user_id}
    page = login(w.inspector).get(reverse("supply:referral_list"))
    assert f'data-referral="{ref.pk}" data-overdue="1"' in page.content.decode()
    home = login(w.inspector).get(reverse("core:home")).content.decode()
    assert f'data-referral="{ref.pk}" data-overdue="1"' in home


def test_scope_cm_inspector_and_dismiss(w):
    alert = spike(w)
    assert login(w.cm1).get(reverse("supply:alert_detail", args=[alert.pk])).status_code == 200
    assert login(w.cm2).get(reverse("supply:alert_detail", args=[alert.pk])).status_code == 404
    assert login(w.cm2).get(f"/api/supply/alerts/{alert.pk}/").status_code == 404
    other = StaffFactory(role=Role.INSPECTOR, org_unit=w.tree.branch_b, employee_no="insp-b")
    assert login(other).get(reverse("supply:alert_detail", args=[alert.pk])).status_code == 404
    insp = login(w.inspector)
    assert insp.get(reverse("supply:alert_detail", args=[alert.pk])).status_code == 200
    assert insp.post(reverse("supply:alert_dismiss", args=[alert.pk]), {"reason": "x"}).status_code == 403
    assert insp.post(f"/api/supply/alerts/{alert.pk}/dismiss/", {"reason": "x"}).status_code == 403
    with pytest.raises(OutOfScope):
        svc.alert_dismiss(w.cm2.user, alert, "x")
    r = login(w.cm1).post(f"/api/supply/alerts/{alert.pk}/refer/", {"note": "请核查"})
    assert r.status_code == 200 and r.json()["status"] == "referred"
    ref = Referral.objects.get(alert=alert)
    r = insp.post(f"/api/supply/referrals/{ref.pk}/answer/", {"outcome": "explained", "feedback": "婚宴"})
    assert r.status_code == 200 and r.json()["outcome"] == "explained"
    assert login(other).get(f"/api/supply/referrals/{ref.pk}/").status_code == 404


def test_pages_and_export(w):
    c = login(w.head)
    page = c.get(reverse("supply:alert_list"), {"kind": "order_spike"}).content.decode()
    assert page.count("data-alert=") == 1
    detail = c.get(reverse("supply:alert_detail", args=[spike(w).pk])).content.decode()
    assert 'id="alert-chart"' in detail and 'id="alert-refer-form"' in detail
    x = c.get(reverse("supply:alert_list_xlsx"))
    assert x.status_code == 200 and x["Content-Type"].startswith("application/vnd.openxml")
    assert login(w.centre).get(reverse("supply:alert_rules")).status_code == 200
    r = login(w.centre).post(reverse("supply:alert_rules"), {"preset": "province"})
    assert r.status_code == 302 and svc.city_rules().preset == "province"
    assert login(w.cm1).post(reverse("supply:alert_rules"), {"preset": "province"}).status_code == 403


def test_plan_focus_suggestion_shows_the_alert(w):
    alert = spike(w)
    focus = {f.retailer.pk: f for f in suggest_plan(w.cm1, "2026-11", today=dt.date(2026, 11, 1)).focus}
    assert focus[w.shops1[SPIKE].pk].reason == FocusReason.ANOMALY
    assert focus[w.shops1[SPIKE].pk].detail.startswith(f"{alert.get_kind_display()}：{alert.detail}")


def test_evaluate_prints_precision_and_recall(w, settings, capsys):
    shop = w.shops1[SPIKE]
    planted = [
        {"kind": "spike", "retailer_id": shop.pk, "start": "2026-10-13", "end": "2026-10-13"},
        {"kind": "collapse", "retailer_id": w.shops1[0].pk, "start": "2026-09-01", "end": "2026-10-31"},
        {"kind": "spike", "retailer_id": w.shops1[1].pk, "start": "2026-05-05", "end": "2026-05-05"},  # not evaluated
    ]
    (settings.CMDESK_DATA_DIR / "anomalies.json").write_text(json.dumps(planted))
    call_command("alerts", "evaluate", "--from", "2026-09", "--to", "2026-10")
    out = capsys.readouterr().out.splitlines()
    assert out[2] == "order_spike            1        1     100.0%"
    assert "all                    1        1     100.0%" in out
    assert out[-4] == "all                    2        1      50.0%"
    assert out[10] == "all but peer           1        1     100.0%"
    assert out[12] == "(1 planted outside 2026-09..2026-10 left out)"
    assert out[-3] == "brand alerts (not counted): day_share 8"
    assert out[-1] == f"missed: collapse retailer {w.shops1[0].pk} 2026-09-01..2026-10-31"
    assert out[0].endswith("rules: city default (national), " + out[0].rsplit(", ", 1)[1])


def test_a_month_in_progress_waits_for_its_whole_month_rules(w, settings, capsys):
    """On 2026-10-20 October is in progress: the spike of the 13th is found, the whole-month rules wait (and say so);
    once October is over the same detection judges them too, on the same alert keys."""
    assert svc.month_complete("2026-10", today=dt.date(2026, 10, 31)) is False
    assert svc.month_complete("2026-10", today=dt.date(2026, 11, 1)) is True
    assert svc.month_complete("2026-09", today=dt.date(2026, 9, 30)) is True  # October's orders are in the store
    Alert.objects.all().delete()  # the fixture's detection, run today
    with time_machine.travel(dt.datetime(2026, 10, 20, 9, tzinfo=dt.UTC), tick=False):
        call_command("alerts", "detect", "--month", "2026-10")
    out = capsys.readouterr().out.splitlines()
    assert out[2] == (
        "2026-10 is still in progress: brand_month, day_share, month_spike, peer_growth, collapse, above_tier wait "
        "until it is over"
    )
    assert [(a.kind, a.retailer_id) for a in Alert.objects.all()] == [(AlertKind.ORDER_SPIKE, w.shops1[SPIKE].pk)]
    report = svc.detect_month("2026-10")  # today: October is over
    assert report.deferred == () and (report.created, report.updated, report.unchanged) == (4, 0, 1)
    assert AlertKind.DAY_SHARE in report.by_kind and Alert.objects.count() == sum(report.by_kind.values())


def test_evaluate_judges_each_retailer_by_its_units_rules_unless_a_preset_is_given(w, settings, capsys):
    """Branch A's own rules tolerate single orders up to 20 × the average: its spike is no longer found, as
    detection would not find it; ``--preset`` judges everyone by the preset and finds it again."""
    planted = [{"kind": "spike", "retailer_id": w.shops1[SPIKE].pk, "start": "2026-10-13", "end": "2026-10-13"}]
    (settings.CMDESK_DATA_DIR / "anomalies.json").write_text(json.dumps(planted))
    branch = svc.create_override(w.tree.branch_a, w.centre.user)
    svc.rules_update(branch, {"order_ratio": Decimal("20.00")}, w.centre.user)
    call_command("alerts", "evaluate", "--from", "2026-09", "--to", "2026-10")
    out = capsys.readouterr().out.splitlines()
    assert "rules: city default (national); 甲县分公司 (A) (national), " in out[0]
    assert out[2] == "order_spike            0        0          —"
    assert out[-4] == "all                    1        0       0.0%"  # planted 1, found 0
    assert out[-1] == f"missed: spike retailer {w.shops1[SPIKE].pk} 2026-10-13..2026-10-13"
    call_command("alerts", "evaluate", "--from", "2026-09", "--to", "2026-10", "--preset", "national")
    out = capsys.readouterr().out.splitlines()
    assert "rules: national, " in out[0]
    assert out[2] == "order_spike            1        1     100.0%"


def test_rules_api(w):
    r = login(w.inspector).get("/api/supply/alert-rules/city/")
    assert r.status_code == 200 and r.json()["order_ratio"] == "2.00" and r.json()["holidays"][11] == {
        "name": "春节", "date": "2026-02-17",
    }  # fmt: skip
    assert (
        login(w.cm1)
        .patch("/api/supply/alert-rules/city/", {"order_ratio": "2.5"}, content_type="application/json")
        .status_code
        == 403
    )
    c = login(w.centre)
    r = c.patch("/api/supply/alert-rules/city/", {"order_ratio": "2.5"}, content_type="application/json")
    assert r.status_code == 200 and svc.city_rules().order_ratio == Decimal("2.50")
    r = c.patch(
        "/api/supply/alert-rules/city/", {"holidays": [{"date": "2026-13-01"}]}, content_type="application/json"
    )
    assert r.status_code == 400
    r = c.post("/api/supply/alert-rules/city/preset/", {"preset": "province"})
    assert r.status_code == 200 and r.json()["day_share"] == "0.20"


def test_demo_step(w):
    from cmdesk.demo.supply_alerts import build_alerts_demo

    Alert.objects.all().delete()
    done = build_alerts_demo(as_of=dt.date(2026, 10, 31), seed=7)
    assert done == {"months": 3, "alerts": Alert.objects.count(), "referrals": 1}
    ref = Referral.objects.get()
    assert (ref.alert.kind, ref.outcome, ref.alert.status) == (AlertKind.ORDER_SPIKE, "explained", AlertStatus.CLOSED)
