"""Configuration comes from the environment; production must not start without a secret key."""

import os
import subprocess
import sys

PROBE = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DATABASES['default']['NAME'], s.DEBUG)"
)


def run(env_overrides, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "CMDESK_DEV_SECRET", "DATABASE_URL"}}
    env.update({"DJANGO_SETTINGS_MODULE": "cmdesk.config.settings", "CMDESK_VAR_DIR": str(tmp_path), **env_overrides})
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    result = run({}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_debug_generates_a_development_key_and_defaults_to_sqlite_under_var(tmp_path):
    result = run({"DEBUG": "1"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / "cmdesk.sqlite3"), "True"]
    assert len((tmp_path / "secret_key").read_text()) >= 50


def test_database_url_and_secret_key_from_the_environment(tmp_path):
    result = run({"SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://u@db.example:5432/cmdesk"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["cmdesk", "False"]
    assert not (tmp_path / "secret_key").exists()
