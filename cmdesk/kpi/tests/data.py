"""Records plus order facts for the Django-side KPI tests: the golden dataset of cmdesk/analytics/tests on real
records (org tree, CMs, routes, retailers, products), so the hand-computed answers there hold here too.

    world = build_world()        # inside a test with the db
    world.cm1, world.route_a, world.retailers[0], world.p2, world.tree.branch_a ...

Branch A (dept A-D): area A-1 route RA of cm1 with retailers 1 and 2; area A-2 route RB of cm2 with retailer 3.
Branch B: area B-1 route RC of cm3 with retailers 4 (opened 2026-10-20) and 5 (closed 2025-01-31).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from cmdesk.analytics.layout import ORDER_SCHEMA, month_label, order_file
from cmdesk.analytics.tests.golden import ORDERS, PRODUCTS
from cmdesk.core.tests.factories import (
    OrgTree,
    ProductFactory,
    RetailerFactory,
    RouteFactory,
    StaffFactory,
    build_org_tree,
)
from cmdesk.org.choices import Role
from cmdesk.retail.choices import MarketType

from ..refresh import refresh_all


@dataclass
class World:
    tree: OrgTree
    cm1: object
    cm2: object
    cm3: object
    route_a: object
    route_b: object
    route_c: object
    retailers: list
    products: dict  # golden product id -> Product


def build_world() -> World:
    tree = build_org_tree()
    cm1 = StaffFactory(role=Role.CM, org_unit=tree.area_a1, employee_no="cm1", name="甲")
    cm2 = StaffFactory(role=Role.CM, org_unit=tree.area_a2, employee_no="cm2", name="乙")
    cm3 = StaffFactory(role=Role.CM, org_unit=tree.area_b1, employee_no="cm3", name="丙")
    ra = RouteFactory(org_unit=tree.area_a1, cm=cm1, code="RA", name="A线")
    rb = RouteFactory(org_unit=tree.area_a2, cm=cm2, code="RB", name="B线")
    rc = RouteFactory(org_unit=tree.area_b1, cm=cm3, code="RC", name="C线")
    retailers = [
        RetailerFactory(route=ra, licence_no="440000000001", shop_name="一号店", market_type=MarketType.URBAN),
        RetailerFactory(route=ra, licence_no="440000000002", shop_name="二号店", market_type=MarketType.RURAL),
        RetailerFactory(route=rb, licence_no="440000000003", shop_name="三号店"),
        RetailerFactory(route=rc, licence_no="440000000004", shop_name="四号店", opened_on=dt.date(2026, 10, 20)),
        RetailerFactory(
            route=rc, licence_no="440000000005", shop_name="五号店", status="closed", closed_on=dt.date(2025, 1, 31)
        ),
    ]
    products = {}
    for pid, code, name, brand, _rank, _cname, prov, key, scarce, price in PRODUCTS:
        products[pid] = ProductFactory(
            code=code, name=name, brand=brand, provincial=prov, key_brand=key, scarce=scarce,
            wholesale_price=Decimal(str(price)), retail_price=Decimal(str(price * 1.2)).quantize(Decimal("0.01")),
        )
    rid = {n + 1: r.pk for n, r in enumerate(retailers)}
    lic = {n + 1: r.licence_no for n, r in enumerate(retailers)}
    by_month: dict[str, list[dict]] = {}
    for n, (day, r, channel, items) in enumerate(sorted(ORDERS, key=lambda o: (o[0], o[1])), start=1):
        for pid, dem, allot, ordd, sup in items:
            p = products[pid]
            by_month.setdefault(month_label(day), []).append(
                dict(order_date=day, order_id=n, retailer_id=rid[r], licence=lic[r], product_id=p.pk,
                     product_code=p.code, demanded=dem, allotted=allot, ordered=ordd, supplied=sup,
                     amount=round(sup * float(p.wholesale_price), 2), channel=channel)
            )
    for month, rows in by_month.items():
        path = order_file(settings.CMDESK_DATA_DIR, month)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.sort(key=lambda x: (x["order_date"], x["retailer_id"], x["product_id"]))
        pq.write_table(pa.Table.from_pylist(rows, schema=ORDER_SCHEMA), path)
    refresh_all(full=True)
    return World(tree, cm1, cm2, cm3, ra, rb, rc, retailers, products)
