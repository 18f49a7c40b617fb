"""Report texts built from the KPI engine's figures (no Django).

:func:`annual_summary` gathers what a customer manager's annual summary says about the year (seed 000, "20xx年片区
卷烟销售分析"): retailers and online ordering, sales in cases against last year, provincial brands, 条均价, and each
price class. :func:`render_zh` writes it as the paragraph a CM would, with the rounding a report uses (cases and
percentages to two decimals, 条均价 to the fen, the online share to one decimal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq

from .layout import dim_file
from .periods import Period
from .query import Filter, KpiQuery

ONLINE = "online"


@dataclass(frozen=True)
class ClassLine:
    """One price class's year (``rank`` None: products no price band classifies, e.g. cigars)."""

    rank: int | None
    name: str | None
    cases: float
    cases_ly: float
    change: float  # cases − cases last year
    yoy: float | None  # fraction; None when nothing sold last year
    share: float | None  # of the year's cartons


@dataclass(frozen=True)
class AnnualSummary:
    year: int
    retailers: int  # retailers in scope on the books at some point of the year (the retailer snapshot)
    online_retailers: int  # … of which order online (order method "online")
    online_share: float | None
    retailer_source: str  # "engine" (engine.retailer_dim) or "dims" (read from dims/retailers.parquet)
    served: int  # the engine's retailers served
    cases: float
    cases_ly: float
    change: float
    yoy: float | None
    provincial_cases: float
    provincial_cases_ly: float
    provincial_yoy: float | None
    avg_price: float | None
    avg_price_ly: float | None
    avg_price_yoy: float | None
    classes: tuple[ClassLine, ...]  # the price classes, by rank
    unclassified: ClassLine | None  # sales outside every price class, if any (this year or last)


# --- the retailer side ---------------------------------------------------------------------------------------------
def _rows(obj: Any) -> list[dict[str, Any]]:
    if hasattr(obj, "to_pylist"):
        return obj.to_pylist()
    return [dict(r) for r in obj]


def _in_scope(row: dict[str, Any], flt: Filter) -> bool:
    if flt.nothing:
        return False
    if flt.org_paths and not any((row.get("org_path") or "").startswith(p) for p in flt.org_paths):
        return False
    if flt.cm_ids and row.get("cm_id") not in flt.cm_ids:
        return False
    if flt.route_codes and row.get("route_code") not in flt.route_codes:
        return False
    return not (flt.retailer_ids and row.get("retailer_id") not in flt.retailer_ids)


def retailer_rows(engine: Any, flt: Filter) -> tuple[list[dict[str, Any]], str]:
    """The scope's retailers from the snapshot: ``engine.retailer_dim(flt)`` when the engine has it, else the file."""
    fetch = getattr(engine, "retailer_dim", None)
    if callable(fetch):
        return _rows(fetch(flt)), "engine"
    columns = ["retailer_id", "org_path", "cm_id", "route_code", "order_method", "opened_on", "closed_on"]
    table = pq.read_table(dim_file(engine.data_dir, "retailers"), columns=columns)
    return [r for r in table.to_pylist() if _in_scope(r, flt)], "dims"


def _open_in(row: dict[str, Any], start: dt.date, end: dt.date) -> bool:
    opened, closed = row.get("opened_on"), row.get("closed_on")
    return (opened is None or opened <= end) and (closed is None or closed >= start)


# --- the summary ---------------------------------------------------------------------------------------------------
def _f(v: Any) -> float:
    return float(v) if v is not None else 0.0


def _class_line(row: dict[str, Any]) -> ClassLine:
    return ClassLine(
        rank=row.get("class_rank"),
        name=row.get("class_name"),
        cases=_f(row.get("cases")),
        cases_ly=_f(row.get("cases_ly")),
        change=_f(row.get("cases_yoy_change")),
        yoy=row.get("cases_yoy"),
        share=row.get("share"),
    )


