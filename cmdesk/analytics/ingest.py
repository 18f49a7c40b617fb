"""Reading and validating order-line files (CSV or XLSX) into ORDER_SCHEMA tables, without Django.

The column format is documented for users in ``docs/import-format.md``. In short: one line per (order date,
retailer, product) with the columns of :data:`FIELDS` (Chinese or English headers, see :data:`HEADER_ALIASES`),
optionally an order number (``order_no``).

How a file is read
------------------
* The type comes from the content (``PK`` = XLSX, the OLE signature of old ``.xls`` is refused), then the name.
* CSV text is UTF-8 (with or without BOM) when it decodes strictly as UTF-8, else GB18030 (a superset of GBK);
  anything else is refused. Non-UTF-8 text is transcoded to UTF-8 once, then ``pyarrow.csv`` parses it with every
  column typed as a string. The delimiter is a comma, or a tab when the header has tabs and no comma.
* Row numbers are line numbers in the file (the header is row 1). The fast path is exact when every line is one
  record; if the parser meets an irregular file (blank lines inside, quoted line breaks, rows with a wrong number of
  values) the file is re-read with the ``csv`` module, which keeps exact line numbers and reports the bad rows.
* XLSX: the first worksheet, read with openpyxl in read-only mode (a Python loop over the rows is unavoidable there);
  the first non-empty row is the header, row numbers are the sheet's. Date cells become dates; whole numbers stored
  as floats become integers (licence numbers and product codes typed as numbers still match).

How it is validated
-------------------
Everything after reading is vectorized with ``pyarrow.compute`` and NumPy: values are trimmed; dates and channels
are parsed once per distinct value (a file has few) and mapped back by dictionary indices; licences and product
codes are looked up with a hash join (``index_in``) against the :class:`Lookup` built from the records; numbers are
checked with regular expressions and cast; duplicates are found by sorting the keys. Python only loops to format the
first ``max_errors`` errors. Every error is a :class:`RowError` with a stable ``code`` (the Django side translates
it) and an English ``reason``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from .layout import ORDER_SCHEMA

EPOCH = dt.date(1970, 1, 1)
# A derived order id: all lines of one retailer on one date are one order.
ORDER_ID_RETAILER_FACTOR = 100_000
MIN_YEAR, MAX_YEAR = 1990, 2099
MAX_ERRORS = 1000

FIELDS: tuple[str, ...] = (
    "order_date",
    "licence",
    "product_code",
    "demanded",
    "allotted",
    "ordered",
    "supplied",
    "amount",
    "channel",
)
OPTIONAL_FIELDS: tuple[str, ...] = ("order_no",)
QUANTITY_FIELDS: tuple[str, ...] = ("demanded", "allotted", "ordered", "supplied")
CHANNELS: tuple[str, ...] = ("online", "phone", "mobile", "other")

# Accepted headers per field. Matching ignores case, spaces, underscores and hyphens, and a trailing unit in
# brackets ("订货量(条)", "金额（元）").
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "order_date": ("order_date", "date", "订货日期", "日期", "订单日期"),
    "licence": (
        "licence",
        "license",
        "licence_no",
        "license_no",
        "许可证号",
        "专卖许可证号",
        "许可证",
        "零售许可证号",
        "烟草专卖零售许可证号",
    ),
    "product_code": ("product_code", "code", "卷烟编码", "商品编码", "卷烟代码", "商品代码", "产品编码"),
    "demanded": ("demanded", "demand", "需求量", "需求数量"),
    "allotted": ("allotted", "allotment", "合理定量", "限量", "定量"),
    "ordered": ("ordered", "订货量", "订货数量", "订购量", "订购数量"),
    "supplied": ("supplied", "供货量", "供货数量", "实际供货", "实际供货量", "实际供货数量"),
    "amount": ("amount", "金额", "订货金额", "供货金额"),
    "channel": ("channel", "order_channel", "订货方式", "渠道", "订货渠道"),
    "order_no": ("order_no", "order_number", "订单号", "订单编号"),
}

# Order channel values, compared in lower case without spaces.
CHANNEL_ALIASES: dict[str, str] = {
    "online": "online",
    "网上订货": "online",
    "网上": "online",
    "网络订货": "online",
    "电脑订货": "online",
    "互联网订货": "online",
    "phone": "phone",
    "电话订货": "phone",
    "电话": "phone",
    "mobile": "mobile",
    "手机订货": "mobile",
    "手机": "mobile",
    "app": "mobile",
    "other": "other",
    "其他": "other",
    "其它": "other",
    "其他方式": "other",
}

# English reasons by error code; ``{name}`` placeholders are filled from RowError.params.
REASONS: dict[str, str] = {
    "unsupported_format": "Unsupported file type: use CSV (.csv) or Excel (.xlsx).",
    "unreadable": "The file cannot be read: {detail}",
    "encoding": "The text is neither UTF-8 nor GBK/GB18030.",
    "empty_file": "The file has no header row.",
    "no_rows": "The file has no data rows.",
    "missing_column": "Required column missing: {field}.",
    "duplicate_column": "This column means the same as column “{other}”.",
    "column_count": "The row has {found} values but the header has {expected} columns.",
    "missing": "A value is required.",
    "bad_date": "Not a valid date: use YYYY-MM-DD, YYYY/M/D or YYYYMMDD (years 1990–2099).",
    "unknown_licence": "No retailer has this licence number.",
    "unknown_product": "No product has this code.",
    "negative": "Must not be negative.",
    "not_a_number": "Not a number.",
    "not_integer": "Must be a whole number of cartons.",
    "out_of_range": "The number is too large.",
    "bad_channel": "Unknown order channel: use online, phone, mobile or other (网上订货, 电话订货, 手机订货, 其他).",
    "supplied_exceeds_ordered": "Supplied ({supplied}) exceeds ordered ({ordered}).",
    "duplicate_line": "Duplicate line: same order date, licence and product as row {other_row}.",
}

ProgressFn = Callable[[int, str], None]


@dataclass(frozen=True)
class RowError:
    """One problem in a file. ``row`` is the 1-based line (header = 1; 0 for the whole file), ``column`` the header
    as written in the file ("" when the problem is not one column's), ``field`` the canonical field name."""

    file: str
    row: int
    column: str
    field: str
    value: str
    code: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def reason(self) -> str:
        return REASONS[self.code].format(**self.params)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "value": self.value,
            "code": self.code,
            "params": dict(self.params),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Lookup:
    """Licence → retailer id and product code → product id, as Arrow arrays for hash lookups."""

    licences: pa.Array
    retailer_ids: pa.Array
    product_codes: pa.Array
    product_ids: pa.Array

    @classmethod
    def build(
        cls,
        retailers: Mapping[str, int] | pa.Table,
        products: Mapping[str, int] | pa.Table,
    ) -> Lookup:
        """From dicts or from tables with columns (licence, retailer_id) and (product_code, product_id)."""
        lic, rid = _pairs(retailers, "licence", "retailer_id")
        code, pid = _pairs(products, "product_code", "product_id")
        return cls(lic, rid, code, pid)


def _pairs(source: Mapping[str, int] | pa.Table, key: str, value: str) -> tuple[pa.Array, pa.Array]:
    if isinstance(source, pa.Table):
        return (
            source.column(key).combine_chunks().cast(pa.string()),
            source.column(value).combine_chunks().cast(pa.int64()),
        )
    return pa.array(list(source.keys()), pa.string()), pa.array(list(source.values()), pa.int64())


@dataclass
class ParsedFile:
    """The result of reading one file: its lines as ORDER_SCHEMA (empty when there are errors) and its errors."""

    name: str
    sha256: str
    encoding: str  # "utf-8" | "gb18030" | "xlsx" | "" (unreadable)
    rows: int  # data rows read (blank lines not counted)
    table: pa.Table
    errors: list[RowError]  # the first ``max_errors``, in file order
    error_count: int  # all of them

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def first_date(self) -> dt.date | None:
        return pc.min(self.table.column("order_date")).as_py() if self.table.num_rows else None

    @property
    def last_date(self) -> dt.date | None:
        return pc.max(self.table.column("order_date")).as_py() if self.table.num_rows else None


@dataclass
class _Raw:
    """The file's cells as strings, before validation."""

    columns: dict[str, pa.Array]  # field -> string array (nulls allowed)
    headers: dict[str, str]  # field -> header as written
    positions: dict[str, int]  # field -> column index in the file (orders the errors of one row)
    rows: np.ndarray  # int64 row number of each data row
    errors: list[RowError] = field(default_factory=list)  # file- and row-level errors found while reading


def _failed(name: str, code: str, params: dict[str, Any] | None = None) -> _Raw:
    """A file that cannot be read at all: one file-level error (row 0)."""
    return _Raw({}, {}, {}, np.empty(0, np.int64), [RowError(name, 0, "", "", "", code, params or {})])


def empty_table() -> pa.Table:
    return ORDER_SCHEMA.empty_table()


def normalize_header(text: str) -> str:
    """The form headers are compared in: lower case, no spaces/underscores/hyphens, no trailing unit."""
    s = re.sub(r"[\s_\-]+", "", str(text).replace("\ufeff", "").lower())
    return _UNIT_RE.sub("", s)


_UNIT_RE = re.compile(r"[(（\[【][^()（）\[\]【】]*[)）\]】]$")
_ALIAS_INDEX: dict[str, str] = {normalize_header(a): f for f, aliases in HEADER_ALIASES.items() for a in aliases}


# --- entry point ---------------------------------------------------------------------------------------------------


def read_orders(
    source: Path | str | bytes,
    *,
    lookup: Lookup,
    name: str | None = None,
    max_errors: int = MAX_ERRORS,
    progress: ProgressFn | None = None,
) -> ParsedFile:
    """Read and validate one CSV or XLSX file (a path or its bytes). Never raises for bad content: problems are
    returned as errors. ``progress(percent, message)`` is called at each stage (0–100 for this file)."""
    if isinstance(source, bytes):
        data = source
        name = name or "upload"
    else:
        path = Path(source)
        data = path.read_bytes()
        name = name or path.name
    report = progress or (lambda pct, msg: None)
    sha256 = hashlib.sha256(data).hexdigest()
    report(5, "reading")
    kind = _kind(data, name)
    encoding = ""
    if kind == "xls" or kind is None:
        raw = _failed(name, "unsupported_format")
    elif kind == "xlsx":
        encoding = "xlsx"
        raw = _read_xlsx(data, name)
    else:
        text = _decode(data)
        if text is None:
            raw = _failed(name, "encoding")
        else:
            utf8, encoding = text
            raw = _read_csv(utf8, name)
    report(50, "validating")
    parsed = _validate(raw, lookup, name, max_errors)
    report(100, "checked")
    rows = len(raw.rows) + sum(1 for e in raw.errors if e.code == "column_count")  # malformed rows were read too
    return ParsedFile(name, sha256, encoding, rows, parsed[0], parsed[1], parsed[2])


def _kind(data: bytes, name: str) -> str | None:
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return "xls"  # not a zip: not a real workbook
    if suffix in (".csv", ".txt", ""):
        return "csv"
    return None


def _decode(data: bytes) -> tuple[bytes, str] | None:
    """UTF-8 bytes of the text and the detected encoding: strict UTF-8 (BOM dropped), else GB18030."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return data, "utf-8"
    try:
        return data.decode("gb18030").encode("utf-8"), "gb18030"
    except UnicodeDecodeError:
        return None


# --- CSV -----------------------------------------------------------------------------------------------------------


def _read_csv(data: bytes, name: str) -> _Raw:
    # Index arithmetic instead of strip(): the text can be 100 MB and every copy costs.
    size = len(data)
    start = 0
    while start < size and data[start] in b"\r\n":  # leading blank lines: skipped, but counted in row numbers
        start += 1
    offset = data.count(b"\n", 0, start)
    stop = size
    while stop > start and data[stop - 1] in b"\r\n":
        stop -= 1
    end = data.find(b"\n", start, stop)
    header_end = stop if end < 0 else end
    header_line = data[start:header_end].rstrip(b"\r").decode("utf-8")
    if not header_line.strip():
        return _failed(name, "empty_file")
    delimiter = "\t" if "\t" in header_line and "," not in header_line else ","
    headers = next(csv.reader([header_line], delimiter=delimiter))
    header_row = offset + 1
    mapping, errors = _map_headers(headers, name, header_row)
    if errors:
        return _Raw({}, {}, {}, np.empty(0, np.int64), errors)
    body_start = stop if end < 0 else end + 1
    body = memoryview(data)[body_start:stop]
    lines = data.count(b"\n", body_start, stop) + 1 if stop > body_start else 0
    table = _read_csv_fast(body, len(headers), delimiter)
    if table is not None and table.num_rows == lines:
        columns = {f: table.column(i).combine_chunks() for f, i in mapping.items()}
        rows = np.arange(header_row + 1, header_row + 1 + lines, dtype=np.int64)
        return _Raw(columns, {f: headers[i] for f, i in mapping.items()}, mapping, rows)
    return _read_csv_slow(bytes(body).decode("utf-8"), headers, mapping, delimiter, name, header_row)


def _read_csv_fast(body: memoryview, ncol: int, delimiter: str) -> pa.Table | None:
    """Every column as strings with pyarrow, or None if the parser refuses the file (then the slow path runs)."""
    if not body:
        return None
    names = [f"c{i}" for i in range(ncol)]
    try:
        return pcsv.read_csv(
            pa.py_buffer(body),
            read_options=pcsv.ReadOptions(column_names=names, use_threads=True, block_size=1 << 24),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=False, ignore_empty_lines=True),
            convert_options=pcsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _read_csv_slow(
    text: str, headers: list[str], mapping: dict[str, int], delimiter: str, name: str, header_row: int
) -> _Raw:
    """The csv module, for irregular files: exact line numbers, bad rows reported (only runs on odd files)."""
    ncol = len(headers)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[list[str]] = []
    rows: list[int] = []
    errors: list[RowError] = []
    start = 1
    for record in reader:
        row = header_row + start
        start = reader.line_num + 1
        if not any(v.strip() for v in record):
            continue  # blank line
        if len(record) > ncol and not any(v.strip() for v in record[ncol:]):
            record = record[:ncol]  # trailing delimiters
        if len(record) != ncol:
            errors.append(RowError(name, row, "", "", "", "column_count", {"found": len(record), "expected": ncol}))
            continue
        records.append(record)
        rows.append(row)
    columns = {f: pa.array([r[i] for r in records], pa.string()) for f, i in mapping.items()}
    return _Raw(columns, {f: headers[i] for f, i in mapping.items()}, mapping, np.array(rows, np.int64), errors)


def _map_headers(headers: list[str], name: str, header_row: int) -> tuple[dict[str, int], list[RowError]]:
    mapping: dict[str, int] = {}
    errors: list[RowError] = []
    for i, header in enumerate(headers):
        f = _ALIAS_INDEX.get(normalize_header(header))
        if f is None:
            continue  # extra columns are ignored
        if f in mapping:
            errors.append(
                RowError(name, header_row, header, f, header, "duplicate_column", {"other": headers[mapping[f]]})
            )
            continue
        mapping[f] = i
    for f in FIELDS:
        if f not in mapping:
            errors.append(RowError(name, header_row, "", f, "", "missing_column", {"field": f}))
    return mapping, errors


# --- XLSX ----------------------------------------------------------------------------------------------------------


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    return str(value)


def _read_xlsx(data: bytes, name: str) -> _Raw:
    import openpyxl  # only needed for workbooks

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a broken zip or workbook: report, never crash
        detail = str(exc) or type(exc).__name__
        return _failed(name, "unreadable", {"detail": detail})
    try:
        sheet = workbook.worksheets[0]
        headers: list[str] | None = None
        header_row = 0
        mapping: dict[str, int] = {}
        cells: dict[str, list[str | None]] = {}
        rows: list[int] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if values is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            if headers is None:
                headers = [_cell_text(v) or "" for v in values]
                header_row = number
                mapping, errors = _map_headers(headers, name, header_row)
                if errors:
                    return _Raw({}, {}, {}, np.empty(0, np.int64), errors)
                cells = {f: [] for f in mapping}
                continue
            width = len(values)
            for f, i in mapping.items():
                cells[f].append(_cell_text(values[i]) if i < width else None)
            rows.append(number)
    finally:
        workbook.close()
    if headers is None:
        return _failed(name, "empty_file")
    columns = {f: pa.array(v, pa.string()) for f, v in cells.items()}
    return _Raw(columns, {f: headers[i] for f, i in mapping.items()}, mapping, np.array(rows, np.int64))


# --- validation ----------------------------------------------------------------------------------------------------


class _Errors:
    """Error masks gathered per check; formatted (capped) at the end."""

    def __init__(self) -> None:
        self.idx: list[np.ndarray] = []
        self.fields: list[str] = []
        self.codes: list[str] = []
        self.params: list[Callable[[np.ndarray], list[dict[str, Any]]] | None] = []

    def add(self, field_name: str, code: str, mask: np.ndarray, params=None) -> None:
        idx = np.flatnonzero(mask)
        if len(idx):
            self.idx.append(idx)
            self.fields.append(field_name)
            self.codes.append(code)
            self.params.append(params)

    def count(self) -> int:
        return int(sum(len(i) for i in self.idx))


def _np(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return arr.to_numpy(zero_copy_only=False)


def _mask(arr: pa.Array) -> np.ndarray:
    """A boolean pyarrow array as a NumPy mask (nulls count as False)."""
    return _np(pc.fill_null(arr, False)).astype(bool)


def _parse_date_text(text: str) -> int | None:
    text = _TIME_SUFFIX.sub("", text)
    for pattern in _DATE_RES:
        m = pattern.match(text)
        if m:
            year, month, day = (int(g) for g in m.groups())
            if not MIN_YEAR <= year <= MAX_YEAR:
                return None
            try:
                return (dt.date(year, month, day) - EPOCH).days
            except ValueError:
                return None
    return None


_DATE_RES = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_TIME_SUFFIX = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
_BAD = np.iinfo(np.int32).min


def _map_distinct(values: pa.Array, parse: Callable[[str], Any], dtype: Any, bad: Any) -> np.ndarray:
    """Apply ``parse`` once per distinct value and map the results back to every row."""
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary.to_pylist()
    results = np.array([(r if (r := parse(v)) is not None else bad) for v in distinct], dtype=dtype)
    if not len(results):
        return np.full(len(values), bad, dtype=dtype)
    return results[_np(encoded.indices)]


def _channel_index(text: str) -> int | None:
    channel = CHANNEL_ALIASES.get(text)
    return None if channel is None else CHANNELS.index(channel)


_INT_OK = r"^\+?0*\d{1,9}(\.0*)?$"
_INT_BIG = r"^\+?\d+(\.0*)?$"
_INT_FRACTION = r"^\+?\d*\.\d+$"
_NEGATIVE = r"^-\s*(\d[\d,]*(\.\d*)?|\.\d+)$"
_AMOUNT_OK = r"^\+?((\d+|\d{1,3}(,\d{3})+)(\.\d*)?|\.\d+)$"


def _is_empty(s: pa.Array) -> np.ndarray:
    return _np(pc.binary_length(s)) == 0


def _classify(s: pa.Array, fast_ok: np.ndarray, checks: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Masks of the error codes in ``checks`` (code, regex; first match wins) for rows not ``fast_ok`` and not
    empty; whatever matches none of them is "not_a_number". The regexes only run on those (usually no) rows."""
    n = len(s)
    out = {code: np.zeros(n, bool) for code, _ in checks}
    out["not_a_number"] = np.zeros(n, bool)
    rest = np.flatnonzero(~fast_ok & ~_is_empty(s))
    if not len(rest):
        return out
    sub = s.take(pa.array(rest))
    left = np.ones(len(rest), bool)
    for code, pattern in checks:
        hit = _mask(pc.match_substring_regex(sub, pattern)) & left
        out[code][rest[hit]] = True
        left &= ~hit
    out["not_a_number"][rest[left]] = True
    return out


def _quantity(s: pa.Array, missing: np.ndarray, errs: _Errors, name: str) -> tuple[np.ndarray, np.ndarray]:
    # Fast path: plain digits, at most 9 (below 2**31); the regexes only look at the other rows.
    length = _np(pc.binary_length(s))
    digits = _mask(pc.ascii_is_decimal(s)) & (length <= 9) & (length > 0)
    ok = digits.copy()
    if not digits.all():
        ok |= _mask(pc.match_substring_regex(s, _INT_OK))
    bad = _classify(s, ok, [("negative", _NEGATIVE), ("out_of_range", _INT_BIG), ("not_integer", _INT_FRACTION)])
    errs.add(name, "missing", missing)
    for code in ("negative", "out_of_range", "not_integer", "not_a_number"):
        errs.add(name, code, bad[code])
    if digits.all():
        return _np(pc.cast(s, pa.int64())), ok
    cleaned = pc.replace_substring_regex(s, r"^\+|\.0*$", "")
    values = _np(pc.cast(pc.if_else(pa.array(ok), cleaned, "0"), pa.int64()))
    return values, ok


def _amount(s: pa.Array, missing: np.ndarray, errs: _Errors) -> tuple[np.ndarray, np.ndarray]:
    ok = _mask(pc.match_substring_regex(s, _AMOUNT_OK))
    bad = _classify(s, ok, [("negative", _NEGATIVE)])
    errs.add("amount", "missing", missing)
    errs.add("amount", "negative", bad["negative"])
    errs.add("amount", "not_a_number", bad["not_a_number"])
    cleaned = pc.utf8_ltrim(pc.replace_substring(s, ",", ""), characters="+")
    values = pc.round(pc.cast(pc.if_else(pa.array(ok), cleaned, "0"), pa.float64()), 2)
    return _np(values), ok


def _validate(raw: _Raw, lookup: Lookup, name: str, max_errors: int) -> tuple[pa.Table, list[RowError], int]:
    n = len(raw.rows)
    if raw.columns and n == 0 and not raw.errors:
        return empty_table(), [RowError(name, 0, "", "", "", "no_rows")], 1
    if not raw.columns:
        return empty_table(), raw.errors[:max_errors], len(raw.errors)
    s = {f: pc.utf8_trim_whitespace(pc.fill_null(arr, "")) for f, arr in raw.columns.items()}
    missing = {f: _is_empty(s[f]) for f in FIELDS}
    errs = _Errors()

    # dates: parsed once per distinct value
    days = _map_distinct(s["order_date"], _parse_date_text, np.int32, _BAD)
    date_ok = days != _BAD
    errs.add("order_date", "missing", missing["order_date"])
    errs.add("order_date", "bad_date", ~date_ok & ~missing["order_date"])

    # licences and product codes: hash join against the records
    lic_idx = pc.index_in(s["licence"], value_set=lookup.licences)
    lic_ok = _mask(pc.is_valid(lic_idx))
    retailer_id = _np(pc.fill_null(pc.take(lookup.retailer_ids, lic_idx), 0)).astype(np.int64)
    errs.add("licence", "missing", missing["licence"])
    errs.add("licence", "unknown_licence", ~lic_ok & ~missing["licence"])
    prod_idx = pc.index_in(s["product_code"], value_set=lookup.product_codes)
    prod_ok = _mask(pc.is_valid(prod_idx))
    product_id = _np(pc.fill_null(pc.take(lookup.product_ids, prod_idx), 0)).astype(np.int64)
    errs.add("product_code", "missing", missing["product_code"])
    errs.add("product_code", "unknown_product", ~prod_ok & ~missing["product_code"])

    quantities: dict[str, np.ndarray] = {}
    q_ok: dict[str, np.ndarray] = {}
    for f in QUANTITY_FIELDS:
        quantities[f], q_ok[f] = _quantity(s[f], missing[f], errs, f)
    amount, _amount_ok = _amount(s["amount"], missing["amount"], errs)

    channel_text = pc.utf8_lower(pc.replace_substring_regex(s["channel"], r"\s+", ""))
    channel_codes = _map_distinct(channel_text, _channel_index, np.int8, -1)
    errs.add("channel", "missing", missing["channel"])
    errs.add("channel", "bad_channel", (channel_codes < 0) & ~missing["channel"])

    both = q_ok["supplied"] & q_ok["ordered"]
    over = both & (quantities["supplied"] > quantities["ordered"])
    errs.add(
        "supplied",
        "supplied_exceeds_ordered",
        over,
        lambda idx: [
            {"supplied": int(quantities["supplied"][i]), "ordered": int(quantities["ordered"][i])} for i in idx
        ],
    )

    key_ok = date_ok & lic_ok & prod_ok
    dup, other_row = _duplicates(days, retailer_id, product_id, key_ok, raw.rows)
    errs.add("product_code", "duplicate_line", dup, lambda idx: [{"other_row": int(other_row[i])} for i in idx])

    error_count = errs.count() + len(raw.errors)
    errors = _format_errors(errs, raw, s, name, max_errors)
    if error_count:
        return empty_table(), errors, error_count

    order_id = retailer_id * ORDER_ID_RETAILER_FACTOR + days.astype(np.int64)
    if "order_no" in s:
        numeric = _mask(pc.match_substring_regex(s["order_no"], r"^\d{1,18}$"))
        order_no = _np(pc.cast(pc.if_else(pa.array(numeric), s["order_no"], "0"), pa.int64()))
        order_id = np.where(numeric, order_no, order_id)
    table = pa.table(
        {
            "order_date": pa.array(days, pa.int32()).cast(pa.date32()),
            "order_id": pa.array(order_id, pa.int64()),
            "retailer_id": pa.array(retailer_id, pa.int64()),
            "licence": s["licence"],
            "product_id": pa.array(product_id, pa.int64()),
            "product_code": s["product_code"],
            "demanded": pa.array(quantities["demanded"].astype(np.int32)),
            "allotted": pa.array(quantities["allotted"].astype(np.int32)),
            "ordered": pa.array(quantities["ordered"].astype(np.int32)),
            "supplied": pa.array(quantities["supplied"].astype(np.int32)),
            "amount": pa.array(amount, pa.float64()),
            "channel": pa.DictionaryArray.from_arrays(
                pa.array(channel_codes.astype(np.int32)), pa.array(CHANNELS)
            ).cast(pa.string()),
        },
        schema=ORDER_SCHEMA,
    )
    return table, errors, 0


def key_order(days: np.ndarray, rid: np.ndarray, pid: np.ndarray) -> np.ndarray:
    """A stable sort order by (date, retailer, product): one int64 radix-friendly key when the ranges fit."""
    if not len(days):
        return np.empty(0, np.int64)
    d0 = int(days.min())
    dspan = int(days.max()) - d0
    rmax, pmax = int(rid.max()), int(pid.max())
    if int(rid.min()) >= 0 and int(pid.min()) >= 0:
        pbits = max(pmax.bit_length(), 1)
        rbits = max(rmax.bit_length(), 1)
        dbits = max(dspan.bit_length(), 1)
        if pbits + rbits + dbits <= 63:
            composite = ((days.astype(np.int64) - d0) << (rbits + pbits)) | (rid << pbits) | pid
            return np.argsort(composite, kind="stable")
    return np.lexsort((pid, rid, days))


def _duplicates(
    days: np.ndarray, retailer_id: np.ndarray, product_id: np.ndarray, key_ok: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose (date, retailer, product) occurs more than once, and for each the row it repeats (the first
    occurrence; for the first occurrence itself, the second)."""
    n = len(days)
    dup = np.zeros(n, bool)
    other = np.zeros(n, np.int64)
    idx = np.flatnonzero(key_ok)
    if len(idx) < 2:
        return dup, other
    order = idx[key_order(days[idx], retailer_id[idx], product_id[idx])]  # stable: rows ascending within a key
    d, r, p = days[order], retailer_id[order], product_id[order]
    same = (d[1:] == d[:-1]) & (r[1:] == r[:-1]) & (p[1:] == p[:-1])
    if not same.any():
        return dup, other
    start = np.r_[True, ~same]
    group = np.cumsum(start) - 1
    size = np.bincount(group)
    in_dup = size[group] > 1
    first = np.flatnonzero(start)[group]
    positions = np.arange(len(order))
    other_pos = np.where(positions == first, first + 1, first)
    dup[order[in_dup]] = True
    other[order[in_dup]] = rows[order[other_pos[in_dup]]]
    return dup, other


def _format_errors(errs: _Errors, raw: _Raw, s: dict[str, pa.Array], name: str, max_errors: int) -> list[RowError]:
    """The first ``max_errors`` errors ordered by row, then by the column's position in the file."""
    reading = sorted(raw.errors, key=lambda e: e.row)
    if not errs.idx:
        return reading[:max_errors]
    idx = np.concatenate(errs.idx)
    check = np.concatenate([np.full(len(i), k, np.int32) for k, i in enumerate(errs.idx)])
    position = np.array([raw.positions[f] for f in errs.fields], np.int32)[check]
    order = np.lexsort((check, position, raw.rows[idx]))[:max_errors]
    out: list[RowError] = []
    for j in order:
        k, i = int(check[j]), int(idx[j])
        f = errs.fields[k]
        maker = errs.params[k]
        params = maker(np.array([i]))[0] if maker is not None else {}
        out.append(RowError(name, int(raw.rows[i]), raw.headers[f], f, s[f][i].as_py(), errs.codes[k], params))
    merged = sorted(reading + out, key=lambda e: e.row)  # stable: reading errors first on the same row
    return merged[:max_errors]
