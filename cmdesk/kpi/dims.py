"""Dimension snapshots for the KPI engine: the records (retailers with their route, CM and org units; products with
their price class) written as Parquet under the data directory, in the schemas of cmdesk.analytics.layout."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db.models import Max

from cmdesk.analytics.layout import PRODUCT_DIM_SCHEMA, RETAILER_DIM_SCHEMA, dim_file
from cmdesk.catalog.models import Product
from cmdesk.org.choices import OrgKind
from cmdesk.org.models import OrgUnit
from cmdesk.retail.models import Retailer

KIND_COLUMNS = {OrgKind.AREA: "area", OrgKind.DEPARTMENT: "dept", OrgKind.BRANCH: "branch"}


def _data_dir(data_dir: Path | None) -> Path:
    return Path(data_dir or settings.CMDESK_DATA_DIR)


def _write(table: pa.Table, path: Path, as_of_ns: int) -> None:
    """Write atomically, with the file's modification time set to ``as_of_ns``: the moment the records were read, which
    :func:`dims_stale` compares with the records' change times (the file system's own clock is coarser, and a change
    made while the records were being read is not in the snapshot)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.utime(tmp, ns=(as_of_ns, as_of_ns))
    tmp.replace(path)


def export_dims(data_dir: Path | None = None) -> dict[str, int]:
    """Write dims/retailers.parquet and dims/products.parquet from the records; returns the row counts."""
    data_dir = _data_dir(data_dir)
    as_of_ns = time.time_ns()  # before the first read: a change from now on makes the snapshots stale
    units = {u["path"]: u for u in OrgUnit.objects.values("id", "path", "code", "name", "kind")}
    steplen = OrgUnit.steplen

    def levels(path: str) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for k in KIND_COLUMNS.values():
            out[f"{k}_code"] = out[f"{k}_name"] = None
        for end in range(steplen, len(path) + 1, steplen):
            unit = units.get(path[:end])
            col = unit and KIND_COLUMNS.get(unit["kind"])
            if col:
                out[f"{col}_code"], out[f"{col}_name"] = unit["code"], unit["name"]
        return out

    cache: dict[str, dict] = {}
    rows = []
    qs = Retailer.objects.values(
        "id", "licence_no", "shop_name", "route_id", "route__code", "route__name", "route__cm_id",
        "route__cm__employee_no", "route__cm__name", "route__org_unit__path", "market_type", "business_format",
        "order_method", "tier", "status", "opened_on", "closed_on",
    ).order_by("id")
    for r in qs.iterator(chunk_size=5000):
        path = r["route__org_unit__path"]
        if path not in cache:
            cache[path] = levels(path)
        rows.append(
            {
                "retailer_id": r["id"], "licence": r["licence_no"], "retailer_name": r["shop_name"],
                "route_id": r["route_id"], "route_code": r["route__code"], "route_name": r["route__name"],
                "cm_id": r["route__cm_id"], "cm_code": r["route__cm__employee_no"], "cm_name": r["route__cm__name"],
                "org_path": path, **cache[path], "market_type": r["market_type"],
                "business_format": r["business_format"], "order_method": r["order_method"], "tier": r["tier"],
                "status": r["status"], "opened_on": r["opened_on"], "closed_on": r["closed_on"],
            }
        )
    _write(pa.Table.from_pylist(rows, schema=RETAILER_DIM_SCHEMA), dim_file(data_dir, "retailers"), as_of_ns)

    prows = [
        {
            "product_id": p["id"], "product_code": p["code"], "product_name": p["name"], "brand": p["brand"],
            "class_rank": p["price_class__rank"], "class_name": p["price_class__name"],
            "provincial": p["provincial"], "key_brand": p["key_brand"], "scarce": p["scarce"],
            "wholesale_price": float(p["wholesale_price"]), "status": p["status"], "launched_on": p["launched_on"],
        }
        for p in Product.objects.values(
            "id", "code", "name", "brand", "price_class__rank", "price_class__name", "provincial", "key_brand",
            "scarce", "wholesale_price", "status", "launched_on",
        ).order_by("id")
    ]
    _write(pa.Table.from_pylist(prows, schema=PRODUCT_DIM_SCHEMA), dim_file(data_dir, "products"), as_of_ns)
    return {"retailers": len(rows), "products": len(prows)}


DIM_SOURCE_APPS = ("org", "retail", "catalog")


def dims_stale(data_dir: Path | None = None) -> bool:
    """Have the records changed since the snapshots were written? (A missing snapshot is stale.)"""
    import datetime as dt

    from auditlog.models import LogEntry

    data_dir = _data_dir(data_dir)
    mtimes = []
    for name in ("retailers", "products"):
        path = dim_file(data_dir, name)
        if not path.is_file():
            return True
        mtimes.append(path.stat().st_mtime)
    written = dt.datetime.fromtimestamp(min(mtimes), tz=dt.UTC)
    latest = [
        Retailer.objects.aggregate(m=Max("updated_at"))["m"],
        # only the records the snapshots are made of: work records (plans, visits …) are audited too, and must not
        # make every KPI call after a visit re-export the snapshots
        LogEntry.objects.filter(content_type__app_label__in=DIM_SOURCE_APPS).aggregate(m=Max("timestamp"))["m"],
    ]
    return any(t is not None and t > written for t in latest)
