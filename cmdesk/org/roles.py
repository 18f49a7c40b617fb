"""Roles are Django groups. This table says what each role may do; scope (which rows) comes from cmdesk.core.scope.

`sync_role_groups()` makes the groups match the table; it runs after every migrate, so a fresh database is ready.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from .choices import Role

_REFERENCE_VIEW = ["org.view_orgunit", "catalog.view_product", "catalog.view_priceband"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CM: [
        *_REFERENCE_VIEW,
        "org.view_staff",
        "org.view_careerlevelchange",
        "retail.view_route",
        "retail.view_routeassignment",
        "retail.view_retailer",
        "retail.change_retailer",
        "retail.view_tierchange",
    ],
    Role.HEAD: [
        *_REFERENCE_VIEW,
        "org.view_staff",
        "org.change_staff",
        "org.view_careerlevelchange",
        "org.add_careerlevelchange",
        "retail.view_route",
        "retail.change_route",
        "retail.view_routeassignment",
        "retail.view_retailer",
        "retail.add_retailer",
        "retail.change_retailer",
        "retail.view_tierchange",
        "sales.view_orderimport",
    ],
    Role.CLERK: [
        *_REFERENCE_VIEW,
        "org.view_staff",
        "org.change_staff",
        "org.view_careerlevelchange",
        "retail.view_route",
        "retail.add_route",
        "retail.change_route",
        "retail.view_routeassignment",
        "retail.view_retailer",
        "retail.add_retailer",
        "retail.change_retailer",
        "retail.view_tierchange",
        "sales.view_orderimport",
        "sales.add_orderimport",
    ],
    Role.CENTRE: [
        *_REFERENCE_VIEW,
        "org.view_staff",
        "org.change_staff",
        "org.view_careerlevelchange",
        "org.add_careerlevelchange",
        "catalog.add_product",
        "catalog.change_product",
        "catalog.change_priceband",
        "retail.view_route",
        "retail.add_route",
        "retail.change_route",
        "retail.view_routeassignment",
        "retail.view_retailer",
        "retail.add_retailer",
        "retail.change_retailer",
        "retail.view_tierchange",
        "sales.view_orderimport",
        "sales.add_orderimport",
    ],
    # Inspectors read their area's retailers and routes; nothing of staff careers or (later) assessments.
    Role.INSPECTOR: [*_REFERENCE_VIEW, "retail.view_route", "retail.view_retailer"],
    Role.ADMIN: [],  # administrators are superusers
}


def group_name(role: str) -> str:
    return f"role:{role}"


@transaction.atomic
def sync_role_groups() -> dict[str, Group]:
    """Create or update one group per role with exactly the permissions in ROLE_PERMISSIONS."""
    wanted = {p for perms in ROLE_PERMISSIONS.values() for p in perms}
    by_key: dict[str, Permission] = {}
    for perm in Permission.objects.select_related("content_type").filter(
        content_type__app_label__in={p.split(".")[0] for p in wanted}
    ):
        by_key[f"{perm.content_type.app_label}.{perm.codename}"] = perm
    missing = wanted - by_key.keys()
    if missing:
        raise RuntimeError(f"permissions missing (run migrate first): {sorted(missing)}")
    groups = {}
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name(role))
        group.permissions.set([by_key[p] for p in perms])
        groups[role] = group
    return groups
