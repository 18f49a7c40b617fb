"""Pages: the 4+X classes.

* ``supply:class_scheme_list`` — the classification schemes; the centre creates one from a preset (4+X, 2008).
* ``supply:class_scheme_detail`` — a scheme's dimensions and levels, the class distribution of the retailers in
  scope (overall as an ECharts bar and per county branch), the retailers with their class (filter by code), xlsx
  export (``supply:class_export``); the centre classifies (``supply:class_classify``) and activates it.

Reads go through ``restrict`` (a CM sees its own retailers' classes); the inspector gets 403.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cmdesk.core.pages import need_perm as _need
from cmdesk.core.scope import has_model_perm
from cmdesk.core.xlsx import Sheet, xlsx_response

from ..models import ClassPreset, ClassScheme, RetailerClass
from ..services import classes as svc

PAGE = 100


@login_required
def class_scheme_list(request: HttpRequest) -> HttpResponse:
    _need(request, ClassScheme)
    schemes = ClassScheme.objects.restrict(request.user).order_by("-active", "name")
    return render(
        request,
        "supply/class_scheme_list.html",
        {
            "schemes": schemes,
            "presets": ClassPreset.choices,
            "can_add": has_model_perm(request.user, ClassScheme, "add"),
        },
    )


@login_required
@require_POST
def class_preset_create(request: HttpRequest) -> HttpResponse:
    _need(request, ClassScheme, "add")
    preset = request.POST.get("preset") or ""
    name = (request.POST.get("name") or "").strip() or str(dict(ClassPreset.choices).get(preset, preset))[:100]
    try:
        scheme = svc.create_preset(preset, name, request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("supply:class_scheme_list")
    messages.success(request, _("Scheme created: classify the retailers to see its classes."))
    return redirect("supply:class_scheme_detail", scheme.pk)


def _scheme(request: HttpRequest, pk: int) -> ClassScheme:
    _need(request, ClassScheme)
    _need(request, RetailerClass)
    return get_object_or_404(ClassScheme.objects.restrict(request.user), pk=pk)


def _classes(request: HttpRequest, scheme: ClassScheme):
    rows = RetailerClass.objects.restrict(request.user).filter(scheme=scheme)
    code = (request.GET.get("code") or "").strip()
    if code:
        rows = rows.filter(code=code)
    return rows, code


@login_required
def class_scheme_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk)
    all_rows = RetailerClass.objects.restrict(request.user).filter(scheme=scheme)
    dist = svc.distribution(scheme, all_rows)
    rows, code = _classes(request, scheme)
    page = Paginator(
        rows.select_related("retailer", "retailer__route").order_by("code", "retailer__licence_no"), PAGE
    ).get_page(request.GET.get("page"))
    for rc in page.object_list:
        rc.words = svc.describe(scheme, rc.levels)
    can_change = has_model_perm(request.user, ClassScheme, "change")
    context = {
        "scheme": scheme,
        "dist": dist,
        "chart": {"labels": dist["codes"], "counts": dist["total"], "name": _("Retailers")},
        "page": page,
        "code": code,
        "can_change": can_change,
    }
    return render(request, "supply/class_scheme_detail.html", context)


@login_required
@require_POST
def class_classify(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk)
    _need(request, ClassScheme, "change")
    try:
        counts = svc.classify(scheme, request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("%(n)s retailers classified into %(k)s classes.") % {"n": counts["retailers"], "k": counts["classes"]},
        )
    return redirect("supply:class_scheme_detail", scheme.pk)


@login_required
@require_POST
def class_activate(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk)
    _need(request, ClassScheme, "change")
    scheme.active = True
    try:
        svc.save_scheme(scheme, request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("%(name)s is now the active scheme.") % {"name": scheme.name})
    return redirect("supply:class_scheme_detail", scheme.pk)


@login_required
def class_export(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk)
    rows, _code = _classes(request, scheme)
    dims = scheme.dimensions
    headers = [_("Licence number"), _("Retailer"), _("Route"), _("Class"), *[d.get("name", d["code"]) for d in dims]]
    data = (
        [
            rc.retailer.licence_no,
            rc.retailer.shop_name,
            rc.retailer.route.code,
            rc.code,
            *[rc.levels.get(d["code"]) for d in dims],
        ]
        for rc in rows.select_related("retailer", "retailer__route")
        .order_by("code", "retailer__licence_no")
        .iterator(chunk_size=2000)
    )
    return xlsx_response(
        f"classes-{scheme.pk}.xlsx", Sheet(_("Classes"), headers, data, [16, 20, 10, 10, *[10] * len(dims)])
    )


urlpatterns = [
    path("classes/", class_scheme_list, name="class_scheme_list"),
    path("classes/preset/", class_preset_create, name="class_preset_create"),
    path("classes/<int:pk>/", class_scheme_detail, name="class_scheme_detail"),
    path("classes/<int:pk>/classify/", class_classify, name="class_classify"),
    path("classes/<int:pk>/activate/", class_activate, name="class_activate"),
    path("classes/<int:pk>/export.xlsx", class_export, name="class_export"),
]
