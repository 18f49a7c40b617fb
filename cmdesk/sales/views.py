"""Order-import pages: the list, the upload form, the detail (polled with htmx while running), errors as XLSX."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View

from cmdesk.core.views import ObjectDetailView, ObjectListView, ObjectViewMixin

from . import services
from .forms import OrderImportForm
from .models import OrderImport
from .tables import OrderImportTable

STATUS_TEMPLATE = "sales/_orderimport_status.html"


class OrderImportListView(ObjectListView):
    model = OrderImport
    table = OrderImportTable
    select_related = ("created_by",)
    add_url = "sales:orderimport_add"

    def get(self, request: HttpRequest) -> HttpResponse:
        self.check_permission(request)
        services.order_imports_fail_stale()
        return super().get(request)


class OrderImportCreateView(ObjectViewMixin, View):
    """Upload one or more files; the import runs in the background and the detail page shows its progress."""

    model = OrderImport
    action = "add"
    template_name = "sales/orderimport_form.html"

    def render_form(self, request: HttpRequest, form: OrderImportForm) -> HttpResponse:
        return render(request, self.template_name, {**self.base_context(), "form": form})

    def get(self, request: HttpRequest) -> HttpResponse:
        self.check_permission(request)
        return self.render_form(request, OrderImportForm(user=request.user))

    def post(self, request: HttpRequest) -> HttpResponse:
        self.check_permission(request)
        form = OrderImportForm(request.POST, request.FILES, user=request.user)
        if not form.is_valid():
            return self.render_form(request, form)
        order_import = services.order_import_start(
            actor=request.user,
            uploads=form.cleaned_data["files"],
            replace=form.cleaned_data["replace"],
            language=get_language(),
        )
        messages.info(request, _("The import has started; this page follows its progress."))
        return redirect(order_import.get_absolute_url())


class OrderImportDetailView(ObjectDetailView):
    model = OrderImport
    select_related = ("created_by",)
    template_name = "sales/orderimport_detail.html"

    def get_extra_context(self, request: HttpRequest, obj: OrderImport) -> dict[str, Any]:
        errors = [
            {
                **error,
                "field_label": services.field_label(error["field"]) if error.get("field") else "",
                "reason_text": services.reason_text(error),
            }
            for error in obj.errors
        ]
        return {"errors": errors, "errors_shown": len(errors)}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        htmx = getattr(request, "htmx", None)
        if htmx and not htmx.history_restore_request:
            # the polling request: only the status block (it stops polling once the import has finished)
            self.check_permission(request)
            obj = get_object_or_404(self.get_queryset(request), pk=pk)
            response = render(request, STATUS_TEMPLATE, {"object": obj, **self.get_extra_context(request, obj)})
        else:
            response = super().get(request, pk)
        patch_vary_headers(response, ["HX-Request"])
        return response


class OrderImportErrorsView(ObjectViewMixin, View):
    model = OrderImport

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.check_permission(request)
        obj = get_object_or_404(self.get_queryset(request), pk=pk)
        response = HttpResponse(
            services.errors_workbook(obj),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="order-import-{obj.pk}-errors.xlsx"'
        return response
