"""Demo records of the supply side: tiers recomputed and the 4+X classes, allocations of the scarce brands, weekly
forecasts and order-anomaly alerts with referrals, each built through the real services by its own module.

Runs after the KPI aggregates are refreshed (every step reads them or the order facts) and before the assessment
(whose forecast-accuracy item reads the forecasts).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from cmdesk.supply.models import (
    Alert,
    AlertRules,
    Allocation,
    AllocationAdjustment,
    ClassScheme,
    ForecastRun,
    Referral,
    RetailerClass,
    TierRun,
    TierScheme,
)


def clear_supply() -> None:
    """Delete the supply records (allocations, alerts and referrals protect retailers, products and staff)."""
    Referral.objects.all().delete()
    Alert.objects.all().delete()
    AlertRules.objects.all().delete()
    ForecastRun.objects.all().delete()  # forecasts cascade
    AllocationAdjustment.objects.all().delete()
    Allocation.objects.update(based_on=None)
    Allocation.objects.all().delete()  # tiers and lines cascade
    TierRun.objects.all().delete()  # scores cascade
    TierScheme.objects.all().delete()
    RetailerClass.objects.all().delete()
    ClassScheme.objects.all().delete()


def build_supply_demo(*, as_of: dt.date, seed: int, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Tiers and classes first (allocation reads them), then allocations, forecasts and alerts."""
    from cmdesk.demo.supply_alerts import build_alerts_demo
    from cmdesk.demo.supply_allocation import build_allocation_demo
    from cmdesk.demo.supply_forecasts import build_forecasts_demo
    from cmdesk.demo.supply_tiers import build_tiers_demo

    counts: dict[str, int] = {}
    for name, step in (
        ("tiers", build_tiers_demo),
        ("allocation", build_allocation_demo),
        ("forecasts", build_forecasts_demo),
        ("alerts", build_alerts_demo),
    ):
        started = time.perf_counter()
        done = step(as_of=as_of, seed=seed)
        counts.update({f"{name} {k}": v for k, v in done.items() if isinstance(v, int)})
        if progress:
            figures = ", ".join(f"{k} {v}" for k, v in done.items())
            progress(f"supply {name}: {figures} in {time.perf_counter() - started:.1f}s")
    return counts
