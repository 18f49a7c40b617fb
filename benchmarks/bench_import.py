"""Benchmark of the order import (cmdesk.analytics.ingest + cmdesk.analytics.store), without Django.

Generates a CSV of about 1 M order lines for one month (GBK, Chinese headers, the source city's 26,400 retailers
and 400 products, quoted amounts with thousands separators now and then), then times in one run:

* read + validate (``ingest.read_orders``: transcoding, pyarrow CSV, vectorized checks and lookups);
* store into an empty data directory (``FactStore.apply``: merge, sort, zstd Parquet, staging + journal);
* the same file again (idempotent: every line unchanged, no file rewritten);
* a naive baseline: the ``csv`` module and per-row Python validation (strptime, dict lookups, int()), storing the
  rows with pyarrow from Python lists — what a straightforward implementation does.

Usage::

    .venv/bin/python benchmarks/bench_import.py [--lines 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import pathlib
import resource
import shutil
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cmdesk.analytics.ingest import ORDER_ID_RETAILER_FACTOR, Lookup, read_orders  # noqa: E402
from cmdesk.analytics.layout import ORDER_SCHEMA  # noqa: E402
from cmdesk.analytics.store import FactStore, write_month_file  # noqa: E402

RETAILERS = 26_400
PRODUCTS = 400
MONTH = (2026, 10)
HEADER = "订货日期,专卖许可证号,卷烟编码,需求数量(条),合理定量(条),订货数量(条),供货数量(条),金额(元),订货方式"
CHANNEL_TEXT = ("网上订货", "电话订货", "手机订货", "其他")
CHANNEL_SHARES = (0.75, 0.12, 0.0275, 0.1025)


def licence(i: int) -> str:
    return f"4301{i:08d}"


def product_code(i: int) -> str:
    return f"69010{i:08d}"


def generate(path: pathlib.Path, lines: int, seed: int = 1) -> int:
    """Write the GBK CSV: each retailer orders once a week on its weekday, ~10 distinct products per order (the
    products of an order are a random start and a stride coprime to the catalogue size, so never repeated)."""
    rng = np.random.default_rng(seed)
    first = dt.date(*MONTH, 1)
    weeks = 4
    per_order = -(-lines // (RETAILERS * weeks))  # ceil
    orders = -(-lines // per_order)
    retailer = np.arange(orders) % RETAILERS
    week = np.arange(orders) // RETAILERS
    weekday = rng.integers(0, 7, RETAILERS)
    channel = rng.choice(4, RETAILERS, p=CHANNEL_SHARES)
    prices = rng.uniform(10, 300, PRODUCTS).round(2)
    start = rng.integers(0, PRODUCTS, orders)
    product = ((start[:, None] + 7 * np.arange(per_order)[None, :]) % PRODUCTS).ravel()[:lines]
    line_order = np.repeat(np.arange(orders), per_order)[:lines]
    quantity = rng.integers(1, 8, lines)
    amount = quantity * prices[product]
    day_names = {}
    for w in range(weeks):
        for d in range(7):
            day = first + dt.timedelta(days=7 * w + d)
            day_names[(w, d)] = (day.strftime("%Y-%m-%d"), f"{day.year}/{day.month}/{day.day}")
    rows: list[str] = [HEADER]
    retailer_l, week_l, weekday_l, channel_l = retailer.tolist(), week.tolist(), weekday.tolist(), channel.tolist()
    for o, p, q, a in zip(line_order.tolist(), product.tolist(), quantity.tolist(), amount.tolist(), strict=True):
        r = retailer_l[o]
        date_text = day_names[(week_l[o], weekday_l[r])][r % 3 == 0]
        amount_text = f'"{a:,.2f}"' if a >= 1000 else f"{a:.2f}"
        ch = CHANNEL_TEXT[channel_l[r]]
        rows.append(f"{date_text},{licence(r)},{product_code(p)},{q + 1},{q + 2},{q},{q},{amount_text},{ch}")
    path.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    return lines


def naive(path: pathlib.Path, retailers: dict[str, int], products: dict[str, int]) -> pa.Table:
    """Per-row Python: decode, csv module, strptime, dict lookups, int()/float(), duplicate set; then pyarrow."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    reader = csv.reader(io.StringIO(text))
    next(reader)
    channels = {"网上订货": "online", "电话订货": "phone", "手机订货": "mobile", "其他": "other"}
    cols: dict[str, list] = {f.name: [] for f in ORDER_SCHEMA}
    seen: set[tuple] = set()
    errors = []
    epoch = dt.date(1970, 1, 1)
    for number, row in enumerate(reader, start=2):
        date_text, lic, code, demanded, allotted, ordered, supplied, amount, channel = (v.strip() for v in row)
        try:
            day = dt.datetime.strptime(date_text.replace("/", "-"), "%Y-%m-%d").date()
        except ValueError:
            errors.append((number, "order_date"))
            continue
        rid = retailers.get(lic)
        pid = products.get(code)
        if rid is None or pid is None:
            errors.append((number, "licence"))
            continue
        try:
            q = [int(demanded), int(allotted), int(ordered), int(supplied)]
            value = round(float(amount.replace(",", "")), 2)
        except ValueError:
            errors.append((number, "number"))
            continue
        if min(q) < 0 or q[3] > q[2] or channel not in channels:
            errors.append((number, "value"))
            continue
        key = (day, rid, pid)
        if key in seen:
            errors.append((number, "duplicate"))
        seen.add(key)
        cols["order_date"].append(day)
        cols["order_id"].append(rid * ORDER_ID_RETAILER_FACTOR + (day - epoch).days)
        cols["retailer_id"].append(rid)
        cols["licence"].append(lic)
        cols["product_id"].append(pid)
        cols["product_code"].append(code)
        for name, v in zip(("demanded", "allotted", "ordered", "supplied"), q, strict=True):
            cols[name].append(v)
        cols["amount"].append(value)
        cols["channel"].append(channels[channel])
    assert not errors, errors[:5]
    return pa.table(cols, schema=ORDER_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        csv_path = tmp / "orders-2026-10.csv"
        t0 = time.perf_counter()
        lines = generate(csv_path, args.lines)
        size = csv_path.stat().st_size / 1e6
        print(f"generated {lines:,} lines, {size:.1f} MB GBK in {time.perf_counter() - t0:.1f} s")
        retailers = {licence(i): i + 1 for i in range(RETAILERS)}
        products = {product_code(i): 10_000 + i for i in range(PRODUCTS)}
        lookup = Lookup.build(retailers, products)

        t0 = time.perf_counter()
        parsed = read_orders(csv_path, lookup=lookup)
        t_read = time.perf_counter() - t0
        assert parsed.ok, parsed.errors[:5]
        assert parsed.rows == lines and parsed.encoding == "gb18030"

        store = FactStore(tmp / "data")
        t0 = time.perf_counter()
        first = store.apply([parsed.table])
        t_store = time.perf_counter() - t0
        assert first.inserted == lines, first

        t0 = time.perf_counter()
        again = read_orders(csv_path, lookup=lookup)
        second = store.apply([again.table])
        t_again = time.perf_counter() - t0
        assert (second.inserted, second.updated, second.unchanged, second.months) == (0, 0, lines, []), second

        t0 = time.perf_counter()
        table = naive(csv_path, retailers, products)
        t_naive_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        order = np.lexsort(
            (table["product_id"].to_numpy(), table["retailer_id"].to_numpy(), table["order_date"].to_numpy())
        )
        write_month_file(table.take(pa.array(order)), tmp / "naive" / "part-0.parquet")
        t_naive_store = time.perf_counter() - t0
        assert table.num_rows == lines

        total = t_read + t_store
        naive_total = t_naive_read + t_naive_store
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"lines                     {lines:>12,}")
        print(f"read + validate           {t_read:>9.2f} s   ({lines / t_read:,.0f} lines/s)")
        print(f"store (empty data dir)    {t_store:>9.2f} s")
        print(f"import total              {total:>9.2f} s   (goal <= 20 s)")
        print(f"same file again           {t_again:>9.2f} s   (0 inserted, {second.unchanged:,} unchanged, no rewrite)")
        print(f"naive read + validate     {t_naive_read:>9.2f} s")
        print(f"naive total (with store)  {naive_total:>9.2f} s")
        print(f"speed-up read + validate  {t_naive_read / t_read:>9.1f} x")
        print(f"speed-up total            {naive_total / total:>9.1f} x")
        print(f"peak RSS                  {rss:>9.0f} MB")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
