"""Fast, deterministic generator of demo order lines (订单明细), without Django.

The Django demo builder passes the retailers and products it created as numpy frames (:class:`RetailerFrame`,
:class:`ProductFrame`) and calls :func:`generate_orders`, which writes the order facts as Parquet and returns a
:class:`GenerationReport`. The whole generation is vectorized with numpy: the only Python loops run over months,
days of a month and the few planted anomalies, never over retailers or lines.

Fact-store layout (the project's contract for order facts)
-----------------------------------------------------------
::

    out_dir/
      orders/                         # removed and rebuilt on every run: no stale months survive
        month=YYYY-MM/part-0.parquet  # one file per calendar month, Hive-partitioned, zstd, written by pyarrow
      anomalies.json                  # the planted anomalies (ground truth for the anomaly detector)

Every month that overlaps the period has a file (possibly with zero rows). The period runs from ``as_of`` minus
``years`` years, aligned to the 1st of that month, to ``as_of`` inclusive. Rows are sorted by
(order_date, retailer_id, product_id); the sort order is also recorded as Parquet ``sorting_columns``.
The partition key ``month`` is not stored in the files; ``pyarrow.dataset.dataset(out_dir / "orders",
partitioning="hive")`` (or DuckDB ``read_parquet(..., hive_partitioning=true)``) adds it as a string column.

Columns (all non-null):

============  =======  ==================================================================================
order_date    date32   the retailer's order day (its route's order weekday)
order_id      int64    one per retailer order: ``YYYYMM * 10_000_000 + n`` (n = 1.. in file order), unique
retailer_id   int64    ``RetailerFrame.id``
licence       string   the retailer's 12-digit licence number (Parquet dictionary-encoded)
product_id    int64    ``ProductFrame.id``
product_code  string   ``ProductFrame.code``
demanded      int32    需求数量, cartons, >= 1
allotted      int32    合理定量, the cap: tier allotment (a_g) for scarce products, a generous cap otherwise
ordered       int32    订货数量 = min(demanded, allotted), so 0 < ordered <= allotted
supplied      int32    供货数量 <= ordered; equal to ordered except occasional shortfalls of scarce products
amount        float64  yuan = supplied * wholesale price, rounded to 2 decimals
channel       string   'online' | 'phone' | 'mobile' | 'other'; mostly the retailer's usual channel
============  =======  ==================================================================================

One order has 10..20 distinct products (about 12 on average; fewer after a planted collapse) and no product twice.

anomalies.json
--------------
A JSON list, sorted by (kind, retailer_id), of objects with the keys ``kind`` ('proxy_ordering' | 'spike' |
'collapse'), ``retailer_id``, ``licence``, ``start`` and ``end`` (ISO dates, inclusive), ``product_code`` (always
null for now: the anomalies concern whole orders), ``partner_retailer_id`` and ``partner_licence`` (the big shop
for proxy ordering, null otherwise) and ``detail`` (an English sentence with figures measured in the written data).
About 0.4% of the retailers (at least one of each kind when candidates exist); no retailer is in two anomalies.

- spike: one order (start = end = its date) with about 10x the usual quantities: typically 6x-15x the average of
  the retailer's previous three orders (natural orders rarely pass 4x) and >= 20 cartons; usually also a month
  above 200% of the previous one. Never within 5 weeks of the Spring Festival, never for a new retailer.
- collapse: from ``start`` to the end of the period the retailer orders less often, fewer products (2..6 lines)
  and smaller quantities: weekly volume falls to 3-20% of what it was.
- proxy_ordering (代订货): a small rural shop (tier <= 8) whose orders between ``start`` and ``end`` mirror a big
  shop's (tier >= 22, volume scale >= 5x): same order days and the same products (minus the scarce ones its own
  tier does not get) when they share an order weekday, the big shop's volume pattern, far above its tier and format.

How the lines are made
----------------------
Each retailer has an assortment of up to 40 products drawn once by popularity (per price class), provincial and
key-brand status, and its price profile (urban, high-tier and premium formats buy up); scarce products only for
tiers with a_g > 0. On its order weekday it orders with probability ~0.85-0.95 (lower for small rural shops; a
counter-based hash of (seed, retailer id, day) decides, so last week's decision can be recomputed and a skipped
week is partly made up next time). An order picks 10..20 products from the assortment by Gumbel top-k with
weights that follow the price-class trends; quantities scale with tier, format, market type, season (Spring
Festival peak and trough, summer dip, see :mod:`cmdesk.demo.calendar`) and the class trends (一类 ~+20%/yr,
二类 ~+10%, 三类 flat, 四类 ~-7%, 五类 ~-25%), so the price per carton rises ~10% a year. Whatever the
catalogue's prices and the tier and format mix, a few pilot months calibrate the last year to about 85 yuan per
carton and 20 cartons per open retailer-week (TARGET_PRICE_PER_CARTON, TARGET_WEEKLY_CARTONS). Scarce products are
capped by the month's a_g per tier (non-decreasing from D1 to D30), demand usually exceeds it and ~12% of those
lines are supplied short. Natural noise exists: the 250%-of-3-orders rule also fires on ordinary orders, mostly in
the weeks before the Spring Festival, and a month can exceed 200% of a month in which the retailer skipped weeks.

Determinism: the same frames, ``as_of``, ``years`` and ``seed`` give identical rows. Every random stream comes
from ``numpy.random.SeedSequence(seed, spawn_key=...)`` with PCG64: one stream per structural step (retailer
traits, product traits, assortments, anomalies, the ordering hash key) and one per calendar month, so a month's
rows do not depend on which other months are generated. Frame row order does not matter (rows are sorted by id).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import pathlib
import shutil
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from cmdesk.analytics.layout import ORDER_SCHEMA, ORDERS_DIR, order_file
from cmdesk.analytics.store import write_month_file
from cmdesk.demo import calendar as democal

FORMATS: tuple[str, ...] = ("grocery", "tobacco_liquor", "supermarket", "mall", "convenience", "entertainment", "other")
CHANNELS: tuple[str, ...] = ("online", "phone", "mobile", "other")
ANOMALY_KINDS: tuple[str, ...] = ("proxy_ordering", "spike", "collapse")

# The in-memory (write) schema: string columns as dictionary arrays, which Parquet stores dictionary-encoded.
# The Arrow schema is not stored in the files, so readers get ORDER_SCHEMA (plain strings) back.
_WRITE_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.dictionary(pa.int32(), pa.string()), nullable=False) if f.type == pa.string() else f
        for f in ORDER_SCHEMA
    ]
)
ANOMALIES_FILE = "anomalies.json"
ORDER_ID_MONTH_FACTOR = 10_000_000
_CHANNEL_DICT = pa.array(CHANNELS, type=pa.string())

# --- model parameters --------------------------------------------------------------------------------------------
# Volume: expected cartons of one order line before seasonality and trend, for a scale-1 retailer.
BASE_LINE_CARTONS = 0.93
TIER_SLOPE = 0.085  # volume scale exp(TIER_SLOPE * (tier - 12)): tier 30 buys ~4.6x tier 12, tier 1 ~0.4x
FORMAT_VOLUME = {
    "grocery": 1.0,
    "tobacco_liquor": 1.9,
    "supermarket": 1.6,
    "mall": 2.2,
    "convenience": 1.15,
    "entertainment": 0.85,
    "other": 0.8,
}
URBAN_VOLUME = (0.95, 1.10)  # rural, urban
ORDER_RATE_BASE = 0.84  # weekly ordering probability before tier, market and format adjustments
FORMAT_RATE = {
    "grocery": 0.0,
    "tobacco_liquor": 0.03,
    "supermarket": 0.03,
    "mall": 0.03,
    "convenience": 0.02,
    "entertainment": 0.0,
    "other": -0.01,
}
# Price profile: log-weight tilt per class step towards 一类 (urban, high-tier and premium formats buy up).
FORMAT_PRICE_TILT = {
    "grocery": 0.0,
    "tobacco_liquor": 0.35,
    "supermarket": 0.15,
    "mall": 0.4,
    "convenience": 0.1,
    "entertainment": 0.25,
    "other": 0.0,
}
# Share of line weight per price class (一类 .. 五类), independent of how many products each class has.
CLASS_SHARE = (0.11, 0.19, 0.28, 0.345, 0.075)
# Model growth per price class and year; with mix effects the cartons change by about +20%, +10%, 0, -7% and -25%
# a year (seed 000: 一/二 growing, 三 flat, 四 slowly falling, 五 falling fast).
CLASS_GROWTH = (0.24, 0.12, 0.0, -0.045, -0.22)
TREND_SELECTION = 0.8  # weight of the class trend in product choice (log weight)
TREND_QUANTITY = 0.8  # and in quantities
VOLUME_GROWTH = -0.02  # overall volume trend per year
REPERTOIRE = 40  # products a retailer usually buys (its assortment), the pool each order is drawn from
SELECTION_TEMPERATURE = 0.7
QUANTITY_SLOPE = 0.3  # favourite products are bought in larger quantities
MIN_LINES, MAX_LINES = 10, 20
LAUNCH_RAMP_DAYS = 56  # a new product reaches its full weight 8 weeks after launch
ORDER_NOISE_SIGMA = 0.12
LINE_NOISE_SIGMA = 0.35
USUAL_CHANNEL_SHARE = 0.95
# Scarce products (紧俏烟): tier threshold below which a_g = 0, a_g for tier 30, monthly supply factor, shortfalls.
SCARCE_TIER_MIN = (14, 25)
SCARCE_ALLOT_MAX = (2, 7)
SCARCE_SUPPLY = (0.75, 1.25)
SCARCE_SHORT_SHARE = 0.12
SCARCE_DEMAND_FACTOR = 1.2
CATCH_UP = 0.4  # share of a skipped week's volume added to the next order
# Calibration of the last year (see _calibrate): price per carton (条均价) and cartons per open retailer-week.
TARGET_PRICE_PER_CARTON = 85.0
TARGET_WEEKLY_CARTONS = 20.0
CALIBRATION_QUANTITY_SHARE = 0.5  # part of the class tilt applied to quantities (the rest to product choice)
CALIBRATION_SLOPES = (-0.5, 0.8)  # first guesses: d log(price)/d tilt, d log(volume)/d log(volume factor)
CALIBRATION_ROUNDS = 5
CALIBRATION_TOLERANCE = 0.015
# Anomalies.
ANOMALY_SHARE = 0.004
SPIKE_FACTOR, SPIKE_ADD = 10.0, 4.0
COLLAPSE_RATE, COLLAPSE_VOLUME = 0.45, 0.25
PROXY_FACTOR = (0.9, 1.3)  # proxy volume relative to the partner's habits
PROXY_MIN_SCALE_RATIO = 5.0  # the partner's volume scale is at least this multiple of the proxy's

_STREAM_RETAILERS, _STREAM_PRODUCTS, _STREAM_REPERTOIRE, _STREAM_ANOMALIES, _STREAM_ORDERING = 0, 1, 2, 3, 4
_STREAM_MONTH = 100
_NEVER = np.iinfo(np.int32).max  # a day number after every real date
_LONG_AGO = -1_000_000  # a day number before every real date, small enough for int32 differences
_CHUNK = 2048


@dataclass(frozen=True)
class RetailerFrame:
    """Retailers as aligned numpy arrays of length n (one row per retailer)."""

    id: np.ndarray  # int64 primary keys
    licence: np.ndarray  # str/object, 12-digit licence numbers
    urban: np.ndarray  # bool (城镇 True / 乡村 False)
    fmt: np.ndarray  # str codes, see FORMATS
    tier: np.ndarray  # int 1..30 (30 highest)
    channel: np.ndarray  # str codes, see CHANNELS (the retailer's usual order channel)
    order_weekday: np.ndarray  # int 0..6 (Mon=0), the route's order day
    opened: np.ndarray  # datetime64[D]; no orders before it
    closed: np.ndarray  # datetime64[D] or NaT; no orders on/after it


@dataclass(frozen=True)
class ProductFrame:
    """Products as aligned numpy arrays of length p (one row per product)."""

    id: np.ndarray  # int64
    code: np.ndarray  # str
    price_class: np.ndarray  # int 1..5 (一类..五类)
    wholesale_price: np.ndarray  # float, yuan per carton (调拨价)
    provincial: np.ndarray  # bool (省产)
    key_brand: np.ndarray  # bool
    scarce: np.ndarray  # bool (紧俏烟: capped by tier)
    launched: np.ndarray  # datetime64[D]; no orders before it


@dataclass
class GenerationReport:
    """What :func:`generate_orders` wrote: totals over all months and the planted anomalies.

    ``cartons`` is the supplied quantity (the sales), ``amount`` the sales amount in yuan.
    """

    lines: int
    orders: int
    months: list[str]
    anomalies: list[dict]
    amount: float
    cartons: int


# --- preparation ----------------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """Everything the month generator needs, precomputed once; read-only while months are generated."""

    seed: int
    order_key: int  # key of the ordering-decision hash
    class_tilt: float  # calibrated log-weight tilt per class step (see _calibrate)
    volume_factor: float  # calibrated volume multiplier
    start_day: int
    end_day: int
    # retailers, sorted by id
    n: int
    r_id: np.ndarray
    r_licence: pa.Array
    r_urban: np.ndarray
    r_fmt: np.ndarray  # index into FORMATS
    tier: np.ndarray
    channel: np.ndarray  # index into CHANNELS
    weekday: np.ndarray
    open_day: np.ndarray
    close_day: np.ndarray
    by_weekday: list[np.ndarray]
    scale: np.ndarray
    rate: np.ndarray
    lam_lines: np.ndarray
    # products, sorted by id
    p: int
    p_id: np.ndarray
    p_code: pa.Array
    p_cls: np.ndarray  # 1..5
    p_price: np.ndarray
    p_scarce: np.ndarray
    p_launch: np.ndarray
    p_tier_min: np.ndarray  # scarce: lowest tier with a_g > 0; 0 for other products
    p_allot_max: np.ndarray  # scarce: a_g of tier 30 before the monthly supply factor
    # assortments: REPERTOIRE slots per retailer, product indices ascending, padded with -1
    rep_prod: np.ndarray  # int32; padding is p (one past the last product)
    rep_logw: np.ndarray  # selection log weight (already tempered), -inf for padding
    rep_tier_min: np.ndarray
    rep_qw: np.ndarray  # relative quantity of the product in this retailer's orders
    # planted anomalies, per retailer
    spike_day: np.ndarray
    collapse_day: np.ndarray
    proxy_partner: np.ndarray
    proxy_start: np.ndarray
    proxy_end: np.ndarray
    proxy_factor: np.ndarray
    anomalies: list[dict] = field(default_factory=list)
    watch: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _stream(seed: int, *key: int) -> np.random.Generator:
    """An independent PCG64 generator for one step, derived from ``seed`` by its spawn key."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def _days(values: np.ndarray, nat: int) -> np.ndarray:
    """datetime64 values as int64 days since the epoch; NaT becomes ``nat``."""
    arr = np.asarray(values).astype("datetime64[D]")
    days = arr.astype(np.int64)
    days[np.isnat(arr)] = nat
    return days


