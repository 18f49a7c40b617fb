"""The tier scheme pages: the list with inheritance, the centre's form (create an override as a copy of what the unit
follows, edit, remove), field and position errors with nothing saved, scope (a head reads, 403 on writes, out of
scope 404) and the audit rows."""

from __future__ import annotations

import datetime as dt

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.urls import reverse

from cmdesk.core.tests.factories import PASSWORD, StaffFactory, build_org_tree
from cmdesk.org.choices import Role
from cmdesk.supply.forms_tiers import SchemeEditor
from cmdesk.supply.models import TierMethod, TierRun, TierScheme
from cmdesk.supply.services import tiers as svc

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    return build_org_tree()


@pytest.fixture
def centre(tree):
    return StaffFactory(role=Role.CENTRE, org_unit=tree.centre, employee_no="centre")


@pytest.fixture
def head(tree):
    return StaffFactory(role=Role.HEAD, org_unit=tree.dept_a, employee_no="head-a")


@pytest.fixture
def city(tree):
    return svc.city_default()  # exists before any page is opened, as in a running system


def login(staff) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=staff.user.username, password=PASSWORD)
    return client


def posted(editor: SchemeEditor, **changes: str) -> dict[str, str]:
    """Every input of the page as the browser posts it unchanged, then ``changes`` (by input name)."""
    data = {}
    for form in editor.forms:
        for field in form:
            value = field.value()
            data[field.html_name] = "" if value is None else str(value)
    return {**data, **changes}


def entries(pk: int, action: int) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(
            content_type__app_label="supply", content_type__model="tierscheme", object_pk=str(pk), action=action
        ).order_by("id")
    )


def settings_of(scheme: TierScheme) -> dict:
    scheme.refresh_from_db()
    return {"name": scheme.name, **{name: getattr(scheme, name) for name in svc.SCHEME_SETTINGS}}


def own_scheme(unit, actor, **values) -> TierScheme:
    scheme = svc.new_override(unit)
    scheme.name = f"{unit.name}档位方案"
    for key, value in values.items():
        setattr(scheme, key, value)
    return svc.save_scheme(scheme, actor.user)


