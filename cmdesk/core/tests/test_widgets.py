"""The date picker's value is ISO in every language: in zh-Hans Django's own format (2026/12/14) left the browser's
date input empty, and a retailer update submitted as shown cleared the shop's opening date."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django import forms
from django.utils import translation

from cmdesk.core.tests.factories import RetailerFactory, RouteFactory, build_org_tree
from cmdesk.supply.views.alerts import ReferForm
from cmdesk.work.forms_visits import RetailerUpdateForm


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_a_date_renders_iso(lang):
    with translation.override(lang):
        html = str(ReferForm(initial={"deadline": dt.date(2026, 12, 14)})["deadline"])
    assert 'type="date"' in html and 'value="2026-12-14"' in html


@pytest.mark.django_db
def test_a_retailer_update_submitted_as_shown_changes_nothing():
    tree = build_org_tree()
    shop = RetailerFactory(route=RouteFactory(org_unit=tree.area_a1), opened_on=dt.date(2019, 5, 3))
    with translation.override("zh-hans"):
        shown = RetailerUpdateForm(instance=shop)
        assert 'value="2019-05-03"' in str(shown["opened_on"])
        # what the browser posts back: each field's rendered value, a date input's only when it is ISO (the browser
        # neither shows nor sends any other value of an <input type="date">)
        data = {}
        for name, field in shown.fields.items():
            value = shown[name].value()
            if isinstance(field.widget, forms.DateInput):
                value = field.widget.format_value(value) or ""
                value = value if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else ""
            data[name] = "" if value is None else value
        submitted = RetailerUpdateForm(data, instance=shop)
        assert submitted.is_valid(), submitted.errors
    assert "opened_on" not in submitted.changed_data and submitted.cleaned_data["opened_on"] == dt.date(2019, 5, 3)
