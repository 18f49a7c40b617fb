import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from .models import Product

TABLE_ATTRS = {"class": "table table-sm table-hover align-middle text-nowrap"}


class ProductTable(tables.Table):
    code = tables.Column(linkify=True)
    name = tables.Column(linkify=True)
    price_class = tables.Column(
        accessor="price_class__name", verbose_name=_("Price class"), order_by=("price_class__rank",)
    )
    wholesale_price = tables.Column(attrs={"td": {"class": "text-end"}})
    retail_price = tables.Column(attrs={"td": {"class": "text-end"}})
    provincial = tables.BooleanColumn()
    key_brand = tables.BooleanColumn()
    scarce = tables.BooleanColumn()

    class Meta:
        model = Product
        fields = (
            "code",
            "name",
            "brand",
            "manufacturer",
            "price_class",
            "wholesale_price",
            "retail_price",
            "provincial",
            "key_brand",
            "scarce",
            "status",
        )
        attrs = TABLE_ATTRS
        empty_text = _("No products.")
