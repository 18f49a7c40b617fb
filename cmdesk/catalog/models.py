"""Products (卷烟规格) and the price bands that classify them (一类 … 五类)."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cmdesk.core.scope import RestrictedManager


class PriceBand(models.Model):
    """A price class by wholesale (调拨) price per carton, tax excluded: min_price ≤ price < max_price.

    Bands are data, not code: provinces split 一类 or set their own limits. The default bands are
    一类 ≥ 100, 二类 70–100, 三类 30–70, 四类 16.5–30, 五类 < 16.5 yuan per carton.
    """

    rank = models.PositiveSmallIntegerField(_("class number"), unique=True, help_text=_("1 is the highest class"))
    name = models.CharField(_("name"), max_length=20, unique=True)
    min_price = models.DecimalField(
        _("minimum price (inclusive)"), max_digits=10, decimal_places=2, default=Decimal("0")
    )
    max_price = models.DecimalField(
        _("maximum price (exclusive)"), max_digits=10, decimal_places=2, null=True, blank=True
    )

    objects = RestrictedManager()
    scope_global = True

    class Meta:
        verbose_name = _("price class")
        verbose_name_plural = _("price classes")
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_price__isnull=True) | Q(max_price__gt=models.F("min_price")),
                name="priceband_max_above_min",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def classify(cls, price: Decimal | float | None, bands: list[PriceBand] | None = None) -> PriceBand | None:
        """The band that contains ``price``; None when no band does (a gap in the configuration)."""
        if price is None:
            return None
        price = Decimal(str(price))
        for band in bands if bands is not None else cls.objects.all():
            if band.min_price <= price and (band.max_price is None or price < band.max_price):
                return band
        return None


class ProductStatus(models.TextChoices):
    PENDING = "pending", _("Not yet launched")
    ON_SALE = "on_sale", _("On sale")
    DISCONTINUED = "discontinued", _("Discontinued")


class Product(models.Model):
    """A cigarette specification (卷烟规格, 品规) as sold to retailers, priced per carton (条)."""

    code = models.CharField(_("product code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    brand = models.CharField(_("brand"), max_length=50, db_index=True)
    manufacturer = models.CharField(_("manufacturer"), max_length=100)
    provincial = models.BooleanField(
        _("provincial brand"), default=False, help_text=_("made in this province (省产烟)")
    )
    wholesale_price = models.DecimalField(
        _("wholesale price per carton"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    retail_price = models.DecimalField(
        _("suggested retail price per carton"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    price_class = models.ForeignKey(
        PriceBand,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
        verbose_name=_("price class"),
        help_text=_("derived from the wholesale price and the price bands"),
    )
    tar_mg = models.DecimalField(_("tar (mg)"), max_digits=4, decimal_places=1, null=True, blank=True)
    key_brand = models.BooleanField(_("key brand"), default=False)
    scarce = models.BooleanField(_("scarce brand"), default=False, help_text=_("allocated by tier (紧俏烟)"))
    launched_on = models.DateField(_("launch date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ProductStatus.choices, default=ProductStatus.ON_SALE)

    objects = RestrictedManager()
    scope_global = True

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(wholesale_price__gt=0), name="product_wholesale_price_positive"),
            models.CheckConstraint(condition=Q(retail_price__gt=0), name="product_retail_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def get_absolute_url(self) -> str:
        return reverse("catalog:product_detail", args=[self.pk])
