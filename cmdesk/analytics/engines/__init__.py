"""Engines that answer KPI queries: ``duckdb`` (default, in process) and ``spark`` (optional extra)."""

from __future__ import annotations

import os

from .base import Engine, EngineError, KpiResult, RefreshReport

ENGINES = ("duckdb", "spark")


def get_engine(name: str, data_dir: str | os.PathLike, **options) -> Engine:
    if name == "duckdb":
        from .duckdb import DuckDBEngine

        return DuckDBEngine(data_dir, **options)
    if name == "spark":
        from .spark import SparkEngine

        return SparkEngine(data_dir, **options)
    raise EngineError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "EngineError", "KpiResult", "RefreshReport", "get_engine"]
