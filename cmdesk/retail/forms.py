"""Route and retailer forms. Choices are scoped to the user; the writes themselves go through cmdesk.retail.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cmdesk.core.widgets import DateInput
from cmdesk.org.choices import Role
from cmdesk.org.forms import OrgUnitChoiceField, org_units_in_scope
from cmdesk.org.models import OrgUnit, Staff

from .choices import Weekday
from .models import TIER_MAX, Retailer, Route
from .services import RETAILER_FIELDS, retailer_editable_fields

DATE_WIDGET = DateInput()


class RetailerForm(forms.ModelForm):
    """Only the fields the user may set are on the form (a CM's are limited: no route, tier, status or licence)."""

    reason = forms.CharField(label=_("Reason"), max_length=300, required=False, help_text=_("Kept with a tier change."))

    class Meta:
        model = Retailer
        fields = [
            "licence_no",
            "shop_name",
            "owner_name",
            "phone",
            "address",
            "route",
            "visit_order",
            "market_type",
            "business_format",
            "floor_area",
            "display_fixtures",
            "order_method",
            "settlement_method",
            "settlement_account",
            "tier",
            "credit_grade",
            "status",
            "latitude",
            "longitude",
            "opened_on",
            "closed_on",
        ]
        widgets = {
            "opened_on": DATE_WIDGET,
            "closed_on": DATE_WIDGET,
            "tier": forms.NumberInput(attrs={"min": 1, "max": TIER_MAX}),
            "latitude": forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            "longitude": forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            "phone": forms.TextInput(attrs={"inputmode": "tel"}),
        }

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = retailer_editable_fields(user)
        for name in [n for n in self.fields if n in RETAILER_FIELDS and n not in allowed]:
            del self.fields[name]
        if "tier" not in self.fields:
            del self.fields["reason"]
        if "route" in self.fields:
            self.fields["route"].queryset = Route.objects.restrict(user, "view").order_by("code")
        if "licence_no" in self.fields:
            self.fields["licence_no"].widget.attrs.setdefault("inputmode", "numeric")

    def service_data(self) -> dict[str, Any]:
        """The cleaned values of the record fields this form has (what the service may apply)."""
        return {name: self.cleaned_data[name] for name in self.fields if name in RETAILER_FIELDS}


class WeekdaysField(forms.TypedMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Weekday.choices, coerce=int, required=False, **kwargs)

    def clean(self, value: Any) -> list[int]:
        return sorted(set(super().clean(value)))


class RouteForm(forms.ModelForm):
    """A route's own fields; the code is fixed once created, and the CM changes through RouteAssignForm."""

    org_unit = OrgUnitChoiceField(queryset=OrgUnit.objects.none(), label=_("Org unit"))
    order_weekdays = WeekdaysField(label=_("Order weekdays"))
    delivery_weekdays = WeekdaysField(label=_("Delivery weekdays"))

    class Meta:
        model = Route
        fields = [
            "code",
            "name",
            "org_unit",
            "market_type",
            "length_km",
            "visit_cycle_days",
            "order_weekdays",
            "delivery_weekdays",
            "active",
        ]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["code"]
        self.fields["org_unit"].queryset = org_units_in_scope(user)

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.fields}


class RouteAssignForm(forms.Form):
    """Hand the route to another customer manager (or to none), from a date, with a reason."""

    cm = forms.ModelChoiceField(
        queryset=Staff.objects.none(),
        required=False,
        label=_("New customer manager"),
        empty_label=_("(none)"),
    )
    started = forms.DateField(label=_("From"), widget=DATE_WIDGET)
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args: Any, user: Any, route: Route, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"cm": route.cm_id, "started": timezone.localdate()})
        super().__init__(*args, **kwargs)
        self.fields["cm"].queryset = (
            Staff.objects.restrict(user, "view").filter(role=Role.CM, active=True).order_by("name")
        )
