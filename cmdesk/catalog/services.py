"""Writes on products and price bands. A product's price class is always derived from its wholesale price."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cmdesk.core.audit import acting_as
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm

from .models import PriceBand, Product

DEFAULT_BANDS = [  # (rank, name, min, max) yuan per carton, tax excluded; DOMAIN.md
    (1, "一类", "100", None),
    (2, "二类", "70", "100"),
    (3, "三类", "30", "70"),
    (4, "四类", "16.5", "30"),
    (5, "五类", "0", "16.5"),
]


def price_bands_ensure_default() -> list[PriceBand]:
    """Create the default five bands if none exist; return the bands in force."""
    if not PriceBand.objects.exists():
        PriceBand.objects.bulk_create(
            PriceBand(rank=r, name=n, min_price=lo, max_price=hi) for r, n, lo, hi in DEFAULT_BANDS
        )
    return list(PriceBand.objects.all())


def classify_product(product: Product) -> None:
    band = PriceBand.classify(product.wholesale_price)
    if band is None:
        raise ValidationError({"wholesale_price": _("No price class covers this price; check the price bands.")})
    product.price_class = band


@transaction.atomic
def product_save(*, actor: Any, product: Product) -> Product:
    """Create or update a product (catalogue editing is the marketing centre's), deriving its price class."""
    if not has_model_perm(actor, Product, "change" if product.pk else "add"):
        raise OutOfScope
    classify_product(product)
    product.full_clean()
    with acting_as(actor):
        product.save()
    return product


@transaction.atomic
def products_reclassify(*, actor: Any) -> int:
    """After the bands change: re-derive every product's class. Returns how many products changed class."""
    bands = list(PriceBand.objects.all())
    changed = 0
    with acting_as(actor):
        for product in Product.objects.select_for_update():
            band = PriceBand.classify(product.wholesale_price, bands)
            if band is not None and band.pk != product.price_class_id:
                product.price_class = band
                product.save(update_fields=["price_class"])
                changed += 1
    return changed
