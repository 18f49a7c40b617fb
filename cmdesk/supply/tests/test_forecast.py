"""Forecast runs through the service and the command: rows, metrics, 核量, realised accuracy (on the work world).

The world's shops order every Tuesday from 2025-09 to 2026-10: 10 cartons of 红塔山 and 4 of 芙蓉王 (R2's shops also
5 of 白沙, so 19), shop R1-03 stops after 2026-08, R1-05 halves from 2026-09 (7), R1-07 orders 60 + 4 in the week
of 2026-10-12. Steady series are forecast exactly by every model, so the ties go to the first candidate, Naive.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from cmdesk.kpi.selectors import SYSTEM
from cmdesk.supply.models import Forecast, ForecastLevel, ForecastRun
from cmdesk.supply.services import forecasts as svc
from cmdesk.work.tests.world import FALLING, SPIKE, STOPPED, build_work_world

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def w():
    return build_work_world()


def q(run, shop, brand=""):
    return list(
        Forecast.objects.filter(run=run, retailer=shop, brand=brand)
        .order_by("week_start")
        .values_list("week_start", "model", "quantity", "suggested")
    )


def test_run_writes_rows_and_metrics(w):
    run = svc.create_run(org_unit=w.tree.city, history_end=D(2026, 10, 31), user=w.centre.user, horizon=4)
    weeks = [D(2026, 11, 2), D(2026, 11, 9), D(2026, 11, 16), D(2026, 11, 23)]
    assert (run.first_week, run.horizon, run.series, run.backtest_weeks) == (weeks[0], 4, 21, 8)
    assert Forecast.objects.filter(run=run).count() == 84
    assert run.created_by == w.centre.user
    assert q(run, w.shops2[0]) == [(wk, "Naive", Decimal("19.00"), 19) for wk in weeks]
    assert q(run, w.shops1[0]) == [(wk, "Naive", Decimal("14.00"), 14) for wk in weeks]
    assert q(run, w.shops1[STOPPED]) == [(wk, "Naive", Decimal("0.00"), 0) for wk in weeks]
    assert q(run, w.shops1[FALLING]) == [(wk, "Naive", Decimal("7.00"), 7) for wk in weeks]
    spike = Forecast.objects.filter(run=run, retailer=w.shops1[SPIKE]).first()
    # backtest weeks 09-07 … 10-26: every model said 14, the week of 10-12 had 64
    assert spike.backtest_accuracy == pytest.approx(1 - 50 / (14 * 7 + 64))
    assert spike.naive_accuracy == pytest.approx(1 - 50 / (14 * 7 + 64))
    m = run.metrics
    assert m["series"] == 21 and m["backtested"] == 21 and m["short"] == 0 and m["rows"] == 84
    assert m["wins"] == {"Naive": 21}
    # Σ actual over the 8 backtest weeks: R1-05 7×8, R1-07 162, nine R1 shops 14×8, R2 19×8 ×6, R3 14×8 ×3
    total = 56 + 162 + 9 * 14 * 8 + 6 * 19 * 8 + 3 * 14 * 8
    assert m["accuracy"] == pytest.approx(1 - 50 / total, abs=1e-6)
    assert m["naive_accuracy"] == m["accuracy"] and m["gain_points"] == 0
    assert set(m["seconds"]) == {"series", "backtest", "forecast", "write"}
    assert m["config"]["models"] == list(run.models_tried)
    assert run.seconds > 0


def test_brand_level_forecasts_key_brands_per_retailer(w):
    run = svc.create_run(
        org_unit=w.tree.dept_a,
        history_end=D(2026, 10, 31),
        user=w.head.user,
        level=ForecastLevel.RETAILER_BRAND,
    )
    assert run.series == 18 * 2  # department A's 18 shops × 红塔山, 芙蓉王 (白沙 is not a key brand)
    assert [r[2] for r in q(run, w.shops2[0], "红塔山")] == [Decimal("10.00")] * 4
    assert [r[2] for r in q(run, w.shops2[0], "芙蓉王")] == [Decimal("4.00")] * 4
    assert svc.run_brands(run) == sorted(["红塔山", "芙蓉王"])


def test_score_actuals_fills_complete_weeks_and_reports_realised_accuracy(w):
    past = svc.create_run(org_unit=w.tree.city, history_end=D(2026, 9, 27), user=SYSTEM, horizon=4)
    future = svc.create_run(org_unit=w.tree.city, history_end=D(2026, 10, 31), user=SYSTEM, horizon=4)
    done = svc.score_actuals()
    assert list(done) == [past.pk]  # the data end on Tuesday 10-27: weeks up to the one of 10-19 are complete
    assert not Forecast.objects.filter(run=future).exclude(actual=None).exists()
    assert list(
        Forecast.objects.filter(run=past, retailer=w.shops1[SPIKE])
        .order_by("week_start")
        .values_list("actual", flat=True)
    ) == [Decimal("14.00"), Decimal("14.00"), Decimal("64.00"), Decimal("14.00")]
    total = 28 + 106 + 9 * 14 * 4 + 6 * 19 * 4 + 3 * 14 * 4
    past.refresh_from_db()
    r = past.metrics["realised"]
    assert (r["through"], r["weeks"], r["rows"], r["actual_cartons"]) == ("2026-10-25", 4, 84, total)
    rows = list(Forecast.objects.filter(run=past).values_list("quantity", "actual"))
    error = sum(abs(a - f) for f, a in rows)
    assert r["accuracy"] == pytest.approx(float(1 - error / total), abs=1e-6)
    # naive: the cartons of the last history week (09-21) for each of the 4 weeks; R1-03 stopped (0), R1-07's
    # spike week misses by 50, every other shop ordered the same every week since 09-01
    assert r["naive_accuracy"] == pytest.approx(1 - 50 / total, abs=1e-6)
    assert svc.score_actuals(through=D(2026, 10, 4), runs=ForecastRun.objects.filter(pk=past.pk))[past.pk]["weeks"] == 1
    # never past the data: the week of 10-26 has no complete orders yet, so the future run stays unscored
    assert list(svc.score_actuals(through=D(2026, 12, 31))) == [past.pk]


def test_refusals(w):
    with pytest.raises(PermissionDenied):
        svc.create_run(org_unit=w.tree.city, history_end=D(2026, 10, 31), user=w.head.user)  # outside its unit
    with pytest.raises(PermissionDenied):
        svc.create_run(org_unit=w.tree.area_a1, history_end=D(2026, 10, 31), user=w.cm1.user)  # may not run
    with pytest.raises(ValidationError) as err:
        svc.create_run(org_unit=w.tree.city, history_end=D(2027, 1, 31), user=SYSTEM)
    assert "2026-10-27" in str(err.value)
    with pytest.raises(ValidationError):
        svc.create_run(org_unit=w.tree.city, history_end=D(2026, 10, 31), user=SYSTEM, horizon=0)
    with pytest.raises(ValidationError):
        svc.create_run(org_unit=w.tree.city, history_end=D(2024, 1, 31), user=SYSTEM)  # no orders that early
    assert not ForecastRun.objects.exists()


def test_month_mondays_ending_in():
    assert svc.month_mondays_ending_in(D(2026, 9, 1)) == [D(2026, 8, 31), D(2026, 9, 7), D(2026, 9, 14), D(2026, 9, 21)]
    assert svc.month_mondays_ending_in(D(2026, 11, 1)) == [
        D(2026, 10, 26), D(2026, 11, 2), D(2026, 11, 9), D(2026, 11, 16), D(2026, 11, 23),
    ]  # fmt: skip


def test_command(w):
    out, err = io.StringIO(), io.StringIO()
    call_command("forecast", "--history-end", "2026-09-27", "--scope", "C", stdout=out, stderr=err)
    text = out.getvalue()
    assert "21 series" in text and "naive (last week)" in text
    assert "backtest: 21 series × 8 models" in err.getvalue()
    out = io.StringIO()
    call_command("forecast", "--score-actuals", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert list(data.values())[0]["weeks"] == 4
    out = io.StringIO()
    call_command("forecast", "--history-end", "2026-10-31", "--level", "retailer_brand", "--format", "json", stdout=out)
    assert json.loads(out.getvalue())["series"] == 42
