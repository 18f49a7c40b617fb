"""Order-anomaly detection (预警, shared with enforcement): DOMAIN.md's warning rules over one month of order lines.

No Django here: :func:`detect` takes the month's order files (and the three months before), the retailers and
products as Arrow tables and the thresholds, and returns :class:`Finding` rows. Everything runs as a fixed number of
DuckDB queries over the lines (no loop over retailers), so a city's month takes seconds.

Rules (``Thresholds`` holds every number; the national values are the defaults):

``brand_month``  a brand's sales (cartons supplied) this month > (1 + brand_month_growth) × last month, per brand and
                 unit (the whole table, ``"*"``, and each branch). Brands below ``brand_min_cartons`` are ignored.
``day_share``    one day's sales of a brand > day_share × its month, same units and floor.
``order_spike``  a retailer's order > order_ratio × the average of its previous ``order_ratio_periods`` orders; not for
                 orders below ``order_min_cartons``, not for new retailers (opened within ``new_retailer_days`` or
                 with fewer previous orders than averaged).
``month_spike``  a retailer's month > month_ratio × last month (this month at least ``order_min_cartons``).
``peer_growth``  (this month ÷ last month) ÷ the peer group's < peer_ratio; last month at least ``order_min_cartons``
                 and the fall at least ``order_min_cartons`` cartons (smaller falls are the noise of weekly ordering).
                 Peer group: retailers of the same branch, tier band (``peer_tier_band`` tiers per band), business
                 format and market type; when fewer than ``peer_min_size`` others are in it, the same branch, band and
                 market type; then branch and band. The retailer itself is left out of its group's sums.
``collapse``     (this month ÷ the average of the three months before) ÷ the same ratio of the peer group <
                 collapse_ratio, the average being at least ``order_min_cartons``; includes stopping altogether. A
                 retailer-month that is a collapse is not also reported as ``peer_growth``.
``above_tier``   this month > proxy_volume_ratio × the median month of the retailers of its tier and format (tier band
                 and format when fewer than ``peer_min_size``; then the band), and at least ``order_min_cartons``.
``proxy``        代订货: a shop whose orders over the last three months mirror a higher-tier shop's: similarity =
                 mean of (order days' Jaccard index, share of its order lines that the other shop also ordered the
                 same day, max(0, correlation of weekly cartons)) ≥ proxy_similarity. Only shops at least
                 ``MIRROR_CANDIDATE_RATIO`` × their tier-and-format median are tested (a proxy's volume is its
                 partner's), which keeps the pair join small.
``shared_account`` two retailers with the same phone or settlement account (the smaller shop is the subject).

Screening (a finding that is screened is counted in :attr:`Detection.screened` instead):

* launches: order lines of products launched within ``launch_weeks`` before the order date are left out of the
  brand, spike and month rules (a new product's first weeks are not an anomaly);
* holidays: ``holidays`` are dates (the Spring Festival); days within ``holiday_weeks`` weeks either side are
  screened for the day and order rules, and a month (or its previous month) that touches such a window is screened
  for the brand-month and month-spike rules. Peer-relative rules need no holiday screen: the peers share the season;
* uneven arrivals: a brand whose last month was supplied short (supplied ÷ ordered < ``short_supply``), or whose
  growth on the average of the three months before is within the threshold (last month was abnormally low, this one
  only catches up), is screened; the same low-base test screens ``month_spike`` (a retailer that skipped weeks);
  a retailer whose last month was itself a spike (> month_ratio × the average of the two before) is not reported
  for a fall this month (``peer_growth``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .layout import m_idx, month_of_idx, order_file

MIRROR_CANDIDATE_RATIO = 1.5  # shops tested for mirroring: at least this × their tier-and-format median
MIRROR_MIN_SHARED = 0.5  # … and pairs that share at least half of the shop's order lines (date and product)
MIRROR_TOP = 3  # partners per shop whose weekly correlation is computed
HISTORY_MONTHS = 3  # months read before the month detected

RETAILER_SCHEMA = pa.schema(
    [
        pa.field("retailer_id", pa.int64(), nullable=False),
        pa.field("tier", pa.int32()),
        pa.field("business_format", pa.string()),
        pa.field("market_type", pa.string()),
        pa.field("branch", pa.string()),  # the unit key of the retailer's county branch
        pa.field("opened_on", pa.date32()),
        pa.field("closed_on", pa.date32()),
        pa.field("phone", pa.string()),
        pa.field("account", pa.string()),
    ]
)
PRODUCT_SCHEMA = pa.schema(
    [
        pa.field("product_id", pa.int64(), nullable=False),
        pa.field("brand", pa.string()),
        pa.field("launched_on", pa.date32()),
    ]
)

BRAND_MONTH, DAY_SHARE = "brand_month", "day_share"
ORDER_SPIKE, MONTH_SPIKE = "order_spike", "month_spike"
PEER_GROWTH, COLLAPSE = "peer_growth", "collapse"
PROXY, SHARED_ACCOUNT, ABOVE_TIER = "proxy", "shared_account", "above_tier"
KINDS = (BRAND_MONTH, DAY_SHARE, ORDER_SPIKE, MONTH_SPIKE, PEER_GROWTH, COLLAPSE, PROXY, SHARED_ACCOUNT, ABOVE_TIER)
#: rules that judge a month's totals or shares: over a month still in progress they would compare a few days with whole
#: months (every shop "collapses", every day is a large share), so they wait until the month is over
WHOLE_MONTH_KINDS = frozenset({BRAND_MONTH, DAY_SHARE, MONTH_SPIKE, PEER_GROWTH, COLLAPSE, ABOVE_TIER})


@dataclass(frozen=True)
class Thresholds:
    """The warning thresholds (AlertRules as plain numbers). Ratios are plain floats: 0.5 = 50%, 2.0 = 200%."""

    brand_month_growth: float = 0.5
    day_share: float = 0.15
    order_ratio: float = 2.0
    order_ratio_periods: int = 3
    order_min_cartons: int = 20
    new_retailer_days: int = 90
    month_ratio: float = 2.0
    peer_ratio: float = 0.8
    collapse_ratio: float = 0.5
    peer_tier_band: int = 5
    peer_min_size: int = 5
    launch_weeks: int = 8
    holiday_weeks: int = 5
    holidays: tuple[dt.date, ...] = ()
    short_supply: float = 0.9
    brand_min_cartons: int = 250
    proxy_similarity: float = 0.8
    proxy_volume_ratio: float = 3.0


@dataclass(frozen=True)
class Finding:
    """One detected anomaly: its kind, subject (retailer, or brand and unit), period and the figures behind it."""

    kind: str
    period_start: dt.date
    period_end: dt.date
    measured: dict[str, Any]
    severity: int
    retailer_id: int | None = None
    partner_id: int | None = None
    brand: str = ""
    unit: str = ""  # brand rules: "*" (everything detected) or a branch key

    @property
    def subject(self) -> str:
        """What the finding is about, for the alert's key."""
        if self.retailer_id is None:
            return f"{self.unit}:{self.brand}"
        if self.partner_id is not None:
            return f"r{self.retailer_id}:r{self.partner_id}"
        return f"r{self.retailer_id}"


