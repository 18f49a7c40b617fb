"""Demo work records for the 135 method: plans, arrangements, visits, feedback and summaries around the as-of day.

For the month of the as-of day and the month before (plus the month before that for summaries to compare with):

* monthly plans — the previous month's all approved (a few sent late); this month's mostly approved on time, some late,
  one or two returned, one awaiting the head's review, a few missing;
* weekly arrangements with planned visits following each route's visit order (every retailer about once a month),
  mostly submitted on time, some late, a couple missing;
* visits for past days (and part of the as-of day): check-in near the shop, a few far check-ins, a few short visits,
  checklist answers with some problems, feedback now and then (some resolved, some overdue);
* weekly summaries and the previous month's summary, mostly submitted, some late, one copied from the month before
  (flagged as similar) and one with an empty section;
* the city default WorkRules row, department targets, and the reminders as of the as-of day.

Each department's CMs (in employee-number order) play parts, so every demo head sees each case: the first is a model
CM, the second's plan awaits review, the third's plan was returned, the fourth copied last month's summary, the fifth
has no plan and misses arrangements. Everything is drawn from a generator seeded with the demo seed, written with
``bulk_create`` (no audit rows), so the county demo gains only a few seconds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cmdesk.catalog.models import Product
from cmdesk.org.choices import OrgKind, Role
from cmdesk.org.models import Staff
from cmdesk.retail.choices import RetailerStatus
from cmdesk.retail.models import Retailer, Route
from cmdesk.work.models import (
    AnswerKind,
    ArrangementStatus,
    ChecklistItem,
    DeptTarget,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    FocusReason,
    MonthlyPlan,
    PlanFocusRetailer,
    PlannedVisit,
    PlanRevision,
    PlanRouteTarget,
    PlanStatus,
    Reminder,
    RetailerUpdate,
    Summary,
    SummaryKind,
    SummaryStatus,
    Visit,
    VisitCheck,
    VisitPhoto,
    VisitReason,
    VisitStatus,
    VisitType,
    WeekArrangement,
    WorkRules,
)
from cmdesk.work.rules import (
    arrangement_due,
    month_end,
    month_start,
    next_month,
    plan_due,
    previous_month,
    summary_due,
    week_start,
)
from cmdesk.work.services.board import RulesCache

Progress = Callable[[str], None]

# parts played by a department's CMs (index in employee-number order)
MODEL, AWAITING, RETURNED, COPIER, SLACKER, LATE_ONE = range(6)

KEY_TASKS = [
    "1. 完成月度销量目标, 按线路分解到周; 2. 重点品牌上柜率提升2个百分点; 3. 对销量下滑客户逐户走访分析原因",
    "1. 新品布点跟踪动销; 2. 明码标价、卷烟陈列检查全覆盖; 3. 督促电话订货客户转网上订货",
    "1. 节前备货宣传, 重点客户提前沟通; 2. 断订客户逐户回访; 3. 完善客户经营档案",
]
FEEDBACK_TEXTS = {
    FeedbackKind.SUPPLY: ["芙岭(细支)货源偏紧, 客户希望增加投放", "希望上柜新品湘岳(典藏)", "云峰(硬)近两周缺货"],
    FeedbackKind.NEED: ["希望提供新的陈列柜", "需要更换价签", "希望调整送货时间到上午"],
    FeedbackKind.COMPLAINT: ["送货员态度不好", "上周送货少了一条, 已联系配送核实"],
    FeedbackKind.MARKET: ["附近新开一家超市, 客流下降", "周边工地停工, 销量下滑"],
    FeedbackKind.COMPLIANCE: ["疑似代其他店订货, 已告知市管员"],
}
RESOLUTIONS = ["已协调解决, 客户满意", "已向订单部反映, 下周调整", "已现场处理"]
PROBLEM_NOTES = {
    "price_tags": "部分规格无价签",
    "display": "陈列杂乱, 重点品牌未放黄金位置",
    "shop_image": "柜台卫生较差",
    "retailer_info": "联系电话已变更, 待更新档案",
}
WEEK_SECTIONS = {
    "sales": "本周线路订货{cases:.1f}箱, 订货户数{orders}户, 与上周基本持平。",
    "visits": "计划拜访{planned}户, 实际拜访{done}户, 完成率{rate:.0f}%。",
    "problems": "{problems}",
    "next_week": "按线路顺序完成拜访, 重点跟进销量下滑和断订客户, 做好新品布点。",
}
MONTH_SECTIONS = {
    "sales": "本月片区销量{cases:.1f}箱, 完成月计划的{rate:.0f}%, 同比{yoy}。单箱额略有提升, 结构继续优化。",
    "key_brands": "重点品牌湘岳、芙岭动销良好, 上柜率稳中有升; 云峰(硬)货源偏紧, 客户反映强烈, 建议适当增加投放。",
    "market": "城区客户经营稳定, 乡镇客户受外出务工影响销量有所下降; 新开客户{new}户, 歇业{closed}户。",
    "problems": "1. 部分客户价签不全, 已现场督促整改; 2. 少数客户存在代订货苗头, 已告知市管员; "
    "3. 乡镇客户电话订货比例偏高, 建议开展网上订货培训。",
    "next_month": "1. 按线路分解下月目标, 每周跟踪进度; 2. 重点客户每月走访两次以上; 3. 做好节前备货宣传。",
}


def _aware(day: dt.date, minutes: float) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min) + dt.timedelta(minutes=float(minutes)))


def _cases_by_cm(data_dir: Path, months: list[dt.date], cm_of: dict[int, int]) -> dict[dt.date, dict[int, float]]:
    """Cases each CM's retailers bought in each month, read from the order Parquet files (empty without them)."""
    from cmdesk.analytics.layout import month_label, order_file

    out: dict[dt.date, dict[int, float]] = {}
    for month in months:
        path = order_file(data_dir, month_label(month))
        totals: dict[int, float] = defaultdict(float)
        if path.is_file():
            import pyarrow.parquet as pq

            table = pq.read_table(path, columns=["retailer_id", "supplied"])
            grouped = table.group_by("retailer_id").aggregate([("supplied", "sum")]).to_pydict()
            for rid, cartons in zip(grouped["retailer_id"], grouped["supplied_sum"], strict=True):
                cm = cm_of.get(rid)
                if cm is not None:
                    totals[cm] += float(cartons or 0) / 250
        out[month] = dict(totals)
    return out