def test_centre_creates_an_override_for_a_branch_and_it_governs_the_branch(tree, centre, city):
    client = login(centre)
    chooser = client.get(reverse("supply:tier_scheme_create"))
    assert chooser.status_code == 200
    assert [u.pk for u in chooser.context["choose"]] == [
        tree.branch_a.pk,
        tree.dept_a.pk,
        tree.branch_b.pk,
        tree.dept_b.pk,
    ]

    url = reverse("supply:tier_scheme_create") + f"?unit={tree.branch_a.pk}"
    page = client.get(url)
    assert page.status_code == 200
    editor = page.context["editor"]
    assert page.context["base"].pk == city.pk
    # the form starts as a copy of the city scheme
    assert editor.main["tier_count"].value() == 30 and editor.main["volume_bands"].value() == (
        "20, 40, 60, 90, 120, 160, 210, 270, 350"
    )
    assert [editor.weights[k].value() for k in ("quantity", "amount", "ability")] == ["0.5", "0.3", "0.2"]
    assert editor.initial["format_convenience"].value() == "15" and editor.ability["format_mall"].value() == "1"

    data = posted(
        editor,
        unit=str(tree.branch_a.pk),
        name="甲县档位方案",
        tier_count="20",
        max_step="2",
        **{
            "weights-quantity": "0.6",
            "weights-amount": "0.25",
            "weights-ability": "0.15",
            "initial-format_grocery": "8",
            "initial-settlement_pos": "3",
            "initial-area_min_5": "120",
            "initial-area_points_5": "35",
            "ability-format_other": "",
        },
    )
    response = client.post(reverse("supply:tier_scheme_create"), data)
    assert response.status_code == 302 and response["Location"] == reverse("supply:tier_schemes")

    scheme = TierScheme.objects.get(org_unit=tree.branch_a)
    assert svc.scheme_for(tree.branch_a).pk == scheme.pk
    assert svc.scheme_for(tree.area_a1).pk == scheme.pk  # the units under the branch inherit it
    assert svc.scheme_for(tree.branch_b).pk == city.pk
    assert (scheme.name, scheme.tier_count, scheme.max_step, scheme.method) == ("甲县档位方案", 20, 2, "weighted")
    assert scheme.weights == {"quantity": 0.6, "amount": 0.25, "ability": 0.15}
    assert scheme.volume_bands == city.volume_bands and scheme.price_bands == [70, 110]
    expected_initial = city.initial_rules
    expected_initial["format"]["grocery"] = 8
    expected_initial["settlement"]["pos"] = 3
    expected_initial["area"].append([120, 35])
    assert scheme.initial_rules == expected_initial
    expected_ability = city.ability_rules
    del expected_ability["format"]["other"]
    assert scheme.ability_rules == expected_ability
    city.refresh_from_db()
    assert city.tier_count == 30 and city.weights == {"quantity": 0.5, "amount": 0.3, "ability": 0.2}

    created = entries(scheme.pk, LogEntry.Action.CREATE)
    assert len(created) == 1 and created[0].actor_id == centre.user_id
    assert created[0].changes_dict["org_unit"] == ["None", str(tree.branch_a.pk)]

    listing = client.get(reverse("supply:tier_schemes"))
    rows = {row["scheme"].pk: row for row in listing.context["rows"]}
    assert list(rows) == [city.pk, scheme.pk]
    assert [u.pk for u in rows[scheme.pk]["followers"]] == [tree.dept_a.pk]
    assert [u.pk for u in rows[city.pk]["followers"]] == [tree.branch_b.pk, tree.dept_b.pk]
    assert rows[scheme.pk]["text"] == svc.scheme_text(scheme) and rows[scheme.pk]["can_delete"] is True
    units = {u["unit"].pk: (u["scheme"].pk, u["own"]) for u in listing.context["units"]}
    assert units[tree.branch_a.pk] == (scheme.pk, True) and units[tree.dept_a.pk] == (scheme.pk, False)
    assert [u.pk for u in listing.context["new_units"]] == [tree.dept_a.pk, tree.branch_b.pk, tree.dept_b.pk]

    # a second create for the same unit goes to the unit's scheme instead
    again = client.get(url)
    assert again.status_code == 302 and again["Location"] == reverse("supply:tier_scheme_edit", args=[scheme.pk])


def test_weights_that_do_not_sum_to_one_show_on_the_weights_and_save_nothing(tree, centre, city):
    client = login(centre)
    url = reverse("supply:tier_scheme_edit", args=[city.pk])
    before = settings_of(city)
    logged = LogEntry.objects.count()
    editor = client.get(url).context["editor"]
    data = posted(
        editor, tier_count="12", **{"weights-quantity": "0.5", "weights-amount": "0.3", "weights-ability": "0.1"}
    )
    response = client.post(url, data)
    assert response.status_code == 400
    editor = response.context["editor"]
    assert editor.errors_by_key() == {"weights": ["The weights sum to 0.9; they must sum to 1."]}
    assert [str(e) for e in editor.weights.non_field_errors()] == ["The weights sum to 0.9; they must sum to 1."]
    assert "The weights sum to 0.9; they must sum to 1." in response.content.decode()
    assert settings_of(city) == before
    assert LogEntry.objects.count() == logged


