"""Weekly demand forecasts per retailer (or retailer × key brand) with per-series model choice by backtest, and the
suggested verified quantity (核量). No Django here: paths and arrays in, frames and dataclasses out.

Series
    Monday weeks of cartons ordered (``ordered``, 订货数量), built from the order Parquet files by ONE DuckDB query for
    all the retailers in scope, up to ``history_end`` (inclusive; the week that contains it is the last history week,
    so give the last order day of a week or a Sunday), over the last ``history_weeks`` weeks. A series starts at its
    first week with an order inside that window (a new retailer's series is short; weeks before it existed are not
    zeros) and every week after it without an order is a 0. Level ``retailer``: all products; ``retailer_brand``: the
    key-brand products (``key_brand``) of one brand.

Models (statsforecast, all series in one call per backtest and one call per model for the final forecast)
    ``Naive`` (last week), ``WindowAverage`` (last ``window`` weeks), ``SeasonalNaive`` (52 weeks ago), Croston
    (classic, SBA), ``TSB``, ``ADIDA``, ``IMAPA``. A series with fewer than ``backtest_weeks + min_train`` weeks is
    not backtested: it gets ``HistoricAverage`` (its mean since its first order) and no backtest accuracy.

Backtest
    Rolling origin over the last ``backtest_weeks`` weeks in blocks of the run's horizon: at each origin a model sees
    the history up to it and forecasts the next ``horizon`` weeks, as the real run will (``n_windows =
    ceil(backtest_weeks / horizon)``, ``step_size = horizon``). Each series takes the model with the smallest
    Σ|actual − forecast| over those weeks (ties: the first in the candidate order; a model that cannot forecast the
    series, e.g. SeasonalNaive with under 52 weeks, is out).

Accuracy (需求预测准确率, DOMAIN.md: 1 − |actual − forecast| ÷ actual)
    Over any set of series-weeks: ``1 − Σ|a − f| ÷ Σa``, clipped at 0 (volume-weighted, so a week without demand
    counts through its error and never divides by zero). When Σa = 0 it is 1 if every forecast was 0 too, else 0.
    The same formula gives a series' backtest accuracy, a run's overall accuracy and a CM's month. The chosen model is
    picked on the backtest it is measured on, so its backtest accuracy is optimistic; the naive baseline (last week's
    value) and seasonal naive are measured on the same weeks, and the realised accuracy of a run (actuals scored after
    the weeks pass) is the honest figure.

核量 (suggested verified quantity, whole cartons)
    ``min(ceil(f), ceil(ratio × recent_other + min(ratio × recent_scarce, allotment)))``, never below 0: the forecast
    rounded (to 0.01, then up to a whole carton: 核量 is the most the CM verifies as reasonable, so a fraction rounds
    up), bounded by ``ratio`` (default 1.5) × the series' average weekly cartons of the last ``recent_weeks`` (8) weeks,
    where the scarce products' part (紧俏烟) is further capped by the retailer's tier allotment: the sum over the scarce
    products it ordered in those weeks of their latest 合理定量 (``allotted``, the tier allotment a_g for scarce
    products). A series without recent orders gets 0.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from .layout import month_label, order_file

LEVELS = ("retailer", "retailer_brand")
DEFAULT_MODELS: tuple[str, ...] = (
    "Naive",
    "WindowAverage",
    "SeasonalNaive",
    "CrostonClassic",
    "CrostonSBA",
    "TSB",
    "ADIDA",
    "IMAPA",
)
BASELINE = "Naive"
SEASONAL = "SeasonalNaive"
SHORT_MODEL = "HistoricAverage"
FREQ = "W-MON"
PARALLEL_MIN = 20_000  # series below which one process forecasts faster than a pool of cfg.n_jobs

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ForecastConfig:
    """Everything a run is computed with (stored with the run)."""

    horizon: int = 4
    backtest_weeks: int = 8
    history_weeks: int = 104
    models: tuple[str, ...] = DEFAULT_MODELS
    window: int = 4
    season: int = 52
    tsb_alpha_d: float = 0.2
    tsb_alpha_p: float = 0.1
    min_train: int = 8
    recent_weeks: int = 8
    max_ratio: float = 1.5
    n_jobs: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.horizon <= 26:
            raise ValueError(f"horizon: {self.horizon} weeks; give 1 to 26")
        if not 1 <= self.backtest_weeks <= 52:
            raise ValueError(f"backtest_weeks: {self.backtest_weeks}; give 1 to 52")
        if self.history_weeks < self.backtest_weeks + self.min_train:
            raise ValueError(
                f"history_weeks: {self.history_weeks} is shorter than backtest_weeks + min_train "
                f"({self.backtest_weeks + self.min_train})"
            )
        unknown = [m for m in self.models if m not in MODEL_FACTORIES]
        if unknown or not self.models:
            raise ValueError(f"models: unknown {unknown or 'none given'}; choose from {', '.join(MODEL_FACTORIES)}")
        if self.recent_weeks < 1 or self.max_ratio <= 0:
            raise ValueError("recent_weeks must be ≥ 1 and max_ratio > 0")

    @property
    def windows(self) -> int:
        return math.ceil(self.backtest_weeks / self.horizon)

    @property
    def tested_weeks(self) -> int:
        """Weeks the backtest actually covers (a whole number of horizons)."""
        return self.windows * self.horizon

    def as_dict(self) -> dict:
        return {
            "horizon": self.horizon,
            "backtest_weeks": self.tested_weeks,
            "history_weeks": self.history_weeks,
            "models": list(self.models),
            "window": self.window,
            "season": self.season,
            "tsb_alpha_d": self.tsb_alpha_d,
            "tsb_alpha_p": self.tsb_alpha_p,
            "min_train": self.min_train,
            "recent_weeks": self.recent_weeks,
            "max_ratio": self.max_ratio,
        }


def _factories() -> dict[str, Callable[[ForecastConfig], object]]:
    from statsforecast import models as sm

    return {
        "Naive": lambda c: sm.Naive(),
        "WindowAverage": lambda c: sm.WindowAverage(window_size=c.window),
        "SeasonalNaive": lambda c: sm.SeasonalNaive(season_length=c.season),
        "CrostonClassic": lambda c: sm.CrostonClassic(),
        "CrostonSBA": lambda c: sm.CrostonSBA(),
        "CrostonOptimized": lambda c: sm.CrostonOptimized(),
        "TSB": lambda c: sm.TSB(alpha_d=c.tsb_alpha_d, alpha_p=c.tsb_alpha_p),
        "ADIDA": lambda c: sm.ADIDA(),
        "IMAPA": lambda c: sm.IMAPA(),
        "HistoricAverage": lambda c: sm.HistoricAverage(),
    }


MODEL_FACTORIES = _factories()


# ---------------------------------------------------------------------------------------------------------- helpers


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def accuracy(actual: Iterable[float], forecast: Iterable[float]) -> float | None:
    """需求预测准确率 over a set of weeks: 1 − Σ|a − f| ÷ Σa clipped at 0 (see the module docstring); None if empty."""
    a = np.asarray(list(actual), dtype=float)
    f = np.asarray(list(forecast), dtype=float)
    if a.shape != f.shape:
        raise ValueError(f"accuracy: {a.size} actuals but {f.size} forecasts")
    if a.size == 0:
        return None
    return accuracy_from_sums(float(np.abs(a - f).sum()), float(a.sum()))


def accuracy_from_sums(abs_error: float, actual: float) -> float:
    """The accuracy from Σ|a − f| and Σa (the aggregation rule of the module docstring)."""
    if actual > 0:
        return max(0.0, 1.0 - abs_error / actual)
    return 1.0 if abs_error == 0 else 0.0


def suggested_quantity(
    forecast: np.ndarray | float,
    recent_other: np.ndarray | float,
    recent_scarce: np.ndarray | float = 0.0,
    allotment: np.ndarray | float = np.nan,
    ratio: float = 1.5,
) -> np.ndarray:
    """核量 (module docstring): whole cartons, vectorised; ``allotment`` NaN means no tier allotment is known."""
    f = np.round(np.asarray(forecast, dtype=float), 2)
    scarce = ratio * np.asarray(recent_scarce, dtype=float)
    allot = np.asarray(allotment, dtype=float)
    scarce = np.where(np.isnan(allot), scarce, np.minimum(scarce, np.nan_to_num(allot)))
    bound = np.ceil(np.round(ratio * np.asarray(recent_other, dtype=float) + scarce, 6))
    return np.clip(np.minimum(np.ceil(f), bound), 0, None).astype(np.int64)


def order_files(data_dir: Path, start: dt.date, end: dt.date) -> list[Path]:
    """The existing order files of the months from ``start`` to ``end``."""
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        path = order_file(data_dir, month_label(dt.date(y, m, 1)))
        if path.is_file():
            out.append(path)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def products_table(rows: Sequence[tuple[int, str, bool, bool]]) -> pa.Table:
    """(product_id, brand, key_brand, scarce) rows as the Arrow table the queries join."""
    ids, brands, keys, scarce = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pa.table(
        {
            "product_id": pa.array(ids, pa.int64()),
            "brand": pa.array(brands, pa.string()),
            "key_brand": pa.array(keys, pa.bool_()),
            "scarce": pa.array(scarce, pa.bool_()),
        }
    )


def _connect(products: pa.Table, retailer_ids: np.ndarray | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("products", products)
    if retailer_ids is not None:
        con.register("scope", pa.table({"retailer_id": pa.array(np.asarray(retailer_ids, dtype=np.int64))}))
    return con


def _lines_sql(level: str, scoped: bool) -> str:
    brand = "p.brand" if level == "retailer_brand" else "''"
    join = (
        "JOIN products p USING (product_id)" if level == "retailer_brand" else "LEFT JOIN products p USING (product_id)"
    )
    where = " AND p.key_brand" if level == "retailer_brand" else ""
    scope = "JOIN scope s USING (retailer_id)" if scoped else ""
    return f"""
        SELECT o.retailer_id, {brand} AS brand, coalesce(p.scarce, false) AS scarce,
               date_trunc('week', o.order_date)::DATE AS week, o.order_date, o.product_id, o.ordered, o.allotted
        FROM read_parquet($files) o {join} {scope}
        WHERE o.order_date BETWEEN $start AND $end{where}
    """


# ----------------------------------------------------------------------------------------------------------- series


@dataclass
class Series:
    """Dense weekly series: row i is (retailer_ids[i], brands[i]); ``values[i, start[i]:]`` is its history."""

    level: str
    weeks: np.ndarray  # datetime64[D] Mondays, oldest first
    retailer_ids: np.ndarray
    brands: np.ndarray
    values: np.ndarray  # (n, W) float64, zeros before start
    start: np.ndarray  # (n,) index of the first week with an order
    recent_other: np.ndarray  # average weekly cartons of non-scarce products over the last recent_weeks
    recent_scarce: np.ndarray  # the same for the scarce products
    allotment: np.ndarray  # the scarce products' latest tier allotment (cartons a week); NaN: none ordered recently

    def __len__(self) -> int:
        return len(self.retailer_ids)

    @property
    def lengths(self) -> np.ndarray:
        return len(self.weeks) - self.start

    def frame(self) -> pd.DataFrame:
        """Long form (retailer_id, brand, week_start, cartons) of the weeks from each series' start."""
        n, w = self.values.shape
        keep = np.arange(w)[None, :] >= self.start[:, None]
        rows, cols = np.nonzero(keep)
        return pd.DataFrame(
            {
                "retailer_id": self.retailer_ids[rows],
                "brand": self.brands[rows],
                "week_start": self.weeks[cols].astype("datetime64[D]").astype(object),
                "cartons": self.values[rows, cols],
            }
        )


