from __future__ import annotations

from typing import Any

from django import forms

from cmdesk.core.widgets import DateInput

from .models import Product


class ProductForm(forms.ModelForm):
    """The price class is not a field: cmdesk.catalog.services.product_save derives it from the wholesale price."""

    class Meta:
        model = Product
        fields = [
            "code",
            "name",
            "brand",
            "manufacturer",
            "wholesale_price",
            "retail_price",
            "tar_mg",
            "provincial",
            "key_brand",
            "scarce",
            "launched_on",
            "status",
        ]
        widgets = {"launched_on": DateInput()}

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
