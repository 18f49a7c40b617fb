"""Allocation by tier on a small world: creation and refusals, variants, caps, selected points, reproducibility,
adjustments, export, the evaluation of a hand-computed week, the proposal, the fairness report, scope, the
command line.

The world (cmdesk/work/tests/world.py, no orders): department A-D has cm1's route R1 (12 shops, tiers 1, 4, 7 … 28,
30, 30; urban and rural alternating) and cm2's route R2 (6 shops, tiers 1 … 16); branch B has cm3's R3.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone, translation

from cmdesk.catalog.models import ProductStatus
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.tests.factories import ProductFactory
from cmdesk.retail.choices import MarketType
from cmdesk.supply.models import (
    Allocation,
    AllocationAdjustment,
    AllocationLine,
    AllocationStatus,
    AllocationVariant,
    ClassScheme,
    RetailerClass,
)
from cmdesk.supply.services import allocation as svc
from cmdesk.work.tests.world import build_work_world, write_orders

pytestmark = pytest.mark.django_db

WEEK = dt.date(2026, 10, 5)  # a Monday
BEFORE = WEEK - dt.timedelta(days=1)


@pytest.fixture
def w():
    world = build_work_world(orders=False)
    world.scarce = ProductFactory(code="6901028099001", name="和天下(硬)", brand="和天下", scarce=True)
    world.plain = ProductFactory(code="6901028099002", name="白沙(软)", brand="白沙", scarce=False)
    return world


def _req(w, **kw) -> svc.AllocationRequest:
    base = {"product": w.scarce, "org_unit": w.tree.dept_a, "week_start": WEEK, "available": 100, "min_tier": 10}
    base.update(kw)
    return svc.AllocationRequest(**base)


def _quantities(allocation: Allocation) -> dict[tuple[str, int], int]:
    return {(t.segment, t.tier): t.quantity for t in allocation.tiers.all()}


def _lines(allocation: Allocation) -> dict[int, int]:
    return dict(allocation.lines.values_list("retailer_id", "final_quantity"))


# --- creation -----------------------------------------------------------------------------------------------------
def test_hand_computed_allocation(w):
    # Tiers ≥ D10 in A-D: D10 ×2 (w 1), D13 ×2 (4), D16 ×2 (7), D19, D22, D25, D28 (10, 13, 16, 19), D30 ×2 (21).
    # λ → 6/7⁻ gives 0, 3, 5, 8, 11, 13, 16, 17 = 98 cartons; the 2 left go to D30 (2 retailers): 18.
    a = svc.create_allocation(_req(w), w.head.user)
    assert _quantities(a) == {
        ("", 30): 18, ("", 28): 16, ("", 25): 13, ("", 22): 11, ("", 19): 8, ("", 16): 5, ("", 13): 3, ("", 10): 0,
    }  # fmt: skip
    assert a.allotted_total == 100 and a.status == AllocationStatus.DRAFT
    assert a.tiers.get(tier=30).retailers == 2 and a.tiers.get(tier=30).total == 36
    lines = _lines(a)
    assert len(lines) == 10  # the D10 retailers get nothing, so no line
    assert lines[w.shops1[10].pk] == lines[w.shops1[11].pk] == 18
    assert lines[w.shops2[5].pk] == 5 and w.shops2[3].pk not in lines
    assert w.shops3[0].pk not in lines  # branch B is outside A-D
    assert LogEntry.objects.get_for_object(a).count() == 2  # created, then its total set


def test_reproducible(w):
    first = svc.create_allocation(_req(w, variant=AllocationVariant.TIER_MARKET, cap_per_retailer=9), w.head.user)
    q1, l1 = _quantities(first), _lines(first)
    first.delete()
    again = svc.create_allocation(_req(w, variant=AllocationVariant.TIER_MARKET, cap_per_retailer=9), w.head.user)
    assert _quantities(again) == q1 and _lines(again) == l1


def test_refusals(w):
    cases = [
        ({"product": w.plain}, "product", "is not a scarce brand"),
        ({"available": 0}, "available", "above 0"),
        ({"week_start": WEEK + dt.timedelta(days=1)}, "week_start", "is not one"),
        ({"min_tier": 31}, "min_tier", "between 1 and 30"),
        ({"selected_only": True}, "selected", "no retailer is selected"),
        ({"selected": [w.shops3[0].pk], "selected_only": True}, "selected", w.shops3[0].licence_no),
        ({"tier_weights": {"12": 2, "20": 1}}, "tier_weights", "must not decrease"),
        ({"segment_weights": {"urban": -1}}, "segment_weights", "≥ 0"),
    ]
    with translation.override("en"):
        for kw, field, text in cases:
            with pytest.raises(ValidationError) as err:
                svc.create_allocation(_req(w, **kw), w.head.user)
            assert field in err.value.error_dict, kw
            assert text in " ".join(err.value.message_dict[field]), kw
        w.scarce.status = ProductStatus.DISCONTINUED
        w.scarce.save()
        with pytest.raises(ValidationError, match="is not on sale"):
            svc.create_allocation(_req(w), w.head.user)
        w.scarce.status = ProductStatus.ON_SALE
        w.scarce.save()
        svc.create_allocation(_req(w), w.head.user)
        with pytest.raises(ValidationError, match="already has an allocation"):
            svc.create_allocation(_req(w), w.head.user)
        with pytest.raises(ValidationError, match="outside your scope"):
            svc.create_allocation(_req(w, org_unit=w.tree.dept_b, week_start=WEEK + dt.timedelta(days=7)), w.head.user)
    assert Allocation.objects.count() == 1


def test_market_variant_with_segment_weights(w):
    a = svc.create_allocation(
        _req(w, variant=AllocationVariant.TIER_MARKET, available=60, segment_weights={"urban": 1, "rural": 0.5}),
        w.head.user,
    )
    q = _quantities(a)
    assert {s for s, _g in q} == {MarketType.URBAN, MarketType.RURAL}
    for seg in (MarketType.URBAN, MarketType.RURAL):
        tiers = sorted(g for s, g in q if s == seg)
        values = [q[(seg, g)] for g in tiers]
        assert values == sorted(values)  # non-decreasing with the tier inside each segment
    assert a.allotted_total == sum(t.total for t in a.tiers.all()) <= 60
    line = a.lines.get(retailer=w.shops1[10])  # i = 10: urban
    assert line.segment == MarketType.URBAN and line.quantity == q[(MarketType.URBAN, 30)]


def test_cap_and_selected_points(w):
    a = svc.create_allocation(_req(w, available=1000, cap_per_retailer=3), w.head.user)
    assert set(_lines(a).values()) == {3}
    assert a.allotted_total == 3 * 12  # every retailer from D10 up reaches the cap; 964 cartons stay unallotted
    chosen = [w.shops1[4].pk, w.shops1[9].pk, w.shops2[5].pk]  # D13 (w 4), D28 (w 19), D16 (w 7)
    b = svc.create_allocation(
        _req(w, week_start=WEEK + dt.timedelta(days=7), available=30, selected=chosen, selected_only=True),
        w.head.user,
    )
    assert set(b.selected.values_list("pk", flat=True)) == set(chosen)
    # λ → 20/19⁻ gives 4 + 7 + 19 = 30.
    assert _quantities(b) == {("", 28): 19, ("", 16): 7, ("", 13): 4}
    assert _lines(b) == {w.shops1[4].pk: 4, w.shops1[9].pk: 19, w.shops2[5].pk: 7}


def test_class_variant_uses_the_4x_codes(w):
    scheme = ClassScheme.objects.create(name="测试", active=True, dimensions=[])
    for i, shop in enumerate(w.shops1 + w.shops2):
        RetailerClass.objects.create(scheme=scheme, retailer=shop, code="CZ1" if i % 3 == 0 else "XZ2")
    a = svc.create_allocation(_req(w, variant=AllocationVariant.TIER_CLASS, available=80), w.head.user)
    assert {t.segment for t in a.tiers.all()} == {"CZ1", "XZ2"}
    assert a.lines.get(retailer=w.shops1[9]).segment == "CZ1"  # i = 9
    assert a.allotted_total <= 80


# --- publish, adjust, export --------------------------------------------------------------------------------------
def test_adjustments_are_logged_and_refused_when_they_break_a_rule(w):
    a = svc.publish(svc.create_allocation(_req(w), w.head.user), w.head.user)  # the hand-computed 100 cartons
    line = a.lines.get(retailer=w.shops1[9])  # D28: 16 by tier
    assert line.quantity == 16
    with translation.override("en"):
        adj = svc.adjust_line(line, w.cm1.user, 12, "店面装修停业一周", today=BEFORE)
        assert (adj.quantity_from, adj.quantity_to, adj.by) == (16, 12, w.cm1)
        line.refresh_from_db()
        a.refresh_from_db()
        assert line.final_quantity == 12 and a.allotted_total == 96
        assert LogEntry.objects.get_for_object(adj).count() == 1
        assert LogEntry.objects.get_for_object(line).count() == 1
        with pytest.raises(ValidationError, match="reason"):
            svc.adjust_line(line, w.cm1.user, 16, "  ", today=BEFORE)
        with pytest.raises(ValidationError, match="0 or more"):
            svc.adjust_line(line, w.cm1.user, -1, "负数", today=BEFORE)
        assert svc.raise_limit(line, None) == 24  # 16 + ⌈50% × 16⌉
        with pytest.raises(ValidationError, match="24 cartons at most"):
            svc.adjust_line(line, w.cm1.user, 25, "多给", today=BEFORE)
        with pytest.raises(ValidationError, match="101 cartons, more than the 100 available"):
            svc.adjust_line(line, w.cm1.user, 17, "超量", today=BEFORE)
        with pytest.raises(ValidationError, match="order week started"):
            svc.adjust_line(line, w.cm1.user, 16, "补回", today=WEEK)
        with pytest.raises(OutOfScope):
            svc.adjust_line(line, w.cm2.user, 16, "别人的户", today=BEFORE)
        with pytest.raises(ValidationError, match="already"):
            svc.adjust_line(line, w.cm1.user, 12, "同值", today=BEFORE)
        svc.adjust_line(line, w.head.user, 16, "主任复核补回", today=BEFORE)
        a.refresh_from_db()
        assert a.allotted_total == 100
        a.status = AllocationStatus.CLOSED
        a.save()
        with pytest.raises(ValidationError, match="closed"):
            svc.adjust_line(line, w.head.user, 1, "关闭后", today=BEFORE)
    assert list(AllocationAdjustment.objects.filter(line=line).values_list("by", "quantity_to")) == [
        (w.head.pk, 16),
        (w.cm1.pk, 12),
    ]


def test_a_draft_publishes_once(w):
    a = svc.create_allocation(_req(w), w.head.user)
    with pytest.raises(Exception):  # noqa: B017 - a CM may not publish (PermissionDenied)
        svc.publish(a, w.cm1.user)
    svc.publish(a, w.clerk.user)
    with translation.override("en"), pytest.raises(ValidationError, match="Only a draft"):
        svc.publish(a, w.head.user)


def test_export_csv_and_xlsx(w):
    a = svc.create_allocation(_req(w), w.head.user)
    content, ctype, name = svc.export_file(a, "csv", None)
    assert ctype.startswith("text/csv") and name == "allotment-6901028099001-20261005-A-D.csv"
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ["licence", "retailer", "product_code", "week", "allotment"]
    assert len(rows) == 11
    assert rows[1] == [w.shops1[10].licence_no, w.shops1[10].shop_name, "6901028099001", "2026-10-05", "18"]
    assert svc.export_rows(a, w.cm2.user) == []  # a CM sees nothing of a draft
    svc.publish(a, w.head.user)
    content, ctype, name = svc.export_file(a, "xlsx", w.cm2.user)  # a CM: its own retailers only
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("licence", "retailer", "product_code", "week", "allotment")
    assert {v[0] for v in values[1:]} == {s.licence_no for s in w.shops2[4:6]}  # D13 and D16 on R2


# --- after the week -----------------------------------------------------------------------------------------------
def _line(day, shop, product, ordered, demanded, supplied, oid):
    return dict(
        order_date=day, order_id=oid, retailer_id=shop.pk, licence=shop.licence_no, product_id=product.pk,
        product_code=product.code, demanded=demanded, allotted=ordered, ordered=ordered, supplied=supplied,
        amount=float(supplied * 85), channel="online",
    )  # fmt: skip


def _evaluated_week(w) -> Allocation:
    # D25 (R1-09) w 1, D28 (R1-10) w 4, D30 ×2 (R1-11, R1-12) w 6; 20 cartons: λ → 4/3⁻ gives 1, 5, 7 = 20.
    a = svc.create_allocation(_req(w, available=20, min_tier=25), w.head.user)
    assert _quantities(a) == {("", 25): 1, ("", 28): 5, ("", 30): 7}
    svc.publish(a, w.head.user)
    tue, thu = WEEK + dt.timedelta(days=1), WEEK + dt.timedelta(days=3)
    s = w.shops1
    write_orders(
        [
            _line(tue, s[10], w.scarce, 7, 9, 6, 1),  # D30: full
            _line(tue, s[11], w.scarce, 3, 3, 3, 2),  # D30: 3 of 7
            _line(tue, s[9], w.scarce, 2, 2, 2, 3),  # D28: 2 + 3 = 5 of 5, demanded 6, supplied 5
            _line(thu, s[9], w.scarce, 3, 4, 3, 4),
            _line(tue, s[0], w.scarce, 2, 2, 2, 5),  # D1: no allotment (outside)
            _line(WEEK + dt.timedelta(days=7), s[11], w.scarce, 4, 4, 4, 6),  # next week: not counted
            _line(tue, s[11], w.plain, 9, 9, 9, 7),  # another product: not counted
        ]
    )
    return svc.evaluate(a, w.head.user, as_of=WEEK + dt.timedelta(days=7))


def test_evaluation_hand_computed(w):
    a = _evaluated_week(w)
    assert a.status == AllocationStatus.CLOSED
    tiers = {r["tier"]: r for r in a.outcome["tiers"]}
    assert [r["tier"] for r in a.outcome["tiers"]] == [30, 28, 25]
    assert tiers[30] == {
        "tier": 30, "retailers": 2, "allotted": 14, "ordered": 10, "over": 0, "demanded": 12, "supplied": 9,
        "full": 1, "buying": 2, "fill_rate": 0.7143, "full_share": 0.5, "intake_share": 1.0, "satisfaction": 0.75,
    }  # fmt: skip
    assert tiers[28] == {
        "tier": 28, "retailers": 1, "allotted": 5, "ordered": 5, "over": 0, "demanded": 6, "supplied": 5,
        "full": 1, "buying": 1, "fill_rate": 1.0, "full_share": 1.0, "intake_share": 1.0, "satisfaction": 0.8333,
    }  # fmt: skip
    assert tiers[25]["fill_rate"] == 0.0 and tiers[25]["intake_share"] == 0.0 and tiers[25]["satisfaction"] is None
    total = a.outcome["total"]
    assert (total["allotted"], total["ordered"], total["demanded"], total["supplied"]) == (20, 15, 18, 14)
    assert (total["fill_rate"], total["full_share"], total["intake_share"], total["satisfaction"]) == (
        0.75, 0.5, 0.75, 0.7778,
    )  # fmt: skip
    assert a.outcome["outside"] == {"retailers": 1, "ordered": 2}
    line = a.lines.get(retailer=w.shops1[9])
    assert (line.ordered, line.demanded, line.supplied) == (5, 6, 5)
    assert a.lines.get(retailer=w.shops1[8]).ordered == 0


def test_evaluation_refusals(w):
    a = svc.create_allocation(_req(w), w.head.user)
    with translation.override("en"):
        with pytest.raises(ValidationError, match="never published"):
            svc.evaluate(a, w.head.user, as_of=WEEK + dt.timedelta(days=8))
        svc.publish(a, w.head.user)
        with pytest.raises(ValidationError, match="ends on 2026-10-11"):
            svc.evaluate(a, w.head.user, as_of=WEEK + dt.timedelta(days=6))
        with pytest.raises(ValidationError, match="No order data"):
            svc.evaluate(a, w.head.user, as_of=WEEK + dt.timedelta(days=8))


def test_proposal_moves_tiers_and_keeps_monotonicity(w, monkeypatch):
    a = _evaluated_week(w)
    nxt = svc.propose(a, w.head.user)
    a.refresh_from_db()
    rows = {r["tier"]: r for r in a.outcome["proposal"]["tiers"]}
    assert (rows[28]["weight_from"], rows[28]["weight_to"], rows[28]["factor"]) == (4.0, 4.8, 1.2)
    assert (rows[25]["weight_from"], rows[25]["weight_to"], rows[25]["factor"]) == (1.0, 0.8, 0.8)
    assert rows[30]["weight_to"] == 6.0 and rows[29]["weight_to"] == 5.0
    with translation.override("en"):
        assert proposal_reasons(a)[29] == "no retailer allotted: unchanged"
    assert nxt.based_on == a and nxt.week_start == WEEK + dt.timedelta(days=7) and nxt.status == AllocationStatus.DRAFT
    # Weights 0.8 / 4.8 / 6 and 20 cartons: λ → 1.25⁻ gives 0, 5, 7 = 19; the carton left goes to D28 (6 ≤ 7).
    assert _quantities(nxt) == {("", 25): 0, ("", 28): 6, ("", 30): 7}
    assert nxt.allotted_total == 20
    # A bigger step makes D28 pass D29's weight: isotonic levelling keeps the weights non-decreasing.
    monkeypatch.setitem(svc.PROPOSAL, "step", 0.5)
    nxt = svc.propose(a, w.head.user, available=22)  # the draft is recomputed in place
    a.refresh_from_db()
    rows = {r["tier"]: r for r in a.outcome["proposal"]["tiers"]}
    weights = [rows[g]["weight_to"] for g in range(25, 31)]
    assert weights == sorted(weights)
    assert rows[29]["weight_to"] == 6.0 and rows[28]["weight_to"] == 6.0 and rows[30]["weight_to"] == 6.0
    with translation.override("en"):
        assert "levelled" in proposal_reasons(a)[29] and "levelled" not in proposal_reasons(a)[30]
    assert Allocation.objects.filter(week_start=WEEK + dt.timedelta(days=7)).count() == 1 and nxt.available == 22
    q = _quantities(nxt)
    assert q[("", 30)] >= q[("", 28)] >= q[("", 25)] and nxt.allotted_total <= 22
    svc.publish(nxt, w.head.user)
    with translation.override("en"), pytest.raises(ValidationError, match="can no longer be replaced"):
        svc.propose(a, w.head.user)


def proposal_reasons(a: Allocation) -> dict[int, str]:
    return {r["tier"]: r["reason"] for r in svc.proposal_for(a)}


# --- fairness -----------------------------------------------------------------------------------------------------
def test_fairness_flags_the_cm_who_keeps_cutting_the_same_retailer(w):
    victim = w.shops1[10]
    weeks = [WEEK + dt.timedelta(weeks=k) for k in range(4)]
    for k, week in enumerate(weeks):
        a = svc.publish(svc.create_allocation(_req(w, week_start=week), w.head.user), w.head.user)
        day = week - dt.timedelta(days=1)
        if k < 3:  # cm1 cuts the same D30 shop three weeks running
            line = a.lines.get(retailer=victim)
            svc.adjust_line(line, w.cm1.user, 2, "该户近期不需要", today=day)
        if k == 1:  # cm2 cuts one of its shops once; cm1 raises one once (not a cut)
            svc.adjust_line(a.lines.get(retailer=w.shops2[5]), w.cm2.user, 1, "资金不足", today=day)
        if k == 2:
            line = a.lines.get(retailer=w.shops1[9])
            svc.adjust_line(line, w.cm1.user, line.quantity + 1, "陈列好", today=day)
    report = svc.fairness(w.head.user, weeks[0], weeks[-1])
    by = {r.staff_id: r for r in report.rows}
    assert set(by) == {w.cm1.pk, w.cm2.pk}
    cm1, cm2 = by[w.cm1.pk], by[w.cm2.pk]
    assert cm1.flagged and not cm2.flagged
    assert [c.week for c in cm1.cuts] == weeks[:3]
    assert cm1.repeated == [
        {"retailer_id": victim.pk, "licence": victim.licence_no, "shop": victim.shop_name, "weeks": weeks[:3],
         "brands": ["和天下"]}
    ]  # fmt: skip
    assert (cm1.cut_retailers, cm1.allotted_retailers, cm2.cut_retailers, cm2.allotted_retailers) == (1, 8, 1, 2)
    assert cm1.share == 0.125 and cm2.share == 0.5 and cm1.department_share == cm2.department_share == 0.2
    # cm2's share is 2.5× the department's, below 3×, and one retailer is fewer than the three required.
    strict = svc.fairness(w.head.user, weeks[0], weeks[-1], share_ratio=2.0, min_cut_retailers=1)
    assert {r.staff_id for r in strict.flagged} == {w.cm1.pk, w.cm2.pk}
    loose = svc.fairness(w.head.user, weeks[0], weeks[-1], repeat_min=4)
    assert loose.flagged == []
    content = svc.fairness_xlsx(report)
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert [r[1] for r in book["压减明细"].iter_rows(min_row=2, values_only=True)] == ["张一"] * 3 + ["李二"]


# --- pages, API, scope --------------------------------------------------------------------------------------------
def _next_monday() -> dt.date:
    today = timezone.localdate()
    return today + dt.timedelta(days=7 - today.weekday())


def test_scope_pages_and_api(w, client):
    week = _next_monday()
    a = svc.publish(svc.create_allocation(_req(w, week_start=week), w.head.user), w.head.user)
    own = a.lines.get(retailer=w.shops1[10])
    other = a.lines.get(retailer=w.shops2[5])
    client.force_login(w.cm1.user)
    assert client.get("/supply/allocations/").status_code == 200
    page = client.get("/supply/allocations/mine/", {"week": week.isoformat()})
    assert page.status_code == 200
    text = page.content.decode()
    assert w.shops1[10].shop_name in text and w.shops2[5].shop_name not in text
    data = client.get("/api/supply/allocation-lines/", {"allocation": a.pk}).json()
    assert {r["retailer"] for r in data["results"]} == set(
        a.lines.filter(retailer__route=w.route1).values_list("retailer_id", flat=True)
    )
    assert client.get(f"/api/supply/allocation-lines/{other.pk}/").status_code == 404
    r = client.post(f"/api/supply/allocation-lines/{other.pk}/adjust/", {"quantity": 1, "reason": "x"})
    assert r.status_code == 404
    r = client.post(f"/supply/allocation-lines/{other.pk}/adjust/", {"quantity": 1, "reason": "x"})
    assert r.status_code == 404
    r = client.post(f"/api/supply/allocation-lines/{own.pk}/adjust/", {"quantity": 17, "reason": "临时歇业"})
    assert r.status_code == 201 and r.json()["quantity_to"] == 17
    r = client.post(f"/api/supply/allocation-lines/{own.pk}/adjust/", {"quantity": 16, "reason": ""})
    assert r.status_code == 400 and "reason" in r.json()
    r = client.post(f"/supply/allocation-lines/{own.pk}/adjust/", {"quantity": 16, "reason": "再减一条"})
    assert r.status_code == 302
    own.refresh_from_db()
    assert own.final_quantity == 16
    assert client.post(f"/api/supply/allocations/{a.pk}/publish/").status_code == 403
    assert client.get("/supply/allocations/fairness/").status_code == 403
    assert client.get("/api/supply/allocation-fairness/").status_code == 403
    assert client.get(f"/supply/allocations/{a.pk}/").status_code == 200
    csv_text = client.get(f"/api/supply/allocations/{a.pk}/export/", {"kind": "csv"}).content.decode("utf-8-sig")
    assert w.shops2[5].licence_no not in csv_text and w.shops1[10].licence_no in csv_text
    client.force_login(w.cm3.user)  # branch B: the allocation reaches none of its retailers
    assert client.get(f"/supply/allocations/{a.pk}/").status_code == 404
    assert client.get(f"/api/supply/allocations/{a.pk}/").status_code == 404
    client.force_login(w.inspector.user)
    assert client.get("/supply/allocations/").status_code == 403
    assert client.get("/supply/allocations/mine/").status_code == 403
    assert client.get("/api/supply/allocations/").status_code == 403
    assert client.get(f"/api/supply/allocation-lines/{own.pk}/").status_code == 403
    client.force_login(w.head.user)
    detail = client.get(f"/supply/allocations/{a.pk}/", {"q": w.shops2[5].licence_no})
    assert detail.status_code == 200 and detail.context["line_count"] == 1
    assert [adj.reason for adj in detail.context["adjustments"]] == ["再减一条", "临时歇业"]
    assert client.get("/supply/allocations/fairness/").status_code == 200
    xlsx = client.get("/supply/allocations/fairness/", {"kind": "xlsx"})
    assert xlsx["Content-Type"] == svc.XLSX_CONTENT_TYPE


def test_create_and_publish_through_page_and_api(w, client):
    client.force_login(w.head.user)
    week = _next_monday()
    blank = client.get("/supply/allocations/new/")
    assert blank.status_code == 200
    assert list(blank.context["form"].fields["product"].queryset) == [w.scarce]
    assert {u.code for u in blank.context["form"].fields["org_unit"].queryset} == {"A-D", "A-1", "A-2"}
    form = {
        "product": w.scarce.pk, "org_unit": w.tree.dept_a.pk, "week_start": week.isoformat(), "available": 100,
        "variant": "tier", "min_tier": 10, "selected": "", "segment_weights": "", "tier_weights": "", "note": "",
    }  # fmt: skip
    r = client.post("/supply/allocations/new/", form)
    a = Allocation.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/supply/allocations/{a.pk}/"
    page = client.get(r["Location"])
    assert page.status_code == 200 and page.context["table"]["total"] == 100
    assert page.context["chart"]["labels"][0] == "D30" and page.context["chart"]["series"][0]["data"][0] == 18
    bad = client.post("/supply/allocations/new/", {**form, "product": w.plain.pk})
    assert bad.status_code == 200 and bad.context["form"].errors
    assert client.post(f"/supply/allocations/{a.pk}/publish/").status_code == 302
    a.refresh_from_db()
    assert a.status == AllocationStatus.PUBLISHED
    body = {"product": w.scarce.code, "org_unit": "A-D", "week_start": (week + dt.timedelta(days=7)).isoformat(),
            "available": 50, "variant": "tier_market", "min_tier": 20, "segment_weights": {"rural": 0.5}}  # fmt: skip
    r = client.post("/api/supply/allocations/", body, content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["allotted_total"] <= 50 and {t["segment"] for t in r.json()["tiers"]} == {"urban", "rural"}
    r = client.post("/api/supply/allocations/", {**body, "week_start": "2026-11-03"}, content_type="application/json")
    assert r.status_code == 400 and "week_start" in r.json()
    r = client.post(f"/api/supply/allocations/{a.pk}/evaluate/", {}, content_type="application/json")
    assert r.status_code == 400  # the week has not ended
    client.force_login(w.cm1.user)
    r = client.post("/api/supply/allocations/", body, content_type="application/json")
    assert r.status_code == 403
    assert client.get("/supply/allocations/new/").status_code == 403


def test_command(w, tmp_path):
    out = io.StringIO()
    target = tmp_path / "allot.csv"
    call_command(
        "allocate", "--product", w.scarce.code, "--week", "2026-10-05", "--available", "100", "--scope", "A-D",
        "--min-tier", "10", "--publish", "--export", str(target), "--lang", "en", stdout=out,
    )  # fmt: skip
    a = Allocation.objects.get()
    assert a.status == AllocationStatus.PUBLISHED and a.allotted_total == 100
    assert "available 100 · allotted 100 · left 0" in out.getvalue()
    assert len(target.read_text(encoding="utf-8-sig").splitlines()) == 11
    out = io.StringIO()
    call_command("allocate", "fairness", "--from", "2026-09-01", "--to", "2026-10-31", stdout=out)
    assert "fairness 2026-09-01 – 2026-10-31" in out.getvalue()
    with pytest.raises(Exception, match="create needs --available"):
        call_command("allocate", "--product", w.scarce.code, "--week", "2026-10-12")
    with pytest.raises(Exception, match="not a scarce brand"):
        call_command("allocate", "--product", w.plain.code, "--week", "2026-10-12", "--available", "5", "--lang", "en")
    assert AllocationLine.objects.count() == 10
