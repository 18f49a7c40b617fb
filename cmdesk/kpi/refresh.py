"""Keep what the KPI engine reads in step with the records and the order facts.

After an import, `refresh_after_import(months)` re-exports the dimension snapshots and rebuilds the monthly
aggregates of the months the import touched. `refresh_all()` does everything (the demo and `cmdesk kpi-refresh`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings

from cmdesk.analytics.engines import Engine, RefreshReport, get_engine

from .dims import dims_stale, export_dims

log = logging.getLogger(__name__)


def engine(name: str | None = None, data_dir: Path | None = None) -> Engine:
    return get_engine(name or settings.CMDESK_KPI_ENGINE, Path(data_dir or settings.CMDESK_DATA_DIR))


def data_version(data_dir: Path | None = None) -> str:
    """Changes whenever the aggregates or the snapshots are rewritten (from any process): part of cache keys."""
    from cmdesk.analytics.layout import AGG_DIR, dim_file

    data_dir = Path(data_dir or settings.CMDESK_DATA_DIR)
    parts = []
    for path in (data_dir / AGG_DIR / "state.json", dim_file(data_dir, "retailers"), dim_file(data_dir, "products")):
        try:
            parts.append(str(path.stat().st_mtime_ns))
        except FileNotFoundError:
            parts.append("-")
    return ".".join(parts)


def ensure_dims(data_dir: Path | None = None) -> bool:
    """Re-export the snapshots when the records changed since; True when it did."""
    if dims_stale(data_dir):
        export_dims(data_dir)
        return True
    return False


def refresh_after_import(months: list[str]) -> RefreshReport:
    t0 = time.perf_counter()
    export_dims()
    report = engine("duckdb").refresh_aggregates(sorted(set(months)))
    log.info("refreshed aggregates of %s in %.2f s", ", ".join(report.months), time.perf_counter() - t0)
    return report


def refresh_all(*, full: bool = False, engine_name: str = "duckdb") -> RefreshReport:
    """Export the snapshots and rebuild the stale months' aggregates (every month with ``full``)."""
    from cmdesk.analytics.layout import order_months

    export_dims()
    eng = engine(engine_name)
    months = order_months(eng.data_dir) if full else None
    if full:
        # months whose order file vanished are cleared too
        months = sorted(set(months) | set(eng.load_state()))
    report = eng.refresh_aggregates(months)
    return report
