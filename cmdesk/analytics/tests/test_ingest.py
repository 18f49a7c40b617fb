"""Reading and validating order files (no Django, no database)."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from cmdesk.analytics.ingest import (
    ORDER_ID_RETAILER_FACTOR,
    REASONS,
    Lookup,
    normalize_header,
    read_orders,
)
from cmdesk.analytics.layout import ORDER_SCHEMA

LIC_A, LIC_B = "430100000001", "430100000002"
CODE_X, CODE_Y = "6901028000001", "6901028000002"
RETAILERS = {LIC_A: 11, LIC_B: 12}
PRODUCTS = {CODE_X: 101, CODE_Y: 102}
D1003 = (dt.date(2026, 10, 3) - dt.date(1970, 1, 1)).days

CN_HEADER = "订货日期,许可证号,卷烟编码,需求量(条),合理定量（条）,订货量,供货量,金额(元),订货方式"


@pytest.fixture
def lookup():
    return Lookup.build(RETAILERS, PRODUCTS)


def rows_of(parsed):
    return parsed.table.to_pylist()


def errors_of(parsed):
    return [(e.row, e.column, e.field, e.value, e.code) for e in parsed.errors]


def line(date, lic, code, demanded, allotted, ordered, supplied, amount, channel, order_id=None, retailer=None):
    retailer = retailer or RETAILERS[lic]
    days = (date - dt.date(1970, 1, 1)).days
    return {
        "order_date": date,
        "order_id": order_id if order_id is not None else retailer * ORDER_ID_RETAILER_FACTOR + days,
        "retailer_id": retailer,
        "licence": lic,
        "product_id": PRODUCTS[code],
        "product_code": code,
        "demanded": demanded,
        "allotted": allotted,
        "ordered": ordered,
        "supplied": supplied,
        "amount": amount,
        "channel": channel,
    }


def test_gbk_csv_with_chinese_headers(lookup):
    text = "\r\n".join(
        [
            CN_HEADER,
            f"2026-10-03,{LIC_A},{CODE_X},5,4,4,4,340.00,网上订货",
            f"2026/10/3,{LIC_B},{CODE_Y},3,10,3,2,170,电话订货",
            f'20261010,{LIC_A},{CODE_Y},12,10,11,11,"1,255.50",手机订货',  # ordered > allotted is allowed
            f" 2026-10-10 , {LIC_B} ,{CODE_X},1,1,1,1,85.5, 其他 ",
        ]
    )
    parsed = read_orders(text.encode("gbk"), name="十月订单.csv", lookup=lookup)
    assert parsed.encoding == "gb18030"
    assert parsed.errors == [] and parsed.error_count == 0 and parsed.rows == 4
    assert parsed.table.schema == ORDER_SCHEMA
    assert rows_of(parsed) == [
        line(dt.date(2026, 10, 3), LIC_A, CODE_X, 5, 4, 4, 4, 340.0, "online"),
        line(dt.date(2026, 10, 3), LIC_B, CODE_Y, 3, 10, 3, 2, 170.0, "phone"),
        line(dt.date(2026, 10, 10), LIC_A, CODE_Y, 12, 10, 11, 11, 1255.5, "mobile"),
        line(dt.date(2026, 10, 10), LIC_B, CODE_X, 1, 1, 1, 1, 85.5, "other"),
    ]
    assert (parsed.first_date, parsed.last_date) == (dt.date(2026, 10, 3), dt.date(2026, 10, 10))
    assert rows_of(parsed)[0]["order_id"] == 11 * 100_000 + D1003


def test_utf8_bom_english_headers_any_order_and_extra_columns(lookup):
    text = (
        "\ufeffLicence, Product_Code ,Order Date,note,DEMANDED,allotted,ordered,supplied,amount,channel\n"
        f"{LIC_A},{CODE_X},2026-10-03,whatever,2,2,+2,2.0,+170,Online\n"
    )
    parsed = read_orders(text.encode("utf-8"), name="oct.csv", lookup=lookup)
    assert parsed.encoding == "utf-8"
    assert errors_of(parsed) == []
    assert rows_of(parsed) == [line(dt.date(2026, 10, 3), LIC_A, CODE_X, 2, 2, 2, 2, 170.0, "online")]


def test_tab_separated_and_alternative_headers(lookup):
    text = (
        "日期\t专卖许可证号\t商品编码\t需求数量\t限量\t订货数量\t实际供货\t订货金额\t渠道\n"
        f"2026-10-03\t{LIC_A}\t{CODE_X}\t1\t1\t1\t1\t85\tphone\n"
    )
    parsed = read_orders(text.encode("utf-8"), name="x.txt", lookup=lookup)
    assert errors_of(parsed) == []
    assert rows_of(parsed) == [line(dt.date(2026, 10, 3), LIC_A, CODE_X, 1, 1, 1, 1, 85.0, "phone")]


def test_numeric_order_number_is_used_else_derived(lookup):
    text = (
        CN_HEADER + ",订单号\n"
        f"2026-10-03,{LIC_A},{CODE_X},1,1,1,1,85,online,20261003000123\n"
        f"2026-10-03,{LIC_B},{CODE_X},1,1,1,1,85,online,WEB-77\n"
    )
    parsed = read_orders(text.encode("utf-8"), name="x.csv", lookup=lookup)
    assert errors_of(parsed) == []
    assert [r["order_id"] for r in rows_of(parsed)] == [20261003000123, 12 * 100_000 + D1003]


def test_xlsx_with_real_date_cells_and_numbers(lookup):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(
        ["订货日期", "专卖许可证号", "卷烟编码", "需求数量", "合理定量", "订货数量", "供货数量", "金额", "订货方式"]
    )
    sheet.append([dt.datetime(2026, 10, 3), int(LIC_A), int(CODE_X), 5, 4, 4.0, 4, 340.25, "网上订货"])
    sheet.append([None] * 9)  # an empty row: skipped, still counted
    sheet.append([dt.date(2026, 10, 4), LIC_B, CODE_Y, 3, 10, 3, 3, 255, "电话订货"])
    sheet.append(["2026/10/5", LIC_B, CODE_X, 1, 1, 1, 2, 85, "其他"])  # supplied > ordered, on sheet row 5
    buffer = io.BytesIO()
    workbook.save(buffer)

    parsed = read_orders(buffer.getvalue(), name="orders.xlsx", lookup=lookup)
    assert parsed.encoding == "xlsx"
    assert parsed.rows == 3
    assert errors_of(parsed) == [(5, "供货数量", "supplied", "2", "supplied_exceeds_ordered")]
    assert parsed.errors[0].reason == "Supplied (2) exceeds ordered (1)."

    sheet.delete_rows(5)
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = read_orders(buffer.getvalue(), name="orders.xlsx", lookup=lookup)
    assert errors_of(parsed) == []
    assert rows_of(parsed) == [
        line(dt.date(2026, 10, 3), LIC_A, CODE_X, 5, 4, 4, 4, 340.25, "online"),
        line(dt.date(2026, 10, 4), LIC_B, CODE_Y, 3, 10, 3, 3, 255.0, "phone"),
    ]


def test_bad_rows_are_reported_by_row_and_column_and_nothing_is_returned(lookup):
    text = "\n".join(
        [
            CN_HEADER,
            f"2026-10-03,{LIC_A},{CODE_X},5,4,4,4,340.00,网上订货",  # 2: fine
            f"2026-10-32,{LIC_A},{CODE_X},5,4,4,4,340.00,网上订货",  # 3: bad date
            f"2026-10-03,430199999999,{CODE_Y},5,4,4,4,340.00,网上订货",  # 4: unknown licence
            f"2026-10-03,{LIC_B},{CODE_X},-2,4,4,4,340.00,网上订货",  # 5: negative quantity
            f"2026-10-03,{LIC_B},{CODE_Y},5,四,4,4,340.00,网上订货",  # 6: text in a number column
            f"2026-10-04,{LIC_A},6900000000000,5,4,4,,abc,飞鸽",  # 7: unknown product, missing, text, channel
            f"2026-10-05,{LIC_A},{CODE_X},5,4,4,5,1.5,online",  # 8: supplied > ordered
            f"2026-10-05,{LIC_B},{CODE_X},5.5,4,3,2,10,online",  # 9: fraction of a carton
            f"2026-10-03,{LIC_A},{CODE_X},1,1,1,1,85,online",  # 10: duplicate of row 2
        ]
    )
    parsed = read_orders(text.encode("gbk"), name="bad.csv", lookup=lookup)
    assert parsed.table.num_rows == 0
    assert parsed.rows == 9
    assert parsed.error_count == 12
    assert errors_of(parsed) == [
        (2, "卷烟编码", "product_code", CODE_X, "duplicate_line"),
        (3, "订货日期", "order_date", "2026-10-32", "bad_date"),
        (4, "许可证号", "licence", "430199999999", "unknown_licence"),
        (5, "需求量(条)", "demanded", "-2", "negative"),
        (6, "合理定量（条）", "allotted", "四", "not_a_number"),
        (7, "卷烟编码", "product_code", "6900000000000", "unknown_product"),
        (7, "供货量", "supplied", "", "missing"),
        (7, "金额(元)", "amount", "abc", "not_a_number"),
        (7, "订货方式", "channel", "飞鸽", "bad_channel"),
        (8, "供货量", "supplied", "5", "supplied_exceeds_ordered"),
        (9, "需求量(条)", "demanded", "5.5", "not_integer"),
        (10, "卷烟编码", "product_code", CODE_X, "duplicate_line"),
    ]
    reasons = [e.reason for e in parsed.errors]
    assert reasons[0] == "Duplicate line: same order date, licence and product as row 10."
    assert reasons[-1] == "Duplicate line: same order date, licence and product as row 2."
    assert reasons[1] == REASONS["bad_date"]
    assert all(e.file == "bad.csv" for e in parsed.errors)
    assert parsed.errors[0].as_dict() == {
        "file": "bad.csv",
        "row": 2,
        "column": "卷烟编码",
        "field": "product_code",
        "value": CODE_X,
        "code": "duplicate_line",
        "params": {"other_row": 10},
        "reason": "Duplicate line: same order date, licence and product as row 10.",
    }


def test_dates_accepted_and_refused(lookup):
    dates = ["2026-01-05", "2026/1/5", "20260106", "2026-01-07 00:00:00", "2026-02-30", "2026.01.05", "05/01/2026"]
    body = "\n".join(f"{d},{LIC_A},{CODE_X},1,1,1,1,1,online" for d in dates)
    parsed = read_orders((CN_HEADER + "\n" + body).encode("utf-8"), name="d.csv", lookup=lookup)
    assert errors_of(parsed) == [
        (2, "卷烟编码", "product_code", CODE_X, "duplicate_line"),  # 2026/1/5 is 2026-01-05: both rows
        (3, "卷烟编码", "product_code", CODE_X, "duplicate_line"),
        (6, "订货日期", "order_date", "2026-02-30", "bad_date"),
        (7, "订货日期", "order_date", "2026.01.05", "bad_date"),
        (8, "订货日期", "order_date", "05/01/2026", "bad_date"),
    ]
    assert [e.params for e in parsed.errors[:2]] == [{"other_row": 3}, {"other_row": 2}]


def test_numbers_out_of_range_and_negative_amount(lookup):
    text = CN_HEADER + "\n" + f"2026-10-03,{LIC_A},{CODE_X},12345678901,1,1,1,-5,online\n"
    parsed = read_orders(text.encode("utf-8"), name="n.csv", lookup=lookup)
    assert errors_of(parsed) == [
        (2, "需求量(条)", "demanded", "12345678901", "out_of_range"),
        (2, "金额(元)", "amount", "-5", "negative"),
    ]


def test_missing_and_duplicate_columns(lookup):
    text = (
        "订货日期,许可证号,专卖许可证号,卷烟编码,需求量,合理定量,订货量,金额,订货方式\n"
        "2026-10-03,1,1,1,1,1,1,1,online\n"
    )
    parsed = read_orders(text.encode("utf-8"), name="h.csv", lookup=lookup)
    assert errors_of(parsed) == [
        (1, "专卖许可证号", "licence", "专卖许可证号", "duplicate_column"),
        (1, "", "supplied", "", "missing_column"),
    ]
    assert [e.reason for e in parsed.errors] == [
        "This column means the same as column “许可证号”.",
        "Required column missing: supplied.",
    ]


def test_irregular_csv_keeps_line_numbers(lookup):
    """Blank lines, a quoted line break and a short row: the csv-module path keeps exact line numbers."""
    text = (
        "\n"  # line 1 blank: the header is on line 2
        + CN_HEADER
        + "\n"
        + f"2026-10-03,{LIC_A},{CODE_X},1,1,1,1,1,online\n"  # 3
        + "\n"  # 4 blank
        + f'2026-10-03,{LIC_B},{CODE_X},1,1,1,1,"1\n0",online\n'  # 5-6, amount with a line break
        + f"2026-10-04,{LIC_B}\n"  # 7: two values
        + f"2026-10-05,{LIC_B},{CODE_X},x,1,1,1,1,online\n\n\n"  # 8
    )
    parsed = read_orders(text.encode("utf-8"), name="odd.csv", lookup=lookup)
    assert parsed.rows == 4
    assert errors_of(parsed) == [
        (5, "金额(元)", "amount", "1\n0", "not_a_number"),
        (7, "", "", "", "column_count"),
        (8, "需求量(条)", "demanded", "x", "not_a_number"),
    ]
    assert parsed.errors[1].reason == "The row has 2 values but the header has 9 columns."


def test_trailing_blank_lines_and_crlf_use_the_fast_path(lookup):
    text = CN_HEADER + "\r\n" + f"2026-10-03,{LIC_A},{CODE_X},1,1,1,1,1,online\r\n" + "x,1,1,1,1,1,1,1,1\r\n\r\n"
    parsed = read_orders(text.encode("utf-8"), name="t.csv", lookup=lookup)
    assert [(e.row, e.code) for e in parsed.errors] == [
        (3, "bad_date"),
        (3, "unknown_licence"),
        (3, "unknown_product"),
        (3, "bad_channel"),
    ]


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"\xff\xfe\xff\xff\x00", "x.csv", "encoding"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old.xls", "unsupported_format"),
        (b"hello", "report.pdf", "unsupported_format"),
        (b"", "empty.csv", "empty_file"),
        (CN_HEADER.encode("utf-8") + b"\n\n", "header-only.csv", "no_rows"),
        (b"PK\x03\x04not really a zip", "broken.xlsx", "unreadable"),
    ],
)
def test_files_that_cannot_be_read(lookup, data, name, code):
    parsed = read_orders(data, name=name, lookup=lookup)
    assert [(e.row, e.code) for e in parsed.errors] == [(0, code)]
    assert parsed.error_count == 1 and parsed.table.num_rows == 0


def test_error_list_is_capped_but_counted(lookup):
    body = "\n".join(f"2026-10-{d:02d},{LIC_A},{CODE_X},-1,1,1,1,1,online" for d in range(1, 11))
    parsed = read_orders((CN_HEADER + "\n" + body).encode("utf-8"), name="c.csv", lookup=lookup, max_errors=3)
    assert parsed.error_count == 10
    assert [e.row for e in parsed.errors] == [2, 3, 4]


def test_reads_a_path_and_hashes_it(lookup, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes((CN_HEADER + "\n" + f"2026-10-03,{LIC_A},{CODE_X},1,1,1,1,1,online\n").encode("gbk"))
    steps = []
    parsed = read_orders(path, lookup=lookup, progress=lambda pct, msg: steps.append(pct))
    assert parsed.name == "orders.csv" and parsed.ok
    import hashlib

    assert parsed.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert steps == [5, 50, 100]


def test_lookup_from_arrow_tables():
    import pyarrow as pa

    lookup = Lookup.build(
        pa.table({"licence": [LIC_A], "retailer_id": [7]}), pa.table({"product_code": [CODE_X], "product_id": [9]})
    )
    text = CN_HEADER + "\n" + f"2026-10-03,{LIC_A},{CODE_X},1,1,1,1,1,online\n"
    parsed = read_orders(text.encode("utf-8"), name="a.csv", lookup=lookup)
    assert [(r["retailer_id"], r["product_id"]) for r in rows_of(parsed)] == [(7, 9)]


def test_normalize_header():
    assert normalize_header(" 订货量（条） ") == "订货量"
    assert normalize_header("Order_Date") == "orderdate"
    assert normalize_header("金额 (元)") == "金额"
    assert normalize_header("\ufeffProduct-Code") == "productcode"
