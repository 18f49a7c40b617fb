"""Row-level access: one `restrict(user, action)` for pages, API, form choices and analytics.

A user's scope comes from its staff profile (role and org unit):

* customer manager (客户经理): only what is assigned to it (its routes and their retailers, its own staff record);
* department head (客服部主任): its department's subtree;
* clerk (内勤): its county branch's subtree;
* inspector (市管员): its org unit's subtree, read-only through its permissions;
* marketing centre (营销中心) and administrators: the whole city.

Each scoped model says how it reaches an org unit and a customer manager with two class attributes:

    scope_org_path = "route__org_unit__path"   # lookup to OrgUnit.path (a materialised tree path)
    scope_cm = "route__cm"                      # lookup to the assigned Staff

Models with ``scope_global = True`` are reference data every role may read (subject to permissions).
Permission (may this role do ``action`` on this model at all?) comes from Django groups, which are the roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

ACTIONS = ("view", "add", "change", "delete")


@dataclass(frozen=True)
class Scope:
    """Where a user may act: everything, an org subtree, or only what is assigned to one staff member."""

    kind: str  # "all" | "org" | "own" | "none"
    org_path: str = ""
    staff_id: int | None = None

    @property
    def is_all(self) -> bool:
        return self.kind == "all"


NO_SCOPE = Scope("none")
ALL_SCOPE = Scope("all")


def user_scope(user: AbstractBaseUser | Any) -> Scope:
    """The user's scope, cached on the user object for the request."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NO_SCOPE
    cached = getattr(user, "_cmdesk_scope", None)
    if cached is not None:
        return cached
    from cmdesk.org.models import Staff  # local import: core must not depend on org at import time

    if user.is_superuser:
        scope = ALL_SCOPE
    else:
        staff = Staff.objects.select_related("org_unit").filter(user=user, active=True).first()
        scope = NO_SCOPE if staff is None else staff.scope()
    user._cmdesk_scope = scope
    return scope


def has_model_perm(user: Any, model: type[models.Model], action: str) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    opts = model._meta
    return user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")


class RestrictedQuerySet(models.QuerySet):
    """A queryset that knows how to cut itself down to what a user may see or do."""

    def restrict(self, user: Any, action: str = "view") -> RestrictedQuerySet:
        if not has_model_perm(user, self.model, action):
            return self.none()
        if getattr(self.model, "scope_global", False):
            return self
        return self.in_scope(user_scope(user))

    def in_scope(self, scope: Scope) -> RestrictedQuerySet:
        """Filter by a scope alone (no permission check): for jobs and analytics that already hold a scope."""
        if scope.kind == "all":
            return self
        if scope.kind == "org" and scope.org_path:
            return self.filter(**{f"{self.model.scope_org_path}__startswith": scope.org_path})
        if scope.kind == "own" and scope.staff_id is not None:
            return self.filter(**{self.model.scope_cm: scope.staff_id})
        return self.none()


class RestrictedManager(models.Manager.from_queryset(RestrictedQuerySet)):
    pass


def in_scope(user: Any, obj: models.Model, action: str = "view") -> bool:
    """Is this saved object inside the user's scope for ``action``? Used to re-check after a write."""
    return type(obj)._default_manager.restrict(user, action).filter(pk=obj.pk).exists()
