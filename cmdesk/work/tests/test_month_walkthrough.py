"""One customer manager's October 2026 through the API a phone app would use, with the clock moved day by day:
the plan submitted on time and approved, the first week arranged and submitted, the Monday's visits made at the shops
(one check-in 2 km away), the monthly summary drafted with the month's real figures, edited, submitted and commented
by the head; the head's board then shows all of it, and another CM reads none of it.

The figures are world.py's: cm1's route R1 sells 638 cartons (2.55 cases) in October 2026 against 672 (2.69 cases)
in October 2025; shop R1-03 stopped ordering after August.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from cmdesk.work.models import PlannedVisit, Visit, VisitStatus

from .world import STEP_LON, STOPPED, build_work_world

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")


def on(day: str, time: str = "09:00"):
    return time_machine.travel(dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=TZ), tick=False)


def client_for(staff) -> APIClient:
    api = APIClient()
    api.force_authenticate(staff.user)
    return api


def test_a_cm_month_from_plan_to_commented_summary():
    w = build_work_world()
    cm, head = client_for(w.cm1), client_for(w.head)

    # --- 月计划: prepared and submitted before the 25th of September, approved by the head ---------------------------
    with on("2026-09-24"):
        created = cm.post("/api/work/plans/", {"month": "2026-10"}, format="json")
        assert created.status_code == 201, created.content
        plan = created.json()
        route_target = plan["route_targets"][0]
        assert route_target["route"] == w.route1.pk and Decimal(route_target["suggested_cases"]) > 0
        focus = {f["retailer"]: f["reason"] for f in plan["focus_retailers"]}
        assert focus[w.shops1[STOPPED].pk] == "stopped"
        patched = cm.patch(
            f"/api/work/plans/{plan['id']}/",
            {"key_tasks": "红塔山(硬)上柜率提到100%; 走访一线03号店了解停订原因"},
            format="json",
        )
        assert patched.status_code == 200, patched.content
        submitted = cm.post(f"/api/work/plans/{plan['id']}/submit/")
        assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
        assert submitted.json()["late"] is False and submitted.json()["version"] == 1
    with on("2026-09-26"):
        approved = head.post(f"/api/work/plans/{plan['id']}/approve/", {"comment": "同意"}, format="json")
        assert approved.status_code == 200 and approved.json()["status"] == "approved"

    # --- 周安排: the first week of October arranged on the Friday before, submitted by the Sunday --------------------
    with on("2026-10-02"):
        week = cm.post("/api/work/arrangements/generate/", {"week_start": "2026-10-05"}, format="json")
        assert week.status_code == 201, week.content
        week = week.json()
        planned = list(PlannedVisit.objects.filter(arrangement_id=week["id"]).order_by("date", "seq"))
        # R1 orders on Tuesdays: its visits go on the Monday before, in route order
        assert planned and {p.date for p in planned} == {dt.date(2026, 10, 5)}
        assert [p.retailer.visit_order for p in planned] == sorted(p.retailer.visit_order for p in planned)
        # the stopped shop is a focus retailer of the approved plan and is visited in the first week
        assert w.shops1[STOPPED].pk in {p.retailer_id for p in planned}
        assert cm.post(f"/api/work/arrangements/{week['id']}/submit/").json()["submitted_at"] is not None

    # --- 日拜访: Monday's visits at the shops, 20 minutes each; the last check-in is 2 km east of its shop ------------
    checklist = {c["code"]: c for c in cm.get("/api/work/checklist/").json()}
    answers = {"price_tags": True, "display": 4, "shop_image": 4, "retailer_info": True}
    answers["key_brand_stock"] = [w.products["hard"].pk, w.products["furong"].pk]
    assert set(answers) <= set(checklist)
    start = dt.datetime(2026, 10, 5, 8, 30)
    for n, visit_plan in enumerate(planned):
        shop = visit_plan.retailer
        far = n == len(planned) - 1
        # 6.67 × 300 m ≈ 2 km east; sent as the float a phone's geolocation gives, with all its decimals
        longitude = float(shop.longitude + (STEP_LON * Decimal("6.6667") if far else 0)) + 1e-9
        with on("2026-10-05", (start + dt.timedelta(minutes=30 * n)).strftime("%H:%M")):
            visit = cm.post(
                "/api/work/visits/",
                {
                    "retailer": shop.pk,
                    "planned": visit_plan.pk,
                    "latitude": float(shop.latitude),
                    "longitude": longitude,
                    "accuracy": 10,
                },
                format="json",
            )
            assert visit.status_code == 201, visit.content
            visit = visit.json()
            assert (
                cm.post(f"/api/work/visits/{visit['id']}/checks/", {"answers": answers}, format="json").status_code
                == 200
            )
        with on("2026-10-05", (start + dt.timedelta(minutes=30 * n + 20)).strftime("%H:%M")):
            out = cm.post(f"/api/work/visits/{visit['id']}/checkout/")
            assert out.status_code == 200 and out.json()["duration_minutes"] == 20
    visits = Visit.objects.filter(cm=w.cm1).order_by("checkin_at")
    assert visits.count() == len(planned) and {v.status for v in visits} == {VisitStatus.DONE}
    assert [v.far for v in visits] == [False] * (len(planned) - 1) + [True]
    assert 1950 <= visits.last().distance_m <= 2050 and visits.first().distance_m == 0

    # --- 月总结: drafted on 2 November from October's figures, edited, submitted on time, commented ----------------
    with on("2026-11-02", "10:00"):
        drafted = cm.post("/api/work/summaries/", {"kind": "month", "period": "2026-10"}, format="json")
        assert drafted.status_code == 201, drafted.content
        summary = drafted.json()
        sales = summary["sections"]["sales"]
        assert "2.55箱" in sales and "2.69箱" in sales  # October 2026 against October 2025
        assert w.shops1[STOPPED].shop_name in summary["sections"]["problems"]
        assert f"{len(planned)}" in summary["sections"]["market"]  # the visits made appear in the market analysis
        sections = dict(summary["sections"])
        sections["next_month"] += "\n另: 11月重点走访一线03号店, 了解停订原因并向市管员通报。"
        assert (
            cm.patch(f"/api/work/summaries/{summary['id']}/", {"sections": sections}, format="json").status_code == 200
        )
        submitted = cm.post(f"/api/work/summaries/{summary['id']}/submit/")
        assert submitted.status_code == 200 and submitted.json()["late"] is False
    with on("2026-11-04"):
        comment = head.post(
            f"/api/work/summaries/{summary['id']}/comment/", {"comment": "分析到位, 抓紧落实。"}, format="json"
        )
        assert comment.status_code == 200 and comment.json()["status"] == "commented"

    # --- the head's board for October, and another CM's view -------------------------------------------------------
    with on("2026-11-05"):
        rows = {r["cm"]["employee_no"]: r for r in head.get("/api/work/board/", {"month": "2026-10"}).json()["rows"]}
        assert set(rows) == {"cm1", "cm2"}
        mine = rows["cm1"]
        assert mine["plan"]["state"] == "approved" and mine["plan"]["late"] is False
        assert mine["month_summary"]["state"] == "on_time"
        assert mine["arrangements"]["on_time"] == 1
        assert mine["visits"] == {
            "planned": len(planned),
            "planned_done": len(planned),
            "done": len(planned),
            "far": 1,
            "short": 0,
        }
        assert mine["coverage"]["visited"] == len({p.retailer_id for p in planned})
        assert rows["cm2"]["plan"]["state"] == "missing" and rows["cm2"]["month_summary"]["state"] == "missing"
        other = client_for(w.cm2)
        assert other.get(f"/api/work/plans/{plan['id']}/").status_code == 404
        assert other.get(f"/api/work/summaries/{summary['id']}/").status_code == 404
        assert other.get(f"/api/work/visits/{visits.first().pk}/").status_code == 404
