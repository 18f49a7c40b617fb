"""Tables of routes and retailers. Columns read only the row and what the list view select_related()s."""

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from cmdesk.core.templatetags.cmdesk import weekday_names

from .choices import STATUS_COLOUR
from .models import Retailer, Route

TABLE_ATTRS = {"class": "table table-sm table-hover align-middle text-nowrap"}


class RetailerTable(tables.Table):
    licence_no = tables.Column(linkify=True)
    shop_name = tables.Column(linkify=True)
    route = tables.Column(verbose_name=_("Route"), accessor="route__code", order_by=("route__code",))
    cm = tables.Column(verbose_name=_("Customer manager"), accessor="route__cm__name", order_by=("route__cm__name",))
    tier = tables.Column(order_by=("tier",))
    status = tables.Column()

    class Meta:
        model = Retailer
        fields = (
            "licence_no",
            "shop_name",
            "owner_name",
            "phone",
            "route",
            "cm",
            "business_format",
            "market_type",
            "tier",
            "order_method",
            "status",
        )
        attrs = TABLE_ATTRS
        empty_text = _("No retailers.")

    def render_tier(self, record):
        return record.tier_label

    def render_status(self, value, record):
        return format_html(
            '<span class="badge text-bg-{}">{}</span>', STATUS_COLOUR.get(record.status, "secondary"), value
        )


class RouteRetailerTable(RetailerTable):
    """A route's retailers in visiting order (route and CM are the page's own)."""

    class Meta(RetailerTable.Meta):
        fields = (
            "visit_order",
            "shop_name",
            "licence_no",
            "owner_name",
            "phone",
            "address",
            "business_format",
            "tier",
            "status",
        )
        exclude = ("route", "cm", "market_type", "order_method")
        sequence = fields
        order_by = ("visit_order",)


class RouteTable(tables.Table):
    code = tables.Column(linkify=True)
    name = tables.Column(linkify=True)
    org_unit = tables.Column(accessor="org_unit__name", verbose_name=_("Org unit"), order_by=("org_unit__path",))
    cm = tables.Column(accessor="cm__name", verbose_name=_("Customer manager"), order_by=("cm__name",))
    retailer_count = tables.Column(verbose_name=_("Retailers"), attrs={"td": {"class": "text-end"}})
    order_weekdays = tables.Column(orderable=False)
    active = tables.BooleanColumn()

    class Meta:
        model = Route
        fields = (
            "code",
            "name",
            "org_unit",
            "cm",
            "market_type",
            "length_km",
            "retailer_count",
            "visit_cycle_days",
            "order_weekdays",
            "active",
        )
        attrs = TABLE_ATTRS
        empty_text = _("No routes.")

    def render_order_weekdays(self, value):
        return weekday_names(value)
