from django.contrib import admin

from .models import PriceBand, Product
from .services import classify_product


@admin.register(PriceBand)
class PriceBandAdmin(admin.ModelAdmin):
    list_display = ["rank", "name", "min_price", "max_price"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "brand",
        "price_class",
        "wholesale_price",
        "provincial",
        "key_brand",
        "scarce",
        "status",
    ]
    list_filter = ["price_class", "provincial", "key_brand", "scarce", "status"]
    search_fields = ["code", "name", "brand"]
    readonly_fields = ["price_class"]
    list_select_related = ["price_class"]

    def save_model(self, request, obj, form, change):
        classify_product(obj)  # the class is always derived from the price bands
        super().save_model(request, obj, form, change)
