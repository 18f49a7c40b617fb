"""Shared fixtures of the order-import tests: a small world of retailers and products, and file writers."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest

from cmdesk.core.tests.factories import ProductFactory, RetailerFactory, RouteFactory, StaffFactory, build_org_tree
from cmdesk.org.choices import Role

HEADER = "订货日期,专卖许可证号,卷烟编码,需求数量(条),合理定量(条),订货数量(条),供货数量(条),金额(元),订货方式"
LIC_A, LIC_B, LIC_C = "430100000001", "430100000002", "430100000003"
CODE_X, CODE_Y = "6901028000001", "6901028000002"


@pytest.fixture
def world(db):
    tree = build_org_tree()
    cm = StaffFactory(role=Role.CM, org_unit=tree.area_a1)
    route = RouteFactory(org_unit=tree.area_a1, cm=cm)
    return SimpleNamespace(
        tree=tree,
        cm=cm,
        route=route,
        a=RetailerFactory(route=route, licence_no=LIC_A),
        b=RetailerFactory(route=route, licence_no=LIC_B),
        c=RetailerFactory(route=route, licence_no=LIC_C),
        x=ProductFactory(code=CODE_X),
        y=ProductFactory(code=CODE_Y),
    )


def csv_bytes(*rows: str, header: str = HEADER, encoding: str = "gbk") -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode(encoding)


def write_csv(folder: Path, name: str, *rows: str, encoding: str = "gbk") -> Path:
    path = folder / name
    path.write_bytes(csv_bytes(*rows, encoding=encoding))
    return path


def xlsx_bytes(*rows: list) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["订货日期", "许可证号", "商品编码", "需求量", "限量", "订货量", "供货量", "订货金额", "渠道"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def store_snapshot(data_dir: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and modification time of every stored order file."""
    root = Path(data_dir) / "orders"
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*.parquet"))}


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
