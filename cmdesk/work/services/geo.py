"""Distances on the earth's surface, for check-ins: how far the CM stood from the shop."""

from __future__ import annotations

import math
from decimal import Decimal

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)

Number = float | int | Decimal


def haversine_m(lat1: Number, lon1: Number, lat2: Number, lon2: Number) -> float:
    """Great-circle distance in metres between two points given in decimal degrees (WGS-84 / GCJ-02 alike)."""
    phi1, phi2 = math.radians(float(lat1)), math.radians(float(lat2))
    dphi = phi2 - phi1
    dlambda = math.radians(float(lon2) - float(lon1))
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def valid_point(lat: Number | None, lon: Number | None) -> bool:
    """Both coordinates given and inside their ranges."""
    if lat is None or lon is None:
        return False
    try:
        return -90 <= float(lat) <= 90 and -180 <= float(lon) <= 180
    except (TypeError, ValueError):
        return False
