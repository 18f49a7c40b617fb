"""Org units (a tree), staff and their career levels."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from cmdesk.core.scope import RestrictedManager, RestrictedQuerySet, Scope

from .choices import CareerLevel, Education, OrgKind, Role, SkillGrade


class OrgUnitQuerySet(RestrictedQuerySet, MP_NodeQuerySet):
    pass


class OrgUnitManager(MP_NodeManager):
    """Treebeard's manager (tree-safe deletes, path order) with `restrict()`."""

    def get_queryset(self) -> OrgUnitQuerySet:
        return OrgUnitQuerySet(self.model, using=self._db).order_by("path")

    def restrict(self, user, action: str = "view") -> OrgUnitQuerySet:
        return self.get_queryset().restrict(user, action)

    def new_root(self, **fields) -> OrgUnit:
        return self.add_root(instance=self.model(**fields))

    def new_child(self, parent: OrgUnit, **fields) -> OrgUnit:
        return self.add_child(parent, instance=self.model(**fields))


class OrgUnit(MP_Node):
    """A node of the company tree: city → marketing centre / county branch → department → market area (片区)."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=OrgKind.choices)

    objects = OrgUnitManager()
    scope_global = True  # the structure itself is not sensitive; what hangs on it is scoped
    scope_org_path = "path"

    node_order_by = None

    class Meta:
        verbose_name = _("org unit")
        verbose_name_plural = _("org units")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def ancestor_of_kind(self, kind: str) -> OrgUnit | None:
        if self.kind == kind:
            return self
        return OrgUnit.objects.get_ancestors(self).filter(kind=kind).last()


class Staff(models.Model):
    """A person in the marketing organisation, linked to a login. The role decides groups and scope."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff", verbose_name=_("user")
    )
    employee_no = models.CharField(_("employee number"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=50)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="staff", verbose_name=_("org unit"))
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    education = models.CharField(_("education"), max_length=16, choices=Education.choices, blank=True)
    skill_grade = models.CharField(_("skill grade"), max_length=16, choices=SkillGrade.choices, default=SkillGrade.NONE)
    career_level = models.CharField(
        _("career level"), max_length=16, choices=CareerLevel.choices, default=CareerLevel.TRAINEE
    )
    cm_since = models.DateField(_("customer manager since"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    objects = RestrictedManager()
    scope_org_path = "org_unit__path"
    scope_cm = "pk"

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        ordering = ["org_unit__path", "employee_no"]

    def __str__(self) -> str:
        return f"{self.name} ({self.employee_no})"

    def get_absolute_url(self) -> str:
        return reverse("org:staff_detail", args=[self.pk])

    def scope(self) -> Scope:
        """Where this staff member may act (see cmdesk.core.scope)."""
        if not self.active:
            return Scope("none")
        if self.role in (Role.CENTRE, Role.ADMIN):
            return Scope("all")
        if self.role == Role.CM:
            return Scope("own", staff_id=self.pk)
        root = self.org_unit
        if self.role == Role.CLERK:
            root = self.org_unit.ancestor_of_kind(OrgKind.BRANCH) or self.org_unit
        return Scope("org", org_path=root.path)

    def age_on(self, day: datetime.date) -> int | None:
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


def staff_of(user: Any) -> Staff | None:
    """The staff profile of a user, or None (an administrator without one, an anonymous user, the system)."""
    try:
        return user.staff
    except (AttributeError, Staff.DoesNotExist):
        return None


class CareerLevelChange(models.Model):
    """History of a staff member's career level (实习 → 初级 → 中级 → 高级 → 首席)."""

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="career_changes", verbose_name=_("staff"))
    level_from = models.CharField(_("from level"), max_length=16, choices=CareerLevel.choices, blank=True)
    level_to = models.CharField(_("to level"), max_length=16, choices=CareerLevel.choices)
    effective = models.DateField(_("effective date"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
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
    scope_org_path = "staff__org_unit__path"
    scope_cm = "staff"

    class Meta:
        verbose_name = _("career level change")
        verbose_name_plural = _("career level changes")
        ordering = ["staff", "-effective", "-id"]

    def __str__(self) -> str:
        return f"{self.staff}: {self.level_from or '-'} → {self.level_to} ({self.effective})"
