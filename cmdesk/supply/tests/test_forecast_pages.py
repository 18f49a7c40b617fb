"""Forecast pages and API: scope (a CM sees its own retailers, another's is a 404, the inspector gets 403), filters,
the xlsx export and the run creation through the API."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from openpyxl import load_workbook
from rest_framework.test import APIClient

from cmdesk.kpi.selectors import SYSTEM
from cmdesk.supply.models import Forecast, ForecastRun
from cmdesk.supply.services import forecasts as svc
from cmdesk.work.tests.world import build_work_world

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def w():
    world = build_work_world()
    world.run = svc.create_run(org_unit=world.tree.city, history_end=D(2026, 10, 31), user=SYSTEM, horizon=4)
    world.brand_run = svc.create_run(
        org_unit=world.tree.dept_a, history_end=D(2026, 9, 27), user=SYSTEM, level="retailer_brand"
    )
    svc.score_actuals()
    return world


def client_for(staff) -> Client:
    c = Client()
    c.force_login(staff.user)
    return c


def test_run_list_and_detail_for_the_centre(w):
    c = client_for(w.centre)
    page = c.get("/supply/forecasts/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-run="{w.run.pk}"' in html and f'data-run="{w.brand_run.pk}"' in html
    detail = c.get(f"/supply/forecasts/runs/{w.run.pk}/").content.decode()
    assert detail.count("data-retailer=") == 21
    assert 'id="run-chart"' in detail and "echarts.min.js" in detail
    filtered = c.get(f"/supply/forecasts/runs/{w.run.pk}/", {"cm": w.cm2.pk}).content.decode()
    assert filtered.count("data-retailer=") == 6
    q = c.get(f"/supply/forecasts/runs/{w.run.pk}/", {"q": w.shops1[0].licence_no}).content.decode()
    assert q.count("data-retailer=") == 1
    brand = c.get(f"/supply/forecasts/runs/{w.brand_run.pk}/", {"brand": "芙蓉王"}).content.decode()
    assert brand.count("data-retailer=") == 18


def test_xlsx_export_has_every_filtered_series(w):
    c = client_for(w.head)
    response = c.get(f"/supply/forecasts/runs/{w.run.pk}/", {"export": "xlsx"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = list(ws.values)
    assert len(rows) == 1 + 18  # the head's department: R1 and R2
    assert len(rows[0]) == 7 + 3 * 4
    by_licence = {r[0]: r for r in rows[1:]}
    steady = by_licence[w.shops2[0].licence_no]
    assert steady[4] == "Naive" and steady[7:10] == (19, 19, None)


def test_a_cm_sees_its_own_retailers_only(w):
    c = client_for(w.cm2)
    assert f'data-run="{w.run.pk}"' in c.get("/supply/forecasts/").content.decode()
    detail = c.get(f"/supply/forecasts/runs/{w.run.pk}/").content.decode()
    assert detail.count("data-retailer=") == 6
    assert c.get(f"/supply/forecasts/retailer/{w.shops2[0].pk}/").status_code == 200
    assert c.get(f"/supply/forecasts/retailer/{w.shops1[0].pk}/").status_code == 404
    cm3 = client_for(w.cm3)
    assert cm3.get(f"/supply/forecasts/runs/{w.brand_run.pk}/").status_code == 404  # no retailer of its in it


def test_retailer_page_shows_history_and_forecast_weeks(w):
    c = client_for(w.cm1)
    page = c.get(f"/supply/forecasts/retailer/{w.shops1[0].pk}/")
    html = page.content.decode()
    assert 'id="retailer-chart"' in html
    for week in ("2026-11-02", "2026-11-23", "2026-10-19"):
        assert f'data-week="{week}"' in html
    chart = page.context["chart"]
    assert chart["forecast"][-4:] == [14.0] * 4
    assert chart["actual"][-7:] == [14.0, 14.0, None, None, None, None, None]  # 10-26 is not complete (data end 10-27)
    brand = c.get(f"/supply/forecasts/retailer/{w.shops1[0].pk}/", {"brand": "红塔山"})
    assert brand.context["brands"] == ["红塔山", "芙蓉王"]
    weeks = {t["week"]: t for t in brand.context["table"]}
    assert weeks[D(2026, 9, 28)]["quantity"] == 10.0 and weeks[D(2026, 9, 28)]["actual"] == 10.0


def test_inspector_is_refused(w):
    c = client_for(w.inspector)
    for url in (
        "/supply/forecasts/",
        f"/supply/forecasts/runs/{w.run.pk}/",
        f"/supply/forecasts/retailer/{w.shops1[0].pk}/",
        "/supply/forecasts/accuracy/",
    ):
        assert c.get(url).status_code == 403, url
    api = APIClient()
    api.force_authenticate(w.inspector.user)
    assert api.get("/api/supply/forecast-runs/").status_code == 403
    assert api.get("/api/supply/forecasts/").status_code == 403


def test_api_lists_and_filters_in_scope(w):
    api = APIClient()
    api.force_authenticate(w.cm2.user)
    runs = api.get("/api/supply/forecast-runs/").json()
    assert {r["id"] for r in runs["results"]} == {w.run.pk, w.brand_run.pk}
    assert api.get(f"/api/supply/forecast-runs/{w.run.pk}/").json()["metrics"]["series"] == 21
    rows = api.get("/api/supply/forecasts/", {"run": w.run.pk, "limit": 500}).json()
    assert rows["count"] == 6 * 4
    week = api.get("/api/supply/forecasts/", {"run": w.run.pk, "week": "2026-11-09"}).json()
    assert week["count"] == 6 and {r["week_start"] for r in week["results"]} == {"2026-11-09"}
    brand = api.get("/api/supply/forecasts/", {"run": w.brand_run.pk, "brand": "芙蓉王"}).json()
    assert brand["count"] == 6 * 4 and brand["results"][0]["actual"] == "4.00"
    other = Forecast.objects.filter(run=w.run, retailer=w.shops1[0]).first()
    assert api.get(f"/api/supply/forecasts/{other.pk}/").status_code == 404
    assert api.get("/api/supply/forecasts/", {"week": "soon"}).status_code == 400
    assert api.post("/api/supply/forecast-runs/", {"org_unit": "C", "history_end": "2026-10-31"}).status_code == 403


def test_api_creates_a_run_for_a_head_in_its_unit(w):
    api = APIClient()
    api.force_authenticate(w.head.user)
    made = api.post(
        "/api/supply/forecast-runs/", {"org_unit": w.tree.dept_a.code, "history_end": "2026-10-31", "horizon": 2}
    )
    assert made.status_code == 201, made.content
    run = ForecastRun.objects.get(pk=made.json()["id"])
    assert (run.horizon, run.series, Forecast.objects.filter(run=run).count()) == (2, 18, 36)
    assert api.post("/api/supply/forecast-runs/", {"org_unit": "C", "history_end": "2026-10-31"}).status_code == 403
    bad = api.post("/api/supply/forecast-runs/", {"org_unit": w.tree.dept_a.code, "history_end": "2027-10-31"})
    assert bad.status_code == 400 and "history_end" in bad.json()
    assert api.post("/api/supply/forecast-runs/", {"org_unit": "nope", "history_end": "2026-10-31"}).status_code == 400


def test_a_head_runs_forecasts_from_the_page_and_a_cm_cannot(w, client):
    """The runs page has a form for heads (units in its scope only); the run lands on its own page."""
    from cmdesk.supply.models import ForecastRun

    client.force_login(w.head.user)
    page = client.get("/supply/forecasts/")
    form = page.context["form"]
    assert set(form.fields["org_unit"].queryset) == {w.tree.dept_a}
    before = ForecastRun.objects.count()
    response = client.post(
        "/supply/forecasts/",
        {"org_unit": w.tree.dept_a.pk, "history_end": "2026-10-31", "horizon": 2, "level": "retailer"},
    )
    run = ForecastRun.objects.latest("id")
    assert ForecastRun.objects.count() == before + 1
    assert response.status_code == 302 and response["Location"] == f"/supply/forecasts/runs/{run.pk}/"
    assert (run.org_unit, run.horizon, run.created_by) == (w.tree.dept_a, 2, w.head.user)
    outside = client.post(
        "/supply/forecasts/",
        {"org_unit": w.tree.dept_b.pk, "history_end": "2026-10-31", "horizon": 2, "level": "retailer"},
    )
    assert outside.status_code == 200 and "org_unit" in outside.context["form"].errors
    client.force_login(w.cm1.user)
    assert client.get("/supply/forecasts/").context["form"] is None
    assert client.post("/supply/forecasts/", {"org_unit": w.tree.dept_a.pk}).status_code == 403
