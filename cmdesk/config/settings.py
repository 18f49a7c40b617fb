"""cmdesk settings. Everything comes from the environment; nothing exists only in production.

Environment variables:
    DEBUG            "1"/"true" turns debug on (off by default).
    SECRET_KEY       required when DEBUG is off; in debug a key is generated once into var/secret_key.
    DATABASE_URL     default: sqlite:///<repo>/var/cmdesk.sqlite3 (PostgreSQL: postgres://user@host:5432/name).
    ALLOWED_HOSTS    comma-separated; default "127.0.0.1,localhost" (plus "testserver" in tests).
    CMDESK_DATA_DIR  order facts (Parquet) and demo side files; default <repo>/var/data.
    CMDESK_KPI_ENGINE  duckdb (default) or spark: which engine answers KPI queries.
    CMDESK_VAR_DIR   where the default database, secret key and data live; default <repo>/var.
"""

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent  # the cmdesk package
REPO_DIR = BASE_DIR.parent

env = environ.Env()
VAR_DIR = Path(env.str("CMDESK_VAR_DIR", default=str(REPO_DIR / "var")))
DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if not DEBUG and not env.bool("CMDESK_DEV_SECRET", default=False):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (or set DEBUG=1 for development).")
    # Development only: one random key kept under var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

CMDESK_DATA_DIR = Path(env.str("CMDESK_DATA_DIR", default=str(VAR_DIR / "data")))
# KPI engine for pages, API and `cmdesk kpi`: duckdb (default, in process) or spark (the optional extra)
CMDESK_KPI_ENGINE = env.str("CMDESK_KPI_ENGINE", default="duckdb")
# Licence numbers (烟草专卖零售许可证号): 12 digits by default; local formats differ, so this is configuration.
CMDESK_LICENCE_REGEX = env.str("CMDESK_LICENCE_REGEX", default=r"^\d{12}$")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_filters",
    "django_tables2",
    "crispy_forms",
    "crispy_bootstrap5",
    "auditlog",
    "treebeard",
    "cmdesk.core",
    "cmdesk.org",
    "cmdesk.catalog",
    "cmdesk.retail",
    "cmdesk.sales",
    "cmdesk.kpi",
    "cmdesk.work",
    "cmdesk.assess",
    "cmdesk.supply",
    "cmdesk.demo",
]

MIDDLEWARE = [
    "cmdesk.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
]

ROOT_URLCONF = "cmdesk.config.urls"
WSGI_APPLICATION = "cmdesk.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "cmdesk.core.context_processors.staff",
                "cmdesk.work.context_processors.reminders",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'cmdesk.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server read while a demo build or import writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]  # vendored Bootstrap, htmx, ECharts and our own CSS/JS
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["cmdesk.core.permissions.ModelActionPermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "cmdesk API",
    "DESCRIPTION": "客户经理工作台 — records, scoped to the caller exactly as the pages are.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # fields named status/kind/preset/level_* hold different choice sets in different models: name each set
    "ENUM_NAME_OVERRIDES": {
        "ProductStatusEnum": "cmdesk.catalog.models.ProductStatus",
        "ImportStatusEnum": "cmdesk.sales.models.ImportStatus",
        "OrgKindEnum": "cmdesk.org.choices.OrgKind",
        "CareerLevelEnum": "cmdesk.org.choices.CareerLevel",
        "PlanStatusEnum": "cmdesk.work.models.PlanStatus",
        "VisitStatusEnum": "cmdesk.work.models.VisitStatus",
        "FeedbackKindEnum": "cmdesk.work.models.FeedbackKind",
        "FeedbackStatusEnum": "cmdesk.work.models.FeedbackStatus",
        "SummaryKindEnum": "cmdesk.work.models.SummaryKind",
        "SummaryStatusEnum": "cmdesk.work.models.SummaryStatus",
        "RetailerStatusEnum": "cmdesk.retail.choices.RetailerStatus",
        "SchemeStatusEnum": "cmdesk.assess.models.SchemeStatus",
        "AssessRunStatusEnum": "cmdesk.assess.models.RunStatus",
        "ItemStatusEnum": "cmdesk.assess.models.ItemStatus",
        "AppealStatusEnum": "cmdesk.assess.models.AppealStatus",
        "SupplyRunStatusEnum": "cmdesk.supply.models.RunStatus",
        "ClassPresetEnum": "cmdesk.supply.models.ClassPreset",
        "AlertPresetEnum": "cmdesk.supply.models.AlertPreset",
        "AlertKindEnum": "cmdesk.supply.models.AlertKind",
        "AlertStatusEnum": "cmdesk.supply.models.AlertStatus",
        "AllocationStatusEnum": "cmdesk.supply.models.AllocationStatus",
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5-responsive.html"

AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_CID_HEADER = "X-Request-ID"  # set by RequestIdMiddleware: the audit row's request id
AUDITLOG_DISABLE_REMOTE_ADDR = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = False
    X_FRAME_OPTIONS = "DENY"
