"""The monthly assessment of customer managers (月度考核, DOMAIN.md, seeds 001 and 002).

* :class:`Scheme` — a versioned set of indicators for an org unit (and everything under it) from a month on;
  its :class:`SchemeItem` rows carry the group (业绩 / 市场), the category (经济类 / 基础类), the weight (points;
  the weights of an active scheme sum to 100), where the value comes from (``source`` + ``metric`` + ``params``)
  and how it is scored (``rule`` + ``rule_params``), and whether the target is adjusted for season and route potential.
* :class:`Run` — one scoring of a scheme for a month: a :class:`Score` per CM with a :class:`ScoreItem` per scheme
  item: the measured value, the target (and the adjusted target with the adjustment shown), the points, the rule as
  applied in words, and the evidence (links to the aggregates, visits, findings or records that produced it).
* Review and publication: the head changes an item only with a reason (``override_*``, audited); the run is
  published (通报); the CM signs each item (签字确认) or appeals (:class:`Appeal`). Accepting an appeal re-scores the
  item as a new version (``ScoreItem.version`` + 1, the old row kept with ``superseded_by``). A closed run is
  immutable; a correction is a new run version that keeps the old one (``Run.supersedes``).
* :class:`SpotCheck` / :class:`SpotFinding` — the city company's quarterly spot checks (市公司抽查) per retailer
  visited; findings feed the CMs' assessments and are published.

Scope: scores, items and appeals belong to a CM (``cm``): a CM sees only its own, a head its department; runs and
schemes are read by heads, clerks and the centre; inspectors see none of it.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cmdesk.core.scope import RestrictedManager
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.retail.models import Retailer


class ItemGroup(models.TextChoices):
    RESULT = "result", _("Results (业绩)")
    MARKET = "market", _("Market work (市场)")


class ItemCategory(models.TextChoices):
    ECONOMIC = "economic", _("Economic (经济类)")
    BASIC = "basic", _("Basic (基础类)")


class Source(models.TextChoices):
    KPI = "kpi", _("Sales data (KPI engine)")
    WORK = "work", _("Work records")
    SPOTCHECK = "spotcheck", _("Spot-check findings")
    MANUAL = "manual", _("Manual rating")


class Rule(models.TextChoices):
    LINEAR = "linear", _("Linear between a floor and a target, capped")
    STEPS = "steps", _("Step table")
    PER_OCCURRENCE = "per_occurrence", _("Deduction per occurrence, with a maximum")
    TARGET_PER_POINT = "target_per_point", _("Target with points per percentage point short or over")
    MANUAL = "manual", _("Manual rating with a justification")


class SchemeStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    RETIRED = "retired", _("Retired")


class Scheme(models.Model):
    """A versioned assessment scheme for an org unit (empty: the whole city) from ``valid_from`` on."""

    name = models.CharField(_("name"), max_length=100)
    org_unit = models.ForeignKey(
        OrgUnit, on_delete=models.PROTECT, null=True, blank=True, related_name="schemes", verbose_name=_("org unit")
    )
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    status = models.CharField(_("status"), max_length=16, choices=SchemeStatus.choices, default=SchemeStatus.DRAFT)
    valid_from = models.DateField(_("valid from (month)"))
    valid_to = models.DateField(_("valid until (month)"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = RestrictedManager()
    scope_global = True  # every role with the view permission reads the rules it is assessed by

    class Meta:
        verbose_name = _("assessment scheme")
        verbose_name_plural = _("assessment schemes")
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "org_unit", "version"], name="scheme_version_unique")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class SchemeItem(models.Model):
    """One indicator of a scheme: where its value comes from, its weight, its scoring rule."""

    scheme = models.ForeignKey(Scheme, on_delete=models.CASCADE, related_name="items", verbose_name=_("scheme"))
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    group = models.CharField(_("group"), max_length=16, choices=ItemGroup.choices)
    category = models.CharField(_("category"), max_length=16, choices=ItemCategory.choices)
    weight = models.DecimalField(
        _("weight (points)"), max_digits=5, decimal_places=2, validators=[MinValueValidator(0)]
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    metric = models.CharField(_("metric"), max_length=40, help_text=_("what is measured (see docs/assessment.md)"))
    params = models.JSONField(_("metric parameters"), default=dict, blank=True)
    rule = models.CharField(_("scoring rule"), max_length=20, choices=Rule.choices)
    rule_params = models.JSONField(_("rule parameters"), default=dict, blank=True)
    adjust_season = models.BooleanField(_("adjust the target for season"), default=False)
    adjust_potential = models.BooleanField(_("adjust the target for route potential"), default=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    objects = RestrictedManager()
    scope_global = True

    class Meta:
        verbose_name = _("scheme item")
        verbose_name_plural = _("scheme items")
        ordering = ["scheme", "position", "code"]
        constraints = [models.UniqueConstraint(fields=["scheme", "code"], name="scheme_item_code_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.weight})"


class RunStatus(models.TextChoices):
    SCORED = "scored", _("Scored, under review")
    PUBLISHED = "published", _("Published")
    CLOSED = "closed", _("Closed")


class Run(models.Model):
    """The scoring of a scheme for one month. A correction of a closed run is a new version that supersedes it."""

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="runs", verbose_name=_("scheme"))
    org_unit = models.ForeignKey(
        OrgUnit, on_delete=models.PROTECT, related_name="assessment_runs", verbose_name=_("org unit")
    )
    month = models.DateField(_("month"))
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    supersedes = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
        verbose_name=_("corrects"),
    )
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.SCORED)
    scored_at = models.DateTimeField(_("scored at"), null=True, blank=True)
    scored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    objects = RestrictedManager()
    scope_org_path = "org_unit__path"
    scope_cm = "scores__cm"

    class Meta:
        verbose_name = _("assessment run")
        verbose_name_plural = _("assessment runs")
        ordering = ["-month", "org_unit__path", "-version"]
        constraints = [models.UniqueConstraint(fields=["org_unit", "month", "version"], name="run_version_unique")]
        permissions = [
            ("review_run", _("Can change score items with a reason and publish runs")),
            ("close_run", _("Can close published runs")),
        ]

    def __str__(self) -> str:
        return f"{self.org_unit} {self.month:%Y-%m} v{self.version}"


class Score(models.Model):
    """One CM's assessment in a run: the total of its current items, and its rank in the run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="scores", verbose_name=_("run"))
    cm = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="scores", verbose_name=_("customer manager"))
    total = models.DecimalField(_("total"), max_digits=7, decimal_places=2, default=Decimal("0"))
    rank = models.PositiveSmallIntegerField(_("rank"), null=True, blank=True)

    objects = RestrictedManager()
    scope_org_path = "cm__org_unit__path"
    scope_cm = "cm"

    class Meta:
        verbose_name = _("score")
        verbose_name_plural = _("scores")
        ordering = ["run", "rank", "cm__employee_no"]
        constraints = [models.UniqueConstraint(fields=["run", "cm"], name="one_score_per_run_cm")]

    def __str__(self) -> str:
        return f"{self.cm.name} {self.run.month:%Y-%m}: {self.total}"