@dataclass
class Detection:
    month: str
    findings: list[Finding] = field(default_factory=list)
    screened: Counter = field(default_factory=Counter)  # "rule:reason" → findings screened out
    retailers: int = 0
    lines: int = 0
    deferred: tuple[str, ...] = ()  # whole-month rules not run: the month is still in progress


def _severity(value: float, threshold: float, above: bool = True) -> int:
    """1..3 by how far past the threshold: 1.5× and 2× the threshold (or below 1/1.5, 1/2 of it)."""
    if above:
        x = value / threshold if threshold else 1.0
    else:
        x = threshold / value if value > 0 else 10.0
    return 1 + int(x >= 1.5) + int(x >= 2.0)


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    first = dt.date(int(month[:4]), int(month[5:7]), 1)
    nxt = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


def holiday_windows(holidays: Iterable[dt.date], weeks: int) -> list[tuple[dt.date, dt.date]]:
    """Screened windows: ``weeks`` weeks before to ``weeks`` weeks after each holiday."""
    span = dt.timedelta(days=7 * weeks)
    return [(day - span, day + span) for day in sorted(set(holidays))] if weeks > 0 else []


def month_in_holiday(month: str, windows: Sequence[tuple[dt.date, dt.date]]) -> bool:
    first, last = month_bounds(month)
    return any(lo <= last and first <= hi for lo, hi in windows)


def _r(x: Any, digits: int = 2) -> float:
    return round(float(x), digits)


def detect(
    data_dir: Path,
    month: str,
    retailers: pa.Table,
    products: pa.Table,
    th: Thresholds,
    kinds: Iterable[str] = KINDS,
    complete: bool = True,
) -> Detection:
    """Run the rules over ``month`` (YYYY-MM) of the order files under ``data_dir`` for the given retailers.

    ``retailers`` (RETAILER_SCHEMA) is the population: lines of other retailers are ignored, brand rules are per
    ``"*"`` (all of them) and per ``branch``. Needs the month's order file; the three months before are read when
    present (missing ones count as no orders). ``complete=False`` (the month is still in progress) runs only the rules
    of single orders and order patterns; the :data:`WHOLE_MONTH_KINDS` asked for are listed in ``deferred``."""
    kinds = set(kinds)
    deferred = () if complete else tuple(k for k in KINDS if k in kinds and k in WHOLE_MONTH_KINDS)
    kinds -= set(deferred)
    target = m_idx(month)
    files = [order_file(data_dir, month_of_idx(i)) for i in range(target - HISTORY_MONTHS, target + 1)]
    if not files[-1].is_file():
        raise FileNotFoundError(f"no order file for {month}: {files[-1]}")
    present = [str(f) for f in files if f.is_file()]
    first, last = month_bounds(month)
    windows = holiday_windows(th.holidays, th.holiday_weeks)
    out = Detection(month, deferred=deferred)
    con = duckdb.connect()
    try:
        con.register("r_in", retailers.cast(RETAILER_SCHEMA))
        con.register("p_in", products.cast(PRODUCT_SCHEMA))
        con.execute("CREATE TEMP TABLE r AS SELECT * FROM r_in")
        con.execute("CREATE TEMP TABLE hw (lo DATE, hi DATE)")
        if windows:
            con.executemany("INSERT INTO hw VALUES (?, ?)", windows)
        con.execute(
            """
            CREATE TEMP TABLE l AS
            SELECT o.order_date AS d, o.order_id, o.retailer_id, o.product_id, o.ordered AS q, o.supplied AS s,
                   (year(o.order_date) * 12 + month(o.order_date) - 1)::INTEGER AS m,
                   coalesce(p.launched_on > o.order_date - $launch::INTEGER AND p.launched_on <= o.order_date, false)
                       AS new_product,
                   coalesce(p.brand, '') AS brand
            FROM read_parquet($files) o
            JOIN r USING (retailer_id)
            LEFT JOIN p_in p USING (product_id)
            """,
            {"files": present, "launch": 7 * th.launch_weeks},
        )
        con.execute(
            "CREATE TEMP TABLE hd AS SELECT DISTINCT d, EXISTS (SELECT 1 FROM hw WHERE d BETWEEN lo AND hi) AS holiday "
            "FROM l"
        )
        out.lines = con.execute("SELECT count(*) FROM l WHERE m = $m", {"m": target}).fetchone()[0]
        out.retailers = con.execute("SELECT count(*) FROM r").fetchone()[0]
        month_screen = month_in_holiday(month, windows) or month_in_holiday(month_of_idx(target - 1), windows)
        ctx = _Ctx(con, th, target, first, last, month_screen, out)
        if kinds & {BRAND_MONTH, DAY_SHARE}:
            _brand_rules(ctx, kinds)
        if ORDER_SPIKE in kinds:
            _order_spikes(ctx)
        _retailer_months(ctx)
        if kinds & {MONTH_SPIKE, PEER_GROWTH, COLLAPSE}:
            _month_rules(ctx, kinds)
        if kinds & {ABOVE_TIER, PROXY}:
            _volume_rules(ctx, kinds)
        if SHARED_ACCOUNT in kinds:
            _shared(ctx)
    finally:
        con.close()
    return out