def test_bad_band_order_and_a_bad_bound_name_the_position(tree, centre, city):
    client = login(centre)
    url = reverse("supply:tier_scheme_edit", args=[city.pk])
    before = settings_of(city)
    editor = client.get(url).context["editor"]

    response = client.post(url, posted(editor, volume_bands="20, 40, 35, 60", price_bands="70，110"))
    assert response.status_code == 400
    assert response.context["editor"].errors_by_key() == {
        "volume_bands": ["The bounds must ascend: bound 3 (35) is not above 40."]
    }
    assert 'class="form-control form-control-sm is-invalid"' in response.content.decode()

    response = client.post(url, posted(editor, price_bands="70, abc"))
    assert response.status_code == 400
    assert response.context["editor"].errors_by_key() == {"price_bands": ["Bound 2 (abc) is not a number."]}

    # the floor-area table names its row; an ability value above 1 is refused on its input
    response = client.post(
        url,
        posted(editor, **{"initial-area_min_2": "5", "ability-format_mall": "1.5", "ability-area_full": "0"}),
    )
    assert response.status_code == 400
    errors = response.context["editor"]
    assert errors.initial.errors == {"area_min_2": ["Row 3: the floor area must be above the row before (10 m²)."]}
    assert errors.ability.errors == {
        "format_mall": ["Ensure this value is less than or equal to 1."],
        "area_full": ["Give a number above 0."],
    }
    # the service's own group rule lands on its group: the band method needs bands × bands = tiers
    response = client.post(url, posted(editor, method=TierMethod.BANDS, tier_count="12"))
    assert response.status_code == 400
    assert response.context["editor"].errors_by_key() == {
        "volume_bands": ["10 volume bands × 3 price bands make 30 tiers, but the scheme has 12."]
    }
    assert settings_of(city) == before


def test_edit_saves_through_the_service_and_the_page_shows_the_history(tree, centre, city):
    client = login(centre)
    url = reverse("supply:tier_scheme_edit", args=[city.pk])
    editor = client.get(url).context["editor"]
    response = client.post(
        url,
        posted(editor, window_months="6", hold_band="1", **{"ability-part_area": "0.2", "ability-part_format": "0.25"}),
    )
    assert response.status_code == 302
    city.refresh_from_db()
    assert (city.window_months, city.hold_band) == (6, 1)
    assert city.ability_rules["parts"] == {"area": 0.2, "fixtures": 0.25, "format": 0.25, "regularity": 0.3}
    updated = entries(city.pk, LogEntry.Action.UPDATE)
    assert len(updated) == 1 and updated[0].actor_id == centre.user_id
    assert set(updated[0].changes_dict) - {"updated_at"} == {"window_months", "hold_band", "ability_rules"}

    # posting the page unchanged changes nothing (1.0 stays 1.0, not 1), so no audit row is added
    before = settings_of(city)
    assert client.post(url, posted(client.get(url).context["editor"])).status_code == 302
    assert settings_of(city) == before
    assert entries(city.pk, LogEntry.Action.UPDATE) == updated

    page = client.get(url)
    assert page.status_code == 200
    history = page.context["history"]
    assert [h["entry"].action for h in history[:1]] == [LogEntry.Action.UPDATE]
    assert {c["field"] for c in history[0]["changes"]} - {"updated_at"} == {
        "window_months",
        "hold_band",
        "ability_rules",
    }
    assert history[0]["actor_name"] == centre.name
    assert 'id="history"' in page.content.decode()


