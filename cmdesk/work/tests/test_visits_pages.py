"""Pages of the week arrangement and the visits: the CM's own week and visits, heads reading, scope 404s."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from cmdesk.work.models import (
    ArrangementStatus,
    PlannedVisit,
    RetailerUpdate,
    Visit,
    VisitCheck,
    VisitPhoto,
    VisitStatus,
    WeekArrangement,
)
from cmdesk.work.services.arrange import add_planned, arrange_week
from cmdesk.work.services.visits import check_in, check_out, record_checks

from .world import ORIGIN, build_work_world

pytestmark = pytest.mark.django_db

WEEK = dt.date(2030, 1, 7)  # a Monday far ahead: generation does not depend on the day the tests run
ANSWERS = {"price_tags": "yes", "display": "4", "shop_image": "3", "retailer_info": "yes"}


def test_week_page_generate_move_add_remove_submit(client):
    w = build_work_world(orders=False)
    client.force_login(w.cm1.user)
    url = reverse("work:week")
    response = client.get(url, {"week": "2030-01-09"})  # any day of the week
    assert response.status_code == 200 and response.context["monday"] == WEEK
    assert response.context["arrangement"] is None and response.context["can_edit"]

    response = client.post(reverse("work:week_generate"), {"week": WEEK.isoformat()})
    assert response.status_code == 302
    week = WeekArrangement.objects.get(cm=w.cm1, week_start=WEEK)
    rows = list(week.planned_visits.order_by("date", "seq"))
    assert rows and {r.date for r in rows} == {WEEK}  # R1 orders on Tuesdays → Monday visits

    # htmx move: only the grid comes back
    response = client.post(
        reverse("work:planned_move", args=[rows[0].pk]), {"date": "2030-01-10"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert b'id="week-grid"' in response.content and b"<html" not in response.content
    rows[0].refresh_from_db()
    assert (rows[0].date, rows[0].moved_from) == (dt.date(2030, 1, 10), WEEK)
    # a day outside the week: refused, shown in the grid
    response = client.post(
        reverse("work:planned_move", args=[rows[0].pk]), {"date": "2030-01-20"}, HTTP_HX_REQUEST="true"
    )
    assert response.context["errors"] and "2030-01-20" in response.context["errors"][0]

    extra = next(s for s in w.shops1 if s.pk not in {r.retailer_id for r in rows})
    client.post(reverse("work:planned_add"), {"week": WEEK.isoformat(), "retailer": extra.pk, "date": "2030-01-11"})
    added = PlannedVisit.objects.get(cm=w.cm1, retailer=extra, date=dt.date(2030, 1, 11))
    response = client.post(
        reverse("work:planned_add"), {"week": WEEK.isoformat(), "retailer": w.shops2[0].pk, "date": "2030-01-11"}
    )
    assert not PlannedVisit.objects.filter(retailer=w.shops2[0]).exists()  # not one of cm1's retailers
    client.post(reverse("work:planned_remove", args=[added.pk]))
    assert not PlannedVisit.objects.filter(pk=added.pk).exists()

    client.post(reverse("work:week_submit"), {"week": WEEK.isoformat()})
    week.refresh_from_db()
    assert week.status == ArrangementStatus.SUBMITTED and week.submitted_at is not None

    response = client.get(url, {"week": WEEK.isoformat()})
    assert response.context["total"] == len(rows)
    assert response.context["coverage"].total == 12


def test_week_scope(client):
    w = build_work_world(orders=False)
    week = arrange_week(w.cm1, WEEK, w.cm1.user)
    planned = week.planned_visits.first()
    client.force_login(w.cm2.user)
    assert client.post(reverse("work:planned_move", args=[planned.pk]), {"date": "2030-01-08"}).status_code == 404
    assert client.post(reverse("work:planned_remove", args=[planned.pk])).status_code == 404
    assert client.get(reverse("work:planned_detail", args=[planned.pk])).status_code == 404

    client.force_login(w.head.user)  # heads read their CMs' weeks, without editing
    response = client.get(reverse("work:week"), {"cm": w.cm1.pk, "week": WEEK.isoformat()})
    assert response.status_code == 200 and response.context["arrangement"] == week
    assert response.context["can_edit"] is False
    assert client.get(reverse("work:week"), {"cm": w.cm3.pk}).status_code == 404  # another branch
    assert client.get(reverse("work:week")).context["cms"] == [w.cm1, w.cm2]
    assert client.post(reverse("work:planned_move", args=[planned.pk]), {"date": "2030-01-08"}).status_code == 404
    client.force_login(w.inspector.user)
    assert client.get(reverse("work:week")).status_code == 403


def jpeg_upload():
    out = io.BytesIO()
    Image.new("RGB", (3200, 2400), (10, 120, 10)).save(out, "JPEG")
    return SimpleUploadedFile("front.jpg", out.getvalue(), content_type="image/jpeg")


def test_visit_pages_from_today_to_check_out(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    w = build_work_world(orders=False)
    today = timezone.localdate()
    week = WeekArrangement.objects.create(
        cm=w.cm1, week_start=today - dt.timedelta(days=today.weekday()), due=timezone.now()
    )
    shop = w.shops1[2]
    planned = add_planned(week, shop, today, w.cm1.user)
    client.force_login(w.cm1.user)

    response = client.get(reverse("work:today"))
    assert [i.planned for i in response.context["items"]] == [planned]
    assert client.get(reverse("work:retailer_search"), {"q": w.shops1[5].shop_name}).context["results"] == [w.shops1[5]]
    assert client.get(reverse("work:retailer_search"), {"q": w.shops2[0].shop_name}).context["results"] == []

    response = client.get(reverse("work:planned_detail", args=[planned.pk]))
    assert response.status_code == 200 and b'capture="environment"' not in response.content
    assert b"checkin-form" in response.content

    # no location and no reason: the page comes back with the error
    response = client.post(
        reverse("work:visit_start"), {"retailer": shop.pk, "planned": planned.pk, "visit_type": "routine"}
    )
    assert response.status_code == 200 and "no_location_reason" in response.context["form"].errors
    response = client.post(
        reverse("work:visit_start"),
        {
            "retailer": shop.pk,
            "planned": planned.pk,
            "latitude": str(shop.latitude),
            "longitude": str(shop.longitude),
            "accuracy": "12",
            "visit_type": "routine",
        },
    )
    visit = Visit.objects.get(cm=w.cm1)
    assert response.url == reverse("work:visit_detail", args=[visit.pk])
    assert (visit.planned, visit.distance_m, visit.far) == (planned, 0, False)

    detail = client.get(reverse("work:visit_detail", args=[visit.pk]))
    assert detail.status_code == 200 and b'capture="environment"' in detail.content
    assert [i.code for i in detail.context["missing"]][:2] == ["price_tags", "display"]

    # a bad score is shown on its item, nothing stored
    response = client.post(reverse("work:visit_checks", args=[visit.pk]), {**ANSWERS, "display": "9"})
    assert response.status_code == 400 and not VisitCheck.objects.filter(visit=visit).exists()
    hard = w.products["hard"]
    client.post(reverse("work:visit_checks", args=[visit.pk]), {**ANSWERS, "key_brand_stock": [str(hard.pk)]})
    assert VisitCheck.objects.get(visit=visit, item__code="key_brand_stock").value == [hard.pk]

    client.post(reverse("work:visit_photo_add", args=[visit.pk]), {"image": jpeg_upload(), "caption": "门头"})
    photo = VisitPhoto.objects.get(visit=visit)
    served = client.get(reverse("work:visit_photo", args=[photo.pk]))
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    with Image.open(photo.image.path) as image:
        assert image.size == (1600, 1200)

    client.post(reverse("work:visit_feedback", args=[visit.pk]), {"kind": "need", "text": "希望增加芙蓉王投放"})
    assert visit.feedback.get().text == "希望增加芙蓉王投放"
    form = {
        "phone": "13800000000",
        "address": shop.address,
        "business_format": shop.business_format,
        "floor_area": "",
        "order_method": shop.order_method,
        "settlement_method": shop.settlement_method,
        "status": shop.status,
        "opened_on": "",
        "closed_on": "",
    }
    client.post(reverse("work:visit_retailer_update", args=[visit.pk]), form)
    assert list(RetailerUpdate.objects.filter(visit=visit).values_list("field", "after")) == [("phone", "13800000000")]
    client.post(reverse("work:visit_notes", args=[visit.pk]), {"notes": "店主反映客流下降"})

    client.post(reverse("work:visit_checkout", args=[visit.pk]))
    visit.refresh_from_db()
    assert visit.status == VisitStatus.DONE and visit.duration_minutes == 0 and visit.notes == "店主反映客流下降"
    response = client.get(reverse("work:today"))
    assert response.context["items"][0].state == VisitStatus.DONE
    assert client.get(reverse("work:planned_detail", args=[planned.pk])).url == reverse(
        "work:visit_detail", args=[visit.pk]
    )

    # another CM: 404 on the visit and its photo; the head reads it but cannot change it
    client.force_login(w.cm2.user)
    assert client.get(reverse("work:visit_detail", args=[visit.pk])).status_code == 404
    assert client.get(reverse("work:visit_photo", args=[photo.pk])).status_code == 404
    assert client.post(reverse("work:visit_notes", args=[visit.pk]), {"notes": "x"}).status_code == 404
    client.force_login(w.head.user)
    response = client.get(reverse("work:visit_detail", args=[visit.pk]))
    assert response.status_code == 200 and response.context["can_change"] is False
    assert client.post(reverse("work:visit_notes", args=[visit.pk]), {"notes": "x"}).status_code == 404
    assert client.get(reverse("work:today")).status_code == 403


def test_unplanned_visit_outside_the_routes_is_refused(client):
    w = build_work_world(orders=False)
    client.force_login(w.cm1.user)
    assert client.get(reverse("work:visit_start"), {"retailer": w.shops2[0].pk}).status_code == 404
    response = client.post(
        reverse("work:visit_start"),
        {"retailer": w.shops2[0].pk, "latitude": "27.5", "longitude": "110", "visit_type": "routine"},
    )
    assert response.status_code == 404 and not Visit.objects.exists()
    response = client.get(reverse("work:visit_start"), {"retailer": w.shops1[4].pk})
    assert response.status_code == 200 and response.context["planned"] is None


def test_visit_list_and_compliance_pages(client):
    w = build_work_world(orders=False)
    at = timezone.make_aware(dt.datetime(2026, 11, 16, 9, 0))
    far = check_in(w.cm1, w.shops1[0], w.cm1.user, ORIGIN[0] + Decimal("0.018"), ORIGIN[1], 10, at=at)
    record_checks(far, w.cm1.user, {**ANSWERS, "key_brand_stock": []})
    check_out(far, w.cm1.user, at=at + dt.timedelta(minutes=3))
    other = check_in(w.cm2, w.shops2[0], w.cm2.user, None, None, None, at=at, no_location_reason="没有信号")

    client.force_login(w.cm1.user)
    response = client.get(reverse("work:visit_list"))
    assert list(response.context["page"]) == [far]
    assert list(client.get(reverse("work:visit_list"), {"far": "on"}).context["page"]) == [far]
    assert list(client.get(reverse("work:visit_list"), {"date_from": "2026-11-17"}).context["page"]) == []
    assert list(client.get(reverse("work:visit_list"), {"month": "2026-11"}).context["page"]) == [far]
    assert list(client.get(reverse("work:visit_list"), {"month": "2026-10"}).context["page"]) == []

    response = client.get(reverse("work:compliance"), {"month": "2026-11"})
    (result,) = response.context["results"]
    assert [line.visit for line in result.short] == [far] and [line.visit for line in result.far] == [far]
    assert reverse("work:visit_detail", args=[far.pk]).encode() in response.content
    assert client.get(reverse("work:compliance"), {"cm": w.cm2.pk}).status_code == 200  # a CM: always its own
    assert [r.cm for r in client.get(reverse("work:compliance"), {"cm": w.cm2.pk}).context["results"]] == [w.cm1]

    client.force_login(w.head.user)
    response = client.get(reverse("work:compliance"), {"month": "2026-11"})
    assert [r.cm for r in response.context["results"]] == [w.cm1, w.cm2]
    assert [line.visit for line in response.context["results"][1].no_location] == [other]
    response = client.get(reverse("work:compliance"), {"month": "2026-11", "cm": w.cm2.pk})
    assert response.context["single"] and response.context["results"][0].cm == w.cm2
    assert client.get(reverse("work:compliance"), {"cm": w.cm3.pk}).status_code == 404
    assert {v.pk for v in client.get(reverse("work:visit_list")).context["page"]} == {far.pk, other.pk}
    client.force_login(w.inspector.user)
    assert client.get(reverse("work:compliance")).status_code == 403
