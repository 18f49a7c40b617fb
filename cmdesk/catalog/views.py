"""Product pages. The catalogue is reference data every role reads; writes go through cmdesk.catalog.services."""

from __future__ import annotations

from cmdesk.core.views import ObjectDetailView, ObjectEditView, ObjectListView

from . import services
from .filtersets import ProductFilterSet
from .forms import ProductForm
from .models import Product
from .tables import ProductTable


class ProductListView(ObjectListView):
    model = Product
    table = ProductTable
    filterset = ProductFilterSet
    select_related = ("price_class",)
    add_url = "catalog:product_add"


class ProductDetailView(ObjectDetailView):
    model = Product
    select_related = ("price_class",)
    template_name = "catalog/product_detail.html"
    edit_url = "catalog:product_edit"


class ProductEditView(ObjectEditView):
    model = Product
    form = ProductForm

    def save(self, request, form, obj):
        # The form has already set the fields on ``obj``; the service derives the price class, validates and saves.
        return services.product_save(actor=request.user, product=obj)
