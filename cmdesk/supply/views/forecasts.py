"""Pages: weekly demand forecasts and 核量 (issue 6, item 4).

* ``supply:forecast_runs`` — the runs in scope (a CM: the runs that forecast its retailers) with the backtest accuracy
  of the chosen models against the naive baseline and, once scored, the realised accuracy.
* ``supply:forecast_run`` — one run: accuracy cards, wins and accuracy per model (ECharts), the table of series
  (retailer, or retailer × key brand) with the model, the forecast and 核量 per week and the backtest accuracy;
  filters (text, model, brand, CM); ``?export=xlsx`` downloads every filtered row.
* ``supply:forecast_retailer`` — one retailer (``?brand=`` for a key brand): weekly actuals and, for each week, the
  forecast and 核量 of the latest run made before it (ECharts), and the table of those weeks. Built for phones.
* ``supply:forecast_accuracy`` — a month's realised accuracy (``?month=YYYY-MM&cm=<staff id>``): per CM and per
  retailer, the weeks ending in the month from the latest run before each week. The assessment's evidence link.

Rows come from ``restrict(user, "view")``: a CM sees its own retailers (another's is a 404); a role without the
forecast permission (the inspector) gets 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from cmdesk.analytics import forecast as fc
from cmdesk.core.pages import call_service
from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.core.widgets import DateInput
from cmdesk.core.xlsx import Sheet, xlsx_response
from cmdesk.org.choices import OrgKind, Role
from cmdesk.org.models import OrgUnit, Staff, staff_of
from cmdesk.retail.models import Retailer
from cmdesk.work.services.board import month_label, parse_month

from ..models import Forecast, ForecastLevel, ForecastRun
from ..services import forecasts as svc

SERIES_PER_PAGE = 50


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


class ForecastView(LoginRequiredMixin, View):
    """Login, then the forecast view permission (403 without it)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not has_model_perm(request.user, Forecast, "view"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    @property
    def is_cm(self) -> bool:
        return user_scope(self.request.user).kind == "own"


def _run_row(run: ForecastRun) -> dict[str, Any]:
    m = run.metrics or {}
    realised = m.get("realised") or {}
    acc, naive = m.get("accuracy"), m.get("naive_accuracy")
    return {
        "run": run,
        "weeks": svc.week_list(run),
        "accuracy": _pct(acc),
        "naive": _pct(naive),
        "gain": None if acc is None or naive is None else round((acc - naive) * 100, 1),
        "realised": _pct(realised.get("accuracy")) if realised else "",
        "realised_naive": _pct(realised.get("naive_accuracy")) if realised else "",
    }


class RunForm(forms.Form):
    """Start a run from the page (heads, clerks, the centre, within their unit); the command does the same for jobs."""

    org_unit = forms.ModelChoiceField(queryset=OrgUnit.objects.none(), label=gettext_lazy("Org unit"))
    history_end = forms.DateField(
        label=gettext_lazy("History up to"),
        widget=DateInput(),
        help_text=gettext_lazy("the last order day used; the forecast starts the Monday after"),
    )
    horizon = forms.IntegerField(label=gettext_lazy("Weeks ahead"), min_value=1, max_value=12, initial=4)
    level = forms.ChoiceField(
        label=gettext_lazy("Level"), choices=ForecastLevel.choices, initial=ForecastLevel.RETAILER
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = OrgUnit.objects.filter(kind__in=(OrgKind.CITY, OrgKind.BRANCH, OrgKind.DEPARTMENT))
        scope = user_scope(user)
        if scope.kind != "all":  # the org tree is readable by all; a run only inside the user's own subtree
            units = units.filter(path__startswith=scope.org_path) if scope.kind == "org" else units.none()
        self.fields["org_unit"].queryset = units.order_by("path")
        for name, field in self.fields.items():
            css = "form-select" if name in ("org_unit", "level") else "form-control"
            field.widget.attrs["class"] = f"{css} form-control-sm" if css == "form-control" else f"{css} form-select-sm"


def _can_run(user: Any) -> bool:
    return has_model_perm(user, ForecastRun, "add") and user_scope(user).kind in ("all", "org")


class RunList(ForecastView):
    def post(self, request: HttpRequest) -> HttpResponse:
        if not _can_run(request.user):
            raise PermissionDenied
        form = RunForm(request.POST, user=request.user)
        if not form.is_valid():
            return self._page(request, form)
        data = form.cleaned_data
        run = call_service(
            request,
            svc.create_run,
            org_unit=data["org_unit"],
            history_end=data["history_end"],
            user=request.user,
            horizon=data["horizon"],
            level=data["level"],
        )
        if run is None:
            return self._page(request, form)
        messages.success(request, _("Forecast %(n)s series in %(s).1f s.") % {"n": run.series, "s": run.seconds})
        return redirect("supply:forecast_run", pk=run.pk)

    def get(self, request: HttpRequest) -> HttpResponse:
        form = None
        if _can_run(request.user):
            end = fc.data_end(svc.data_dir())
            form = RunForm(user=request.user, initial={"history_end": end, "org_unit": staff_unit(request.user)})
        return self._page(request, form)

    def _page(self, request: HttpRequest, form: RunForm | None) -> HttpResponse:
        runs = svc.runs_for(request.user)
        level = request.GET.get("level", "")
        if level in ForecastLevel.values:
            runs = runs.filter(level=level)
        page = Paginator(runs.order_by("-history_end", "-id"), 30).get_page(request.GET.get("page"))
        return render(
            request,
            "supply/forecast_runs.html",
            {
                "page": page,
                "rows": [_run_row(r) for r in page.object_list],
                "levels": ForecastLevel.choices,
                "level": level,
                "is_cm": self.is_cm,
                "form": form,
            },
        )


def staff_unit(user: Any) -> OrgUnit | None:
    staff = staff_of(user)
    return staff.org_unit if staff else None


class RunDetail(ForecastView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = get_object_or_404(svc.runs_for(request.user), pk=pk)
        rows = (
            svc.restrict_forecasts(request.user)
            .filter(run=run)
            .select_related("retailer", "retailer__route__cm")
            .order_by("retailer_id", "brand", "week_start")
        )
        q = request.GET.get("q", "").strip()
        model = request.GET.get("model", "")
        brand = request.GET.get("brand", "")
        cm = request.GET.get("cm", "")
        if q:
            rows = rows.filter(svc.q_filter(q))
        if model:
            rows = rows.filter(model=model)
        if brand:
            rows = rows.filter(brand=brand)
        if cm.isdigit() and not self.is_cm:
            rows = rows.filter(retailer__route__cm_id=int(cm))
        weeks = svc.week_list(run)
        if request.GET.get("export") == "xlsx":
            return self._xlsx(run, rows, weeks)
        page = Paginator(rows, SERIES_PER_PAGE * run.horizon).get_page(request.GET.get("page"))
        series = _pivot(list(page.object_list), weeks)
        m = run.metrics or {}
        models = m.get("models", {})
        chart = {
            "models": list(models) + ([fc.SHORT_MODEL] if fc.SHORT_MODEL in m.get("wins", {}) else []),
            "wins": [m.get("wins", {}).get(k, 0) for k in models]
            + ([m["wins"][fc.SHORT_MODEL]] if fc.SHORT_MODEL in m.get("wins", {}) else []),
            "accuracy": [round(v["accuracy"] * 100, 2) for v in models.values()],
        }
        cms = []
        if not self.is_cm:
            cms = list(
                Staff.objects.restrict(request.user)
                .filter(role=Role.CM, org_unit__path__startswith=run.org_unit.path)
                .order_by("employee_no")
                .values("pk", "name")
            )
        return render(
            request,
            "supply/forecast_run.html",
            {
                "run": run,
                "summary": _run_row(run),
                "metrics": m,
                "weeks": weeks,
                "series": series,
                "page": page,
                "chart": chart,
                "model_names": list(models) + [fc.SHORT_MODEL],
                "brands": svc.run_brands(run),
                "cms": cms,
                "f": {"q": q, "model": model, "brand": brand, "cm": cm},
                "query": request.GET.urlencode(),
                "is_cm": self.is_cm,
            },
        )

    def _xlsx(self, run: ForecastRun, rows, weeks: list[dt.date]) -> HttpResponse:
        headers = [
            _("Licence"), _("Shop"), _("Customer manager"), _("Brand"), _("Model"),
            _("Backtest accuracy"), _("Naive accuracy"),
        ]  # fmt: skip
        for w in weeks:
            headers += [
                f"{w:%m-%d} " + _("forecast"),
                f"{w:%m-%d} " + _("verified qty (核量)"),
                f"{w:%m-%d} " + _("actual"),
            ]
        out = []
        for s in _pivot(list(rows), weeks):
            line = [s["licence"], s["shop"], s["cm"], s["brand"], s["model"], s["backtest"], s["naive"]]
            for cell in s["cells"]:
                line += [cell["quantity"], cell["suggested"], cell["actual"]]
            out.append(line)
        return xlsx_response(f"forecast-run-{run.pk}.xlsx", Sheet(_("Forecasts"), headers, out))


def _pivot(rows: list[Forecast], weeks: list[dt.date]) -> list[dict[str, Any]]:
    """Rows (ordered by retailer, brand, week) as one dict per series with a cell per week."""
    out: list[dict[str, Any]] = []
    index = {w: i for i, w in enumerate(weeks)}
    current = None
    for f in rows:
        key = (f.retailer_id, f.brand)
        if current is None or current["key"] != key:
            cm = f.retailer.route.cm if f.retailer.route_id else None
            current = {
                "key": key,
                "retailer": f.retailer,
                "licence": f.retailer.licence_no,
                "shop": f.retailer.shop_name,
                "cm": cm.name if cm else "",
                "brand": f.brand,
                "model": f.model,
                "backtest": None if f.backtest_accuracy is None else round(f.backtest_accuracy * 100, 1),
                "naive": None if f.naive_accuracy is None else round(f.naive_accuracy * 100, 1),
                "cells": [{"quantity": None, "suggested": None, "actual": None} for _ in weeks],
            }
            out.append(current)
        i = index.get(f.week_start)
        if i is not None:
            current["cells"][i] = {
                "quantity": float(f.quantity),
                "suggested": f.suggested,
                "actual": None if f.actual is None else float(f.actual),
            }
    return out


class RetailerForecast(ForecastView):
    HISTORY_WEEKS = 26

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        retailer = get_object_or_404(Retailer.objects.restrict(request.user, "view").select_related("route__cm"), pk=pk)
        brand = request.GET.get("brand", "")
        rows = list(
            svc.restrict_forecasts(request.user)
            .filter(retailer=retailer, brand=brand)
            .values("week_start", "quantity", "suggested", "actual", "model", "run_id", "run__history_end")
            .order_by("week_start", "-run__history_end", "-run_id")
        )
        brands = list(
            svc.restrict_forecasts(request.user)
            .filter(retailer=retailer)
            .exclude(brand="")
            .order_by("brand")
            .values_list("brand", flat=True)
            .distinct()
        )
        # each week: the forecast of the latest run made before it (rows are sorted that way)
        by_week: dict[dt.date, dict] = {}
        for r in rows:
            if r["run__history_end"] < r["week_start"]:
                by_week.setdefault(r["week_start"], r)
        last = fc.data_end(svc.data_dir())
        end = max([*(by_week or {}), last or timezone.localdate()])
        weeks = [fc.monday(end) - dt.timedelta(weeks=k) for k in range(self.HISTORY_WEEKS - 1, -1, -1)]
        actual: dict[dt.date, float | None] = {}
        if last is not None:
            through = fc.complete_through(last)
            known = [w for w in weeks if w + dt.timedelta(days=6) <= through]
            if known:
                hist = svc.retailer_history(retailer, end=known[-1], weeks=len(known), brand=brand)
                actual = {w: float(a) for w, a in zip(hist["week_start"], hist["actual"], strict=True)}
        table = []
        for w in weeks:
            r = by_week.get(w)
            a = actual.get(w)
            if r is None and a is None:
                continue
            q = float(r["quantity"]) if r else None
            table.append(
                {
                    "week": w,
                    "actual": a,
                    "quantity": q,
                    "suggested": r["suggested"] if r else None,
                    "model": r["model"] if r else "",
                    "run": r["run_id"] if r else None,
                    "accuracy": None if a is None or q is None else _pct(fc.accuracy([a], [q])),
                }
            )
        chart = {
            "weeks": [f"{w:%m-%d}" for w in weeks],
            "actual": [actual.get(w) for w in weeks],
            "forecast": [float(by_week[w]["quantity"]) if w in by_week else None for w in weeks],
            "suggested": [by_week[w]["suggested"] if w in by_week else None for w in weeks],
        }
        return render(
            request,
            "supply/forecast_retailer.html",
            {
                "retailer": retailer,
                "brand": brand,
                "brands": brands,
                "table": [t for t in reversed(table)],
                "chart": chart,
                "has_forecasts": bool(by_week),
            },
        )


class MonthAccuracy(ForecastView):
    def get(self, request: HttpRequest) -> HttpResponse:
        today = timezone.localdate()
        try:
            month = parse_month(request.GET.get("month") or month_label(today.replace(day=1) - dt.timedelta(days=1)))
        except ValueError as exc:
            raise Http404 from exc
        retailers = Retailer.objects.restrict(request.user, "view")
        cm_param = request.GET.get("cm", "")
        cm = None
        if cm_param:
            if not cm_param.isdigit():
                raise Http404
            cm = get_object_or_404(Staff.objects.restrict(request.user, "view"), pk=int(cm_param))
            retailers = retailers.filter(route__cm=cm)
        mf = svc.month_forecasts(month, retailers)
        per_cm = svc.cm_month_accuracy(mf)
        names = dict(Staff.objects.filter(pk__in=list(per_cm)).values_list("pk", "name"))
        cms = [
            {"pk": k, "name": names.get(k, ""), "acc": v, "accuracy": _pct(v.accuracy)}
            for k, v in sorted(per_cm.items(), key=lambda kv: names.get(kv[0], ""))
        ]
        per_retailer = _per_retailer(mf.rows, mf.mondays)
        if request.GET.get("export") == "xlsx":
            headers = [_("Licence"), _("Shop"), _("Customer manager")]
            for w in mf.mondays:
                headers += [f"{w:%m-%d} " + _("forecast"), f"{w:%m-%d} " + _("actual")]
            headers += [_("Σ|actual − forecast|"), _("Σ actual"), _("Accuracy")]
            data = []
            for r in per_retailer:
                line = [r["licence"], r["shop"], r["cm"]]
                for c in r["cells"]:
                    line += [c["quantity"], c["actual"]]
                line += [r["abs_error"], r["actual"], r["accuracy"]]
                data.append(line)
            return xlsx_response(
                f"forecast-accuracy-{month_label(month)}.xlsx", Sheet(_("Forecast accuracy"), headers, data)
            )
        page = Paginator(per_retailer, 100).get_page(request.GET.get("page"))
        return render(
            request,
            "supply/forecast_accuracy.html",
            {
                "month": month_label(month),
                "mondays": mf.mondays,
                "cm": cm,
                "cms": cms,
                "page": page,
                "query": request.GET.urlencode(),
                "is_cm": self.is_cm,
            },
        )


def _per_retailer(rows: pd.DataFrame, mondays: list[dt.date]) -> list[dict[str, Any]]:
    """One entry per retailer: forecast and actual per week, Σ|a − f|, Σa and the accuracy (vectorised)."""
    if rows.empty:
        return []
    m = rows[rows["measured"]]
    err = (m["actual"] - m["quantity"]).abs().groupby(m["retailer_id"]).sum()
    act = m["actual"].groupby(m["retailer_id"]).sum()
    quantity = rows.pivot(index="retailer_id", columns="week_start", values="quantity").reindex(columns=mondays)
    actual = rows.pivot(index="retailer_id", columns="week_start", values="actual").reindex(columns=mondays)
    info = {
        r["pk"]: r
        for r in Retailer.objects.filter(pk__in=quantity.index.tolist()).values(
            "pk", "licence_no", "shop_name", "route__cm__name"
        )
    }
    out = []
    for rid, qs, acts in zip(quantity.index, quantity.to_numpy(), actual.to_numpy(), strict=True):
        r = info.get(int(rid), {})
        e, a = float(err.get(rid, 0.0)), float(act.get(rid, 0.0))
        out.append(
            {
                "pk": int(rid),
                "licence": r.get("licence_no", ""),
                "shop": r.get("shop_name", ""),
                "cm": r.get("route__cm__name") or "",
                "cells": [
                    {"quantity": None if pd.isna(q) else float(q), "actual": None if pd.isna(x) else float(x)}
                    for q, x in zip(qs, acts, strict=True)
                ],
                "abs_error": round(e, 2),
                "actual": round(a, 2),
                "accuracy": _pct(fc.accuracy_from_sums(e, a)) if rid in err.index else "—",
            }
        )
    return out


urlpatterns = [
    path("forecasts/", RunList.as_view(), name="forecast_runs"),
    path("forecasts/runs/<int:pk>/", RunDetail.as_view(), name="forecast_run"),
    path("forecasts/retailer/<int:pk>/", RetailerForecast.as_view(), name="forecast_retailer"),
    path("forecasts/accuracy/", MonthAccuracy.as_view(), name="forecast_accuracy"),
]