@dataclass
class _Ctx:
    con: duckdb.DuckDBPyConnection
    th: Thresholds
    m: int
    first: dt.date
    last: dt.date
    month_screen: bool
    out: Detection

    def rows(self, sql: str, params: dict | None = None) -> list[dict]:
        cur = self.con.execute(sql, params or {})
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def add(self, finding: Finding) -> None:
        self.out.findings.append(finding)

    def screen(self, rule: str, reason: str, n: int = 1) -> None:
        if n:
            self.out.screened[f"{rule}:{reason}"] += n


def _brand_rules(ctx: _Ctx, kinds: set[str]) -> None:
    th, m = ctx.th, ctx.m
    ctx.con.execute(
        """
        CREATE TEMP TABLE bm AS
        SELECT coalesce(r.branch, '*') AS unit, l.brand, l.m, sum(l.s) AS s, sum(l.q) AS q
        FROM l JOIN r USING (retailer_id)
        WHERE NOT l.new_product AND l.brand <> ''
        GROUP BY GROUPING SETS ((l.brand, l.m), (r.branch, l.brand, l.m))
        """
    )
    if BRAND_MONTH in kinds:
        rows = ctx.rows(
            """
            SELECT unit, brand,
                   sum(s) FILTER (WHERE m = $m) AS s0, sum(s) FILTER (WHERE m = $m - 1) AS s1,
                   sum(q) FILTER (WHERE m = $m - 1) AS q1,
                   sum(s) FILTER (WHERE m BETWEEN $m - 3 AND $m - 1) / 3.0 AS avg3
            FROM bm GROUP BY unit, brand
            HAVING s0 >= $floor AND s1 > 0 AND s0 > (1 + $g) * s1
            ORDER BY unit, brand
            """,
            {"m": m, "floor": th.brand_min_cartons, "g": th.brand_month_growth},
        )
        for row in rows:
            if ctx.month_screen:
                ctx.screen(BRAND_MONTH, "holiday")
                continue
            if row["q1"] and row["s1"] / row["q1"] < th.short_supply:
                ctx.screen(BRAND_MONTH, "short_supply")
                continue
            if row["s0"] <= (1 + th.brand_month_growth) * row["avg3"]:
                ctx.screen(BRAND_MONTH, "low_base")
                continue
            growth = row["s0"] / row["s1"] - 1
            ctx.add(
                Finding(
                    BRAND_MONTH,
                    ctx.first,
                    ctx.last,
                    {
                        "cartons": int(row["s0"]),
                        "last_month": int(row["s1"]),
                        "growth": _r(growth, 4),
                        "average_3m": _r(row["avg3"], 1),
                        "fill_last_month": _r(row["s1"] / row["q1"], 4) if row["q1"] else None,
                    },
                    _severity(growth, th.brand_month_growth),
                    brand=row["brand"],
                    unit=row["unit"],
                )
            )
    if DAY_SHARE in kinds:
        rows = ctx.rows(
            """
            WITH day AS (
                SELECT coalesce(r.branch, '*') AS unit, l.brand, l.d, sum(l.s) AS s
                FROM l JOIN r USING (retailer_id)
                WHERE l.m = $m AND NOT l.new_product AND l.brand <> ''
                GROUP BY GROUPING SETS ((l.brand, l.d), (r.branch, l.brand, l.d))
            ), mon AS (SELECT unit, brand, s FROM bm WHERE m = $m AND s >= $floor)
            SELECT day.unit, day.brand, day.d, day.s, mon.s AS month_s, day.s / mon.s AS share, hd.holiday
            FROM day JOIN mon USING (unit, brand) JOIN hd USING (d)
            WHERE day.s > $share * mon.s
            QUALIFY row_number() OVER (PARTITION BY day.unit, day.brand ORDER BY day.s DESC, day.d) = 1
            ORDER BY day.unit, day.brand
            """,
            {"m": m, "floor": th.brand_min_cartons, "share": th.day_share},
        )
        for row in rows:
            if row["holiday"]:
                ctx.screen(DAY_SHARE, "holiday")
                continue
            ctx.add(
                Finding(
                    DAY_SHARE,
                    row["d"],
                    row["d"],
                    {"cartons": int(row["s"]), "month": int(row["month_s"]), "share": _r(row["share"], 4)},
                    _severity(row["share"], th.day_share),
                    brand=row["brand"],
                    unit=row["unit"],
                )
            )


