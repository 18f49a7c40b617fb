"""The supply side (DOMAIN.md "Retailers and supply", seeds 000, 001, 004).

* 档位 tiers: :class:`TierScheme` (configurable: number of tiers, scoring method, period, initial rules),
  :class:`TierRun` (one recompute over a trailing window) and :class:`TierScore` (each retailer's score, components,
  tier before/after and the reason). Applied changes are also written to ``retail.TierChange`` (the retailer's history).
* 4+X evaluation: :class:`ClassScheme` (four standard dimensions plus local ones, or the 2008 42-class preset) and
  :class:`RetailerClass` (each retailer's class code and the level per dimension).
* 按档位投放 allocation: :class:`Allocation` of one scarce product for one order week, with its per-tier (and
  segment) quantities :class:`AllocationTier`, per-retailer allotments :class:`AllocationLine` (合理定量), the CMs'
  manual :class:`AllocationAdjustment` rows, and the week's outcome per tier.
* forecasts: :class:`ForecastRun` and :class:`Forecast` (weekly demand per retailer, or retailer × key brand; the model
  chosen by backtest; the suggested verified quantity 核量).
* order-anomaly alerts shared with enforcement (专销结合): :class:`AlertRules` (thresholds; national defaults, the
  stricter province as a preset), :class:`Alert` and its :class:`Referral` to the area's inspector (市管员).

Scope: retailer-level rows follow the retailer's route (a CM sees its own retailers', a head its department's);
allocations, runs and brand-level alerts follow their org unit.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cmdesk.catalog.models import Product
from cmdesk.core.scope import RestrictedManager
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.retail.models import TIER_MAX, Retailer

# --------------------------------------------------------------------------------------------------------------- tiers


class TierMethod(models.TextChoices):
    WEIGHTED = "weighted", _("Weighted score of quantity, amount and operating ability, ranked")
    BANDS = "bands", _("Volume bands × price-per-carton bands")


class TierPeriod(models.TextChoices):
    MONTH = "month", _("Monthly")
    QUARTER = "quarter", _("Quarterly")


def default_tier_weights() -> dict[str, float]:
    """Weights of the score's components (they sum to 1)."""
    return {"quantity": 0.5, "amount": 0.3, "ability": 0.2}


def default_volume_bands() -> list[float]:
    """Lower bounds (cartons a month) of volume bands 2..10; band 1 starts at 0."""
    return [20, 40, 60, 90, 120, 160, 210, 270, 350]


def default_price_bands() -> list[float]:
    """Lower bounds (yuan a carton) of price bands 2..3; band 1 starts at 0."""
    return [70, 110]


def default_initial_rules() -> dict:
    """Points for a new retailer's starting score (no purchase history yet), mapped linearly onto the tiers.

    ``area``: [[min m², points], ...]; ``format``: {format: points}; ``fixtures``: points per display fixture up to
    ``fixtures_max``; ``settlement``: {method: points}; ``max_points`` maps to the top tier."""
    return {
        "area": [[0, 0], [10, 5], [20, 10], [40, 20], [80, 30]],
        "format": {
            "grocery": 5,
            "convenience": 15,
            "supermarket": 20,
            "mall": 25,
            "tobacco_liquor": 25,
            "entertainment": 10,
            "other": 0,
        },
        "fixtures": 5,
        "fixtures_max": 4,
        "settlement": {"online_transfer": 5},
        "max_points": 80,
        "tier_max": 15,
    }


def default_ability_rules() -> dict:
    """The operating-ability component (0..1): a weighted mean of four parts, each 0..1.

    ``area``: floor area ÷ ``area_full`` m² (capped at 1); ``fixtures``: display fixtures ÷ ``fixtures_full``;
    ``format``: a value per business format; ``regularity``: share of the window's weeks with an order."""
    return {
        "parts": {"area": 0.25, "fixtures": 0.25, "format": 0.2, "regularity": 0.3},
        "area_full": 80,
        "fixtures_full": 4,
        "format": {
            "grocery": 0.4,
            "convenience": 0.7,
            "supermarket": 0.9,
            "mall": 1.0,
            "tobacco_liquor": 1.0,
            "entertainment": 0.5,
            "other": 0.3,
        },
    }


