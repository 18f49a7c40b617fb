"""Weekly series, accuracy, model choice by backtest and 核量 (cmdesk.analytics.forecast), on hand-made data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cmdesk.analytics import forecast as F
from cmdesk.analytics.layout import ORDER_SCHEMA, month_label, order_file

D = dt.date
# product id: (brand, key brand, scarce)
PRODUCTS = F.products_table(
    [(10, "A", True, False), (20, "A", True, True), (30, "B", True, False), (40, "C", False, False)]
)
HISTORY_END = D(2026, 10, 31)  # a Saturday: the week of 10-26 is the last history week
WEEKS = [D(2026, 9, 21) + dt.timedelta(weeks=k) for k in range(6)]


def write(data_dir, lines: list[tuple[dt.date, int, int, int, int]]) -> None:
    """(order day, retailer, product, ordered, allotted) lines as month files."""
    by_month: dict[str, list[dict]] = {}
    for n, (day, retailer, product, ordered, allotted) in enumerate(lines, 1):
        by_month.setdefault(month_label(day), []).append(
            dict(
                order_date=day,
                order_id=n,
                retailer_id=retailer,
                licence=f"{retailer:012d}",
                product_id=product,
                product_code=str(product),
                demanded=ordered,
                allotted=allotted,
                ordered=ordered,
                supplied=ordered,
                amount=float(ordered * 10),
                channel="online",
            )  # fmt: skip
        )
    for month, rows in by_month.items():
        path = order_file(data_dir, month)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=ORDER_SCHEMA), path)


@pytest.fixture
def data(tmp_path):
    write(
        tmp_path,
        [
            (D(2026, 9, 15), 1, 10, 50, 99),  # before the window
            (D(2026, 9, 22), 1, 10, 5, 99),
            (D(2026, 9, 22), 1, 20, 2, 3),
            (D(2026, 9, 29), 1, 10, 4, 99),
            # no order in the week of 10-05
            (D(2026, 10, 13), 1, 10, 6, 99),
            (D(2026, 10, 13), 1, 20, 1, 2),  # scarce: the latest allotment is 2
            (D(2026, 10, 14), 2, 10, 8, 99),  # retailer 2 is new: its first order
            (D(2026, 10, 20), 1, 10, 3, 99),
            (D(2026, 10, 20), 1, 40, 9, 99),  # not a key brand
            (D(2026, 10, 27), 1, 10, 2, 99),
            (D(2026, 10, 28), 2, 30, 3, 99),
            (D(2026, 10, 29), 3, 10, 7, 99),
            (D(2026, 11, 3), 1, 10, 40, 99),  # after the history
        ],
    )
    return tmp_path


def test_retailer_series_fill_zero_weeks_and_start_new_retailers_at_their_first_order(data):
    s = F.build_series(data, HISTORY_END, products=PRODUCTS, retailer_ids=[1, 2], history_weeks=6, recent_weeks=4)
    assert [str(w) for w in s.weeks] == [w.isoformat() for w in WEEKS]
    assert s.retailer_ids.tolist() == [1, 2]  # retailer 3 is outside the scope
    assert s.values.tolist() == [[7, 4, 0, 7, 12, 2], [0, 0, 0, 8, 0, 3]]
    assert s.start.tolist() == [0, 3]
    assert s.lengths.tolist() == [6, 3]
    # last 4 weeks: retailer 1 ordered 0 + 7 + 12 + 2 = 21 cartons, 1 of them scarce
    assert s.recent_scarce.tolist() == [0.25, 0.0]
    assert s.recent_other.tolist() == [5.0, 2.75]
    assert s.allotment[0] == 2.0 and np.isnan(s.allotment[1])
    frame = s.frame()
    assert len(frame) == 6 + 3
    assert frame[frame.retailer_id == 2].week_start.tolist() == WEEKS[3:]


def test_brand_series_take_key_brand_products_per_brand(data):
    s = F.build_series(data, HISTORY_END, products=PRODUCTS, level="retailer_brand", history_weeks=6)
    keys = list(zip(s.retailer_ids.tolist(), s.brands.tolist(), strict=True))
    assert keys == [(1, "A"), (2, "A"), (2, "B"), (3, "A")]
    assert s.values.tolist() == [
        [7, 4, 0, 7, 3, 2],  # product 40 (not a key brand) left out
        [0, 0, 0, 8, 0, 0],
        [0, 0, 0, 0, 0, 3],
        [0, 0, 0, 0, 0, 7],
    ]
    assert s.start.tolist() == [0, 3, 5, 5]


def test_series_without_files_or_scope_are_empty(tmp_path, data):
    assert len(F.build_series(tmp_path / "none", HISTORY_END, products=PRODUCTS)) == 0
    assert len(F.build_series(data, HISTORY_END, products=PRODUCTS, retailer_ids=[])) == 0
    with pytest.raises(ValueError, match="level"):
        F.build_series(data, HISTORY_END, products=PRODUCTS, level="brand")


def test_weekly_actuals_are_zero_for_weeks_without_orders(data):
    import pandas as pd

    keys = pd.DataFrame(
        {"retailer_id": [1, 2, 1], "brand": ["", "", ""], "week_start": [D(2026, 10, 12), D(2026, 10, 5), WEEKS[0]]}
    )
    got = F.weekly_actuals(data, keys, products=PRODUCTS)
    assert got.actual.tolist() == [7.0, 0.0, 7.0]
    brand = F.weekly_actuals(
        data,
        pd.DataFrame({"retailer_id": [2], "brand": ["B"], "week_start": [D(2026, 10, 26)]}),
        products=PRODUCTS,
        level="retailer_brand",
    )
    assert brand.actual.tolist() == [3.0]


def test_data_end_and_complete_weeks(data):
    assert F.data_end(data) == D(2026, 11, 3)
    assert F.complete_through(D(2026, 11, 3)) == D(2026, 11, 1)  # a Tuesday: the week before is the last complete
    assert F.complete_through(D(2026, 10, 30)) == D(2026, 11, 1)  # a Friday completes its week


def test_accuracy_formula_on_hand_computed_numbers():
    # Σ|a − f| = 2 + 2 + 0 = 4, Σa = 15 → 1 − 4/15
    assert F.accuracy([10, 0, 5], [8, 2, 5]) == pytest.approx(1 - 4 / 15)
    assert F.accuracy([100], [95]) == pytest.approx(0.95)
    assert F.accuracy([10], [35]) == 0.0  # clipped at 0
    assert F.accuracy([0, 0], [0, 0]) == 1.0  # no demand, none forecast
    assert F.accuracy([0], [1]) == 0.0  # no demand, some forecast
    assert F.accuracy([], []) is None
    with pytest.raises(ValueError, match="2 actuals but 1 forecasts"):
        F.accuracy([1, 2], [1])


def test_suggested_quantity_rule():
    # ceil(forecast rounded to 0.01), at most ceil(1.5 × recent average), never below 0
    assert F.suggested_quantity([12.2, 30.0, 0.0, 4.001, 4.01], 10.0).tolist() == [13, 15, 0, 4, 5]
    assert F.suggested_quantity(12.2, 0.0).tolist() == 0  # no recent orders: 0
    # the scarce part is capped by the tier allotment: 1.5 × 8 + min(1.5 × 4, 2) = 14
    assert F.suggested_quantity(20.0, 8.0, 4.0, 2.0).tolist() == 14
    assert F.suggested_quantity(20.0, 8.0, 4.0, np.nan).tolist() == 18  # no allotment known
    assert F.suggested_quantity(-3.0, 8.0).tolist() == 0


def _series(rows: list[np.ndarray]) -> F.Series:
    w = len(rows[0])
    weeks = np.arange(np.datetime64("2024-11-04"), np.datetime64("2024-11-04") + 7 * w, 7, dtype="datetime64[D]")
    n = len(rows)
    return F.Series(
        "retailer", weeks, np.arange(1, n + 1), np.array([""] * n, dtype=object), np.vstack(rows),
        np.zeros(n, np.int64), np.full(n, 20.0), np.zeros(n), np.full(n, np.nan),
    )  # fmt: skip


def test_model_choice_takes_the_smallest_backtest_error():
    seasonal = np.array([5 + (k % 52) % 13 for k in range(104)], dtype=float)  # repeats every 52 weeks
    intermittent = np.array([6.0 if k % 5 == 0 or k % 7 == 3 else 0.0 for k in range(104)])
    cfg = F.ForecastConfig(models=("Naive", "SeasonalNaive", "CrostonClassic"))
    result = F.run_forecasts(_series([seasonal, intermittent]), cfg, D(2026, 11, 2))
    bt = result.backtest
    # rolling origin: 2 windows of 4 weeks; the seasonal series is forecast exactly by its value 52 weeks earlier
    assert bt["actual"].tolist() == [seasonal[-8:].sum(), intermittent[-8:].sum()]
    assert bt.loc[0, "SeasonalNaive"] == 0.0
    assert bt.loc[0, "Naive"] > 0 and bt.loc[0, "CrostonClassic"] > 0
    # intermittent: Croston's smoothed rate beats both naive forecasts
    assert bt.loc[1, "CrostonClassic"] < bt.loc[1, "SeasonalNaive"] < bt.loc[1, "Naive"]
    models = result.rows.groupby("retailer_id")["model"].first().tolist()
    assert models == ["SeasonalNaive", "CrostonClassic"]
    assert result.rows[result.rows.retailer_id == 1]["quantity"].tolist() == seasonal[-52:-48].tolist()
    assert result.summary["wins"] == {"SeasonalNaive": 1, "CrostonClassic": 1}
    errors = [0.0, float(bt.loc[1, "CrostonClassic"])]
    assert result.summary["accuracy"] == pytest.approx(1 - sum(errors) / bt["actual"].sum(), abs=1e-6)
    naive = bt["Naive"].sum()
    assert result.summary["naive_accuracy"] == pytest.approx(1 - naive / bt["actual"].sum(), abs=1e-6)
    first = result.rows[result.rows.retailer_id == 1].iloc[0]
    assert first.backtest_accuracy == 1.0
    assert first.naive_accuracy == pytest.approx(1 - bt.loc[0, "Naive"] / bt.loc[0, "actual"])


def test_short_series_get_the_historic_average_without_backtest():
    values = np.zeros(20)
    values[-5:] = [4, 0, 6, 2, 3]
    s = _series([values])
    s.start = np.array([15])
    result = F.run_forecasts(s, F.ForecastConfig(), D(2026, 11, 2))
    assert result.rows["model"].unique().tolist() == ["HistoricAverage"]
    assert result.rows["quantity"].tolist() == [3.0] * 4
    assert result.rows["backtest_accuracy"].isna().all()
    assert result.summary["short"] == 1 and result.summary["accuracy"] is None


def test_config_refuses_bad_settings():
    with pytest.raises(ValueError, match="horizon"):
        F.ForecastConfig(horizon=0)
    with pytest.raises(ValueError, match="unknown"):
        F.ForecastConfig(models=("Prophet",))
    cfg = F.ForecastConfig(horizon=3, backtest_weeks=8)
    assert (cfg.windows, cfg.tested_weeks) == (3, 9)
