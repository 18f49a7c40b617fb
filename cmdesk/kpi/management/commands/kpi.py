"""`cmdesk kpi`: indicators for a period, grouped and scoped, from the command line.

    cmdesk kpi --period 2026-10 --by cm
    cmdesk kpi --period 2026-Q3 --by org --scope A --format xlsx --output q3.xlsx
    cmdesk kpi --period 2026-10-01..2026-10-15 --by product --indicators cases,listing_rate --engine spark
    cmdesk kpi --explain            # the indicator definitions (docs/indicators.md is generated from it)
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import unicodedata

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from cmdesk.analytics.engines import ENGINES, EngineError
from cmdesk.analytics.indicators import DEFAULT, INDICATORS
from cmdesk.analytics.periods import PeriodError
from cmdesk.analytics.query import DIMENSIONS, QueryError
from cmdesk.core.exceptions import OutOfScope
from cmdesk.kpi.present import display_columns, fmt, label, write_xlsx
from cmdesk.kpi.selectors import SYSTEM, kpi, resolve_scope

BY_ALIASES = {"org": None, "class": "class", "department": "dept", "staff": "cm"}


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill


def _json_default(value):
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(type(value))


class Command(BaseCommand):
    help = "Compute indicators (KPIs) for a period, grouped by org level, CM, route, product, brand or class."

    def add_arguments(self, parser):
        parser.add_argument("--period", help="2026-10, 2026-W42, 2026-Q3, 2026 or 2026-10-01..2026-10-15")
        parser.add_argument(
            "--by",
            default="",
            help=f"comma-separated grouping: org (the level below the scope), {', '.join(DIMENSIONS)}",
        )
        parser.add_argument("--scope", help="org unit code, route code, CM employee number or retailer licence")
        parser.add_argument("--engine", choices=ENGINES, default=None, help="default: settings.CMDESK_KPI_ENGINE")
        parser.add_argument("--format", choices=("table", "csv", "json", "xlsx"), default="table")
        parser.add_argument("--output", "-o", help="write to this file (required for xlsx)")
        parser.add_argument("--indicators", help="comma-separated names, or 'all' (table default: the headline set)")
        parser.add_argument("--user", help="apply this user's scope (default: the whole city)")
        parser.add_argument("--source", choices=("auto", "aggregates", "lines"), default="auto")
        parser.add_argument("--lang", default="zh-hans", help="labels: zh-hans (default) or en")
        parser.add_argument("--explain", action="store_true", help="print the indicator definitions as Markdown")

    def handle(self, *args, **o):
        with translation.override(o["lang"]):
            if o["explain"]:
                self.stdout.write(explain_markdown())
                return
            if not o["period"]:
                raise CommandError("--period is required, e.g. --period 2026-10")
            self._run(o)

    def _run(self, o):
        user = SYSTEM
        if o["user"]:
            try:
                user = get_user_model().objects.get(username=o["user"])
            except get_user_model().DoesNotExist as exc:
                raise CommandError(f"--user: no user {o['user']!r}") from exc
        try:
            target = resolve_scope(user, o["scope"])
        except OutOfScope as exc:
            raise CommandError(f"--scope: {o['scope']!r} is not an org unit, route, CM or licence in scope") from exc
        by = []
        for part in filter(None, (s.strip() for s in o["by"].split(","))):
            if part == "org":
                if target.next_level is None:
                    raise CommandError("--by org: the scope has no level below it")
                by.append(target.next_level)
            else:
                by.append(BY_ALIASES.get(part, part))
        if o["indicators"] in (None, ""):
            names = DEFAULT if o["format"] == "table" else ()
        elif o["indicators"] == "all":
            names = ()
        else:
            names = tuple(s.strip() for s in o["indicators"].split(",") if s.strip())
        try:
            result = kpi(
                user, o["period"], tuple(by), scope=o["scope"], indicators=names, engine_name=o["engine"],
                source=o["source"],
            )
        except (PeriodError, QueryError, EngineError) as exc:
            raise CommandError(str(exc)) from exc
        title = f"{target.label or 'cmdesk'} · {result.query.period}"
        fmt_ = o["format"]
        if fmt_ == "xlsx":
            if not o["output"]:
                raise CommandError("--format xlsx needs --output FILE.xlsx")
            write_xlsx(result, o["output"], title=title)
            self.stderr.write(f"{len(result.rows)} rows written to {o['output']}")
            return
        out = open(o["output"], "w", encoding="utf-8", newline="") if o["output"] else None  # noqa: SIM115
        stream = out or self.stdout
        try:
            if fmt_ == "csv":
                writer = csv.writer(stream, lineterminator="\n")
                writer.writerow(result.columns)
                for row in result.rows:
                    writer.writerow(["" if row[c] is None else row[c] for c in result.columns])
            elif fmt_ == "json":
                payload = {
                    "period": str(result.query.period),
                    "scope": {"kind": target.kind, "code": target.code, "label": target.label},
                    "source": result.source,
                    "engine": result.engine,
                    "columns": result.columns,
                    "rows": result.rows,
                }
                stream.write(json.dumps(payload, ensure_ascii=False, indent=1, default=_json_default) + "\n")
            else:
                stream.write(self._table(result, title) + "\n")
        finally:
            if out:
                out.close()

    def _table(self, result, title: str) -> str:
        cols = display_columns(result)
        head = [label(c) for c in cols]
        body = [[fmt(c, row[c]) for c in cols] for row in result.rows]
        widths = [max([_width(h)] + [_width(r[i]) for r in body]) for i, h in enumerate(head)]
        numeric = [c in INDICATORS for c in cols]
        lines = [title, "  ".join(_pad(h, w, n) for h, w, n in zip(head, widths, numeric, strict=True))]
        lines.append("  ".join("-" * w for w in widths))
        for r in body:
            lines.append("  ".join(_pad(v, w, n) for v, w, n in zip(r, widths, numeric, strict=True)))
        lines.append(f"({len(body)} rows; source: {result.source}, engine: {result.engine})")
        return "\n".join(lines)


def explain_markdown() -> str:
    rows = ["| name | 指标 | indicator | unit | formula |", "| --- | --- | --- | --- | --- |"]
    for ind in INDICATORS.values():
        rows.append(f"| `{ind.name}` | {ind.label_zh} | {ind.label_en} | {ind.unit} | {ind.formula} |")
    return "\n".join(rows)
