"""Weekly demand forecasts and 核量 (issue 6, item 4): runs, realised accuracy, and a CM's month for the assessment.

* :func:`create_run` — one :class:`ForecastRun` for an org unit's retailers (the computation is
  :mod:`cmdesk.analytics.forecast`), its :class:`Forecast` rows written with ``bulk_create`` in batches; the run's
  ``metrics`` hold the backtest accuracy of the chosen models, of the naive baseline (last week's value) and of
  seasonal naive, the wins per model, the series count and the seconds per step.
* :func:`score_actuals` — after the weeks pass, fills ``Forecast.actual`` from the order facts (weeks complete in the
  data only) and stores each run's realised accuracy against the naive baseline in ``metrics["realised"]``.
* :func:`month_forecasts` / :func:`cm_month_accuracy` — the retailer-level forecasts of the weeks that end in a month,
  each week from the latest run made before it (the largest ``history_end`` before the week, then the newest run),
  with actuals (stored, or read from the order facts when not scored yet): the assessment's forecast-accuracy metric
  and the evidence page both use them.

A week belongs to the month its Sunday falls in, so a month's accuracy is final at the month's end, when the
assessment is scored. Bulk writes send no signals, so the audit trail of a run is the ForecastRun row itself (created
inside ``acting_as(user)``) plus ``created_by``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from cmdesk.analytics import forecast as fc
from cmdesk.catalog.models import Product
from cmdesk.core.audit import acting_as
from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.org.models import OrgUnit
from cmdesk.retail.choices import RetailerStatus
from cmdesk.retail.models import Retailer

from ..models import Forecast, ForecastLevel, ForecastRun

BATCH = 5000
Progress = Callable[[str], None]


def data_dir() -> Path:
    return Path(settings.CMDESK_DATA_DIR)


def products_table() -> Any:
    """The catalogue as the Arrow table the forecast queries join (brand, key brand, scarce)."""
    return fc.products_table(list(Product.objects.values_list("id", "brand", "key_brand", "scarce")))


def check_can_run(user: Any, org_unit: OrgUnit) -> None:
    if not has_model_perm(user, ForecastRun, "add"):
        raise PermissionDenied(_("You may not run forecasts."))
    scope = user_scope(user)
    if scope.kind == "all" or (scope.kind == "org" and scope.org_path and org_unit.path.startswith(scope.org_path)):
        return
    raise PermissionDenied(_("The org unit %(unit)s is outside your scope.") % {"unit": org_unit.code})


def scope_retailers(org_unit: OrgUnit) -> np.ndarray:
    """Ids of the org unit's retailers that are not closed or cancelled (the series a run forecasts)."""
    qs = Retailer.objects.exclude(status__in=(RetailerStatus.CLOSED, RetailerStatus.CANCELLED))
    if not org_unit.is_root():
        qs = qs.filter(route__org_unit__path__startswith=org_unit.path)
    return np.fromiter(qs.values_list("id", flat=True), dtype=np.int64)


def _data_version(path: Path) -> str:
    from cmdesk.kpi.refresh import data_version

    return data_version(path)[:64]


