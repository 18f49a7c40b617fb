"""Roles are Django groups. This table says what each role may do; scope (which rows) comes from cmdesk.core.scope.

`sync_role_groups()` makes the groups match the table; it runs after every migrate, so a fresh database is ready.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from .choices import Role

_REFERENCE_VIEW = ["org.view_orgunit", "catalog.view_product", "catalog.view_priceband"]

# The 135 work method. CMs write their own plans, arrangements, visits and summaries; heads review them; clerks and the
# centre read them. Reading a record never needs more than its view permission; approving a plan and commenting on a
# summary are their own permissions.
_WORK_CM = [
    "work.view_monthlyplan",
    "work.add_monthlyplan",
    "work.change_monthlyplan",
    "work.view_weekarrangement",
    "work.add_weekarrangement",
    "work.change_weekarrangement",
    "work.view_plannedvisit",
    "work.add_plannedvisit",
    "work.change_plannedvisit",
    "work.delete_plannedvisit",
    "work.view_visit",
    "work.add_visit",
    "work.change_visit",
    "work.view_visitcheck",
    "work.view_visitphoto",
    "work.add_visitphoto",
    "work.view_feedback",
    "work.add_feedback",
    "work.change_feedback",
    "work.view_summary",
    "work.add_summary",
    "work.change_summary",
    "work.view_checklistitem",
]
_WORK_READ = [
    "work.view_monthlyplan",
    "work.view_weekarrangement",
    "work.view_plannedvisit",
    "work.view_visit",
    "work.view_visitcheck",
    "work.view_visitphoto",
    "work.view_feedback",
    "work.view_summary",
    "work.view_checklistitem",
    "work.view_depttarget",
]
_WORK_HEAD = [
    *_WORK_READ,
    "work.review_monthlyplan",
    "work.comment_summary",
    "work.change_feedback",
    "work.add_depttarget",
    "work.change_depttarget",
]

# The monthly assessment. CMs read their own scores, sign or appeal them; heads score, review, publish and decide
# appeals for their department; the centre also owns the schemes and the spot checks. Inspectors see none of it.
_ASSESS_READ = [
    "assess.view_scheme",
    "assess.view_schemeitem",
    "assess.view_run",
    "assess.view_score",
    "assess.view_scoreitem",
    "assess.view_appeal",
    "assess.view_spotcheck",
    "assess.view_spotfinding",
]
_ASSESS_CM = [*_ASSESS_READ, "assess.add_appeal", "assess.sign_scoreitem"]
_ASSESS_HEAD = [*_ASSESS_READ, "assess.add_run", "assess.review_run", "assess.close_run", "assess.decide_appeal"]
_ASSESS_CLERK = [*_ASSESS_READ, "assess.add_run"]
_ASSESS_CENTRE = [
    *_ASSESS_HEAD,
    "assess.add_scheme",
    "assess.change_scheme",
    "assess.add_schemeitem",
    "assess.change_schemeitem",
    "assess.delete_schemeitem",
    "assess.add_spotcheck",
    "assess.change_spotcheck",
    "assess.add_spotfinding",
    "assess.change_spotfinding",
]

# The supply side. CMs read their retailers' tiers, classes, allotments, forecasts and alerts, adjust allotments
# (logged) and refer alerts; heads and clerks also run the recomputes and allocations of their unit; the centre owns
# the schemes and rules. Inspectors read the alerts of their area and answer the referrals sent to them.
_SUPPLY_READ = [
    "supply.view_tierscheme",
    "supply.view_tierrun",
    "supply.view_tierscore",
    "supply.view_classscheme",
    "supply.view_retailerclass",
    "supply.view_allocation",
    "supply.view_allocationline",
    "supply.view_allocationadjustment",
    "supply.view_forecastrun",
    "supply.view_forecast",
    "supply.view_alertrules",
    "supply.view_alert",
    "supply.view_referral",
]
_SUPPLY_CM = [*_SUPPLY_READ, "supply.adjust_allocationline", "supply.change_alert", "supply.refer_alert"]
_SUPPLY_HEAD = [
    *_SUPPLY_CM,
    "supply.add_tierrun",
    "supply.add_allocation",
    "supply.change_allocation",
    "supply.publish_allocation",
    "supply.add_forecastrun",
    "supply.add_alert",
    "supply.change_retailerclass",  # manual class levels (e.g. display) of the retailers in scope
]
_SUPPLY_CLERK = [*_SUPPLY_HEAD]
_SUPPLY_CENTRE = [
    *_SUPPLY_HEAD,
    "supply.apply_tierrun",
    "supply.add_tierscheme",
    "supply.change_tierscheme",
    "supply.add_classscheme",
    "supply.change_classscheme",
    "supply.add_alertrules",
    "supply.change_alertrules",
]
_SUPPLY_INSPECTOR = [
    "supply.view_alertrules",
    "supply.view_alert",
    "supply.view_referral",
    "supply.answer_referral",
]

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
        *_WORK_CM,
        *_ASSESS_CM,
        *_SUPPLY_CM,
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
        *_WORK_HEAD,
        *_ASSESS_HEAD,
        *_SUPPLY_HEAD,
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
        *_WORK_READ,
        *_ASSESS_CLERK,
        *_SUPPLY_CLERK,
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
        *_WORK_HEAD,
        *_ASSESS_CENTRE,
        *_SUPPLY_CENTRE,
    ],
    # Inspectors read their area's retailers and routes; nothing of staff careers or (later) assessments.
    Role.INSPECTOR: [*_REFERENCE_VIEW, "retail.view_route", "retail.view_retailer", *_SUPPLY_INSPECTOR],
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
