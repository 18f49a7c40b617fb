"""The anomaly rules at and around their thresholds, on small hand-written months (no Django)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cmdesk.analytics import anomaly as A
from cmdesk.analytics.layout import ORDER_SCHEMA, month_label, order_file

D = dt.date
OPENED = D(2020, 1, 1)


class Data:
    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.lines: list[dict] = []
        self.retailers: dict[int, dict] = {}
        self.products: dict[int, dict] = {
            1: {"brand": "甲", "launched_on": None},
            2: {"brand": "乙", "launched_on": None},
        }
        self.oid = 0

    def retailer(self, rid, tier=10, fmt="grocery", mkt="rural", branch="B1", opened=OPENED, phone=None, account=None):
        self.retailers[rid] = dict(
            retailer_id=rid, tier=tier, business_format=fmt, market_type=mkt, branch=branch, opened_on=opened,
            closed_on=None, phone=phone, account=account,
        )  # fmt: skip

    def order(self, rid, day, items, supplied=None):
        """One order: ``items`` {product id: cartons}."""
        self.oid += 1
        for pid, q in items.items():
            s = q if supplied is None else supplied.get(pid, q)
            self.lines.append(
                dict(order_date=day, order_id=self.oid, retailer_id=rid, licence=f"{rid:012d}", product_id=pid,
                     product_code=f"P{pid}", demanded=q, allotted=q, ordered=q, supplied=s, amount=float(s),
                     channel="online")
            )  # fmt: skip

    def detect(self, month, kinds, **th):
        by_month: dict[str, list] = {}
        for line in self.lines:
            by_month.setdefault(month_label(line["order_date"]), []).append(line)
        for m, rows in by_month.items():
            path = order_file(self.dir, m)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows, schema=ORDER_SCHEMA), path)
        r = pa.Table.from_pylist(list(self.retailers.values()), schema=A.RETAILER_SCHEMA)
        p = pa.Table.from_pylist([{"product_id": k, **v} for k, v in self.products.items()], schema=A.PRODUCT_SCHEMA)
        return A.detect(self.dir, month, r, p, A.Thresholds(**th), kinds=kinds)


def tuesdays(first, last):
    day = first + dt.timedelta(days=(1 - first.weekday()) % 7)
    while day <= last:
        yield day
        day += dt.timedelta(days=7)


def spike_world(tmp_path, cartons, small=10, **retailer):
    d = Data(tmp_path)
    d.retailer(1, **retailer)
    for day in tuesdays(D(2026, 7, 1), D(2026, 10, 13)):
        d.order(1, day, {1: small})
    d.order(1, D(2026, 10, 20), {1: cartons})
    return d


@pytest.mark.parametrize(("cartons", "found"), [(20, False), (21, True)])
def test_order_spike_at_200_percent_of_the_last_three(tmp_path, cartons, found):
    det = spike_world(tmp_path, cartons).detect("2026-10", [A.ORDER_SPIKE])
    assert [(f.kind, f.retailer_id, f.period_start) for f in det.findings] == (
        [(A.ORDER_SPIKE, 1, D(2026, 10, 20))] if found else []
    )
    if found:
        assert det.findings[0].measured == {
            "order_id": 16, "cartons": 21, "average": 10.0, "orders_averaged": 3, "ratio": 2.1,
        }  # fmt: skip


@pytest.mark.parametrize(("cartons", "found"), [(19, False), (20, True)])
def test_order_spike_ignores_orders_below_20_cartons(tmp_path, cartons, found):
    det = spike_world(tmp_path, cartons, small=5).detect("2026-10", [A.ORDER_SPIKE])
    assert len(det.findings) == int(found)


def test_order_spike_screens_new_retailers_and_holidays(tmp_path):
    det = spike_world(tmp_path, 50, opened=D(2026, 8, 1)).detect("2026-10", [A.ORDER_SPIKE])
    assert det.findings == [] and det.screened == {"order_spike:new_retailer": 1}
    det = spike_world(tmp_path, 50).detect("2026-10", [A.ORDER_SPIKE], holidays=(D(2026, 10, 25),), holiday_weeks=1)
    assert det.findings == [] and det.screened == {"order_spike:holiday": 1}


def test_order_spike_screens_launches(tmp_path):
    d = spike_world(tmp_path, 10)
    d.products[3] = {"brand": "新品", "launched_on": D(2026, 10, 1)}
    d.order(1, D(2026, 10, 27), {1: 10, 3: 40})
    det = d.detect("2026-10", [A.ORDER_SPIKE], launch_weeks=8)
    assert det.findings == []
    assert len(d.detect("2026-10", [A.ORDER_SPIKE], launch_weeks=2).findings) == 1  # launched 26 days before


def monthly(d, rid, per_month, pid=1, day=5):
    for (y, m), q in per_month.items():
        d.order(rid, D(y, m, day), {pid: q})


@pytest.mark.parametrize(("october", "found"), [(80, False), (81, True)])
def test_month_spike_at_200_percent_of_last_month(tmp_path, october, found):
    d = Data(tmp_path)
    d.retailer(1)
    monthly(d, 1, {(2026, 7): 40, (2026, 8): 40, (2026, 9): 40, (2026, 10): october})
    det = d.detect("2026-10", [A.MONTH_SPIKE])
    assert [f.measured for f in det.findings] == (
        [{"cartons": 81, "last_month": 40, "ratio": 2.02, "average_3m": 40.0}] if found else []
    )


def test_month_spike_screens_a_low_last_month(tmp_path):
    d = Data(tmp_path)
    d.retailer(1)
    monthly(d, 1, {(2026, 7): 60, (2026, 8): 60, (2026, 9): 30, (2026, 10): 70})
    det = d.detect("2026-10", [A.MONTH_SPIKE])
    assert det.findings == [] and det.screened == {"month_spike:low_base": 1}


def brand_world(tmp_path, october, september_supplied=None):
    d = Data(tmp_path)
    for rid in (1, 2):
        d.retailer(rid)
    for m in (7, 8):
        d.order(1, D(2026, m, 5), {1: 150})
        d.order(2, D(2026, m, 5), {1: 150})
    d.order(1, D(2026, 9, 5), {1: 150}, supplied={1: september_supplied or 150})
    d.order(2, D(2026, 9, 5), {1: 150}, supplied={1: september_supplied or 150})
    d.order(1, D(2026, 10, 5), {1: october - 150})
    d.order(2, D(2026, 10, 6), {1: 150})
    return d


@pytest.mark.parametrize(("october", "found"), [(450, False), (451, True)])
def test_brand_month_growth_above_50_percent(tmp_path, october, found):
    det = brand_world(tmp_path, october).detect("2026-10", [A.BRAND_MONTH])
    # the city ("*") and the branch B1 each
    assert sorted((f.unit, f.brand, f.measured["cartons"]) for f in det.findings) == (
        [("*", "甲", 451), ("B1", "甲", 451)] if found else []
    )


def test_brand_month_province_threshold_and_short_supply(tmp_path):
    assert brand_world(tmp_path, 525).detect("2026-10", [A.BRAND_MONTH], brand_month_growth=0.75).findings == []
    det = brand_world(tmp_path, 400, september_supplied=100).detect("2026-10", [A.BRAND_MONTH])
    assert det.findings == [] and det.screened == {"brand_month:short_supply": 2}


@pytest.mark.parametrize(("peak", "found"), [(150, False), (151, True)])
def test_day_share_above_15_percent(tmp_path, peak, found):
    d = Data(tmp_path)
    d.retailer(1)
    rest = 1000 - peak
    days = [D(2026, 10, x) for x in range(5, 31)]  # 26 days
    for i, day in enumerate(days[:-1]):
        d.order(1, day, {2: rest // 25 + (1 if i < rest % 25 else 0)})
    d.order(1, days[-1], {2: peak})
    det = d.detect("2026-10", [A.DAY_SHARE])
    assert [(f.unit, f.period_start, f.measured["share"]) for f in det.findings] == (
        [("*", D(2026, 10, 30), 0.151), ("B1", D(2026, 10, 30), 0.151)] if found else []
    )


def peer_world(tmp_path, october):
    d = Data(tmp_path)
    for rid in range(1, 8):
        d.retailer(rid, tier=12)
    for rid in range(2, 8):
        monthly(d, rid, {(2026, 7): 100, (2026, 8): 100, (2026, 9): 100, (2026, 10): 100})
    monthly(d, 1, {(2026, 7): 100, (2026, 8): 100, (2026, 9): 100, (2026, 10): october})
    return d


@pytest.mark.parametrize(("october", "kind"), [(80, None), (79, A.PEER_GROWTH), (50, A.PEER_GROWTH), (49, A.COLLAPSE)])
def test_peer_growth_and_collapse(tmp_path, october, kind):
    det = peer_world(tmp_path, october).detect("2026-10", [A.PEER_GROWTH, A.COLLAPSE])
    assert [(f.kind, f.retailer_id) for f in det.findings] == ([(kind, 1)] if kind else [])
    if kind:
        assert det.findings[0].measured["peers"] == 6
        assert det.findings[0].measured["ratio"] == october / 100


def test_peer_growth_not_for_fewer_orders_of_the_usual_size(tmp_path):
    d = Data(tmp_path)
    for rid in range(1, 8):
        d.retailer(rid, tier=12)
    for rid in range(1, 8):
        for m in (7, 8, 9):
            for day in (5, 12, 19, 26):
                d.order(rid, D(2026, m, day), {1: 25})
        for day in (5, 12, 19, 26) if rid > 1 else (5, 12, 19):
            d.order(rid, D(2026, 10, day), {1: 25})
    det = d.detect("2026-10", [A.PEER_GROWTH, A.COLLAPSE])
    assert det.findings == [] and det.screened == {"peer_growth:skipped_orders": 1}


def decline_world(tmp_path, september_orders):
    """Shop 1 orders 25 cartons every week (4 a month) through August, then ``september_orders`` in September and one
    in October, always of 25 cartons; six peers keep ordering 4 a month."""
    d = Data(tmp_path)
    for rid in range(1, 8):
        d.retailer(rid, tier=12)
    for rid in range(1, 8):
        for m in (6, 7, 8):
            for day in (5, 12, 19, 26):
                d.order(rid, D(2026, m, day), {1: 25})
        for day in (5, 12, 19, 26)[: 4 if rid > 1 else september_orders]:
            d.order(rid, D(2026, 9, day), {1: 25})
        for day in (5, 12, 19, 26) if rid > 1 else (5,):
            d.order(rid, D(2026, 10, day), {1: 25})
    return d


def test_collapse_one_month_of_few_usual_orders_is_screened_a_second_one_is_not(tmp_path):
    """October: one order of the usual size (a quarter of the month's volume). After a full September that is a
    skipped-orders month, screened; after a September already down to one order it is the second month in a row, a
    collapse."""
    det = decline_world(tmp_path / "a", 4).detect("2026-10", [A.COLLAPSE])
    assert det.findings == [] and det.screened == {"collapse:skipped_orders": 1}
    det = decline_world(tmp_path / "b", 1).detect("2026-10", [A.COLLAPSE])
    assert [(f.kind, f.retailer_id, f.measured["cartons"], f.measured["last_month"]) for f in det.findings] == [
        (A.COLLAPSE, 1, 25, 25)
    ]
    assert det.screened == {}


def test_a_month_in_progress_runs_only_the_rules_of_single_orders_and_patterns(tmp_path):
    """October so far is its 5th: shops 2–7 order on the 5th (shop 2 a spike of 80), shop 1 on the 6th. Judged as a
    whole month, shop 1 would have collapsed (no order against its peers' one); in progress, only the single orders
    are judged and the whole-month rules are listed as deferred."""
    d = Data(tmp_path)
    for rid in range(1, 8):
        d.retailer(rid, tier=12)
        days = (6, 13, 20, 27) if rid == 1 else (5, 12, 19, 26)
        for m in (7, 8, 9):
            for day in days:
                d.order(rid, D(2026, m, day), {1: 25})
        if rid > 1:
            d.order(rid, D(2026, 10, 5), {1: 80 if rid == 2 else 25})
    full = d.detect("2026-10", A.KINDS)
    assert {(f.kind, f.retailer_id) for f in full.findings} >= {(A.COLLAPSE, 1), (A.ORDER_SPIKE, 2)}
    assert full.deferred == ()
    r = pa.Table.from_pylist(list(d.retailers.values()), schema=A.RETAILER_SCHEMA)
    p = pa.Table.from_pylist([{"product_id": k, **v} for k, v in d.products.items()], schema=A.PRODUCT_SCHEMA)
    partial = A.detect(d.dir, "2026-10", r, p, A.Thresholds(), complete=False)
    assert [(f.kind, f.retailer_id) for f in partial.findings] == [(A.ORDER_SPIKE, 2)]
    assert partial.deferred == (A.BRAND_MONTH, A.DAY_SHARE, A.MONTH_SPIKE, A.PEER_GROWTH, A.COLLAPSE, A.ABOVE_TIER)


def test_proxy_mirror_and_above_tier(tmp_path):
    d = Data(tmp_path)
    d.retailer(1, tier=25, fmt="tobacco_liquor")  # the big shop
    d.retailer(2, tier=3)  # the proxy
    for rid in range(3, 9):
        d.retailer(rid, tier=3)
    d.products.update({pid: {"brand": f"B{pid}", "launched_on": None} for pid in range(3, 9)})
    for i, day in enumerate(tuesdays(D(2026, 8, 1), D(2026, 10, 31))):
        items = {pid: 3 + (i * pid) % 5 for pid in range(1, 9)}
        d.order(1, day, items)
        d.order(2, day, {pid: q for pid, q in items.items() if pid != 8})  # the same minus one scarce product
        for rid in range(3, 9):
            d.order(rid, day + dt.timedelta(days=1), {1: 1 + (rid + i) % 2})
    det = d.detect("2026-10", [A.PROXY, A.ABOVE_TIER])
    proxy = [f for f in det.findings if f.kind == A.PROXY]
    assert [(f.retailer_id, f.partner_id) for f in proxy] == [(2, 1)]
    assert proxy[0].measured["day_jaccard"] == 1.0 and proxy[0].measured["line_overlap"] == 1.0
    assert proxy[0].measured["similarity"] >= 0.8
    assert [(f.retailer_id, f.measured["median"]) for f in det.findings if f.kind == A.ABOVE_TIER] == [(2, 6.0)]


def test_shared_account(tmp_path):
    d = Data(tmp_path)
    d.retailer(1, account="6222000011112222")
    d.retailer(2, account="6222000011112222")
    d.retailer(3, phone="13900000000")
    d.retailer(4, phone="13900000000")
    d.retailer(5)
    for rid, q in ((1, 50), (2, 20), (3, 10), (4, 30), (5, 10)):
        d.order(rid, D(2026, 10, 6), {1: q})
    det = d.detect("2026-10", [A.SHARED_ACCOUNT])
    assert [
        (f.retailer_id, f.partner_id, f.measured["same_account"], f.measured["same_phone"]) for f in det.findings
    ] == [
        (2, 1, True, False),
        (3, 4, False, True),
    ]


def test_evaluate_matches_families_and_dates():
    f = [
        A.Finding(A.ORDER_SPIKE, D(2026, 10, 6), D(2026, 10, 6), {}, 1, retailer_id=1),
        A.Finding(A.PEER_GROWTH, D(2026, 10, 1), D(2026, 10, 31), {}, 1, retailer_id=1),  # wrong family
        A.Finding(A.COLLAPSE, D(2026, 9, 1), D(2026, 9, 30), {}, 1, retailer_id=2),  # before the collapse
        A.Finding(A.BRAND_MONTH, D(2026, 10, 1), D(2026, 10, 31), {}, 1, brand="甲", unit="*"),  # not counted
    ]
    planted = [
        A.Planted("spike", 1, D(2026, 10, 6), D(2026, 10, 6)),
        A.Planted("collapse", 2, D(2026, 10, 1), D(2026, 10, 31)),
    ]
    ev = A.evaluate(f, planted)
    assert (ev.precision(), ev.recall(), ev.recall("spike"), ev.precision(A.ORDER_SPIKE)) == (1 / 3, 0.5, 1.0, 1.0)


def test_evaluate_counts_a_shared_account_once_over_the_months_it_was_seen():
    """Detection keys a shared account by the pair alone (no period): evaluated month by month it is one alert."""
    f = [
        A.Finding(A.SHARED_ACCOUNT, D(2026, m, 1), D(2026, m, 28), {}, 2, retailer_id=5, partner_id=9)
        for m in (6, 7, 8, 9, 10)
    ] + [
        # the same pair with the roles swapped (the partner was the smaller shop that month), and another pair
        A.Finding(A.SHARED_ACCOUNT, D(2026, 11, 1), D(2026, 11, 30), {}, 2, retailer_id=9, partner_id=5),
        A.Finding(A.SHARED_ACCOUNT, D(2026, 10, 1), D(2026, 10, 31), {}, 2, retailer_id=6, partner_id=9),
    ]
    planted = [A.Planted("proxy_ordering", 5, D(2026, 9, 14), D(2026, 10, 31))]
    ev = A.evaluate(f, planted)
    assert ev.alerts[A.SHARED_ACCOUNT] == 2 and ev.matched[A.SHARED_ACCOUNT] == 1
    assert (ev.precision(), ev.recall()) == (0.5, 1.0)
