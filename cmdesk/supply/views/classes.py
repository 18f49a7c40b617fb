"""Pages: the 4+X classes.

* ``supply:class_scheme_list`` — the classification schemes; the centre creates one from a preset (4+X, 2008).
* ``supply:class_scheme_detail`` — a scheme's dimensions and levels, the class distribution of the retailers in
  scope (overall as an ECharts bar and per county branch), the retailers with their class (filter by code), xlsx
  export (``supply:class_export``); the centre classifies (``supply:class_classify``) and activates it. For each
  manual dimension: how many retailers have a level set by hand and how many take the default.
* ``supply:class_manual`` — the scheme's retailers with their code and manual levels (filter by org unit, route,
  level or "not set", search by licence or name); a user who may change retailer classes sets one retailer's level
  (POST, through ``set_manual_level``; a refused level answers 400 with the reason). The recent manual changes.
* ``supply:class_manual_template`` — the same retailers as an xlsx to fill in (licence number, retailer, the manual
  level per dimension); ``supply:class_manual_upload`` reads a filled one back through ``set_manual_levels``: every
  row checked first, errors "row N, column X: reason" (400), all or nothing.

Reads go through ``restrict`` (a CM sees its own retailers' classes); the inspector gets 403. Setting levels needs
the retailer class change permission (403 otherwise) and the retailer in the user's "change" scope (404 otherwise,
a rejected row in an upload).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from auditlog.models import LogEntry
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cmdesk.core.pages import need_perm as _need
from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.core.views import apply_validation_error, with_actor_names
from cmdesk.core.xlsx import Sheet, xlsx_response
from cmdesk.org.choices import OrgKind
from cmdesk.org.models import OrgUnit
from cmdesk.retail.filtersets import search_retailers
from cmdesk.retail.models import Retailer, Route

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
        "manual": svc.manual_counts(scheme, all_rows),
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


# --- manual levels ---------------------------------------------------------------------------------------------------
MANUAL_PAGE = 50
HISTORY = 20
UPLOAD_MAX_BYTES = 20 * 1024 * 1024


def _manual_filters(request: HttpRequest, scheme: ClassScheme, rows):
    """The manual page's filters on the (restricted) rows: org unit, route, ``level`` (``dim:code``, or ``dim:`` for
    "not set"), ``q`` (licence, name, pinyin)."""
    g = request.GET
    f = {key: (g.get(key) or "").strip() for key in ("org_unit", "route", "level", "q")}
    if f["org_unit"].isdigit():
        unit = OrgUnit.objects.filter(pk=int(f["org_unit"])).first()
        rows = rows.filter(retailer__route__org_unit__path__startswith=unit.path) if unit else rows.none()
    if f["route"].isdigit():
        rows = rows.filter(retailer__route_id=int(f["route"]))
    dim_code, sep, level = f["level"].partition(":")
    if sep and dim_code in {d["code"] for d in svc.manual_dimensions(scheme)}:
        rows = rows.filter(**{f"manual__{dim_code}": level}) if level else rows.exclude(manual__has_key=dim_code)
    if f["q"]:
        rows = rows.filter(retailer__in=search_retailers(Retailer.objects.all(), f["q"]))
    return rows, f


def _filter_choices(request: HttpRequest) -> tuple[list[OrgUnit], list[Route]]:
    """Org units and routes to filter by, within the user's scope (a CM filters by its routes only)."""
    scope = user_scope(request.user)
    kinds = (OrgKind.BRANCH, OrgKind.DEPARTMENT, OrgKind.AREA)
    if scope.is_all:
        units = OrgUnit.objects.filter(kind__in=kinds)
    elif scope.kind == "org":
        units = OrgUnit.objects.filter(kind__in=kinds, path__startswith=scope.org_path)
    else:
        units = OrgUnit.objects.none()
    routes = Route.objects.restrict(request.user).order_by("code")
    return list(units.order_by("path")), list(routes)


