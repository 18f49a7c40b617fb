"""The data directory's layout and the Arrow schemas of everything the KPI engine reads.

This module is the contract between the writers (the demo generator, the order import, the Django side that exports
dimension snapshots) and the engines (DuckDB, Spark). No Django imports here or anywhere in :mod:`cmdesk.analytics`.

::

    DATA_DIR/
      orders/month=YYYY-MM/part-0.parquet      order lines, ORDER_SCHEMA (written by the demo or the import)
      dims/retailers.parquet                   RETAILER_DIM_SCHEMA, one row per retailer (snapshot of the records)
      dims/products.parquet                    PRODUCT_DIM_SCHEMA, one row per product
      aggregates/rpm/month=YYYY-MM/part-0.parquet   RPM_SCHEMA: retailer x product x month
      aggregates/rm/month=YYYY-MM/part-0.parquet    RM_SCHEMA: retailer x month (orders)
      aggregates/state.json                     which order files each aggregate month was built from
      aggregates/qpm/month=YYYY-MM/part-0.parquet   QPM_SCHEMA: route x product x month (the route cube)
      aggregates/qm/month=YYYY-MM/part-0.parquet    QM_SCHEMA: route x month
      aggregates/cubes.json                     what each month's route cubes were built from

The route cubes are ``rpm``/``rm`` summed per route of today's retailer snapshot, with the distinct-retailer counts
(buyers, orderers, repeat buyers) counted per route: a retailer belongs to one route, so these counts add up over
routes, and a query grouped by route-level dimensions (route, CM, area, department, branch; with or without the
product) reads ≈ 100 rows a month instead of ≈ 700,000. They depend on the snapshots (a retailer's route, a product's
provincial flag), so ``cubes.json`` records the files and the snapshot digest they were built from, and the engine
uses them only while those still match.

The ``month=`` directory name is the partition key; aggregate files also carry ``month`` and ``m_idx`` as columns so
that no engine has to infer partition types. ``m_idx = year * 12 + month - 1`` is an integer month index that makes
"previous month" and "same month last year" plain arithmetic on every engine.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa

ORDERS_DIR = "orders"
DIMS_DIR = "dims"
AGG_DIR = "aggregates"
CARTONS_PER_CASE = 250

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

ORDER_SCHEMA = pa.schema(
    [
        pa.field("order_date", pa.date32(), nullable=False),
        pa.field("order_id", pa.int64(), nullable=False),
        pa.field("retailer_id", pa.int64(), nullable=False),
        pa.field("licence", pa.string(), nullable=False),
        pa.field("product_id", pa.int64(), nullable=False),
        pa.field("product_code", pa.string(), nullable=False),
        pa.field("demanded", pa.int32(), nullable=False),
        pa.field("allotted", pa.int32(), nullable=False),
        pa.field("ordered", pa.int32(), nullable=False),
        pa.field("supplied", pa.int32(), nullable=False),
        pa.field("amount", pa.float64(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
    ]
)

RETAILER_DIM_SCHEMA = pa.schema(
    [
        pa.field("retailer_id", pa.int64(), nullable=False),
        pa.field("licence", pa.string(), nullable=False),
        pa.field("retailer_name", pa.string(), nullable=False),
        pa.field("route_id", pa.int64(), nullable=False),
        pa.field("route_code", pa.string(), nullable=False),
        pa.field("route_name", pa.string(), nullable=False),
        pa.field("cm_id", pa.int64()),  # the route's customer manager (Staff id) today; null if unassigned
        pa.field("cm_code", pa.string()),  # Staff.employee_no
        pa.field("cm_name", pa.string()),
        pa.field("org_path", pa.string(), nullable=False),  # the route's org unit path (treebeard), for scope
        pa.field("area_code", pa.string()),  # market area (片区) above the route, if any
        pa.field("area_name", pa.string()),
        pa.field("dept_code", pa.string()),  # customer-service department (客服部)
        pa.field("dept_name", pa.string()),
        pa.field("branch_code", pa.string()),  # county branch (县级分公司)
        pa.field("branch_name", pa.string()),
        pa.field("market_type", pa.string(), nullable=False),  # urban | rural
        pa.field("business_format", pa.string(), nullable=False),
        pa.field("order_method", pa.string(), nullable=False),
        pa.field("tier", pa.int32()),  # null until the retailer is first tiered
        pa.field("status", pa.string(), nullable=False),
        pa.field("opened_on", pa.date32()),
        pa.field("closed_on", pa.date32()),
    ]
)

PRODUCT_DIM_SCHEMA = pa.schema(
    [
        pa.field("product_id", pa.int64(), nullable=False),
        pa.field("product_code", pa.string(), nullable=False),
        pa.field("product_name", pa.string(), nullable=False),
        pa.field("brand", pa.string(), nullable=False),
        pa.field("class_rank", pa.int32()),  # 1 = 一类 … 5 = 五类; null when no price band contains the price
        pa.field("class_name", pa.string()),
        pa.field("provincial", pa.bool_(), nullable=False),
        pa.field("key_brand", pa.bool_(), nullable=False),
        pa.field("scarce", pa.bool_(), nullable=False),
        pa.field("wholesale_price", pa.float64(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # pending | on_sale | discontinued
        pa.field("launched_on", pa.date32()),
    ]
)

RPM_SCHEMA = pa.schema(
    [
        pa.field("month", pa.string(), nullable=False),
        pa.field("m_idx", pa.int32(), nullable=False),
        pa.field("retailer_id", pa.int64(), nullable=False),
        pa.field("product_id", pa.int64(), nullable=False),
        pa.field("lines", pa.int64(), nullable=False),  # order lines = orders that contain the product
        pa.field("online_lines", pa.int64(), nullable=False),
        pa.field("demanded", pa.int64(), nullable=False),
        pa.field("allotted", pa.int64(), nullable=False),
        pa.field("ordered", pa.int64(), nullable=False),
        pa.field("supplied", pa.int64(), nullable=False),
        pa.field("amount_fen", pa.int64(), nullable=False),  # amount in fen (0.01 yuan): exact sums on every engine
    ]
)

RM_SCHEMA = pa.schema(
    [
        pa.field("month", pa.string(), nullable=False),
        pa.field("m_idx", pa.int32(), nullable=False),
        pa.field("retailer_id", pa.int64(), nullable=False),
        pa.field("orders", pa.int64(), nullable=False),
        pa.field("online_orders", pa.int64(), nullable=False),
    ]
)

# route × product × month: sums over the route's retailers; buyers/orderers/repeat_buyers count its retailers
_CUBE_SUMS = [
    pa.field("demanded", pa.int64(), nullable=False),
    pa.field("allotted", pa.int64(), nullable=False),
    pa.field("ordered", pa.int64(), nullable=False),
    pa.field("cartons", pa.int64(), nullable=False),  # Σ supplied
    pa.field("amount_fen", pa.int64(), nullable=False),
    pa.field("buyers", pa.int64(), nullable=False),  # retailers with supplied > 0
    pa.field("orderers", pa.int64(), nullable=False),  # retailers with ordered > 0
    pa.field("repeat_buyers", pa.int64(), nullable=False),  # … that also bought (the product) the month before
    pa.field("pairs_allotted", pa.int64(), nullable=False),
    pa.field("pairs_full", pa.int64(), nullable=False),
    pa.field("pairs_ordering", pa.int64(), nullable=False),
]
QPM_SCHEMA = pa.schema(
    [
        pa.field("month", pa.string(), nullable=False),
        pa.field("m_idx", pa.int32(), nullable=False),
        pa.field("route_id", pa.int64(), nullable=False),
        pa.field("product_id", pa.int64(), nullable=False),
        pa.field("lines", pa.int64(), nullable=False),
        pa.field("online_lines", pa.int64(), nullable=False),
        *_CUBE_SUMS,
    ]
)
# route × month over the products of the snapshot (the retailer-level counts are not sums of the product rows)
QM_SCHEMA = pa.schema(
    [
        pa.field("month", pa.string(), nullable=False),
        pa.field("m_idx", pa.int32(), nullable=False),
        pa.field("route_id", pa.int64(), nullable=False),
        *_CUBE_SUMS,
        pa.field("prov_cartons", pa.int64(), nullable=False),
        pa.field("orders", pa.int64(), nullable=False),
        pa.field("online_orders", pa.int64(), nullable=False),
    ]
)


def month_label(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def m_idx(label: str) -> int:
    return int(label[:4]) * 12 + int(label[5:7]) - 1


def month_of_idx(idx: int) -> str:
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def order_file(data_dir: Path, month: str) -> Path:
    return Path(data_dir) / ORDERS_DIR / f"month={month}" / "part-0.parquet"


def agg_file(data_dir: Path, table: str, month: str) -> Path:
    return Path(data_dir) / AGG_DIR / table / f"month={month}" / "part-0.parquet"


def dim_file(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / DIMS_DIR / f"{name}.parquet"


def order_months(data_dir: Path) -> list[str]:
    """The months that have an order file, sorted."""
    root = Path(data_dir) / ORDERS_DIR
    if not root.is_dir():
        return []
    out = []
    for child in root.iterdir():
        name = child.name
        if name.startswith("month=") and MONTH_RE.match(name[6:]) and (child / "part-0.parquet").is_file():
            out.append(name[6:])
    return sorted(out)