def _order_spikes(ctx: _Ctx) -> None:
    th = ctx.th
    rows = ctx.rows(
        """
        WITH o AS (
            SELECT retailer_id, order_id, min(d) AS d, sum(q) FILTER (WHERE NOT new_product) AS q
            FROM l GROUP BY retailer_id, order_id
        ), w AS (
            SELECT *, avg(coalesce(q, 0)) OVER win AS prev_avg, count(*) OVER win AS prev_n,
                   d - lag(d) OVER (PARTITION BY retailer_id ORDER BY d, order_id) AS gap,
                   (lag(d) OVER (PARTITION BY retailer_id ORDER BY d, order_id)
                    - lag(d, $n) OVER (PARTITION BY retailer_id ORDER BY d, order_id)) / ($n - 1) AS usual_gap,
                   avg(coalesce(q, 0)) OVER (PARTITION BY retailer_id ORDER BY d RANGE BETWEEN INTERVAL 91 DAYS
                                             PRECEDING AND INTERVAL 1 DAY PRECEDING) AS avg_91
            FROM o WINDOW win AS (PARTITION BY retailer_id ORDER BY d, order_id
                                  ROWS BETWEEN $n PRECEDING AND 1 PRECEDING)
        )
        SELECT w.retailer_id, w.order_id, w.d, w.q, w.prev_avg, w.q / w.prev_avg AS ratio, hd.holiday,
               coalesce(r.opened_on > w.d - $new_days::INTEGER, false) AS new_retailer,
               w.gap, w.usual_gap, w.avg_91
        FROM w JOIN r USING (retailer_id) JOIN hd USING (d)
        WHERE w.d BETWEEN $first AND $last AND w.q >= $min AND w.prev_n = $n AND w.prev_avg > 0
          AND w.q > $ratio * w.prev_avg
        ORDER BY w.retailer_id, w.d
        """,
        {
            "n": th.order_ratio_periods,
            "new_days": th.new_retailer_days,
            "first": ctx.first,
            "last": ctx.last,
            "min": th.order_min_cartons,
            "ratio": th.order_ratio,
        },
    )
    for row in rows:
        if row["new_retailer"]:
            ctx.screen(ORDER_SPIKE, "new_retailer")
            continue
        if row["holiday"]:
            ctx.screen(ORDER_SPIKE, "holiday")
            continue
        periods = row["gap"] / row["usual_gap"] if row["usual_gap"] and row["gap"] else 1.0
        if periods >= 1.5 and row["q"] <= th.order_ratio * row["prev_avg"] * round(periods):
            ctx.screen(ORDER_SPIKE, "catch_up")
            continue
        if row["avg_91"] and row["q"] <= th.order_ratio * row["avg_91"]:
            ctx.screen(ORDER_SPIKE, "low_base")
            continue
        ctx.add(
            Finding(
                ORDER_SPIKE,
                row["d"],
                row["d"],
                {
                    "order_id": int(row["order_id"]),
                    "cartons": int(row["q"]),
                    "average": _r(row["prev_avg"], 1),
                    "orders_averaged": th.order_ratio_periods,
                    "ratio": _r(row["ratio"], 2),
                },
                _severity(row["ratio"], th.order_ratio),
                retailer_id=int(row["retailer_id"]),
            )
        )


def _retailer_months(ctx: _Ctx) -> None:
    """One row per retailer that ordered in any of the four months: c0 (this month) … c3, with and without launches,
    its peer group keys and whether it is new or closed."""
    th = ctx.th
    ctx.con.execute(
        """
        CREATE TEMP TABLE rw AS
        WITH t AS (
            SELECT retailer_id,
                   sum(q) FILTER (WHERE m = $m) AS c0, sum(q) FILTER (WHERE m = $m - 1) AS c1,
                   sum(q) FILTER (WHERE m = $m - 2) AS c2, sum(q) FILTER (WHERE m = $m - 3) AS c3,
                   sum(q) FILTER (WHERE m = $m AND NOT new_product) AS k0,
                   sum(q) FILTER (WHERE m = $m - 1 AND NOT new_product) AS k1,
                   sum(q) FILTER (WHERE m = $m - 2 AND NOT new_product) AS k2,
                   sum(q) FILTER (WHERE m = $m - 3 AND NOT new_product) AS k3,
                   count(DISTINCT order_id) FILTER (WHERE m = $m) AS o0,
                   count(DISTINCT order_id) FILTER (WHERE m BETWEEN $m - 3 AND $m - 1) AS o3
            FROM l GROUP BY retailer_id
        )
        SELECT r.retailer_id, r.tier, r.business_format AS fmt, r.market_type AS mkt, coalesce(r.branch, '') AS branch,
               (coalesce(r.tier, 1) - 1) // $band AS band,
               coalesce(c0, 0)::DOUBLE AS c0, coalesce(c1, 0)::DOUBLE AS c1, coalesce(c2, 0)::DOUBLE AS c2,
               coalesce(c3, 0)::DOUBLE AS c3, coalesce(k0, 0)::DOUBLE AS k0, coalesce(k1, 0)::DOUBLE AS k1,
               coalesce(k2, 0)::DOUBLE AS k2, coalesce(k3, 0)::DOUBLE AS k3, o0, o3,
               coalesce(r.opened_on > $first - $new_days::INTEGER, false) AS new_retailer,
               coalesce(r.closed_on <= $last, false) AS closed
        FROM t JOIN r USING (retailer_id)
        """,
        {"m": ctx.m, "band": th.peer_tier_band, "first": ctx.first, "last": ctx.last, "new_days": th.new_retailer_days},
    )


