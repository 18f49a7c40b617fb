"""The "135" work method's records (DOMAIN.md, seeds 000–002).

* :class:`WorkRules` — deadlines, visit frequency by tier, check-in distance, minimum visit length; one row per org unit
  (the nearest ancestor's row applies; the row without an org unit is the city default).
* 月计划 :class:`MonthlyPlan` with its route, brand and focus-retailer lines; every submission and decision is kept as a
  :class:`PlanRevision` (a frozen snapshot), so the versions of a plan stay readable.
* 周安排 :class:`WeekArrangement` and its :class:`PlannedVisit` rows (which retailer on which day, in route order).
* 日拜访 :class:`Visit` (check-in with location and distance to the shop, checklist answers :class:`VisitCheck`, photos,
  needs and complaints :class:`Feedback`, retailer record changes :class:`RetailerUpdate`, check-out and duration).
* 周总结 / 月总结 / 年度总结 :class:`Summary`: sections drafted from the KPI engine, edited by the CM,
  commented by the head.
* :class:`Reminder`: in-app reminders for late or missing items.

Every record belongs to one customer manager (``cm``); scope follows the CM's org unit, so a CM sees only its own
records, a head its department's, the centre everything (cmdesk.core.scope).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cmdesk.catalog.models import Product
from cmdesk.core.scope import RestrictedManager
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.retail.models import Retailer, Route
from cmdesk.retail.validators import validate_weekdays


def default_visit_frequency() -> list[list[int]]:
    """[lowest tier, visits a month]: tiers 1–10 once, 11–20 twice, 21–30 every week (4)."""
    return [[1, 1], [11, 2], [21, 4]]


def default_workdays() -> list[int]:
    return [0, 1, 2, 3, 4, 5]


class WorkRules(models.Model):
    """The work method's rules for an org unit and everything under it (no org unit: the city default)."""

    org_unit = models.OneToOneField(
        OrgUnit, on_delete=models.CASCADE, null=True, blank=True, related_name="work_rules", verbose_name=_("org unit")
    )
    plan_due_day = models.PositiveSmallIntegerField(
        _("monthly plan due (day of the previous month)"),
        default=25,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
    )
    arrangement_due_weekday = models.PositiveSmallIntegerField(
        _("weekly arrangement due (weekday of the previous week)"),
        default=6,
        validators=[MaxValueValidator(6)],
        help_text=_("0 Monday … 6 Sunday"),
    )
    week_summary_due_days = models.PositiveSmallIntegerField(
        _("weekly summary due (days after the week)"), default=1, validators=[MaxValueValidator(14)]
    )
    month_summary_due_day = models.PositiveSmallIntegerField(
        _("monthly summary due (day of the next month)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
    )
    year_summary_due_day = models.PositiveSmallIntegerField(
        _("annual summary due (day of January)"), default=15, validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    workdays = models.JSONField(
        _("working weekdays"),
        default=default_workdays,
        validators=[validate_weekdays],
        help_text=_("0 Monday … 6 Sunday"),
    )
    visits_per_day = models.PositiveSmallIntegerField(
        _("visits a day at most"), default=20, validators=[MinValueValidator(1), MaxValueValidator(200)]
    )
    visit_frequency = models.JSONField(
        _("visits a month by tier"),
        default=default_visit_frequency,
        help_text=_("[lowest tier, visits a month] pairs, e.g. [[1, 1], [11, 2], [21, 4]]"),
    )
    class_visit_frequency = models.JSONField(
        _("visits a month by retailer class"),
        default=dict,
        blank=True,
        help_text=_(
            'class code or its beginning → visits a month, under the active 4+X scheme, e.g. {"C": 4, "XZ3": 1}; '
            "the longest matching code decides instead of the tier"
        ),
    )
    focus_visits_per_month = models.PositiveSmallIntegerField(
        _("visits a month to a focus retailer"), default=2, validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    far_checkin_m = models.PositiveIntegerField(
        _("check-in flagged beyond (m)"), default=500, validators=[MinValueValidator(10)]
    )
    min_visit_minutes = models.PositiveSmallIntegerField(
        _("shortest acceptable visit (minutes)"), default=10, validators=[MaxValueValidator(240)]
    )
    similarity_limit = models.DecimalField(
        _("summary similarity flagged from"),
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.80"),
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal("1"))],
        help_text=_("share of text equal to the previous period's summary"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RestrictedManager()
    scope_global = True

    class Meta:
        verbose_name = _("work rules")
        verbose_name_plural = _("work rules")
        constraints = [models.CheckConstraint(condition=Q(visits_per_day__gte=1), name="work_rules_visits_per_day")]

    def __str__(self) -> str:
        return str(self.org_unit) if self.org_unit_id else str(_("City default"))

    def clean(self) -> None:
        super().clean()
        rows = self.class_visit_frequency
        if not isinstance(rows, dict):
            raise ValidationError({"class_visit_frequency": _("Give an object of class code → visits a month.")})
        for code, visits in rows.items():
            if not str(code).strip() or not isinstance(visits, int) or not 1 <= visits <= 31:
                raise ValidationError(
                    {
                        "class_visit_frequency": _("%(code)r: visits a month must be a whole number from 1 to 31.")
                        % {"code": code}
                    }
                )

    def visits_for_class(self, code: str) -> int | None:
        """Visits a month set for the retailer's class (the longest matching code), or None to follow the tier."""
        best: tuple[str, int] | None = None
        for prefix, visits in (self.class_visit_frequency or {}).items():
            if code and code.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, visits)
        return None if best is None else max(1, int(best[1]))

    def visits_for_tier(self, tier: int | None) -> int:
        """Visits a month a retailer of this tier needs (at least one: every retailer is visited monthly)."""
        visits = 1
        for lowest, per_month in sorted(self.visit_frequency or []):
            if tier is not None and tier >= lowest:
                visits = per_month
        return max(1, int(visits))


class DeptTarget(models.Model):
    """A department's monthly volume target (cases), set by the head or the centre and broken down by route in plans."""

    org_unit = models.ForeignKey(
        OrgUnit, on_delete=models.CASCADE, related_name="work_targets", verbose_name=_("org unit")
    )
    month = models.DateField(_("month"), help_text=_("the first day of the month"))
    volume_cases = models.DecimalField(
        _("volume target (cases)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("set by"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RestrictedManager()
    scope_org_path = "org_unit__path"
    scope_cm = "org_unit__staff"  # CMs have no permission on targets; their plans carry the route breakdown

    class Meta:
        verbose_name = _("department target")
        verbose_name_plural = _("department targets")
        ordering = ["-month", "org_unit__path"]
        constraints = [models.UniqueConstraint(fields=["org_unit", "month"], name="one_target_per_unit_month")]

    def __str__(self) -> str:
        return f"{self.org_unit} {self.month:%Y-%m}: {self.volume_cases}"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned")


class MonthlyPlan(models.Model):
    """A CM's plan for a month (月计划): volume and key-brand targets, key tasks, focus retailers."""

    cm = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="monthly_plans", verbose_name=_("customer manager")
    )
    month = models.DateField(_("month"), help_text=_("the first day of the month"))
    status = models.CharField(_("status"), max_length=16, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    version = models.PositiveSmallIntegerField(_("version"), default=0, help_text=_("submissions so far"))
    volume_suggested = models.DecimalField(
        _("suggested volume (cases)"), max_digits=10, decimal_places=2, default=Decimal("0")
    )
    volume_target = models.DecimalField(
        _("volume target (cases)"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
    )
    key_tasks = models.TextField(_("key tasks"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    due = models.DateTimeField(_("due"))
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    head_comment = models.TextField(_("head's comment"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RestrictedManager()
    scope_org_path = "cm__org_unit__path"
    scope_cm = "cm"

    class Meta:
        verbose_name = _("monthly plan")
        verbose_name_plural = _("monthly plans")
        ordering = ["-month", "cm__employee_no"]
        constraints = [models.UniqueConstraint(fields=["cm", "month"], name="one_plan_per_cm_month")]
        permissions = [("review_monthlyplan", _("Can approve or return monthly plans"))]

    def __str__(self) -> str:
        return f"{self.cm.name} {self.month:%Y-%m}"

    @property
    def late(self) -> bool:
        return self.submitted_at is not None and self.submitted_at > self.due


class PlanRouteTarget(models.Model):
    """The plan's volume target for one of the CM's routes: suggestion, the CM's figure, reason for a change."""

    plan = models.ForeignKey(
        MonthlyPlan, on_delete=models.CASCADE, related_name="route_targets", verbose_name=_("plan")
    )
    route = models.ForeignKey(Route, on_delete=models.PROTECT, related_name="+", verbose_name=_("route"))
    suggested_cases = models.DecimalField(_("suggested (cases)"), max_digits=10, decimal_places=2, default=Decimal("0"))
    target_cases = models.DecimalField(
        _("target (cases)"), max_digits=10, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    reason = models.CharField(_("reason for the change"), max_length=300, blank=True)
    basis = models.JSONField(_("basis of the suggestion"), default=dict, blank=True)

    objects = RestrictedManager()
    scope_org_path = "plan__cm__org_unit__path"
    scope_cm = "plan__cm"

    class Meta:
        verbose_name = _("route target")
        verbose_name_plural = _("route targets")
        ordering = ["plan", "route__code"]
        constraints = [models.UniqueConstraint(fields=["plan", "route"], name="one_target_per_plan_route")]

    def __str__(self) -> str:
        return f"{self.plan} {self.route.code}: {self.target_cases}"


class PlanBrandTarget(models.Model):
    """The plan's target for one key brand (cases)."""

    plan = models.ForeignKey(
        MonthlyPlan, on_delete=models.CASCADE, related_name="brand_targets", verbose_name=_("plan")
    )
    brand = models.CharField(_("brand"), max_length=50)
    suggested_cases = models.DecimalField(_("suggested (cases)"), max_digits=10, decimal_places=2, default=Decimal("0"))
    target_cases = models.DecimalField(
        _("target (cases)"), max_digits=10, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    reason = models.CharField(_("reason for the change"), max_length=300, blank=True)
    basis = models.JSONField(_("basis of the suggestion"), default=dict, blank=True)

    objects = RestrictedManager()
    scope_org_path = "plan__cm__org_unit__path"
    scope_cm = "plan__cm"

    class Meta:
        verbose_name = _("key-brand target")
        verbose_name_plural = _("key-brand targets")
        ordering = ["plan", "brand"]
        constraints = [models.UniqueConstraint(fields=["plan", "brand"], name="one_target_per_plan_brand")]

    def __str__(self) -> str:
        return f"{self.plan} {self.brand}: {self.target_cases}"


class FocusReason(models.TextChoices):
    FALLING = "falling", _("Falling volume")
    STOPPED = "stopped", _("Stopped ordering")
    NOT_VISITED = "not_visited", _("Not visited")
    ANOMALY = "anomaly", _("Order anomaly")
    MANUAL = "manual", _("Chosen by the CM")


class PlanFocusRetailer(models.Model):
    """A retailer the plan focuses on (重点客户), suggested from the data or added by the CM."""

    plan = models.ForeignKey(
        MonthlyPlan, on_delete=models.CASCADE, related_name="focus_retailers", verbose_name=_("plan")
    )
    retailer = models.ForeignKey(Retailer, on_delete=models.CASCADE, related_name="+", verbose_name=_("retailer"))
    reason = models.CharField(_("reason"), max_length=16, choices=FocusReason.choices)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    suggested = models.BooleanField(_("suggested by cmdesk"), default=False)
    selected = models.BooleanField(_("kept in the plan"), default=True)

    objects = RestrictedManager()
    scope_org_path = "plan__cm__org_unit__path"
    scope_cm = "plan__cm"

    class Meta:
        verbose_name = _("focus retailer")
        verbose_name_plural = _("focus retailers")
        ordering = ["plan", "reason", "retailer__visit_order"]
        constraints = [models.UniqueConstraint(fields=["plan", "retailer"], name="one_focus_per_plan_retailer")]

    def __str__(self) -> str:
        return f"{self.plan}: {self.retailer} ({self.get_reason_display()})"


class PlanRevision(models.Model):
    """A frozen copy of a plan at a submission or a decision: the plan's versions stay readable."""

    plan = models.ForeignKey(MonthlyPlan, on_delete=models.CASCADE, related_name="revisions", verbose_name=_("plan"))
    version = models.PositiveSmallIntegerField(_("version"))
    status = models.CharField(_("status"), max_length=16, choices=PlanStatus.choices)
    snapshot = models.JSONField(_("snapshot"))
    comment = models.TextField(_("comment"), blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )

    objects = RestrictedManager()
    scope_org_path = "plan__cm__org_unit__path"
    scope_cm = "plan__cm"

    class Meta:
        verbose_name = _("plan revision")
        verbose_name_plural = _("plan revisions")
        ordering = ["plan", "-id"]

    def __str__(self) -> str:
        return f"{self.plan} v{self.version} {self.get_status_display()}"


class ArrangementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")


class WeekArrangement(models.Model):
    """A CM's week (周安排): which retailers on which day. ``week_start`` is the Monday."""

    cm = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="week_arrangements", verbose_name=_("customer manager")
    )
    week_start = models.DateField(_("week starting"))
    status = models.CharField(
        _("status"), max_length=16, choices=ArrangementStatus.choices, default=ArrangementStatus.DRAFT
    )
    due = models.DateTimeField(_("due"))
    generated_at = models.DateTimeField(_("generated at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    objects = RestrictedManager()
    scope_org_path = "cm__org_unit__path"
    scope_cm = "cm"

    class Meta:
        verbose_name = _("weekly arrangement")
        verbose_name_plural = _("weekly arrangements")
        ordering = ["-week_start", "cm__employee_no"]
        constraints = [models.UniqueConstraint(fields=["cm", "week_start"], name="one_arrangement_per_cm_week")]

    def __str__(self) -> str:
        return f"{self.cm.name} {self.week_start:%Y-%m-%d}"

    @property
    def week_end(self) -> datetime.date:
        return self.week_start + datetime.timedelta(days=6)

    @property
    def late(self) -> bool:
        return self.submitted_at is not None and self.submitted_at > self.due


class VisitReason(models.TextChoices):
    CYCLE = "cycle", _("Visit cycle")
    TIER = "tier", _("Tier frequency")
    CLASS = "class", _("Retailer class frequency")
    FOCUS = "focus", _("Focus retailer")
    ANOMALY = "anomaly", _("Order anomaly")
    MANUAL = "manual", _("Added by the CM")


class PlannedVisit(models.Model):
    """One retailer on one day of a week's arrangement, in route order (``seq``)."""

    arrangement = models.ForeignKey(
        WeekArrangement, on_delete=models.CASCADE, related_name="planned_visits", verbose_name=_("weekly arrangement")
    )
    cm = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="planned_visits", verbose_name=_("customer manager")
    )
    retailer = models.ForeignKey(
        Retailer, on_delete=models.CASCADE, related_name="planned_visits", verbose_name=_("retailer")
    )
    date = models.DateField(_("date"))
    seq = models.PositiveIntegerField(_("order in the day"), default=0)
    reason = models.CharField(_("reason"), max_length=16, choices=VisitReason.choices, default=VisitReason.CYCLE)
    moved_from = models.DateField(_("moved from"), null=True, blank=True)

    objects = RestrictedManager()
    scope_org_path = "cm__org_unit__path"
    scope_cm = "cm"

    class Meta:
        verbose_name = _("planned visit")
        verbose_name_plural = _("planned visits")
        ordering = ["date", "seq", "id"]
        constraints = [models.UniqueConstraint(fields=["cm", "retailer", "date"], name="one_planned_visit_per_day")]
        indexes = [models.Index(fields=["cm", "date"], name="plannedvisit_cm_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.retailer}"


class VisitType(models.TextChoices):
    ROUTINE = "routine", _("Routine visit")
    FOCUS = "focus", _("Focus visit")
    NEW_PRODUCT = "new_product", _("New product placement")
    SERVICE = "service", _("Service or complaint")


class AnswerKind(models.TextChoices):
    YES_NO = "yes_no", _("Yes or no")
    SCORE = "score", _("Score 1–5")
    NUMBER = "number", _("Number")
    TEXT = "text", _("Text")
    KEY_BRANDS = "key_brands", _("Key brands in stock")


class ChecklistItem(models.Model):
    """One point of the visit checklist (明码标价, 卷烟陈列 …) for the visit types it lists (none: every type)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("name in English"), max_length=100, blank=True)
    help_text = models.CharField(_("help text"), max_length=300, blank=True)
    answer = models.CharField(_("answer"), max_length=16, choices=AnswerKind.choices, default=AnswerKind.YES_NO)
    visit_types = models.JSONField(_("visit types"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    objects = RestrictedManager()
    scope_global = True

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name

    def applies_to(self, visit_type: str) -> bool:
        return not self.visit_types or visit_type in self.visit_types


class VisitStatus(models.TextChoices):
    OPEN = "open", _("In progress")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Visit(models.Model):
    """A visit to a retailer (日拜访): check-in (time, place, distance to the shop), checklist, photos, check-out."""

    cm = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="visits", verbose_name=_("customer manager"))
    retailer = models.ForeignKey(Retailer, on_delete=models.PROTECT, related_name="visits", verbose_name=_("retailer"))
    planned = models.OneToOneField(
        PlannedVisit,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="visit",
        verbose_name=_("planned visit"),
    )
    visit_type = models.CharField(_("visit type"), max_length=16, choices=VisitType.choices, default=VisitType.ROUTINE)
    status = models.CharField(_("status"), max_length=16, choices=VisitStatus.choices, default=VisitStatus.OPEN)
    checkin_at = models.DateTimeField(_("checked in at"))
    checkin_latitude = models.DecimalField(
        _("check-in latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    checkin_longitude = models.DecimalField(
        _("check-in longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    checkin_accuracy_m = models.PositiveIntegerField(_("location accuracy (m)"), null=True, blank=True)
    distance_m = models.PositiveIntegerField(
        _("distance to the shop (m)"), null=True, blank=True, help_text=_("empty when either location is unknown")
    )
    far = models.BooleanField(_("far from the shop"), default=False)
    no_location_reason = models.CharField(_("why no location"), max_length=200, blank=True)
    checkout_at = models.DateTimeField(_("checked out at"), null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RestrictedManager()
    scope_org_path = "cm__org_unit__path"
    scope_cm = "cm"

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-checkin_at", "-id"]
        indexes = [
            models.Index(fields=["cm", "checkin_at"], name="visit_cm_checkin"),
            models.Index(fields=["retailer", "checkin_at"], name="visit_retailer_checkin"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(checkout_at__isnull=True) | Q(checkout_at__gte=models.F("checkin_at")),
                name="visit_checkout_after_checkin",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.checkin_at:%Y-%m-%d %H:%M} {self.retailer}"


class VisitCheck(models.Model):
    """The answer to one checklist item in a visit. ``ok`` is False when the point is a problem (e.g. no price tags)."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="checks", verbose_name=_("visit"))
    item = models.ForeignKey(
        ChecklistItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("checklist item")
    )
    ok = models.BooleanField(_("in order"), null=True, blank=True)
    value = models.JSONField(_("answer"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    objects = RestrictedManager()
    scope_org_path = "visit__cm__org_unit__path"
    scope_cm = "visit__cm"

    class Meta:
        verbose_name = _("checklist answer")
        verbose_name_plural = _("checklist answers")
        ordering = ["visit", "item__position"]
        constraints = [models.UniqueConstraint(fields=["visit", "item"], name="one_answer_per_visit_item")]

    def __str__(self) -> str:
        return f"{self.visit}: {self.item}"


def photo_path(instance: VisitPhoto, filename: str) -> str:
    day = instance.visit.checkin_at
    return f"visits/{day:%Y/%m}/{instance.visit_id}-{filename}"


class VisitPhoto(models.Model):
    """A photo taken on a visit (display, price tags, shop front), stored under MEDIA_ROOT."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="photos", verbose_name=_("visit"))
    image = models.ImageField(_("photo"), upload_to=photo_path)
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    objects = RestrictedManager()
    scope_org_path = "visit__cm__org_unit__path"
    scope_cm = "visit__cm"

    class Meta:
        verbose_name = _("visit photo")
        verbose_name_plural = _("visit photos")
        ordering = ["visit", "id"]

    def __str__(self) -> str:
        return f"{self.visit}: {self.caption or self.image.name}"


class FeedbackKind(models.TextChoices):
    NEED = "need", _("Need")
    COMPLAINT = "complaint", _("Complaint")
    SUPPLY = "supply", _("Supply (brand short or wanted)")
    MARKET = "market", _("Market information")
    COMPLIANCE = "compliance", _("Compliance concern")
    OTHER = "other", _("Other")


class FeedbackStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("status", "Open")
    RESOLVED = "resolved", _("Resolved")


class Feedback(models.Model):
    """A need, complaint or piece of market information raised on a visit (or recorded by the CM later)."""

    cm = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="feedback", verbose_name=_("customer manager"))
    retailer = models.ForeignKey(
        Retailer, on_delete=models.CASCADE, related_name="feedback", verbose_name=_("retailer")
    )
    visit = models.ForeignKey(
        Visit, on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback", verbose_name=_("visit")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=FeedbackKind.choices)
    product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("product")
    )
    text = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=16, choices=FeedbackStatus.choices, default=FeedbackStatus.OPEN)
    due = models.DateField(_("due"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = RestrictedManager()
    scope_org_path = "cm__org_unit__path"
    scope_cm = "cm"

    class Meta:
        verbose_name = _("need or complaint")
        verbose_name_plural = _("needs and complaints")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.retailer}"


class RetailerUpdate(models.Model):
    """A change to a retailer's record made through a visit (the retailer's own audit log has it too)."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="retailer_updates", verbose_name=_("visit"))
    retailer = models.ForeignKey(Retailer, on_delete=models.CASCADE, related_name="+", verbose_name=_("retailer"))
    field = models.CharField(_("field"), max_length=40)
    before = models.TextField(_("before"), blank=True)
    after = models.TextField(_("after"), blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    objects = RestrictedManager()
    scope_org_path = "visit__cm__org_unit__path"
    scope_cm = "visit__cm"

    class Meta:
        verbose_name = _("retailer update")
        verbose_name_plural = _("retailer updates")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.retailer.licence_no} {self.field}: {self.before} → {self.after}"


class SummaryKind(models.TextChoices):
    WEEK = "week", _("Weekly summary")
    MONTH = "month", _("Monthly summary")
    YEAR = "year", _("Annual summary")


class SummaryStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    COMMENTED = "commented", _("Commented")


class Summary(models.Model):
    """A weekly, monthly or annual summary (周总结 / 月总结 / 年度总结).

    ``sections`` is {section key: text} in the kind's section order; ``figures`` keeps the numbers the draft was written
    from (so the text can be checked against the data); ``flags`` lists what is wrong: missing sections, text too
    similar to the previous period's.
    """

    cm = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="summaries", verbose_name=_("customer manager")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=SummaryKind.choices)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    status = models.CharField(_("status"), max_length=16, choices=SummaryStatus.choices, default=SummaryStatus.DRAFT)
    title = models.CharField(_("title"), max_length=200, blank=True)
    sections = models.JSONField(_("sections"), default=dict, blank=True)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    flags = models.JSONField(_("flags"), default=list, blank=True)
    similarity = models.DecimalField(
        _("similarity to the previous one"), max_digits=4, decimal_places=3, null=True, blank=True
    )
    due = models.DateTimeField(_("due"))
    drafted_at = models.DateTimeField(_("drafted at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    head_comment = models.TextField(_("head's comment"), blank=True)
    commented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("commented by"),
    )
    commented_at = models.DateTimeField(_("commented at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = RestrictedManager()
    scope_org_path = "cm__org_unit__path"
    scope_cm = "cm"

    class Meta:
        verbose_name = _("summary")
        verbose_name_plural = _("summaries")
        ordering = ["-period_start", "kind", "cm__employee_no"]
        constraints = [
            models.UniqueConstraint(fields=["cm", "kind", "period_start"], name="one_summary_per_cm_period"),
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")), name="summary_period_order"),
        ]
        permissions = [("comment_summary", _("Can comment on summaries"))]

    def __str__(self) -> str:
        return self.title or f"{self.cm.name} {self.get_kind_display()} {self.period_start}"

    @property
    def late(self) -> bool:
        return self.submitted_at is not None and self.submitted_at > self.due


class Reminder(models.Model):
    """An in-app reminder for a user (a late plan, a missing summary …). ``key`` keeps one reminder per item."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("user")
    )
    key = models.CharField(_("key"), max_length=100)
    text = models.CharField(_("text"), max_length=300)
    url = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["read_at", "-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_reminder_per_user_key")]

    def __str__(self) -> str:
        return self.text