class ItemStatus(models.TextChoices):
    OPEN = "open", _("Awaiting signature")
    SIGNED = "signed", _("Signed")
    APPEALED = "appealed", _("Appealed")
    SUPERSEDED = "superseded", _("Superseded")


class ScoreItem(models.Model):
    """One indicator of one CM's score: value, target, points, the rule as applied, the evidence, the sign-off.

    ``evidence`` is a list of {"kind": "kpi"|"visit"|"finding"|"record"|"note", "label": …, "url": …, "value": …}.
    A re-scored item (an accepted appeal) is a new row with ``version`` + 1; the old row keeps its values and points to
    the new one through ``superseded_by``. Only rows with ``superseded_by`` empty count in the total.
    """

    score = models.ForeignKey(Score, on_delete=models.CASCADE, related_name="items", verbose_name=_("score"))
    scheme_item = models.ForeignKey(SchemeItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("indicator"))
    cm = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+", verbose_name=_("customer manager"))
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    superseded_by = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="supersedes",
        verbose_name=_("superseded by"),
    )
    measured = models.DecimalField(_("measured"), max_digits=14, decimal_places=4, null=True, blank=True)
    target = models.DecimalField(_("target"), max_digits=14, decimal_places=4, null=True, blank=True)
    adjusted_target = models.DecimalField(_("adjusted target"), max_digits=14, decimal_places=4, null=True, blank=True)
    adjustment = models.JSONField(_("target adjustment"), default=dict, blank=True)
    computed_points = models.DecimalField(_("computed points"), max_digits=7, decimal_places=2, default=Decimal("0"))
    points = models.DecimalField(_("points"), max_digits=7, decimal_places=2, default=Decimal("0"))
    rule_text = models.TextField(_("rule applied"), blank=True)
    evidence = models.JSONField(_("evidence"), default=list, blank=True)
    override_reason = models.TextField(_("reason for the change"), blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    overridden_at = models.DateTimeField(_("changed at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ItemStatus.choices, default=ItemStatus.OPEN)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)

    objects = RestrictedManager()
    scope_org_path = "cm__org_unit__path"
    scope_cm = "cm"

    class Meta:
        verbose_name = _("score item")
        verbose_name_plural = _("score items")
        ordering = ["score", "scheme_item__position", "version"]
        constraints = [
            models.UniqueConstraint(fields=["score", "scheme_item", "version"], name="score_item_version_unique")
        ]
        permissions = [("sign_scoreitem", _("Can sign or appeal one's own score items"))]

    def __str__(self) -> str:
        return f"{self.cm.name} {self.scheme_item.name} v{self.version}: {self.points}"


class AppealStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("status", "Open")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class Appeal(models.Model):
    """A CM's appeal against one score item; accepting it re-scores the item as a new version."""

    item = models.ForeignKey(ScoreItem, on_delete=models.PROTECT, related_name="appeals", verbose_name=_("score item"))
    cm = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="appeals", verbose_name=_("customer manager"))
    reason = models.TextField(_("reason"))
    to_city = models.BooleanField(_("addressed to the city company"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=AppealStatus.choices, default=AppealStatus.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision = models.TextField(_("decision and reason"), blank=True)
    new_item = models.OneToOneField(
        ScoreItem, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("re-scored item")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = RestrictedManager()
    scope_org_path = "cm__org_unit__path"
    scope_cm = "cm"

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["-created_at", "-id"]
        permissions = [("decide_appeal", _("Can accept or reject appeals"))]

    def __str__(self) -> str:
        return f"{self.cm.name}: {self.item.scheme_item.name} ({self.get_status_display()})"


class FindingCategory(models.TextChoices):
    PRICE_TAGS = "price_tags", _("Price tags (明码标价)")
    DISPLAY = "display", _("Display (卷烟陈列)")
    TERMINAL = "terminal", _("Terminal building (终端建设)")
    SATISFACTION = "satisfaction", _("Satisfaction (客户满意度)")
    KEY_BRANDS = "key_brands", _("Key brands (重点品牌培育)")
    INFO = "info", _("Information upkeep (信息维护)")
    KEY_TASK = "key_task", _("The quarter's key task")


class SpotCheck(models.Model):
    """A city company spot check (市公司抽查) of one retailer in a quarter; its CM is the route's CM at the time."""

    quarter = models.DateField(_("quarter"), help_text=_("the first day of the quarter"))
    date = models.DateField(_("date"))
    retailer = models.ForeignKey(
        Retailer, on_delete=models.PROTECT, related_name="spot_checks", verbose_name=_("retailer")
    )
    cm = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="spot_checks", verbose_name=_("customer manager")
    )
    checker = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="spot_checks_made", verbose_name=_("checked by")
    )
    published = models.BooleanField(_("published"), default=False)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = RestrictedManager()
    scope_org_path = "cm__org_unit__path"
    scope_cm = "cm"

    class Meta:
        verbose_name = _("spot check")
        verbose_name_plural = _("spot checks")
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return f"{self.date} {self.retailer}"


class SpotFinding(models.Model):
    """One finding of a spot check: in order or not, and the points it costs the CM."""

    spot_check = models.ForeignKey(
        SpotCheck, on_delete=models.CASCADE, related_name="findings", verbose_name=_("spot check")
    )
    category = models.CharField(_("category"), max_length=16, choices=FindingCategory.choices)
    ok = models.BooleanField(_("in order"), default=True)
    score = models.PositiveSmallIntegerField(_("score (1–5)"), null=True, blank=True)
    deduction = models.DecimalField(
        _("deduction (points)"), max_digits=5, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    objects = RestrictedManager()
    scope_org_path = "spot_check__cm__org_unit__path"
    scope_cm = "spot_check__cm"

    class Meta:
        verbose_name = _("spot-check finding")
        verbose_name_plural = _("spot-check findings")
        ordering = ["spot_check", "category"]
        constraints = [
            models.UniqueConstraint(fields=["spot_check", "category"], name="one_finding_per_check_category"),
            models.CheckConstraint(condition=Q(deduction__gte=0), name="finding_deduction_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.spot_check}: {self.get_category_display()}"