def clear_work() -> None:
    """Delete every work record (children first): staff and retailers can be deleted afterwards.

    Without audit rows: the demo's records are wiped, not edited (clear_records empties the log afterwards anyway)."""
    from auditlog.context import disable_auditlog

    with transaction.atomic(), disable_auditlog():
        _delete_work()


def _delete_work() -> None:
    Reminder.objects.all().delete()
    VisitCheck.objects.all().delete()
    VisitPhoto.objects.all().delete()
    RetailerUpdate.objects.all().delete()
    Feedback.objects.all().delete()
    Visit.objects.all().delete()
    PlannedVisit.objects.all().delete()
    WeekArrangement.objects.all().delete()
    Summary.objects.all().delete()
    MonthlyPlan.objects.all().delete()  # route, brand and focus lines and revisions cascade
    DeptTarget.objects.all().delete()
    WorkRules.objects.all().delete()  # the demo creates the city default; a reset starts from none


class WorkDemo:
    def __init__(self, *, as_of: dt.date, seed: int, data_dir: Path, progress: Progress):
        self.as_of = as_of
        self.rng = np.random.default_rng([seed, 135])
        self.data_dir = data_dir
        self.progress = progress
        self.counts: dict[str, int] = {}

    # ---- set-up -------------------------------------------------------------------------------------------------
    def load(self) -> None:
        WorkRules.objects.get_or_create(org_unit=None)
        self.rules = RulesCache()
        self.cms = list(
            Staff.objects.filter(role=Role.CM, active=True).select_related("org_unit", "user").order_by("employee_no")
        )
        heads = list(Staff.objects.filter(role=Role.HEAD, active=True).select_related("org_unit", "user"))
        self.head_of = {}
        self.part = {}
        by_dept: dict[str, list[Staff]] = defaultdict(list)
        for cm in self.cms:
            above = [h for h in heads if cm.org_unit.path.startswith(h.org_unit.path)]
            self.head_of[cm.pk] = max(above, key=lambda h: len(h.org_unit.path)) if above else None
            dept = self.head_of[cm.pk].org_unit.path if above else cm.org_unit.path[: 3 * 4]
            by_dept[dept].append(cm)
        for members in by_dept.values():
            for i, cm in enumerate(members):
                self.part[cm.pk] = i
        self.shops: dict[int, list[tuple]] = defaultdict(list)
        for row in (
            Retailer.objects.filter(status=RetailerStatus.NORMAL, route__cm__isnull=False)
            .order_by("route__code", "visit_order", "id")
            .values_list("id", "route__cm_id", "route_id", "latitude", "longitude", "tier")
        ):
            self.shops[row[1]].append(row)
        self.cm_of = {s[0]: cm for cm, rows in self.shops.items() for s in rows}
        self.order_weekdays: dict[int, set[int]] = defaultdict(set)
        for cm_id, weekdays in Route.objects.filter(cm__isnull=False, active=True).values_list(
            "cm_id", "order_weekdays"
        ):
            self.order_weekdays[cm_id].update(weekdays or [])
        self.checklist = [i for i in ChecklistItem.objects.filter(active=True) if i.applies_to(VisitType.ROUTINE)]
        self.key_products = list(Product.objects.filter(key_brand=True).order_by("id").values_list("id", flat=True))
        self.scarce = list(Product.objects.filter(scarce=True).order_by("id").values_list("id", flat=True))
        self.cur = month_start(self.as_of)
        self.prev = previous_month(self.cur)
        self.prev2 = previous_month(self.prev)
        self.cases = _cases_by_cm(self.data_dir, [self.prev2, self.prev, self.cur], self.cm_of)

    def order_days(self, cm: Staff, month: dt.date) -> int:
        """How many of the CM's order days (its routes' order weekdays) the month has."""
        weekdays = self.order_weekdays.get(cm.pk) or {1}
        days = (month_end(month) - month).days + 1
        return sum(1 for i in range(days) if (month + dt.timedelta(days=i)).weekday() in weekdays)

    def base_cases(self, cm: Staff, month: dt.date) -> float:
        """The month's volume as the CM would plan it: the month before's cases per order day times this month's
        order days (or an estimate without order data)."""
        before_month = previous_month(month)
        before = self.cases.get(before_month, {}).get(cm.pk)
        if before:
            return before / max(self.order_days(cm, before_month), 1) * self.order_days(cm, month)
        return max(1.0, 0.06 * len(self.shops.get(cm.pk, [])))

    # ---- plans ---------------------------------------------------------------------------------------------------
    def plans(self) -> None:
        rng = self.rng
        plans, meta = [], []
        for month in (self.prev, self.cur, next_month(self.cur)):
            for cm in self.cms:
                r = self.rules.for_cm(cm)
                due = plan_due(month, r)
                part = self.part[cm.pk]
                head = self.head_of.get(cm.pk)
                base = self.base_cases(cm, month)
                target = Decimal(f"{base * rng.uniform(0.99, 1.08):.1f}")
                if month == next_month(self.cur):
                    # next month: drafts from the keen ones once the deadline is near
                    if (due.date() - self.as_of).days > 12 or part not in (MODEL, AWAITING):
                        continue
                    status, submitted = PlanStatus.DRAFT, None
                elif month == self.cur and part == SLACKER:
                    continue  # missing
                else:
                    late = part == LATE_ONE or rng.random() < 0.12
                    submitted = due + (
                        dt.timedelta(hours=float(rng.uniform(6, 60)))
                        if late
                        else -dt.timedelta(hours=float(rng.uniform(8, 120)))
                    )
                    if late and part == MODEL:
                        submitted = due - dt.timedelta(hours=20)
                    status = PlanStatus.APPROVED
                    if month == self.cur and part == AWAITING:
                        status = PlanStatus.SUBMITTED
                    elif month == self.cur and part == RETURNED:
                        status = PlanStatus.RETURNED
                decided = submitted + dt.timedelta(hours=float(rng.uniform(4, 40))) if submitted else None
                decided_status = status in (PlanStatus.APPROVED, PlanStatus.RETURNED)
                plans.append(
                    MonthlyPlan(
                        cm=cm,
                        month=month,
                        status=status,
                        version=1 if submitted else 0,
                        volume_suggested=Decimal(f"{base * 1.03:.2f}"),
                        volume_target=target if part != RETURNED else Decimal(f"{base * 0.9:.1f}"),
                        key_tasks=KEY_TASKS[int(rng.integers(0, len(KEY_TASKS)))],
                        due=due,
                        submitted_at=submitted,
                        decided_at=decided if decided_status else None,
                        decided_by=head.user if decided_status and head else None,
                        head_comment="目标低于建议值且未说明原因, 请结合去年同期重新分解后再报"
                        if status == PlanStatus.RETURNED
                        else ("同意" if decided_status else ""),
                    )
                )
                meta.append((cm, base))
        MonthlyPlan.objects.bulk_create(plans)
        routes, focus, revisions = [], [], []
        for plan, (cm, base) in zip(plans, meta, strict=True):
            shops = self.shops.get(cm.pk, [])
            by_route: dict[int, int] = defaultdict(int)
            for s in shops:
                by_route[s[2]] += 1
            for route_id, n in by_route.items():
                share = n / max(len(shops), 1)
                routes.append(
                    PlanRouteTarget(
                        plan=plan,
                        route_id=route_id,
                        suggested_cases=Decimal(f"{base * 1.03 * share:.2f}"),
                        target_cases=Decimal(f"{float(plan.volume_target) * share:.2f}"),
                    )
                )
            if shops:
                picks = self.rng.choice(len(shops), size=min(3, len(shops)), replace=False)
                reasons = [FocusReason.FALLING, FocusReason.STOPPED, FocusReason.NOT_VISITED]
                for k, idx in enumerate(sorted(int(i) for i in picks)):
                    focus.append(
                        PlanFocusRetailer(
                            plan=plan, retailer_id=shops[idx][0], reason=reasons[k % 3], suggested=True, selected=True
                        )
                    )
            snapshot = {"volume_target": str(plan.volume_target), "key_tasks": plan.key_tasks}
            if plan.submitted_at:
                revisions.append(
                    PlanRevision(plan=plan, version=1, status=PlanStatus.SUBMITTED, snapshot=snapshot, by=cm.user)
                )
            if plan.decided_at:
                revisions.append(
                    PlanRevision(
                        plan=plan,
                        version=1,
                        status=plan.status,
                        snapshot=snapshot,
                        comment=plan.head_comment,
                        by=plan.decided_by,
                    )
                )
        PlanRouteTarget.objects.bulk_create(routes)
        PlanFocusRetailer.objects.bulk_create(focus)
        PlanRevision.objects.bulk_create(revisions)
        self.plans_by_cm = {(p.cm_id, p.month): p for p in plans}
        # department targets: the sum of the CMs' approved plans
        dept_totals: dict[tuple[int, dt.date], Decimal] = defaultdict(Decimal)
        for p in plans:
            head = self.head_of.get(p.cm_id)
            if head is not None and head.org_unit.kind == OrgKind.DEPARTMENT and p.month != next_month(self.cur):
                dept_totals[(head.org_unit_id, p.month)] += p.volume_suggested
        DeptTarget.objects.bulk_create(
            [
                DeptTarget(org_unit_id=u, month=m, volume_cases=v.quantize(Decimal("1")))
                for (u, m), v in dept_totals.items()
            ]
        )
        self.counts["plans"] = len(plans)

    # ---- arrangements, planned visits, visits ----------------------------------------------------------------------
    def weeks(self) -> list[dt.date]:
        first = week_start(self.prev)
        last = week_start(self.as_of) + (dt.timedelta(days=7) if self.as_of.weekday() >= 4 else dt.timedelta())
        out = []
        day = first
        while day <= last:
            out.append(day)
            day += dt.timedelta(days=7)
        return out

    def arrangements(self) -> None:
        rng = self.rng
        weeks = self.weeks()
        this_week = week_start(self.as_of)
        arrangements, planned = [], []
        for cm in self.cms:
            shops = self.shops.get(cm.pk, [])
            if not shops:
                continue
            r = self.rules.for_cm(cm)
            workdays = sorted(set(r.workdays or [0, 1, 2, 3, 4, 5]))
            per_day = min(len(shops), r.visits_per_day, math.ceil(len(shops) / (len(workdays) * 4)))
            part = self.part[cm.pk]
            pointer = int(rng.integers(0, len(shops)))  # where the cycle stood before the demo's first week
            for monday in weeks:
                due = arrangement_due(monday, r)
                future = monday > this_week
                missing = part == SLACKER and monday in (this_week, this_week - dt.timedelta(days=14))
                if missing:
                    pointer += per_day * len(workdays)  # those shops were skipped
                    continue
                if future:
                    status = ArrangementStatus.SUBMITTED if part == MODEL else ArrangementStatus.DRAFT
                    submitted = due - dt.timedelta(hours=30) if part == MODEL else None
                else:
                    status = ArrangementStatus.SUBMITTED
                    late = (part == LATE_ONE and rng.random() < 0.6) or (part != MODEL and rng.random() < 0.07)
                    submitted = due + (
                        dt.timedelta(hours=float(rng.uniform(3, 30)))
                        if late
                        else -dt.timedelta(hours=float(rng.uniform(2, 50)))
                    )
                arrangement = WeekArrangement(
                    cm=cm,
                    week_start=monday,
                    status=status,
                    due=due,
                    generated_at=due - dt.timedelta(days=2),
                    submitted_at=submitted,
                )
                arrangements.append(arrangement)
                for wd in workdays:
                    day = monday + dt.timedelta(days=wd)
                    for seq in range(per_day):
                        shop = shops[pointer % len(shops)]
                        pointer += 1
                        planned.append(
                            PlannedVisit(
                                arrangement=arrangement,
                                cm=cm,
                                retailer_id=shop[0],
                                date=day,
                                seq=seq + 1,
                                reason=VisitReason.TIER if (shop[5] or 0) >= 21 else VisitReason.CYCLE,
                            )
                        )
        WeekArrangement.objects.bulk_create(arrangements)
        for pv in planned:
            pv.arrangement_id = pv.arrangement.pk
        PlannedVisit.objects.bulk_create(planned, batch_size=2000)
        self.planned = planned
        self.counts["arrangements"] = len(arrangements)
        self.counts["planned_visits"] = len(planned)

    def visits(self) -> None:
        rng = self.rng
        shop_at = {s[0]: s for rows in self.shops.values() for s in rows}
        cms = {cm.pk: cm for cm in self.cms}
        visits = []
        today_done: dict[int, int] = {}
        for pv in self.planned:
            if pv.date > self.as_of:
                continue
            part = self.part[pv.cm_id]
            status = VisitStatus.DONE
            if pv.date == self.as_of:
                n_today = today_done.setdefault(pv.cm_id, int(rng.integers(2, 6)))
                if pv.seq > n_today + 1:
                    continue
                if pv.seq == n_today + 1:
                    status = VisitStatus.OPEN
            elif rng.random() < (0.12 if part == SLACKER else 0.04):
                continue  # not visited
            shop = shop_at[pv.retailer_id]
            checkin = _aware(pv.date, 8.5 * 60 + (pv.seq - 1) * 26 + rng.uniform(0, 12))
            far = rng.random() < (0.08 if part == SLACKER else 0.02)
            short = rng.random() < (0.1 if part == SLACKER else 0.02)
            minutes = int(rng.integers(3, 9)) if short else int(max(10, round(rng.lognormal(math.log(16), 0.3))))
            distance = int(rng.uniform(700, 3000)) if far else int(rng.uniform(5, 150))
            lat = lon = None
            if shop[3] is not None and shop[4] is not None:
                theta = rng.uniform(0, 2 * math.pi)
                metres_per_lon = 111_000 * math.cos(math.radians(float(shop[3])))
                lat = Decimal(f"{float(shop[3]) + distance * math.sin(theta) / 111_000:.6f}")
                lon = Decimal(f"{float(shop[4]) + distance * math.cos(theta) / metres_per_lon:.6f}")
            done = status == VisitStatus.DONE
            visits.append(
                Visit(
                    cm=cms[pv.cm_id],
                    retailer_id=pv.retailer_id,
                    planned=pv,
                    visit_type=VisitType.ROUTINE,
                    status=status,
                    checkin_at=checkin,
                    checkin_latitude=lat,
                    checkin_longitude=lon,
                    checkin_accuracy_m=int(rng.integers(5, 40)),
                    distance_m=distance if lat is not None else None,
                    far=far and lat is not None,
                    no_location_reason="" if lat is not None else "店铺未采集坐标",
                    checkout_at=checkin + dt.timedelta(minutes=minutes) if done else None,
                    duration_minutes=minutes if done else None,
                )
            )
        Visit.objects.bulk_create(visits, batch_size=2000)
        self.counts["visits"] = len(visits)

        checks, feedback = [], []
        for v in visits:
            if v.status != VisitStatus.DONE:
                continue
            for item in self.checklist:
                problem = rng.random() < 0.06
                note = ""
                if item.answer == AnswerKind.YES_NO:
                    value, ok = (not problem), (not problem)
                elif item.answer == AnswerKind.SCORE:
                    value = 2 if problem else int(rng.integers(3, 6))
                    ok = value > 2
                elif item.answer == AnswerKind.KEY_BRANDS:
                    k = (
                        0
                        if problem or not self.key_products
                        else int(rng.integers(1, min(4, len(self.key_products)) + 1))
                    )
                    value = sorted(int(x) for x in rng.choice(self.key_products, size=k, replace=False)) if k else []
                    ok = bool(value)
                elif item.answer == AnswerKind.NUMBER:
                    value, ok = int(rng.integers(0, 20)), None
                else:
                    value, ok = "", None
                if problem and ok is False:
                    note = PROBLEM_NOTES.get(item.code, "")
                checks.append(VisitCheck(visit=v, item=item, ok=ok, value=value, note=note))
            if rng.random() < 0.02:
                kinds = list(FEEDBACK_TEXTS)
                kind = kinds[int(rng.integers(0, len(kinds)))]
                texts = FEEDBACK_TEXTS[kind]
                day = timezone.localtime(v.checkin_at).date()
                due = day + dt.timedelta(days=7)
                resolved = due < self.as_of - dt.timedelta(days=3) and rng.random() < 0.9
                feedback.append(
                    Feedback(
                        cm=v.cm,
                        retailer_id=v.retailer_id,
                        visit=v,
                        kind=kind,
                        product_id=self.scarce[int(rng.integers(0, len(self.scarce)))]
                        if kind == FeedbackKind.SUPPLY and self.scarce
                        else None,
                        text=texts[int(rng.integers(0, len(texts)))],
                        status=FeedbackStatus.RESOLVED if resolved else FeedbackStatus.OPEN,
                        due=due,
                        resolution=RESOLUTIONS[int(rng.integers(0, len(RESOLUTIONS)))] if resolved else "",
                        resolved_at=v.checkin_at + dt.timedelta(days=3) if resolved else None,
                    )
                )
        VisitCheck.objects.bulk_create(checks, batch_size=5000)
        Feedback.objects.bulk_create(feedback, batch_size=2000)
        self.visit_list = visits
        self.counts["feedback"] = len(feedback)

    # ---- summaries -----------------------------------------------------------------------------------------------
    def summaries(self) -> None:
        rng = self.rng
        done_by_week: dict[tuple[int, dt.date], int] = defaultdict(int)
        for v in self.visit_list:
            if v.status == VisitStatus.DONE:
                done_by_week[(v.cm_id, week_start(timezone.localtime(v.checkin_at).date()))] += 1
        planned_by_week: dict[tuple[int, dt.date], int] = defaultdict(int)
        for pv in self.planned:
            planned_by_week[(pv.cm_id, week_start(pv.date))] += 1
        summaries = []
        for cm in self.cms:
            r = self.rules.for_cm(cm)
            part = self.part[cm.pk]
            head = self.head_of.get(cm.pk)
            # weekly summaries of the weeks that have ended
            for monday in self.weeks():
                end = monday + dt.timedelta(days=6)
                if end >= self.as_of:
                    continue
                due = summary_due(SummaryKind.WEEK, monday, end, r)
                overdue = due.date() < self.as_of
                if overdue and (part == SLACKER and rng.random() < 0.5 or rng.random() < 0.04):
                    continue  # missing
                if not overdue and rng.random() < 0.5:
                    continue  # not written yet, not due yet
                planned = planned_by_week.get((cm.pk, monday), 0)
                done = done_by_week.get((cm.pk, monday), 0)
                problems = "部分客户价签不全, 已督促整改; 一户客户反映货源偏紧。" if rng.random() < 0.92 else ""
                sections = {
                    "sales": WEEK_SECTIONS["sales"].format(
                        cases=self.base_cases(cm, month_start(monday)) / 4.3, orders=max(done, 1)
                    ),
                    "visits": WEEK_SECTIONS["visits"].format(
                        planned=planned, done=done, rate=100 * done / planned if planned else 0
                    ),
                    "problems": problems,
                    "next_week": WEEK_SECTIONS["next_week"],
                }
                flags = [] if problems else [{"code": "missing_section", "section": "problems", "title": "发现的问题"}]
                summaries.append(self._summary(cm, SummaryKind.WEEK, monday, end, due, sections, flags, overdue, part))
            # monthly summaries: the month before last (commented) and last month
            for month in (self.prev2, self.prev):
                end = month_end(month)
                due = summary_due(SummaryKind.MONTH, month, end, r)
                overdue = due.date() < self.as_of
                if month == self.prev and overdue and part == SLACKER:
                    continue  # missing
                base = self.base_cases(cm, month)
                actual = self.cases.get(month, {}).get(cm.pk) or base
                sections = {
                    key: text.format(
                        cases=actual,
                        rate=100 * actual / base if base else 100,
                        yoy=f"{'增长' if rng.random() < 0.6 else '下降'}{rng.uniform(0.5, 6):.1f}%",
                        new=int(rng.integers(0, 4)),
                        closed=int(rng.integers(0, 3)),
                    )
                    for key, text in MONTH_SECTIONS.items()
                }
                flags: list[dict] = []
                if month == self.prev and part == COPIER:
                    earlier = next(
                        s
                        for s in summaries
                        if s.cm_id == cm.pk and s.kind == SummaryKind.MONTH and s.period_start == self.prev2
                    )
                    sections = dict(earlier.sections)  # copied word for word
                    flags = [
                        {
                            "code": "similar",
                            "ratio": 1.0,
                            "limit": float(r.similarity_limit),
                            "previous": None,
                            "previous_start": self.prev2.isoformat(),
                        }
                    ]
                s = self._summary(cm, SummaryKind.MONTH, month, end, due, sections, flags, overdue, part)
                if month == self.prev2 and s.status == SummaryStatus.SUBMITTED and head is not None:
                    s.status = SummaryStatus.COMMENTED
                    s.head_comment = "分析较完整, 下月请把问题对应到具体客户和数量。"
                    s.commented_by = head.user
                    s.commented_at = s.submitted_at + dt.timedelta(days=2)
                if flags:
                    s.similarity = Decimal("1.000")
                summaries.append(s)
        Summary.objects.bulk_create(summaries, batch_size=2000)
        # the copied summary's flag names the summary it copies
        by_key = {(s.cm_id, s.kind, s.period_start): s for s in summaries}
        for s in summaries:
            for flag in s.flags:
                if flag.get("code") == "similar":
                    flag["previous"] = by_key[(s.cm_id, s.kind, self.prev2)].pk
                    Summary.objects.filter(pk=s.pk).update(flags=s.flags)
        self.counts["summaries"] = len(summaries)

    def _summary(self, cm, kind, start, end, due, sections, flags, overdue, part) -> Summary:
        rng = self.rng
        if overdue or rng.random() < 0.5:
            late = overdue and (part == LATE_ONE and rng.random() < 0.5 or rng.random() < 0.1)
            submitted = due + (
                dt.timedelta(hours=float(rng.uniform(2, 40)))
                if late
                else -dt.timedelta(hours=float(rng.uniform(1, 30)))
            )
            submitted = min(submitted, _aware(self.as_of, 7 * 60))
            status = SummaryStatus.SUBMITTED
        else:
            submitted, status = None, SummaryStatus.DRAFT
        what = "工作总结" if kind == SummaryKind.MONTH else f"第{start.isocalendar()[1]}周总结"
        title = f"{cm.name}{start:%Y年%m月}{what}"
        return Summary(
            cm=cm,
            kind=kind,
            period_start=start,
            period_end=end,
            status=status,
            title=title,
            sections=sections,
            figures={},
            flags=flags,
            due=due,
            drafted_at=(submitted or _aware(self.as_of, 7 * 60)) - dt.timedelta(hours=3),
            submitted_at=submitted,
        )

    def build(self) -> dict[str, int]:
        from cmdesk.work.services.reminders import send_reminders

        self.load()
        self.plans()
        self.arrangements()
        self.visits()
        self.summaries()
        self.counts["reminders"] = send_reminders(self.as_of).count
        return self.counts


def build_work_demo(
    *, as_of: dt.date, seed: int, data_dir: Path | None = None, progress: Progress | None = None
) -> dict[str, int]:
    """Generate the work records for the demo's CMs (deterministic for ``seed`` and ``as_of``); returns counts."""
    progress = progress or (lambda msg: None)
    demo = WorkDemo(as_of=as_of, seed=seed, data_dir=Path(data_dir or settings.CMDESK_DATA_DIR), progress=progress)
    with transaction.atomic():
        counts = demo.build()
    progress("work records: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts
