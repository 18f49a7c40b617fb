"""A small golden dataset whose every indicator is computed by hand in the tests (test_engine, test_parity).

Org: branch B1 (dept D1: area A1 with route RA of CM 1, area A2 with route RB of CM 2) and branch B2 (route RC of
CM 3). Retailers 1 and 2 on RA, 3 on RB, 4 on RC (opened 2026-10-20), 5 on RC (closed 2025-01-31).
Products: P1 一类 provincial 120.00, P2 三类 50.00, P3 五类 provincial scarce 10.00.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cmdesk.analytics.layout import (
    ORDER_SCHEMA,
    PRODUCT_DIM_SCHEMA,
    RETAILER_DIM_SCHEMA,
    dim_file,
    month_label,
    order_file,
)

D = dt.date

ROUTES = {
    "RA": dict(route_id=10, route_name="A线", cm_id=1, cm_code="cm1", cm_name="甲", org_path="00010001000100010001",
               area_code="A1", area_name="一片", dept_code="D1", dept_name="一部",
               branch_code="B1", branch_name="一分"),
    "RB": dict(route_id=11, route_name="B线", cm_id=2, cm_code="cm2", cm_name="乙", org_path="00010001000100020001",
               area_code="A2", area_name="二片", dept_code="D1", dept_name="一部",
               branch_code="B1", branch_name="一分"),
    "RC": dict(route_id=12, route_name="C线", cm_id=3, cm_code="cm3", cm_name="丙", org_path="00010002000100010001",
               area_code="A3", area_name="三片", dept_code="D2", dept_name="二部",
               branch_code="B2", branch_name="二分"),
}
# path of branch B1's subtree (for scope tests)
B1_PATH = "00010001"

RETAILERS = [
    # id, route, name, market, format, order method, tier, opened, closed
    (1, "RA", "一号店", "urban", "grocery", "online", 20, None, None),
    (2, "RA", "二号店", "rural", "grocery", "phone", 8, None, None),
    (3, "RB", "三号店", "urban", "convenience", "online", 15, None, None),
    (4, "RC", "四号店", "rural", "tobacco_liquor", "mobile", 5, D(2026, 10, 20), None),
    (5, "RC", "五号店", "rural", "grocery", "phone", 3, None, D(2025, 1, 31)),
]
PRODUCTS = [
    # id, code, name, brand, class rank, class name, provincial, key, scarce, price
    (101, "P1", "一号烟", "甲牌", 1, "一类", True, True, False, 120.0),
    (102, "P2", "二号烟", "乙牌", 3, "三类", False, False, False, 50.0),
    (103, "P3", "三号烟", "甲牌", 5, "五类", True, False, True, 10.0),
]
PRICE = {p[0]: p[9] for p in PRODUCTS}
CODE = {p[0]: p[1] for p in PRODUCTS}

# date, retailer, channel, [(product, demanded, allotted, ordered, supplied)]
ORDERS = [
    (D(2025, 10, 6), 1, "online", [(101, 2, 3, 2, 2), (102, 5, 10, 5, 5)]),
    (D(2025, 10, 8), 3, "phone", [(102, 4, 10, 4, 4)]),
    (D(2026, 9, 7), 1, "online", [(101, 1, 3, 1, 1)]),
    (D(2026, 9, 7), 2, "phone", [(102, 3, 10, 3, 3)]),
    (D(2026, 10, 5), 1, "online", [(101, 3, 3, 3, 3), (102, 6, 10, 6, 6)]),
    (D(2026, 10, 12), 1, "online", [(103, 5, 2, 2, 2)]),
    (D(2026, 10, 5), 2, "phone", [(102, 4, 10, 4, 3)]),
    (D(2026, 10, 7), 3, "online", [(101, 1, 3, 1, 1), (103, 2, 2, 2, 2)]),
    (D(2026, 10, 21), 4, "mobile", [(102, 2, 10, 2, 2)]),
]


def build_golden(data_dir: Path) -> None:
    data_dir = Path(data_dir)
    rows = []
    for rid, route, name, market, fmt, method, tier, opened, closed in RETAILERS:
        rt = ROUTES[route]
        rows.append(
            dict(
                retailer_id=rid, licence=f"4400000000{rid:02d}", retailer_name=name, route_id=rt["route_id"],
                route_code=route, route_name=rt["route_name"], cm_id=rt["cm_id"], cm_code=rt["cm_code"],
                cm_name=rt["cm_name"], org_path=rt["org_path"], area_code=rt["area_code"], area_name=rt["area_name"],
                dept_code=rt["dept_code"], dept_name=rt["dept_name"], branch_code=rt["branch_code"],
                branch_name=rt["branch_name"], market_type=market, business_format=fmt, order_method=method,
                tier=tier, status="normal" if closed is None else "closed", opened_on=opened, closed_on=closed,
            )
        )
    path = dim_file(data_dir, "retailers")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=RETAILER_DIM_SCHEMA), path)
    prows = [
        dict(product_id=pid, product_code=code, product_name=name, brand=brand, class_rank=rank, class_name=cname,
             provincial=prov, key_brand=key, scarce=scarce, wholesale_price=price, status="on_sale", launched_on=None)
        for pid, code, name, brand, rank, cname, prov, key, scarce, price in PRODUCTS
    ]
    pq.write_table(pa.Table.from_pylist(prows, schema=PRODUCT_DIM_SCHEMA), dim_file(data_dir, "products"))

    lines: dict[str, list[dict]] = {}
    for n, (day, rid, channel, items) in enumerate(sorted(ORDERS, key=lambda o: (o[0], o[1])), start=1):
        for pid, dem, allot, ordd, sup in items:
            lines.setdefault(month_label(day), []).append(
                dict(order_date=day, order_id=n, retailer_id=rid, licence=f"4400000000{rid:02d}", product_id=pid,
                     product_code=CODE[pid], demanded=dem, allotted=allot, ordered=ordd, supplied=sup,
                     amount=round(sup * PRICE[pid], 2), channel=channel)
            )
    for month, rows_ in lines.items():
        path = order_file(data_dir, month)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows_.sort(key=lambda r: (r["order_date"], r["retailer_id"], r["product_id"]))
        pq.write_table(pa.Table.from_pylist(rows_, schema=ORDER_SCHEMA), path)
