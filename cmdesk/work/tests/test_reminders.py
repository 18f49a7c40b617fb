"""Reminders: one per overdue item for the CM and the heads above it, never twice; marking read; command; API."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from cmdesk.work.models import (
    ArrangementStatus,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    PlanStatus,
    Reminder,
    SummaryKind,
)
from cmdesk.work.services.reminders import reminder_mark_read, reminders_mark_all_read, send_reminders

from .test_board import arrangement, at, plan, summary
from .world import build_work_world

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 5)  # a Thursday: November's plan, this week's arrangement, October's summary are overdue
NOV = dt.date(2026, 11, 1)


@pytest.fixture
def world():
    w = build_work_world(orders=False)
    # cm1 did everything but October's summary, and has one overdue feedback
    plan(w.cm1, NOV, status=PlanStatus.APPROVED, submitted=at(dt.date(2026, 10, 20)))
    arrangement(w.cm1, dt.date(2026, 11, 2), submitted=at(dt.date(2026, 10, 30)))
    for monday in (dt.date(2026, 10, 19), dt.date(2026, 10, 26)):
        summary(w.cm1, SummaryKind.WEEK, monday, monday + dt.timedelta(days=6), submitted=at(monday, 9))
    Feedback.objects.create(
        cm=w.cm1, retailer=w.shops1[0], kind=FeedbackKind.SUPPLY, text="要芙蓉王", due=dt.date(2026, 11, 1)
    )
    Feedback.objects.create(
        cm=w.cm1, retailer=w.shops1[1], kind=FeedbackKind.NEED, text="later", due=dt.date(2026, 11, 9)
    )
    Feedback.objects.create(
        cm=w.cm1, retailer=w.shops1[2], kind=FeedbackKind.NEED, text="done", due=dt.date(2026, 11, 1),
        status=FeedbackStatus.RESOLVED,
    )  # fmt: skip
    # cm2 only drafted next week's arrangement (not due yet) and nothing else
    arrangement(w.cm2, dt.date(2026, 11, 9), status=ArrangementStatus.DRAFT)
    return w


def keys(user) -> set[str]:
    return set(Reminder.objects.filter(user=user).values_list("key", flat=True))


def test_reminders_for_cm_and_head_once(world):
    w = world
    sent = send_reminders(TODAY)
    c1, c2, c3 = w.cm1.pk, w.cm2.pk, w.cm3.pk
    assert keys(w.cm1.user) == {f"month_summary:{c1}:2026-10", f"feedback:{Feedback.objects.get(text='要芙蓉王').pk}"}
    cm2_keys = {
        f"plan:{c2}:2026-11",
        f"arrangement:{c2}:2026-11-02",
        f"week_summary:{c2}:2026-10-19",
        f"week_summary:{c2}:2026-10-26",
        f"month_summary:{c2}:2026-10",
    }
    assert keys(w.cm2.user) == cm2_keys
    assert keys(w.cm3.user) == {k.replace(f":{c2}:", f":{c3}:") for k in cm2_keys}
    assert keys(w.head.user) == keys(w.cm1.user) | cm2_keys  # dept A's head: cm1 and cm2, not cm3 (branch B)
    assert keys(w.clerk.user) == keys(w.inspector.user) == set()
    assert sent.count == 2 + 5 + 5 + 7 == Reminder.objects.count()

    plan_reminder = Reminder.objects.get(user=w.cm2.user, key=f"plan:{c2}:2026-11")
    assert "2026-11" in plan_reminder.text and "2026-10-25" in plan_reminder.text
    assert plan_reminder.url and plan_reminder.read_at is None
    head_reminder = Reminder.objects.get(user=w.head.user, key=f"plan:{c2}:2026-11")
    assert w.cm2.name in head_reminder.text

    again = send_reminders(TODAY)
    assert again.count == 0 and again.items == sent.items
    assert send_reminders(TODAY + dt.timedelta(days=1)).count == 0
    assert Reminder.objects.count() == 19


def test_nothing_before_the_deadlines(world):
    # 2026-10-25 is November's plan's due day, a Sunday: this week's arrangement was due 10-18 (cm2 has none)
    w = world
    sent = send_reminders(dt.date(2026, 10, 25))
    assert f"plan:{w.cm2.pk}:2026-11" not in keys(w.cm2.user)
    assert f"plan:{w.cm2.pk}:2026-10" in keys(w.cm2.user)
    assert sent.count == Reminder.objects.count() > 0


def test_mark_read_one_and_all(world, client):
    w = world
    send_reminders(TODAY)
    mine = Reminder.objects.filter(user=w.cm2.user).order_by("id")
    first = mine.first()
    assert reminder_mark_read(actor=w.cm2.user, reminder_id=first.pk).read_at is not None
    from django.http import Http404

    with pytest.raises(Http404):
        reminder_mark_read(actor=w.cm1.user, reminder_id=first.pk)  # not cm1's
    assert reminders_mark_all_read(actor=w.cm2.user) == 4
    assert not Reminder.objects.filter(user=w.cm2.user, read_at__isnull=True).exists()
    assert Reminder.objects.filter(user=w.head.user, read_at__isnull=True).count() == 7  # the head's are untouched

    client.force_login(w.head.user)
    page = client.get(reverse("work:reminders"))
    assert page.status_code == 200 and page.context["unread"] == 7 and page.context["unread_reminders"] == 7
    one = Reminder.objects.filter(user=w.head.user).order_by("id").first()
    response = client.post(reverse("work:reminder_read", args=[one.pk]), {"follow": "1"})
    assert response.status_code == 302 and response.url == one.url
    assert client.post(reverse("work:reminder_read", args=[first.pk])).status_code == 404  # cm2's
    assert client.get(reverse("work:reminder_read", args=[one.pk])).status_code == 405
    response = client.post(reverse("work:reminders_read_all"))
    assert response.status_code == 302
    assert Reminder.objects.filter(user=w.head.user, read_at__isnull=True).count() == 0


def test_command(world):
    out = StringIO()
    call_command("work-remind", "--today", "2026-11-05", stdout=out)
    text = out.getvalue()
    assert "19 reminders created" in text and f"plan:{world.cm2.pk}:2026-11" in text
    out = StringIO()
    call_command("work-remind", "--today", "2026-11-05", stdout=out)
    assert "0 reminders created" in out.getvalue()
    with pytest.raises(CommandError, match="--today"):
        call_command("work-remind", "--today", "5.11.2026")


def test_reminders_api(world, client):
    w = world
    send_reminders(TODAY)
    client.force_login(w.cm2.user)
    data = client.get("/api/work/reminders/").json()
    assert data["count"] == 5 and {r["read"] for r in data["results"]} == {False}
    rid = data["results"][0]["id"]
    response = client.post(f"/api/work/reminders/{rid}/read/")
    assert response.status_code == 200 and response.json()["read"] is True
    assert client.get("/api/work/reminders/", {"unread": "1"}).json()["count"] == 4
    assert client.post("/api/work/reminders/read-all/").json() == {"marked": 4}

    head_reminder = Reminder.objects.filter(user=w.head.user).first()
    assert client.get(f"/api/work/reminders/{head_reminder.pk}/").status_code == 404
    assert client.post(f"/api/work/reminders/{head_reminder.pk}/read/").status_code == 404
    assert Reminder.objects.get(pk=head_reminder.pk).read_at is None
    client.logout()
    assert client.get("/api/work/reminders/").status_code == 403