def create_run(
    *,
    org_unit: OrgUnit,
    history_end: dt.date,
    user: Any,
    horizon: int = 4,
    level: str = ForecastLevel.RETAILER,
    backtest_weeks: int = 8,
    history_weeks: int = 104,
    n_jobs: int = 1,
    progress: Progress | None = None,
) -> ForecastRun:
    """Forecast ``horizon`` weeks after ``history_end`` for every open retailer of ``org_unit`` (or retailer × key
    brand), choose the model per series by backtest, and store the run with its rows and metrics."""
    say = progress or (lambda _msg: None)
    check_can_run(user, org_unit)
    if level not in ForecastLevel.values:
        raise ValidationError({"level": _("Unknown level %(v)s.") % {"v": level}})
    try:
        cfg = fc.ForecastConfig(
            horizon=horizon, backtest_weeks=backtest_weeks, history_weeks=history_weeks, n_jobs=n_jobs
        )
    except ValueError as exc:
        raise ValidationError({"horizon": str(exc)}) from exc
    path = data_dir()
    last = fc.data_end(path)
    if last is None:
        raise ValidationError({"history_end": _("There are no order facts in %(p)s.") % {"p": path}})
    if history_end > last + dt.timedelta(days=6):
        raise ValidationError(
            {
                "history_end": _("The order facts end on %(d)s; a history up to %(h)s would count missing weeks as 0.")
                % {"d": last, "h": history_end}
            }
        )
    t0 = time.perf_counter()
    series, result = fc.forecast(
        path,
        history_end,
        cfg,
        products=products_table(),
        level=level,
        retailer_ids=scope_retailers(org_unit),
        progress=say,
    )
    if not len(series):
        raise ValidationError(
            {
                "history_end": _("No orders of %(unit)s's retailers in the history up to %(d)s.")
                % {"unit": org_unit.code, "d": history_end}
            }
        )
    computed = time.perf_counter() - t0
    first_week = fc.monday(history_end) + dt.timedelta(weeks=1)
    metrics = {**result.summary, "config": cfg.as_dict()}
    t1 = time.perf_counter()
    with transaction.atomic():
        with acting_as(user):
            run = ForecastRun.objects.create(
                org_unit=org_unit,
                level=level,
                history_end=history_end,
                first_week=first_week,
                horizon=horizon,
                models_tried=list(cfg.models),
                backtest_weeks=cfg.tested_weeks,
                series=len(series),
                data_version=_data_version(path),
                created_by=user if getattr(user, "pk", None) else None,
            )
        written = write_rows(run, result.rows, progress=say)
        metrics["seconds"]["write"] = round(time.perf_counter() - t1, 3)
        run.seconds = round(computed + metrics["seconds"]["write"], 3)
        metrics["rows"] = written
        run.metrics = metrics
        run.save(update_fields=["metrics", "seconds"])
    return run


def write_rows(run: ForecastRun, rows: pd.DataFrame, progress: Progress | None = None) -> int:
    """``bulk_create`` the run's rows in batches of :data:`BATCH` (no per-row signals)."""
    say = progress or (lambda _msg: None)
    quantity = [Decimal(f"{q:.2f}") for q in rows["quantity"].to_numpy()]
    bt = rows["backtest_accuracy"].to_numpy()
    naive = rows["naive_accuracy"].to_numpy()
    cols = zip(
        rows["retailer_id"].tolist(),
        rows["brand"].tolist(),
        rows["week_start"].tolist(),
        rows["model"].tolist(),
        quantity,
        rows["suggested"].tolist(),
        [None if np.isnan(v) else round(float(v), 6) for v in bt],
        [None if np.isnan(v) else round(float(v), 6) for v in naive],
        strict=True,
    )
    objs = [
        Forecast(
            run=run,
            retailer_id=r,
            brand=b,
            week_start=w,
            model=m,
            quantity=q,
            suggested=s,
            backtest_accuracy=a,
            naive_accuracy=n,
        )
        for r, b, w, m, q, s, a, n in cols
    ]
    total = len(objs)
    for i in range(0, total, BATCH):
        Forecast.objects.bulk_create(objs[i : i + BATCH], batch_size=BATCH)
        say(f"write: {min(i + BATCH, total)} / {total} rows")
    return total


# ------------------------------------------------------------------------------------------------- realised accuracy


