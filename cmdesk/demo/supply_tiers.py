"""Demo records of tiers and the 4+X classes, built through the real services after the KPI aggregates are refreshed.

* the city default tier scheme (30 tiers, weighted score, 3-month window, at most 3 tiers a move);
* one recompute of the whole city over the 3 complete months up to ``as_of``, applied: effective the first day after
  the window (for ``as_of`` 2026-10-31: window 2026-08 … 2026-10, effective 2026-11-01), so every retailer's tier
  history ends with a recompute whose reason can be read on its explanation page;
* the 4+X scheme (active: market type, format, scale from the tier, credit, and floor area and the shop's image as
  local dimensions) and the 2008 42-class preset, both classified. The shop's image (终端形象) is a manual dimension:
  each department's clerk has rated about a fifth of its retailers from a sheet (the others keep the default, 良), so
  the manual-level page, its history and the template have content.

The step is deterministic: it reads the demo's records and order facts, and ``seed`` draws the image ratings.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import numpy as np

from cmdesk.org.choices import Role
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.retail.models import Retailer
from cmdesk.supply.models import ClassPreset, ClassScheme
from cmdesk.supply.services.classes import classify, create_preset, save_scheme, set_manual_levels
from cmdesk.supply.services.tiers import apply_run, city_default, recompute

FOUR_X_NAME = "4+X 零售客户分类"
CODE_2008_NAME = "2008 版 42 类编码"
IMAGE_DIMENSION = {
    "code": "image",
    "name": "终端形象",
    "kind": "local",
    "source": "manual",
    "levels": [{"code": "A", "label": "优"}, {"code": "B", "label": "良"}, {"code": "C", "label": "差"}],
    "default": "B",
}
RATED_SHARE = 0.2  # of a department's retailers, rated by its clerk


def rate_images(scheme: ClassScheme, seed: int) -> int:
    """Each department's clerk rates about a fifth of its retailers' image from a sheet (higher tiers more often
    优, lower ones more often 差), through the upload service; returns the retailers rated."""
    rng = np.random.default_rng(seed + 17)
    rated = 0
    clerks = Staff.objects.filter(role=Role.CLERK, active=True).select_related("user", "org_unit").order_by("pk")
    for clerk in clerks:
        shops = list(
            Retailer.objects.filter(route__org_unit__path__startswith=clerk.org_unit.path, classes__scheme=scheme)
            .order_by("pk")
            .values_list("licence_no", "tier")
        )
        rows: list[tuple] = [("许可证号", "零售户", "终端形象 (image)")]
        for licence, tier in shops:
            if rng.random() >= RATED_SHARE:
                continue
            top = (tier or 1) / 30
            level = rng.choice(["A", "B", "C"], p=[0.15 + 0.35 * top, 0.65 - 0.2 * top, 0.2 - 0.15 * top])
            rows.append((licence, "", str(level)))
        if len(rows) > 1:
            rated += set_manual_levels(scheme, rows, clerk.user)["changed"]
    return rated


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
    four_x.dimensions = [*four_x.dimensions, IMAGE_DIMENSION]
    save_scheme(four_x)
    code_2008 = create_preset(ClassPreset.CODE_2008, CODE_2008_NAME)
    c4 = classify(four_x)
    c8 = classify(code_2008)
    images = rate_images(four_x, seed)
    done = time.perf_counter()
    return {
        "tier scheme": scheme.name,
        "recompute": f"{run.stats['retailers']} retailers, {run.stats['up']} up, {run.stats['down']} down, "
        f"{run.stats['new']} new ({computed - started:.1f}s)",
        "applied": f"{run.stats.get('changed', 0)} changes effective {run.effective} ({applied - computed:.1f}s)",
        "4+X classes": f"{c4['classes']} for {c4['retailers']} retailers",
        "2008 classes": f"{c8['classes']} for {c8['retailers']} retailers",
        "image ratings": f"{images} retailers rated by their clerks",
        "classified in": f"{done - applied:.1f}s",
    }
