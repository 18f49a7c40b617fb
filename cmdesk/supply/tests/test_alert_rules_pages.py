"""The alert rules page per branch and department: own rules (create, edit, preset, holidays, remove), inheritance,
scope (a head reads its subtree, 403 on writes; out of scope 404), the audit rows, and detection: each retailer judged
by the rules of its nearest unit with own rules, a city run and a branch run alike."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from django.utils import translation

from cmdesk.analytics import anomaly
from cmdesk.core.tests.factories import PASSWORD
from cmdesk.org.models import OrgUnit
from cmdesk.supply.models import Alert, AlertKind, AlertPreset, AlertRules
from cmdesk.supply.services import alerts as svc
from cmdesk.supply.views.alerts import RulesForm
from cmdesk.work.tests.world import SPIKE, SPIKE_DAY, STOPPED, build_work_world, world_orders, write_orders

pytestmark = pytest.mark.django_db

CHUNEJIE_2026 = {"name": "春节", "date": "2026-02-17"}


@pytest.fixture
def w():
    world = build_work_world()
    svc.city_rules()  # the city default exists before any page is opened, as in a running system
    return world


def login(staff) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=staff.user.username, password=PASSWORD)
    return client


def page_url(unit=None) -> str:
    url = reverse("supply:alert_rules")
    return f"{url}?unit={unit.pk}" if unit is not None else url


def rules_post(rules: AlertRules, **changes) -> dict:
    """The thresholds form as the page posts it: every field with its current value, then ``changes``."""
    data = {k: ("" if v is None else v) for k, v in model_to_dict(rules, fields=RulesForm._meta.fields).items()}
    return {**data, "form": "rules", **changes}


def entries(rules_pk: int, action: int) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(
            content_type__app_label="supply", content_type__model="alertrules", object_pk=str(rules_pk), action=action
        ).order_by("id")
    )


def give_own_rules(w, unit) -> AlertRules:
    r = login(w.centre).post(reverse("supply:alert_rules_own", args=[unit.pk]))
    assert r.status_code == 302 and r["Location"] == page_url(unit)
    return AlertRules.objects.get(org_unit=unit)


def test_branch_gets_its_own_rules_and_editing_them_leaves_the_city_and_the_sibling_alone(w):
    city = svc.city_rules()
    page = login(w.centre).get(page_url(w.tree.branch_a))
    assert page.status_code == 200
    assert (page.context["own"], page.context["source"], page.context["form"]) == (False, None, None)
    assert 'id="rules-own"' in page.content.decode()

    branch = give_own_rules(w, w.tree.branch_a)
    assert branch.pk != city.pk
    assert (branch.order_ratio, branch.preset, branch.holidays) == (Decimal("2.00"), "national", city.holidays)
    created = entries(branch.pk, LogEntry.Action.CREATE)
    assert len(created) == 1 and created[0].actor_id == w.centre.user_id
    assert created[0].changes_dict["org_unit"] == ["None", str(w.tree.branch_a.pk)]

    r = login(w.centre).post(page_url(w.tree.branch_a), rules_post(branch, order_ratio="3.00", referral_days=5))
    assert r.status_code == 302 and r["Location"] == page_url(w.tree.branch_a)
    assert svc.rules_for(w.tree.branch_a).pk == branch.pk
    assert (svc.rules_for(w.tree.branch_a).order_ratio, svc.rules_for(w.tree.branch_a).referral_days) == (
        Decimal("3.00"),
        5,
    )
    city.refresh_from_db()
    assert (city.order_ratio, city.referral_days) == (Decimal("2.00"), 7)
    assert svc.rules_for(w.tree.branch_b).pk == city.pk and svc.rules_for(w.tree.area_b1).pk == city.pk
    updated = entries(branch.pk, LogEntry.Action.UPDATE)
    assert len(updated) == 1 and updated[0].actor_id == w.centre.user_id
    assert {k: v for k, v in updated[0].changes_dict.items() if k != "updated_at"} == {
        "order_ratio": ["2.00", "3.00"],
        "referral_days": ["7", "5"],
    }
    assert entries(city.pk, LogEntry.Action.UPDATE) == []

    page = login(w.centre).get(page_url(w.tree.branch_a))
    assert page.context["own"] is True and page.context["form"] is not None
    overrides = page.context["overrides"]
    assert [o["rules"].pk for o in overrides] == [branch.pk]
    assert [(c["name"], c["value"], c["city"]) for c in overrides[0]["changes"]] == [
        ("order_ratio", Decimal("3.00"), Decimal("2.00")),
        ("referral_days", 5, 7),
    ]
    assert [item["entry"].action for item in page.context["history"]] == [
        LogEntry.Action.UPDATE,
        LogEntry.Action.CREATE,
    ]


def test_a_department_under_the_branch_inherits_the_branchs_own_rules(w):
    branch = give_own_rules(w, w.tree.branch_a)
    svc.rules_update(branch, {"order_ratio": Decimal("4.00")}, w.centre.user)
    assert svc.rules_for(w.tree.dept_a).pk == branch.pk and svc.rules_for(w.tree.area_a1).pk == branch.pk
    page = login(w.centre).get(page_url(w.tree.dept_a))
    assert (page.context["own"], page.context["source"], page.context["rules"].pk) == (
        False,
        w.tree.branch_a,
        branch.pk,
    )
    assert "Inherited from" in page.content.decode()
    dept = give_own_rules(w, w.tree.dept_a)
    assert dept.order_ratio == Decimal("4.00")  # a copy of what it inherited: the branch's, not the city's
    assert svc.rules_for(w.tree.area_a1).pk == dept.pk and svc.rules_for(w.tree.branch_a).pk == branch.pk


def test_editing_a_unit_that_inherits_changes_nothing(w):
    city = svc.city_rules()
    client = login(w.centre)
    r = client.post(page_url(w.tree.branch_b), rules_post(city, order_ratio="9.00"))
    assert r.status_code == 302
    r = client.post(page_url(w.tree.branch_b), {"preset": "province"})
    assert r.status_code == 302
    r = client.post(page_url(w.tree.branch_b), {"form": "holidays", "holidays": "2026-05-01"})
    assert r.status_code == 302
    city.refresh_from_db()
    assert (city.order_ratio, city.preset, city.holidays[11]) == (Decimal("2.00"), "national", CHUNEJIE_2026)
    assert AlertRules.objects.count() == 1 and entries(city.pk, LogEntry.Action.UPDATE) == []
    r = client.post(reverse("supply:alert_rules_own", args=[w.tree.area_b1.pk]))  # not in the chooser
    assert r.status_code == 404 and AlertRules.objects.count() == 1


def test_removing_own_rules_returns_to_the_city_default(w):
    city = svc.city_rules()
    branch = give_own_rules(w, w.tree.branch_a)
    r = login(w.centre).post(reverse("supply:alert_rules_remove", args=[w.tree.branch_a.pk]))
    assert r.status_code == 302 and r["Location"] == page_url(w.tree.branch_a)
    assert not AlertRules.objects.filter(org_unit=w.tree.branch_a).exists()
    assert svc.rules_for(w.tree.branch_a).pk == city.pk and svc.rules_for(w.tree.dept_a).pk == city.pk
    deleted = entries(branch.pk, LogEntry.Action.DELETE)
    assert len(deleted) == 1 and deleted[0].actor_id == w.centre.user_id
    assert AlertRules.objects.filter(pk=city.pk).exists()
    page = login(w.centre).get(page_url(w.tree.branch_a))
    assert [item["entry"].action for item in page.context["history"]] == [
        LogEntry.Action.DELETE,
        LogEntry.Action.CREATE,
    ]
    # nothing to remove: a message, no change; the city's row is never removed
    r = login(w.centre).post(reverse("supply:alert_rules_remove", args=[w.tree.branch_a.pk]))
    assert r.status_code == 302 and AlertRules.objects.count() == 1
    with pytest.raises(ValidationError):
        svc.delete_override(city, w.centre.user)
    assert AlertRules.objects.filter(pk=city.pk).exists()


def test_preset_applies_to_the_branchs_own_row_only(w):
    city = svc.city_rules()
    branch = give_own_rules(w, w.tree.branch_a)
    r = login(w.centre).post(page_url(w.tree.branch_a), {"preset": AlertPreset.PROVINCE})
    assert r.status_code == 302 and r["Location"] == page_url(w.tree.branch_a)
    branch.refresh_from_db()
    city.refresh_from_db()
    assert (branch.preset, branch.brand_month_growth, branch.day_share, branch.order_ratio) == (
        "province",
        Decimal("0.75"),
        Decimal("0.20"),
        Decimal("2.50"),
    )
    assert (city.preset, city.brand_month_growth, city.day_share, city.order_ratio) == (
        "national",
        Decimal("0.50"),
        Decimal("0.15"),
        Decimal("2.00"),
    )
    updated = entries(branch.pk, LogEntry.Action.UPDATE)
    assert len(updated) == 1 and updated[0].actor_id == w.centre.user_id
    assert updated[0].changes_dict["preset"] == ["national", "province"]
    assert svc.rules_for(w.tree.dept_b).preset == "national"


def test_holidays_are_edited_as_lines_and_saved_all_or_nothing(w):
    branch = give_own_rules(w, w.tree.branch_a)
    page = login(w.centre).get(page_url(w.tree.branch_a))
    text = page.context["holidays_form"].initial["holidays"]
    assert text.splitlines()[11] == "2026-02-17 春节" and len(text.splitlines()) == 21
    # saving the text unchanged writes nothing
    r = login(w.centre).post(page_url(w.tree.branch_a), {"form": "holidays", "holidays": text})
    assert r.status_code == 302 and entries(branch.pk, LogEntry.Action.UPDATE) == []

    new = "2026-02-17 春节\n\n2026-10-01..2026-10-03 国庆\n2026-05-01"
    r = login(w.centre).post(page_url(w.tree.branch_a), {"form": "holidays", "holidays": new})
    assert r.status_code == 302
    branch.refresh_from_db()
    assert branch.holidays == [
        CHUNEJIE_2026,
        {"name": "国庆", "date": "2026-10-01"},
        {"name": "国庆", "date": "2026-10-02"},
        {"name": "国庆", "date": "2026-10-03"},
        {"date": "2026-05-01"},
    ]
    assert svc.holidays_text(branch) == "2026-02-17 春节\n2026-10-01..2026-10-03 国庆\n2026-05-01"
    assert [str(d) for d in svc.holidays_of(branch)] == [
        "2026-02-17", "2026-10-01", "2026-10-02", "2026-10-03", "2026-05-01",
    ]  # fmt: skip
    updated = entries(branch.pk, LogEntry.Action.UPDATE)
    assert len(updated) == 1 and updated[0].actor_id == w.centre.user_id and "holidays" in updated[0].changes_dict
    assert svc.city_rules().holidays[11] == CHUNEJIE_2026 and len(svc.city_rules().holidays) == 21

    bad = "2026-02-17 春节\n2026-13-01 坏日子\n2026-10-07..2026-10-01\n\n2026-01-01..2026-03-31 太长\n明天"
    with translation.override("en"):
        r = login(w.centre).post(page_url(w.tree.branch_a), {"form": "holidays", "holidays": bad})
    assert r.status_code == 400
    assert r.context["holidays_form"].errors["holidays"] == [
        "Line 2: 2026-13-01 坏日子 is not a date (YYYY-MM-DD) or a range (YYYY-MM-DD..YYYY-MM-DD).",
        "Line 3: the range ends before it starts.",
        "Line 5: a range may cover at most 31 days, not 90.",
        "Line 6: 明天 is not a date (YYYY-MM-DD) or a range (YYYY-MM-DD..YYYY-MM-DD).",
    ]
    branch.refresh_from_db()
    assert len(branch.holidays) == 5 and len(entries(branch.pk, LogEntry.Action.UPDATE)) == 1


def test_a_head_reads_its_subtree_and_is_refused_every_write(w):
    city = svc.city_rules()
    own_b = give_own_rules(w, w.tree.branch_b)
    head = login(w.head)  # head of dept_a: its subtree is the department
    page = head.get(page_url())
    assert page.status_code == 200 and page.context["form"] is None and page.context["can_change"] is False
    assert [u["unit"] for u in page.context["units"]] == [w.tree.dept_a]
    assert page.context["overrides"] == []  # branch B's own rules are out of its scope
    page = head.get(page_url(w.tree.dept_a))
    assert page.status_code == 200 and page.context["source"] is None and 'id="rules-table"' in page.content.decode()
    for unit in (w.tree.branch_a, w.tree.branch_b, w.tree.dept_b):
        assert head.get(page_url(unit)).status_code == 404
    assert head.get(page_url() + "?unit=abc").status_code == 404

    assert head.post(page_url(), {"preset": "province"}).status_code == 403
    assert head.post(page_url(w.tree.dept_a), rules_post(city, order_ratio="9.00")).status_code == 403
    assert head.post(page_url(w.tree.dept_a), {"form": "holidays", "holidays": ""}).status_code == 403
    assert head.post(reverse("supply:alert_rules_own", args=[w.tree.dept_a.pk])).status_code == 403
    assert head.post(reverse("supply:alert_rules_remove", args=[w.tree.dept_a.pk])).status_code == 403
    assert head.post(reverse("supply:alert_rules_remove", args=[w.tree.branch_b.pk])).status_code == 404
    city.refresh_from_db()
    assert (city.order_ratio, city.preset) == (Decimal("2.00"), "national")
    assert set(AlertRules.objects.values_list("pk", flat=True)) == {city.pk, own_b.pk}
    with pytest.raises(PermissionDenied):
        svc.create_override(w.tree.dept_a, w.head.user)
    with pytest.raises(PermissionDenied):
        svc.set_holidays(own_b, "2026-05-01", w.head.user)

    # a clerk reads its branch; a CM the department and branch it works in
    assert [u["unit"] for u in login(w.clerk).get(page_url()).context["units"]] == [w.tree.branch_a, w.tree.dept_a]
    assert [u["unit"] for u in login(w.cm3).get(page_url()).context["units"]] == [w.tree.branch_b, w.tree.dept_b]
    assert login(w.cm3).get(page_url(w.tree.branch_a)).status_code == 404


@pytest.fixture
def twins():
    """The work world with the same spike in branch B (shop R3-01, 60 cartons on SPIKE_DAY) as in branch A (R1-07)."""
    world = build_work_world(orders=False)
    lines = world_orders(world)
    twin, hard = world.shops3[0], world.products["hard"]
    (spike_line,) = [
        x for x in lines if (x["retailer_id"], x["order_date"], x["product_id"]) == (twin.pk, SPIKE_DAY, hard.pk)
    ]
    spike_line.update(demanded=60, allotted=60, ordered=60, supplied=60, amount=3000.0)
    write_orders(lines)
    svc.city_rules()
    return world


def spike_key(shop) -> str:
    return f"order_spike:r{shop.pk}:{SPIKE_DAY.isoformat()}"


def rules_use(report) -> list[tuple]:
    return [(u.rules.org_unit, u.retailers, u.alerts) for u in report.rules]


def alert_rows() -> dict[str, tuple]:
    return {
        a.key: (a.kind, a.org_unit_id, a.retailer_id, a.partner_id, a.period_start, a.period_end, a.measured,
                a.threshold, a.detail, a.severity)
        for a in Alert.objects.all()
    }  # fmt: skip


def expected_rows(scope, month: str) -> dict[str, tuple]:
    """What a detection over ``scope`` must store, computed the slow way: the pure detector over the scope's whole
    population once per rules row, each finding taken from the run of the rules of its subject's nearest unit with
    own rules (a branch's brand totals: the branch's; the scope's totals: the scope's)."""
    pop = svc.population(scope)
    route_units = {u.pk: u for u in OrgUnit.objects.filter(pk__in=set(pop.route_unit.values()))}

    def owner(f: anomaly.Finding) -> AlertRules:
        if f.retailer_id is not None:
            return svc.rules_for(route_units[pop.route_unit[f.retailer_id]])
        branch = pop.branches.get(f.unit)
        return svc.rules_for(branch if branch is not None and branch.path.startswith(scope.path) else scope)

    used = {r.pk: r for r in [svc.rules_for(scope), *(svc.rules_for(u) for u in route_units.values())]}
    used |= {svc.rules_for(b).pk: svc.rules_for(b) for b in pop.branches.values() if b.path.startswith(scope.path)}
    out = {}
    with translation.override(settings.LANGUAGE_CODE):
        for rules in used.values():
            th = svc.thresholds(rules)
            for f in anomaly.detect(settings.CMDESK_DATA_DIR, month, pop.retailers, pop.products, th).findings:
                if owner(f).pk != rules.pk:
                    continue
                unit = pop.route_unit[f.retailer_id] if f.retailer_id else pop.branches.get(f.unit, scope).pk
                measured = {**f.measured, **({"brand": f.brand} if f.brand else {})}
                out[svc.alert_key(f, month)] = (
                    f.kind, unit, f.retailer_id, f.partner_id, f.period_start, f.period_end, measured,
                    *svc.describe(f, th), f.severity,
                )  # fmt: skip
    return out


def test_detection_over_a_branch_uses_the_branchs_own_rules(w):
    """A run over a branch takes the branch's own rules (rules_for(scope)); with none below it, it is one run."""
    branch = give_own_rules(w, w.tree.branch_a)
    report = svc.detect_month("2026-10", scope=w.tree.branch_a.code)
    assert report.by_kind[AlertKind.ORDER_SPIKE] == 1 and report.runs == []
    assert rules_use(report) == [(w.tree.branch_a, 18, 5)]
    svc.rules_update(branch, {"order_ratio": Decimal("20.00")}, w.centre.user)  # the spike is 10 × the average
    assert svc.detect_month("2026-10", scope=w.tree.branch_a.code).by_kind.get(AlertKind.ORDER_SPIKE, 0) == 0
    assert w.shops1[SPIKE].route.org_unit.path.startswith(w.tree.branch_a.path)


