"""Calendar facts for the demo data: Spring Festival dates, the demo period, and seasonal factors.

Django-free; imported by :mod:`cmdesk.demo.orders`. Days are handled as ``int`` days since 1970-01-01
(the integer view of ``datetime64[D]``) so that the factors can be computed for whole arrays at once.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

#: 春节 (first day of the lunar new year), 2015–2035.
SPRING_FESTIVAL: dict[int, dt.date] = {
    2015: dt.date(2015, 2, 19),
    2016: dt.date(2016, 2, 8),
    2017: dt.date(2017, 1, 28),
    2018: dt.date(2018, 2, 16),
    2019: dt.date(2019, 2, 5),
    2020: dt.date(2020, 1, 25),
    2021: dt.date(2021, 2, 12),
    2022: dt.date(2022, 2, 1),
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
    2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6),
    2028: dt.date(2028, 1, 26),
    2029: dt.date(2029, 2, 13),
    2030: dt.date(2030, 2, 3),
    2031: dt.date(2031, 1, 23),
    2032: dt.date(2032, 2, 11),
    2033: dt.date(2033, 1, 31),
    2034: dt.date(2034, 2, 19),
    2035: dt.date(2035, 2, 8),
}

_EPOCH = dt.date(1970, 1, 1)
_SF_FIRST_YEAR = min(SPRING_FESTIVAL)
_SF_LAST_YEAR = max(SPRING_FESTIVAL)
_NO_FESTIVAL = np.iinfo(np.int32).min // 2  # far from every day, so no festival effect applies

#: Volume factor by day relative to the Spring Festival (day 0): the three weeks before it stock up,
#: the festival week itself is quiet, the week after recovers.
SF_VOLUME_WINDOWS: tuple[tuple[int, int, float], ...] = (
    (-21, -15, 1.40),
    (-14, -8, 1.50),
    (-7, -1, 1.60),
    (0, 6, 0.45),
    (7, 13, 0.80),
)
#: Ordering-rate factor (share of retailers that place their weekly order) relative to the Spring Festival.
SF_RATE_WINDOWS: tuple[tuple[int, int, float], ...] = (
    (0, 6, 0.55),
    (7, 13, 0.90),
)
#: The summer dip: July and August.
SUMMER_MONTHS = (7, 8)
SUMMER_FACTOR = 0.92


def spring_festival(year: int) -> dt.date | None:
    """The Spring Festival of ``year``, or None outside the table (2015–2035)."""
    return SPRING_FESTIVAL.get(year)


def to_day(value: dt.date) -> int:
    """Days since 1970-01-01."""
    return (value - _EPOCH).days


def from_day(day: int) -> dt.date:
    """The date ``day`` days after 1970-01-01."""
    return _EPOCH + dt.timedelta(days=int(day))


def weekday(days: np.ndarray) -> np.ndarray:
    """Weekday (Monday = 0) of integer days since the epoch (1970-01-01 was a Thursday)."""
    return (np.asarray(days, dtype=np.int64) + 3) % 7


def period_start(as_of: dt.date, years: int) -> dt.date:
    """Start of the ``years``-long period ending at ``as_of``: ``as_of`` minus ``years``, on the 1st of that month."""
    return dt.date(as_of.year - years, as_of.month, 1)


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first day of every calendar month that overlaps ``start`` .. ``end`` (both inclusive)."""
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_end(first: dt.date) -> dt.date:
    """The last day of the month that starts on ``first``."""
    nxt = dt.date(first.year + 1, 1, 1) if first.month == 12 else dt.date(first.year, first.month + 1, 1)
    return nxt - dt.timedelta(days=1)


def _festival_table() -> np.ndarray:
    """Spring Festival day numbers indexed by ``year - 2015``, one extra year either side as 'no festival'."""
    table = np.full(_SF_LAST_YEAR - _SF_FIRST_YEAR + 3, _NO_FESTIVAL, dtype=np.int64)
    for year, date in SPRING_FESTIVAL.items():
        table[year - _SF_FIRST_YEAR + 1] = to_day(date)
    return table


_FESTIVALS = _festival_table()


def festival_offset(days: np.ndarray) -> np.ndarray:
    """Days relative to the nearest relevant Spring Festival (negative before it), for integer days.

    A day counts against next year's festival when it is at most 30 days before it, otherwise against its own
    year's festival. Years outside the table give a very large offset, i.e. no festival effect.
    """
    days = np.asarray(days, dtype=np.int64)
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    index = np.clip(years - _SF_FIRST_YEAR + 1, 0, len(_FESTIVALS) - 2)
    this = _FESTIVALS[index]
    nxt = _FESTIVALS[index + 1]
    # Outside the table clip() maps to an edge year; guard so those years get no effect.
    outside = (years < _SF_FIRST_YEAR - 1) | (years > _SF_LAST_YEAR)
    this = np.where(outside, _NO_FESTIVAL, this)
    nxt = np.where(outside, _NO_FESTIVAL, nxt)
    to_next = days - nxt
    return np.where(to_next >= -30, to_next, days - this)


def seasonal_factors(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Volume and ordering-rate factors for integer days: Spring Festival peak and trough, summer dip.

    Returns ``(volume, rate)``, float64 arrays shaped like ``days``; 1.0 means an ordinary week.
    """
    days = np.asarray(days, dtype=np.int64)
    offset = festival_offset(days)
    volume = np.ones(days.shape, dtype=np.float64)
    rate = np.ones(days.shape, dtype=np.float64)
    for low, high, factor in SF_VOLUME_WINDOWS:
        volume[(offset >= low) & (offset <= high)] = factor
    for low, high, factor in SF_RATE_WINDOWS:
        rate[(offset >= low) & (offset <= high)] = factor
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    volume[np.isin(months, SUMMER_MONTHS)] *= SUMMER_FACTOR
    return volume, rate


def festival_window(day: int, before: int, after: int) -> bool:
    """Whether integer ``day`` lies within ``before`` days before to ``after`` days after a Spring Festival."""
    offset = int(festival_offset(np.array([day]))[0])
    return -before <= offset <= after
