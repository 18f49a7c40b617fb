"""The list of order imports."""

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import OrderImport

TABLE_ATTRS = {"class": "table table-sm table-hover align-middle text-nowrap"}


class OrderImportTable(tables.Table):
    id = tables.Column(verbose_name=_("No."), linkify=True)
    started_at = tables.DateTimeColumn(format="Y-m-d H:i")
    created_by = tables.Column(verbose_name=_("Imported by"), accessor="created_by__username")
    file_names = tables.Column(orderable=False)
    status = tables.Column()

    class Meta:
        model = OrderImport
        fields = (
            "id",
            "started_at",
            "created_by",
            "file_names",
            "mode",
            "status",
            "rows_read",
            "inserted",
            "updated",
            "unchanged",
            "deleted",
            "error_count",
        )
        attrs = TABLE_ATTRS
        empty_text = _("No imports yet.")

    def render_file_names(self, value):
        return ", ".join(value)

    def render_status(self, value, record):
        if record.is_active:
            return format_html(
                '<span class="badge text-bg-{}">{} {}%</span>', record.status_colour, value, record.progress
            )
        return format_html('<span class="badge text-bg-{}">{}</span>', record.status_colour, value)
