"""日拜访 services: check-in (distance, far, no location, outside the routes, one open visit), checklist validation,
photos, feedback, audited retailer updates, check-out and the month's compliance."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from cmdesk.core.exceptions import OutOfScope
from cmdesk.work.models import FeedbackKind, RetailerUpdate, VisitCheck, VisitStatus, VisitType
from cmdesk.work.services.geo import haversine_m
from cmdesk.work.services.visits import (
    add_feedback,
    add_photo,
    cancel_visit,
    check_in,
    check_out,
    compliance,
    compliance_for,
    day_list,
    record_checks,
    search_retailers,
    update_retailer,
)

from .world import ORIGIN, STEP_LON, build_work_world

pytestmark = pytest.mark.django_db

AT = timezone.make_aware(dt.datetime(2026, 11, 16, 9, 0))
ANSWERS = {"price_tags": "yes", "display": "4", "shop_image": 3, "key_brand_stock": [], "retailer_info": True}


def jpeg(width=2400, height=1200, fmt="JPEG"):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, fmt)
    return SimpleUploadedFile(f"shop.{fmt.lower()}", out.getvalue(), content_type=f"image/{fmt.lower()}")


def test_haversine():
    assert haversine_m(27.5, 110.0, 27.5, 110.0) == 0
    # R1's shops stand ≈ 300 m apart
    assert 295 < haversine_m(ORIGIN[0], ORIGIN[1], ORIGIN[0], ORIGIN[1] + STEP_LON) < 305
    assert round(haversine_m(0, 0, 1, 0)) == 111195


def test_check_in_at_the_shop_and_far_from_it():
    w = build_work_world(orders=False)
    shop = w.shops1[0]
    visit = check_in(w.cm1, shop, w.cm1.user, shop.latitude, shop.longitude, 8, at=AT)
    assert (visit.distance_m, visit.far, visit.status, visit.checkin_accuracy_m) == (0, False, VisitStatus.OPEN, 8)
    check_out(record(visit, w), w.cm1.user, at=AT + dt.timedelta(minutes=12))

    # 2 km north of the shop (0.018° of latitude ≈ 2001 m): kept, flagged far, distance recorded
    far = check_in(
        w.cm1, shop, w.cm1.user, shop.latitude + Decimal("0.018"), shop.longitude, 20, at=AT + dt.timedelta(hours=1)
    )
    assert far.far is True
    assert 1990 <= far.distance_m <= 2010


def record(visit, w, answers=ANSWERS):
    record_checks(visit, w.cm1.user, answers)
    return visit


def test_check_in_without_location_needs_a_reason():
    w = build_work_world(orders=False)
    with pytest.raises(ValidationError) as error:
        check_in(w.cm1, w.shops1[0], w.cm1.user, None, None, None, at=AT)
    assert "no_location_reason" in error.value.message_dict
    visit = check_in(w.cm1, w.shops1[0], w.cm1.user, None, None, None, at=AT, no_location_reason="GPS 无信号")
    assert (visit.distance_m, visit.far, visit.no_location_reason) == (None, False, "GPS 无信号")
    with pytest.raises(ValidationError) as error:
        check_in(w.cm1, w.shops1[1], w.cm1.user, Decimal("27.5"), None, None, at=AT)
    assert "latitude" in error.value.message_dict


def test_retailer_outside_the_routes_is_refused_by_licence():
    w = build_work_world(orders=False)
    with pytest.raises(ValidationError) as error:
        check_in(w.cm1, w.shops2[0], w.cm1.user, ORIGIN[0], ORIGIN[1], 5, at=AT)
    message = error.value.message_dict["retailer"][0]
    assert w.shops2[0].licence_no in message and w.cm1.name in message
    assert w.shops2[0].shop_name not in message  # another CM's shop: its name is not disclosed
    with pytest.raises(OutOfScope):  # cm2 cannot check in for cm1
        check_in(w.cm1, w.shops1[0], w.cm2.user, ORIGIN[0], ORIGIN[1], 5, at=AT)


def test_one_open_visit_at_a_time_and_cancel():
    w = build_work_world(orders=False)
    first = check_in(w.cm1, w.shops1[0], w.cm1.user, ORIGIN[0], ORIGIN[1], 5, at=AT)
    with pytest.raises(ValidationError) as error:
        check_in(w.cm1, w.shops1[1], w.cm1.user, ORIGIN[0], ORIGIN[1], 5, at=AT)
    assert w.shops1[0].shop_name in error.value.message_dict["retailer"][0]
    cancel_visit(first, w.cm1.user)
    second = check_in(w.cm1, w.shops1[1], w.cm1.user, ORIGIN[0], ORIGIN[1], 5, at=AT)
    assert second.status == VisitStatus.OPEN


def test_checklist_validation_and_problems():
    w = build_work_world(orders=False)
    hard, baisha = w.products["hard"], w.products["baisha"]
    visit = check_in(w.cm1, w.shops1[0], w.cm1.user, ORIGIN[0], ORIGIN[1], 5, at=AT)
    with pytest.raises(ValidationError) as error:
        record_checks(
            visit,
            w.cm1.user,
            {"price_tags": "maybe", "display": 7, "key_brand_stock": [baisha.pk], "nope": 1, "new_product_selling": 3},
        )
    errors = error.value.message_dict
    assert set(errors) == {"price_tags", "display", "key_brand_stock", "nope", "new_product_selling"}
    assert str(baisha.pk) in errors["key_brand_stock"][0]
    assert not VisitCheck.objects.filter(visit=visit).exists()  # nothing half-written

    with pytest.raises(ValidationError) as error:  # required items unanswered
        check_out(visit, w.cm1.user, at=AT + dt.timedelta(minutes=20))
    assert "checks" in error.value.message_dict

    record_checks(
        visit,
        w.cm1.user,
        {
            "price_tags": "no",
            "display": {"value": 2, "note": "陈列杂乱"},
            "shop_image": 5,
            "key_brand_stock": [hard.pk, w.products["furong"].pk],
            "retailer_info": "yes",
        },
    )
    checks = {c.item.code: c for c in VisitCheck.objects.filter(visit=visit).select_related("item")}
    assert (checks["price_tags"].value, checks["price_tags"].ok) == (False, False)
    assert (checks["display"].value, checks["display"].ok, checks["display"].note) == (2, False, "陈列杂乱")
    assert (checks["shop_image"].value, checks["shop_image"].ok) == (5, True)
    assert sorted(checks["key_brand_stock"].value) == sorted([hard.pk, w.products["furong"].pk])
    assert checks["key_brand_stock"].ok is True

    # a new-product visit has its own points: a number ≥ 0
    check_out(visit, w.cm1.user, at=AT + dt.timedelta(minutes=20))
    np_visit = check_in(
        w.cm1,
        w.shops1[1],
        w.cm1.user,
        ORIGIN[0],
        ORIGIN[1],
        5,
        visit_type=VisitType.NEW_PRODUCT,
        at=AT + dt.timedelta(hours=1),
    )
    with pytest.raises(ValidationError) as error:
        record_checks(np_visit, w.cm1.user, {"new_product_selling": -1})
    assert "new_product_selling" in error.value.message_dict
    record_checks(np_visit, w.cm1.user, {"new_product_selling": "12", "new_product_placed": True})
    assert VisitCheck.objects.get(visit=np_visit, item__code="new_product_selling").value == 12


def test_check_out_duration_and_compliance():
    w = build_work_world(orders=False)
    shop = w.shops1[0]
    visit = record(check_in(w.cm1, shop, w.cm1.user, shop.latitude, shop.longitude, 5, at=AT), w)
    check_out(visit, w.cm1.user, at=AT + dt.timedelta(minutes=25, seconds=40))
    visit.refresh_from_db()
    assert (visit.status, visit.duration_minutes) == (VisitStatus.DONE, 25)
    with pytest.raises(ValidationError):
        check_out(visit, w.cm1.user)

    short = record(
        check_in(w.cm1, w.shops1[1], w.cm1.user, shop.latitude, shop.longitude, 5, at=AT + dt.timedelta(hours=1)), w
    )
    check_out(short, w.cm1.user, at=short.checkin_at + dt.timedelta(minutes=4))  # not refused
    far_at = AT + dt.timedelta(hours=2)
    far = record(
        check_in(w.cm1, w.shops1[2], w.cm1.user, shop.latitude + Decimal("0.018"), shop.longitude, 5, at=far_at), w
    )
    check_out(far, w.cm1.user, at=far_at + dt.timedelta(minutes=30))
    blind = check_in(
        w.cm1, w.shops1[3], w.cm1.user, None, None, None, at=AT + dt.timedelta(hours=3), no_location_reason="x"
    )
    record(blind, w)
    check_out(blind, w.cm1.user, at=blind.checkin_at + dt.timedelta(minutes=15))

    result = compliance_for(w.cm1, dt.date(2026, 11, 1), as_of=dt.date(2026, 11, 20))
    assert result.visits == 4
    assert [line.visit for line in result.short] == [short]
    assert [(line.visit, line.distance_m) for line in result.far] == [(far, far.distance_m)]
    assert [line.visit for line in result.no_location] == [blind]
    not_visited = {line.retailer.pk: line for line in result.not_visited}
    assert set(not_visited) == {s.pk for s in w.shops1[4:]}  # never visited
    assert not_visited[w.shops1[4].pk].last_visit is None

    # 31 days later the route's 30-day cycle has run out for the visited ones too
    later = compliance_for(w.cm1, dt.date(2026, 12, 1), as_of=dt.date(2026, 12, 17))
    assert {line.retailer.pk for line in later.not_visited} == {s.pk for s in w.shops1}
    assert later.not_visited[0].days == 31 and later.not_visited[0].cycle_days == 30

    # heads see their department's CMs, a CM only itself; another CM is out of scope
    head = compliance(w.head.user, dt.date(2026, 11, 1), as_of=dt.date(2026, 11, 20))
    assert [c.cm for c in head] == [w.cm1, w.cm2]
    assert [c.cm for c in compliance(w.cm1.user, dt.date(2026, 11, 1))] == [w.cm1]
    with pytest.raises(OutOfScope):
        compliance(w.cm1.user, dt.date(2026, 11, 1), cm=w.cm2)
    with pytest.raises(OutOfScope):
        compliance(w.inspector.user, dt.date(2026, 11, 1))


def test_photo_is_validated_and_downscaled(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    w = build_work_world(orders=False)
    visit = check_in(w.cm1, w.shops1[0], w.cm1.user, ORIGIN[0], ORIGIN[1], 5, at=AT)
    photo = add_photo(visit, w.cm1.user, jpeg(2400, 1200, "PNG"), caption="柜台陈列")
    with Image.open(photo.image.path) as image:
        assert (image.format, image.size) == ("JPEG", (1600, 800))
    assert photo.caption == "柜台陈列" and photo.image.name.startswith("visits/2026/11/")
    with pytest.raises(ValidationError) as error:
        add_photo(visit, w.cm1.user, SimpleUploadedFile("x.jpg", b"not an image"), caption="")
    assert "image" in error.value.message_dict
    with pytest.raises(OutOfScope):
        add_photo(visit, w.cm2.user, jpeg(10, 10))


def test_feedback():
    w = build_work_world(orders=False)
    visit = check_in(w.cm1, w.shops1[0], w.cm1.user, ORIGIN[0], ORIGIN[1], 5, at=AT)
    feedback = add_feedback(visit, w.cm1.user, FeedbackKind.SUPPLY, "芙蓉王(硬)货源不足", product=w.products["furong"])
    assert (feedback.cm, feedback.retailer, feedback.visit) == (w.cm1, w.shops1[0], visit)
    with pytest.raises(ValidationError) as error:
        add_feedback(visit, w.cm1.user, "gossip", " ")
    assert set(error.value.message_dict) == {"kind", "text"}


def test_retailer_update_is_audited():
    w = build_work_world(orders=False)
    shop = w.shops1[0]
    old_phone = shop.phone
    here = (shop.latitude + Decimal("0.000300"), shop.longitude)
    visit = check_in(w.cm1, shop, w.cm1.user, here[0], here[1], 5, at=AT)
    rows = update_retailer(
        visit,
        w.cm1.user,
        {"phone": "13911112222", "floor_area": "35.5", "settlement_method": "pos"},
        location_here=True,
    )
    assert sorted(r.field for r in rows) == [
        "floor_area",
        "latitude",
        "phone",
        "settlement_method",
    ]  # longitude unchanged
    shop.refresh_from_db()
    assert (shop.phone, shop.floor_area, shop.latitude) == ("13911112222", Decimal("35.5"), here[0])
    phone_row = RetailerUpdate.objects.get(visit=visit, field="phone")
    assert (phone_row.before, phone_row.after) == (old_phone, "13911112222")
    entry = LogEntry.objects.get_for_object(shop).order_by("-id").first()
    assert entry.actor == w.cm1.user and entry.changes_dict["phone"] == [old_phone, "13911112222"]

    with pytest.raises(ValidationError) as error:
        update_retailer(visit, w.cm1.user, {"tier": 30, "status": "sleeping", "floor_area": "-1"})
    assert set(error.value.message_dict) == {"tier", "status", "floor_area"}
    with pytest.raises(ValidationError) as error:  # the model's own checks: closing before opening
        update_retailer(visit, w.cm1.user, {"opened_on": "2026-05-01", "closed_on": "2026-04-01"})
    shop.refresh_from_db()
    assert shop.opened_on is None
    assert RetailerUpdate.objects.filter(visit=visit).count() == 4


def test_day_list_and_search():
    w = build_work_world(orders=False)
    from cmdesk.work.services.arrange import arrange_week

    arrange_week(w.cm1, dt.date(2026, 11, 16), w.cm1.user, today=dt.date(2026, 11, 16))
    items = day_list(w.cm1, dt.date(2026, 11, 16))
    assert items and all(i.planned is not None and i.state == "todo" for i in items)
    first = items[0]
    check_in(w.cm1, first.retailer, w.cm1.user, ORIGIN[0], ORIGIN[1], 5, at=AT)  # linked to today's plan
    unplanned = next(s for s in w.shops1 if s.pk not in {i.retailer.pk for i in items})
    items = day_list(w.cm1, dt.date(2026, 11, 16))
    assert items[0].state == VisitStatus.OPEN and items[0].visit.planned == first.planned
    assert unplanned.shop_name in [r.shop_name for r in search_retailers(w.cm1, unplanned.shop_name)]
    assert search_retailers(w.cm1, w.shops2[0].shop_name) == []
