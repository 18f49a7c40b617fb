"""Forms of the assessment run pages: the head's change with a reason, the CM's appeal, the appeal decision.

The forms only parse input; the rules (reason required, signed items frozen, closed runs immutable) are the review
services' (cmdesk.assess.services.review), whose ValidationErrors the views show on the form.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class OverrideForm(forms.Form):
    """The head's change of one item's points; the reason is shown to the CM and kept in the audit log."""

    points = forms.DecimalField(label=_("New points"), max_digits=7, decimal_places=2)
    reason = forms.CharField(
        label=_("Reason for the change"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, strip=True
    )


class AppealForm(forms.Form):
    """The CM's appeal against one item, to its head or to the city company."""

    reason = forms.CharField(
        label=_("Why do you appeal?"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, strip=True
    )
    to_city = forms.BooleanField(label=_("Address the appeal to the city company"), required=False)


class DecisionForm(forms.Form):
    """Accept (with the new points) or reject (with a reason) an appeal."""

    accept = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("1", _("Accept and re-score")), ("0", _("Reject"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    points = forms.DecimalField(label=_("New points"), max_digits=7, decimal_places=2, required=False)
    decision = forms.CharField(
        label=_("Decision and reason"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        required=False,
        strip=True,
    )
