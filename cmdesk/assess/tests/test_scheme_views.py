"""Scheme pages and API: the centre makes a new version, edits its items (weights must sum to exactly 100, rule
parameters checked per row), activates it; heads, clerks and CMs read; inspectors see nothing; a used or active
version is never edited in place."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from cmdesk.assess.forms_schemes import SchemeItemForm
from cmdesk.assess.models import Run, Scheme, SchemeItem, SchemeStatus
from cmdesk.assess.services.schemes import default_scheme, new_version, save_draft_items
from cmdesk.work.tests.world import build_work_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return build_work_world(orders=False)


def _login(client, staff):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the assertions read the English messages
    client.force_login(staff.user)
    return client


def _post_data(scheme: Scheme, changes: dict[str, dict] | None = None, meta: dict | None = None) -> dict:
    """The edit form's POST data for the scheme's items as they are, with ``changes`` by item code."""
    items = list(scheme.items.order_by("position", "code"))
    data = {
        "items-TOTAL_FORMS": str(len(items) + 1),
        "items-INITIAL_FORMS": str(len(items)),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "meta-valid_from": f"{scheme.valid_from:%Y-%m}",
        "meta-description": scheme.description,
        **(meta or {}),
    }
    for n, item in enumerate(items):
        initial = SchemeItemForm.initial_from(item)
        initial.update((changes or {}).get(item.code, {}))
        for key, value in initial.items():
            if isinstance(value, bool):
                if value:
                    data[f"items-{n}-{key}"] = "on"
            elif value is not None:
                data[f"items-{n}-{key}"] = str(value)
    return data


def test_centre_creates_a_version_fixes_the_weights_and_activates_it(client, w):
    v1 = default_scheme()
    c = _login(client, w.centre)
    response = c.get(reverse("assess:scheme_list"))
    assert response.status_code == 200
    assert [s.pk for s in response.context["schemes"]] == [v1.pk]

    with translation.override("en"):
        response = c.get(reverse("assess:scheme_detail", args=[v1.pk]))
    assert response.status_code == 200
    groups = response.context["groups"]
    assert [(g["key"], g["weight"]) for g in groups] == [("result", Decimal("50")), ("market", Decimal("50"))]
    assert [(c["key"], c["weight"]) for c in groups[1]["categories"]] == [
        ("economic", Decimal("10")),
        ("basic", Decimal("40")),
    ]
    words = {r["item"].code: r["rule_words"] for g in groups for c in g["categories"] for r in c["items"]}
    assert words["key-brand-growth"] == "0 points at or below -10%, the full 15 at 5% or more, linear in between"
    assert words["forecast-accuracy"] == (
        "The full 15 at 95% or more; 0.5 less per point short, never below 0; 1 more per point over, at most 20 in all"
    )
    assert words["visit-duration"] == "10 minus 1 per occurrence, at most 10 deducted, never below 0"
    assert words["info-collected"] == "Points by step: 1 from 1, 2 from 3, 3 from 6, 4 from 10; 0 below 1"
    assert response.context["can_new_version"] and not response.context["can_edit"]  # active: not in place
    assert response.context["total"] == Decimal("100")

    response = c.get(reverse("assess:scheme_new_version", args=[v1.pk]))
    assert response.status_code == 200 and 'value="2020-01"' in response.content.decode()
    response = c.post(reverse("assess:scheme_new_version", args=[v1.pk]), {"valid_from": "2027-13"})
    assert response.status_code == 400 and response.context["form"].errors["valid_from"] == [
        "Give a month as YYYY-MM, not '2027-13'."
    ]
    response = c.post(reverse("assess:scheme_new_version", args=[v1.pk]), {"valid_from": "2027-01"})
    v2 = Scheme.objects.get(name=v1.name, version=2)
    assert response.status_code == 302 and response.url == reverse("assess:scheme_edit", args=[v2.pk])
    assert v2.status == SchemeStatus.DRAFT and v2.valid_from == dt.date(2027, 1, 1) and v2.items.count() == 15

    response = c.get(reverse("assess:scheme_edit", args=[v2.pk]))
    assert response.status_code == 200 and len(response.context["formset"].forms) == 16

    # 15 → 14: the weights sum to 99; the service's message is shown and nothing is saved
    with translation.override("en"):
        response = c.post(
            reverse("assess:scheme_edit", args=[v2.pk]), _post_data(v2, {"key-brand-growth": {"weight": "14"}})
        )
    assert response.status_code == 400
    assert response.context["formset"].non_form_errors() == ["The weights sum to 99; they must sum to exactly 100."]
    assert response.context["total"] == Decimal("99")
    assert "The weights sum to 99; they must sum to exactly 100." in response.content.decode()
    assert v2.items.get(code="key-brand-growth").weight == Decimal("15")

    # a rule parameter wrong in one row: the error is on that row, not elsewhere
    with translation.override("en"):
        response = c.post(
            reverse("assess:scheme_edit", args=[v2.pk]),
            _post_data(v2, {"growth-rate": {"p_floor": "5"}, "referrals": {"p_steps": "0:2, x"}}),
        )
    assert response.status_code == 400
    forms = response.context["formset"].forms
    by_code = {f["code"].value(): f for f in forms[:15]}
    assert by_code["growth-rate"].non_field_errors() == ["floor and target must differ (floor 5 = target)."]
    assert by_code["referrals"].errors["p_steps"] == ["Write each step as threshold:points (e.g. 3:2), not 'x'."]
    assert [f["code"].value() for f in forms[:15] if f.errors] == ["growth-rate", "referrals"]

    # 15 → 14 and 5 → 6: 100; saved (audited), the description and month kept
    response = c.post(
        reverse("assess:scheme_edit", args=[v2.pk]),
        _post_data(v2, {"key-brand-growth": {"weight": "14"}, "avg-price-growth": {"weight": "6", "p_target": "4.5"}}),
    )
    assert response.status_code == 302 and response.url == reverse("assess:scheme_detail", args=[v2.pk])
    item = v2.items.get(code="avg-price-growth")
    assert (item.weight, item.rule_params) == (Decimal("6"), {"floor": 0, "target": "4.5"})
    assert v2.items.get(code="key-brand-growth").weight == Decimal("14")
    entry = LogEntry.objects.get_for_object(item).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == w.centre.user and entry.changes_dict["weight"] == ["5.00", "6"]

    response = c.get(reverse("assess:scheme_activate", args=[v2.pk]))
    assert response.status_code == 200 and response.context["replaces"] == [v1]
    response = c.post(reverse("assess:scheme_activate", args=[v2.pk]))
    assert response.status_code == 302
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v2.status, v1.status, v1.valid_to) == (SchemeStatus.ACTIVE, SchemeStatus.RETIRED, dt.date(2026, 12, 31))

    # active now: not edited in place
    response = c.post(
        reverse("assess:scheme_edit", args=[v2.pk]), _post_data(v2, {"key-brand-growth": {"weight": "15"}})
    )
    assert response.status_code == 302 and response.url == reverse("assess:scheme_detail", args=[v2.pk])
    assert v2.items.get(code="key-brand-growth").weight == Decimal("14")


def test_rows_are_added_and_removed(client, w):
    draft = new_version(default_scheme(), w.centre.user)
    data = _post_data(draft, {"referrals": {"DELETE": True}, "spot-checks": {"weight": "4"}})
    data.update(
        {
            "items-15-code": "manual-rating",
            "items-15-name": "主任评价",
            "items-15-group": "market",
            "items-15-category": "basic",
            "items-15-weight": "6",
            "items-15-metric": "manual",
            "items-15-rule": "manual",
            "items-15-p_max": "6",
        }
    )
    response = _login(client, w.centre).post(reverse("assess:scheme_edit", args=[draft.pk]), data)
    assert response.status_code == 302
    codes = set(draft.items.values_list("code", flat=True))
    assert "referrals" not in codes and "manual-rating" in codes and len(codes) == 15
    manual = draft.items.get(code="manual-rating")
    assert (manual.source, manual.rule_params, manual.position) == ("manual", {"max": 6}, 16)


def test_manual_metric_needs_the_manual_rule(client, w):
    draft = new_version(default_scheme(), w.centre.user)
    with translation.override("en"):
        response = _login(client, w.centre).post(
            reverse("assess:scheme_edit", args=[draft.pk]), _post_data(draft, {"referrals": {"metric": "manual"}})
        )
    assert response.status_code == 400
    row = next(f for f in response.context["formset"].forms if f["code"].value() == "referrals")
    assert row.errors["rule"] == ["The manual metric goes with the manual rule and only with it."]


def test_roles_read_but_only_the_centre_edits(client, w):
    v1 = default_scheme()
    draft = new_version(v1, w.centre.user)
    for staff in (w.head, w.clerk, w.cm1):  # CMs hold view_scheme: they read the rules they are assessed by
        c = _login(client, staff)
        assert c.get(reverse("assess:scheme_list")).status_code == 200
        response = c.get(reverse("assess:scheme_detail", args=[draft.pk]))
        assert response.status_code == 200
        assert not (response.context["can_edit"] or response.context["can_activate"])
        assert response.context["history"] is None
        assert c.get(reverse("assess:scheme_edit", args=[draft.pk])).status_code == 403
        assert c.post(reverse("assess:scheme_edit", args=[draft.pk]), _post_data(draft)).status_code == 403
        assert c.post(reverse("assess:scheme_new_version", args=[v1.pk]), {"valid_from": "2027-01"}).status_code == 403
        assert c.post(reverse("assess:scheme_activate", args=[draft.pk])).status_code == 403
    c = _login(client, w.inspector)
    assert c.get(reverse("assess:scheme_list")).status_code == 403
    assert c.get(reverse("assess:scheme_detail", args=[v1.pk])).status_code == 403
    assert Scheme.objects.count() == 2 and draft.status == SchemeStatus.DRAFT
    assert _login(client, w.centre).get(reverse("assess:scheme_detail", args=[404404])).status_code == 404


def test_a_used_draft_is_not_edited(w):
    draft = new_version(default_scheme(), w.centre.user)
    Run.objects.create(scheme=draft, org_unit=w.tree.dept_a, month=dt.date(2026, 10, 1))
    rows = [
        {**SchemeItemForm.initial_from(it), "params": it.params, "rule_params": it.rule_params}
        for it in draft.items.all()
    ]
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        save_draft_items(draft, rows, w.centre.user)
    assert exc.value.message_dict["scheme"] == [
        f"{draft} is Draft or has been used to score a month: it cannot change. Make a new version and edit that."
    ]


# ---- API ------------------------------------------------------------------------------------------------------------


def _api(staff) -> APIClient:
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(staff.user)
    return api


def test_api_new_version_items_activate(w):
    v1 = default_scheme()
    centre = _api(w.centre)
    listing = centre.get("/api/assess/schemes/").json()
    assert [(s["id"], s["status"], s["editable"]) for s in listing["results"]] == [(v1.pk, "active", False)]

    response = centre.post(f"/api/assess/schemes/{v1.pk}/new-version/", {"valid_from": "2027-01"}, format="json")
    assert response.status_code == 201
    v2 = response.json()
    assert (v2["version"], v2["status"], v2["valid_from"], v2["editable"]) == (2, "draft", "2027-01-01", True)
    assert len(v2["items"]) == 15 and v2["total_weight"] == "100.00"
    rows = {r["code"]: r for r in v2["items"]}
    assert rows["forecast-accuracy"]["rule_words"]  # the rule in words

    rows["key-brand-growth"]["weight"] = "14"
    with translation.override("en"):
        response = centre.put(f"/api/assess/schemes/{v2['id']}/items/", {"items": list(rows.values())}, format="json")
    assert response.status_code == 400
    assert response.json() == {"items": ["The weights sum to 99; they must sum to exactly 100."]}

    rows["growth-rate"]["rule_params"] = {"floor": 5, "target": 5}
    with translation.override("en"):
        response = centre.put(f"/api/assess/schemes/{v2['id']}/items/", {"items": list(rows.values())}, format="json")
    assert response.status_code == 400
    position = list(rows).index("growth-rate")  # the errors are keyed by the row's index
    assert response.json()["items"] == {
        str(position): {"rule_params": ["floor and target must differ (floor 5 = target)."]}
    }

    rows["growth-rate"]["rule_params"] = {"floor": -5, "target": 5}
    rows["avg-price-growth"]["weight"] = "6"
    del rows["referrals"]
    rows["spot-checks"]["weight"] = "10"
    response = centre.put(
        f"/api/assess/schemes/{v2['id']}/items/", {"items": list(rows.values()), "valid_from": "2027-02"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["total_weight"] == "100.00" and body["valid_from"] == "2027-02-01" and len(body["items"]) == 14
    assert SchemeItem.objects.get(scheme_id=v2["id"], code="spot-checks").weight == Decimal("10")

    response = centre.post(f"/api/assess/schemes/{v2['id']}/activate/")
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert Scheme.objects.get(pk=v1.pk).status == SchemeStatus.RETIRED
    with translation.override("en"):
        response = centre.put(f"/api/assess/schemes/{v2['id']}/items/", {"items": list(rows.values())}, format="json")
    assert response.status_code == 400 and "Make a new version" in response.json()["scheme"][0]
    assert centre.post(f"/api/assess/schemes/{v2['id']}/activate/").status_code == 400


def test_api_roles(w):
    v1 = default_scheme()
    draft = new_version(v1, w.centre.user)
    for staff in (w.head, w.clerk, w.cm1):
        api = _api(staff)
        assert api.get("/api/assess/schemes/").status_code == 200
        detail = api.get(f"/api/assess/schemes/{draft.pk}/").json()
        assert len(detail["items"]) == 15
        assert api.post(f"/api/assess/schemes/{v1.pk}/new-version/", {}, format="json").status_code == 403
        assert (
            api.put(f"/api/assess/schemes/{draft.pk}/items/", {"items": detail["items"]}, format="json").status_code
            == 403
        )
        assert api.post(f"/api/assess/schemes/{draft.pk}/activate/").status_code == 403
    inspector = _api(w.inspector)
    assert inspector.get("/api/assess/schemes/").status_code == 403
    assert inspector.get(f"/api/assess/schemes/{v1.pk}/").status_code == 403
    assert Scheme.objects.get(pk=draft.pk).status == SchemeStatus.DRAFT