def build_series(
    data_dir: Path,
    history_end: dt.date,
    *,
    products: pa.Table,
    level: str = "retailer",
    retailer_ids: np.ndarray | Sequence[int] | None = None,
    history_weeks: int = 104,
    recent_weeks: int = 8,
) -> Series:
    """The weekly series of the retailers in scope (None: every retailer in the files), one DuckDB query."""
    if level not in LEVELS:
        raise ValueError(f"level: {level!r}; choose {' or '.join(LEVELS)}")
    last = monday(history_end)
    first = last - dt.timedelta(weeks=history_weeks - 1)
    weeks = np.arange(np.datetime64(first), np.datetime64(last) + 1, 7, dtype="datetime64[D]")
    files = order_files(data_dir, first, history_end)
    ids = None if retailer_ids is None else np.asarray(retailer_ids, dtype=np.int64)
    none = np.zeros(0)
    empty = Series(
        level, weeks, np.zeros(0, np.int64), np.zeros(0, object), np.zeros((0, len(weeks))), none.astype(np.int64),
        none, none, none,
    )  # fmt: skip
    if not files or (ids is not None and ids.size == 0):
        return empty
    recent_start = last - dt.timedelta(weeks=recent_weeks - 1)
    con = _connect(products, ids)
    # one statement, two scans: the weekly cartons over the window, and the scarce products' latest allotment over
    # the recent weeks only (its date filter is pushed into the Parquet scan; a shared CTE would be materialised)
    lines = _lines_sql(level, ids is not None)
    recent = lines.replace("BETWEEN $start AND $end", "BETWEEN $recent AND $end")
    sql = f"""
        SELECT 0 AS part, retailer_id, brand, week, scarce, sum(ordered)::DOUBLE AS v FROM ({lines}) GROUP BY ALL
        UNION ALL
        SELECT 1, retailer_id, brand, NULL, true, sum(a)::DOUBLE FROM (
            SELECT retailer_id, brand, product_id, arg_max(allotted, order_date) AS a
            FROM ({recent}) WHERE scarce GROUP BY ALL
        ) GROUP BY ALL
    """
    params = {"files": [str(f) for f in files], "start": first, "end": history_end, "recent": recent_start}
    df = con.execute(sql, params).df()
    con.close()
    if df.empty:
        return empty
    part = df["part"].to_numpy()
    codes, uniques = pd.MultiIndex.from_arrays([df["retailer_id"], df["brand"]]).factorize(sort=True)
    n, w = len(uniques), len(weeks)
    wk = df.loc[part == 0]
    rows = codes[part == 0]
    cols = ((wk["week"].to_numpy().astype("datetime64[D]") - weeks[0]).astype(np.int64) // 7).astype(np.int64)
    values = np.zeros((n, w))
    np.add.at(values, (rows, cols), wk["v"].to_numpy())
    scarce_vals = np.zeros((n, w))
    sc = wk["scarce"].to_numpy(dtype=bool)
    np.add.at(scarce_vals, (rows[sc], cols[sc]), wk["v"].to_numpy()[sc])
    allot = np.full(n, np.nan)
    allot[codes[part == 1]] = df.loc[part == 1, "v"].to_numpy()
    r = min(recent_weeks, w)
    recent_scarce = scarce_vals[:, -r:].sum(axis=1) / recent_weeks
    recent_total = values[:, -r:].sum(axis=1) / recent_weeks
    return Series(
        level=level,
        weeks=weeks,
        retailer_ids=np.array([u[0] for u in uniques], dtype=np.int64),
        brands=np.array([u[1] for u in uniques], dtype=object),
        values=values,
        start=(values > 0).argmax(axis=1),
        recent_other=recent_total - recent_scarce,
        recent_scarce=recent_scarce,
        allotment=allot,
    )


def weekly_actuals(
    data_dir: Path,
    keys: pd.DataFrame,
    *,
    products: pa.Table,
    level: str = "retailer",
) -> pd.DataFrame:
    """Cartons ordered per (retailer_id, brand, week_start) for the given keys (0 when nothing was ordered)."""
    out = keys[["retailer_id", "brand", "week_start"]].drop_duplicates().reset_index(drop=True)
    if out.empty:
        return out.assign(actual=np.zeros(0))
    first = min(out["week_start"])
    last = max(out["week_start"]) + dt.timedelta(days=6)
    files = order_files(data_dir, first, last)
    if not files:
        return out.assign(actual=0.0)
    con = _connect(products, out["retailer_id"].unique())
    con.register("wanted", pa.Table.from_pandas(out[["retailer_id", "brand", "week_start"]], preserve_index=False))
    df = con.execute(
        f"""
        WITH l AS ({_lines_sql(level, True)})
        SELECT l.retailer_id, l.brand, l.week AS week_start, sum(l.ordered)::DOUBLE AS actual
        FROM l JOIN wanted w ON w.retailer_id = l.retailer_id AND w.brand = l.brand AND w.week_start = l.week
        GROUP BY ALL
        """,
        {"files": [str(f) for f in files], "start": first, "end": last},
    ).df()
    con.close()
    df["week_start"] = pd.to_datetime(df["week_start"]).dt.date
    merged = out.merge(df, on=["retailer_id", "brand", "week_start"], how="left")
    merged["actual"] = merged["actual"].fillna(0.0)
    return merged


def data_end(data_dir: Path) -> dt.date | None:
    """The last order day in the newest order file (None without files)."""
    from .layout import order_months

    months = order_months(data_dir)
    for label in reversed(months):
        row = duckdb.sql(f"SELECT max(order_date) FROM read_parquet('{order_file(data_dir, label)}')").fetchone()
        if row and row[0] is not None:
            return row[0]
    return None


def complete_through(last_day: dt.date) -> dt.date:
    """The last day of the last complete week given the data's last order day: orders are placed Monday to Friday,
    so data reaching a Friday (or the weekend) completes that week; otherwise the week before is the last."""
    if last_day.weekday() >= 4:
        return monday(last_day) + dt.timedelta(days=6)
    return monday(last_day) - dt.timedelta(days=1)


# ---------------------------------------------------------------------------------------------------------- running


@dataclass
class ForecastResult:
    """One row per series × forecast week in ``rows``; the run's figures in ``summary``."""

    rows: pd.DataFrame  # retailer_id, brand, week_start, model, quantity, suggested, backtest_accuracy, naive_accuracy
    summary: dict = field(default_factory=dict)
    backtest: pd.DataFrame | None = None  # per series: error and actual sums per model (for reports and tests)


def _long(series: Series, idx: np.ndarray) -> pd.DataFrame:
    w = len(series.weeks)
    keep = np.arange(w)[None, :] >= series.start[idx][:, None]
    rows, cols = np.nonzero(keep)
    return pd.DataFrame(
        {
            "unique_id": idx[rows],
            "ds": series.weeks[cols].astype("datetime64[ns]"),
            "y": series.values[idx[rows], cols],
        }
    )


def _statsforecast(models: list, cfg: ForecastConfig, jobs: int | None = None):
    from statsforecast import StatsForecast

    return StatsForecast(models=models, freq=FREQ, n_jobs=jobs or cfg.n_jobs)


def backtest(series: Series, idx: np.ndarray, cfg: ForecastConfig) -> pd.DataFrame:
    """Σ|a − f| per series and model over the backtest weeks (inf where a model cannot forecast), and Σa."""
    models = [MODEL_FACTORIES[m](cfg) for m in cfg.models]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # SeasonalNaive on series under a season: NaN, handled below
        cv = _statsforecast(models, cfg).cross_validation(
            df=_long(series, idx), h=cfg.horizon, n_windows=cfg.windows, step_size=cfg.horizon
        )
    uid = cv["unique_id"].to_numpy(dtype=np.int64)
    pos = np.searchsorted(idx, uid)
    y = cv["y"].to_numpy(dtype=float)
    out = {"series": idx, "actual": np.bincount(pos, weights=y, minlength=len(idx))}
    for name in cfg.models:
        f = cv[name].to_numpy(dtype=float)
        bad = np.bincount(pos, weights=np.isnan(f).astype(float), minlength=len(idx)) > 0
        err = np.bincount(pos, weights=np.abs(y - np.nan_to_num(f)), minlength=len(idx))
        out[name] = np.where(bad, np.inf, err)
    return pd.DataFrame(out)


def run_forecasts(
    series: Series, cfg: ForecastConfig, first_week: dt.date, progress: Progress | None = None
) -> ForecastResult:
    """Backtest every candidate on every long-enough series, choose per series, forecast ``cfg.horizon`` weeks."""
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    n = len(series)
    long_enough = series.lengths >= cfg.tested_weeks + cfg.min_train
    tested = np.flatnonzero(long_enough)
    short = np.flatnonzero(~long_enough)
    names = list(cfg.models)
    chosen = np.full(n, SHORT_MODEL, dtype=object)
    acc = np.full(n, np.nan)
    naive_acc = np.full(n, np.nan)
    bt = None
    t0 = time.perf_counter()
    if tested.size:
        say(f"backtest: {tested.size} series × {len(names)} models over {cfg.tested_weeks} weeks")
        bt = backtest(series, tested, cfg)
        errors = bt[names].to_numpy()
        best = errors.argmin(axis=1)
        chosen[tested] = np.array(names, dtype=object)[best]
        actual = bt["actual"].to_numpy()
        acc[tested] = _series_accuracy(errors[np.arange(len(best)), best], actual)
        if BASELINE in names:
            naive_acc[tested] = _series_accuracy(bt[BASELINE].to_numpy(), actual)
    timings["backtest"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    weeks = [first_week + dt.timedelta(weeks=k) for k in range(cfg.horizon)]
    quantity = np.zeros((n, cfg.horizon))
    groups = [(m, np.flatnonzero(chosen == m)) for m in [*names, SHORT_MODEL]]
    for name, idx in groups:
        if not idx.size:
            continue
        say(f"forecast: {name} for {idx.size} series")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            jobs = cfg.n_jobs if idx.size >= PARALLEL_MIN else 1  # a worker pool costs more than small groups
            sf = _statsforecast([MODEL_FACTORIES[name](cfg)], cfg, jobs)
            fc = sf.forecast(df=_long(series, idx), h=cfg.horizon)
        pos = np.searchsorted(idx, fc["unique_id"].to_numpy(dtype=np.int64))
        step = np.tile(np.arange(cfg.horizon), idx.size)[: len(fc)]
        quantity[idx[pos], step] = np.nan_to_num(fc[name].to_numpy(dtype=float))
    quantity = np.clip(np.round(quantity, 2), 0, None)
    timings["forecast"] = time.perf_counter() - t0

    suggested = suggested_quantity(
        quantity,
        series.recent_other[:, None],
        series.recent_scarce[:, None],
        series.allotment[:, None],
        cfg.max_ratio,
    )
    rows = pd.DataFrame(
        {
            "retailer_id": np.repeat(series.retailer_ids, cfg.horizon),
            "brand": np.repeat(series.brands, cfg.horizon),
            "week_start": np.tile(np.array(weeks, dtype=object), n),
            "model": np.repeat(chosen, cfg.horizon),
            "quantity": quantity.ravel(),
            "suggested": suggested.ravel(),
            "backtest_accuracy": np.repeat(acc, cfg.horizon),
            "naive_accuracy": np.repeat(naive_acc, cfg.horizon),
        }
    )
    summary = _summary(bt, names, chosen, n, tested.size, short.size, cfg)
    summary["seconds"] = {k: round(v, 3) for k, v in timings.items()}
    return ForecastResult(rows=rows, summary=summary, backtest=bt)


def _series_accuracy(error: np.ndarray, actual: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(actual > 0, np.clip(1 - error / actual, 0, None), np.where(error == 0, 1.0, 0.0))
    return acc


def _summary(
    bt: pd.DataFrame | None, names: list[str], chosen: np.ndarray, n: int, tested: int, short: int, cfg: ForecastConfig
) -> dict:
    wins = {m: int((chosen == m).sum()) for m in [*names, SHORT_MODEL] if (chosen == m).any()}
    out: dict = {
        "series": n,
        "backtested": tested,
        "short": short,
        "backtest_weeks": cfg.tested_weeks,
        "wins": wins,
        "accuracy": None,
        "naive_accuracy": None,
        "seasonal_naive_accuracy": None,
        "models": {},
    }
    if bt is None or bt.empty:
        return out
    errors = bt[names].to_numpy()
    actual = float(bt["actual"].sum())
    best = errors.min(axis=1)
    out["accuracy"] = round(accuracy_from_sums(float(best.sum()), actual), 6)
    out["actual_cartons"] = actual
    out["abs_error"] = round(float(best.sum()), 3)
    for i, name in enumerate(names):
        ok = np.isfinite(errors[:, i])
        a = float(bt["actual"].to_numpy()[ok].sum())
        out["models"][name] = {
            "accuracy": round(accuracy_from_sums(float(errors[ok, i].sum()), a), 6),
            "series": int(ok.sum()),
        }
    if BASELINE in names:
        out["naive_accuracy"] = out["models"][BASELINE]["accuracy"]
        out["gain_points"] = round((out["accuracy"] - out["naive_accuracy"]) * 100, 2)
    if SEASONAL in names:
        out["seasonal_naive_accuracy"] = out["models"][SEASONAL]["accuracy"]
    return out


def forecast(
    data_dir: Path,
    history_end: dt.date,
    cfg: ForecastConfig,
    *,
    products: pa.Table,
    level: str = "retailer",
    retailer_ids: np.ndarray | Sequence[int] | None = None,
    progress: Progress | None = None,
) -> tuple[Series, ForecastResult]:
    """Series, backtest, choice and forecast in one go; ``summary['seconds']`` has each step's time."""
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    series = build_series(
        data_dir,
        history_end,
        products=products,
        level=level,
        retailer_ids=retailer_ids,
        history_weeks=cfg.history_weeks,
        recent_weeks=cfg.recent_weeks,
    )
    built = time.perf_counter() - t0
    say(f"series: {len(series)} ({level}) over {len(series.weeks)} weeks in {built:.1f} s")
    result = run_forecasts(series, cfg, monday(history_end) + dt.timedelta(weeks=1), progress)
    result.summary["seconds"] = {"series": round(built, 3), **result.summary["seconds"]}
    return series, result
