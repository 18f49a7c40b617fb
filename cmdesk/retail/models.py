"""Routes (访销线路) and retailers (零售户), with the history of route assignments and tiers."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cmdesk.core.scope import RestrictedManager
from cmdesk.org.models import OrgUnit, Staff

from .choices import (
    BusinessFormat,
    CreditGrade,
    MarketType,
    OrderMethod,
    RetailerStatus,
    SettlementMethod,
)
from .validators import validate_licence_no, validate_weekdays

TIER_MAX = 30


class Route(models.Model):
    """A CM's territory and visiting route. One CM per route; assignments are kept as history."""

    code = models.CharField(_("route code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="routes", verbose_name=_("org unit"))
    cm = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routes",
        verbose_name=_("customer manager"),
    )
    market_type = models.CharField(_("market type"), max_length=8, choices=MarketType.choices, default=MarketType.RURAL)
    length_km = models.DecimalField(
        _("length (km)"), max_digits=6, decimal_places=1, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    visit_cycle_days = models.PositiveSmallIntegerField(
        _("visit cycle (days)"), default=30, validators=[MinValueValidator(1), MaxValueValidator(92)]
    )
    order_weekdays = models.JSONField(_("order weekdays"), default=list, blank=True, validators=[validate_weekdays])
    delivery_weekdays = models.JSONField(
        _("delivery weekdays"), default=list, blank=True, validators=[validate_weekdays]
    )
    active = models.BooleanField(_("active"), default=True)

    objects = RestrictedManager()
    scope_org_path = "org_unit__path"
    scope_cm = "cm"

    class Meta:
        verbose_name = _("route")
        verbose_name_plural = _("routes")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(length_km__gte=0), name="route_length_nonnegative"),
            models.CheckConstraint(condition=Q(visit_cycle_days__gte=1), name="route_visit_cycle_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("retail:route_detail", args=[self.pk])


class RouteAssignment(models.Model):
    """Which CM served a route and when (ended is null for the current one)."""

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("route"))
    cm = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="route_assignments", verbose_name=_("customer manager")
    )
    started = models.DateField(_("from"))
    ended = models.DateField(_("until"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    objects = RestrictedManager()
    scope_org_path = "route__org_unit__path"
    scope_cm = "route__cm"

    class Meta:
        verbose_name = _("route assignment")
        verbose_name_plural = _("route assignments")
        ordering = ["route", "-started"]
        constraints = [
            models.UniqueConstraint(fields=["route"], condition=Q(ended__isnull=True), name="one_current_cm_per_route"),
            models.CheckConstraint(
                condition=Q(ended__isnull=True) | Q(ended__gte=models.F("started")), name="assignment_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.route.code}: {self.cm} {self.started}–{self.ended or ''}"


class Retailer(models.Model):
    """A licensed cigarette retailer (持证零售户), identified by its licence number."""

    licence_no = models.CharField(_("licence number"), max_length=32, unique=True, validators=[validate_licence_no])
    shop_name = models.CharField(_("shop name"), max_length=100)
    owner_name = models.CharField(_("owner"), max_length=50)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("-90")), MaxValueValidator(Decimal("90"))],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("-180")), MaxValueValidator(Decimal("180"))],
    )
    market_type = models.CharField(_("market type"), max_length=8, choices=MarketType.choices)
    business_format = models.CharField(_("business format"), max_length=16, choices=BusinessFormat.choices)
    floor_area = models.DecimalField(
        _("floor area (m²)"), max_digits=8, decimal_places=1, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    order_method = models.CharField(
        _("order method"), max_length=16, choices=OrderMethod.choices, default=OrderMethod.ONLINE
    )
    settlement_method = models.CharField(
        _("settlement method"),
        max_length=16,
        choices=SettlementMethod.choices,
        default=SettlementMethod.ONLINE_TRANSFER,
    )
    display_fixtures = models.PositiveSmallIntegerField(
        _("display fixtures"), null=True, blank=True, help_text=_("cigarette counters and display cabinets")
    )
    settlement_account = models.CharField(
        _("settlement account"),
        max_length=34,
        blank=True,
        help_text=_("bank account the orders are paid from; shown masked, used to find shared accounts"),
    )
    tier = models.PositiveSmallIntegerField(
        _("tier"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(TIER_MAX)],
        help_text=_("档位: 1 (lowest) to 30 (highest)"),
    )
    credit_grade = models.CharField(_("credit grade"), max_length=3, choices=CreditGrade.choices, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=RetailerStatus.choices, default=RetailerStatus.NORMAL)
    route = models.ForeignKey(Route, on_delete=models.PROTECT, related_name="retailers", verbose_name=_("route"))
    visit_order = models.PositiveIntegerField(_("visit order"), default=0)
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    search_key = models.CharField(
        _("search key"),
        max_length=200,
        blank=True,
        editable=False,
        db_index=True,
        help_text=_("pinyin initials and full pinyin of shop and owner names, for search"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RestrictedManager()
    scope_org_path = "route__org_unit__path"
    scope_cm = "route__cm"

    class Meta:
        verbose_name = _("retailer")
        verbose_name_plural = _("retailers")
        ordering = ["route__code", "visit_order", "id"]
        indexes = [models.Index(fields=["route", "visit_order"], name="retailer_route_order")]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="retailer_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="retailer_longitude_range",
            ),
            models.CheckConstraint(
                condition=Q(tier__isnull=True) | Q(tier__gte=1, tier__lte=TIER_MAX), name="retailer_tier_range"
            ),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True)
                | Q(opened_on__isnull=True)
                | Q(closed_on__gte=models.F("opened_on")),
                name="retailer_closes_after_opening",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shop_name} ({self.licence_no})"

    def get_absolute_url(self) -> str:
        return reverse("retail:retailer_detail", args=[self.pk])

    @property
    def tier_label(self) -> str:
        return f"D{self.tier}" if self.tier else "-"


class TierChange(models.Model):
    """History of a retailer's tier (档位) with the reason for each change."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("Manual")
        RECOMPUTE = "recompute", _("Periodic recompute")
        INITIAL = "initial", _("Initial tier")

    retailer = models.ForeignKey(
        Retailer, on_delete=models.CASCADE, related_name="tier_changes", verbose_name=_("retailer")
    )
    tier_from = models.PositiveSmallIntegerField(_("from tier"), null=True, blank=True)
    tier_to = models.PositiveSmallIntegerField(_("to tier"), null=True, blank=True)
    effective = models.DateField(_("effective date"))
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.MANUAL)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = RestrictedManager()
    scope_org_path = "retailer__route__org_unit__path"
    scope_cm = "retailer__route__cm"

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["retailer", "-effective", "-id"]

    def __str__(self) -> str:
        return f"{self.retailer.licence_no}: D{self.tier_from or '-'} → D{self.tier_to or '-'} ({self.effective})"
