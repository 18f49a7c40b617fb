"""A small department with people, routes, shops on a map and 14 months of orders, for the work-method tests.

    w = build_work_world()          # inside a test with the db (and the per-test data directory from conftest)
    w.cm1, w.cm2, w.cm3, w.head, w.clerk, w.centre, w.inspector
    w.route1 (cm1, 12 shops), w.route2 (cm2, 6 shops), w.route3 (cm3, branch B, 3 shops)
    w.shops1[i] (route1's retailers in visit order), w.products["hard"], ...

Branch A's department A-D: head; area A-1 with cm1's route R1, area A-2 with cm2's route R2. Branch B: cm3's route R3.
Shops of R1 stand 300 m apart eastwards from (27.500000, 110.000000); each has a tier (1, 4, 7 … 34 capped at 30).

Orders (every shop orders once a week on the route's order day, Tuesdays), 2025-09 to 2026-10:
* every shop buys 10 cartons of 红塔山(硬) (key brand, 三类) and 4 of 芙蓉王(硬) (key brand, 二类) a week;
* shop R1-03 stops ordering after 2026-08 (``STOPPED``);
* shop R1-05 buys half as much from 2026-09 (``FALLING``);
* shop R1-07 orders 60 cartons of 红塔山 in one week of 2026-10 (``SPIKE``);
* R2's shops buy 5 cartons of 白沙(软) (五类) a week on top.
All amounts are supplied × wholesale price; allotted = demanded = ordered = supplied.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from cmdesk.analytics.layout import ORDER_SCHEMA, month_label, order_file
from cmdesk.core.tests.factories import (
    OrgTree,
    ProductFactory,
    RetailerFactory,
    RouteFactory,
    StaffFactory,
    build_org_tree,
)
from cmdesk.kpi.refresh import refresh_all
from cmdesk.org.choices import Role
from cmdesk.retail.choices import MarketType

FIRST_MONTH = dt.date(2025, 9, 1)
LAST_DAY = dt.date(2026, 10, 31)
ORIGIN = (Decimal("27.500000"), Decimal("110.000000"))
STEP_LON = Decimal("0.003040")  # ≈ 300 m east at latitude 27.5
STOPPED, FALLING, SPIKE = 2, 4, 6  # indexes into shops1 (R1-03, R1-05, R1-07)
SPIKE_DAY = dt.date(2026, 10, 13)


@dataclass
class WorkWorld:
    tree: OrgTree
    head: object
    clerk: object
    centre: object
    inspector: object
    cm1: object
    cm2: object
    cm3: object
    route1: object
    route2: object
    route3: object
    shops1: list
    shops2: list
    shops3: list
    products: dict = field(default_factory=dict)


def _tuesdays(start: dt.date, end: dt.date) -> list[dt.date]:
    day = start + dt.timedelta(days=(1 - start.weekday()) % 7)
    out = []
    while day <= end:
        out.append(day)
        day += dt.timedelta(days=7)
    return out


def write_orders(lines: list[dict]) -> None:
    """Write order lines (dicts of ORDER_SCHEMA's fields) as month files and refresh dims and aggregates."""
    by_month: dict[str, list[dict]] = {}
    for line in lines:
        by_month.setdefault(month_label(line["order_date"]), []).append(line)
    for month, rows in by_month.items():
        path = order_file(settings.CMDESK_DATA_DIR, month)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.sort(key=lambda x: (x["order_date"], x["retailer_id"], x["product_id"]))
        pq.write_table(pa.Table.from_pylist(rows, schema=ORDER_SCHEMA), path)
    refresh_all(full=True)


def build_work_world(orders: bool = True) -> WorkWorld:
    tree = build_org_tree()
    head = StaffFactory(role=Role.HEAD, org_unit=tree.dept_a, employee_no="head-a", name="主任甲")
    clerk = StaffFactory(role=Role.CLERK, org_unit=tree.dept_a, employee_no="clerk-a", name="内勤甲")
    centre = StaffFactory(role=Role.CENTRE, org_unit=tree.centre, employee_no="centre", name="中心")
    inspector = StaffFactory(role=Role.INSPECTOR, org_unit=tree.dept_a, employee_no="insp-a", name="市管员甲")
    cm1 = StaffFactory(role=Role.CM, org_unit=tree.area_a1, employee_no="cm1", name="张一")
    cm2 = StaffFactory(role=Role.CM, org_unit=tree.area_a2, employee_no="cm2", name="李二")
    cm3 = StaffFactory(role=Role.CM, org_unit=tree.area_b1, employee_no="cm3", name="王三")
    route1 = RouteFactory(org_unit=tree.area_a1, cm=cm1, code="R1", name="一线", order_weekdays=[1])
    route2 = RouteFactory(org_unit=tree.area_a2, cm=cm2, code="R2", name="二线", order_weekdays=[1])
    route3 = RouteFactory(org_unit=tree.area_b1, cm=cm3, code="R3", name="三线", order_weekdays=[1])

    def shops(route, n, prefix, licence_base, lat_offset):
        out = []
        for i in range(n):
            out.append(
                RetailerFactory(
                    route=route,
                    licence_no=f"{licence_base + i:012d}",
                    shop_name=f"{prefix}{i + 1:02d}号店",
                    latitude=ORIGIN[0] + lat_offset,
                    longitude=ORIGIN[1] + STEP_LON * i,
                    tier=min(30, 1 + 3 * i),
                    visit_order=i + 1,
                    market_type=MarketType.URBAN if i % 2 == 0 else MarketType.RURAL,
                )
            )
        return out

    shops1 = shops(route1, 12, "一线", 430100000001, Decimal("0"))
    shops2 = shops(route2, 6, "二线", 430100000101, Decimal("0.05"))
    shops3 = shops(route3, 3, "三线", 430200000001, Decimal("0.20"))
    products = {
        "hard": ProductFactory(
            code="6901028000001",
            name="红塔山(硬)",
            brand="红塔山",
            key_brand=True,
            provincial=False,
            wholesale_price=Decimal("50.00"),
            retail_price=Decimal("60.00"),
        ),
        "furong": ProductFactory(
            code="6901028000002",
            name="芙蓉王(硬)",
            brand="芙蓉王",
            key_brand=True,
            provincial=True,
            wholesale_price=Decimal("85.00"),
            retail_price=Decimal("100.00"),
        ),
        "baisha": ProductFactory(
            code="6901028000003",
            name="白沙(软)",
            brand="白沙",
            key_brand=False,
            provincial=True,
            wholesale_price=Decimal("12.00"),
            retail_price=Decimal("15.00"),
        ),
    }
    world = WorkWorld(
        tree, head, clerk, centre, inspector, cm1, cm2, cm3, route1, route2, route3, shops1, shops2, shops3, products
    )
    if orders:
        write_orders(world_orders(world))
    return world


def world_orders(w: WorkWorld) -> list[dict]:
    lines: list[dict] = []
    order_id = 0

    def line(day, shop, product, cartons):
        nonlocal order_id
        order_id += 1
        lines.append(
            dict(
                order_date=day,
                order_id=order_id,
                retailer_id=shop.pk,
                licence=shop.licence_no,
                product_id=product.pk,
                product_code=product.code,
                demanded=cartons,
                allotted=cartons,
                ordered=cartons,
                supplied=cartons,
                amount=round(cartons * float(product.wholesale_price), 2),
                channel="online",
            )
        )

    hard, furong, baisha = w.products["hard"], w.products["furong"], w.products["baisha"]
    for day in _tuesdays(FIRST_MONTH, LAST_DAY):
        for i, shop in enumerate(w.shops1):
            if i == STOPPED and day >= dt.date(2026, 9, 1):
                continue
            factor = 0.5 if i == FALLING and day >= dt.date(2026, 9, 1) else 1
            line(day, shop, hard, 60 if (i == SPIKE and day == SPIKE_DAY) else int(10 * factor))
            line(day, shop, furong, int(4 * factor))
        for shop in w.shops2 + w.shops3:
            line(day, shop, hard, 10)
            line(day, shop, furong, 4)
            if shop in w.shops2:
                line(day, shop, baisha, 5)
    return lines
