"""API: arrangements, planned visits, visits from check-in to check-out, compliance, checklist; scope 404s."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from cmdesk.work.models import ArrangementStatus, PlannedVisit, RetailerUpdate, Visit, VisitStatus

from .world import ORIGIN, build_work_world

pytestmark = pytest.mark.django_db

WEEK = dt.date(2030, 1, 7)


@pytest.fixture
def api():
    return APIClient()


def test_arrangement_api(api):
    w = build_work_world(orders=False)
    api.force_authenticate(w.cm1.user)
    response = api.post("/api/work/arrangements/generate/", {"week_start": "2030-01-09"}, format="json")
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["week_start"] == "2030-01-07" and body["status"] == ArrangementStatus.DRAFT
    planned = body["planned_visits"]
    assert planned and {p["date"] for p in planned} == {"2030-01-07"}
    assert [p["seq"] for p in planned] == list(range(1, len(planned) + 1))

    listed = api.get("/api/work/planned-visits/", {"date": "2030-01-07"}).json()
    assert listed["count"] == len(planned)
    first = planned[0]["id"]
    moved = api.post(f"/api/work/planned-visits/{first}/move/", {"date": "2030-01-09"}, format="json").json()
    assert (moved["date"], moved["moved_from"]) == ("2030-01-09", "2030-01-07")
    bad = api.post(f"/api/work/planned-visits/{first}/move/", {"date": "2030-02-01"}, format="json")
    assert bad.status_code == 400 and "date" in bad.json()

    extra = next(s for s in w.shops1 if s.pk not in {p["retailer"] for p in planned})
    created = api.post("/api/work/planned-visits/", {"retailer": extra.pk, "date": "2030-01-10"}, format="json")
    assert created.status_code == 201 and created.json()["reason"] == "manual"
    outside = api.post("/api/work/planned-visits/", {"retailer": w.shops2[0].pk, "date": "2030-01-10"}, format="json")
    assert outside.status_code == 400 and w.shops2[0].licence_no in outside.json()["retailer"][0]
    # a week not arranged yet gets its arrangement on the first addition
    later = api.post("/api/work/planned-visits/", {"retailer": extra.pk, "date": "2030-01-15"}, format="json")
    assert later.status_code == 201
    assert api.delete(f"/api/work/planned-visits/{created.json()['id']}/").status_code == 204
    assert not PlannedVisit.objects.filter(pk=created.json()["id"]).exists()

    submitted = api.post(f"/api/work/arrangements/{body['id']}/submit/")
    assert submitted.status_code == 200 and submitted.json()["status"] == ArrangementStatus.SUBMITTED
    assert api.post(f"/api/work/arrangements/{body['id']}/submit/").status_code == 400

    # another CM: 404; a head: reads, cannot generate or move
    api.force_authenticate(w.cm2.user)
    assert api.get(f"/api/work/arrangements/{body['id']}/").status_code == 404
    assert api.post(f"/api/work/planned-visits/{first}/move/", {"date": "2030-01-08"}, format="json").status_code == 404
    assert api.delete(f"/api/work/planned-visits/{first}/").status_code == 404
    assert api.get("/api/work/planned-visits/").json()["count"] == 0
    api.force_authenticate(w.head.user)
    assert api.get(f"/api/work/arrangements/{body['id']}/").status_code == 200
    assert api.post("/api/work/arrangements/generate/", {"week_start": "2030-01-07"}, format="json").status_code == 403
    assert api.post(f"/api/work/planned-visits/{first}/move/", {"date": "2030-01-08"}, format="json").status_code == 403


def jpeg_bytes():
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (0, 0, 200)).save(out, "JPEG")
    return out.getvalue()


def test_visit_api_from_check_in_to_check_out(api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    w = build_work_world(orders=False)
    shop = w.shops1[0]
    api.force_authenticate(w.cm1.user)

    outside = api.post(
        "/api/work/visits/",
        {"retailer": w.shops2[0].pk, "latitude": "27.5", "longitude": "110.0", "accuracy": 5},
        format="json",
    )
    assert outside.status_code == 400
    assert w.shops2[0].licence_no in outside.json()["retailer"][0]
    assert w.shops2[0].shop_name not in outside.json()["retailer"][0]
    blind = api.post("/api/work/visits/", {"retailer": shop.pk}, format="json")
    assert blind.status_code == 400 and "no_location_reason" in blind.json()

    far = api.post(
        "/api/work/visits/",
        {
            "retailer": shop.pk,
            "latitude": str(ORIGIN[0] + Decimal("0.018")),
            "longitude": str(ORIGIN[1]),
            "accuracy": 9,
        },
        format="json",
    )
    assert far.status_code == 201, far.json()
    visit = far.json()
    assert visit["far"] is True and 1990 <= visit["distance_m"] <= 2010 and visit["status"] == VisitStatus.OPEN
    vid = visit["id"]

    bad = api.post(f"/api/work/visits/{vid}/checks/", {"answers": {"display": 0}}, format="json")
    assert bad.status_code == 400 and "display" in bad.json()
    assert api.post(f"/api/work/visits/{vid}/checkout/").status_code == 400  # required items unanswered
    answers = {
        "price_tags": True,
        "display": {"value": 2, "note": "柜台杂乱"},
        "shop_image": 4,
        "key_brand_stock": [w.products["hard"].pk],
        "retailer_info": "yes",
    }
    checked = api.post(f"/api/work/visits/{vid}/checks/", {"answers": answers}, format="json").json()
    by_code = {c["code"]: c for c in checked["checks"]}
    assert by_code["display"]["ok"] is False and by_code["key_brand_stock"]["value"] == [w.products["hard"].pk]

    photo = api.post(
        f"/api/work/visits/{vid}/photos/",
        {"image": SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg"), "caption": "价签"},
        format="multipart",
    )
    assert photo.status_code == 201 and photo.json()["caption"] == "价签"
    not_image = api.post(
        f"/api/work/visits/{vid}/photos/",
        {"image": SimpleUploadedFile("p.jpg", b"plain text", content_type="image/jpeg")},
        format="multipart",
    )
    assert not_image.status_code == 400 and "image" in not_image.json()

    feedback = api.post(f"/api/work/visits/{vid}/feedback/", {"kind": "complaint", "text": "送货晚"}, format="json")
    assert feedback.status_code == 201 and feedback.json()["kind"] == "complaint"

    updates = api.post(
        f"/api/work/visits/{vid}/retailer-updates/",
        {"changes": {"phone": "13700000000"}, "location_here": True},
        format="json",
    )
    assert updates.status_code == 200
    assert sorted(u["field"] for u in updates.json()) == ["latitude", "phone"]
    shop.refresh_from_db()
    assert shop.phone == "13700000000" and shop.latitude == ORIGIN[0] + Decimal("0.018")
    assert RetailerUpdate.objects.filter(retailer=shop).count() == 2
    assert LogEntry.objects.get_for_object(shop).filter(actor=w.cm1.user).exists()
    refused = api.post(f"/api/work/visits/{vid}/retailer-updates/", {"changes": {"route": 1}}, format="json")
    assert refused.status_code == 400 and "route" in refused.json()

    done = api.post(f"/api/work/visits/{vid}/checkout/")
    assert done.status_code == 200 and done.json()["status"] == VisitStatus.DONE
    assert done.json()["duration_minutes"] == 0
    full = api.get(f"/api/work/visits/{vid}/").json()
    assert len(full["photos"]) == 1 and len(full["feedback"]) == 1 and len(full["retailer_updates"]) == 2

    # scope: another CM gets 404 on the visit and its actions; a head reads it but cannot act
    api.force_authenticate(w.cm2.user)
    assert api.get(f"/api/work/visits/{vid}/").status_code == 404
    assert api.post(f"/api/work/visits/{vid}/checks/", {"answers": {}}, format="json").status_code == 404
    assert api.get("/api/work/visits/").json()["count"] == 0
    api.force_authenticate(w.head.user)
    assert api.get(f"/api/work/visits/{vid}/").status_code == 200
    assert api.post(f"/api/work/visits/{vid}/checkout/").status_code == 403
    assert api.post("/api/work/visits/", {"retailer": shop.pk}, format="json").status_code == 403
    api.force_authenticate(w.cm3.user)
    assert api.get("/api/work/visits/", {"status": "done"}).json()["count"] == 0


def test_compliance_and_checklist_api(api):
    w = build_work_world(orders=False)
    at = timezone.make_aware(dt.datetime(2026, 11, 16, 9, 0))
    Visit.objects.create(
        cm=w.cm1,
        retailer=w.shops1[0],
        checkin_at=at,
        checkout_at=at + dt.timedelta(minutes=2),
        duration_minutes=2,
        status=VisitStatus.DONE,
        checkin_latitude=ORIGIN[0],
        checkin_longitude=ORIGIN[1],
        distance_m=0,
    )
    api.force_authenticate(w.cm1.user)
    (mine,) = api.get("/api/work/compliance/", {"month": "2026-11", "as_of": "2026-11-20"}).json()
    assert mine["cm"] == w.cm1.pk and mine["visits"] == 1
    assert [x["retailer"] for x in mine["short"]] == [w.shops1[0].pk] and mine["short"][0]["minutes"] == 2
    assert len(mine["not_visited"]) == 11
    assert api.get("/api/work/compliance/", {"cm": w.cm2.pk}).status_code == 404
    assert api.get("/api/work/compliance/", {"month": "11/2026"}).status_code == 400

    api.force_authenticate(w.head.user)
    rows = api.get("/api/work/compliance/", {"month": "2026-11"}).json()
    assert [r["cm"] for r in rows] == [w.cm1.pk, w.cm2.pk]
    assert api.get("/api/work/compliance/", {"cm": w.cm3.pk}).status_code == 404
    api.force_authenticate(w.inspector.user)
    assert api.get("/api/work/compliance/").status_code == 403

    api.force_authenticate(w.cm1.user)
    items = api.get("/api/work/checklist/").json()
    assert [i["code"] for i in items][:3] == ["price_tags", "display", "shop_image"]
