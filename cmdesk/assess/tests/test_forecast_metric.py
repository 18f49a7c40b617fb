"""The forecast-accuracy item (issue 5, measured from issue 6's forecasts): exact accuracy, points and evidence."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from cmdesk.assess.services.metrics import METRICS, Context
from cmdesk.assess.services.schemes import default_scheme
from cmdesk.assess.services.scoring import is_no_data, score_item
from cmdesk.supply.models import Forecast, ForecastLevel, ForecastRun
from cmdesk.work.tests.world import build_work_world

pytestmark = pytest.mark.django_db

D = dt.date
SEPTEMBER = D(2026, 9, 1)  # weeks ending in September: Mondays 08-31, 09-07, 09-14, 09-21
MONDAYS = [D(2026, 8, 31), D(2026, 9, 7), D(2026, 9, 14), D(2026, 9, 21)]


def run(unit, history_end: dt.date, horizon: int, level: str = ForecastLevel.RETAILER) -> ForecastRun:
    first = history_end + dt.timedelta(days=1)
    return ForecastRun.objects.create(
        org_unit=unit, level=level, history_end=history_end, first_week=first, horizon=horizon
    )


def rows(r: ForecastRun, shop, values: dict[dt.date, tuple[str, str | None]]) -> None:
    Forecast.objects.bulk_create(
        Forecast(
            run=r,
            retailer=shop,
            week_start=week,
            model="Naive",
            quantity=Decimal(f),
            suggested=int(Decimal(f)),
            actual=None if a is None else Decimal(a),
        )
        for week, (f, a) in values.items()
    )


@pytest.fixture
def world():
    w = build_work_world(orders=False)
    a, b = w.shops1[0], w.shops1[1]
    old = run(w.tree.city, D(2026, 8, 23), 4)  # superseded by the later runs for every week it shares
    rows(old, a, {D(2026, 8, 24): ("9", "9"), MONDAYS[0]: ("100", "25"), MONDAYS[1]: ("100", "25")})
    main = run(w.tree.city, D(2026, 8, 30), 4)
    rows(
        main,
        a,
        {MONDAYS[0]: ("24", "25"), MONDAYS[1]: ("26", "25"), MONDAYS[2]: ("40", "25"), MONDAYS[3]: ("40", "25")},
    )
    rows(main, b, {MONDAYS[0]: ("0", "0"), MONDAYS[1]: ("9", "10"), MONDAYS[2]: ("0", "0"), MONDAYS[3]: ("0", "0")})
    rows(main, w.shops2[0], {m: ("12", "10") for m in MONDAYS})
    later = run(w.tree.city, D(2026, 9, 13), 2)  # made before the weeks of 09-14 and 09-21: it counts for them
    rows(later, a, {MONDAYS[2]: ("25", "25"), MONDAYS[3]: ("25", "25")})
    brand = run(w.tree.city, D(2026, 8, 30), 4, ForecastLevel.RETAILER_BRAND)  # another level: not counted
    Forecast.objects.create(
        run=brand, retailer=a, brand="红塔山", week_start=MONDAYS[0], model="Naive", quantity=1, actual=90
    )
    return w


def measure(w):
    cms = [w.cm1, w.cm2, w.cm3]
    ctx = Context(w.tree.city, SEPTEMBER, cms, today=D(2026, 10, 31))
    return METRICS["forecast_accuracy"].measure(ctx, None)


def test_accuracy_of_a_cms_retailers_weeks_from_the_latest_run_before_each_week(world):
    out = measure(world)
    # cm1: shop A |25−24| + |25−26| + 0 + 0 (the later run for 09-14 and 09-21), shop B |10−9| = 3; Σ actual 110
    assert out[world.cm1.pk].value == Decimal("97.2727")  # (1 − 3/110) × 100
    # cm2: 4 × |10 − 12| = 8 of 40
    assert out[world.cm2.pk].value == Decimal("80.0000")
    ev = out[world.cm1.pk].evidence
    assert ev[0]["url"] == f"/supply/forecasts/accuracy/?cm={world.cm1.pk}&month=2026-09"
    assert ev[0]["value"] == "1 − 3 ÷ 110 = 97.2727%"
    runs = ForecastRun.objects.filter(level=ForecastLevel.RETAILER).order_by("history_end")
    assert ev[1]["value"] == f"8 / 8; #{runs[1].pk}, #{runs[2].pk}"
    # cm3 has no forecasts at all: no data
    assert out[world.cm3.pk].value is None


def test_default_scheme_points(world):
    item = default_scheme().items.get(metric="forecast_accuracy")
    out = measure(world)
    # ≥ 95%: 15 + 1 × 2.2727 = 17.27
    assert score_item(item, out[world.cm1.pk])["points"] == Decimal("17.27")
    # < 95%: 15 − 0.5 × 15 = 7.5
    assert score_item(item, out[world.cm2.pk])["points"] == Decimal("7.50")
    no = score_item(item, out[world.cm3.pk])
    assert no["points"] == Decimal("0.00") and no["measured"] is None


def test_exactly_the_target_and_far_below(world):
    item = default_scheme().items.get(metric="forecast_accuracy")
    Forecast.objects.filter(retailer=world.shops2[0]).update(quantity=Decimal("10.5"))  # 4 × 0.5 of 40: 95%
    out = measure(world)
    assert out[world.cm2.pk].value == Decimal("95.0000")
    assert score_item(item, out[world.cm2.pk])["points"] == Decimal("15.00")
    Forecast.objects.filter(retailer=world.shops2[0]).update(quantity=Decimal("50"))  # error 160 of 40: clipped at 0
    out = measure(world)
    assert out[world.cm2.pk].value == Decimal("0.0000")
    assert score_item(item, out[world.cm2.pk])["points"] == Decimal("0.00")


def test_forecasts_without_actuals_and_no_order_data_are_no_data_with_a_reason(world):
    Forecast.objects.filter(retailer=world.shops2[0]).update(actual=None)
    out = measure(world)
    m = out[world.cm2.pk]
    assert m.value is None
    assert "4" in m.evidence[0]["value"]
    item = default_scheme().items.get(metric="forecast_accuracy")
    fields = score_item(item, m)
    assert fields["points"] == Decimal("0.00")
    assert any(e.get("flag") for e in fields["evidence"])


def test_the_evidence_page_shows_the_same_figures(world):
    client = Client()
    client.force_login(world.head.user)
    page = client.get(f"/supply/forecasts/accuracy/?cm={world.cm1.pk}&month=2026-09")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-cm="{world.cm1.pk}"' in html and "97.3%" in html
    assert f'data-retailer="{world.shops1[0].pk}"' in html
    assert f'data-cm="{world.cm2.pk}"' not in html  # filtered to cm1
    client.force_login(world.cm2.user)
    assert client.get(f"/supply/forecasts/accuracy/?cm={world.cm1.pk}&month=2026-09").status_code == 404
    client.force_login(world.inspector.user)
    assert client.get("/supply/forecasts/accuracy/?month=2026-09").status_code == 403


def test_no_data_item_is_flagged(world):
    Forecast.objects.all().delete()
    out = measure(world)
    item = default_scheme().items.get(metric="forecast_accuracy")
    assert all(out[c.pk].value is None for c in (world.cm1, world.cm2, world.cm3))
    fields = score_item(item, out[world.cm1.pk])
    from cmdesk.assess.models import ScoreItem

    assert is_no_data(ScoreItem(evidence=fields["evidence"]))
