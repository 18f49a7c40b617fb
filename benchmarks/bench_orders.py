"""Benchmark of the demo order-line generator (cmdesk.demo.orders.generate_orders).

Builds synthetic retailer and product frames with the source city's proportions (DOMAIN.md), generates the order
lines into a temporary directory and prints lines, seconds, lines/s, peak RSS, and the speed-up against a
straightforward per-line Python-loop generator measured in the same run on one month of the county.

Usage::

    .venv/bin/python benchmarks/bench_orders.py --scale city --years 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import pathlib
import random
import resource
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cmdesk.demo.orders import ProductFrame, RetailerFrame, generate_orders  # noqa: E402

SCALES = {"city": (26_400, 400), "county": (2_500, 400)}
AS_OF = dt.date(2025, 6, 30)
FORMAT_SHARES = {
    "grocery": 0.738,
    "tobacco_liquor": 0.1255,
    "supermarket": 0.038,
    "mall": 0.0014,
    "convenience": 0.0607,
    "entertainment": 0.0204,
    "other": 0.0160,
}
FORMAT_TIER_BONUS = {
    "grocery": 0,
    "tobacco_liquor": 6,
    "supermarket": 5,
    "mall": 8,
    "convenience": 2,
    "entertainment": 1,
    "other": 0,
}
CHANNEL_SHARES = {"online": 0.75, "phone": 0.12, "mobile": 0.0275, "other": 0.1025}
CLASS_SHARES = (0.18, 0.20, 0.27, 0.25, 0.10)
CLASS_PRICES = ((100.0, 450.0), (70.0, 100.0), (30.0, 70.0), (16.5, 30.0), (8.0, 16.5))


def _choice(rng: np.random.Generator, shares: dict[str, float], size: int) -> np.ndarray:
    weights = np.array(list(shares.values()))
    return rng.choice(np.array(list(shares)), size=size, p=weights / weights.sum())


def synthetic_frames(
    n_retailers: int, n_products: int, *, as_of: dt.date, years: int, seed: int = 7
) -> tuple[RetailerFrame, ProductFrame]:
    """Retailers and products shaped like the source city (formats, urban share, channels, price classes)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(dt.date(as_of.year - years, as_of.month, 1), "D")
    end = np.datetime64(as_of, "D")
    span = int((end - start).astype(int))

    urban = rng.random(n_retailers) < 0.36
    fmt = _choice(rng, FORMAT_SHARES, n_retailers)
    bonus = np.array([FORMAT_TIER_BONUS[f] for f in fmt])
    tier = np.clip(np.rint(np.where(urban, 15, 10) + bonus + rng.normal(0, 5, n_retailers)), 1, 30).astype(np.int64)
    weekday = rng.choice(6, size=n_retailers, p=[0.19, 0.19, 0.19, 0.19, 0.19, 0.05])
    new = rng.random(n_retailers) < 0.08
    opened = np.where(
        new,
        start + rng.integers(0, span, n_retailers).astype("timedelta64[D]"),
        np.datetime64("2005-01-01") + rng.integers(0, 6000, n_retailers).astype("timedelta64[D]"),
    ).astype("datetime64[D]")
    closes = rng.random(n_retailers) < 0.06
    closed = np.where(
        closes, start + rng.integers(30, span, n_retailers).astype("timedelta64[D]"), np.datetime64("NaT")
    ).astype("datetime64[D]")
    closed = np.where(closes & (closed <= opened), opened + np.timedelta64(60, "D"), closed)
    retailers = RetailerFrame(
        id=np.arange(1, n_retailers + 1, dtype=np.int64) * 3 + 100,
        licence=np.array([f"3415{i:08d}" for i in range(n_retailers)], dtype=object),
        urban=urban,
        fmt=fmt,
        tier=tier,
        channel=_choice(rng, CHANNEL_SHARES, n_retailers),
        order_weekday=weekday,
        opened=opened,
        closed=closed,
    )

    cls = rng.choice(5, size=n_products, p=CLASS_SHARES) + 1
    low = np.array([CLASS_PRICES[c - 1][0] for c in cls])
    high = np.array([CLASS_PRICES[c - 1][1] for c in cls])
    price = np.round(np.exp(rng.uniform(np.log(low), np.log(high - 0.01))), 2)
    launched_in_period = rng.random(n_products) < 0.08
    launched = np.where(
        launched_in_period,
        start + rng.integers(0, span, n_products).astype("timedelta64[D]"),
        np.datetime64("2000-01-01") + rng.integers(0, 7000, n_products).astype("timedelta64[D]"),
    ).astype("datetime64[D]")
    products = ProductFrame(
        id=np.arange(1, n_products + 1, dtype=np.int64) + 5000,
        code=np.array([f"6901028{i:06d}" for i in range(n_products)], dtype=object),
        price_class=cls,
        wholesale_price=price,
        provincial=rng.random(n_products) < 0.45,
        key_brand=rng.random(n_products) < 0.15,
        scarce=(rng.random(n_products) < np.where(cls <= 2, 0.15, 0.02)),
        launched=launched,
    )
    return retailers, products


