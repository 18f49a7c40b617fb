"""The year in seed 000: one customer manager's two years of orders whose annual figures are the seed's.

Seed 000 (a CM's annual summary, /work/shared/seeds/000_*.txt; DOMAIN.md "One CM's year") reports::

    231 retailers, 141 order online (61.1%). Sales 977.87 cases, 30.26 fewer than last year (−3.00%).
    Provincial brands 850.13 cases (+10.18%). 条均价 85.66 yuan against 73.93 (+15.865%). By price class:
    一类 75.47 cases (+49.18%), 二类 236.39 (+21.35%), 三类 211.98 (−1.95%), 四类 392.78 (−7.49%),
    五类 61.22 (−49.782%).

:func:`build_seed000` writes a data directory (:mod:`cmdesk.analytics.layout`) for one CM (cm_id 1) with one route
of 231 retailers and two calendar years of weekly orders, such that the KPI engine's annual figures round to exactly
those numbers. No Django.

How the integers are chosen (:func:`choose_cartons`, an exact search with :class:`fractions.Fraction`): for every
figure the candidates are the integer carton counts whose figure rounds to the seed's, and among them the one
furthest from a rounding boundary wins. The seed's five class figures sum to 977.84 cases; with whole cartons the
five classes reach at most 244,464 cartons = 977.856 cases, which rounds to 977.86, so the seed's 977.87 needs a few
cartons outside the five price classes. They are modelled as what a real CM's ledger has there: a cigar (雪茄),
which the cigarette price bands do not classify (``class_rank`` null, reported as "unclassified"); last year too.

The average price: product prices are fixed (one wholesale price per product, amounts = supplied × price), so the
条均价 of each year is set by the product mix inside each class. A one-parameter tilt of each year's mix towards the
dearer or cheaper products of every class cell is solved for the year's amount, rounded to whole cartons and then
tuned carton by carton to within a few yuan. This year's amount is 85.66 yuan × cartons (to the fen); last year's
is set so that the price growth is 15.86525%: the seed prints 15.865% (3 decimals), a 2-decimal report 15.87%.

Then the per-product yearly totals are spread over retailers, weeks and order lines with exact sums: each retailer
orders on the route's weekday (Tuesday) in most weeks, an order holds about 10-15 products drawn from the retailer's
own affinities, and a product's yearly cartons are split over its lines by largest remainder (at least 1 per line).
Everything is deterministic for a given ``seed``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cmdesk.analytics.layout import (
    CARTONS_PER_CASE,
    ORDER_SCHEMA,
    PRODUCT_DIM_SCHEMA,
    RETAILER_DIM_SCHEMA,
    dim_file,
    order_file,
)

# --- the seed's figures, as printed ------------------------------------------------------------------------------
SEED_RETAILERS = 231
SEED_ONLINE = 141
SEED_CASES = "977.87"
SEED_CHANGE = "-30.26"  # cases, this year − last year
SEED_YOY = "-3.00"  # percent
SEED_PROV_CASES = "850.13"
SEED_PROV_YOY = "10.18"
SEED_PRICE = "85.66"
SEED_PRICE_LY = "73.93"
SEED_PRICE_YOY = ("15.865", "15.87")  # the seed's 3 decimals and a 2-decimal report: both must hold
# rank: (name, cases, YoY percent as printed — 五类 with 3 decimals)
SEED_CLASSES = {
    1: ("一类", "75.47", "49.18"),
    2: ("二类", "236.39", "21.35"),
    3: ("三类", "211.98", "-1.95"),
    4: ("四类", "392.78", "-7.49"),
    5: ("五类", "61.22", "-49.782"),
}

CM_ID = 1
ROUTE_ID = 1
ROUTE_WEEKDAY = 1  # Tuesday

# The catalogue: (code, name, brand, class rank or None, provincial, wholesale yuan per carton, base weight in its
# cell, key brand, scarce). Prices sit inside the default bands 一类 ≥ 100, 二类 70-100, 三类 30-70, 四类 16.5-30,
# 五类 < 16.5. The last one is a cigar: cigars are not cigarettes and fall in no price class (class_rank null).
CATALOGUE: list[tuple[str, str, str, int | None, bool, str, float, bool, bool]] = [
    ("6901000000011", "湘岳(典藏)", "湘岳", 1, True, "850.00", 1.0, True, True),
    ("6901000000028", "湘岳(硬精品)", "湘岳", 1, True, "420.00", 1.5, True, False),
    ("6901000000035", "白鹭(细支金)", "白鹭", 1, True, "236.00", 1.5, True, False),
    ("6901000000042", "芙岭(硬红)", "芙岭", 1, True, "128.00", 2.0, False, False),
    ("6901000000059", "黄鹤岭(典藏)", "黄鹤岭", 1, False, "780.00", 1.0, False, True),
    ("6901000000066", "北国(软)", "北国", 1, False, "560.00", 1.0, False, False),
    ("6901000000073", "钱塘(细支)", "钱塘", 1, False, "190.00", 1.5, False, False),
    ("6901000000080", "金洞庭(蓝)", "金洞庭", 2, True, "96.50", 1.5, True, False),
    ("6901000000097", "白鹭(红)", "白鹭", 2, True, "84.80", 2.0, False, False),
    ("6901000000103", "芙岭(软蓝)", "芙岭", 2, True, "74.20", 1.5, False, False),
    ("6901000000110", "云峰(硬)", "云峰", 2, False, "91.00", 1.0, False, False),
    ("6901000000127", "南海(金)", "南海", 2, False, "78.50", 1.0, False, False),
    ("6901000000134", "湘岳(新版)", "湘岳", 3, True, "66.80", 1.5, True, False),
    ("6901000000141", "金洞庭(红)", "金洞庭", 3, True, "52.50", 2.0, False, False),
    ("6901000000158", "白鹭(中支)", "白鹭", 3, True, "41.30", 1.5, False, False),
    ("6901000000165", "红杉(软)", "红杉", 3, False, "61.00", 1.0, False, False),
    ("6901000000172", "泰岳(硬)", "泰岳", 3, False, "35.60", 1.0, False, False),
    ("6901000000189", "芙岭(红)", "芙岭", 4, True, "28.60", 1.5, False, False),
    ("6901000000196", "金洞庭(硬)", "金洞庭", 4, True, "24.40", 2.0, False, False),
    ("6901000000202", "白鹭(蓝)", "白鹭", 4, True, "19.80", 1.5, False, False),
    ("6901000000219", "黄山松(红)", "黄山松", 4, False, "26.50", 1.0, False, False),
    ("6901000000226", "长城岭(软)", "长城岭", 4, False, "17.90", 1.0, False, False),
    ("6901000000233", "湘岳(简装)", "湘岳", 5, True, "15.90", 1.5, False, False),
    ("6901000000240", "金洞庭(绿)", "金洞庭", 5, True, "12.60", 1.5, False, False),
    ("6901000000257", "贵州台(红)", "贵州台", 5, False, "14.20", 1.0, False, False),
    ("6901000000264", "北国(白)", "北国", 5, False, "9.80", 1.0, False, False),
    ("6901000000271", "长城岭(雪茄·迷你)", "长城岭", None, False, "150.00", 1.0, False, False),
]

# Non-provincial weight per class (share of the class's cartons before scaling), this year and last: provincial
# brands gained share (the seed: provincial +10.18% while the total fell 3%).
NONPROV_WEIGHT = {
    "this": {1: 0.30, 2: 0.14, 3: 0.13, 4: 0.09, 5: 0.15},
    "last": {1: 0.40, 2: 0.25, 3: 0.22, 4: 0.22, 5: 0.30},
}
# mean cartons per order line by class (cheap cigarettes are bought in larger quantities)
CARTONS_PER_LINE = {1: 1.2, 2: 1.5, 3: 1.7, 4: 2.2, 5: 1.9, None: 1.0}
MONTH_SEASON = {1: 1.35, 2: 1.10, 3: 0.85, 4: 0.95, 5: 0.95, 6: 0.90, 7: 0.88, 8: 0.90, 9: 1.0, 10: 1.05,
                11: 0.98, 12: 1.12}
MIN_PRODUCT_CARTONS = 20  # no product's yearly total falls below this while the mix is tuned


# --- exact rounding checks ---------------------------------------------------------------------------------------
def margin(x: Fraction, shown: str) -> Fraction:
    """How safely ``x`` rounds to ``shown``: 1 at the centre, 0 at a rounding boundary, negative when it does not."""
    dp = len(shown.split(".")[1]) if "." in shown else 0
    half = Fraction(1, 2 * 10**dp)
    return 1 - abs(x - Fraction(shown)) / half


def _cases(cartons: int) -> Fraction:
    return Fraction(cartons, CARTONS_PER_CASE)


def _pct(cur: int, prev: int) -> Fraction:
    return (Fraction(cur, prev) - 1) * 100


@dataclass(frozen=True)
class CartonChoice:
    classes: dict[int, tuple[int, int]]  # rank -> (this year, last year)
    total: tuple[int, int]
    unclassified: tuple[int, int]
    provincial: tuple[int, int]
    margin: Fraction  # the smallest rounding margin over every figure


def choose_cartons() -> CartonChoice:
    """The integer cartons (both years) whose figures round to the seed's, each as far from a boundary as possible."""
    worst: list[Fraction] = []
    classes: dict[int, tuple[int, int]] = {}
    for rank, (_name, cases, yoy) in SEED_CLASSES.items():
        centre = int(Fraction(cases) * CARTONS_PER_CASE)
        best = None
        for n in range(centre - 3, centre + 4):
            m1 = margin(_cases(n), cases)
            if m1 <= 0:
                continue
            m_centre = int(n / (1 + float(yoy) / 100))
            for m in range(m_centre - 6, m_centre + 7):
                m2 = margin(_pct(n, m), yoy)
                if m2 <= 0:
                    continue
                key = (min(m1, m2), m1 + m2, -n, -m)
                if best is None or key > best[0]:
                    best = (key, n, m)
        if best is None:
            raise RuntimeError(f"no cartons give {cases} cases and {yoy}% for class {rank}")
        worst.append(best[0][0])
        classes[rank] = (best[1], best[2])
    s_this = sum(n for n, _ in classes.values())
    s_last = sum(m for _, m in classes.values())

    centre = int(Fraction(SEED_CASES) * CARTONS_PER_CASE)
    best = None
    for t in range(max(centre - 3, s_this), centre + 4):
        m1 = margin(_cases(t), SEED_CASES)
        if m1 <= 0:
            continue
        for ly in range(max(s_last, t - 10 - int(Fraction(SEED_CHANGE) * CARTONS_PER_CASE)),
                        t + 10 - int(Fraction(SEED_CHANGE) * CARTONS_PER_CASE)):
            m2 = margin(_cases(t - ly), SEED_CHANGE)
            m3 = margin(_pct(t, ly), SEED_YOY)
            if m2 <= 0 or m3 <= 0:
                continue
            key = (min(m1, m2, m3), m1 + m2 + m3, -t, -ly)
            if best is None or key > best[0]:
                best = (key, t, ly)
    if best is None:
        raise RuntimeError("no totals fit the seed's total, change and YoY")
    worst.append(best[0][0])
    total = (best[1], best[2])

    centre = int(Fraction(SEED_PROV_CASES) * CARTONS_PER_CASE)
    best = None
    for p in range(centre - 3, centre + 4):
        m1 = margin(_cases(p), SEED_PROV_CASES)
        if m1 <= 0:
            continue
        p_centre = int(p / (1 + float(SEED_PROV_YOY) / 100))
        for pl in range(p_centre - 30, p_centre + 31):
            m2 = margin(_pct(p, pl), SEED_PROV_YOY)
            if m2 <= 0:
                continue
            key = (min(m1, m2), m1 + m2, -p, -pl)
            if best is None or key > best[0]:
                best = (key, p, pl)
    if best is None:
        raise RuntimeError("no provincial cartons fit the seed")
    worst.append(best[0][0])
    return CartonChoice(
        classes=classes,
        total=total,
        unclassified=(total[0] - s_this, total[1] - s_last),
        provincial=(best[1], best[2]),
        margin=min(worst),
    )