def _month_rules(ctx: _Ctx, kinds: set[str]) -> None:
    th = ctx.th
    if MONTH_SPIKE in kinds:
        rows = ctx.rows(
            "SELECT * FROM rw WHERE NOT closed AND k1 > 0 AND k0 >= $min AND k0 > $ratio * k1 ORDER BY retailer_id",
            {"min": th.order_min_cartons, "ratio": th.month_ratio},
        )
        for row in rows:
            avg3 = (row["k1"] + row["k2"] + row["k3"]) / 3
            if row["new_retailer"]:
                ctx.screen(MONTH_SPIKE, "new_retailer")
            elif ctx.month_screen:
                ctx.screen(MONTH_SPIKE, "holiday")
            elif row["k0"] <= th.month_ratio * avg3:
                ctx.screen(MONTH_SPIKE, "low_base")
            else:
                ratio = row["k0"] / row["k1"]
                ctx.add(
                    Finding(
                        MONTH_SPIKE,
                        ctx.first,
                        ctx.last,
                        {
                            "cartons": int(row["k0"]),
                            "last_month": int(row["k1"]),
                            "ratio": _r(ratio),
                            "average_3m": _r(avg3, 1),
                        },
                        _severity(ratio, th.month_ratio),
                        retailer_id=int(row["retailer_id"]),
                    )
                )
    if not kinds & {PEER_GROWTH, COLLAPSE}:
        return
    # Sums per group at three levels; each retailer takes the finest level with enough others (leave-one-out).
    rows = ctx.rows(
        """
        WITH base AS (SELECT *, (c1 + c2 + c3) / 3.0 AS a3 FROM rw WHERE NOT closed AND NOT new_retailer),
        g1 AS (SELECT branch, band, fmt, mkt, count(*) FILTER (WHERE c1 > 0) AS n, sum(c0) AS s0, sum(c1) AS s1,
                      sum(a3) AS sa FROM base GROUP BY ALL),
        g2 AS (SELECT branch, band, mkt, count(*) FILTER (WHERE c1 > 0) AS n, sum(c0) AS s0, sum(c1) AS s1,
                      sum(a3) AS sa FROM base GROUP BY ALL),
        g3 AS (SELECT branch, band, count(*) FILTER (WHERE c1 > 0) AS n, sum(c0) AS s0, sum(c1) AS s1,
                      sum(a3) AS sa FROM base GROUP BY ALL),
        j AS (
            SELECT b.*,
                   CASE WHEN g1.n - (b.c1 > 0)::INT >= $k THEN 1 WHEN g2.n - (b.c1 > 0)::INT >= $k THEN 2
                        WHEN g3.n - (b.c1 > 0)::INT >= $k THEN 3 END AS level,
                   g1.s0 AS s0_1, g1.s1 AS s1_1, g1.sa AS sa_1, g1.n AS n_1,
                   g2.s0 AS s0_2, g2.s1 AS s1_2, g2.sa AS sa_2, g2.n AS n_2,
                   g3.s0 AS s0_3, g3.s1 AS s1_3, g3.sa AS sa_3, g3.n AS n_3
            FROM base b JOIN g1 USING (branch, band, fmt, mkt) JOIN g2 USING (branch, band, mkt)
                 JOIN g3 USING (branch, band)
        ),
        p AS (
            SELECT *,
                   CASE level WHEN 1 THEN s0_1 WHEN 2 THEN s0_2 ELSE s0_3 END - c0 AS p0,
                   CASE level WHEN 1 THEN s1_1 WHEN 2 THEN s1_2 ELSE s1_3 END - c1 AS p1,
                   CASE level WHEN 1 THEN sa_1 WHEN 2 THEN sa_2 ELSE sa_3 END - a3 AS pa,
                   CASE level WHEN 1 THEN n_1 WHEN 2 THEN n_2 ELSE n_3 END - (c1 > 0)::INT AS peers
            FROM j WHERE level IS NOT NULL
        )
        SELECT retailer_id, c0, c1, c2, c3, a3, p0, p1, pa, peers, level, o0, o3,
               CASE WHEN o0 > 0 AND o3 > 0 AND c1 + c2 + c3 > 0
                    THEN (c0 / o0) / ((c1 + c2 + c3) / o3) END AS size_ratio,
               CASE WHEN c1 > 0 AND p1 > 0 AND p0 > 0 THEN (c0 / c1) / (p0 / p1) END AS peer_ratio,
               CASE WHEN a3 > 0 AND pa > 0 AND p0 > 0 THEN (c0 / a3) / (p0 / pa) END AS collapse_ratio
        FROM p
        WHERE (a3 >= $min AND pa > 0 AND p0 > 0 AND (c0 / a3) / (p0 / pa) < $collapse)
           OR (c1 >= $min AND p1 > 0 AND p0 > 0 AND (c0 / c1) / (p0 / p1) < $peer)
        ORDER BY retailer_id
        """,
        {"k": th.peer_min_size, "min": th.order_min_cartons, "collapse": th.collapse_ratio, "peer": th.peer_ratio},
    )
    for row in rows:
        figures = {
            "cartons": int(row["c0"]),
            "last_month": int(row["c1"]),
            "average_3m": _r(row["a3"], 1),
            "peer_growth": _r(row["p0"] / row["p1"], 4) if row["p1"] else None,
            "peer_vs_3m": _r(row["p0"] / row["pa"], 4) if row["pa"] else None,
            "peers": int(row["peers"]),
            "peer_level": int(row["level"]),
        }
        size = row["size_ratio"]  # cartons per order against the 3 months before (None: no order this month)
        figures["orders"] = int(row["o0"])
        figures["order_size_vs_3m"] = _r(size, 4) if size is not None else None
        cr = row["collapse_ratio"]
        if COLLAPSE in kinds and cr is not None and row["a3"] >= th.order_min_cartons and cr < th.collapse_ratio:
            before = (row["c2"] + row["c3"]) / 2
            falling = before > 0 and row["c1"] < th.collapse_ratio * before  # last month already fell as far
            if size is not None and size >= th.collapse_ratio and not falling:
                # fewer orders of the usual size, once: irregular, not collapsed (a second such month in a row is)
                ctx.screen(COLLAPSE, "skipped_orders")
                continue
            figures["ratio"] = _r(cr, 4)
            ctx.add(
                Finding(
                    COLLAPSE,
                    ctx.first,
                    ctx.last,
                    figures,
                    _severity(cr, th.collapse_ratio, above=False),
                    retailer_id=int(row["retailer_id"]),
                )
            )
            continue
        pr = row["peer_ratio"]
        if PEER_GROWTH not in kinds or pr is None or row["c1"] < th.order_min_cartons or pr >= th.peer_ratio:
            continue
        if row["c1"] - row["c0"] < th.order_min_cartons:
            ctx.screen(PEER_GROWTH, "small_fall")  # a fall of fewer cartons than the smallest order the rules watch
            continue
        if cr is None or cr >= th.peer_ratio:
            ctx.screen(PEER_GROWTH, "high_base")  # not below the peers against its 3-month average: last month was high
            continue
        if size is not None and size >= th.peer_ratio:
            ctx.screen(PEER_GROWTH, "skipped_orders")  # orders of the usual size, only fewer of them
            continue
        figures["growth"] = _r(row["c0"] / row["c1"], 4)
        figures["ratio"] = _r(pr, 4)
        ctx.add(
            Finding(
                PEER_GROWTH,
                ctx.first,
                ctx.last,
                figures,
                _severity(pr, th.peer_ratio, above=False),
                retailer_id=int(row["retailer_id"]),
            )
        )