def _manual_history(request: HttpRequest, scheme: ClassScheme) -> list[dict]:
    """The latest audit entries of this scheme's retailer classes in the user's scope (the manual changes)."""
    visible = RetailerClass.objects.restrict(request.user).filter(scheme=scheme).values("pk")
    entries = list(
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(RetailerClass), object_id__in=visible)
        .select_related("actor")
        .order_by("-timestamp", "-id")[:HISTORY]
    )
    shops = dict(
        RetailerClass.objects.filter(pk__in=[e.object_id for e in entries])
        .order_by()
        .values_list("pk", "retailer__shop_name")
    )
    items = []
    for entry in entries:
        changes = entry.changes_dict or {}
        code = changes.get("code") if isinstance(changes.get("code"), list) else None
        items.append(
            {
                "entry": entry,
                "shop": shops.get(entry.object_id, entry.object_repr),
                "code_before": code[0] if code else None,
                "code_after": code[-1] if code else None,
                "manual": _manual_text(changes.get("manual")),
            }
        )
    return with_actor_names(items)


def _manual_text(change) -> str:
    """The manual levels after a change, as ``display=G`` (auditlog stores the JSON as text)."""
    after = change[-1] if isinstance(change, list) and change else change
    if isinstance(after, str):
        try:
            after = json.loads(after)
        except ValueError:
            return after
    if isinstance(after, dict):
        return ", ".join(f"{k}={v}" for k, v in after.items())
    return "" if after is None else str(after)


class ManualLevelForm(forms.Form):
    """One retailer's level of one manual dimension (the service checks both against the scheme)."""

    retailer_class = forms.IntegerField(widget=forms.HiddenInput)
    dimension = forms.CharField(max_length=50, widget=forms.HiddenInput)
    level = forms.CharField(label=gettext_lazy("Level"), max_length=50)


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@login_required
def class_manual(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk)
    dims = svc.manual_dimensions(scheme)
    can_change = has_model_perm(request.user, RetailerClass, "change")
    form = failed = None
    if request.method == "POST":
        _need(request, RetailerClass, "change")
        form = ManualLevelForm(request.POST)
        if form.is_valid():
            target = get_object_or_404(
                RetailerClass.objects.restrict(request.user, "change").filter(scheme=scheme).select_related("retailer"),
                pk=form.cleaned_data["retailer_class"],
            )
            dimension, level = form.cleaned_data["dimension"], form.cleaned_data["level"]
            try:
                svc.set_manual_level(target, dimension, level, request.user)
            except ValidationError as error:
                apply_validation_error(form, error)
                failed = target
            else:
                dim = next(d for d in dims if d["code"] == dimension)
                messages.success(
                    request,
                    _("%(shop)s: %(dim)s set to %(level)s; class %(code)s.")
                    % {"shop": target.retailer.shop_name, "dim": dim.get("name") or dimension, "level": level,
                       "code": target.code},
                )  # fmt: skip
                return redirect(_safe_next(request, reverse("supply:class_manual", args=[scheme.pk])))
    all_rows = RetailerClass.objects.restrict(request.user).filter(scheme=scheme)
    rows, filters = _manual_filters(request, scheme, all_rows)
    page = Paginator(
        rows.select_related("retailer", "retailer__route").order_by("retailer__licence_no", "pk"), MANUAL_PAGE
    ).get_page(request.GET.get("page"))
    for rc in page.object_list:
        rc.cells = [
            {"dim": d, "manual": rc.manual.get(d["code"]), "level": rc.levels.get(d["code"], svc.UNMATCHED)}
            for d in dims
        ]
    query = request.GET.copy()
    query.pop("page", None)
    units, routes = _filter_choices(request)
    context = {
        "scheme": scheme,
        "dims": dims,
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "units": units,
        "routes": routes,
        "can_change": can_change,
        "form": form,
        "failed": failed,
        "counts": svc.manual_counts(scheme, all_rows),
        "history": _manual_history(request, scheme),
    }
    status = 400 if form is not None and form.errors else 200
    return render(request, "supply/class_manual.html", context, status=status)