def annual_summary(engine: Any, year: int, flt: Filter, *, source: str = "auto") -> AnnualSummary:
    """The year's figures for the scope ``flt`` (one CM: ``Filter(cm_ids=(id,))``)."""
    period = Period.year(year)
    total = engine.run(KpiQuery(period=period, by=(), filter=flt, source=source)).one()
    rows = engine.run(KpiQuery(period=period, by=("class",), filter=flt, source=source)).rows
    lines = {r.get("class_rank"): _class_line(r) for r in rows}
    # a class sold last year but not this year has no row in this year's grouping: take it from last year's
    last = engine.run(KpiQuery(period=Period.year(year - 1), by=("class",), filter=flt, source=source)).rows
    for r in last:
        rank = r.get("class_rank")
        if rank not in lines and _f(r.get("cases")) > 0:
            ly = _f(r.get("cases"))
            lines[rank] = ClassLine(rank, r.get("class_name"), 0.0, ly, -ly, -1.0, 0.0)
    classes = tuple(lines[k] for k in sorted(k for k in lines if k is not None))

    retailers, origin = retailer_rows(engine, flt)
    on_books = [r for r in retailers if _open_in(r, period.start, period.end)]
    online = sum(1 for r in on_books if r.get("order_method") == ONLINE)
    return AnnualSummary(
        year=year,
        retailers=len(on_books),
        online_retailers=online,
        online_share=online / len(on_books) if on_books else None,
        retailer_source=origin,
        served=int(total.get("served") or 0),
        cases=_f(total.get("cases")),
        cases_ly=_f(total.get("cases_ly")),
        change=_f(total.get("cases_yoy_change")),
        yoy=total.get("cases_yoy"),
        provincial_cases=_f(total.get("provincial_cases")),
        provincial_cases_ly=_f(total.get("provincial_cases_ly")),
        provincial_yoy=total.get("provincial_yoy"),
        avg_price=total.get("avg_price"),
        avg_price_ly=total.get("avg_price_ly"),
        avg_price_yoy=total.get("avg_price_yoy"),
        classes=classes,
        unclassified=lines.get(None),
    )


# --- Chinese text --------------------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{abs(x) * 100:.2f}%"


def _trend(rate: float | None, up: str = "增长", down: str = "下降") -> str:
    """同比增长 10.18% / 同比下降 1.95% / 同比持平 / 去年同期无销售, rounded as shown."""
    if rate is None:
        return "去年同期无销售"
    if f"{abs(rate) * 100:.2f}" == "0.00":
        return "同比持平"
    return f"同比{up if rate > 0 else down}{_pct(rate)}"


def _volume(cases: float, change: float, yoy: float | None) -> str:
    text = f"{cases:.2f}箱"
    if yoy is None:
        return text + "，去年同期无销售"
    if f"{abs(change):.2f}" == "0.00":
        return text + "，与去年同期持平"
    if change > 0:
        return text + f"，同比增加{abs(change):.2f}箱，增幅{_pct(yoy)}"
    return text + f"，同比减少{abs(change):.2f}箱，降幅{_pct(yoy)}"


def render_zh(s: AnnualSummary) -> str:
    """The summary as a CM writes it in the annual summary (seed 000), one paragraph."""
    parts = []
    if s.retailers:
        share = f"{s.online_share * 100:.1f}%" if s.online_share is not None else "—"
        parts.append(
            f"{s.year}年共服务零售客户{s.retailers}户，其中网上订货客户{s.online_retailers}户，占总客户数的{share}。"
        )
    sales = f"全年共销售卷烟{_volume(s.cases, s.change, s.yoy)}"
    sales += f"；其中省产烟{s.provincial_cases:.2f}箱，{_trend(s.provincial_yoy)}"
    if s.avg_price is not None:
        sales += f"；条均价{s.avg_price:.2f}元"
        if s.avg_price_ly is not None:
            sales += f"，去年同期{s.avg_price_ly:.2f}元，{_trend(s.avg_price_yoy, '提高', '降低')}"
    parts.append(sales + "。")
    items = [f"{c.name}烟{c.cases:.2f}箱，{_trend(c.yoy)}" for c in s.classes]
    if s.unclassified is not None:
        u = s.unclassified
        items.append(f"未分类产品{u.cases:.2f}箱，{_trend(u.yoy)}")
    if items:
        parts.append("分类别看：" + "；".join(items) + "。")
    return "".join(parts)
