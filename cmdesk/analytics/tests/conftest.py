"""Fixtures for the KPI engine's tests: the golden dataset and one Spark session per test run."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

from cmdesk.analytics.engines import get_engine

from .golden import build_golden

HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


@pytest.fixture(scope="session")
def golden_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("golden")
    build_golden(path)
    get_engine("duckdb", path).refresh_aggregates()
    return path


@pytest.fixture(scope="session")
def duck(golden_dir):
    return get_engine("duckdb", golden_dir)


@pytest.fixture(scope="session")
def spark_engine(golden_dir):
    if not HAVE_SPARK:
        if os.environ.get("CI") == "true":
            pytest.fail("pyspark and Java are required in CI (the engine parity tests)")
        pytest.skip("pyspark or java not installed")
    os.environ.setdefault("CMDESK_SPARK_PARTITIONS", "2")
    return get_engine("spark", golden_dir)
