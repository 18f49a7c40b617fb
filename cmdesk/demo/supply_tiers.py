"""Demo records of tiers and the 4+X classes, built through the real services after the KPI aggregates are refreshed.

* the city default tier scheme (30 tiers, weighted score, 3-month window, at most 3 tiers a move);
* one recompute of the whole city over the 3 complete months up to ``as_of``, applied: effective the first day after
  the window (for ``as_of`` 2026-10-31: window 2026-08 … 2026-10, effective 2026-11-01), so every retailer's tier
  history ends with a recompute whose reason can be read on its explanation page;
* the 4+X scheme (active: market type, format, scale from the tier, credit, and floor area as a local dimension) and
  the 2008 42-class preset, both classified.

The step is deterministic (it reads the demo's records and order facts): ``seed`` is accepted for the same signature
as the other demo steps.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

from cmdesk.org.models import OrgUnit
from cmdesk.supply.models import ClassPreset
from cmdesk.supply.services.classes import classify, create_preset
from cmdesk.supply.services.tiers import apply_run, city_default, recompute

FOUR_X_NAME = "4+X 零售客户分类"
CODE_2008_NAME = "2008 版 42 类编码"


def build_tiers_demo(as_of: dt.date, seed: int) -> dict[str, Any]:
    """Build the step and return counts and timings for the demo's log."""
    started = time.perf_counter()
    scheme = city_default()
    # the demo city's tiers were cut as a pyramid (fewer shops at the top, see cmdesk.demo.build): keep that shape
    scheme.shape = Decimal("1.40")
    scheme.hold_band = 1  # a one-tier wobble of the score does not move a retailer
    scheme.save(update_fields=["shape", "hold_band", "updated_at"])
    city = OrgUnit.objects.get_root_nodes().first()
    run = recompute(city, as_of)
    computed = time.perf_counter()
    run = apply_run(run)
    applied = time.perf_counter()
    four_x = create_preset(ClassPreset.FOUR_X, FOUR_X_NAME, active=True)
    code_2008 = create_preset(ClassPreset.CODE_2008, CODE_2008_NAME)
    c4 = classify(four_x)
    c8 = classify(code_2008)
    done = time.perf_counter()
    return {
        "tier scheme": scheme.name,
        "recompute": f"{run.stats['retailers']} retailers, {run.stats['up']} up, {run.stats['down']} down, "
        f"{run.stats['new']} new ({computed - started:.1f}s)",
        "applied": f"{run.stats.get('changed', 0)} changes effective {run.effective} ({applied - computed:.1f}s)",
        "4+X classes": f"{c4['classes']} for {c4['retailers']} retailers",
        "2008 classes": f"{c8['classes']} for {c8['retailers']} retailers",
        "classified in": f"{done - applied:.1f}s",
    }