@login_required
def class_manual_template(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk)
    dims = svc.manual_dimensions(scheme)
    if not dims:
        raise Http404
    rows, _f = _manual_filters(request, scheme, RetailerClass.objects.restrict(request.user).filter(scheme=scheme))
    headers = [_("Licence number"), _("Retailer"), *[svc.manual_header(d) for d in dims]]
    data = (
        [rc.retailer.licence_no, rc.retailer.shop_name, *[rc.manual.get(d["code"]) for d in dims]]
        for rc in rows.select_related("retailer").order_by("retailer__licence_no", "pk").iterator(chunk_size=2000)
    )
    levels = (
        [svc.manual_header(d), lv["code"], lv.get("label", ""), "✓" if lv["code"] == d.get("default") else ""]
        for d in dims
        for lv in d["levels"]
    )
    return xlsx_response(
        f"class-levels-{scheme.pk}.xlsx",
        Sheet(_("Levels to set"), headers, data, [20, 24, *[14] * len(dims)]),
        Sheet(_("Level codes"), [_("Dimension"), _("Level"), _("Meaning"), _("Default")], levels, [20, 10, 20, 10]),
    )


class ManualUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Filled template (.xlsx)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() != ".xlsx":
            raise ValidationError(_("Only an Excel .xlsx file can be read."), code="extension")
        if upload.size > UPLOAD_MAX_BYTES:
            raise ValidationError(
                _("The file is larger than %(mb)s MB."), code="size", params={"mb": UPLOAD_MAX_BYTES // 2**20}
            )
        return upload


def _sheet_rows(upload) -> list[tuple]:
    """The first sheet's rows (values, not formulas), from row 1."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(upload, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ValidationError(_("The file could not be read as an .xlsx workbook.")) from exc
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # some writers store no or a wrong size; read what is there
        return list(ws.iter_rows(min_row=1, values_only=True))
    finally:
        wb.close()


@login_required
def class_manual_upload(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk)
    _need(request, RetailerClass, "change")
    form = ManualUploadForm(request.POST, request.FILES) if request.method == "POST" else ManualUploadForm()
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            rows = _sheet_rows(form.cleaned_data["file"])
            result = svc.set_manual_levels(scheme, rows, request.user)
        except ValidationError as error:
            problems = list(error.messages)
        else:
            messages.success(
                request,
                _("%(changed)s retailers changed (%(rows)s rows read).")
                % {"changed": result["changed"], "rows": result["rows"]},
            )
            return redirect("supply:class_manual", scheme.pk)
    context = {
        "scheme": scheme,
        "dims": svc.manual_dimensions(scheme),
        "form": form,
        "problems": problems,
        "history": _manual_history(request, scheme),
    }
    status = 400 if request.method == "POST" and (problems or form.errors) else 200
    return render(request, "supply/class_manual_upload.html", context, status=status)


urlpatterns = [
    path("classes/", class_scheme_list, name="class_scheme_list"),
    path("classes/preset/", class_preset_create, name="class_preset_create"),
    path("classes/<int:pk>/", class_scheme_detail, name="class_scheme_detail"),
    path("classes/<int:pk>/classify/", class_classify, name="class_classify"),
    path("classes/<int:pk>/activate/", class_activate, name="class_activate"),
    path("classes/<int:pk>/export.xlsx", class_export, name="class_export"),
    path("classes/<int:pk>/manual/", class_manual, name="class_manual"),
    path("classes/<int:pk>/manual/template.xlsx", class_manual_template, name="class_manual_template"),
    path("classes/<int:pk>/manual/upload/", class_manual_upload, name="class_manual_upload"),
]