class TierScheme(models.Model):
    """How tiers are computed for an org unit and everything under it (no org unit: the city default)."""

    org_unit = models.OneToOneField(
        OrgUnit, on_delete=models.CASCADE, null=True, blank=True, related_name="tier_scheme", verbose_name=_("org unit")
    )
    name = models.CharField(_("name"), max_length=100)
    tier_count = models.PositiveSmallIntegerField(
        _("number of tiers"), default=30, validators=[MinValueValidator(2), MaxValueValidator(TIER_MAX)]
    )
    method = models.CharField(_("method"), max_length=16, choices=TierMethod.choices, default=TierMethod.WEIGHTED)
    period = models.CharField(
        _("recompute period"), max_length=16, choices=TierPeriod.choices, default=TierPeriod.MONTH
    )
    window_months = models.PositiveSmallIntegerField(
        _("trailing window (months)"), default=3, validators=[MinValueValidator(1), MaxValueValidator(24)]
    )
    weights = models.JSONField(_("score weights"), default=default_tier_weights)
    volume_bands = models.JSONField(_("volume bands (cartons a month)"), default=default_volume_bands)
    price_bands = models.JSONField(_("price bands (yuan a carton)"), default=default_price_bands)
    initial_rules = models.JSONField(_("initial tier rules"), default=default_initial_rules)
    ability_rules = models.JSONField(_("operating ability rules"), default=default_ability_rules)
    shape = models.DecimalField(
        _("tier shape"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0.25")), MaxValueValidator(Decimal("4"))],
        help_text=_(
            "1: tiers of equal size; above 1: a pyramid, fewer retailers in the higher tiers "
            "(a retailer whose share of retailers at or below it is u gets tier ⌈T × u^shape⌉)"
        ),
    )
    hold_band = models.PositiveSmallIntegerField(
        _("hold band"),
        default=0,
        validators=[MaxValueValidator(5)],
        help_text=_("a retailer whose tier by score is this many tiers or fewer from its tier keeps it (0: none)"),
    )
    max_step = models.PositiveSmallIntegerField(
        _("largest change per recompute"),
        default=3,
        help_text=_("a retailer moves at most this many tiers per recompute (0: no limit)"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RestrictedManager()
    scope_global = True

    class Meta:
        verbose_name = _("tier scheme")
        verbose_name_plural = _("tier schemes")
        constraints = [
            models.UniqueConstraint(
                fields=["org_unit"], condition=Q(org_unit__isnull=True), name="one_city_tier_scheme"
            )
        ]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPLIED = "applied", _("Applied")
    DISCARDED = "discarded", _("Discarded")


class TierRun(models.Model):
    """One recompute of the tiers of an org unit's retailers over a trailing window of months."""

    scheme = models.ForeignKey(TierScheme, on_delete=models.PROTECT, related_name="runs", verbose_name=_("scheme"))
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("org unit"))
    window_start = models.DateField(_("window start"))
    window_end = models.DateField(_("window end"))
    effective = models.DateField(_("effective date"))
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.DRAFT)
    settings_snapshot = models.JSONField(_("scheme as used"), default=dict)
    stats = models.JSONField(_("statistics"), default=dict, help_text=_("retailers, up, down, unchanged, new"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    objects = RestrictedManager()
    # a head or a CM sees the runs that scored its retailers, and only their rows (querysets use .distinct())
    scope_org_path = "scores__retailer__route__org_unit__path"
    scope_cm = "scores__retailer__route__cm"

    class Meta:
        verbose_name = _("tier recompute")
        verbose_name_plural = _("tier recomputes")
        ordering = ["-effective", "-id"]
        permissions = [("apply_tierrun", _("Can apply a tier recompute"))]

    def __str__(self) -> str:
        return f"{self.org_unit} {self.window_start}–{self.window_end}"


class TierScore(models.Model):
    """A retailer's score in a recompute: its components, rank, tier before and after, and why."""

    run = models.ForeignKey(TierRun, on_delete=models.CASCADE, related_name="scores", verbose_name=_("recompute"))
    retailer = models.ForeignKey(
        Retailer, on_delete=models.CASCADE, related_name="tier_scores", verbose_name=_("retailer")
    )
    score = models.DecimalField(_("score"), max_digits=12, decimal_places=4)
    components = models.JSONField(
        _("components"),
        default=dict,
        help_text=_("cartons, amount, ability and their normalised values; bands for the band method"),
    )
    rank = models.PositiveIntegerField(_("rank"), null=True, blank=True)
    tier_before = models.PositiveSmallIntegerField(_("tier before"), null=True, blank=True)
    tier_computed = models.PositiveSmallIntegerField(_("tier from the score"))
    tier_after = models.PositiveSmallIntegerField(_("new tier"))
    next_tier_score = models.DecimalField(
        _("score needed for the next tier"), max_digits=12, decimal_places=4, null=True, blank=True
    )
    reason = models.CharField(_("reason"), max_length=300)

    objects = RestrictedManager()
    scope_org_path = "retailer__route__org_unit__path"
    scope_cm = "retailer__route__cm"

    class Meta:
        verbose_name = _("tier score")
        verbose_name_plural = _("tier scores")
        ordering = ["run", "-score", "retailer_id"]
        constraints = [models.UniqueConstraint(fields=["run", "retailer"], name="one_tier_score_per_run_retailer")]

    def __str__(self) -> str:
        return f"{self.retailer.licence_no}: D{self.tier_after}"


# ----------------------------------------------------------------------------------------------------------- 4+X


class ClassPreset(models.TextChoices):
    FOUR_X = "4x", _("4+X: format, market type, scale, credit/compliance plus local dimensions")
    CODE_2008 = "2008", _("2008 coding: 7 formats × urban/rural × 3 sizes (42 classes, e.g. CZ1)")


class ClassScheme(models.Model):
    """A retailer classification (4+X or the 2008 coding). ``dimensions`` is the configuration:

    ``[{"code": "format", "name": "业态", "kind": "standard"|"local", "source": "format"|"market_type"|"scale"|
    "credit"|"field"|"manual", "field": "<retailer field for source=field>", "levels": [{"code": "Z", "label": "食杂",
    "match": [...values...] | {"min": x, "max": y}}]}, ...]``; a retailer's class code joins its level codes."""

    name = models.CharField(_("name"), max_length=100)
    preset = models.CharField(_("preset"), max_length=8, choices=ClassPreset.choices, default=ClassPreset.FOUR_X)
    dimensions = models.JSONField(_("dimensions"), default=list)
    active = models.BooleanField(_("active"), default=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    computed_at = models.DateTimeField(_("last classified at"), null=True, blank=True)

    objects = RestrictedManager()
    scope_global = True

    class Meta:
        verbose_name = _("classification scheme")
        verbose_name_plural = _("classification schemes")
        ordering = ["-active", "name"]

    def __str__(self) -> str:
        return self.name


class RetailerClass(models.Model):
    """A retailer's class under a scheme: the code (e.g. CZ1) and the level chosen per dimension, with why."""

    scheme = models.ForeignKey(ClassScheme, on_delete=models.CASCADE, related_name="classes", verbose_name=_("scheme"))
    retailer = models.ForeignKey(Retailer, on_delete=models.CASCADE, related_name="classes", verbose_name=_("retailer"))
    code = models.CharField(_("class"), max_length=32, db_index=True)
    levels = models.JSONField(_("levels"), default=dict, help_text=_("{dimension code: level code}"))
    manual = models.JSONField(_("manual levels"), default=dict, help_text=_("levels set by hand for manual dimensions"))
    computed_at = models.DateTimeField(_("classified at"), auto_now=True)

    objects = RestrictedManager()
    scope_org_path = "retailer__route__org_unit__path"
    scope_cm = "retailer__route__cm"

    class Meta:
        verbose_name = _("retailer class")
        verbose_name_plural = _("retailer classes")
        ordering = ["scheme", "code", "retailer_id"]
        constraints = [models.UniqueConstraint(fields=["scheme", "retailer"], name="one_class_per_scheme_retailer")]

    def __str__(self) -> str:
        return f"{self.retailer.licence_no}: {self.code}"


# ---------------------------------------------------------------------------------------------------- allocation


class AllocationVariant(models.TextChoices):
    TIER = "tier", _("By tier")
    TIER_MARKET = "tier_market", _("By tier and market type")
    TIER_FORMAT = "tier_format", _("By tier and format")
    TIER_AREA = "tier_area", _("By tier and area")
    TIER_CLASS = "tier_class", _("By tier and retailer class (4+X)")


class AllocationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", pgettext_lazy("allocation", "Published")
    CLOSED = "closed", _("Evaluated")


class Allocation(models.Model):
    """Allocation of one scarce product (紧俏烟) for one order week over an org unit's retailers."""

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("product")
    )
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("org unit"))
    week_start = models.DateField(_("order week (Monday)"))
    available = models.PositiveIntegerField(_("cartons available"))
    variant = models.CharField(
        _("variant"), max_length=16, choices=AllocationVariant.choices, default=AllocationVariant.TIER
    )
    min_tier = models.PositiveSmallIntegerField(
        _("lowest tier served"), default=1, validators=[MinValueValidator(1), MaxValueValidator(TIER_MAX)]
    )
    cap_per_retailer = models.PositiveIntegerField(_("cap per retailer (cartons)"), null=True, blank=True)
    selected_only = models.BooleanField(
        _("selected points only (选点)"), default=False, help_text=_("only the retailers listed as selected points")
    )
    selected = models.ManyToManyField(
        Retailer, blank=True, related_name="+", verbose_name=_("selected points"), db_table="supply_allocation_points"
    )
    tier_weights = models.JSONField(
        _("tier weights"),
        default=dict,
        blank=True,
        help_text=_(
            "relative weight per tier, non-decreasing from the lowest tier up, e.g. {'30': 3, '20': 2, '10': 1}; "
            "a tier without a weight takes the next lower tier's; empty: linear (tier − lowest tier served + 1)"
        ),
    )
    segment_weights = models.JSONField(
        _("segment weights"),
        default=dict,
        blank=True,
        help_text=_("relative weight per segment for the variants, e.g. {'urban': 1.0, 'rural': 0.6}"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=AllocationStatus.choices, default=AllocationStatus.DRAFT
    )
    based_on = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("proposed from"),
        help_text=_("the previous week's allocation whose outcome proposed these quantities"),
    )
    allotted_total = models.PositiveIntegerField(_("cartons allotted"), default=0)
    outcome = models.JSONField(
        _("outcome"), default=dict, blank=True, help_text=_("after the week: 订足率, 订足面, 订单满足率 per tier")
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    objects = RestrictedManager()
    scope_org_path = "org_unit__path"
    scope_cm = "lines__retailer__route__cm"  # a CM sees allocations that reach its retailers (use .distinct())

    class Meta:
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        ordering = ["-week_start", "product__code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "org_unit", "week_start"], name="one_allocation_per_week"),
            models.CheckConstraint(
                condition=Q(allotted_total__lte=models.F("available")), name="allotted_within_available"
            ),
        ]
        permissions = [
            ("publish_allocation", _("Can publish an allocation")),
            ("adjust_allocationline", _("Can adjust a retailer's allotment")),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} {self.week_start}"


class AllocationTier(models.Model):
    """The per-retailer quantity a_g of one tier (and segment, for the variants)."""

    allocation = models.ForeignKey(Allocation, on_delete=models.CASCADE, related_name="tiers")
    tier = models.PositiveSmallIntegerField(_("tier"))
    segment = models.CharField(_("segment"), max_length=32, blank=True, help_text=_("market type, format or area"))
    retailers = models.PositiveIntegerField(_("retailers"))
    quantity = models.PositiveIntegerField(_("cartons per retailer"))
    total = models.PositiveIntegerField(_("cartons"))

    class Meta:
        verbose_name = _("allocation tier")
        verbose_name_plural = _("allocation tiers")
        ordering = ["allocation", "segment", "-tier"]
        constraints = [
            models.UniqueConstraint(fields=["allocation", "tier", "segment"], name="one_row_per_tier_segment")
        ]

    def __str__(self) -> str:
        segment = f" {self.segment}" if self.segment else ""
        return f"D{self.tier}{segment}: {self.quantity} × {self.retailers}"


class AllocationLine(models.Model):
    """One retailer's allotment (合理定量) in an allocation, its CM adjustment and, after the week, what it ordered."""

    allocation = models.ForeignKey(Allocation, on_delete=models.CASCADE, related_name="lines")
    retailer = models.ForeignKey(
        Retailer, on_delete=models.PROTECT, related_name="allotments", verbose_name=_("retailer")
    )
    tier = models.PositiveSmallIntegerField(_("tier"))
    segment = models.CharField(_("segment"), max_length=32, blank=True)
    quantity = models.PositiveIntegerField(_("allotted by tier"))
    final_quantity = models.PositiveIntegerField(_("allotment (合理定量)"))
    ordered = models.PositiveIntegerField(_("ordered"), null=True, blank=True)
    demanded = models.PositiveIntegerField(_("demanded"), null=True, blank=True)
    supplied = models.PositiveIntegerField(_("supplied"), null=True, blank=True)

    objects = RestrictedManager()
    scope_org_path = "retailer__route__org_unit__path"
    scope_cm = "retailer__route__cm"

    class Meta:
        verbose_name = _("allotment")
        verbose_name_plural = _("allotments")
        ordering = ["allocation", "-tier", "retailer_id"]
        constraints = [models.UniqueConstraint(fields=["allocation", "retailer"], name="one_line_per_retailer")]

    def __str__(self) -> str:
        return f"{self.retailer.licence_no}: {self.final_quantity}"


class AllocationAdjustment(models.Model):
    """A CM's (or head's) manual change of one retailer's allotment, with the reason (logged, never edited)."""

    line = models.ForeignKey(AllocationLine, on_delete=models.CASCADE, related_name="adjustments")
    by = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    quantity_from = models.PositiveIntegerField(_("from"))
    quantity_to = models.PositiveIntegerField(_("to"))
    reason = models.CharField(_("reason"), max_length=300)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    objects = RestrictedManager()
    scope_org_path = "line__retailer__route__org_unit__path"
    scope_cm = "line__retailer__route__cm"

    class Meta:
        verbose_name = _("allotment adjustment")
        verbose_name_plural = _("allotment adjustments")
        ordering = ["-at", "-id"]

    # ----------------------------------------------------------------------------------------------------- forecasts

    def __str__(self) -> str:
        return f"{self.line}: {self.quantity_from} → {self.quantity_to}"


class ForecastLevel(models.TextChoices):
    RETAILER = "retailer", _("Retailer")
    RETAILER_BRAND = "retailer_brand", _("Retailer × key brand")


class ForecastRun(models.Model):
    """Weekly demand forecasts for an org unit's retailers from the order history up to ``history_end``."""

    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("org unit"))
    level = models.CharField(_("level"), max_length=16, choices=ForecastLevel.choices, default=ForecastLevel.RETAILER)
    history_end = models.DateField(_("history up to"))
    first_week = models.DateField(_("first week forecast (Monday)"))
    horizon = models.PositiveSmallIntegerField(_("weeks ahead"), default=4)
    models_tried = models.JSONField(_("models tried"), default=list)
    backtest_weeks = models.PositiveSmallIntegerField(_("backtest weeks"), default=8)
    metrics = models.JSONField(
        _("metrics"),
        default=dict,
        help_text=_("accuracy of the chosen models and of the naive baseline; wins per model"),
    )
    series = models.PositiveIntegerField(_("series"), default=0)
    seconds = models.FloatField(_("seconds"), default=0)
    data_version = models.CharField(_("data version"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = RestrictedManager()
    # a head sees the runs that forecast its department's retailers (a city run too), a CM those of its retailers
    # (both join the rows: use .distinct())
    scope_org_path = "forecasts__retailer__route__org_unit__path"
    scope_cm = "forecasts__retailer__route__cm"

    class Meta:
        verbose_name = _("forecast run")
        verbose_name_plural = _("forecast runs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.org_unit} {self.first_week} +{self.horizon}"


class Forecast(models.Model):
    """One retailer's (or retailer × brand's) forecast for one week, with the model chosen and its backtest accuracy."""

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="forecasts")
    retailer = models.ForeignKey(
        Retailer, on_delete=models.CASCADE, related_name="forecasts", verbose_name=_("retailer")
    )
    brand = models.CharField(_("brand"), max_length=50, blank=True)
    week_start = models.DateField(_("week (Monday)"))
    model = models.CharField(_("model"), max_length=32)
    quantity = models.DecimalField(_("forecast (cartons)"), max_digits=10, decimal_places=2)
    suggested = models.PositiveIntegerField(_("suggested verified quantity (核量)"), null=True, blank=True)
    backtest_accuracy = models.FloatField(_("backtest accuracy"), null=True, blank=True)
    naive_accuracy = models.FloatField(_("naive baseline accuracy"), null=True, blank=True)
    actual = models.DecimalField(_("actual (cartons)"), max_digits=10, decimal_places=2, null=True, blank=True)

    objects = RestrictedManager()
    scope_org_path = "retailer__route__org_unit__path"
    scope_cm = "retailer__route__cm"

    class Meta:
        verbose_name = _("forecast")
        verbose_name_plural = _("forecasts")
        ordering = ["run", "retailer_id", "brand", "week_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "retailer", "brand", "week_start"], name="one_forecast_per_series_week"
            )
        ]
        indexes = [models.Index(fields=["retailer", "week_start"], name="forecast_retailer_week")]

    def __str__(self) -> str:
        brand = f" {self.brand}" if self.brand else ""
        return f"{self.retailer.licence_no}{brand} {self.week_start}: {self.quantity}"


# -------------------------------------------------------------------------------------------------------- alerts


def default_holidays() -> list[dict]:
    """Holidays screened by the alert rules: the Spring Festival (春节, first day of the lunar year) 2015–2035.

    Configuration, not code: the centre edits the list (``[{"name": ..., "date": "YYYY-MM-DD"}]``) on the rules
    page; the demo's calendar (cmdesk/demo/calendar.py) uses the same dates."""
    dates = [
        "2015-02-19", "2016-02-08", "2017-01-28", "2018-02-16", "2019-02-05", "2020-01-25", "2021-02-12",
        "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26",
        "2029-02-13", "2030-02-03", "2031-01-23", "2032-02-11", "2033-01-31", "2034-02-19", "2035-02-08",
    ]  # fmt: skip
    return [{"name": "春节", "date": d} for d in dates]


class AlertPreset(models.TextChoices):
    NATIONAL = "national", _("National rule")
    PROVINCE = "province", _("Stricter province")


class AlertRules(models.Model):
    """Warning thresholds for an org unit and everything under it (no org unit: the city default).

    National values by default; the ``province`` preset sets the stricter values (DOMAIN.md)."""

    org_unit = models.OneToOneField(
        OrgUnit, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules", verbose_name=_("org unit")
    )
    preset = models.CharField(_("preset"), max_length=16, choices=AlertPreset.choices, default=AlertPreset.NATIONAL)
    brand_month_growth = models.DecimalField(
        _("brand's month on last month above"), max_digits=5, decimal_places=2, default=Decimal("0.50")
    )
    day_share = models.DecimalField(
        _("one day's share of the month above"), max_digits=5, decimal_places=2, default=Decimal("0.15")
    )
    order_ratio = models.DecimalField(
        _("single order above × average of the last orders"), max_digits=5, decimal_places=2, default=Decimal("2.00")
    )
    order_ratio_periods = models.PositiveSmallIntegerField(_("orders averaged"), default=3)
    order_min_cartons = models.PositiveIntegerField(_("ignore orders below (cartons)"), default=20)
    new_retailer_days = models.PositiveIntegerField(_("new retailer for (days)"), default=90)
    month_ratio = models.DecimalField(
        _("retailer's month above × last month"), max_digits=5, decimal_places=2, default=Decimal("2.00")
    )
    peer_ratio = models.DecimalField(
        _("growth below × the peer group's"), max_digits=5, decimal_places=2, default=Decimal("0.80")
    )
    brand_min_cartons = models.PositiveIntegerField(
        _("brand rules: ignore brands below (cartons a month)"), default=250
    )
    collapse_ratio = models.DecimalField(
        _("collapse: month below × its 3-month average, relative to the peer group"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.50"),
    )
    peer_tier_band = models.PositiveSmallIntegerField(
        _("peer group: tiers per band"), default=5, validators=[MinValueValidator(1), MaxValueValidator(TIER_MAX)]
    )
    peer_min_size = models.PositiveSmallIntegerField(_("peer group: at least (retailers)"), default=5)
    launch_weeks = models.PositiveSmallIntegerField(_("screen products launched within (weeks)"), default=8)
    holiday_weeks = models.PositiveSmallIntegerField(_("screen weeks around the Spring Festival"), default=5)
    holidays = models.JSONField(
        _("holidays screened"),
        default=default_holidays,
        blank=True,
        help_text=_('[{"name": "春节", "date": "2026-02-17"}]'),
    )
    short_supply = models.DecimalField(
        _("uneven arrivals: last month's supplied ÷ ordered below"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.90"),
    )
    proxy_similarity = models.DecimalField(
        _("proxy ordering: order similarity at least"), max_digits=4, decimal_places=2, default=Decimal("0.80")
    )
    proxy_volume_ratio = models.DecimalField(
        _("proxy ordering: volume above × its tier and format's median"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("3.00"),
    )
    referral_days = models.PositiveSmallIntegerField(_("inspector's deadline (days)"), default=7)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RestrictedManager()
    scope_global = True

    class Meta:
        verbose_name = _("alert rules")
        verbose_name_plural = _("alert rules")
        constraints = [
            models.UniqueConstraint(
                fields=["org_unit"], condition=Q(org_unit__isnull=True), name="one_city_alert_rules"
            )
        ]

    def __str__(self) -> str:
        return str(self.org_unit or _("City default"))


class AlertKind(models.TextChoices):
    BRAND_MONTH = "brand_month", _("Brand's monthly sales up on last month")
    DAY_SHARE = "day_share", _("One day's share of the month")
    ORDER_SPIKE = "order_spike", _("Single order far above the last orders")
    MONTH_SPIKE = "month_spike", _("Monthly order far above last month")
    PEER_GROWTH = "peer_growth", _("Growth far below the peer group")
    COLLAPSE = "collapse", _("Orders collapsed")
    PROXY = "proxy", _("Proxy ordering (代订货)")
    SHARED_ACCOUNT = "shared_account", _("Shared contact or settlement account")
    ABOVE_TIER = "above_tier", _("Volume far above its tier and format")


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    REFERRED = "referred", _("Referred to the inspector")
    CLOSED = "closed", _("Closed")
    DISMISSED = "dismissed", _("Dismissed")


class Alert(models.Model):
    """An order-anomaly warning: what was measured, against which threshold, and what became of it."""

    kind = models.CharField(_("kind"), max_length=16, choices=AlertKind.choices)
    key = models.CharField(
        _("key"),
        max_length=120,
        unique=True,
        editable=False,
        help_text=_("kind, subject and period: detecting the same thing twice updates one alert"),
    )
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("org unit"))
    retailer = models.ForeignKey(
        Retailer, on_delete=models.CASCADE, null=True, blank=True, related_name="alerts", verbose_name=_("retailer")
    )
    partner = models.ForeignKey(
        Retailer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("related retailer"),
        help_text=_("the big shop a proxy orders for, or the shop sharing an account"),
    )
    product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("product")
    )
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    measured = models.JSONField(_("figures"), default=dict)
    threshold = models.CharField(_("rule"), max_length=200)
    rules = models.ForeignKey(
        AlertRules,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("rules"),
        help_text=_("the rules row whose thresholds judged it (empty once that row is removed; the rule text stays)"),
    )
    detail = models.CharField(_("detail"), max_length=500)
    severity = models.PositiveSmallIntegerField(_("severity"), default=1, validators=[MaxValueValidator(3)])
    status = models.CharField(_("status"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    status_note = models.CharField(_("note"), max_length=300, blank=True)
    detected_at = models.DateTimeField(_("detected at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RestrictedManager()
    scope_org_path = "org_unit__path"
    scope_cm = "retailer__route__cm"

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-period_end", "-severity", "-id"]
        indexes = [models.Index(fields=["status", "period_end"], name="alert_status_end")]
        permissions = [("refer_alert", _("Can refer an alert to the inspector"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.retailer or self.product} {self.period_start}"


class ReferralOutcome(models.TextChoices):
    CONFIRMED = "confirmed", _("Violation confirmed")
    NO_VIOLATION = "no_violation", _("No violation found")
    EXPLAINED = "explained", _("Explained (legitimate reason)")


class Referral(models.Model):
    """An alert referred to the area's inspector (市管员) with a deadline; the inspector's feedback closes it."""

    alert = models.OneToOneField(Alert, on_delete=models.CASCADE, related_name="referral", verbose_name=_("alert"))
    inspector = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="referrals", verbose_name=_("inspector")
    )
    referred_by = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+", verbose_name=_("referred by"))
    referred_at = models.DateTimeField(_("referred at"), auto_now_add=True)
    deadline = models.DateField(_("deadline"))
    note = models.CharField(_("note"), max_length=500, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=ReferralOutcome.choices, blank=True)
    feedback = models.TextField(_("inspector's feedback"), blank=True)
    feedback_at = models.DateTimeField(_("feedback at"), null=True, blank=True)

    objects = RestrictedManager()
    scope_org_path = "alert__org_unit__path"
    scope_cm = "alert__retailer__route__cm"

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["deadline", "id"]
        permissions = [("answer_referral", _("Can answer a referral"))]

    def __str__(self) -> str:
        return f"{self.alert} → {self.inspector}"