def _volume_rules(ctx: _Ctx, kinds: set[str]) -> None:
    th = ctx.th
    ctx.con.execute(
        """
        CREATE TEMP TABLE vt AS
        WITH base AS (SELECT * FROM rw WHERE NOT closed AND c0 > 0),
        t1 AS (SELECT tier, fmt, count(*) AS n, median(c0) AS med FROM base GROUP BY ALL),
        t2 AS (SELECT band, fmt, count(*) AS n, median(c0) AS med FROM base GROUP BY ALL),
        t3 AS (SELECT band, count(*) AS n, median(c0) AS med FROM base GROUP BY ALL)
        SELECT b.retailer_id, b.tier, b.fmt, b.c0,
               CASE WHEN t1.n >= $k THEN t1.med WHEN t2.n >= $k THEN t2.med ELSE t3.med END AS med,
               CASE WHEN t1.n >= $k THEN 1 WHEN t2.n >= $k THEN 2 ELSE 3 END AS level,
               CASE WHEN t1.n >= $k THEN t1.n WHEN t2.n >= $k THEN t2.n ELSE t3.n END AS n
        FROM base b JOIN t1 USING (tier, fmt) JOIN t2 USING (band, fmt) JOIN t3 USING (band)
        """,
        {"k": th.peer_min_size},
    )
    if ABOVE_TIER in kinds:
        rows = ctx.rows(
            "SELECT * FROM vt WHERE c0 >= $min AND med > 0 AND c0 > $ratio * med ORDER BY retailer_id",
            {"min": th.order_min_cartons, "ratio": th.proxy_volume_ratio},
        )
        for row in rows:
            ratio = row["c0"] / row["med"]
            ctx.add(
                Finding(
                    ABOVE_TIER,
                    ctx.first,
                    ctx.last,
                    {
                        "cartons": int(row["c0"]),
                        "median": _r(row["med"], 1),
                        "ratio": _r(ratio),
                        "tier": row["tier"],
                        "format": row["fmt"],
                        "group_level": int(row["level"]),
                        "group_size": int(row["n"]),
                    },
                    _severity(ratio, th.proxy_volume_ratio),
                    retailer_id=int(row["retailer_id"]),
                )
            )
    if PROXY not in kinds:
        return
    # Stage 1 (one join of the candidates' lines with everyone's lines of the same day and product): per pair, the
    # shared lines and the days with a shared line; pairs that could not reach the threshold even with a perfect
    # weekly correlation are dropped, and at most MIRROR_TOP partners per shop go on to stage 2 (the correlation).
    rows = ctx.rows(
        """
        WITH cand AS (
            SELECT v.retailer_id, v.tier FROM vt v WHERE v.med > 0 AND v.c0 >= $min AND v.c0 >= $cand * v.med
        ),
        w AS (SELECT retailer_id, d, product_id, q FROM l WHERE m BETWEEN $m - 2 AND $m),
        days AS (SELECT retailer_id, count(DISTINCT d) AS days FROM w GROUP BY retailer_id),
        cl AS (SELECT w.retailer_id AS s, c.tier AS s_tier, w.d, w.product_id FROM w JOIN cand c USING (retailer_id)),
        sl AS (SELECT s, count(*) AS lines FROM cl GROUP BY s),
        pairs AS (
            SELECT cl.s, w.retailer_id AS b, count(*) AS shared, count(DISTINCT cl.d) AS common_days
            FROM cl JOIN w ON w.d = cl.d AND w.product_id = cl.product_id AND w.retailer_id <> cl.s
                 JOIN r rb ON rb.retailer_id = w.retailer_id
            WHERE coalesce(rb.tier, 0) > coalesce(cl.s_tier, 0)
            GROUP BY cl.s, w.retailer_id
        ),
        scored AS (
            SELECT p.s, p.b, p.shared, p.common_days, sl.lines, ds.days AS s_days, db.days AS b_days,
                   p.shared / sl.lines AS line_overlap,
                   p.common_days / (ds.days + db.days - p.common_days) AS day_jaccard
            FROM pairs p JOIN sl USING (s) JOIN days ds ON ds.retailer_id = p.s JOIN days db ON db.retailer_id = p.b
            WHERE p.shared >= $shared * sl.lines
        ),
        good AS (
            SELECT * FROM scored WHERE (line_overlap + day_jaccard + 1) / 3 >= $t
            QUALIFY row_number() OVER (PARTITION BY s ORDER BY line_overlap + day_jaccard DESC, b) <= $top
        ),
        weeks AS (SELECT DISTINCT date_trunc('week', d) AS wk FROM w),
        wq AS (
            SELECT retailer_id, date_trunc('week', d) AS wk, sum(q) AS q FROM w
            WHERE retailer_id IN (SELECT s FROM good UNION SELECT b FROM good) GROUP BY ALL
        ),
        series AS (
            SELECT g.s, g.b, weeks.wk, coalesce(a.q, 0)::DOUBLE AS qs, coalesce(z.q, 0)::DOUBLE AS qb
            FROM good g CROSS JOIN weeks
            LEFT JOIN wq a ON a.retailer_id = g.s AND a.wk = weeks.wk
            LEFT JOIN wq z ON z.retailer_id = g.b AND z.wk = weeks.wk
        ),
        cor AS (SELECT s, b, corr(qs, qb) AS c, sum(qs) AS qs, sum(qb) AS qb FROM series GROUP BY s, b)
        SELECT g.*, coalesce(cor.c, 0) AS c, cor.qs, cor.qb
        FROM good g JOIN cor USING (s, b)
        """,
        {
            "min": th.order_min_cartons,
            "cand": MIRROR_CANDIDATE_RATIO,
            "m": ctx.m,
            "shared": MIRROR_MIN_SHARED,
            "t": th.proxy_similarity,
            "top": MIRROR_TOP,
        },
    )
    best: dict[int, tuple[float, dict]] = {}
    for row in rows:
        score = (row["day_jaccard"] + row["line_overlap"] + max(row["c"], 0.0)) / 3
        if score >= th.proxy_similarity and score > best.get(row["s"], (-1.0, {}))[0]:
            best[row["s"]] = (score, row)
    window_start = month_bounds(month_of_idx(ctx.m - 2))[0]
    for s in sorted(best):
        score, row = best[s]
        ctx.add(
            Finding(
                PROXY,
                window_start,
                ctx.last,
                {
                    "similarity": _r(score, 4),
                    "day_jaccard": _r(row["day_jaccard"], 4),
                    "line_overlap": _r(row["line_overlap"], 4),
                    "weekly_correlation": _r(row["c"], 4),
                    "common_days": int(row["common_days"]),
                    "cartons": int(row["qs"]),
                    "partner_cartons": int(row["qb"]),
                },
                _severity(score, th.proxy_similarity),
                retailer_id=int(s),
                partner_id=int(row["b"]),
            )
        )


