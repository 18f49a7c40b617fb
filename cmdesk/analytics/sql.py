"""Build the one SQL statement that answers a :class:`~cmdesk.analytics.query.KpiQuery`.

The statement is written in the SQL subset DuckDB and Spark SQL share (CTEs, CASE, COUNT(DISTINCT), window SUM,
``IS NOT DISTINCT FROM``, ``DATE '…'`` literals, ``CAST … AS DOUBLE``), over views every engine registers under the
same names:

* ``retailers``, ``products``: the dimension snapshots;
* ``rpm``, ``rm``: the monthly aggregates (source "aggregates"), or ``lines``: the raw order lines (source "lines").

Stages: ``cur``/``lm``/``ly`` sum the facts of the period, the previous period and the same span last year at
retailer × product grain; ``x*`` join them to the dimensions (which also applies the scope filter); ``g*`` group
them; ``s`` counts the retailers served from the snapshot; ``base`` joins everything into exact integer columns;
the outer SELECT applies each indicator's formula from :mod:`cmdesk.analytics.indicators`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .indicators import INDICATORS
from .layout import m_idx, month_label
from .periods import Period
from .query import DIMENSIONS, PRODUCT_DIMS, RETAILER_DIMS, Filter, KpiQuery, QueryError

SUMS = ("lines", "online_lines", "demanded", "allotted", "ordered", "supplied", "amount_fen")


@dataclass(frozen=True)
class Plan:
    sql: str
    source: str  # aggregates | lines
    months: tuple[str, ...]  # the months whose files the statement reads
    group_columns: tuple[str, ...]  # output group columns (m_idx stands for month)
    indicators: tuple[str, ...]
    cube: str | None = None  # "qm" | "qpm" when the statement reads the route cubes
    tables: tuple[str, ...] = ("rpm", "rm")  # the aggregate tables it reads (source "aggregates")


def _d(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _cols(dims: list[str]) -> list[str]:
    out: list[str] = []
    for d in dims:
        out.extend(["m_idx"] if d == "month" else DIMENSIONS[d])
    return out


def _retailer_where(f: Filter) -> str:
    parts = []
    if f.nothing:
        parts.append("1 = 0")
    if f.org_paths:
        parts.append("(" + " OR ".join(f"org_path LIKE {_q(p + '%')}" for p in f.org_paths) + ")")
    if f.cm_ids:
        parts.append(f"cm_id IN ({', '.join(str(i) for i in f.cm_ids)})")
    if f.route_codes:
        parts.append(f"route_code IN ({', '.join(_q(c) for c in f.route_codes)})")
    if f.retailer_ids:
        parts.append(f"retailer_id IN ({', '.join(str(i) for i in f.retailer_ids)})")
    return " AND ".join(parts) or "1 = 1"


def _product_where(f: Filter) -> str:
    parts = []
    if f.product_codes:
        parts.append(f"product_code IN ({', '.join(_q(c) for c in f.product_codes)})")
    if f.brands:
        parts.append(f"brand IN ({', '.join(_q(b) for b in f.brands)})")
    if f.class_ranks:
        parts.append(f"class_rank IN ({', '.join(str(c) for c in f.class_ranks)})")
    if f.key_brands_only:
        parts.append("key_brand")
    return " AND ".join(parts) or "1 = 1"


def _product_filtered(f: Filter) -> bool:
    return bool(f.product_codes or f.brands or f.class_ranks or f.key_brands_only)


def _shift_months(day: dt.date, months: int) -> dt.date:
    i = m_idx(month_label(day)) + months
    return dt.date(i // 12, i % 12 + 1, 1)


def _month_span(p: Period, shift: int) -> Period:
    start = _shift_months(p.start, shift)
    last = _shift_months(p.end, shift)
    end = _shift_months(last, 1) - dt.timedelta(days=1)
    return Period("range", start, end)


def comparison_periods(q: KpiQuery) -> tuple[Period, Period, int, int]:
    """(previous, year-ago, month shift of previous, month shift of year-ago) for the query."""
    if "month" in q.by:
        return _month_span(q.period, -1), _month_span(q.period, -12), 1, 12
    return q.period.previous(), q.period.year_ago(), 0, 0


def _facts(source: str, p: Period, shift: int, with_month: bool) -> str:
    """Retailer × product (× month) sums for one period; m_idx is moved forward by ``shift`` months."""
    if source == "aggregates":
        lo, hi = m_idx(month_label(p.start)), m_idx(month_label(p.end))
        mcol = [f"m_idx + {shift} AS m_idx"] if with_month else []
        if lo == hi or with_month:
            # rpm has one row per retailer × product × month already: no GROUP BY (it was the costliest step)
            cols = [f"CAST({c} AS BIGINT) AS {c}" for c in SUMS]
            return (
                f"SELECT retailer_id, product_id, {', '.join(mcol + cols)} FROM rpm WHERE m_idx BETWEEN {lo} AND {hi}"
            )
        sums = [f"CAST(SUM({c}) AS BIGINT) AS {c}" for c in SUMS]
        keys = ["retailer_id", "product_id"] + (["m_idx"] if with_month else [])
        return (
            f"SELECT retailer_id, product_id, {', '.join(mcol + sums)} FROM rpm "
            f"WHERE m_idx BETWEEN {lo} AND {hi} GROUP BY {', '.join(keys)}"
        )
    mexpr = "YEAR(order_date) * 12 + MONTH(order_date) - 1"
    mcol = [f"{mexpr} + {shift} AS m_idx"] if with_month else []
    sums = [
        "CAST(COUNT(*) AS BIGINT) AS lines",
        "CAST(SUM(CASE WHEN channel = 'online' THEN 1 ELSE 0 END) AS BIGINT) AS online_lines",
        *[f"CAST(SUM({c}) AS BIGINT) AS {c}" for c in ("demanded", "allotted", "ordered", "supplied")],
        "CAST(SUM(CAST(ROUND(amount * 100) AS BIGINT)) AS BIGINT) AS amount_fen",
    ]
    keys = ["retailer_id", "product_id"] + ([mexpr] if with_month else [])
    return (
        f"SELECT retailer_id, product_id, {', '.join(mcol + sums)} FROM lines "
        f"WHERE order_date BETWEEN {_d(p.start)} AND {_d(p.end)} GROUP BY {', '.join(keys)}"
    )


def _orders(source: str, p: Period, shift: int, with_month: bool) -> str:
    if source == "aggregates":
        lo, hi = m_idx(month_label(p.start)), m_idx(month_label(p.end))
        mcol = [f"m_idx + {shift} AS m_idx"] if with_month else []
        if lo == hi or with_month:  # rm has one row per retailer × month already
            cols = ["CAST(orders AS BIGINT) AS orders", "CAST(online_orders AS BIGINT) AS online_orders"]
            return f"SELECT retailer_id, {', '.join(mcol + cols)} FROM rm WHERE m_idx BETWEEN {lo} AND {hi}"
        keys = ["retailer_id"] + (["m_idx"] if with_month else [])
        return (
            f"SELECT retailer_id, {', '.join(mcol + ['CAST(SUM(orders) AS BIGINT) AS orders', 'CAST(SUM(online_orders) AS BIGINT) AS online_orders'])} "  # noqa: E501
            f"FROM rm WHERE m_idx BETWEEN {lo} AND {hi} GROUP BY {', '.join(keys)}"
        )
    mexpr = "YEAR(order_date) * 12 + MONTH(order_date) - 1"
    mcol = [f"{mexpr} + {shift} AS m_idx"] if with_month else []
    keys = ["retailer_id"] + ([mexpr] if with_month else [])
    return (
        f"SELECT retailer_id, {', '.join(mcol + ['CAST(COUNT(DISTINCT order_id) AS BIGINT) AS orders', 'CAST(COUNT(DISTINCT CASE WHEN channel = ' + chr(39) + 'online' + chr(39) + ' THEN order_id END) AS BIGINT) AS online_orders'])} "  # noqa: E501
        f"FROM lines WHERE order_date BETWEEN {_d(p.start)} AND {_d(p.end)} GROUP BY {', '.join(keys)}"
    )


def _eq(cols: list[str], a: str, b: str) -> str:
    return " AND ".join(f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in cols) or "1 = 1"


def _months_table(p: Period) -> str:
    rows = []
    for label in p.months():
        i = m_idx(label)
        first = dt.date(i // 12, i % 12 + 1, 1)
        last = _shift_months(first, 1) - dt.timedelta(days=1)
        rows.append(f"SELECT {i} AS m_idx, {_d(max(first, p.start))} AS m_start, {_d(min(last, p.end))} AS m_end")
    return " UNION ALL ".join(rows)


# 2. group on one key column per dimension (integers where the dimension has an id); labels joined at the end
KEYS = {
    "branch": "branch_code",
    "dept": "dept_code",
    "area": "area_code",
    "route": "route_id",
    "cm": "cm_id",
    "retailer": "retailer_id",
    "market_type": "market_type",
    "format": "business_format",
    "tier": "tier",
    "product": "product_id",
    "brand": "brand",
    "class": "class_rank",
    "provincial": "provincial",
    "month": "m_idx",
}


def _uniq(cols):
    out = []
    for c in cols:
        if c not in out:
            out.append(c)
    return out


def _retailer_first(ctes, name, cols, sums, rneeded, pneeded, gsel) -> None:
    """Groupings without product dimensions: sum each retailer's pairs before joining the (larger) retailer side.

    ``xp_*`` joins the facts to the products (scope filter, provincial flag), ``rr_*`` is one row per retailer
    (× month), ``gr_*`` adds the retailer's keys from ``r`` (whose join also applies the retailer scope) and ``g_*``
    groups them.
    """
    pcols = ", ".join([f"p.{c}" for c in pneeded if c not in ("product_id", "route_id")] + ["p.listed", "b.*"])
    ctes.append(f"xp_{name} AS (SELECT {pcols} FROM f_{name} b JOIN p ON b.product_id = p.product_id)")
    keys = "retailer_id, m_idx" if "m_idx" in gsel.split(", ") else "retailer_id"
    flags = name != "ly"
    ctes.append(
        f"rr_{name} AS (SELECT {keys}, "
        + ", ".join(f"CAST({sums[c]} AS BIGINT) AS {c}" for c in cols)
        + (", MAX(CASE WHEN supplied > 0 THEN 1 ELSE 0 END) AS bought" if flags else "")
        + (", MAX(CASE WHEN ordered > 0 THEN 1 ELSE 0 END) AS ordering" if name == "cur" else "")
        + f" FROM xp_{name} GROUP BY {keys})"
    )
    rcols = ", ".join([f"r.{c}" for c in rneeded if c != "retailer_id"] + ["rr.*"])
    ctes.append(f"gr_{name} AS (SELECT {rcols} FROM rr_{name} rr JOIN r ON rr.retailer_id = r.retailer_id)")
    outs = [f"CAST(SUM({c}) AS BIGINT) AS {c}" for c in cols]
    if flags:
        outs.append("CAST(SUM(bought) AS BIGINT) AS buyers")
    if name == "cur":
        outs += [
            "CAST(SUM(ordering) AS BIGINT) AS orderers",
            "COUNT(DISTINCT CASE WHEN bought = 1 THEN route_id END) AS routes_sold",
        ]
    ctes.append(
        f"g_{name} AS (SELECT {gsel + ', ' if gsel else ''}{', '.join(outs)} FROM gr_{name}"
        f"{' GROUP BY ' + gsel if gsel else ''})"
    )


# retailer-side groupings that are functions of the route (a retailer's route decides its CM, area, department, branch)
ROUTE_DIMS = ("branch", "dept", "area", "route", "cm")


def cube_kind(q: KpiQuery) -> str | None:
    """Which route cube answers ``q`` exactly ("qm", "qpm"), or None.

    The cubes count distinct retailers per route and month, which add up over routes but not over months or over
    products: so one month (or a grouping by month), retailer-side groupings at route level or coarser, no retailer
    filter, and either no product side at all (qm) or a grouping by the product itself (qpm).
    """
    if q.resolved_source != "aggregates" or q.filter.retailer_ids:
        return None
    if "month" not in q.by and len(q.period.months()) != 1:
        return None
    if any(d in RETAILER_DIMS and d not in ROUTE_DIMS for d in q.by):
        return None
    if not any(d in PRODUCT_DIMS for d in q.by):
        return None if _product_filtered(q.filter) else "qm"
    return "qpm" if "product" in q.by else None


CUBE_COLS = {
    "cur": [
        "cartons",
        "amount_fen",
        "demanded",
        "allotted",
        "ordered",
        "prov_cartons",
        "buyers",
        "orderers",
        "repeat_buyers",
        "pairs_allotted",
        "pairs_full",
        "pairs_ordering",
    ],
    "lm": ["cartons", "amount_fen", "buyers"],
    "ly": ["cartons", "amount_fen", "prov_cartons"],
}


def _cube_stages(ctes, kind, q, periods, with_month, rk, pk, gk, gsel) -> None:
    """g_cur, g_lm, g_ly, gs, rep and o from the route cubes: group sums over the routes (× products) in scope."""
    rt_cols = _uniq(["route_id", *rk])
    ctes.append(f"rt AS (SELECT DISTINCT {', '.join(rt_cols)} FROM r)")
    for name, per, shift in periods:
        lo, hi = m_idx(month_label(per.start)), m_idx(month_label(per.end))
        cols = list(CUBE_COLS[name])
        if name == "cur":
            cols += ["lines", "online_lines"] if kind == "qpm" else ["orders", "online_orders"]
        src_cols = [c for c in cols if not (kind == "qpm" and c == "prov_cartons")]
        keys = ["route_id"] + (["product_id"] if kind == "qpm" else [])
        mcol = [f"m_idx + {shift} AS m_idx"] if with_month else []
        ctes.append(
            f"c_{name} AS (SELECT {', '.join(keys + mcol + src_cols)} FROM {kind} WHERE m_idx BETWEEN {lo} AND {hi})"
        )
        xs = [f"rt.{c}" for c in rk if c != "route_id"] + ["c.*"]
        join_p = ""
        if kind == "qpm":
            xs = _uniq([f"p.{c}" for c in pk if c != "product_id"] + ["p.provincial", "p.listed"]) + xs
            join_p = " JOIN p ON c.product_id = p.product_id"
        ctes.append(f"x_{name} AS (SELECT {', '.join(xs)} FROM c_{name} c JOIN rt ON c.route_id = rt.route_id{join_p})")
        outs = []
        for c in cols:
            expr = "CASE WHEN provincial THEN cartons ELSE 0 END" if (kind == "qpm" and c == "prov_cartons") else c
            outs.append(f"CAST(SUM({expr}) AS BIGINT) AS {c}")
        if name == "cur":
            outs.append("COUNT(DISTINCT CASE WHEN buyers > 0 THEN route_id END) AS routes_sold")
        ctes.append(
            f"g_{name} AS (SELECT {gsel + ', ' if gsel else ''}{', '.join(outs)} FROM x_{name}"
            f"{' GROUP BY ' + gsel if gsel else ''})"
        )
    # products on sale that sold, per group: the route × product cube of the period (in the scope's routes)
    if kind == "qpm":
        sold_from, gpk = "x_cur WHERE cartons > 0 AND listed = 1", _uniq(gk + ["product_id"])
    else:
        lo, hi = m_idx(month_label(q.period.start)), m_idx(month_label(q.period.end))
        mcol = "q.m_idx" if with_month else None
        gpk = [("rt." + c if c in rk else mcol) for c in gk] + ["q.product_id"]
        sold_from = (
            f"qpm q JOIN rt ON q.route_id = rt.route_id JOIN p ON q.product_id = p.product_id "
            f"WHERE q.m_idx BETWEEN {lo} AND {hi} AND q.cartons > 0 AND p.listed = 1"
        )
    ctes.append(
        f"gs AS (SELECT {gsel + ', ' if gsel else ''}COUNT(*) AS skus_sold FROM (SELECT DISTINCT {', '.join(gpk)} "
        f"FROM {sold_from}) t{' GROUP BY ' + gsel if gsel else ''})"
    )
    ctes.append(f"rep AS (SELECT {gsel + ', ' if gsel else ''}repeat_buyers FROM g_cur)")
    if kind == "qm":
        ctes.append(f"o AS (SELECT {gsel + ', ' if gsel else ''}orders, online_orders FROM g_cur)")


def build(q: KpiQuery, cubes: bool = True) -> Plan:
    source = q.resolved_source
    with_month = "month" in q.by
    if with_month and not q.period.month_aligned:
        raise QueryError("grouping by month needs a period of whole months")
    f = q.filter
    rdims = [d for d in q.by if d in RETAILER_DIMS]
    pdims = [d for d in q.by if d in PRODUCT_DIMS]
    gcols = _cols(list(q.by))
    gk = [KEYS[d] for d in q.by]  # group keys, in the order of q.by
    rk = [KEYS[d] for d in rdims]
    pk = [KEYS[d] for d in pdims]
    tk = ["m_idx"] if with_month else []
    rtk, ptk = rk + tk, pk + tk
    prev, year_ago, lm_shift, ly_shift = comparison_periods(q)
    gsel = ", ".join(gk)

    rneeded = _uniq(["retailer_id", "route_id", *rk])
    pneeded = _uniq(["product_id", "provincial", *pk])
    ctes: list[str] = []
    rlabels = _uniq([c for d in rdims for c in DIMENSIONS[d]])
    plabels = _uniq([c for d in pdims for c in DIMENSIONS[d]])
    ctes.append(
        f"r AS (SELECT {', '.join(_uniq(rneeded + rlabels))}, opened_on, closed_on FROM retailers "
        f"WHERE {_retailer_where(f)})"
    )
    ctes.append(
        f"p AS (SELECT {', '.join(_uniq(pneeded + plabels))}, CASE WHEN status <> 'pending' AND "
        f"(launched_on IS NULL OR launched_on <= {_d(q.period.end)}) AND status <> 'discontinued' "
        "THEN 1 ELSE 0 END AS listed "
        f"FROM products WHERE {_product_where(f)})"
    )
    sums = {
        "cartons": "SUM(supplied)",
        "amount_fen": "SUM(amount_fen)",
        "demanded": "SUM(demanded)",
        "allotted": "SUM(allotted)",
        "ordered": "SUM(ordered)",
        "lines": "SUM(lines)",
        "online_lines": "SUM(online_lines)",
        "prov_cartons": "SUM(CASE WHEN provincial THEN supplied ELSE 0 END)",
        "pairs_allotted": "SUM(CASE WHEN allotted > 0 THEN 1 ELSE 0 END)",
        "pairs_full": "SUM(CASE WHEN allotted > 0 AND ordered >= allotted THEN 1 ELSE 0 END)",
        "pairs_ordering": "SUM(CASE WHEN allotted > 0 AND ordered > 0 THEN 1 ELSE 0 END)",
    }
    needs = {
        "cur": list(sums),
        "lm": ["cartons", "amount_fen"],
        "ly": ["cartons", "amount_fen", "prov_cartons"],
    }
    kind = cube_kind(q) if cubes else None
    periods = (("cur", q.period, 0), ("lm", prev, lm_shift), ("ly", year_ago, ly_shift))
    if kind:
        _cube_stages(ctes, kind, q, periods, with_month, rk, pk, gk, gsel)
    for name, per, shift in periods if not kind else ():
        ctes.append(f"f_{name} AS ({_facts(source, per, shift, with_month)})")
        if not pdims:  # orders come from rm (or are not counted): no line counts needed
            cols = [c for c in needs[name] if c not in ("lines", "online_lines")]
            _retailer_first(ctes, name, cols, sums, rneeded, pneeded, gsel)
            continue
        xcols = ", ".join(
            [f"r.{c}" for c in rneeded if c != "retailer_id"]
            + [f"p.{c}" for c in pneeded if c != "product_id"]
            + ["p.listed", "b.*"]
        )
        ctes.append(
            f"x_{name} AS (SELECT {xcols} FROM f_{name} b JOIN r ON b.retailer_id = r.retailer_id "
            f"JOIN p ON b.product_id = p.product_id)"
        )
        # per group and retailer (a retailer's route and retailer-side keys are functions of the retailer)
        grk = _uniq(gk + ["retailer_id", "route_id"])
        cols = needs[name]
        if name == "ly":  # only sums: straight from the pairs
            ctes.append(
                f"g_ly AS (SELECT {gsel + ', ' if gsel else ''}"
                + ", ".join(f"CAST({sums[c]} AS BIGINT) AS {c}" for c in cols)
                + f" FROM x_ly{' GROUP BY ' + gsel if gsel else ''})"
            )
            continue
        if "product" in q.by:
            # a pair (retailer, product) is one row of x_*: the per-retailer level is a projection
            row = {c: sums[c].replace("SUM(", "(", 1) for c in cols}
            ctes.append(
                f"gr_{name} AS (SELECT {', '.join(grk)}, "
                + ", ".join(f"CAST({row[c]} AS BIGINT) AS {c}" for c in cols)
                + ", CASE WHEN supplied > 0 THEN 1 ELSE 0 END AS bought"
                + (", CASE WHEN ordered > 0 THEN 1 ELSE 0 END AS ordering" if name == "cur" else "")
                + f" FROM x_{name})"
            )
        else:
            ctes.append(
                f"gr_{name} AS (SELECT {', '.join(grk)}, "
                + ", ".join(f"CAST({sums[c]} AS BIGINT) AS {c}" for c in cols)
                + ", MAX(CASE WHEN supplied > 0 THEN 1 ELSE 0 END) AS bought"
                + (", MAX(CASE WHEN ordered > 0 THEN 1 ELSE 0 END) AS ordering" if name == "cur" else "")
                + f" FROM x_{name} GROUP BY {', '.join(grk)})"
            )
        outs = [f"CAST(SUM({c}) AS BIGINT) AS {c}" for c in cols] + ["CAST(SUM(bought) AS BIGINT) AS buyers"]
        if name == "cur":
            outs += [
                "CAST(SUM(ordering) AS BIGINT) AS orderers",
                "COUNT(DISTINCT CASE WHEN bought = 1 THEN route_id END) AS routes_sold",
            ]
        ctes.append(
            f"g_{name} AS (SELECT {gsel + ', ' if gsel else ''}{', '.join(outs)} FROM gr_{name}"
            f"{' GROUP BY ' + gsel if gsel else ''})"
        )
    # products on sale that sold, per group
    gpk = _uniq(gk + ["product_id"])
    if kind:
        pass  # gs came from the cube
    elif pdims:
        sold_from = "x_cur WHERE supplied > 0 AND listed = 1"
    else:  # the facts again (inline: a CTE referenced twice would be materialised), keys from r
        sold_cols = ", ".join(f"r.{c}" if c in rk else f"b.{c}" for c in gpk)
        gpk = [sold_cols]
        sold_from = (
            f"({_facts(source, q.period, 0, with_month)}) b JOIN r ON b.retailer_id = r.retailer_id "
            "JOIN p ON b.product_id = p.product_id WHERE b.supplied > 0 AND p.listed = 1"
        )
    if not kind:
        ctes.append(
            f"gs AS (SELECT {gsel + ', ' if gsel else ''}COUNT(*) AS skus_sold FROM (SELECT DISTINCT "
            f"{', '.join(gpk)} FROM {sold_from}) t{' GROUP BY ' + gsel if gsel else ''})"
        )

    if with_month:
        ctes.append(f"mt AS ({_months_table(q.period)})")
        served_from = "r CROSS JOIN mt"
        open_cond = (
            "(r.opened_on IS NULL OR r.opened_on <= mt.m_end) AND (r.closed_on IS NULL OR r.closed_on >= mt.m_start)"
        )
        scols = [f"r.{c}" for c in rk] + ["mt.m_idx"]
    else:
        served_from = "r"
        open_cond = (
            f"(r.opened_on IS NULL OR r.opened_on <= {_d(q.period.end)}) AND "
            f"(r.closed_on IS NULL OR r.closed_on >= {_d(q.period.start)})"
        )
        scols = [f"r.{c}" for c in rk]
    ssel = ", ".join(scols)
    ctes.append(
        f"s AS (SELECT {ssel + ', ' if ssel else ''}COUNT(*) AS served, COUNT(DISTINCT r.route_id) AS routes "
        f"FROM {served_from} WHERE {open_cond}{' GROUP BY ' + ssel if ssel else ''})"
    )
    psel = ", ".join(pk)
    ctes.append(
        f"pl AS (SELECT {psel + ', ' if psel else ''}CAST(SUM(listed) AS BIGINT) AS skus_listed FROM p"
        f"{' GROUP BY ' + psel if psel else ''})"
    )
    orders_from_lines = bool(pdims)
    if not orders_from_lines and not _product_filtered(f) and not kind:
        ctes.append(f"o_raw AS ({_orders(source, q.period, 0, with_month)})")
        osel = ", ".join([f"r.{c}" for c in rk] + (["o_raw.m_idx"] if with_month else []))
        ctes.append(
            f"o AS (SELECT {osel + ', ' if osel else ''}CAST(SUM(o_raw.orders) AS BIGINT) AS orders, "
            "CAST(SUM(o_raw.online_orders) AS BIGINT) AS online_orders "
            f"FROM o_raw JOIN r ON o_raw.retailer_id = r.retailer_id{' GROUP BY ' + osel if osel else ''})"
        )
    # repeat buyers: gr_* is one row per (retailer, product-side keys[, month]) already: no DISTINCT needed
    kcols = _uniq(["retailer_id"] + ptk)
    if not kind:
        ctes.append(f"k_cur AS (SELECT {', '.join(_uniq(kcols + rk))} FROM gr_cur WHERE bought = 1)")
        ctes.append(f"k_lm AS (SELECT {', '.join(kcols)} FROM gr_lm WHERE bought = 1)")
        rep_sel = ", ".join(f"k_cur.{c}" for c in gk)
        ctes.append(
            f"rep AS (SELECT {rep_sel + ', ' if gk else ''}COUNT(*) AS repeat_buyers FROM k_cur "
            f"JOIN k_lm ON {_eq(kcols, 'k_cur', 'k_lm')}{' GROUP BY ' + rep_sel if rep_sel else ''})"
        )

    head = "s" if not pdims else "c"
    src = "g_cur c" if pdims else "s"
    if not pdims:
        joins = [f"LEFT JOIN g_cur c ON {_eq(rtk, 's', 'c')}"]
    else:
        joins = [f"LEFT JOIN s ON {_eq(rtk, 'c', 's')}" if rtk else "CROSS JOIN s"]
    joins += [
        f"LEFT JOIN gs ON {_eq(gk, head, 'gs')}" if gk else "CROSS JOIN gs",
        f"LEFT JOIN g_lm lm ON {_eq(gk, head, 'lm')}",
        f"LEFT JOIN g_ly ly ON {_eq(gk, head, 'ly')}",
        f"LEFT JOIN rep ON {_eq(gk, head, 'rep')}",
        f"LEFT JOIN pl ON {_eq(pk, head, 'pl')}" if pk else "CROSS JOIN pl",
    ]
    if not orders_from_lines and not _product_filtered(f):
        joins.append(f"LEFT JOIN o ON {_eq(rtk, head, 'o')}" if rtk else "CROSS JOIN o")
        orders_cols = "COALESCE(o.orders, 0) AS orders, COALESCE(o.online_orders, 0) AS online_orders"
    elif orders_from_lines:
        orders_cols = "COALESCE(c.lines, 0) AS orders, COALESCE(c.online_lines, 0) AS online_orders"
    else:
        orders_cols = "CAST(NULL AS BIGINT) AS orders, CAST(NULL AS BIGINT) AS online_orders"
    z = "COALESCE({0}, 0)"
    cur_cols = [
        "cartons",
        "amount_fen",
        "demanded",
        "allotted",
        "ordered",
        "prov_cartons",
        "buyers",
        "orderers",
        "routes_sold",
        "pairs_allotted",
        "pairs_full",
        "pairs_ordering",
    ]
    base_cols = (
        [f"{head}.{c}" for c in gk]
        + ["COALESCE(s.served, 0) AS served", "COALESCE(s.routes, 0) AS routes"]
        + [f"{z.format('c.' + c)} AS {c}" for c in cur_cols]
        + [f"{z.format('gs.skus_sold')} AS skus_sold"]
        + [f"{z.format('lm.' + c)} AS {c}_lm" for c in ("cartons", "amount_fen", "buyers")]
        + [f"{z.format('ly.' + c)} AS {c}_ly" for c in ("cartons", "amount_fen", "prov_cartons")]
        + [f"{z.format('rep.repeat_buyers')} AS repeat_buyers", f"{z.format('pl.skus_listed')} AS skus_listed"]
        + [orders_cols]
    )
    ctes.append(f"base AS (SELECT {', '.join(base_cols)} FROM {src} {' '.join(joins)})")
    parent = [KEYS[d] for d in q.by[:-1]]
    over = f"PARTITION BY {', '.join(parent)}" if parent else ""
    ctes.append(
        f"base2 AS (SELECT base.*, CAST(cartons AS DOUBLE) / NULLIF(SUM(cartons) OVER ({over}), 0) AS share FROM base)"
    )
    # labels: one small table per labelled dimension
    lab_joins, out_cols = [], []
    for d in q.by:
        key = KEYS[d]
        labels = [c for c in DIMENSIONS[d] if c != key] if d != "month" else []
        if labels:
            srcv = "r" if d in RETAILER_DIMS else "p"
            ctes.append(f"lab_{d} AS (SELECT DISTINCT {key}, {', '.join(labels)} FROM {srcv})")
            lab_joins.append(f"LEFT JOIN lab_{d} ON base2.{key} IS NOT DISTINCT FROM lab_{d}.{key}")
        for c in DIMENSIONS[d] if d != "month" else ["m_idx"]:
            out_cols.append(f"base2.{c} AS {c}" if c == key else f"lab_{d}.{c} AS {c}")
    names = q.indicators or tuple(INDICATORS)
    outer = out_cols + [f"{INDICATORS[n].sql} AS {n}" for n in names]
    sql = "WITH " + ",\n".join(ctes) + f"\nSELECT {', '.join(outer)} FROM base2 {' '.join(lab_joins)}"
    months = sorted(set(q.period.months()) | set(prev.months()) | set(year_ago.months()))
    tables = ("rpm", "rm") if not kind else ("qm", "qpm") if kind == "qm" else ("qpm",)
    return Plan(
        sql=sql,
        source=source,
        months=tuple(months),
        group_columns=tuple(gcols),
        indicators=tuple(names),
        cube=kind,
        tables=tables,
    )