def _codes(values: np.ndarray, allowed: tuple[str, ...], name: str) -> np.ndarray:
    """Map string codes to their index in ``allowed``; raise ValueError on an unknown code."""
    uniques, inverse = np.unique(np.asarray(values).astype(str), return_inverse=True)
    lookup = {code: i for i, code in enumerate(allowed)}
    unknown = [u for u in uniques.tolist() if u not in lookup]
    if unknown:
        raise ValueError(f"unknown {name} code(s): {unknown[:5]}")
    return np.array([lookup[u] for u in uniques.tolist()], dtype=np.int8)[inverse.ravel()]


def _check_lengths(frame: RetailerFrame | ProductFrame, name: str) -> int:
    lengths = {f: len(np.asarray(getattr(frame, f))) for f in frame.__dataclass_fields__}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{name} arrays are not aligned: {lengths}")
    return next(iter(lengths.values()))


def _prepare_retailers(frame: RetailerFrame, seed: int) -> dict:
    n = _check_lengths(frame, "RetailerFrame")
    ids = np.asarray(frame.id, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    if n and np.any(ids[1:] == ids[:-1]):
        raise ValueError("RetailerFrame.id has duplicates")
    tier = np.asarray(frame.tier, dtype=np.int64)[order]
    if n and (tier.min() < 1 or tier.max() > 30):
        raise ValueError("RetailerFrame.tier must be within 1..30")
    weekday = np.asarray(frame.order_weekday, dtype=np.int64)[order]
    if n and (weekday.min() < 0 or weekday.max() > 6):
        raise ValueError("RetailerFrame.order_weekday must be within 0..6")
    fmt = _codes(np.asarray(frame.fmt)[order], FORMATS, "format")
    channel = _codes(np.asarray(frame.channel)[order], CHANNELS, "channel")
    urban = np.asarray(frame.urban, dtype=bool)[order]
    open_day = _days(np.asarray(frame.opened)[order], -_NEVER)
    close_day = _days(np.asarray(frame.closed)[order], _NEVER)

    rng = _stream(seed, _STREAM_RETAILERS)
    fmt_volume = np.array([FORMAT_VOLUME[f] for f in FORMATS])[fmt]
    fmt_rate = np.array([FORMAT_RATE[f] for f in FORMATS])[fmt]
    fmt_tilt = np.array([FORMAT_PRICE_TILT[f] for f in FORMATS])[fmt]
    scale = (
        np.exp(TIER_SLOPE * (tier - 12))
        * fmt_volume
        * np.where(urban, URBAN_VOLUME[1], URBAN_VOLUME[0])
        * rng.lognormal(0.0, 0.25, n)
    )
    rate = np.clip(ORDER_RATE_BASE + 0.004 * tier + 0.03 * urban + fmt_rate + rng.normal(0.0, 0.02, n), 0.70, 0.98)
    lam_lines = np.clip(2.0 * np.sqrt(scale), 0.5, 6.0)
    tilt = 0.03 * (tier - 12) + 0.25 * urban - 0.09 + fmt_tilt + rng.normal(0.0, 0.12, n)
    return {
        "n": n,
        "r_id": ids,
        "r_licence": pa.array(np.asarray(frame.licence)[order].astype(str).tolist(), type=pa.string()),
        "r_urban": urban,
        "r_fmt": fmt,
        "tier": tier,
        "channel": channel,
        "weekday": weekday,
        "open_day": open_day,
        "close_day": close_day,
        "by_weekday": [np.flatnonzero(weekday == w) for w in range(7)],
        "scale": scale,
        "rate": rate,
        "lam_lines": lam_lines,
        "_tilt": tilt,
    }


def _prepare_products(frame: ProductFrame, seed: int) -> dict:
    p = _check_lengths(frame, "ProductFrame")
    ids = np.asarray(frame.id, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    if p and np.any(ids[1:] == ids[:-1]):
        raise ValueError("ProductFrame.id has duplicates")
    cls = np.asarray(frame.price_class, dtype=np.int64)[order]
    if p and (cls.min() < 1 or cls.max() > 5):
        raise ValueError("ProductFrame.price_class must be within 1..5")
    price = np.asarray(frame.wholesale_price, dtype=np.float64)[order]
    if p and not np.all(price > 0):
        raise ValueError("ProductFrame.wholesale_price must be positive")
    provincial = np.asarray(frame.provincial, dtype=bool)[order]
    key_brand = np.asarray(frame.key_brand, dtype=bool)[order]
    scarce = np.asarray(frame.scarce, dtype=bool)[order]
    launch = _days(np.asarray(frame.launched)[order], _LONG_AGO)

    rng = _stream(seed, _STREAM_PRODUCTS)
    popularity = (
        rng.lognormal(0.0, 0.9, p)
        * np.where(provincial, 2.2, 1.0)
        * np.where(key_brand, 1.5, 1.0)
        * np.where(scarce, 1.4, 1.0)
    )
    class_total = np.bincount(cls, weights=popularity, minlength=6)
    logw = np.log(popularity / class_total[cls] * np.array((0.0, *CLASS_SHARE))[cls])
    tier_min = np.where(scarce, rng.integers(SCARCE_TIER_MIN[0], SCARCE_TIER_MIN[1], p, endpoint=True), 0)
    allot_max = np.where(scarce, rng.integers(SCARCE_ALLOT_MAX[0], SCARCE_ALLOT_MAX[1], p, endpoint=True), 0)
    return {
        "p": p,
        "p_id": ids,
        "p_code": pa.array(np.asarray(frame.code)[order].astype(str).tolist(), type=pa.string()),
        "p_cls": cls,
        "p_price": price,
        "p_scarce": scarce,
        "p_launch": launch,
        "p_tier_min": tier_min,
        "p_allot_max": allot_max,
        "_logw": logw,
    }


def _build_repertoire(r: dict, p: dict, end_day: int, seed: int) -> dict:
    """Each retailer's assortment: REPERTOIRE products drawn without replacement by weight (Gumbel top-k).

    The weight combines product popularity (per price class) with the retailer's price profile. Scarce products
    whose a_g is 0 for the retailer's tier and products launched after the period are never in an assortment.
    """
    n, np_ = r["n"], p["p"]
    size = REPERTOIRE
    rep_prod = np.full((n, size), np_, dtype=np.int32)
    rep_logw = np.full((n, size), -np.inf, dtype=np.float32)
    rng = _stream(seed, _STREAM_REPERTOIRE)
    class_step = (3 - p["p_cls"]).astype(np.float64)
    never = (p["p_launch"] > end_day)[None, :]
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        weight = p["_logw"][None, :] + r["_tilt"][lo:hi, None] * class_step[None, :]
        ineligible = never | (p["p_scarce"][None, :] & (r["tier"][lo:hi, None] < p["p_tier_min"][None, :]))
        weight[ineligible] = -np.inf
        keys = weight - np.log(rng.standard_exponential((hi - lo, np_)))
        if np_ > size:
            chosen = np.argpartition(-keys, size - 1, axis=1)[:, :size]
        else:
            chosen = np.broadcast_to(np.arange(np_), (hi - lo, np_))
        chosen = np.sort(chosen, axis=1)
        chosen_w = np.take_along_axis(weight, chosen, axis=1)
        valid = np.isfinite(chosen_w)
        width = chosen.shape[1]
        rep_prod[lo:hi, :width] = np.where(valid, chosen, np_)
        rep_logw[lo:hi, :width] = np.where(valid, chosen_w, -np.inf)
    valid = rep_prod < np_
    finite_w = np.where(valid, rep_logw, 0.0)
    count = np.maximum(valid.sum(axis=1, keepdims=True), 1)
    centred = np.where(valid, rep_logw - finite_w.sum(axis=1, keepdims=True) / count, 0.0)
    qw = np.clip(np.exp(QUANTITY_SLOPE * centred), 0.3, 3.0)
    return {
        "rep_prod": rep_prod,
        "rep_logw": (rep_logw * SELECTION_TEMPERATURE).astype(np.float32),
        "rep_tier_min": np.append(p["p_tier_min"], 0)[rep_prod].astype(np.int8),
        "rep_qw": qw.astype(np.float32),
    }


def _snap(day: int, weekday: int, last: int) -> int:
    """The first day on or after ``day`` that falls on ``weekday``, moved back a week if it passes ``last``."""
    day += (weekday - int(democal.weekday(np.array([day]))[0])) % 7
    return day - 7 if day > last else day


def _plant_anomalies(plan: _Plan, seed: int) -> None:
    """Choose the anomaly retailers and their dates; fill the per-retailer anomaly arrays of ``plan``."""
    n, start, end = plan.n, plan.start_day, plan.end_day
    span = end - start
    rng = _stream(seed, _STREAM_ANOMALIES)
    total = max(3, round(ANOMALY_SHARE * n))
    n_spike = max(1, round(total * 0.4))
    n_collapse = max(1, round(total * 0.3))
    n_proxy = max(1, total - n_spike - n_collapse)
    settled = (plan.open_day <= start - 91) & (plan.close_day > end)
    used = np.zeros(n, dtype=bool)
    fmt_names = np.array(FORMATS)

    def pick(candidates: np.ndarray, count: int) -> np.ndarray:
        pool = np.flatnonzero(candidates & ~used)
        chosen = np.sort(rng.choice(pool, size=min(count, len(pool)), replace=False)) if len(pool) else pool
        used[chosen] = True
        return chosen

    if span >= 120:
        for ri in pick(settled & (plan.tier >= 6), n_spike):
            for _ in range(50):
                day = _snap(int(rng.integers(start + 70, end - 6, endpoint=True)), int(plan.weekday[ri]), end)
                if not democal.festival_window(day, 35, 35):
                    plan.spike_day[ri] = day
                    plan.anomalies.append({"kind": "spike", "ri": ri, "start": day, "end": day})
                    break
        for ri in pick(settled & (plan.tier >= 8), n_collapse):
            day = int(rng.integers(start + int(0.35 * span), start + int(0.7 * span), endpoint=True))
            day = _snap(day, int(plan.weekday[ri]), end)
            plan.collapse_day[ri] = day
            plan.anomalies.append({"kind": "collapse", "ri": ri, "start": day, "end": end})
        small = settled & ~plan.r_urban & np.isin(fmt_names[plan.r_fmt], ("grocery", "other")) & (plan.tier <= 8)
        big_fmt = np.isin(fmt_names[plan.r_fmt], ("tobacco_liquor", "supermarket", "mall", "convenience"))
        big = settled & big_fmt & (plan.tier >= 22)
        proxies = pick(small, n_proxy)
        for i, ri in enumerate(proxies):
            pool = np.flatnonzero(big & ~used)
            if not len(pool):
                used[proxies[i:]] = False
                break
            # A partner that buys far more than the proxy, on the same order day if possible.
            far = pool[plan.scale[pool] >= PROXY_MIN_SCALE_RATIO * plan.scale[ri]]
            pool = far if len(far) else pool[np.argsort(-plan.scale[pool], kind="stable")[:3]]
            same_day = pool[plan.weekday[pool] == plan.weekday[ri]]
            partner = int(rng.choice(same_day if len(same_day) else pool))
            used[partner] = True
            first = _snap(
                int(rng.integers(start + int(0.2 * span), start + int(0.55 * span), endpoint=True)),
                int(plan.weekday[ri]),
                end,
            )
            last = end if rng.random() < 0.5 else min(end, first + int(rng.integers(120, 300, endpoint=True)))
            plan.proxy_partner[ri] = partner
            plan.proxy_start[ri] = first
            plan.proxy_end[ri] = last
            plan.proxy_factor[ri] = rng.uniform(*PROXY_FACTOR)
            plan.anomalies.append({"kind": "proxy_ordering", "ri": ri, "start": first, "end": last, "partner": partner})
    plan.watch = used


def _prepare(retailers: RetailerFrame, products: ProductFrame, start_day: int, end_day: int, seed: int) -> _Plan:
    r = _prepare_retailers(retailers, seed)
    p = _prepare_products(products, seed)
    rep = _build_repertoire(r, p, end_day, seed)
    n = r["n"]
    public = {k: v for k, v in {**r, **p, **rep}.items() if not k.startswith("_")}
    plan = _Plan(
        seed=seed,
        class_tilt=0.0,
        volume_factor=1.0,
        order_key=int(np.random.SeedSequence(seed, spawn_key=(_STREAM_ORDERING,)).generate_state(1, np.uint64)[0]),
        start_day=start_day,
        end_day=end_day,
        spike_day=np.full(n, -1, dtype=np.int64),
        collapse_day=np.full(n, _NEVER, dtype=np.int64),
        proxy_partner=np.full(n, -1, dtype=np.int64),
        proxy_start=np.full(n, _NEVER, dtype=np.int64),
        proxy_end=np.full(n, -1, dtype=np.int64),
        proxy_factor=np.ones(n, dtype=np.float64),
        **public,
    )
    _plant_anomalies(plan, seed)
    return plan


# --- one month ------------------------------------------------------------------------------------------------------


@dataclass
class _MonthResult:
    label: str
    lines: int
    orders: int
    amount: float
    cartons: int
    open_weeks: int  # retailer order days on which the retailer was open (= retailer-weeks)
    retailer_cartons: np.ndarray  # ordered cartons per retailer in the month
    watch: dict[str, np.ndarray]  # order lines of the anomaly retailers and partners: r, day, prod, ordered


def _lookup(sorted_keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``wanted`` in ``sorted_keys`` and whether each was found."""
    pos = np.searchsorted(sorted_keys, wanted)
    pos = np.minimum(pos, max(len(sorted_keys) - 1, 0))
    found = (sorted_keys[pos] == wanted) if len(sorted_keys) else np.zeros(len(wanted), dtype=bool)
    return pos, found


def _class_trends(plan: _Plan, mid_day: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Selection log-weight offset and quantity factor per price class (index 0 unused), and the volume trend.

    Trends are relative to the middle of the last year of the period, so that year looks like the calibration.
    """
    years = (mid_day - (plan.end_day - 182)) / 365.25
    growth = np.log1p(np.array((0.0, *CLASS_GROWTH)))
    bias = plan.class_tilt * (np.arange(6) - 3.0)  # calibration: > 0 favours the cheaper classes
    bias[0] = 0.0
    selection = (TREND_SELECTION * growth * years + bias).astype(np.float32)
    quantity = np.exp(TREND_QUANTITY * growth * years + CALIBRATION_QUANTITY_SHARE * bias)
    return selection, quantity, float((1.0 + VOLUME_GROWTH) ** years)


def _scarce_allotment(plan: _Plan, rng: np.random.Generator) -> np.ndarray:
    """This month's a_g per (product, tier): 0 below the product's tier threshold, non-decreasing with tier."""
    supply = rng.uniform(*SCARCE_SUPPLY, plan.p)
    tiers = np.arange(31)[None, :]
    tier_min = plan.p_tier_min[:, None]
    reach = np.clip((tiers - tier_min + 1) / np.maximum(31 - tier_min, 1), 0.0, 1.0) ** 0.8
    allot = np.maximum(1, np.floor(plan.p_allot_max[:, None] * supply[:, None] * reach + 0.5)).astype(np.int32)
    allot[(tiers < tier_min) | ~plan.p_scarce[:, None]] = 0
    return allot


def _write_month(table: pa.Table, out_dir: pathlib.Path, label: str) -> None:
    """Write one month's lines to ``out_dir/orders/month=YYYY-MM/part-0.parquet``."""
    write_month_file(table, order_file(out_dir, label))


def _hash_uniform(key: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) numbers from a counter-based hash (splitmix64 finaliser) of ``key`` and the pairs (a, b)."""
    x = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    x ^= b.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(key)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _top_k(keys: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Boolean mask of the ``k[i]`` largest finite keys of each row i (exactly k[i], whatever the ties)."""
    rows, size = keys.shape
    threshold = np.sort(keys, axis=1)[np.arange(rows), np.minimum(size - k, size - 1)]
    threshold[k == 0] = np.inf
    chosen = keys >= threshold[:, None]
    tied = np.flatnonzero(chosen.sum(axis=1) != k)
    if len(tied):  # rare: equal float32 keys at the threshold; rank those rows exactly
        mask = np.zeros((len(tied), size), dtype=bool)
        ranked = np.argsort(keys[tied], axis=1, kind="stable")
        np.put_along_axis(mask, ranked, np.arange(size)[None, :] >= (size - k[tied])[:, None], axis=1)
        chosen[tied] = mask
    return chosen


def _order_decisions(
    plan: _Plan, r: np.ndarray, day: np.ndarray, rate_factor: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Whether retailers ``r`` order on ``day`` (their order weekday), and which planted anomalies apply.

    The decision is a hash of (seed, retailer id, day), so it can be recomputed for any day, e.g. last week's,
    without state carried between months. A proxy shop uses its partner's id, rate and hash inside its proxy
    period, so it orders exactly when the partner does if they share an order weekday.
    Returns ``(take, eff, proxy, collapsed)``; ``eff`` is the retailer whose assortment and habits drive the order.
    """
    partner = plan.proxy_partner[r]
    proxy = (partner >= 0) & (plan.proxy_start[r] <= day) & (day <= plan.proxy_end[r])
    eff = np.where(proxy, partner, r)
    collapsed = day >= plan.collapse_day[r]
    prob = plan.rate[eff] * rate_factor
    prob[collapsed] *= COLLAPSE_RATE
    take = _hash_uniform(plan.order_key, plan.r_id[eff], day) < prob
    take |= day == plan.spike_day[r]
    return take, eff, proxy, collapsed


def _generate_month(plan: _Plan, first: dt.date) -> tuple[pa.Table, _MonthResult]:
    """Generate the order lines of one calendar month: the table to write and its summary."""
    label = first.strftime("%Y-%m")
    rng = _stream(plan.seed, _STREAM_MONTH, first.year, first.month)
    n, size = plan.n, REPERTOIRE
    d0 = max(democal.to_day(first), plan.start_day)
    d1 = min(democal.to_day(democal.month_end(first)), plan.end_day)
    days = np.arange(d0, d1 + 1, dtype=np.int64)
    volume_f, rate_f = democal.seasonal_factors(days)
    sel_trend, qty_trend, vol_trend = _class_trends(plan, (d0 + d1) // 2)
    allot_table = _scarce_allotment(plan, rng)

    # Candidate orders: every open retailer on each day that is its order weekday; sorted by (day, retailer).
    parts = [plan.by_weekday[w] for w in democal.weekday(days)]
    cand_r = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    cand_di = np.repeat(np.arange(len(days)), [len(x) for x in parts])
    cand_d = days[cand_di]
    is_open = (plan.open_day[cand_r] <= cand_d) & (cand_d < plan.close_day[cand_r])
    cand_r, cand_di, cand_d = cand_r[is_open], cand_di[is_open], cand_d[is_open]

    take, eff, proxy, collapsed = _order_decisions(plan, cand_r, cand_d, rate_f[cand_di])
    # A retailer that skipped last week's order makes up part of it now (same decision rule, a week earlier).
    prev_d = cand_d - 7
    prev_rate = democal.seasonal_factors(days - 7)[1][cand_di]
    prev_open = (plan.open_day[cand_r] <= prev_d) & (prev_d < plan.close_day[cand_r])
    catch_up = prev_open & ~_order_decisions(plan, cand_r, prev_d, prev_rate)[0]

    sel = np.flatnonzero(take)
    o_r, o_di, o_d, o_eff, o_proxy, o_collapse, o_catch_up = (
        cand_r[sel],
        cand_di[sel],
        cand_d[sel],
        eff[sel],
        proxy[sel],
        collapsed[sel],
        catch_up[sel],
    )
    n_o = len(sel)
    lines_wanted = MIN_LINES + np.minimum(rng.poisson(plan.lam_lines[o_eff]), MAX_LINES - MIN_LINES)
    n_col = int(o_collapse.sum())
    lines_wanted[o_collapse] = 2 + np.minimum(rng.poisson(2.0, n_col), 4)

    # Product choice: Gumbel top-k over the assortment, with weights that depend on the day: class trend and
    # launch ramp per (day, product) from a small table, -inf before launch and for assortment padding.
    age = days[:, None] - plan.p_launch[None, :]
    offset = np.full((len(days), plan.p + 1), -np.inf, dtype=np.float32)
    ramp = 0.25 + 0.75 * np.clip(age, 0, LAUNCH_RAMP_DAYS) / LAUNCH_RAMP_DAYS
    offset[:, : plan.p] = np.where(age >= 0, sel_trend[plan.p_cls][None, :] + np.log(ramp), -np.inf)
    slots = plan.rep_prod[o_eff]
    keys = plan.rep_logw[o_eff]
    keys += offset.ravel()[o_di[:, None] * (plan.p + 1) + slots]
    gumbel = rng.standard_exponential((n_o, size), dtype=np.float32)
    np.maximum(gumbel, np.float32(1e-30), out=gumbel)
    keys -= np.log(gumbel, out=gumbel)
    del gumbel
    mirror = src = np.zeros(0, dtype=np.int64)
    if o_proxy.any():  # same keys as the partner's order that day, without the scarce products the tier excludes
        idx = np.flatnonzero(o_proxy)
        pos, found = _lookup(o_d * n + o_r, o_d[idx] * n + plan.proxy_partner[o_r[idx]])
        mirror, src = idx[found], pos[found]
        keys[mirror] = keys[src]
        lines_wanted[mirror] = lines_wanted[src]
        too_scarce = plan.rep_tier_min[o_eff[idx]] > plan.tier[o_r[idx]][:, None]
        keys[idx] = np.where(too_scarce, -np.inf, keys[idx])
    k = np.minimum(lines_wanted, np.isfinite(keys).sum(axis=1))
    chosen = _top_k(keys, k)
    del keys
    chosen[mirror] &= chosen[src]  # a mirrored order has exactly the partner's products it may get
    keep = chosen.any(axis=1)
    if not keep.all():
        chosen, slots = chosen[keep], slots[keep]
        o_r, o_di, o_d, o_eff, o_proxy, o_collapse, o_catch_up = (
            a[keep] for a in (o_r, o_di, o_d, o_eff, o_proxy, o_collapse, o_catch_up)
        )
        n_o = len(o_r)
    o_idx, slot = np.nonzero(chosen)
    del chosen

    # Quantities.
    flat = o_eff[o_idx].astype(np.int64) * size + slot
    prod = slots[o_idx, slot].astype(np.int64)
    del slots
    cls = plan.p_cls[prod]
    scarce = plan.p_scarce[prod]
    # Seasonal lows scale the expected quantity; seasonal highs scale the drawn quantity (below), so that the
    # one-carton floor of small lines does not damp the Spring Festival peak.
    season = volume_f[o_di]
    order_mu = BASE_LINE_CARTONS * plan.volume_factor * vol_trend * plan.scale[o_eff] * np.minimum(season, 1.0)
    order_mu[o_proxy] *= plan.proxy_factor[o_r[o_proxy]]
    order_mu[o_collapse] *= COLLAPSE_VOLUME
    order_mu[o_catch_up] *= 1.0 + CATCH_UP
    mu_exp = order_mu[o_idx] * plan.rep_qw.ravel()[flat] * qty_trend[cls]
    spike = (o_d == plan.spike_day[o_r])[o_idx]
    mu_exp[spike] = mu_exp[spike] * SPIKE_FACTOR + SPIKE_ADD
    order_noise = rng.lognormal(0.0, ORDER_NOISE_SIGMA, n_o)
    line_noise = rng.standard_normal(len(o_idx), dtype=np.float32)
    line_noise = np.exp(LINE_NOISE_SIGMA * line_noise - LINE_NOISE_SIGMA**2 / 2)  # lognormal, mean 1
    mu = mu_exp * order_noise[o_idx] * line_noise
    mu[scarce] = mu[scarce] * SCARCE_DEMAND_FACTOR + 1.0
    demanded = np.ones(len(o_idx), dtype=np.int32)
    extra = np.flatnonzero(mu > 1.0)
    demanded[extra] += rng.poisson(mu[extra] - 1.0).astype(np.int32)
    boost = np.maximum(season, 1.0)[o_idx]
    up = np.flatnonzero(boost > 1.0)
    demanded[up] += rng.poisson((boost[up] - 1.0) * demanded[up]).astype(np.int32)
    line_r = o_r[o_idx]
    cap = 5 * np.ceil((3.0 * mu_exp * boost + 3.0) / 5.0)
    allotted = np.where(scarce, allot_table[prod, plan.tier[line_r]], cap).astype(np.int32)
    ordered = np.minimum(demanded, allotted).astype(np.int32)
    supplied = ordered.copy()
    scarce_idx = np.flatnonzero(scarce)
    short = scarce_idx[rng.random(len(scarce_idx)) < SCARCE_SHORT_SHARE]
    supplied[short] = np.floor(ordered[short] * rng.uniform(0.3, 0.95, len(short))).astype(np.int32)
    amount = np.round(supplied * plan.p_price[prod], 2)

    channel = plan.channel[o_r].astype(np.int64)
    other = np.flatnonzero(rng.random(n_o) >= USUAL_CHANNEL_SHARE)
    channel[other] = (channel[other] + 1 + rng.integers(0, len(CHANNELS) - 1, len(other))) % len(CHANNELS)
    order_id = (first.year * 100 + first.month) * ORDER_ID_MONTH_FACTOR + np.arange(1, n_o + 1, dtype=np.int64)
    if n_o >= ORDER_ID_MONTH_FACTOR:
        raise OverflowError("too many orders in one month for the order_id scheme")

    table = pa.Table.from_arrays(
        [
            pa.array(o_d[o_idx].astype(np.int32)).view(pa.date32()),
            pa.array(order_id[o_idx]),
            pa.array(plan.r_id[line_r]),
            pa.DictionaryArray.from_arrays(pa.array(line_r.astype(np.int32)), plan.r_licence, safe=False),
            pa.array(plan.p_id[prod]),
            pa.DictionaryArray.from_arrays(pa.array(prod.astype(np.int32)), plan.p_code, safe=False),
            pa.array(demanded),
            pa.array(allotted),
            pa.array(ordered),
            pa.array(supplied),
            pa.array(amount),
            pa.DictionaryArray.from_arrays(pa.array(channel[o_idx].astype(np.int32)), _CHANNEL_DICT, safe=False),
        ],
        schema=_WRITE_SCHEMA,
    )
    watched = plan.watch[line_r]
    return table, _MonthResult(
        label=label,
        lines=len(o_idx),
        orders=n_o,
        amount=float(amount.sum()),
        cartons=int(supplied.sum(dtype=np.int64)),
        open_weeks=len(cand_r),
        retailer_cartons=np.bincount(line_r, weights=ordered, minlength=n),
        watch={
            "r": line_r[watched],
            "day": o_d[o_idx][watched],
            "prod": prod[watched],
            "ordered": ordered[watched].astype(np.int64),
        },
    )


# --- calibration ----------------------------------------------------------------------------------------------------


def _calibrate(plan: _Plan, firsts: list[dt.date]) -> None:
    """Tune ``plan.class_tilt`` and ``plan.volume_factor`` so that the last year lands on the targets.

    The price per carton depends on the catalogue's prices and the volume on the tier and format mix, both inputs;
    so a few pilot runs of three months of the last year (the real month generator, nothing written) measure the
    price per carton and the cartons per open retailer-week, and a secant step per quantity moves the class tilt
    and the volume factor towards TARGET_PRICE_PER_CARTON and TARGET_WEEKLY_CARTONS. Deterministic like the rest.
    """
    pilot = firsts[-12:][::4]
    x = np.array([plan.class_tilt, math.log(plan.volume_factor)])
    slope = np.array(CALIBRATION_SLOPES)
    target = np.log([TARGET_PRICE_PER_CARTON, TARGET_WEEKLY_CARTONS])
    last: tuple[np.ndarray, np.ndarray] | None = None
    for _ in range(CALIBRATION_ROUNDS):
        results = [_generate_month(plan, first)[1] for first in pilot]
        cartons = sum(r.cartons for r in results)
        weeks = sum(r.open_weeks for r in results)
        if cartons == 0 or weeks == 0:
            return
        y = np.log([sum(r.amount for r in results) / cartons, cartons / weeks])
        if np.all(np.abs(y - target) < CALIBRATION_TOLERANCE):
            return
        if last is not None:
            dx, dy = x - last[0], y - last[1]
            ok = (np.abs(dx) > 1e-6) & (dy / np.where(np.abs(dx) > 1e-6, dx, 1.0) * slope > 0)
            slope = np.where(ok, dy / np.where(ok, dx, 1.0), slope)
        last = (x.copy(), y)
        x = x + np.clip((target - y) / slope, -1.0, 1.0)
        x[0] = float(np.clip(x[0], -2.0, 2.0))
        plan.class_tilt, plan.volume_factor = float(x[0]), float(math.exp(x[1]))


# --- anomaly descriptions -------------------------------------------------------------------------------------------


def _iso(day: int) -> str:
    return democal.from_day(day).isoformat()


def _describe_anomalies(plan: _Plan, results: list[_MonthResult], first_days: list[int]) -> list[dict]:
    """The anomaly records for anomalies.json, with figures measured in the generated lines."""
    if not plan.anomalies:
        return []
    w = {key: np.concatenate([res.watch[key] for res in results]) for key in ("r", "day", "prod", "ordered")}
    monthly = np.stack([res.retailer_cartons for res in results], axis=1)  # (n, months)
    active_days = np.clip(
        np.minimum(plan.close_day, plan.end_day + 1) - np.maximum(plan.open_day, plan.start_day), 0, None
    )
    weekly = monthly.sum(axis=1) / np.maximum(active_days / 7.0, 1e-9)
    month_index = np.searchsorted(np.array(first_days), w["day"], side="right") - 1

    def volume(ri: int, lo: int, hi: int) -> float:
        """Average ordered cartons a week of retailer ``ri`` over days lo..hi (inclusive)."""
        sel = (w["r"] == ri) & (w["day"] >= lo) & (w["day"] <= hi)
        return float(w["ordered"][sel].sum()) / max((hi - lo + 1) / 7.0, 1e-9)

    records = []
    for a in plan.anomalies:
        ri = a["ri"]
        rec = {
            "kind": a["kind"],
            "retailer_id": int(plan.r_id[ri]),
            "licence": plan.r_licence[ri].as_py(),
            "start": _iso(a["start"]),
            "end": _iso(a["end"]),
            "product_code": None,
            "partner_retailer_id": None,
            "partner_licence": None,
        }
        mine = w["r"] == ri
        if not np.any(mine & (w["day"] >= a["start"]) & (w["day"] <= a["end"])):
            continue  # nothing was ordered in the window (e.g. no products on sale): not in the data, not listed
        if a["kind"] == "spike":
            days, totals = np.unique(w["day"][mine], return_inverse=True)
            totals = np.bincount(totals, weights=w["ordered"][mine])
            at = int(np.searchsorted(days, a["start"]))
            prev = totals[max(0, at - 3) : at]
            avg = float(prev.mean()) if len(prev) else float("nan")
            months = np.bincount(month_index[mine], weights=w["ordered"][mine], minlength=len(results))
            m = int(month_index[mine][w["day"][mine] == a["start"]][0])
            prev_month = f"{months[m - 1]:.0f}" if m > 0 else "n/a"
            ratio = totals[at] / avg if avg > 0 else float("inf")
            rec["detail"] = (
                f"Single order of {totals[at]:.0f} cartons on {rec['start']}, {ratio:.1f}x the average of "
                f"its previous 3 orders ({avg:.1f} cartons); that month {months[m]:.0f} cartons against "
                f"{prev_month} the month before."
            )
        elif a["kind"] == "collapse":
            before = volume(ri, max(plan.start_day, a["start"] - 182), a["start"] - 1)
            after = volume(ri, a["start"], plan.end_day)
            rec["detail"] = (
                f"Weekly volume fell from {before:.1f} cartons (26 weeks before) to {after:.1f} from {rec['start']} "
                f"to the end of the period ({100 * after / max(before, 1e-9):.0f}%): fewer orders, fewer products, "
                f"smaller quantities."
            )
        else:
            partner = a["partner"]
            rec["partner_retailer_id"] = int(plan.r_id[partner])
            rec["partner_licence"] = plan.r_licence[partner].as_py()
            during = volume(ri, a["start"], a["end"])
            before = volume(ri, max(plan.start_day, a["start"] - 182), a["start"] - 1)
            peers = (
                (plan.r_fmt == plan.r_fmt[ri])
                & (plan.r_urban == plan.r_urban[ri])
                & (np.abs(plan.tier - plan.tier[ri]) <= 2)
                & ~plan.watch
                & (active_days > 0)
            )
            peer = float(np.median(weekly[peers])) if peers.any() else float("nan")
            in_period = mine & (w["day"] >= a["start"]) & (w["day"] <= a["end"])
            theirs = w["r"] == partner
            pair_keys = w["day"][theirs] * plan.p + w["prod"][theirs]
            mirrored = np.isin(w["day"][in_period] * plan.p + w["prod"][in_period], pair_keys)
            share = 100.0 * mirrored.mean() if in_period.any() else 0.0
            rec["detail"] = (
                f"Rural {FORMATS[plan.r_fmt[ri]]} shop (tier {plan.tier[ri]}) ordered {during:.1f} cartons a week from "
                f"{rec['start']} to {rec['end']}, against {before:.1f} before and a peer median of {peer:.1f}; "
                f"its orders mirror retailer {rec['partner_retailer_id']} ({FORMATS[plan.r_fmt[partner]]}, "
                f"tier {plan.tier[partner]}): {share:.0f}% of its lines are products that shop ordered the same day."
            )
        records.append(rec)
    records.sort(key=lambda rec: (rec["kind"], rec["retailer_id"]))
    return records


# --- entry point ----------------------------------------------------------------------------------------------------


def generate_orders(
    retailers: RetailerFrame,
    products: ProductFrame,
    *,
    as_of: dt.date,
    years: int,
    seed: int,
    out_dir: pathlib.Path,
    progress: Callable[[int, int, str], None] | None = None,
) -> GenerationReport:
    """Generate weekly order lines for ``years`` years ending at ``as_of`` and write them under ``out_dir``.

    Writes ``out_dir/orders/month=YYYY-MM/part-0.parquet`` for every month of the period (an existing
    ``out_dir/orders`` tree is removed first) and ``out_dir/anomalies.json``; see the module docstring for the
    layout, the columns and the anomaly records. ``progress(done, total, "YYYY-MM")`` is called after each month
    is written, in calendar order. A few pilot months (nothing written) first calibrate the price mix and the
    volume; then months are generated one after the other while a writer thread writes the previous one, so at
    most two months are in memory. Raises ValueError for inconsistent frames (lengths, duplicate ids, codes).
    """
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    if years < 1:
        raise ValueError("years must be at least 1")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    out_dir = pathlib.Path(out_dir)
    start = democal.period_start(as_of, years)
    start_day, end_day = democal.to_day(start), democal.to_day(as_of)
    plan = _prepare(retailers, products, start_day, end_day, int(seed))
    firsts = democal.month_starts(start, as_of)
    _calibrate(plan, firsts)

    orders_dir = out_dir / ORDERS_DIR
    if orders_dir.exists():
        shutil.rmtree(orders_dir)
    orders_dir.mkdir(parents=True)

    results: list[_MonthResult] = []
    pending: deque[tuple[Future, _MonthResult]] = deque()

    def finish_one() -> None:
        future, result = pending.popleft()
        future.result()
        results.append(result)
        if progress is not None:
            progress(len(results), len(firsts), result.label)

    # Months are generated in order; a writer thread compresses and writes the previous month meanwhile.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="orders-writer") as writer:
        for first in firsts:
            table, result = _generate_month(plan, first)
            pending.append((writer.submit(_write_month, table, out_dir, result.label), result))
            del table
            while len(pending) > 1:
                finish_one()
        while pending:
            finish_one()

    anomalies = _describe_anomalies(plan, results, [democal.to_day(f) for f in firsts])
    (out_dir / ANOMALIES_FILE).write_text(json.dumps(anomalies, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return GenerationReport(
        lines=sum(res.lines for res in results),
        orders=sum(res.orders for res in results),
        months=[res.label for res in results],
        anomalies=anomalies,
        amount=round(math.fsum(res.amount for res in results), 2),
        cartons=sum(res.cartons for res in results),
    )
