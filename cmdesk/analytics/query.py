"""What a caller asks the KPI engine: a period, a grouping, a filter (the user's scope) and the indicators."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .periods import Period

# Grouping dimensions. Retailer-side ones come from the retailer snapshot, product-side ones from the product
# snapshot; "month" splits the period into calendar months (trend charts).
RETAILER_DIMS: dict[str, tuple[str, ...]] = {
    "branch": ("branch_code", "branch_name"),
    "dept": ("dept_code", "dept_name"),
    "area": ("area_code", "area_name"),
    "route": ("route_code", "route_name"),
    "cm": ("cm_id", "cm_code", "cm_name"),
    "retailer": ("retailer_id", "licence", "retailer_name"),
    "market_type": ("market_type",),
    "format": ("business_format",),
    "tier": ("tier",),
}
PRODUCT_DIMS: dict[str, tuple[str, ...]] = {
    "product": ("product_code", "product_name"),
    "brand": ("brand",),
    "class": ("class_rank", "class_name"),
    "provincial": ("provincial",),
}
TIME_DIMS: dict[str, tuple[str, ...]] = {"month": ("month",)}
DIMENSIONS = {**RETAILER_DIMS, **PRODUCT_DIMS, **TIME_DIMS}

_PATH_RE = re.compile(r"^[0-9A-Za-z]+$")
_TEXT_RE = re.compile(r"^[^'\\\x00]{1,100}$")


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class Filter:
    """Which retailers and products count. Empty tuples mean "no restriction" for that field.

    ``org_paths`` keeps retailers whose route's org-unit path starts with any of them (an org subtree);
    ``cm_ids`` keeps the routes of these customer managers. Both given: a retailer must pass both.
    ``nothing=True`` is the empty scope (a user who may see nothing): every count is zero.
    """

    org_paths: tuple[str, ...] = ()
    cm_ids: tuple[int, ...] = ()
    route_codes: tuple[str, ...] = ()
    retailer_ids: tuple[int, ...] = ()
    product_codes: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    class_ranks: tuple[int, ...] = ()
    key_brands_only: bool = False
    nothing: bool = False

    def __post_init__(self) -> None:
        for p in self.org_paths:
            if not _PATH_RE.match(p):
                raise QueryError(f"invalid org path {p!r}")
        for name in ("route_codes", "product_codes", "brands"):
            for v in getattr(self, name):
                if not _TEXT_RE.match(v):
                    raise QueryError(f"invalid value {v!r} in {name}")
        for name in ("cm_ids", "retailer_ids", "class_ranks"):
            for v in getattr(self, name):
                if not isinstance(v, int) or isinstance(v, bool):
                    raise QueryError(f"{name} must be integers, got {v!r}")


@dataclass(frozen=True)
class KpiQuery:
    period: Period
    by: tuple[str, ...] = ()
    filter: Filter = field(default_factory=Filter)
    indicators: tuple[str, ...] = ()  # empty: all
    source: str = "auto"  # auto | aggregates | lines

    def __post_init__(self) -> None:
        unknown = [d for d in self.by if d not in DIMENSIONS]
        if unknown:
            raise QueryError(f"unknown grouping {', '.join(unknown)}; choose from {', '.join(DIMENSIONS)}")
        if len(set(self.by)) != len(self.by):
            raise QueryError("a grouping is repeated")
        if self.source not in ("auto", "aggregates", "lines"):
            raise QueryError(f"unknown source {self.source!r}")
        if self.source == "aggregates" and not self.period.month_aligned:
            raise QueryError(f"the monthly aggregates cannot answer {self.period}; use source='lines'")
        from .indicators import INDICATORS

        bad = [i for i in self.indicators if i not in INDICATORS]
        if bad:
            raise QueryError(f"unknown indicator {', '.join(bad)}")

    @property
    def resolved_source(self) -> str:
        if self.source != "auto":
            return self.source
        return "aggregates" if self.period.month_aligned else "lines"

    def group_columns(self) -> list[str]:
        return [c for d in self.by for c in DIMENSIONS[d]]
