"""A small world for the tier and class tests, with figures simple enough to work out by hand.

    w = build_tier_world()     # inside a test with the db (and conftest's per-test data directory)

Branch A: cm1's route R1 (area A-1) has shops ``w.shops[0..9]``, cm2's route R2 (area A-2) has ``w.shops[10..11]``;
cm3's route R3 in branch B has no shops. The city default scheme is set to 4 tiers, no step limit.

Orders 2026-08 … 2026-10 (13 Tuesdays; the window has 14 calendar weeks): shop i buys ``10 × (i + 1)`` cartons of one
product at 50 yuan every Tuesday, so its monthly average is ``10 × (i + 1) × 13 ÷ 3`` cartons and 50 yuan a carton.
All shops have the same floor area (30 m²), 2 fixtures, grocery format: their operating ability ties, so each one's
normalised ability is 0.5 and the score is ``0.5 × i/11 + 0.3 × i/11 + 0.2 × 0.5 = 0.8 × i/11 + 0.1``.
With 4 tiers of 3: shops 9–11 → D4, 6–8 → D3, 3–5 → D2, 0–2 → D1.

``w.newcomer`` opened 2026-09-15 (35 m², grocery, 2 fixtures, online transfer: 10 + 5 + 10 + 5 = 30 points);
``w.quiet`` opened long ago and bought nothing in the window (other format, no area, cash: 0 points).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from cmdesk.core.tests.factories import (
    OrgTree,
    ProductFactory,
    RetailerFactory,
    RouteFactory,
    StaffFactory,
    build_org_tree,
)
from cmdesk.org.choices import Role
from cmdesk.retail.choices import BusinessFormat, MarketType, SettlementMethod
from cmdesk.retail.models import Retailer
from cmdesk.supply.services.tiers import city_default
from cmdesk.work.tests.world import write_orders

AS_OF = dt.date(2026, 10, 31)
FIRST = dt.date(2026, 8, 1)
PRICE = Decimal("50.00")


@dataclass
class TierWorld:
    tree: OrgTree
    cm1: object
    cm2: object
    cm3: object
    head: object
    centre: object
    inspector: object
    shops: list
    newcomer: object
    quiet: object
    product: object


def tuesdays(start: dt.date, end: dt.date) -> list[dt.date]:
    day = start + dt.timedelta(days=(1 - start.weekday()) % 7)
    out = []
    while day <= end:
        out.append(day)
        day += dt.timedelta(days=7)
    return out


def build_tier_world() -> TierWorld:
    tree = build_org_tree()
    head = StaffFactory(role=Role.HEAD, org_unit=tree.dept_a, employee_no="head-a")
    centre = StaffFactory(role=Role.CENTRE, org_unit=tree.centre, employee_no="centre")
    inspector = StaffFactory(role=Role.INSPECTOR, org_unit=tree.dept_a, employee_no="insp-a")
    cm1 = StaffFactory(role=Role.CM, org_unit=tree.area_a1, employee_no="cm1")
    cm2 = StaffFactory(role=Role.CM, org_unit=tree.area_a2, employee_no="cm2")
    cm3 = StaffFactory(role=Role.CM, org_unit=tree.area_b1, employee_no="cm3")
    r1 = RouteFactory(org_unit=tree.area_a1, cm=cm1, code="R1")
    r2 = RouteFactory(org_unit=tree.area_a2, cm=cm2, code="R2")
    RouteFactory(org_unit=tree.area_b1, cm=cm3, code="R3")
    common = dict(
        floor_area=Decimal("30.0"),
        display_fixtures=2,
        business_format=BusinessFormat.GROCERY,
        opened_on=dt.date(2020, 1, 1),
        tier=2,
    )
    shops = [
        RetailerFactory(
            route=r1 if i < 10 else r2,
            licence_no=f"4301000{i + 1:05d}",
            shop_name=f"档位{i + 1:02d}号店",
            market_type=MarketType.URBAN if i % 2 == 0 else MarketType.RURAL,
            **common,
        )
        for i in range(12)
    ]
    newcomer = RetailerFactory(
        route=r1,
        licence_no="430100099001",
        floor_area=Decimal("35.0"),
        display_fixtures=2,
        business_format=BusinessFormat.GROCERY,
        settlement_method=SettlementMethod.ONLINE_TRANSFER,
        opened_on=dt.date(2026, 9, 15),
        tier=1,
    )
    quiet = RetailerFactory(
        route=r2,
        licence_no="430100099002",
        floor_area=None,
        display_fixtures=None,
        business_format=BusinessFormat.OTHER,
        settlement_method=SettlementMethod.CASH,
        opened_on=dt.date(2019, 1, 1),
        tier=3,
    )
    product = ProductFactory(code="6901028099001", name="档位(硬)", wholesale_price=PRICE, retail_price=Decimal("60"))
    scheme = city_default()
    scheme.tier_count = 4
    scheme.max_step = 0
    scheme.save()
    lines = []
    order_id = 0
    for day in tuesdays(FIRST, AS_OF):
        for i, shop in enumerate(shops):
            order_id += 1
            cartons = 10 * (i + 1)
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
                    amount=float(cartons * PRICE),
                    channel="online",
                )
            )
        if day >= dt.date(2026, 9, 15):
            order_id += 1
            lines.append(
                dict(
                    order_date=day,
                    order_id=order_id,
                    retailer_id=newcomer.pk,
                    licence=newcomer.licence_no,
                    product_id=product.pk,
                    product_code=product.code,
                    demanded=5,
                    allotted=5,
                    ordered=5,
                    supplied=5,
                    amount=float(5 * PRICE),
                    channel="online",
                )
            )
    write_orders(lines)
    # a shop without a tier yet (after the dimension export, which wants one)
    Retailer.objects.filter(pk=newcomer.pk).update(tier=None)
    newcomer.tier = None
    return TierWorld(tree, cm1, cm2, cm3, head, centre, inspector, shops, newcomer, quiet, product)
