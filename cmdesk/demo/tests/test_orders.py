"""Tests of the Django-free demo order-line generator (cmdesk.demo.orders) and its calendar.

Run without Django: ``pytest cmdesk/demo/tests/test_orders.py -p no:django``. The suite-wide conftest has autouse
fixtures that need pytest-django's ``settings``; this module overrides them with no-ops, so it runs either way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pathlib

import numpy as np
import pyarrow.parquet as pq
import pytest

from cmdesk.demo import calendar as democal
from cmdesk.demo.orders import (
    ANOMALY_KINDS,
    CHANNELS,
    FORMATS,
    ORDER_SCHEMA,
    SCARCE_TIER_MIN,
    GenerationReport,
    ProductFrame,
    RetailerFrame,
    generate_orders,
)

AS_OF = dt.date(2025, 6, 30)
YEARS = 2
SEED = 11
START = dt.date(2023, 6, 1)


@pytest.fixture(autouse=True)
def _fast_passwords():
    """No-op override of the suite's Django-only autouse fixture."""


@pytest.fixture(autouse=True)
def _data_dir():
    """No-op override of the suite's Django-only autouse fixture."""


def make_frames(n: int = 300, p: int = 60, seed: int = 5) -> tuple[RetailerFrame, ProductFrame]:
    """Small synthetic frames: mostly settled retailers, a few opening or closing in the period, a few new products.

    The first rows are pinned so that every anomaly kind has candidates: big urban shops of high tier and small
    rural groceries of low tier, on the same order weekdays.
    """
    rng = np.random.default_rng(seed)
    urban = rng.random(n) < 0.4
    fmt = rng.choice(np.array(FORMATS), size=n, p=[0.70, 0.14, 0.05, 0.01, 0.06, 0.02, 0.02])
    tier = np.clip(np.rint(np.where(urban, 15, 10) + rng.normal(0, 6, n)), 1, 30).astype(np.int64)
    weekday = rng.integers(0, 6, n)
    fmt[:12] = "tobacco_liquor"
    urban[:12] = True
    tier[:12] = 24 + np.arange(12) % 7
    fmt[12:24] = "grocery"
    urban[12:24] = False
    tier[12:24] = 2 + np.arange(12) % 6
    weekday[:24] = np.tile(np.arange(6), 4)
    opened = np.datetime64("2010-01-01") + rng.integers(0, 3000, n).astype("timedelta64[D]")
    closed = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    new = np.arange(n) >= n - 15
    opened[new] = np.datetime64("2023-09-01") + rng.integers(0, 500, new.sum()).astype("timedelta64[D]")
    closing = (np.arange(n) >= n - 30) & ~new
    closed[closing] = np.datetime64("2023-10-01") + rng.integers(0, 500, closing.sum()).astype("timedelta64[D]")
    retailers = RetailerFrame(
        id=(np.arange(n, dtype=np.int64) * 7 + 1000)[rng.permutation(n)],  # ids not in frame order
        licence=np.array([f"340100{i:06d}" for i in range(n)], dtype=object),
        urban=urban,
        fmt=fmt,
        tier=tier,
        channel=rng.choice(np.array(CHANNELS), size=n, p=[0.75, 0.12, 0.03, 0.10]),
        order_weekday=weekday,
        opened=opened,
        closed=closed,
    )
    cls = np.repeat(np.arange(1, 6), p // 5)
    bands = {1: (100, 400), 2: (70, 100), 3: (30, 70), 4: (16.5, 30), 5: (8, 16.5)}
    price = np.array([round(rng.uniform(*bands[c]), 2) for c in cls])
    launched = np.full(p, np.datetime64("2015-01-01"), dtype="datetime64[D]")
    launched[np.arange(3, p, 12)] = np.datetime64("2024-03-13")
    scarce = np.zeros(p, dtype=bool)
    scarce[[0, 1, 2, 12, 13]] = True
    products = ProductFrame(
        id=np.arange(p, dtype=np.int64)[::-1] + 500,
        code=np.array([f"6901028{i:06d}" for i in range(p)], dtype=object),
        price_class=cls,
        wholesale_price=price,
        provincial=rng.random(p) < 0.5,
        key_brand=rng.random(p) < 0.2,
        scarce=scarce,
        launched=launched,
    )
    return retailers, products


def read_orders(out_dir: pathlib.Path) -> dict[str, np.ndarray]:
    """All order lines as numpy columns, month files in calendar order."""
    files = sorted((out_dir / "orders").glob("month=*/part-0.parquet"))
    tables = [pq.read_table(f) for f in files]
    cols = {}
    for name in ORDER_SCHEMA.names:
        arrays = [t[name].to_numpy() for t in tables]
        cols[name] = np.concatenate(arrays)
    cols["order_date"] = cols["order_date"].astype("datetime64[D]")
    return cols


@dataclasses.dataclass
class Generated:
    retailers: RetailerFrame
    products: ProductFrame
    report: GenerationReport
    out: pathlib.Path
    rows: dict[str, np.ndarray]
    progress: list[tuple[int, int, str]]

    def retailer_index(self, ids: np.ndarray) -> np.ndarray:
        order = np.argsort(self.retailers.id)
        return order[np.searchsorted(self.retailers.id[order], ids)]

    def product_index(self, ids: np.ndarray) -> np.ndarray:
        order = np.argsort(self.products.id)
        return order[np.searchsorted(self.products.id[order], ids)]


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> Generated:
    retailers, products = make_frames()
    out = tmp_path_factory.mktemp("orders_a")
    calls: list[tuple[int, int, str]] = []
    report = generate_orders(
        retailers,
        products,
        as_of=AS_OF,
        years=YEARS,
        seed=SEED,
        out_dir=out,
        progress=lambda done, total, label: calls.append((done, total, label)),
    )
    return Generated(retailers, products, report, out, read_orders(out), calls)


def order_totals(g: Generated) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per order: retailer id, date (int days), ordered cartons; sorted by retailer then date."""
    ids, inverse = np.unique(g.rows["order_id"], return_inverse=True)
    total = np.bincount(inverse, weights=g.rows["ordered"])
    rid = np.zeros(len(ids), dtype=np.int64)
    day = np.zeros(len(ids), dtype=np.int64)
    rid[inverse] = g.rows["retailer_id"]
    day[inverse] = g.rows["order_date"].astype(np.int64)
    order = np.lexsort((day, rid))
    return rid[order], day[order], total[order]


# --- calendar -------------------------------------------------------------------------------------------------------


def test_spring_festival_table_is_complete_and_plausible():
    assert sorted(democal.SPRING_FESTIVAL) == list(range(2015, 2036))
    for year, date in democal.SPRING_FESTIVAL.items():
        assert date.year == year
        assert dt.date(year, 1, 21) <= date <= dt.date(year, 2, 20)
    assert democal.spring_festival(2024) == dt.date(2024, 2, 10)
    assert democal.spring_festival(2025) == dt.date(2025, 1, 29)
    assert democal.spring_festival(2040) is None


def test_period_and_months():
    assert democal.period_start(dt.date(2025, 6, 30), 3) == dt.date(2022, 6, 1)
    assert democal.period_start(dt.date(2024, 2, 29), 1) == dt.date(2023, 2, 1)
    months = democal.month_starts(dt.date(2023, 11, 1), dt.date(2024, 2, 3))
    assert months == [dt.date(2023, 11, 1), dt.date(2023, 12, 1), dt.date(2024, 1, 1), dt.date(2024, 2, 1)]
    assert democal.month_end(dt.date(2024, 2, 1)) == dt.date(2024, 2, 29)
    assert democal.weekday(np.array([democal.to_day(dt.date(2024, 2, 10))]))[0] == dt.date(2024, 2, 10).weekday()


def test_seasonal_factors():
    sf = democal.to_day(dt.date(2025, 1, 29))
    days = np.array([sf - 20, sf - 10, sf - 3, sf, sf + 3, sf + 9, sf + 60, democal.to_day(dt.date(2025, 7, 15))])
    volume, rate = democal.seasonal_factors(days)
    assert volume.tolist() == pytest.approx([1.40, 1.50, 1.60, 0.45, 0.45, 0.80, 1.0, 0.92])
    assert rate.tolist() == pytest.approx([1.0, 1.0, 1.0, 0.55, 0.55, 0.90, 1.0, 1.0])
    # Late December counts against the next festival; years outside the table have no festival effect.
    late_dec = democal.to_day(dt.date(2022, 12, 30))
    assert democal.festival_offset(np.array([late_dec]))[0] == late_dec - democal.to_day(dt.date(2023, 1, 22))
    volume, rate = democal.seasonal_factors(np.array([democal.to_day(dt.date(2040, 2, 1))]))
    assert volume[0] == 1.0 and rate[0] == 1.0


# --- layout, determinism, report ------------------------------------------------------------------------------------


def test_partition_layout_and_schema(gen: Generated):
    expected = [m.strftime("%Y-%m") for m in democal.month_starts(START, AS_OF)]
    assert gen.report.months == expected
    dirs = sorted(p.name for p in (gen.out / "orders").iterdir())
    assert dirs == [f"month={m}" for m in expected]
    for label in expected:
        folder = gen.out / "orders" / f"month={label}"
        assert [p.name for p in folder.iterdir()] == ["part-0.parquet"]
        pf = pq.ParquetFile(folder / "part-0.parquet")
        assert pf.schema_arrow == ORDER_SCHEMA
        assert pf.metadata.row_group(0).column(0).compression == "ZSTD"
        dates = pf.read(columns=["order_date"])["order_date"].to_numpy().astype("datetime64[M]")
        assert (dates == np.datetime64(label, "M")).all()
    assert [c[2] for c in gen.progress] == expected
    assert [c[0] for c in gen.progress] == list(range(1, len(expected) + 1))
    assert {c[1] for c in gen.progress} == {len(expected)}


def test_rows_sorted_by_date_retailer_product(gen: Generated):
    r = gen.rows
    keys = np.lexsort((r["product_id"], r["retailer_id"], r["order_date"]))
    assert (keys == np.arange(len(keys))).all()


def test_report_matches_data(gen: Generated):
    r = gen.rows
    assert gen.report.lines == len(r["order_id"])
    assert gen.report.orders == len(np.unique(r["order_id"]))
    assert gen.report.cartons == int(r["supplied"].sum())
    assert gen.report.amount == pytest.approx(r["amount"].sum(), abs=0.01)
    assert json.loads((gen.out / "anomalies.json").read_text(encoding="utf-8")) == gen.report.anomalies


def test_deterministic_and_rebuild_removes_stale_months(gen: Generated, tmp_path: pathlib.Path):
    stale = tmp_path / "orders" / "month=1999-01"
    stale.mkdir(parents=True)
    (stale / "part-0.parquet").write_bytes(b"stale")
    retailers, products = make_frames()
    report = generate_orders(retailers, products, as_of=AS_OF, years=YEARS, seed=SEED, out_dir=tmp_path)
    assert not stale.exists()
    assert report == gen.report
    for label in gen.report.months:
        part = pathlib.Path("orders") / f"month={label}" / "part-0.parquet"
        assert pq.read_table(tmp_path / part).equals(pq.read_table(gen.out / part))
    assert (tmp_path / "anomalies.json").read_text() == (gen.out / "anomalies.json").read_text()


def test_frame_row_order_does_not_matter(tmp_path: pathlib.Path):
    retailers, products = make_frames(n=120, p=30)
    a = generate_orders(retailers, products, as_of=AS_OF, years=1, seed=3, out_dir=tmp_path / "a")
    rp, pp = np.random.default_rng(0).permutation(120), np.random.default_rng(1).permutation(30)
    shuffled_r = RetailerFrame(**{f: getattr(retailers, f)[rp] for f in RetailerFrame.__dataclass_fields__})
    shuffled_p = ProductFrame(**{f: getattr(products, f)[pp] for f in ProductFrame.__dataclass_fields__})
    b = generate_orders(shuffled_r, shuffled_p, as_of=AS_OF, years=1, seed=3, out_dir=tmp_path / "b")
    assert a == b
    for label in a.months:
        part = pathlib.Path("orders") / f"month={label}" / "part-0.parquet"
        assert pq.read_table(tmp_path / "a" / part).equals(pq.read_table(tmp_path / "b" / part))


def test_other_seed_gives_other_data(gen: Generated, tmp_path: pathlib.Path):
    retailers, products = make_frames()
    report = generate_orders(retailers, products, as_of=AS_OF, years=1, seed=SEED + 1, out_dir=tmp_path)
    part = pathlib.Path("orders") / "month=2025-03" / "part-0.parquet"
    assert not pq.read_table(tmp_path / part).equals(pq.read_table(gen.out / part))
    assert report.months[0] == "2024-06"


# --- invariants -----------------------------------------------------------------------------------------------------


def test_quantity_invariants(gen: Generated):
    r = gen.rows
    assert (r["demanded"] >= 1).all()
    assert (r["ordered"] > 0).all()
    assert (r["ordered"] <= r["allotted"]).all()
    assert (r["ordered"] == np.minimum(r["demanded"], r["allotted"])).all()
    assert (r["supplied"] >= 0).all()
    assert (r["supplied"] <= r["ordered"]).all()
    price = gen.products.wholesale_price[gen.product_index(r["product_id"])]
    assert (r["amount"] == np.round(r["supplied"] * price, 2)).all()


def test_identities_and_codes(gen: Generated):
    r = gen.rows
    ri = gen.retailer_index(r["retailer_id"])
    pi = gen.product_index(r["product_id"])
    assert (gen.retailers.id[ri] == r["retailer_id"]).all()
    assert (gen.products.id[pi] == r["product_id"]).all()
    assert (r["licence"].astype(str) == gen.retailers.licence[ri].astype(str)).all()
    assert (r["product_code"].astype(str) == gen.products.code[pi].astype(str)).all()
    assert set(np.unique(r["channel"]).tolist()) <= set(CHANNELS)
    usual = r["channel"].astype(str) == gen.retailers.channel[ri].astype(str)
    assert 0.9 <= usual.mean() < 1.0
    # One order = one retailer on one day, and one retailer-day = one order.
    pairs = np.unique(np.stack([r["order_id"], r["retailer_id"], r["order_date"].astype(np.int64)]), axis=1)
    assert len(np.unique(pairs[0])) == pairs.shape[1]
    assert len(np.unique(pairs[1:], axis=1).T) == pairs.shape[1]
    # The month is the order_id prefix; no product twice in an order.
    prefix = r["order_id"] // 10_000_000
    month = r["order_date"].astype("datetime64[M]").astype(np.int64)
    assert (prefix == (month // 12 + 1970) * 100 + month % 12 + 1).all()
    line_keys = np.stack([r["order_id"], r["product_id"]])
    assert np.unique(line_keys, axis=1).shape[1] == len(r["order_id"])


def test_dates_respect_weekday_period_open_close_and_launch(gen: Generated):
    r = gen.rows
    ri = gen.retailer_index(r["retailer_id"])
    pi = gen.product_index(r["product_id"])
    day = r["order_date"]
    assert day.min() >= np.datetime64(START) and day.max() <= np.datetime64(AS_OF)
    assert (democal.weekday(day.astype(np.int64)) == gen.retailers.order_weekday[ri]).all()
    assert (day >= gen.retailers.opened[ri]).all()
    closed = gen.retailers.closed[ri]
    assert (np.isnat(closed) | (day < closed)).all()
    assert (day >= gen.products.launched[pi]).all()
    launched_late = gen.products.launched[pi] > np.datetime64(START)
    assert launched_late.any(), "products launched in the period are ordered after their launch"
    new_ids = gen.retailers.id[gen.retailers.opened > np.datetime64(START)]
    assert np.isin(new_ids, r["retailer_id"]).all(), "retailers opened in the period order once open"


def test_scarce_allotment_by_tier(gen: Generated):
    r = gen.rows
    ri = gen.retailer_index(r["retailer_id"])
    pi = gen.product_index(r["product_id"])
    scarce = gen.products.scarce[pi]
    tier = gen.retailers.tier[ri]
    assert scarce.any()
    assert (tier[scarce] >= SCARCE_TIER_MIN[0]).all(), "low tiers never get a scarce product"
    month = r["order_date"].astype("datetime64[M]").astype(np.int64)
    for product in np.unique(r["product_id"][scarce]):
        for m in np.unique(month[scarce]):
            sel = scarce & (r["product_id"] == product) & (month == m)
            tiers, inverse = np.unique(tier[sel], return_inverse=True)
            allotted = r["allotted"][sel]
            lo = np.full(len(tiers), np.iinfo(np.int32).max)
            hi = np.zeros(len(tiers), dtype=np.int64)
            np.minimum.at(lo, inverse, allotted)
            np.maximum.at(hi, inverse, allotted)
            assert (lo == hi).all(), "a_g is one number per tier"
            assert (np.diff(lo) >= 0).all(), "a_g does not increase from D30 down"
    assert (r["demanded"][scarce] > r["allotted"][scarce]).mean() > 0.3
    shortfall = r["supplied"] < r["ordered"]
    assert shortfall[scarce].any() and not shortfall[~scarce].any()
    assert (r["allotted"][~scarce] >= r["demanded"][~scarce]).mean() > 0.99


def test_lines_per_order_and_volume(gen: Generated):
    r = gen.rows
    _, lines = np.unique(r["order_id"], return_counts=True)
    assert lines.max() <= 20
    assert 11.0 <= lines.mean() <= 13.5
    assert ((lines >= 10) & (lines <= 20)).mean() > 0.97
    # Ordering rate and cartons per retailer-week over the weeks each retailer is open.
    opened = np.maximum(gen.retailers.opened, np.datetime64(START)).astype(np.int64)
    closed = gen.retailers.closed.copy()
    closed[np.isnat(closed)] = np.datetime64(AS_OF) + 1
    weeks = np.clip(closed.astype(np.int64) - opened, 0, None).sum() / 7
    rate = len(lines) / weeks
    assert 0.82 <= rate <= 0.97
    assert 12 <= r["supplied"].sum() / weeks <= 35


def test_price_per_carton_rises_and_class_trends(gen: Generated):
    r = gen.rows
    day = r["order_date"]
    first = day < np.datetime64("2024-06-01")
    last = day >= np.datetime64("2024-07-01")
    price = r["amount"][last].sum() / r["supplied"][last].sum()
    assert price > 1.05 * r["amount"][first].sum() / r["supplied"][first].sum()
    cls = gen.products.price_class[gen.product_index(r["product_id"])]
    first_by_class = np.bincount(cls[first], weights=r["supplied"][first], minlength=6)
    last_by_class = np.bincount(cls[last], weights=r["supplied"][last], minlength=6)
    growth = last_by_class[1:] / first_by_class[1:] - 1  # 一类 .. 五类; noisy with 12 products a class
    assert growth[0] > 0.05
    assert growth[4] < -0.15
    assert growth[0] > growth[2] > growth[4]


def test_spring_festival_peak_and_trough(gen: Generated):
    r = gen.rows
    days = r["order_date"].astype(np.int64)
    for year in (2024, 2025):
        offset = days - democal.to_day(democal.SPRING_FESTIVAL[year])
        before = r["ordered"][(offset >= -21) & (offset <= -1)].sum() / 3
        festival = r["ordered"][(offset >= 0) & (offset <= 6)].sum()
        normal = r["ordered"][(offset >= -77) & (offset <= -43)].sum() / 5
        assert before > 1.3 * normal, year
        assert festival < 0.6 * normal, year


# --- anomalies ------------------------------------------------------------------------------------------------------


def test_anomaly_file_format(gen: Generated):
    anomalies = gen.report.anomalies
    assert {a["kind"] for a in anomalies} == set(ANOMALY_KINDS)
    keys = {"kind", "retailer_id", "licence", "start", "end", "product_code", "partner_retailer_id"}
    keys |= {"partner_licence", "detail"}
    retailers = set()
    for a in anomalies:
        assert set(a) == keys
        assert dt.date.fromisoformat(a["start"]) <= dt.date.fromisoformat(a["end"]) <= AS_OF
        i = gen.retailer_index(np.array([a["retailer_id"]]))[0]
        assert a["licence"] == gen.retailers.licence[i]
        assert isinstance(a["detail"], str) and a["detail"]
        assert (a["partner_retailer_id"] is not None) == (a["kind"] == "proxy_ordering")
        retailers.add(a["retailer_id"])
        if a["partner_retailer_id"] is not None:
            retailers.add(a["partner_retailer_id"])
    assert len(retailers) == len(anomalies) + sum(a["kind"] == "proxy_ordering" for a in anomalies)


def test_spike_is_far_above_previous_three_orders(gen: Generated):
    rid, day, total = order_totals(gen)
    for a in (a for a in gen.report.anomalies if a["kind"] == "spike"):
        mine = np.flatnonzero(rid == a["retailer_id"])
        at = mine[day[mine] == np.datetime64(a["start"]).astype(np.int64)]
        assert len(at) == 1 and at[0] - 3 >= mine[0]
        average = total[at[0] - 3 : at[0]].mean()
        assert total[at[0]] > 2.5 * average and total[at[0]] >= 20
        i = gen.retailer_index(np.array([a["retailer_id"]]))[0]
        assert gen.retailers.opened[i] < np.datetime64(START), "not a new retailer"


def test_collapse_stays_below_30_percent(gen: Generated):
    rid, day, total = order_totals(gen)
    end = democal.to_day(AS_OF)
    for a in (a for a in gen.report.anomalies if a["kind"] == "collapse"):
        start = democal.to_day(dt.date.fromisoformat(a["start"]))
        mine = rid == a["retailer_id"]
        before = total[mine & (day >= start - 182) & (day < start)].sum() / 26
        after = total[mine & (day >= start)].sum() / ((end - start + 1) / 7)
        assert before > 0 and after < 0.3 * before


def test_proxy_shop_mirrors_big_shop(gen: Generated):
    r = gen.rows
    rid, day, total = order_totals(gen)
    for a in (a for a in gen.report.anomalies if a["kind"] == "proxy_ordering"):
        i, j = gen.retailer_index(np.array([a["retailer_id"], a["partner_retailer_id"]]))
        assert not gen.retailers.urban[i] and gen.retailers.tier[i] <= 8 and gen.retailers.tier[j] >= 22
        start = democal.to_day(dt.date.fromisoformat(a["start"]))
        stop = democal.to_day(dt.date.fromisoformat(a["end"]))
        mine = rid == a["retailer_id"]
        during = total[mine & (day >= start) & (day <= stop)].sum() / ((stop - start + 1) / 7)
        before = total[mine & (day >= start - 182) & (day < start)].sum() / 26
        peers = (
            (gen.retailers.fmt == gen.retailers.fmt[i])
            & (gen.retailers.urban == gen.retailers.urban[i])
            & (np.abs(gen.retailers.tier - gen.retailers.tier[i]) <= 3)
        )
        peer_weekly = np.median([total[rid == p].sum() / 108 for p in gen.retailers.id[peers]])
        assert during > 3 * before and during > 3 * peer_weekly
        # Same products as the partner: on the same day when they share an order weekday.
        days = r["order_date"].astype(np.int64)
        in_period = (r["retailer_id"] == a["retailer_id"]) & (days >= start) & (days <= stop)
        partner = r["retailer_id"] == a["partner_retailer_id"]
        if gen.retailers.order_weekday[i] == gen.retailers.order_weekday[j]:
            theirs = set(zip(days[partner].tolist(), r["product_id"][partner].tolist(), strict=True))
            assert set(zip(days[in_period].tolist(), r["product_id"][in_period].tolist(), strict=True)) <= theirs
        else:
            assert set(r["product_id"][in_period].tolist()) <= set(r["product_id"][partner].tolist())


# --- validation -----------------------------------------------------------------------------------------------------


def test_rejects_bad_frames(tmp_path: pathlib.Path):
    retailers, products = make_frames(n=40, p=20)
    short = dataclasses.replace(retailers, tier=retailers.tier[:-1])
    with pytest.raises(ValueError, match="not aligned"):
        generate_orders(short, products, as_of=AS_OF, years=1, seed=1, out_dir=tmp_path)
    bad_fmt = retailers.fmt.copy()
    bad_fmt[0] = "kiosk"
    with pytest.raises(ValueError, match="format"):
        generate_orders(
            dataclasses.replace(retailers, fmt=bad_fmt), products, as_of=AS_OF, years=1, seed=1, out_dir=tmp_path
        )
    ids = products.id.copy()
    ids[1] = ids[0]
    with pytest.raises(ValueError, match="duplicates"):
        generate_orders(
            retailers, dataclasses.replace(products, id=ids), as_of=AS_OF, years=1, seed=1, out_dir=tmp_path
        )
    with pytest.raises(ValueError, match="years"):
        generate_orders(retailers, products, as_of=AS_OF, years=0, seed=1, out_dir=tmp_path)
