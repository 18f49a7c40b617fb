"""One FilterSet per model, used by the list pages and the API alike."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from cmdesk.org.models import OrgUnit, Staff

from .choices import BusinessFormat, CreditGrade, MarketType, OrderMethod, RetailerStatus, SettlementMethod
from .models import Retailer, Route


def _scoped_routes(request):
    return Route.objects.restrict(getattr(request, "user", None), "view") if request else Route.objects.none()


def _scoped_cms(request):
    return (
        Staff.objects.restrict(getattr(request, "user", None), "view").filter(role="cm")
        if request
        else Staff.objects.none()
    )


def search_retailers(queryset, value: str):
    """Licence number, shop name, owner, or pinyin (initials such as "hjyj" or full pinyin)."""
    value = (value or "").strip()
    if not value:
        return queryset
    q = Q(licence_no__icontains=value) | Q(shop_name__icontains=value) | Q(owner_name__icontains=value)
    if value.isascii():
        q |= Q(search_key__icontains=value.lower()) | Q(phone__icontains=value)
    return queryset.filter(q)


class RetailerFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    route = django_filters.ModelChoiceFilter(queryset=_scoped_routes, label=_("Route"))
    cm = django_filters.ModelChoiceFilter(field_name="route__cm", queryset=_scoped_cms, label=_("Customer manager"))
    org_unit = django_filters.ModelChoiceFilter(
        queryset=OrgUnit.objects.all(), method="filter_org", label=_("Org unit")
    )
    market_type = django_filters.ChoiceFilter(choices=MarketType.choices, label=_("Market type"))
    business_format = django_filters.ChoiceFilter(choices=BusinessFormat.choices, label=_("Business format"))
    order_method = django_filters.ChoiceFilter(choices=OrderMethod.choices, label=_("Order method"))
    settlement_method = django_filters.ChoiceFilter(choices=SettlementMethod.choices, label=_("Settlement method"))
    status = django_filters.ChoiceFilter(choices=RetailerStatus.choices, label=_("Status"))
    credit_grade = django_filters.ChoiceFilter(choices=CreditGrade.choices, label=_("Credit grade"))
    tier_min = django_filters.NumberFilter(field_name="tier", lookup_expr="gte", label=_("Tier from"))
    tier_max = django_filters.NumberFilter(field_name="tier", lookup_expr="lte", label=_("Tier to"))

    class Meta:
        model = Retailer
        fields = ["q", "route", "cm", "org_unit", "market_type", "business_format", "status"]

    def filter_q(self, queryset, name, value):
        return search_retailers(queryset, value)

    @extend_schema_field(OpenApiTypes.INT)  # the org unit's id
    def filter_org(self, queryset, name, value):
        return queryset.filter(route__org_unit__path__startswith=value.path) if value else queryset


class RouteFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    org_unit = django_filters.ModelChoiceFilter(
        queryset=OrgUnit.objects.all(), method="filter_org", label=_("Org unit")
    )
    cm = django_filters.ModelChoiceFilter(queryset=_scoped_cms, label=_("Customer manager"))
    market_type = django_filters.ChoiceFilter(choices=MarketType.choices, label=_("Market type"))
    active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        model = Route
        fields = ["q", "org_unit", "cm", "market_type", "active"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value) | Q(cm__name__icontains=value))

    def filter_org(self, queryset, name, value):
        return queryset.filter(org_unit__path__startswith=value.path) if value else queryset
