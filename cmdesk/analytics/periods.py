"""Reporting periods: week, month, quarter, year or any date range, with their comparison periods.

``Period.parse`` accepts ``2026-10`` (month), ``2026-W42`` (ISO week), ``2026-Q3`` (quarter), ``2026`` (year) and
``2026-10-01..2026-10-15`` (an inclusive date range). The previous period (环比, MoM) is the one just before with the
same shape (previous month, week, quarter, year; for a range, the same number of days just before); the year-ago
period (同比, YoY) is the same calendar span one year earlier (29 February falls back to the 28th).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .layout import m_idx, month_label, month_of_idx

KINDS = ("week", "month", "quarter", "year", "range")


class PeriodError(ValueError):
    pass


def _shift_year(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


@dataclass(frozen=True)
class Period:
    kind: str
    start: dt.date
    end: dt.date  # inclusive

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PeriodError(f"unknown period kind {self.kind!r}")
        if self.end < self.start:
            raise PeriodError(f"period ends ({self.end}) before it starts ({self.start})")

    # --- constructors -------------------------------------------------------------------------------------------
    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls("month", dt.date(year, month, 1), _month_end(year, month))

    @classmethod
    def quarter(cls, year: int, q: int) -> Period:
        if not 1 <= q <= 4:
            raise PeriodError(f"quarter must be 1..4, not {q}")
        return cls("quarter", dt.date(year, 3 * q - 2, 1), _month_end(year, 3 * q))

    @classmethod
    def year(cls, year: int) -> Period:
        return cls("year", dt.date(year, 1, 1), dt.date(year, 12, 31))

    @classmethod
    def week(cls, year: int, week: int) -> Period:
        try:
            start = dt.date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise PeriodError(f"{year} has no ISO week {week}") from exc
        return cls("week", start, start + dt.timedelta(days=6))

    @classmethod
    def range(cls, start: dt.date, end: dt.date) -> Period:
        return cls("range", start, end)

    @classmethod
    def parse(cls, text: str) -> Period:
        s = (text or "").strip()
        try:
            if m := re.fullmatch(r"(\d{4})-(\d{2})", s):
                return cls.month(int(m[1]), int(m[2]))
            if m := re.fullmatch(r"(\d{4})-?[Ww](\d{1,2})", s):
                return cls.week(int(m[1]), int(m[2]))
            if m := re.fullmatch(r"(\d{4})-?[Qq]([1-4])", s):
                return cls.quarter(int(m[1]), int(m[2]))
            if m := re.fullmatch(r"(\d{4})", s):
                return cls.year(int(m[1]))
            if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})", s):
                return cls.range(dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2]))
        except ValueError as exc:
            raise PeriodError(f"invalid period {text!r}: {exc}") from exc
        raise PeriodError(
            f"invalid period {text!r}: use 2026-10 (month), 2026-W42 (week), 2026-Q3 (quarter), 2026 (year) "
            "or 2026-10-01..2026-10-15 (range)"
        )

    # --- properties ---------------------------------------------------------------------------------------------
    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        if self.kind == "month":
            return month_label(self.start)
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month + 2) // 3}"
        if self.kind == "year":
            return str(self.start.year)
        if self.kind == "week":
            iso = self.start.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def __str__(self) -> str:
        return self.label

    @property
    def month_aligned(self) -> bool:
        """True when the period is whole calendar months (then the monthly aggregates answer it)."""
        return self.start.day == 1 and self.end == _month_end(self.end.year, self.end.month)

    def months(self) -> list[str]:
        """Labels of the calendar months the period touches."""
        return [month_of_idx(i) for i in range(m_idx(month_label(self.start)), m_idx(month_label(self.end)) + 1)]

    # --- comparison periods -------------------------------------------------------------------------------------
    def previous(self) -> Period:
        """环比: the period just before, of the same shape."""
        if self.kind in ("month", "quarter", "year") or (self.kind == "range" and self.month_aligned):
            n = len(self.months())
            first = m_idx(month_label(self.start)) - n
            last = first + n - 1
            a, b = month_of_idx(first), month_of_idx(last)
            return Period(
                self.kind, dt.date(int(a[:4]), int(a[5:]), 1), _month_end(int(b[:4]), int(b[5:]))
            )
        return Period(self.kind, self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))

    def year_ago(self) -> Period:
        """同比: the same span one year earlier."""
        if self.kind == "week":
            iso = self.start.isocalendar()
            try:
                return Period.week(iso.year - 1, iso.week)
            except PeriodError:  # week 53 in a year that has 52
                return Period.week(iso.year - 1, 52)
        start = _shift_year(self.start, -1)
        end = _shift_year(self.end, -1)
        if self.month_aligned:
            end = _month_end(end.year, end.month)
        return Period(self.kind, start, end)