def test_the_city_run_judges_a_branchs_retailers_by_the_branchs_own_rules(twins):
    """The city-wide run: a branch's own order_ratio of 20.00 silences the spike of its retailer, the identical spike
    in the other branch is still flagged with the city's 2.00; one extra run over branch A's 18 retailers only."""
    w = twins
    branch = give_own_rules(w, w.tree.branch_a)
    svc.rules_update(branch, {"order_ratio": Decimal("20.00")}, w.centre.user)
    report = svc.detect_month("2026-10")
    spikes = Alert.objects.filter(kind=AlertKind.ORDER_SPIKE)
    assert [a.key for a in spikes] == [spike_key(w.shops3[0])] and report.by_kind[AlertKind.ORDER_SPIKE] == 1
    assert spikes[0].measured["ratio"] == 10.0 and "200%" in spikes[0].threshold
    assert rules_use(report) == [(None, 3, 3), (w.tree.branch_a, 18, 2)]  # the city's totals, its spike; A's totals
    assert [(run.rules, run.retailers, run.kinds) for run in report.runs] == [
        ([branch], 18, ("brand_month", "day_share", "order_spike", "month_spike", "peer_growth", "collapse"))
    ]
    assert alert_rows() == expected_rows(w.tree.city, "2026-10")
    assert svc.city_rules().order_ratio == Decimal("2.00")

    again = svc.detect_month("2026-10")  # idempotent: nothing new, nothing changed
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5) and Alert.objects.count() == 5

    out = StringIO()
    call_command("alerts", "detect", "--month", "2026-10", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[1] == "rules: city default: 3 retailers, 3 alerts; 甲县分公司 (A): 18 retailers, 2 alerts"
    assert lines[-1].startswith(
        "run under 甲县分公司 (A): 18 retailers (brand_month, day_share, order_spike, month_spike, peer_growth, "
        "collapse), "
    )


def test_an_alert_records_the_thresholds_of_the_rules_that_judged_it(twins):
    """Found first under the city's 200%, then under branch A's own 300%: the rerun updates the same alert's rule."""
    w = twins
    svc.detect_month("2026-10")
    first = Alert.objects.get(key=spike_key(w.shops1[SPIKE]))
    assert "200%" in first.threshold
    branch = give_own_rules(w, w.tree.branch_a)
    svc.rules_update(branch, {"order_ratio": Decimal("3.00")}, w.centre.user)
    report = svc.detect_month("2026-10")
    # branch A's 3 alerts are now judged by its own rules; only the spike's rule text and severity change
    assert (report.created, report.updated) == (0, 3)
    alert = Alert.objects.get(key=spike_key(w.shops1[SPIKE]))
    assert alert.pk == first.pk and "300%" in alert.threshold and alert.severity == 3
    assert "200%" in Alert.objects.get(key=spike_key(w.shops3[0])).threshold
    assert alert_rows() == expected_rows(w.tree.city, "2026-10")
    # which rules row judged it, on the alert and its page, with a link for whoever may read those rules
    assert first.rules == svc.city_rules() and alert.rules == branch
    assert Alert.objects.get(key=spike_key(w.shops3[0])).rules == svc.city_rules()
    for staff in (w.centre, w.cm1):
        html = login(staff).get(reverse("supply:alert_detail", args=[alert.pk])).content.decode()
        assert '<span id="alert-rules">the rules of 甲县分公司</span>' in html
        assert f'<a href="{page_url(w.tree.branch_a)}">see the rules</a>' in html
        # the history: the creation folded (its fields behind a summary), the update by the rerun open
        history = html[html.index('id="alert-history"') :]
        assert history.count("<details") == 1 and "fields set</summary>" in history
    api = login(w.cm1).get(f"/api/supply/alerts/{alert.pk}/").json()
    assert (api["rules"], api["rules_unit"]) == (branch.pk, w.tree.branch_a.pk)
    # the branch's own rules removed: the alert keeps the text of the rule that judged it, and no longer links
    login(w.centre).post(reverse("supply:alert_rules_remove", args=[w.tree.branch_a.pk]))
    alert.refresh_from_db()
    assert alert.rules is None and "300%" in alert.threshold
    html = login(w.centre).get(reverse("supply:alert_detail", args=[alert.pk])).content.decode()
    assert 'id="alert-rules"' not in html and "300%" in html


def test_an_unchanged_copy_of_the_rules_needs_no_extra_run(twins):
    """Own rules equal to the city's (a fresh copy) judge their retailers exactly as the city's run does."""
    w = twins
    svc.detect_month("2026-10")
    before = alert_rows()
    give_own_rules(w, w.tree.branch_b)
    report = svc.detect_month("2026-10")
    # no extra run; branch B's one alert now names its own (equal) rules as the judge, nothing else changes
    assert (report.created, report.updated, report.unchanged, report.runs) == (0, 1, 5, [])
    assert Alert.objects.get(key=spike_key(w.shops3[0])).rules.org_unit == w.tree.branch_b
    assert rules_use(report) == [(None, 18, 5), (w.tree.branch_b, 3, 1)]
    assert alert_rows() == before == expected_rows(w.tree.city, "2026-10")


def test_nearest_own_rules_win_and_peers_stay_those_of_the_whole_city(twins):
    """Branch A, its department and branch B with their own rules, some of them read by population-wide rules
    (the tier medians of above_tier): every subject is judged by its nearest unit's rules over the whole city's
    figures, exactly as the pure detector run over the whole city with those rules."""
    w = twins
    city = svc.city_rules()
    svc.rules_update(city, {"collapse_ratio": Decimal("0.60"), "peer_min_size": 1}, w.centre.user)
    branch_a = give_own_rules(w, w.tree.branch_a)
    svc.rules_update(branch_a, {"day_share": Decimal("0.10"), "order_ratio": Decimal("20.00")}, w.centre.user)
    dept_a = give_own_rules(w, w.tree.dept_a)  # a copy of branch A's, then a lower above-tier ratio
    svc.rules_update(dept_a, {"proxy_volume_ratio": Decimal("1.20"), "collapse_ratio": Decimal("0.50")}, w.centre.user)
    branch_b = give_own_rules(w, w.tree.branch_b)
    svc.rules_update(branch_b, {"peer_ratio": Decimal("0.90")}, w.centre.user)

    report = svc.detect_month("2026-10")
    expected = expected_rows(w.tree.city, "2026-10")
    assert alert_rows() == expected
    assert Counter(row[0] for row in expected.values()) == {
        "day_share": 4,
        "above_tier": 2,
        "collapse": 1,
        "order_spike": 1,
    }
    # department A (all of branch A's retailers) keeps branch A's 20.00: only branch B's spike, at the city's 200%
    assert [k for k in expected if k.startswith("order_spike:")] == [spike_key(w.shops3[0])]
    # branch A's brand totals by branch A's own 10%, the city's totals by the city's 15%
    assert {k: "10%" in row[7] for k, row in expected.items() if row[0] == "day_share"} == {
        "day_share:*:红塔山:2026-10-13": False,
        "day_share:*:芙蓉王:2026-10-06": False,
        f"day_share:{w.tree.branch_a.pk}:红塔山:2026-10-13": True,
        f"day_share:{w.tree.branch_a.pk}:芙蓉王:2026-10-06": True,
    }
    # department A's 1.20 over the city's tier medians: tier 4's median is that of three shops, one in branch B
    above = {row[2]: row for row in expected.values() if row[0] == "above_tier"}
    assert sorted(above) == [w.shops2[1].pk, w.shops2[4].pk] and above[w.shops2[1].pk][6]["group_size"] == 3
    assert all("1.2" in row[7] for row in above.values())
    (collapse,) = [row for row in expected.values() if row[0] == "collapse"]
    assert collapse[2] == w.shops1[STOPPED].pk and "0.5" in collapse[7] and collapse[6]["peers"] == 1
    assert rules_use(report) == [
        (None, 0, 2), (w.tree.branch_a, 0, 2), (w.tree.dept_a, 18, 3), (w.tree.branch_b, 3, 1),
    ]  # fmt: skip
    brand, retailer = ("brand_month", "day_share"), ("order_spike", "month_spike", "peer_growth", "collapse")
    assert [(sorted(r.org_unit.code for r in run.rules), run.retailers, run.kinds) for run in report.runs] == [
        (["A"], 18, brand), (["A-D"], 18, retailer), (["A-D"], 21, ("above_tier",)), (["B"], 3, brand + retailer),
    ]  # fmt: skip

    again = svc.detect_month("2026-10")
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(expected))
    assert Alert.objects.count() == len(expected) and alert_rows() == expected