def test_a_head_reads_the_list_but_may_not_write_and_out_of_scope_is_404(tree, centre, head, city):
    own_a = own_scheme(tree.dept_a, centre)
    own_b = own_scheme(tree.branch_b, centre)
    client = login(head)
    listing = client.get(reverse("supply:tier_schemes"))
    assert listing.status_code == 200
    assert [r["scheme"].pk for r in listing.context["rows"]] == [city.pk, own_a.pk, own_b.pk]
    assert not any(r["can_edit"] or r["can_delete"] for r in listing.context["rows"])
    assert listing.context["new_units"] == [] and listing.context["can_add"] is False
    assert reverse("supply:tier_scheme_edit", args=[own_a.pk]) not in listing.content.decode()

    before = settings_of(own_a)
    # in scope (its department) or the city scheme: 403
    assert client.get(reverse("supply:tier_scheme_edit", args=[own_a.pk])).status_code == 403
    assert client.post(reverse("supply:tier_scheme_edit", args=[own_a.pk]), {"name": "x"}).status_code == 403
    assert client.get(reverse("supply:tier_scheme_edit", args=[city.pk])).status_code == 403
    assert client.get(reverse("supply:tier_scheme_create")).status_code == 403
    assert client.get(reverse("supply:tier_scheme_create"), {"unit": tree.area_a1.pk}).status_code == 403
    assert client.post(reverse("supply:tier_scheme_delete", args=[own_a.pk])).status_code == 403
    # another branch: 404, as for a missing scheme
    assert client.get(reverse("supply:tier_scheme_edit", args=[own_b.pk])).status_code == 404
    assert client.get(reverse("supply:tier_scheme_create"), {"unit": tree.dept_b.pk}).status_code == 404
    assert client.post(reverse("supply:tier_scheme_delete", args=[own_b.pk])).status_code == 404
    assert settings_of(own_a) == before and TierScheme.objects.count() == 3
    # a CM reads the list too (its scope holds no org unit: nothing to edit)
    cm = StaffFactory(role=Role.CM, org_unit=tree.area_a1, employee_no="cm-a1")
    cm_list = login(cm).get(reverse("supply:tier_schemes"))
    assert cm_list.status_code == 200 and len(cm_list.context["rows"]) == 3
    assert login(cm).get(reverse("supply:tier_scheme_edit", args=[own_a.pk])).status_code == 404
    # the inspector holds no tier permission
    inspector = StaffFactory(role=Role.INSPECTOR, org_unit=tree.dept_a, employee_no="insp-a")
    assert login(inspector).get(reverse("supply:tier_schemes")).status_code == 403


def test_removing_an_override_makes_the_unit_inherit_again_and_is_audited(tree, centre, city):
    own_branch = own_scheme(tree.branch_a, centre, tier_count=20)
    own_dept = own_scheme(tree.dept_a, centre, tier_count=10)
    assert svc.scheme_for(tree.dept_a).pk == own_dept.pk
    client = login(centre)

    response = client.post(reverse("supply:tier_scheme_delete", args=[own_dept.pk]), follow=True)
    assert response.redirect_chain == [(reverse("supply:tier_schemes"), 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "甲县客户服务部档位方案 removed: 甲县客户服务部 follows 甲县分公司档位方案 again."
    ]
    assert svc.scheme_for(tree.dept_a).pk == own_branch.pk  # its branch's now
    deleted = entries(own_dept.pk, LogEntry.Action.DELETE)
    assert len(deleted) == 1 and deleted[0].actor_id == centre.user_id

    assert client.post(reverse("supply:tier_scheme_delete", args=[own_branch.pk])).status_code == 302
    client.get(reverse("supply:tier_schemes"))  # shows (and clears) the message
    assert svc.scheme_for(tree.dept_a).pk == city.pk and svc.scheme_for(tree.branch_a).pk == city.pk
    assert len(entries(own_branch.pk, LogEntry.Action.DELETE)) == 1
    assert list(TierScheme.objects.values_list("pk", flat=True)) == [city.pk]

    # never the city scheme
    refused = client.post(reverse("supply:tier_scheme_delete", args=[city.pk]), follow=True)
    assert [str(m) for m in refused.context["messages"]] == [
        "The city scheme cannot be removed: every unit without a scheme of its own follows it."
    ]
    assert TierScheme.objects.filter(pk=city.pk).exists() and entries(city.pk, LogEntry.Action.DELETE) == []


def test_a_scheme_a_recompute_used_is_kept(tree, centre, city):
    own = own_scheme(tree.branch_b, centre)
    run = TierRun.objects.create(
        scheme=own,
        org_unit=tree.branch_b,
        window_start=dt.date(2026, 8, 1),
        window_end=dt.date(2026, 10, 31),
        effective=dt.date(2026, 11, 1),
    )
    response = login(centre).post(reverse("supply:tier_scheme_delete", args=[own.pk]), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        f"Recomputes used this scheme ({run.pk}); it stays as their record and cannot be removed. Change its "
        "settings instead."
    ]
    assert svc.scheme_for(tree.branch_b).pk == own.pk and entries(own.pk, LogEntry.Action.DELETE) == []
