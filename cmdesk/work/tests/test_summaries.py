"""Summaries (周总结 / 月总结): the drafted text states the world's figures; flags; the workflow; scope; docx; the API.

Hand-computed from world.py's orders (every shop orders on Tuesdays; 14 cartons a week: 10 红塔山 + 4 芙蓉王):
* October 2026 has 4 Tuesdays (6, 13, 20, 27): 9 ordinary shops × 56 + R1-05 falling 4 × 7 + R1-07 spike 3 × 14 + 64,
  R1-03 stopped = 504 + 28 + 106 = 638 cartons = 2.552 cases; amount 9 × 4 × (500 + 340) + 4 × (250 + 170) + (3 × 840
  + 3000 + 340) = 30240 + 1680 + 5860 = 37780 yuan.
* October 2025 (Tuesdays 7, 14, 21, 28): 12 × 56 = 672 cartons = 2.688 cases → −34 cartons = −0.136 cases, −5.06%.
* September 2026 (5 Tuesdays): 9 × 70 + 35 + 70 = 735 cartons = 2.94 cases.
* cm2's R2 in October 2026: 6 × 4 × 19 = 456 cartons = 1.824 cases: cm1 ranks first of 2; average (2.552 + 1.824) ÷ 2
  = 2.188 cases.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation
from docx import Document

from cmdesk.core.tests.factories import StaffFactory
from cmdesk.org.choices import Role
from cmdesk.work.models import (
    ChecklistItem,
    Feedback,
    FeedbackKind,
    MonthlyPlan,
    PlanBrandTarget,
    PlannedVisit,
    Summary,
    SummaryStatus,
    Visit,
    VisitCheck,
    VisitStatus,
    WeekArrangement,
)
from cmdesk.work.services import summaries as svc
from cmdesk.work.services.drafting import SECTIONS

from .world import FALLING, SPIKE, STOPPED, build_work_world

pytestmark = pytest.mark.django_db

OCT = dt.date(2026, 10, 1)


@pytest.fixture
def w():
    return build_work_world()


def _visit(w, shop, day, *, minutes=20, far=False):
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(9, 0)))
    return Visit.objects.create(
        cm=w.cm1,
        retailer=shop,
        status=VisitStatus.DONE,
        checkin_at=start,
        checkout_at=start + dt.timedelta(minutes=minutes),
        duration_minutes=minutes,
        far=far,
    )


def _feedback(w, shop, text, *, product=None, kind=FeedbackKind.NEED, day=dt.date(2026, 10, 15)):
    fb = Feedback.objects.create(cm=w.cm1, retailer=shop, kind=kind, product=product, text=text)
    Feedback.objects.filter(pk=fb.pk).update(created_at=timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0))))
    return fb


# --- the monthly draft -----------------------------------------------------------------------------------------------
def test_monthly_draft_states_the_figures(w):
    price_tags = ChecklistItem.objects.get(code="price_tags")
    for shop in w.shops1[:3]:
        visit = _visit(w, shop, dt.date(2026, 10, 6))
        VisitCheck.objects.create(visit=visit, item=price_tags, ok=shop == w.shops1[0])
    _visit(w, w.shops1[3], dt.date(2026, 10, 7), minutes=5, far=True)
    _visit(w, w.shops1[3], dt.date(2026, 9, 30))  # September: not this month's
    _feedback(w, w.shops1[1], "红塔山(硬)断货两周，顾客改买别的", product=w.products["hard"], kind=FeedbackKind.SUPPLY)
    _feedback(w, w.shops1[4], "希望增加芙蓉王的订货量", product=w.products["furong"])

    s = svc.summary_draft(w.cm1, "month", dt.date(2026, 10, 17), w.cm1.user)
    assert (s.kind, s.period_start, s.period_end, s.status) == ("month", OCT, dt.date(2026, 10, 31), "draft")
    assert s.title == "张一2026年10月月度工作总结"
    assert timezone.localtime(s.due).date() == dt.date(2026, 11, 3)
    assert list(s.sections) == [k for k, _t in SECTIONS["month"]]
    assert all(s.sections[k].strip() for k in s.sections)

    # the figures kept with the text
    f = s.figures
    assert f["sales"]["cartons"] == 638
    assert f"{f['sales']['cases']:.3f}" == "2.552" and f"{f['sales']['cases_ly']:.3f}" == "2.688"
    assert f"{f['sales']['cases_lm']:.3f}" == "2.940" and f["sales"]["amount"] == 37780
    assert (f["dept"]["rank"], f["dept"]["count"], f"{f['dept']['average_cases']:.3f}") == (1, 2, "2.188")
    assert [r["name"] for r in f["market"]["stopped"]] == [w.shops1[STOPPED].shop_name]
    assert f["market"]["stopped"][0]["last_order_month"] == "2026-08"
    assert [r["name"] for r in f["market"]["falling"]] == [w.shops1[FALLING].shop_name]
    assert [r["name"] for r in f["market"]["spiking"]] == [w.shops1[SPIKE].shop_name]
    assert (f["market"]["served"], f["market"]["orderers"]) == (12, 11)
    v = f["market"]["visits"]
    assert (v["done"], v["retailers"], v["far"], v["short"]) == (4, 4, 1, 1)
    assert f["market"]["checks"] == [
        {"code": "price_tags", "item": price_tags.name, "retailers": [
            {"id": w.shops1[1].pk, "name": w.shops1[1].shop_name},
            {"id": w.shops1[2].pk, "name": w.shops1[2].shop_name},
        ], "count": 2},
    ]  # fmt: skip
    brands = {b["brand"]: b for b in f["key_brands"]}
    assert set(brands) == {"红塔山", "芙蓉王"}
    # 红塔山: 9 × 40 + 20 + (30 + 60) = 470 cartons against 12 × 40 = 480
    assert f"{brands['红塔山']['cases']:.2f}" == "1.88" and f"{brands['红塔山']['cases_yoy'] * 100:.2f}" == "-2.08"
    assert brands["红塔山"]["buyers"] == 11
    assert [r["name"] for r in brands["红塔山"]["falling"]] == [w.shops1[FALLING].shop_name]
    assert [x["retailer"] for x in brands["红塔山"]["feedback"]] == [w.shops1[1].shop_name]

    # the text says it
    sales = s.sections["sales"]
    assert "2.55箱（638条）" in sales and "销售额37780.00元" in sales
    assert "与去年同期（2.69箱）相比减少0.14箱，下降5.06%" in sales
    assert "与上月（2.94箱）相比减少0.39箱，下降13.20%" in sales
    assert "共2名客户经理，本片区销量排第1位，部门人均销量2.19箱" in sales
    kb = s.sections["key_brands"]
    assert "红塔山：销售1.88箱，同比下降2.08%" in kb and "上柜率91.7%（上柜11户）" in kb
    assert "红塔山(硬)断货两周" in kb and "希望增加芙蓉王的订货量" in kb
    market = s.sections["market"]
    assert "订货客户11户，订货率91.7%" in market
    assert f"本月未订货的客户1户：{w.shops1[STOPPED].shop_name}" in market
    assert "完成拜访4次，拜访客户4户" in market
    assert f"明码标价不合格2户（{w.shops1[1].shop_name}、{w.shops1[2].shop_name}）" in market
    problems = s.sections["problems"].splitlines()
    stopped = next(p for p in problems if "未订货" in p)
    assert w.shops1[STOPPED].shop_name in stopped and "自2026年9月起未订货" in stopped
    assert "建议：" in stopped and "市管员" in stopped
    falling = next(p for p in problems if "订货量明显下滑" in p)
    assert w.shops1[FALLING].shop_name in falling and "0.11箱（去年同期0.22箱" in falling and "建议：" in falling
    tags = next(p for p in problems if "不合格" in p)
    assert "2户" in tags and "价签" in tags
    assert any("尚未办结" in p and w.shops1[4].shop_name in p for p in problems)
    nxt = s.sections["next_month"]
    # November 2025 had 4 Tuesdays: 2.688 cases × (638 ÷ 672) = 2.552
    assert "2026年11月建议销量目标2.55箱（去年同期2.69箱×本月同比走势0.95）" in nxt
    assert "对未订货客户逐户上门了解原因" in nxt
    assert s.flags == [] and s.similarity is None


def test_next_month_from_the_plan(w):
    plan = MonthlyPlan.objects.create(
        cm=w.cm1, month=dt.date(2026, 11, 1), volume_target=Decimal("3.10"), due=timezone.now()
    )
    PlanBrandTarget.objects.create(plan=plan, brand="红塔山", target_cases=Decimal("2.20"))
    s = svc.summary_draft(w.cm1, "month", OCT, w.cm1.user)
    assert s.figures["next_month"]["source"] == "plan"
    assert "2026年11月计划销量3.10箱（已报月计划）" in s.sections["next_month"]
    assert "红塔山2.20箱" in s.sections["next_month"]


def test_weekly_draft(w):
    this = WeekArrangement.objects.create(cm=w.cm1, week_start=dt.date(2026, 10, 12), due=timezone.now())
    done = PlannedVisit.objects.create(arrangement=this, cm=w.cm1, retailer=w.shops1[0], date=dt.date(2026, 10, 12))
    PlannedVisit.objects.create(arrangement=this, cm=w.cm1, retailer=w.shops1[1], date=dt.date(2026, 10, 13))
    visit = _visit(w, w.shops1[0], dt.date(2026, 10, 12))
    visit.planned = done
    visit.save()
    _visit(w, w.shops1[5], dt.date(2026, 10, 14))  # not in the arrangement
    nxt = WeekArrangement.objects.create(cm=w.cm1, week_start=dt.date(2026, 10, 19), due=timezone.now())
    for i, day in ((2, 19), (3, 19), (4, 20)):
        PlannedVisit.objects.create(arrangement=nxt, cm=w.cm1, retailer=w.shops1[i], date=dt.date(2026, 10, day))

    s = svc.summary_draft(w.cm1, "week", dt.date(2026, 10, 14), w.cm1.user)
    assert (s.period_start, s.period_end) == (dt.date(2026, 10, 12), dt.date(2026, 10, 18))
    assert timezone.localtime(s.due).date() == dt.date(2026, 10, 19)
    assert list(s.sections) == ["sales", "visits", "problems", "next_week"]
    # this week: 9 × 14 + 7 + 64 = 197 cartons; same ISO week 2025 (14 October): 12 × 14 = 168; week before: 9 × 14
    # + 7 + 14 = 147
    assert s.figures["sales"]["cartons"] == 197
    assert "0.79箱（197条）" in s.sections["sales"]
    assert "与去年同周（0.67箱）相比增加0.12箱，增长17.26%" in s.sections["sales"]
    assert "与上周（0.59箱）相比增加0.20箱，增长34.01%" in s.sections["sales"]
    v = s.figures["visits"]
    assert (v["planned"], v["planned_done"], v["done"], v["unplanned"]) == (2, 1, 2, 1)
    assert (
        "本周计划拜访2次，完成1次（完成率50.0%）；实际拜访2次，拜访客户2户，其中计划外拜访1次" in s.sections["visits"]
    )
    assert f"未按计划拜访的客户1户：{w.shops1[1].shop_name}" in s.sections["visits"]
    assert f"{w.shops1[1].shop_name}" in s.sections["problems"] and "建议：" in s.sections["problems"]
    assert "下周已安排拜访3户次：2026-10-19（周一）拜访2户；2026-10-20（周二）拜访1户" in s.sections["next_week"]
    assert w.shops1[1].shop_name in s.sections["next_week"]


def test_a_cm_without_orders_gets_drafts(w):
    newcomer = StaffFactory(role=Role.CM, org_unit=w.tree.area_a2, employee_no="cm9", name="赵九")
    month = svc.summary_draft(newcomer, "month", OCT, newcomer.user)
    assert month.figures["sales"]["cartons"] == 0 and month.figures["market"]["stopped"] == []
    assert "共销售卷烟0.00箱（0条）" in month.sections["sales"] and "去年同期无销售可比" in month.sections["sales"]
    assert month.sections["problems"] == "本期未发现需要上报的问题。"
    week = svc.summary_draft(newcomer, "week", OCT, newcomer.user)
    assert week.period_start == dt.date(2026, 9, 28) and week.figures["visits"]["planned"] == 0
    year = svc.summary_draft(newcomer, "year", OCT, newcomer.user)
    assert year.figures["cases"] == 0 and "全年共销售卷烟0.00箱，去年同期无销售" in year.sections["sales"]
    assert [s.flags for s in (month, week, year)] == [[], [], []]


# --- flags -----------------------------------------------------------------------------------------------------------
def test_flags_missing_section_and_no_figures(w):
    s = svc.summary_draft(w.cm1, "month", OCT, w.cm1.user)
    s = svc.summary_update(s, w.cm1.user, {"market": "  ", "sales": "2026年10月销售情况良好，比去年有所下降。"})
    assert s.flags == [
        {"code": "no_figures", "section": "sales", "title": "片区销售情况分析"},
        {"code": "missing_section", "section": "market", "title": "市场及客户分析"},
    ]
    s.refresh_from_db()
    assert s.sections["market"] == "" and len(s.flags) == 2
    with pytest.raises(ValidationError) as exc:
        svc.summary_update(s, w.cm1.user, {"nonsense": "x"})
    assert "sections" in exc.value.message_dict


def test_copied_text_is_flagged_and_new_text_is_not(w):
    september = svc.summary_draft(w.cm1, "month", dt.date(2026, 9, 1), w.cm1.user)
    september = svc.summary_update(
        september, w.cm1.user, {"market": "九月份走访了全部客户，三号店老板说生意不好，准备转让门面，已和市管员沟通。"}
    )
    october = svc.summary_draft(w.cm1, "month", OCT, w.cm1.user)
    # the fresh draft states October's figures: not a copy, even though the data barely moved
    assert october.flags == [] and october.similarity == Decimal("0.000")
    copied = svc.summary_update(october, w.cm1.user, dict(september.sections))
    flag = next(f for f in copied.flags if f["code"] == "similar")
    assert flag["ratio"] >= 0.8 and flag["previous"] == september.pk and flag["limit"] == 0.8
    assert copied.similarity == Decimal(str(flag["ratio"])) and copied.similarity >= Decimal("0.8")
    own = svc.summary_update(
        copied,
        w.cm1.user,
        {**october.figures["drafted"], "market": "十月重点走访了五号店和七号店，五号店因附近新开超市销量减半。"},
    )
    assert [f for f in own.flags if f["code"] == "similar"] == []
    assert own.similarity < Decimal("0.8")


def test_redraft_keeps_edited_sections_unless_overwritten(w):
    s = svc.summary_draft(w.cm1, "month", OCT, w.cm1.user)
    drafted_market = s.sections["market"]
    svc.summary_update(s, w.cm1.user, {"market": "我自己写的市场分析。"})
    again = svc.summary_draft(w.cm1, "month", OCT, w.cm1.user)
    assert again.pk == s.pk and again.sections["market"] == "我自己写的市场分析。"
    assert again.sections["sales"] == s.sections["sales"]
    assert Summary.objects.count() == 1
    over = svc.summary_draft(w.cm1, "month", OCT, w.cm1.user, overwrite=True)
    assert over.sections["market"] == drafted_market


# --- workflow --------------------------------------------------------------------------------------------------------
def test_submit_on_time_and_late(w, monkeypatch):
    s = svc.summary_draft(w.cm1, "month", OCT, w.cm1.user)
    on_time = timezone.make_aware(dt.datetime(2026, 11, 2, 18, 0))
    monkeypatch.setattr(timezone, "now", lambda: on_time)
    s = svc.summary_submit(s, w.cm1.user)
    assert (s.status, s.submitted_at, s.late) == (SummaryStatus.SUBMITTED, on_time, False)
    entries = LogEntry.objects.get_for_object(s).order_by("id")
    assert [e.action for e in entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert {e.actor for e in entries} == {w.cm1.user} and "submitted" in entries[1].changes_dict["status"]
    with translation.override("en"), pytest.raises(ValidationError, match="already been submitted"):
        svc.summary_submit(s, w.cm1.user)
    with translation.override("en"), pytest.raises(ValidationError, match="cannot be edited"):
        svc.summary_update(s, w.cm1.user, {"sales": "x"})

    late = svc.summary_draft(w.cm1, "month", dt.date(2026, 9, 1), w.cm1.user)
    after = timezone.make_aware(dt.datetime(2026, 10, 4, 8, 0))  # September's is due on 3 October
    monkeypatch.setattr(timezone, "now", lambda: after)
    late = svc.summary_submit(late, w.cm1.user)
    assert late.late is True and Summary.objects.get(pk=late.pk).late is True


def test_head_comment_and_who_may(w, client):
    s = svc.summary_draft(w.cm1, "month", OCT, w.cm1.user)
    with translation.override("en"), pytest.raises(ValidationError, match="not been submitted"):
        svc.summary_comment(s, w.head.user, "好")
    s = svc.summary_submit(s, w.cm1.user)
    url = reverse("work:summary_comment", args=[s.pk])

    client.force_login(w.cm1.user)  # a CM cannot comment
    assert client.post(url, {"comment": "自评"}).status_code == 403
    other_head = StaffFactory(role=Role.HEAD, org_unit=w.tree.dept_b, employee_no="head-b")
    client.force_login(other_head.user)  # a head of another branch does not see it
    assert client.post(url, {"comment": "看看"}).status_code == 404
    assert client.get(reverse("work:summary_detail", args=[s.pk])).status_code == 404
    s.refresh_from_db()
    assert (s.head_comment, s.status) == ("", SummaryStatus.SUBMITTED)

    client.force_login(w.head.user)
    response = client.post(url, {"comment": "问题分析到位，五号店要重点跟进。"})
    assert response.status_code == 302 and response.url == reverse("work:summary_detail", args=[s.pk])
    s.refresh_from_db()
    assert (s.head_comment, s.status, s.commented_by) == (
        "问题分析到位，五号店要重点跟进。", SummaryStatus.COMMENTED, w.head.user,
    )  # fmt: skip


def test_scope_cm2_cannot_read_cm1s_summary(w, client):
    s = svc.summary_draft(w.cm1, "month", OCT, w.cm1.user)
    client.force_login(w.cm2.user)
    for name in ("work:summary_detail", "work:summary_edit", "work:summary_docx"):
        assert client.get(reverse(name, args=[s.pk])).status_code == 404
    assert client.post(reverse("work:summary_submit", args=[s.pk])).status_code == 404
    assert client.get(f"/api/work/summaries/{s.pk}/").status_code == 404
    assert client.get("/api/work/summaries/").json()["count"] == 0
    with pytest.raises(svc.OutOfScope):
        svc.summary_draft(w.cm1, "month", OCT, w.cm2.user)
    client.force_login(w.inspector.user)
    assert client.get(reverse("work:summary_list")).status_code == 403
    s.refresh_from_db()
    assert s.status == SummaryStatus.DRAFT


# --- pages -----------------------------------------------------------------------------------------------------------
def test_pages_cm_draft_edit_submit(w, client):
    client.force_login(w.cm1.user)
    response = client.get(reverse("work:summary_list"))
    assert response.status_code == 200
    assert [d["kind"] for d in response.context["drafts"]] == ["week", "month", "year"]
    response = client.post(reverse("work:summary_draft"), {"kind": "month", "period": "2026-10"})
    s = Summary.objects.get()
    assert response.status_code == 302 and response.url == reverse("work:summary_edit", args=[s.pk])
    page = client.get(reverse("work:summary_edit", args=[s.pk]))
    assert page.status_code == 200 and list(page.context["form"].fields) == [k for k, _t in SECTIONS["month"]]
    data = {k: v for k, v in s.sections.items()}
    data["market"] = ""
    response = client.post(reverse("work:summary_edit", args=[s.pk]), {**data, "save": "1"})
    assert response.status_code == 302
    page = client.get(reverse("work:summary_edit", args=[s.pk]))
    assert len(page.context["flags"]) == 1  # shown before submitting
    response = client.post(reverse("work:summary_edit", args=[s.pk]), {**data, "submit": "1"})
    assert response.status_code == 302 and response.url == reverse("work:summary_detail", args=[s.pk])
    s.refresh_from_db()
    assert s.status == SummaryStatus.SUBMITTED and s.flags[0]["section"] == "market"
    detail = client.get(reverse("work:summary_detail", args=[s.pk]))
    assert detail.status_code == 200 and detail.context["can_change"] is False
    assert ("销量(条)", "638") in detail.context["figures"]

    client.force_login(w.head.user)
    listing = client.get(reverse("work:summary_list"))
    assert [r["summary"].pk for r in listing.context["rows"]] == [s.pk] and len(
        listing.context["rows"][0]["flags"]
    ) == 1
    assert listing.context["drafts"] == []
    detail = client.get(reverse("work:summary_detail", args=[s.pk]))
    assert detail.context["can_comment"] is True


def test_docx_export(w, client):
    s = svc.summary_draft(w.cm1, "month", OCT, w.cm1.user)
    s = svc.summary_submit(s, w.cm1.user)
    s = svc.summary_comment(s, w.head.user, "数据分析扎实。")
    client.force_login(w.cm1.user)
    response = client.get(reverse("work:summary_docx", args=[s.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    assert "attachment" in response["Content-Disposition"]
    doc = Document(io.BytesIO(response.content))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [
        "一、片区销售情况分析", "二、重点品牌分析", "三、市场及客户分析", "四、存在问题和建议", "五、下月工作打算",
        "附：主要数据", "主任点评",
    ]  # fmt: skip
    text = "\n".join(p.text for p in doc.paragraphs)
    assert doc.paragraphs[0].text == "张一2026年10月月度工作总结"
    assert "2.55箱（638条）" in text and "数据分析扎实。" in text and w.shops1[STOPPED].shop_name in text
    cells = {row.cells[0].text: row.cells[1].text for row in doc.tables[0].rows}
    assert cells["销量(条)"] == "638" and cells["销量同比"] == "-5.06%"
    fonts = doc.paragraphs[0].runs[0]._element.rPr.rFonts
    assert fonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "SimSun"


# --- API -------------------------------------------------------------------------------------------------------------
def test_api_round_trip(w, client):
    client.force_login(w.cm1.user)
    response = client.post(
        "/api/work/summaries/", {"kind": "month", "period": "2026-10"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    pk = body["id"]
    assert (body["kind"], body["period_start"], body["status"], body["cm"]) == (
        "month",
        "2026-10-01",
        "draft",
        w.cm1.pk,
    )
    assert body["figures"]["sales"]["cartons"] == 638 and list(body["sections"]) == [k for k, _t in SECTIONS["month"]]

    bad = client.post("/api/work/summaries/", {"kind": "month", "period": "2026-13"}, content_type="application/json")
    assert bad.status_code == 400 and "period" in bad.json()

    response = client.patch(f"/api/work/summaries/{pk}/", {"sections": {"market": ""}}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["flags"] == [{"code": "missing_section", "section": "market", "title": "市场及客户分析"}]
    wrong = client.patch(f"/api/work/summaries/{pk}/", {"sections": {"x": "y"}}, content_type="application/json")
    assert wrong.status_code == 400 and "sections" in wrong.json()

    assert client.post(f"/api/work/summaries/{pk}/comment/", {"comment": "好"}).status_code == 403
    response = client.post(f"/api/work/summaries/{pk}/submit/")
    assert response.status_code == 200 and response.json()["status"] == "submitted"
    assert (
        client.patch(
            f"/api/work/summaries/{pk}/", {"sections": {"market": "x"}}, content_type="application/json"
        ).status_code
        == 400
    )

    client.force_login(w.head.user)
    listing = client.get("/api/work/summaries/?kind=month").json()
    assert [r["id"] for r in listing["results"]] == [pk]
    response = client.post(f"/api/work/summaries/{pk}/comment/", {"comment": "好"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["head_comment"] == "好"
    docx = client.get(f"/api/work/summaries/{pk}/docx/")
    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    assert client.post("/api/work/summaries/", {"kind": "month", "period": "2026-10"}).status_code == 403
