"""`cmdesk import-orders FILE... [--replace] [--user USERNAME]`."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from cmdesk.core.tests.factories import UserFactory
from cmdesk.sales.models import ImportMode, ImportStatus, OrderImport

from .conftest import CODE_X, CODE_Y, LIC_A, LIC_B, store_snapshot, write_csv

pytestmark = pytest.mark.django_db


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with translation.override("en"):
        try:
            call_command("import-orders", *[str(a) for a in args], stdout=out, stderr=err)
        except CommandError as exc:
            return out.getvalue(), err.getvalue(), str(exc)
    return out.getvalue(), err.getvalue(), None


def test_import_with_progress_and_summary(world, tmp_path):
    user = UserFactory(username="clerk1")
    path = write_csv(
        tmp_path,
        "oct.csv",
        f"2026-10-03,{LIC_A},{CODE_X},5,4,4,4,340.00,网上订货",
        f"2026-10-03,{LIC_B},{CODE_Y},3,10,3,3,255,电话订货",
    )
    out, err, failure = cli(path, "--user", "clerk1")
    assert failure is None
    obj = OrderImport.objects.get()
    assert out.splitlines() == [
        f"Import #{obj.pk} Succeeded: 2 rows read, 2 inserted, 0 updated, 0 unchanged, 0 deleted, 0 errors.",
        "Months changed: 2026-10",
    ]
    progress = err.splitlines()
    assert all(re.fullmatch(r"\[ *\d{1,3}%\] .+", line) for line in progress), progress
    assert progress[0] == "[  1%] Loading retailers and products"
    assert "[  2%] Checking oct.csv" in progress
    assert "[ 60%] Storing order lines" in progress
    assert "[ 95%] Refreshing indicators" in progress
    assert progress[-1] == "[100%] Finished"
    percents = [int(line[1:4]) for line in progress]
    assert percents == sorted(percents)
    assert (obj.status, obj.created_by, obj.mode, obj.inserted) == (ImportStatus.SUCCEEDED, user, ImportMode.UPSERT, 2)

    # the same file again: nothing changes, and the report says so
    out, err, failure = cli(path)
    assert failure is None
    second = OrderImport.objects.latest("id")
    assert out.splitlines() == [
        f"Import #{second.pk} Succeeded: 2 rows read, 0 inserted, 0 updated, 2 unchanged, 0 deleted, 0 errors."
    ]
    assert second.created_by is None


def test_bad_file_fails_with_row_errors_and_exit_status(world, settings, tmp_path):
    path = write_csv(
        tmp_path,
        "bad.csv",
        f"2026/10/3,{LIC_A},{CODE_X},1,1,1,1,85,online",
        f"2026/10/3,430100000999,{CODE_X},1,1,1,1,85,online",
        f"2026/10/4,{LIC_B},{CODE_X},1,1,-1,0,0,online",
    )
    out, err, failure = cli(path)
    obj = OrderImport.objects.get()
    assert failure == f"Import #{obj.pk} failed: Nothing was stored: the files have 2 errors."
    lines = err.splitlines()
    assert "bad.csv:3 [专卖许可证号] “430100000999”: No retailer has this licence number." in lines
    assert "bad.csv:4 [订货数量(条)] “-1”: Must not be negative." in lines
    assert out.splitlines() == [
        f"Import #{obj.pk} Failed: 3 rows read, 0 inserted, 0 updated, 0 unchanged, 0 deleted, 2 errors."
    ]
    assert store_snapshot(settings.CMDESK_DATA_DIR) == {}


def test_replace(world, settings, tmp_path):
    full = write_csv(
        tmp_path,
        "full.csv",
        f"2026-10-03,{LIC_A},{CODE_X},1,1,1,1,85,online",
        f"2026-10-03,{LIC_B},{CODE_X},1,1,1,1,85,online",
    )
    corrected = write_csv(tmp_path, "corrected.csv", f"2026-10-03,{LIC_A},{CODE_X},1,1,1,1,85,online")
    cli(full)
    out, _err, failure = cli(corrected, "--replace")
    obj = OrderImport.objects.latest("id")
    assert failure is None and obj.mode == ImportMode.REPLACE
    assert out.splitlines()[0].endswith("1 rows read, 0 inserted, 0 updated, 1 unchanged, 1 deleted, 0 errors.")


def test_missing_file_and_unknown_user(world, tmp_path):
    assert cli(tmp_path / "nope.csv")[2] == f"No such file: {tmp_path / 'nope.csv'}"
    path = write_csv(tmp_path, "a.csv", f"2026-10-03,{LIC_A},{CODE_X},1,1,1,1,85,online")
    assert cli(path, "--user", "ghost")[2] == "No user named ghost."
    assert OrderImport.objects.count() == 0


def test_console_script_knows_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "cmdesk.cli", "import-orders", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"CMDESK_DEV_SECRET": "1", "PATH": "/usr/bin:/bin"},
    )
    assert "--replace" in result.stdout and "--user USERNAME" in result.stdout