def _shared(ctx: _Ctx) -> None:
    rows = ctx.rows(
        """
        WITH a AS (
            SELECT r.retailer_id, nullif(trim(r.phone), '') AS phone, nullif(trim(r.account), '') AS account,
                   coalesce(rw.c0, 0) AS c0
            FROM r JOIN rw USING (retailer_id) WHERE NOT rw.closed AND rw.c0 > 0
        )
        SELECT x.retailer_id AS s, y.retailer_id AS b, x.c0 AS qs, y.c0 AS qb,
               x.phone IS NOT NULL AND x.phone = y.phone AS same_phone,
               x.account IS NOT NULL AND x.account = y.account AS same_account
        FROM a x JOIN a y ON x.retailer_id <> y.retailer_id
             AND ((x.phone = y.phone) OR (x.account = y.account))
        WHERE x.c0 < y.c0 OR (x.c0 = y.c0 AND x.retailer_id < y.retailer_id)
        ORDER BY s, b
        """
    )
    for row in rows:
        ctx.add(
            Finding(
                SHARED_ACCOUNT,
                ctx.first,
                ctx.last,
                {
                    "same_phone": bool(row["same_phone"]),
                    "same_account": bool(row["same_account"]),
                    "cartons": int(row["qs"]),
                    "partner_cartons": int(row["qb"]),
                },
                2 if row["same_account"] else 1,
                retailer_id=int(row["s"]),
                partner_id=int(row["b"]),
            )
        )