# --- helpers -----------------------------------------------------------------------------------------------------
def apportion(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights`` (largest remainder), each part at least ``minimum``."""
    w = np.asarray(weights, dtype=np.float64)
    k = len(w)
    rest = total - minimum * k
    if rest < 0:
        raise ValueError(f"cannot give {k} parts at least {minimum} out of {total}")
    if rest == 0 or k == 0:
        return np.full(k, minimum, dtype=np.int64)
    share = rest * w / w.sum()
    base = np.floor(share).astype(np.int64)
    frac = share - base
    short = rest - int(base.sum())
    order = np.argsort(-frac, kind="stable")
    if short > 0:
        base[order[:short]] += 1
    elif short < 0:  # float noise: take back from the smallest remainders that can give
        for i in order[::-1]:
            if short == 0:
                break
            if base[i] > 0:
                base[i] -= 1
                short += 1
    return base + minimum


def _tilted(weights: np.ndarray, prices: np.ndarray, theta: float) -> np.ndarray:
    lp = np.log(prices)
    z = weights * np.exp(theta * (lp - lp.mean()))
    return z / z.sum()


@dataclass(frozen=True)
class Product:
    product_id: int
    code: str
    name: str
    brand: str
    rank: int | None
    provincial: bool
    price_fen: int
    weight: float
    key_brand: bool
    scarce: bool


def _catalogue() -> list[Product]:
    out = []
    for i, (code, name, brand, rank, prov, price, w, key, scarce) in enumerate(CATALOGUE, start=1):
        out.append(Product(i, code, name, brand, rank, prov, int(Fraction(price) * 100), w, key, scarce))
    return out


def _cells(products: list[Product]) -> dict[tuple[int | None, bool], list[int]]:
    cells: dict[tuple[int | None, bool], list[int]] = {}
    for i, p in enumerate(products):
        cells.setdefault((p.rank, p.provincial), []).append(i)
    return cells


def _cell_totals(choice: CartonChoice, which: int) -> dict[tuple[int | None, bool], int]:
    """Cartons per (class, provincial) cell for this year (which=0) or last year (which=1)."""
    u = choice.unclassified[which]
    nonprov = choice.total[which] - choice.provincial[which] - u  # the cigar is not a provincial product
    weights = NONPROV_WEIGHT["this" if which == 0 else "last"]
    ranks = sorted(choice.classes)
    np_cls = apportion(nonprov, np.array([choice.classes[r][which] * weights[r] for r in ranks]))
    out: dict[tuple[int | None, bool], int] = {(None, False): u}
    for r, n in zip(ranks, np_cls, strict=True):
        c = choice.classes[r][which]
        if not 0 < n < c:
            raise RuntimeError(f"class {r}: non-provincial cartons {n} out of {c}")
        out[(r, False)] = int(n)
        out[(r, True)] = c - int(n)
    return out


def _mix(products: list[Product], cell_totals: dict, target_fen: int) -> np.ndarray:
    """Per-product cartons for one year: cell totals kept, the amount as close to ``target_fen`` as cartons allow."""
    cells = _cells(products)
    prices = np.array([p.price_fen for p in products], dtype=np.float64)
    weights = np.array([p.weight for p in products])

    def continuous(theta: float) -> float:
        amt = 0.0
        for key, idx in cells.items():
            amt += cell_totals[key] * float(_tilted(weights[idx], prices[idx], theta) @ prices[idx])
        return amt

    lo, hi = -6.0, 6.0
    if not continuous(lo) <= target_fen <= continuous(hi):
        raise RuntimeError("the catalogue's prices cannot reach the target average price")
    for _ in range(80):
        mid = (lo + hi) / 2
        if continuous(mid) < target_fen:
            lo = mid
        else:
            hi = mid
    theta = (lo + hi) / 2
    n = np.zeros(len(products), dtype=np.int64)
    for key, idx in cells.items():
        n[idx] = apportion(cell_totals[key], _tilted(weights[idx], prices[idx], theta) * cell_totals[key])
    # tune: move single cartons between two products of one cell while that brings the amount closer
    pf = np.array([p.price_fen for p in products], dtype=np.int64)
    moves = [(a, b, int(pf[b] - pf[a])) for idx in cells.values() for a in idx for b in idx if a != b]
    err = target_fen - int(n @ pf)
    for _ in range(100_000):
        best = None
        for a, b, d in moves:
            if n[a] - 1 < MIN_PRODUCT_CARTONS:
                continue
            gain = abs(err - d)
            if gain < abs(err) and (best is None or gain < best[0]):
                best = (gain, a, b, d)
        if best is None:
            break
        _, a, b, d = best
        n[a] -= 1
        n[b] += 1
        err -= d
    return n


@dataclass(frozen=True)
class Seed000Info:
    data_dir: Path
    year: int
    cm_id: int
    retailers: int
    online_retailers: int
    class_cartons: dict[int, tuple[int, int]]  # rank -> (this year, last year)
    unclassified_cartons: tuple[int, int]  # the cigar, outside the five price classes
    cartons: tuple[int, int]
    provincial_cartons: tuple[int, int]
    amount_fen: tuple[int, int]
    product_cartons: dict[str, tuple[int, int]]  # product code -> (this year, last year)
    orders: tuple[int, int]
    lines: tuple[int, int]
    rounding_margin: Fraction  # the smallest margin of the carton figures (1 = centre, 0 = rounding boundary)


# --- retailers ---------------------------------------------------------------------------------------------------
PLACES = ["城东", "新街", "河口", "长岭", "桥头", "白沙", "枫林", "石门", "南塘", "花桥", "大坪", "柳湾"]
SURNAMES = ["李", "王", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "胡", "朱", "高", "罗"]
SUFFIX = {
    "grocery": ["食杂店", "便民店", "商店", "副食店"],
    "tobacco_liquor": ["烟酒行", "名烟名酒"],
    "convenience": ["便利店", "24小时便利"],
    "supermarket": ["超市", "购物广场"],
    "entertainment": ["棋牌室", "茶楼"],
    "other": ["加油站便利店", "宾馆商务部"],
}
FORMATS = ["grocery", "tobacco_liquor", "convenience", "supermarket", "entertainment", "other"]
FORMAT_P = [0.55, 0.15, 0.10, 0.10, 0.05, 0.05]
FORMAT_PREMIUM = {"grocery": -0.4, "tobacco_liquor": 0.9, "convenience": 0.3, "supermarket": 0.4,
                  "entertainment": 0.6, "other": 0.0}


def _retailers(rng: np.random.Generator, year: int) -> dict[str, np.ndarray]:
    n = SEED_RETAILERS
    urban = np.zeros(n, dtype=bool)
    urban[rng.permutation(n)[:130]] = True
    fmt = rng.choice(np.array(FORMATS), size=n, p=FORMAT_P)
    size = rng.normal(0, 1, n) + 0.4 * urban + np.array([0.5 if f in ("supermarket", "tobacco_liquor") else 0.0
                                                         for f in fmt])
    # 30 tiers, a pyramid: the size ranked, few shops at the top
    pct = (np.argsort(np.argsort(size)) + 0.5) / n
    tier = np.clip(1 + np.floor(30 * pct**1.6), 1, 30).astype(np.int32)
    # exactly SEED_ONLINE order online, more likely urban and bigger shops; the rest by phone or the mobile app
    online_score = size + 0.8 * urban + rng.gumbel(size=n)
    method = np.full(n, "phone", dtype=object)
    method[np.argsort(-online_score)[:SEED_ONLINE]] = "online"
    rest = np.flatnonzero(method != "online")
    method[rng.choice(rest, size=len(rest) // 3, replace=False)] = "mobile"
    names, used = [], set()
    for i in range(n):
        while True:
            name = (PLACES[int(rng.integers(len(PLACES)))] + SURNAMES[int(rng.integers(len(SURNAMES)))] + "记"
                    + SUFFIX[fmt[i]][int(rng.integers(len(SUFFIX[fmt[i]])))])
            if name not in used:
                used.add(name)
                names.append(name)
                break
    opened = np.array([dt.date(year - 2, 12, 31) - dt.timedelta(days=int(d)) for d in rng.integers(30, 6000, n)])
    return {
        "id": np.arange(1001, 1001 + n, dtype=np.int64),
        "licence": np.array([f"4301210{i + 1:05d}" for i in range(n)], dtype=object),
        "name": np.array(names, dtype=object),
        "urban": urban,
        "format": fmt,
        "tier": tier,
        "method": method,
        "opened": opened,
        "size": size,
        "premium": 0.5 * size + 0.6 * urban + np.array([FORMAT_PREMIUM[f] for f in fmt]),
    }


def _retailer_table(r: dict[str, np.ndarray]) -> pa.Table:
    n = len(r["id"])
    const = {
        "route_id": ROUTE_ID, "route_code": "R000", "route_name": "城东线(周二)", "cm_id": CM_ID,
        "cm_code": "cm000", "cm_name": "陈立新", "org_path": "0001000100010001", "area_code": "A01",
        "area_name": "城东片区", "dept_code": "D01", "dept_name": "城区客服部", "branch_code": "B01",
        "branch_name": "城区分公司", "status": "normal", "closed_on": None,
    }
    cols = {
        "retailer_id": r["id"],
        "licence": r["licence"],
        "retailer_name": r["name"],
        "market_type": np.where(r["urban"], "urban", "rural"),
        "business_format": r["format"],
        "order_method": r["method"],
        "tier": r["tier"],
        "opened_on": r["opened"],
    }
    data = {}
    for f in RETAILER_DIM_SCHEMA:
        data[f.name] = pa.array(list(cols[f.name]) if f.name in cols else [const[f.name]] * n, type=f.type)
    return pa.table(data, schema=RETAILER_DIM_SCHEMA)


def _product_table(products: list[Product], year: int) -> pa.Table:
    rows = {
        "product_id": [p.product_id for p in products],
        "product_code": [p.code for p in products],
        "product_name": [p.name for p in products],
        "brand": [p.brand for p in products],
        "class_rank": [p.rank for p in products],
        "class_name": [SEED_CLASSES[p.rank][0] if p.rank else None for p in products],
        "provincial": [p.provincial for p in products],
        "key_brand": [p.key_brand for p in products],
        "scarce": [p.scarce for p in products],
        "wholesale_price": [p.price_fen / 100 for p in products],
        "status": ["on_sale"] * len(products),
        "launched_on": [dt.date(year - 6, 3, 1)] * len(products),
    }
    return pa.table({f.name: pa.array(rows[f.name], type=f.type) for f in PRODUCT_DIM_SCHEMA},
                    schema=PRODUCT_DIM_SCHEMA)


# --- orders ------------------------------------------------------------------------------------------------------
def _year_lines(rng, r, products, cartons: np.ndarray, aff: np.ndarray, year: int) -> dict[str, np.ndarray]:
    """One year's order lines: weekly orders on the route's weekday, per-product totals exactly ``cartons``."""
    day = dt.date(year, 1, 1)
    day += dt.timedelta(days=(ROUTE_WEEKDAY - day.weekday()) % 7)
    days = []
    while day.year == year:
        days.append(day)
        day += dt.timedelta(days=7)
    n_r, n_d = len(r["id"]), len(days)
    p_order = np.clip(0.97 - 0.08 * (r["tier"] <= 6) - 0.04 * (~r["urban"]), 0.8, 0.98)
    placed = rng.random((n_r, n_d)) < p_order[:, None]
    placed[np.arange(n_r), rng.integers(0, n_d, n_r)] = True  # every retailer orders in the year
    o_ret, o_day = np.nonzero(placed)
    n_o = len(o_ret)
    o_month = np.array([d.month for d in days])[o_day]
    cap = rng.integers(10, 16, n_o).astype(np.float64)  # products wanted in each order

    # lines per product: cartons / mean quantity per line, scaled so the lines fill the orders (water-filling under
    # the caps: at most 90% of the orders, at most one line per carton)
    v = np.array([cartons[i] / CARTONS_PER_LINE[p.rank] for i, p in enumerate(products)])
    upper = np.minimum(cartons, int(0.9 * n_o)).astype(np.float64)
    want = cap.sum()
    lo, hi = 0.0, 100.0
    for _ in range(60):
        s = (lo + hi) / 2
        if np.minimum(np.maximum(np.round(s * v), 1), upper).sum() < want:
            lo = s
        else:
            hi = s
    n_lines = np.minimum(np.maximum(np.round(hi * v), 1), upper).astype(np.int64)

    season = np.array([MONTH_SEASON[m] for m in range(1, 13)])
    rem = cap.copy()
    lines_o, lines_p, lines_q = [], [], []
    for i in np.argsort(-n_lines, kind="stable"):
        k = int(n_lines[i])
        keys = np.log(aff[o_ret, i]) + np.log(np.maximum(rem, 1e-6)) + rng.gumbel(size=n_o)
        sel = np.sort(np.argpartition(-keys, k - 1)[:k])
        rem[sel] -= 1
        w = np.exp(0.6 * r["size"][o_ret[sel]]) * season[o_month[sel] - 1] * rng.lognormal(0, 0.35, k)
        lines_o.append(sel)
        lines_p.append(np.full(k, i))
        lines_q.append(apportion(int(cartons[i]), w, minimum=1))
    lo_ = np.concatenate(lines_o)
    return {
        "order": lo_,
        "retailer": o_ret[lo_],
        "date": np.array(days, dtype="datetime64[D]")[o_day[lo_]],
        "product": np.concatenate(lines_p),
        "qty": np.concatenate(lines_q),
        "orders": np.int64(n_o),
    }


def _write_orders(data_dir: Path, rng, r, products: list[Product], lines: dict[str, np.ndarray]) -> None:
    rid = r["id"][lines["retailer"]]
    pid = np.array([p.product_id for p in products])[lines["product"]]
    order = np.lexsort((pid, rid, lines["date"]))
    rid, pid = rid[order], pid[order]
    date = lines["date"][order]
    ret = lines["retailer"][order]
    prod = lines["product"][order]
    qty = lines["qty"][order].astype(np.int32)
    n = len(qty)
    scarce = np.array([p.scarce for p in products])[prod]
    # supplied = ordered (no shortfalls, so every carton count agrees); scarce products are capped by an allotment
    # that demand often exceeds, the rest have a generous cap
    allotted = np.where(scarce, qty + (rng.random(n) < 0.4) * rng.integers(1, 3, n), qty + 10).astype(np.int32)
    demanded = (qty + np.where(scarce & (allotted == qty), rng.integers(0, 4, n), 0)).astype(np.int32)
    price_fen = np.array([p.price_fen for p in products], dtype=np.int64)[prod]
    amount = (qty.astype(np.int64) * price_fen) / 100
    months = date.astype("datetime64[M]")
    for m in np.unique(months):
        sel = np.flatnonzero(months == m)
        label = str(m)
        # one order id per (date, retailer) in file order: YYYYMM * 10_000_000 + n
        key = date[sel].astype(np.int64) * 10_000 + ret[sel]
        new = np.r_[True, key[1:] != key[:-1]]
        oid = int(label.replace("-", "")) * 10_000_000 + np.cumsum(new)
        table = pa.table(
            {
                "order_date": pa.array(date[sel], type=pa.date32()),
                "order_id": pa.array(oid, type=pa.int64()),
                "retailer_id": pa.array(rid[sel], type=pa.int64()),
                "licence": pa.array(r["licence"][ret[sel]].tolist(), type=pa.string()),
                "product_id": pa.array(pid[sel], type=pa.int64()),
                "product_code": pa.array([products[i].code for i in prod[sel]], type=pa.string()),
                "demanded": pa.array(demanded[sel], type=pa.int32()),
                "allotted": pa.array(allotted[sel], type=pa.int32()),
                "ordered": pa.array(qty[sel], type=pa.int32()),
                "supplied": pa.array(qty[sel], type=pa.int32()),
                "amount": pa.array(amount[sel], type=pa.float64()),
                "channel": pa.array(r["method"][ret[sel]].tolist(), type=pa.string()),
            },
            schema=ORDER_SCHEMA,
        )
        path = order_file(data_dir, label)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="zstd")


def build_seed000(data_dir: Path, *, year: int = 2026, seed: int = 0) -> Seed000Info:
    """Write seed 000's CM: dims, and the order files of ``year - 1`` and ``year`` (24 months)."""
    data_dir = Path(data_dir)
    rng = np.random.default_rng(seed)
    choice = choose_cartons()
    products = _catalogue()
    pf = np.array([p.price_fen for p in products], dtype=np.int64)

    # this year: 条均价 85.66 to the fen; last year: the price growth in the middle of [15.865%, 15.8655%)
    t, ly = choice.total
    mix_this = _mix(products, _cell_totals(choice, 0), int(Fraction(SEED_PRICE) * 100) * t)
    amount_this = int(mix_this @ pf)
    growth = 1 + Fraction(SEED_PRICE_YOY[0]) / 100 + Fraction(1, 4_000_000)  # 15.86525%
    mix_last = _mix(products, _cell_totals(choice, 1), round(Fraction(amount_this, t) * ly / growth))
    amount_last = int(mix_last @ pf)
    price, price_ly = Fraction(amount_this, 100 * t), Fraction(amount_last, 100 * ly)
    checks = [
        margin(price, SEED_PRICE), margin(price_ly, SEED_PRICE_LY),
        *(margin((price / price_ly - 1) * 100, s) for s in SEED_PRICE_YOY),
    ]
    if min(checks) <= 0:
        raise RuntimeError(f"average prices miss the seed: {float(price)} {float(price_ly)}")

    r = _retailers(rng, year)
    dim_file(data_dir, "retailers").parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(_retailer_table(r), dim_file(data_dir, "retailers"))
    pq.write_table(_product_table(products, year), dim_file(data_dir, "products"))

    # affinity of each retailer for each product: premium shops lean to the dearer products of a class, every shop
    # has its own assortment and a taste for (or against) the province's brands
    lp = np.log(pf.astype(np.float64))
    z = np.zeros(len(products))
    for idx in _cells(products).values():
        z[idx] = lp[idx] - lp[idx].mean()
    prov = np.array([p.provincial for p in products], dtype=np.float64)
    aff = np.exp(
        0.9 * r["premium"][:, None] * z[None, :]
        + 0.5 * rng.normal(0, 1, len(r["id"]))[:, None] * (prov[None, :] - 0.5)
        + rng.normal(0, 0.8, (len(r["id"]), len(products)))
    )
    orders, lines = [], []
    for y, mix in ((year - 1, mix_last), (year, mix_this)):
        yl = _year_lines(rng, r, products, mix, aff, y)
        _write_orders(data_dir, rng, r, products, yl)
        orders.append(int(yl["orders"]))
        lines.append(len(yl["qty"]))

    return Seed000Info(
        data_dir=data_dir,
        year=year,
        cm_id=CM_ID,
        retailers=len(r["id"]),
        online_retailers=int((r["method"] == "online").sum()),
        class_cartons=choice.classes,
        unclassified_cartons=choice.unclassified,
        cartons=choice.total,
        provincial_cartons=choice.provincial,
        amount_fen=(amount_this, amount_last),
        product_cartons={p.code: (int(mix_this[i]), int(mix_last[i])) for i, p in enumerate(products)},
        orders=(orders[1], orders[0]),
        lines=(lines[1], lines[0]),
        rounding_margin=choice.margin,
    )


__all__ = ["Seed000Info", "build_seed000", "choose_cartons"]
