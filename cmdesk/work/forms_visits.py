"""Forms of the week arrangement and visit pages. They only parse input; the services validate and write."""

from __future__ import annotations

import datetime

from django import forms
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from cmdesk.catalog.models import Product
from cmdesk.core.widgets import DateInput
from cmdesk.retail.models import Retailer

from .models import FeedbackKind, VisitType
from .services.visits import RETAILER_FIELDS


def week_day_choices(monday: datetime.date) -> list[tuple[str, str]]:
    days = [monday + datetime.timedelta(days=i) for i in range(7)]
    return [(d.isoformat(), f"{date_format(d, 'D')} {d:%m-%d}") for d in days]


class MoveForm(forms.Form):
    date = forms.DateField(label=_("Day"))


class AddPlannedForm(forms.Form):
    retailer = forms.ModelChoiceField(label=_("Retailer"), queryset=Retailer.objects.none())
    date = forms.DateField(label=_("Day"))

    def __init__(self, *args, cm=None, **kwargs):
        super().__init__(*args, **kwargs)
        if cm is not None:
            self.fields["retailer"].queryset = (
                Retailer.objects.filter(route__cm=cm).select_related("route").order_by("route__code", "visit_order")
            )


class CheckInForm(forms.Form):
    retailer = forms.IntegerField(widget=forms.HiddenInput)
    planned = forms.IntegerField(required=False, widget=forms.HiddenInput)
    latitude = forms.DecimalField(required=False, max_digits=12, decimal_places=8, widget=forms.HiddenInput)
    longitude = forms.DecimalField(required=False, max_digits=12, decimal_places=8, widget=forms.HiddenInput)
    accuracy = forms.DecimalField(required=False, min_value=0, widget=forms.HiddenInput)
    visit_type = forms.ChoiceField(label=_("Visit type"), choices=VisitType.choices, initial=VisitType.ROUTINE)
    no_location_reason = forms.CharField(
        label=_("Why no location"),
        required=False,
        max_length=200,
        help_text=_("Only when the phone cannot give a location (location turned off, no signal …)."),
    )


class PhotoForm(forms.Form):
    image = forms.FileField(
        label=_("Photo"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    caption = forms.CharField(label=_("Caption"), required=False, max_length=200)


class FeedbackForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=FeedbackKind.choices)
    text = forms.CharField(label=_("What the retailer needs or reports"), widget=forms.Textarea(attrs={"rows": 3}))
    product = forms.ModelChoiceField(
        label=_("Product"), required=False, queryset=Product.objects.order_by("brand", "name")
    )
    due = forms.DateField(label=_("Due"), required=False, widget=DateInput())


class RetailerUpdateForm(forms.ModelForm):
    """The retailer fields a CM may correct on a visit; ``location_here`` takes the check-in location as the shop's."""

    location_here = forms.BooleanField(label=_("Set the shop's location to where I checked in"), required=False)

    class Meta:
        model = Retailer
        fields = [f for f in RETAILER_FIELDS if f not in ("latitude", "longitude")]
        widgets = {
            "opened_on": DateInput(),
            "closed_on": DateInput(),
        }

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data if name in self.Meta.fields}


class NotesForm(forms.Form):
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class VisitFilterForm(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())
    q = forms.CharField(label=_("Retailer"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    far = forms.BooleanField(label=_("Far check-ins only"), required=False)
    cm = forms.IntegerField(required=False, widget=forms.HiddenInput)
    month = forms.DateField(required=False, input_formats=["%Y-%m"], widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from .models import VisitStatus

        self.fields["status"].choices = [("", _("Any status")), *VisitStatus.choices]
