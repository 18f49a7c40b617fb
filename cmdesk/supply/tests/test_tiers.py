"""Tier schemes, the recompute, applying a run and the retailer's explanation, on the hand-computed tier world."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import translation

from cmdesk.retail.models import Retailer, TierChange
from cmdesk.supply.models import RunStatus, TierMethod, TierRun, TierScheme
from cmdesk.supply.services import tiers as svc

from .tierworld import AS_OF, build_tier_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_tier_world()


def _scores(run):
    return {s.retailer_id: s for s in run.scores.all()}


# --- schemes ---------------------------------------------------------------------------------------------------------
def test_scheme_for_falls_back_to_the_nearest_ancestor_then_the_city_default(world):
    default = svc.city_default()
    assert svc.scheme_for(world.tree.area_a1) == default
    branch = TierScheme.objects.create(org_unit=world.tree.branch_a, name="甲县")
    assert svc.scheme_for(world.tree.area_a1) == branch
    assert svc.scheme_for(world.tree.branch_a) == branch
    assert svc.scheme_for(world.tree.area_b1) == default
    assert svc.scheme_for(None) == default


def test_validation_names_the_field_and_the_problem():
    scheme = TierScheme(name="x", tier_count=31, weights={"quantity": 0.5, "amount": 0.3, "ability": 0.3})
    scheme.volume_bands = [20, 20, 60]
    scheme.price_bands = []
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        svc.validate_scheme(scheme)
    errors = exc.value.message_dict
    assert errors["tier_count"] == ["The number of tiers must be between 2 and 30."]
    assert errors["weights"] == ["The weights sum to 1.1; they must sum to 1."]
    assert errors["volume_bands"] == ["The bounds must ascend: bound 2 (20) is not above 20."]
    assert errors["price_bands"] == ["Give a non-empty list of lower bounds, e.g. [20, 40, 60]."]


def test_band_method_needs_bands_that_make_the_tier_count():
    scheme = TierScheme(name="x", method=TierMethod.BANDS, tier_count=20)
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        svc.validate_scheme(scheme)
    assert exc.value.message_dict["volume_bands"] == [
        "10 volume bands × 3 price bands make 30 tiers, but the scheme has 20."
    ]
    svc.validate_scheme(TierScheme(name="ok", method=TierMethod.BANDS))  # the defaults: 10 × 3 = 30


def test_window_and_effective_date():
    assert svc.window(dt.date(2026, 10, 31), 3) == (dt.date(2026, 8, 1), dt.date(2026, 10, 31))
    assert svc.window(dt.date(2026, 10, 30), 3) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert svc.default_effective(dt.date(2026, 10, 31), "month") == dt.date(2026, 11, 1)
    assert svc.default_effective(dt.date(2026, 10, 31), "quarter") == dt.date(2027, 1, 1)
    assert svc.default_effective(dt.date(2026, 9, 30), "quarter") == dt.date(2026, 10, 1)
    assert svc.weeks_in(dt.date(2026, 8, 1), dt.date(2026, 10, 31)) == 14


def test_percentile_rank_counts_ties_half():
    assert list(svc.percentile_rank(np.array([1.0, 2.0, 2.0, 5.0]))) == [0.0, 0.5, 0.5, 1.0]


# --- recompute -------------------------------------------------------------------------------------------------------
def test_recompute_gives_the_hand_computed_tiers(world):
    run = svc.recompute(world.tree.city, AS_OF)
    assert (run.window_start, run.window_end, run.effective) == (
        dt.date(2026, 8, 1),
        dt.date(2026, 10, 31),
        dt.date(2026, 11, 1),
    )
    scores = _scores(run)
    assert [scores[s.pk].tier_computed for s in world.shops] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert [scores[s.pk].rank for s in world.shops] == list(range(12, 0, -1))
    top = scores[world.shops[11].pk]
    assert top.score == Decimal("0.9000")
    assert top.components["cartons"] == 520.0  # 120 × 13 ÷ 3
    assert top.components["amount"] == 26000.0
    assert top.components["weeks"] == 13 and top.components["weeks_total"] == 14
    assert top.components["norm"] == {"quantity": 1.0, "amount": 1.0, "ability": 0.5}
    assert top.next_tier_score is None
    eight = scores[world.shops[8].pk]
    assert eight.score == Decimal("0.6818")  # 0.8 × 8/11 + 0.1
    assert eight.next_tier_score == Decimal("0.7545")  # shop 9's score, the lowest of D4
    assert run.stats == {
        "retailers": 14,
        "scored": 12,
        "new": 2,
        "up": 6,
        "down": 4,
        "unchanged": 3,
        "first": 1,
        "capped": 0,
        "held": 0,
    }
    with translation.override("en"):
        run2 = svc.recompute(world.tree.city, AS_OF)
    assert run2.scores.get(retailer=world.shops[11]).reason == (
        "monthly average 520 cartons, 26,000 yuan; score 0.9000 ranks 1 of 12; up 2 tiers to D4"
    )
    assert run2.scores.get(retailer=world.shops[4]).reason == (
        "monthly average 217 cartons, 10,833 yuan; score 0.3909 ranks 8 of 12; stays at D2"
    )


def test_tiers_never_decrease_as_the_score_rises(world):
    run = svc.recompute(world.tree.city, AS_OF)
    pairs = sorted((s.score, s.tier_computed) for s in run.scores.filter(rank__isnull=False))
    tiers = [t for _s, t in pairs]
    assert tiers == sorted(tiers)
    ranks, t = svc.tiers_from_scores(np.array([0.9, 0.5, 0.5, 0.1, 0.7]), 3)
    assert list(ranks) == [1, 3, 3, 5, 2] and list(t) == [3, 2, 2, 1, 3]


def test_a_pyramid_shape_puts_fewer_retailers_in_the_higher_tiers():
    scores = np.arange(10, 0, -1) / 10  # ranks 1..10, u = 1.0, 0.9, …, 0.1
    _ranks, equal = svc.tiers_from_scores(scores, 5)
    _ranks, pyramid = svc.tiers_from_scores(scores, 5, 2.0)
    assert list(equal) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # ⌈5 × u²⌉: 5, 4.05, 3.2, 2.45, 1.8, 1.25, 0.8, 0.45, 0.2, 0.05
    assert list(pyramid) == [5, 5, 4, 3, 2, 2, 1, 1, 1, 1]
    scheme = svc.city_default()
    scheme.shape = Decimal("5")
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        svc.validate_scheme(scheme)
    assert exc.value.message_dict["shape"] == ["The tier shape must be between 0.25 and 4 (1: tiers of equal size)."]


def test_new_retailers_get_the_initial_tier(world):
    with translation.override("en"):
        run = svc.recompute(world.tree.city, AS_OF)
    newcomer = run.scores.get(retailer=world.newcomer)
    assert newcomer.components["initial"] == {"area": 10.0, "format": 5.0, "fixtures": 10.0, "settlement": 5.0}
    assert newcomer.tier_computed == 2  # 1 + ⌊30/80 × (4 − 1)⌋
    assert newcomer.rank is None
    assert newcomer.reason == "new retailer (opened 2026-09-15): initial score 30 of 80 points; first tier D2"
    quiet = run.scores.get(retailer=world.quiet)
    assert quiet.tier_computed == 1
    assert quiet.reason == "no purchases in the window: initial score 0 of 80 points; down 2 tiers to D1"


def test_max_step_caps_the_move_and_the_reason_says_so(world):
    scheme = svc.city_default()
    scheme.max_step = 1
    scheme.save()
    Retailer.objects.filter(pk=world.shops[11].pk).update(tier=1)
    with translation.override("en"):
        run = svc.recompute(world.tree.city, AS_OF)
    top = run.scores.get(retailer=world.shops[11])
    assert (top.tier_before, top.tier_computed, top.tier_after) == (1, 4, 2)
    assert top.reason.endswith("up 1 tier to D2 (D4 by score, capped at 1)")
    assert run.stats["capped"] == 4  # shops 9-11 (D1/D2 → D4) and the quiet one (D3 → D1); the others move 1
    assert all(abs(s.tier_after - s.tier_before) <= 1 for s in run.scores.exclude(tier_before=None))


def test_a_hold_band_keeps_a_one_tier_wobble(world):
    scheme = svc.city_default()
    scheme.hold_band = 1
    scheme.save()
    with translation.override("en"):
        run = svc.recompute(world.tree.city, AS_OF)
    moved = [s for s in run.scores.exclude(tier_before=None) if s.tier_computed != s.tier_before]
    held = [s for s in moved if abs(s.tier_computed - s.tier_before) == 1]
    assert held and run.stats["held"] == len(held)
    for s in held:
        assert s.tier_after == s.tier_before
        assert s.reason.endswith(
            f"stays at D{s.tier_before} (D{s.tier_computed} by score, within the hold band of 1)"
        )
    assert all(s.tier_after != s.tier_before for s in moved if abs(s.tier_computed - s.tier_before) > 1)
    # the retailer held below what its score earns is told so, and what moves it (not the cap of the step)
    svc.apply_run(run)
    up = next(s for s in held if s.tier_computed > s.tier_before)
    b, c = up.tier_before, up.tier_computed
    with translation.override("en"):
        move = svc.explain(Retailer.objects.get(pk=up.retailer_id))["move_up"]
    assert move.startswith(
        f"Your score earns D{c}, within the hold band of 1 tier above your D{b}: a tier changes only when the score "
        f"moves further, so you stay at D{b} until your score earns D{b + 2}. You need a score of "
    )
    assert "at most" not in move


def test_bands_method(world):
    scheme = svc.city_default()
    scheme.method = TierMethod.BANDS
    scheme.tier_count = 6
    scheme.volume_bands = [100, 300]
    scheme.price_bands = [60]
    scheme.save()
    with translation.override("en"):
        run = svc.recompute(world.tree.city, AS_OF)
    scores = _scores(run)
    # 43.3, 86.7 cartons: band 1; 130 … 260: band 2; 303 … 520: band 3; 50 yuan a carton: price band 1
    assert [scores[s.pk].tier_computed for s in world.shops] == [1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5]
    assert scores[world.shops[2].pk].reason == (
        "monthly average 130 cartons at 50 yuan a carton: volume band 2, price band 1; up 1 tier to D3"
    )
    assert scores[world.shops[2].pk].next_tier_score == Decimal("300.0000")


def test_recompute_without_aggregates_is_refused(world, settings, tmp_path):
    settings.CMDESK_DATA_DIR = tmp_path
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        svc.recompute(world.tree.city, AS_OF)
    assert exc.value.messages[0].startswith("No order aggregates for 2026-08, 2026-09, 2026-10 in ")


def test_recompute_is_scoped_to_the_org_unit(world):
    run = svc.recompute(world.tree.area_a2, AS_OF)
    assert set(run.scores.values_list("retailer_id", flat=True)) == {
        world.shops[10].pk,
        world.shops[11].pk,
        world.quiet.pk,
    }


# --- apply -----------------------------------------------------------------------------------------------------------
def test_apply_writes_tiers_and_tier_changes_with_the_reason(world):
    run = svc.recompute(world.tree.city, AS_OF)
    svc.apply_run(run, world.centre.user)
    run.refresh_from_db()
    assert run.status == RunStatus.APPLIED and run.applied_at is not None
    assert run.stats["changed"] == 11  # 9 shops, the newcomer and the quiet one
    world.shops[11].refresh_from_db()
    assert world.shops[11].tier == 4
    change = TierChange.objects.get(retailer=world.shops[11], source=TierChange.Source.RECOMPUTE)
    assert (change.tier_from, change.tier_to, change.effective) == (2, 4, dt.date(2026, 11, 1))
    assert change.reason == run.scores.get(retailer=world.shops[11]).reason
    assert change.recorded_by == world.centre.user
    assert not TierChange.objects.filter(retailer=world.shops[4], source=TierChange.Source.RECOMPUTE).exists()
    from auditlog.models import LogEntry

    entry = LogEntry.objects.get_for_object(world.shops[11]).get(additional_data__tier_run=run.pk)
    assert entry.changes == {"tier": ["2", "4"]} and entry.actor == world.centre.user


def test_reapply_and_stale_runs_are_refused(world):
    first = svc.recompute(world.tree.city, AS_OF)
    second = svc.recompute(world.tree.city, AS_OF)
    svc.apply_run(first)
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        svc.apply_run(first)
    assert exc.value.messages == [f"Recompute {first.pk} is Applied: only a draft can be applied."]
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        svc.apply_run(second)
    assert exc.value.messages[0].startswith(f"Recompute {second.pk} is stale: 11 retailers' tiers changed since")
    assert TierRun.objects.get(pk=second.pk).status == RunStatus.DRAFT


def test_only_the_centre_may_apply(world):
    from django.core.exceptions import PermissionDenied

    run = svc.recompute(world.tree.city, AS_OF, world.centre.user)
    with pytest.raises(PermissionDenied):
        svc.apply_run(run, world.head.user)


def test_command_recompute_and_apply(world, capsys):
    call_command("tiers", "recompute", "--scope", "A", "--as-of", "2026-10-31", "--apply")
    out = capsys.readouterr().out
    run = TierRun.objects.get()
    assert run.status == RunStatus.APPLIED and run.org_unit == world.tree.branch_a
    assert f"run {run.pk}" in out and "applied" in out


# --- explanation -----------------------------------------------------------------------------------------------------
def test_explanation_just_below_the_next_tier(world):
    run = svc.recompute(world.tree.city, AS_OF)
    svc.apply_run(run)
    shop = Retailer.objects.get(pk=world.shops[8].pk)
    with translation.override("en"):
        e = svc.explain(shop)
        assert e["headline"] == (
            "Your tier is D3. Over 2026-08 – 2026-10 you bought on average 390 cartons (19,500 yuan) a month; "
            "your score 0.6818 ranks 4 of 12."
        )
        # shop 9 buys 433.3 cartons a month: 44 more cartons pass it (8/11 → 9/11 of the others), score 0.7545
        assert e["move_up"] == (
            "You need a score of 0.7545 for D4: about 44 more cartons a month at your price mix (50.00 yuan a "
            "carton), that is about 2,200 yuan more a month."
        )
        assert e["needed"] == {"cartons": 44, "amount": 2200.0, "price": 50.0, "tier": 4, "score": 0.7545}
        quantity = e["components"][0]
        assert (quantity["value"], quantity["normalised"], quantity["weight"], quantity["contribution"]) == (
            390.0,
            0.7273,
            0.5,
            0.3636,
        )
        assert quantity["next_median"] == 476.67
        assert e["scheme_text"].startswith("Tiers are recomputed monthly from the last 3 months of purchases: 50%")


def test_explanation_at_the_top_and_for_a_newcomer(world):
    svc.apply_run(svc.recompute(world.tree.city, AS_OF))
    with translation.override("en"):
        assert svc.explain(Retailer.objects.get(pk=world.shops[11].pk))["move_up"] == "You are in the top tier."
        e = svc.explain(Retailer.objects.get(pk=world.newcomer.pk))
    assert e["headline"].startswith("Your tier is D2: a starting tier for a new shop, 30 of 80 points")
