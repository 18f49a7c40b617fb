from django.contrib import admin

from .models import OrderImport


@admin.register(OrderImport)
class OrderImportAdmin(admin.ModelAdmin):
    """Read-only: imports are made by the upload page or `cmdesk import-orders`."""

    list_display = [
        "id",
        "started_at",
        "created_by",
        "mode",
        "status",
        "rows_read",
        "inserted",
        "updated",
        "error_count",
    ]
    list_filter = ["status", "mode"]
    list_select_related = ["created_by"]
    search_fields = ["file_names", "created_by__username"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