def _poisson(rnd: random.Random, lam: float) -> int:
    """Knuth's method, for the baseline."""
    limit, k, prod = math.exp(-lam), 0, rnd.random()
    while prod > limit:
        k += 1
        prod *= rnd.random()
    return k


def baseline_month(retailers: RetailerFrame, products: ProductFrame, first: dt.date, out: pathlib.Path) -> int:
    """A straightforward generator: Python loops over days, retailers and lines; writes one Parquet file."""
    rnd = random.Random(1)
    n_products = len(products.id)
    weights = [1.0 / (1 + i % 17) for i in range(n_products)]
    rows: dict[str, list] = {k: [] for k in ("order_date", "order_id", "retailer_id", "licence", "product_id")}
    rows.update({k: [] for k in ("product_code", "demanded", "allotted", "ordered", "supplied", "amount", "channel")})
    day = first
    order_id = 0
    while day.month == first.month:
        npday = np.datetime64(day, "D")
        for i in range(len(retailers.id)):
            if int(retailers.order_weekday[i]) != day.weekday():
                continue
            if retailers.opened[i] > npday or (not np.isnat(retailers.closed[i]) and retailers.closed[i] <= npday):
                continue
            if rnd.random() > 0.9:
                continue
            order_id += 1
            k = 10 + min(_poisson(rnd, 2.0), 10)
            chosen: set[int] = set()
            while len(chosen) < k:
                chosen.add(rnd.choices(range(n_products), weights=weights)[0])
            scale = math.exp(0.085 * (int(retailers.tier[i]) - 12))
            for j in sorted(chosen):
                demanded = 1 + _poisson(rnd, max(1.55 * scale - 1, 0))
                allotted = 5 * math.ceil((3 * 1.55 * scale + 3) / 5)
                ordered = min(demanded, allotted)
                rows["order_date"].append(day)
                rows["order_id"].append(order_id)
                rows["retailer_id"].append(int(retailers.id[i]))
                rows["licence"].append(str(retailers.licence[i]))
                rows["product_id"].append(int(products.id[j]))
                rows["product_code"].append(str(products.code[j]))
                rows["demanded"].append(demanded)
                rows["allotted"].append(allotted)
                rows["ordered"].append(ordered)
                rows["supplied"].append(ordered)
                rows["amount"].append(round(ordered * float(products.wholesale_price[j]), 2))
                rows["channel"].append(str(retailers.channel[i]))
        day += dt.timedelta(days=1)
    pq.write_table(pa.table(rows), out / "baseline.parquet", compression="zstd")
    return len(rows["order_id"])


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="city")
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no per-month progress")
    args = parser.parse_args(argv)

    n_retailers, n_products = SCALES[args.scale]
    retailers, products = synthetic_frames(n_retailers, n_products, as_of=AS_OF, years=args.years)
    county_r, county_p = synthetic_frames(*SCALES["county"], as_of=AS_OF, years=args.years)
    rss_before = _rss_mb()

    def progress(done: int, total: int, label: str) -> None:
        if not args.quiet:
            print(f"  {label}  {done}/{total}  {time.perf_counter() - t0:6.1f}s", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="bench_orders_") as tmp:
        out = pathlib.Path(tmp)
        t0 = time.perf_counter()
        report = generate_orders(
            retailers, products, as_of=AS_OF, years=args.years, seed=args.seed, out_dir=out, progress=progress
        )
        seconds = time.perf_counter() - t0
        rss_peak = _rss_mb()
        size_mb = sum(f.stat().st_size for f in (out / "orders").rglob("*.parquet")) / 2**20

        t1 = time.perf_counter()
        base_lines = baseline_month(county_r, county_p, dt.date(AS_OF.year, AS_OF.month, 1), out)
        base_seconds = time.perf_counter() - t1

    rate = report.lines / seconds
    base_rate = base_lines / base_seconds
    weeks = ((AS_OF - dt.date(AS_OF.year - args.years, AS_OF.month, 1)).days + 1) / 7
    print(f"scale             {args.scale} ({n_retailers:,} retailers, {n_products} products), {args.years} years")
    print(f"months            {len(report.months)} ({report.months[0]} .. {report.months[-1]})")
    print(f"lines             {report.lines:,}")
    print(f"orders            {report.orders:,} ({report.lines / max(report.orders, 1):.2f} lines per order)")
    print(f"cartons           {report.cartons:,} ({report.cartons / n_retailers / weeks:.1f} per retailer-week)")
    print(f"amount            {report.amount:,.2f} yuan ({report.amount / max(report.cartons, 1):.2f} per carton)")
    print(f"anomalies         {len(report.anomalies)}")
    print(f"parquet size      {size_mb:,.1f} MiB")
    print(f"seconds           {seconds:.1f}")
    print(f"lines/s           {rate:,.0f}")
    print(f"peak RSS          {rss_peak:,.0f} MiB (frames built: {rss_before:,.0f} MiB)")
    print(f"baseline          {base_lines:,} lines in {base_seconds:.1f}s = {base_rate:,.0f} lines/s (county, 1 month)")
    print(f"speed-up          {rate / base_rate:,.0f}x")


if __name__ == "__main__":
    main()
