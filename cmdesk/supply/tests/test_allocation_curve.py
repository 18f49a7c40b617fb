"""The tier curve alone (no database): monotone, within what is available, capped, as full as the rounding rule
allows, and reproducible — over many random inputs from a fixed seed, and on small hand-computed cases."""

from __future__ import annotations

import math
import random

import pytest
from django.core.exceptions import ValidationError

from cmdesk.supply.services.allocation import Cell, isotonic, tier_curve, tier_weight_curve


def _check(cells: list[Cell], available: int, cap: int | None) -> None:
    curve = tier_curve(cells, available, cap)
    q = curve.quantities
    live = [c for c in cells if c.retailers > 0]
    assert set(q) == {(c.segment, c.tier) for c in live}
    total = sum(q[(c.segment, c.tier)] * c.retailers for c in live)
    assert total == curve.total <= available
    for c in live:
        a = q[(c.segment, c.tier)]
        assert isinstance(a, int) and a >= 0
        if cap is not None:
            assert a <= cap
    by_segment: dict[str, list[Cell]] = {}
    for c in live:
        by_segment.setdefault(c.segment, []).append(c)
    for seg_cells in by_segment.values():
        seg_cells.sort(key=lambda c: c.tier)
        for low, high in zip(seg_cells, seg_cells[1:], strict=False):
            assert q[(low.segment, low.tier)] <= q[(high.segment, high.tier)], (low, high)
    # As full as the rule allows: no cell could take one more carton per retailer without passing the cap, the next
    # higher tier of its segment, its rounded-up share (⌊λw⌋ + 1) or the cartons left.
    left = available - total
    for seg_cells in by_segment.values():
        for i, c in enumerate(seg_cells):
            a = q[(c.segment, c.tier)]
            above = q[(c.segment, seg_cells[i + 1].tier)] if i + 1 < len(seg_cells) else None
            blocked = (
                (cap is not None and a + 1 > cap)
                or (above is not None and a + 1 > above)
                or c.retailers > left
                or a >= math.floor(curve.scale * c.weight) + 1
            )
            assert blocked, (c, a, left)


def test_random_inputs_never_break_the_rules():
    rng = random.Random(20261102)
    for _case in range(600):
        segments = rng.choice([[""], ["urban", "rural"], ["A-1", "A-2", "B-1"]])
        seg_weight = {s: rng.choice([0.0, 0.5, 1.0, 1.3, 2.0]) for s in segments}
        min_tier = rng.randint(1, 25)
        shape = rng.choice(["linear", "steps", "flat", "steep"])
        tier_w = {}
        for g in range(min_tier, 31):
            base = g - min_tier + 1
            tier_w[g] = {"linear": base, "steps": (base // 5) * 2 + 1, "flat": 1.0, "steep": base**2 / 7}[shape]
        cells = [
            Cell(s, g, rng.choice([0, 1, 1, 2, 3, 7, 15, 40, 120]), tier_w[g] * seg_weight[s])
            for s in segments
            for g in range(min_tier, 31)
            if rng.random() < 0.8
        ]
        available = rng.choice([0, 1, 5, 37, 200, 1200, 5000, 25000])
        cap = rng.choice([None, None, 1, 2, 3, 5, 12])
        _check(cells, available, cap)


def test_reproducible_whatever_the_cell_order():
    rng = random.Random(7)
    cells = [Cell(s, g, rng.randint(1, 30), g * w) for s, w in (("urban", 1.0), ("rural", 0.6)) for g in range(5, 31)]
    first = tier_curve(cells, 1234, 6)
    shuffled = cells[:]
    rng.shuffle(shuffled)
    again = tier_curve(shuffled, 1234, 6)
    assert first.quantities == again.quantities
    assert first.total == again.total == 1234 - first.leftover


def test_thirty_equal_tiers_hand_computed():
    # Linear weights 1..30, 100 retailers a tier, 1,200 cartons: λ = 1/19 gives D19..D30 one carton each.
    cells = [Cell("", g, 100, g) for g in range(1, 31)]
    curve = tier_curve(cells, 1200)
    assert curve.total == 1200
    assert [curve.quantities[("", g)] for g in range(30, 0, -1)] == [1] * 12 + [0] * 18


def test_leftover_goes_from_the_top_tier_down():
    # D3 w=3 (10 retailers), D2 w=2, D1 w=1, 75 cartons: the largest λ (→ 1.5⁻) gives 4/2/1 = 70 cartons; the 5 left
    # fit no cell of 10 retailers.
    cells = [Cell("", 3, 10, 3), Cell("", 2, 10, 2), Cell("", 1, 10, 1)]
    curve = tier_curve(cells, 75)
    assert curve.quantities == {("", 3): 4, ("", 2): 2, ("", 1): 1}
    assert curve.total == 70 and curve.leftover == 5
    # One retailer in D3, 35 cartons: λ → 1.5⁻ gives 4 + 2×10 + 1×10 = 34; the carton left goes to D3 (top first).
    curve = tier_curve([Cell("", 3, 1, 3), Cell("", 2, 10, 2), Cell("", 1, 10, 1)], 35)
    assert curve.quantities == {("", 3): 5, ("", 2): 2, ("", 1): 1}
    assert curve.total == 35
    # Two cells of one retailer each with equal weight: the leftover carton goes to the higher tier only.
    curve = tier_curve([Cell("", 9, 1, 1), Cell("", 8, 1, 1)], 3)
    assert curve.quantities == {("", 9): 2, ("", 8): 1}


def test_cap_saturates_and_the_rest_stays_unallotted():
    cells = [Cell("", g, 10, g) for g in (10, 20, 30)]
    curve = tier_curve(cells, 10_000, cap=4)
    assert curve.quantities == {("", 10): 4, ("", 20): 4, ("", 30): 4}
    assert curve.total == 120


def test_segments_are_monotone_apart_and_weighted():
    cells = [Cell("urban", g, 10, g * 1.0) for g in (10, 20, 30)] + [
        Cell("rural", g, 10, g * 0.5) for g in (10, 20, 30)
    ]
    curve = tier_curve(cells, 900)
    q = curve.quantities
    assert q[("urban", 30)] >= q[("urban", 20)] >= q[("urban", 10)]
    assert q[("rural", 30)] >= q[("rural", 20)] >= q[("rural", 10)]
    assert q[("urban", 30)] > q[("rural", 30)]
    assert curve.total <= 900


def test_tier_weights():
    assert tier_weight_curve({}, 28) == {28: 1.0, 29: 2.0, 30: 3.0}
    assert tier_weight_curve({"20": 1, "25": 2}, 18) == {
        18: 0.0, 19: 0.0, 20: 1.0, 21: 1.0, 22: 1.0, 23: 1.0, 24: 1.0, 25: 2.0, 26: 2.0, 27: 2.0, 28: 2.0, 29: 2.0,
        30: 2.0,
    }  # fmt: skip
    with pytest.raises(ValidationError) as err:
        tier_weight_curve({"10": 3, "20": 2}, 1)
    assert "tier_weights" in err.value.error_dict
    with pytest.raises(ValidationError):
        tier_weight_curve({"31": 1}, 1)
    with pytest.raises(ValidationError):
        tier_weight_curve({"5": "many"}, 1)


def test_isotonic_pools_violators():
    assert isotonic([1, 3, 2, 4], [1, 1, 1, 1]) == [1.0, 2.5, 2.5, 4.0]
    assert isotonic([5, 1], [3, 1]) == [4.0, 4.0]
    assert isotonic([1, 2, 3], [1, 1, 1]) == [1.0, 2.0, 3.0]