def _actuals_for(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    """Weekly cartons for the frame's (retailer_id, brand, week_start) keys from the order facts."""
    return fc.weekly_actuals(data_dir(), frame, products=products_table(), level=level)


def score_actuals(
    *, through: dt.date | None = None, runs: QuerySet | None = None, progress: Progress | None = None
) -> dict[int, dict]:
    """Fill ``Forecast.actual`` for the weeks complete by ``through`` (default and at most: the data's last complete
    week; rows already scored keep their actual) and store each touched run's realised accuracy and its naive
    baseline in ``metrics["realised"]``."""
    say = progress or (lambda _msg: None)
    last = fc.data_end(data_dir())
    if last is None:
        return {}
    # never past the data: a week without its orders yet would count as 0 cartons
    through = fc.complete_through(last) if through is None else min(through, fc.complete_through(last))
    latest_week = fc.monday(through + dt.timedelta(days=1)) - dt.timedelta(weeks=1)
    qs = (runs if runs is not None else ForecastRun.objects.all()).filter(first_week__lte=latest_week)
    out: dict[int, dict] = {}
    for run in qs.order_by("history_end", "id"):
        rows = pd.DataFrame(
            Forecast.objects.filter(run=run, week_start__lte=latest_week).values_list(
                "id", "retailer_id", "brand", "week_start", "quantity", "actual"
            ),
            columns=["id", "retailer_id", "brand", "week_start", "quantity", "actual"],
        )
        if rows.empty:
            continue
        missing = rows[rows["actual"].isna()]
        if not missing.empty:
            got = _actuals_for(missing, run.level)
            filled = missing.drop(columns="actual").merge(got, on=["retailer_id", "brand", "week_start"])
            with transaction.atomic(), connection.cursor() as cur:
                cur.executemany(
                    f"UPDATE {Forecast._meta.db_table} SET actual = %s WHERE id = %s",  # noqa: S608 - our table name
                    [(f"{a:.2f}", int(i)) for a, i in zip(filled["actual"], filled["id"], strict=True)],
                )
            rows = rows.drop(columns="actual").merge(
                pd.concat(
                    [
                        rows.loc[rows["actual"].notna(), ["id", "actual"]].astype({"actual": float}),
                        filled[["id", "actual"]],
                    ]
                ),
                on="id",
            )
        realised = _realised(run, rows, through)
        run.metrics = {**run.metrics, "realised": realised}
        run.save(update_fields=["metrics"])
        out[run.pk] = realised
        say(f"run {run.pk}: {realised['weeks']} weeks scored, accuracy {realised['accuracy']}")
    return out


def _realised(run: ForecastRun, rows: pd.DataFrame, through: dt.date) -> dict:
    """Accuracy of the stored forecasts against the actuals, and of the naive forecast (the last history week's
    cartons, for every week ahead) on the same series-weeks."""
    a = rows["actual"].astype(float).to_numpy()
    f = rows["quantity"].astype(float).to_numpy()
    last_week = pd.DataFrame(
        {
            "retailer_id": rows["retailer_id"],
            "brand": rows["brand"],
            "week_start": run.first_week - dt.timedelta(weeks=1),
        }
    ).drop_duplicates()
    naive = _actuals_for(last_week, run.level).rename(columns={"actual": "naive"}).drop(columns="week_start")
    merged = rows[["retailer_id", "brand"]].merge(naive, on=["retailer_id", "brand"], how="left")
    n = merged["naive"].fillna(0.0).to_numpy()
    return {
        "through": through.isoformat(),
        "weeks": int(rows["week_start"].nunique()),
        "rows": len(rows),
        "actual_cartons": float(a.sum()),
        "accuracy": round(fc.accuracy_from_sums(float(np.abs(a - f).sum()), float(a.sum())), 6),
        "naive_accuracy": round(fc.accuracy_from_sums(float(np.abs(a - n).sum()), float(a.sum())), 6),
    }


# ----------------------------------------------------------------------------------------------- a month, per CM


def month_mondays_ending_in(month: dt.date) -> list[dt.date]:
    """The Mondays of the weeks whose Sunday falls in ``month``."""
    first = month.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    sunday = first + dt.timedelta(days=(6 - first.weekday()) % 7)
    out = []
    while sunday < nxt:
        out.append(sunday - dt.timedelta(days=6))
        sunday += dt.timedelta(weeks=1)
    return out


@dataclass
class MonthForecasts:
    month: dt.date
    mondays: list[dt.date]
    rows: pd.DataFrame  # retailer_id, cm_id, week_start, run_id, quantity, suggested, actual, measured (bool)


def month_forecasts(month: dt.date, retailers: QuerySet, *, as_of: dt.date | None = None) -> MonthForecasts:
    """The retailer-level forecasts of the weeks ending in ``month`` for ``retailers`` (a queryset), each week from the
    latest run made before it; actuals from the rows or, when not scored yet and the week is complete in the data by
    ``as_of``, from the order facts (read only)."""
    mondays = month_mondays_ending_in(month)
    cols = ["retailer_id", "cm_id", "week_start", "run_id", "quantity", "suggested", "actual", "history_end"]
    qs = Forecast.objects.filter(
        run__level=ForecastLevel.RETAILER,
        brand="",
        week_start__in=mondays,
        retailer__in=retailers,
    ).values_list(
        "retailer_id",
        "retailer__route__cm_id",
        "week_start",
        "run_id",
        "quantity",
        "suggested",
        "actual",
        "run__history_end",
    )
    rows = pd.DataFrame(list(qs), columns=cols)
    if rows.empty:
        return MonthForecasts(month, mondays, rows.assign(measured=pd.Series(dtype=bool)))
    # the latest run made before each week: largest history_end before it, then the newest run
    rows = rows[rows["history_end"] < rows["week_start"]]
    rows = rows.sort_values(
        ["retailer_id", "week_start", "history_end", "run_id"], ascending=[True, True, False, False]
    )
    rows = rows.drop_duplicates(["retailer_id", "week_start"]).reset_index(drop=True)
    rows["quantity"] = rows["quantity"].astype(float)
    rows["actual"] = rows["actual"].astype(float)
    last = fc.data_end(data_dir())
    if last is not None:
        through = fc.complete_through(last)
        if as_of is not None:
            through = min(through, as_of)
        todo = rows["actual"].isna() & (rows["week_start"] <= through - dt.timedelta(days=6))
        if todo.any():
            got = _actuals_for(rows.loc[todo].assign(brand=""), ForecastLevel.RETAILER)
            fill = rows.loc[todo, ["retailer_id", "week_start"]].merge(
                got[["retailer_id", "week_start", "actual"]], on=["retailer_id", "week_start"], how="left"
            )
            rows.loc[todo, "actual"] = fill["actual"].to_numpy()
    rows["measured"] = rows["actual"].notna()
    return MonthForecasts(month, mondays, rows)


@dataclass
class CmAccuracy:
    accuracy: float | None  # 0..1
    abs_error: float
    actual: float
    forecasts: int  # retailer-weeks forecast
    measured: int  # with an actual
    retailers: int
    weeks: int
    runs: list[int]


def cm_month_accuracy(mf: MonthForecasts) -> dict[int, CmAccuracy]:
    """Per CM: 1 − Σ|a − f| ÷ Σa over its retailers' measured weeks of the month (clipped at 0)."""
    out: dict[int, CmAccuracy] = {}
    if mf.rows.empty:
        return out
    for cm_id, g in mf.rows.groupby("cm_id", dropna=True):
        m = g[g["measured"]]
        err = float((m["actual"] - m["quantity"]).abs().sum())
        act = float(m["actual"].sum())
        out[int(cm_id)] = CmAccuracy(
            accuracy=fc.accuracy_from_sums(err, act) if len(m) else None,
            abs_error=err,
            actual=act,
            forecasts=len(g),
            measured=len(m),
            retailers=int(g["retailer_id"].nunique()),
            weeks=int(g["week_start"].nunique()),
            runs=sorted(int(r) for r in g["run_id"].unique()),
        )
    return out


def restrict_forecasts(user: Any) -> QuerySet:
    return Forecast.objects.restrict(user, "view")


def runs_for(user: Any) -> QuerySet:
    """The runs the user may read: those that forecast retailers in its scope."""
    if not has_model_perm(user, ForecastRun, "view"):
        return ForecastRun.objects.none()
    qs = ForecastRun.objects.all()
    if not user_scope(user).is_all:  # a semi-join on the rows in scope (uses the retailer index; no DISTINCT)
        qs = qs.filter(pk__in=Forecast.objects.restrict(user, "view").values("run_id"))
    return qs.select_related("org_unit")


def run_brands(run: ForecastRun) -> list[str]:
    return list(
        Forecast.objects.filter(run=run).exclude(brand="").order_by("brand").values_list("brand", flat=True).distinct()
    )


def week_list(run: ForecastRun) -> list[dt.date]:
    return [run.first_week + dt.timedelta(weeks=k) for k in range(run.horizon)]


def retailer_history(retailer: Retailer, *, end: dt.date, weeks: int = 26, brand: str = "") -> pd.DataFrame:
    """A retailer's weekly cartons (all products, or one key brand) for the ``weeks`` weeks up to ``end``."""
    level = ForecastLevel.RETAILER_BRAND if brand else ForecastLevel.RETAILER
    last = fc.monday(end)
    keys = pd.DataFrame(
        {
            "retailer_id": retailer.pk,
            "brand": brand,
            "week_start": [last - dt.timedelta(weeks=k) for k in range(weeks - 1, -1, -1)],
        }
    )
    return _actuals_for(keys, level)


def q_filter(text: str) -> Q:
    return Q(retailer__licence_no__icontains=text) | Q(retailer__shop_name__icontains=text)