def pair_key(f: Finding) -> str:
    """A shared account's subject whichever of the two shops is the smaller one this month (that can change)."""
    low, high = sorted((f.retailer_id or 0, f.partner_id or 0))
    return f"r{low}:r{high}"


# --- evaluation against planted anomalies -------------------------------------------------------------------------

FAMILIES: dict[str, frozenset[str]] = {
    "spike": frozenset({ORDER_SPIKE, MONTH_SPIKE}),
    "collapse": frozenset({COLLAPSE, PEER_GROWTH}),
    "proxy_ordering": frozenset({PROXY, SHARED_ACCOUNT, ABOVE_TIER}),
}


@dataclass(frozen=True)
class Planted:
    kind: str
    retailer_id: int
    start: dt.date
    end: dt.date


@dataclass
class Evaluation:
    """Precision per alert kind (and overall) and recall per planted kind (and overall)."""

    alerts: Counter = field(default_factory=Counter)  # kind → retailer alerts
    matched: Counter = field(default_factory=Counter)  # kind → alerts matching a planted anomaly
    planted: Counter = field(default_factory=Counter)  # planted kind → anomalies
    found: Counter = field(default_factory=Counter)  # planted kind → anomalies matched by at least one alert
    missed: list[Planted] = field(default_factory=list)

    @staticmethod
    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    def precision(self, kind: str | None = None) -> float | None:
        if kind is None:
            return self.ratio(sum(self.matched.values()), sum(self.alerts.values()))
        return self.ratio(self.matched[kind], self.alerts[kind])

    def recall(self, kind: str | None = None) -> float | None:
        if kind is None:
            return self.ratio(sum(self.found.values()), sum(self.planted.values()))
        return self.ratio(self.found[kind], self.planted[kind])


def evaluate(findings: Iterable[Finding], planted: Sequence[Planted]) -> Evaluation:
    """Match retailer alerts to planted anomalies: same retailer, an alert kind of the anomaly's family, and the
    alert's period overlapping the anomaly's dates. Brand alerts have no retailer and are not counted; an alert on a
    retailer with no planted anomaly (or outside its dates, or of another family) is a false positive."""
    ev = Evaluation()
    by_retailer: dict[int, list[Planted]] = {}
    for p in planted:
        by_retailer.setdefault(p.retailer_id, []).append(p)
        ev.planted[p.kind] += 1
    hit: set[Planted] = set()
    # One alert per key, as detection stores them: a shared account is a standing fact (one alert for the pair, over
    # every month it was seen), anything else one alert per kind, subject and period.
    merged: dict[tuple, Finding] = {}
    for f in findings:
        if f.retailer_id is None:
            continue
        key = (f.kind, pair_key(f)) if f.kind == SHARED_ACCOUNT else (f.kind, f.subject, f.period_start)
        seen = merged.get(key)
        if seen is None:
            merged[key] = f
        else:
            start, end = min(seen.period_start, f.period_start), max(seen.period_end, f.period_end)
            merged[key] = replace(seen, period_start=start, period_end=end)
    for f in merged.values():
        ev.alerts[f.kind] += 1
        ok = False
        members = (f.retailer_id, f.partner_id) if f.kind == SHARED_ACCOUNT else (f.retailer_id,)
        for p in (p for r in members for p in by_retailer.get(r, ())):
            if f.kind in FAMILIES.get(p.kind, ()) and f.period_start <= p.end and p.start <= f.period_end:
                hit.add(p)
                ok = True
        if ok:
            ev.matched[f.kind] += 1
    for p in planted:
        if p in hit:
            ev.found[p.kind] += 1
        else:
            ev.missed.append(p)
    return ev


def weekly_orders(data_dir: Path, retailer_ids: Sequence[int], first: dt.date, last: dt.date) -> list[tuple]:
    """(retailer id, week's Monday, cartons ordered) of the given retailers between two dates, for the alert chart."""
    files = [
        str(f)
        for i in range(m_idx(f"{first:%Y-%m}"), m_idx(f"{last:%Y-%m}") + 1)
        if (f := order_file(data_dir, month_of_idx(i))).is_file()
    ]
    if not files or not retailer_ids:
        return []
    with duckdb.connect() as con:
        return con.execute(
            """
            SELECT retailer_id, date_trunc('week', order_date)::DATE AS wk, sum(ordered)::BIGINT
            FROM read_parquet($files) WHERE retailer_id IN (SELECT unnest($ids)) AND order_date BETWEEN $a AND $b
            GROUP BY ALL ORDER BY wk, retailer_id
            """,
            {"files": files, "ids": list(retailer_ids), "a": first, "b": last},
        ).fetchall()
