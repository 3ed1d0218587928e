"""Settings for cg, read from the environment only.

With no variables set the engine runs *embedded*: a SQLite file under ``var/``,
Celery tasks executed in the calling process, a local chain. ``DATABASE_URL``
(PostgreSQL), ``REDIS_URL`` (Celery broker and results) and
``WEB3_PROVIDER_URI`` switch each component to its real counterpart; once
``DATABASE_URL`` is set the engine is no longer embedded and ``SECRET_KEY``
has no default.
"""

import ipaddress
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from core.env import (
    database_from_url,
    env_bool,
    env_decimal,
    env_int,
    env_list,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CG_VAR_DIR", str(BASE_DIR / "var")))

DATABASE_URL = env_url("DATABASE_URL", {"postgres", "postgresql"})
REDIS_URL = env_url("REDIS_URL", {"redis", "rediss"})
EMBEDDED = DATABASE_URL is None

# The chain node. ``eth-tester://`` asks for an in-process chain that lives and
# dies with the process (the test suite asks for it); it is never a default.
IN_PROCESS_CHAIN = "eth-tester://"
# Where ``manage.py serve`` records the URL of the anvil node it started, so that
# every other embedded process (run_pipeline, verify_ledger, a shell) anchors on
# the same chain instead of one of its own.
NODE_URL_FILE = VAR_DIR / "chain-node-url"
if env_str("WEB3_PROVIDER_URI") == IN_PROCESS_CHAIN:
    WEB3_PROVIDER_URI = IN_PROCESS_CHAIN
else:
    WEB3_PROVIDER_URI = env_url("WEB3_PROVIDER_URI", {"http", "https"})
# Whether the node URL was given (serve starts its own node only when it was not).
WEB3_PROVIDER_URI_GIVEN = WEB3_PROVIDER_URI is not None
if WEB3_PROVIDER_URI is None and NODE_URL_FILE.is_file():
    WEB3_PROVIDER_URI = NODE_URL_FILE.read_text().strip() or None

SECRET_KEY = env_str("SECRET_KEY")
if SECRET_KEY is None:
    if not EMBEDDED:
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set")
    # Embedded mode serves a single developer on loopback; the key only signs
    # admin sessions there.
    SECRET_KEY = "embedded-mode-only-not-a-secret"

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "cg",
    "energy",
    "recs",
    "chain",
]

MIDDLEWARE = [
    "cg.metrics.RequestCounter",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cg.urls"
WSGI_APPLICATION = "cg.wsgi.application"
ASGI_APPLICATION = "cg.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if EMBEDDED:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "cg.sqlite3")),
            "OPTIONS": {
                # WAL lets management commands read and write beside the running
                # server; IMMEDIATE takes the write lock at BEGIN so a writer
                # waits out the busy timeout instead of failing mid-transaction
                # with "database is locked".
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
else:
    DATABASES = {"default": database_from_url("DATABASE_URL", DATABASE_URL)}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The sealing index covers its leaves' columns on PostgreSQL; SQLite ignores
# covered columns, which costs embedded mode nothing it would notice.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Set where collectstatic should write (the Docker image does); unset, WhiteNoise
# serves the apps' files straight from their packages.
STATIC_ROOT = env_str("STATIC_ROOT")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = STATIC_ROOT is None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["energy.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["core.wire.ExactJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CG Renewable Energy API",
    "DESCRIPTION": "Sources, energy transactions (attributions), daily aggregations and RECs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Celery: without a broker the tasks run in the caller (embedded mode).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Beat writes each task's last run to the database as it sends it (not every 3 minutes):
# a few rows a minute, and what its healthcheck (python -m cg.probe beat) and the
# pipeline page read.
CELERY_BEAT_SYNC_EVERY = 1

API_MAX_PER_PAGE = env_int("API_MAX_PER_PAGE", 1000, minimum=1)

# The chain. Embedded mode signs with the first well-known development key of
# local nodes (anvil, hardhat); anywhere else the key must be given.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
CHAIN_PRIVATE_KEY = env_str("CHAIN_PRIVATE_KEY", ANVIL_DEV_KEY if EMBEDDED else None)
if CHAIN_PRIVATE_KEY is None:
    raise ImproperlyConfigured("CHAIN_PRIVATE_KEY must be set when DATABASE_URL is set")
if not re.fullmatch(r"0x[0-9a-fA-F]{64}", CHAIN_PRIVATE_KEY):
    raise ImproperlyConfigured("CHAIN_PRIVATE_KEY must be 0x followed by 64 hex digits")
if WEB3_PROVIDER_URI is None and not EMBEDDED:
    raise ImproperlyConfigured(
        "WEB3_PROVIDER_URI must be set when DATABASE_URL is set: anchors on a chain that "
        "vanishes with the process would certify nothing"
    )
ANCHOR_CONTRACT_ADDRESS = env_str("ANCHOR_CONTRACT_ADDRESS")
ANVIL_PORT = env_int("ANVIL_PORT", 8545, minimum=1)
# The RecToken contract RECs are tokenized into and whose events the ledger follows.
# Unset, a local chain gets one deployed at the first tokenization; elsewhere RECs
# are not tokenized and no contract is followed.
REC_TOKEN_ADDRESS = env_str("REC_TOKEN_ADDRESS")
# The metadata URI of every token id (ERC-1155 ``uri``; wallets put the id in {id}),
# given to a RecToken deployed here: where this engine serves /tokens/<id>.json.
REC_TOKEN_URI = env_str("REC_TOKEN_URI", "http://127.0.0.1:8000/tokens/{id}.json")
if REC_TOKEN_ADDRESS and not re.fullmatch(r"0x[0-9a-fA-F]{40}", REC_TOKEN_ADDRESS):
    raise ImproperlyConfigured("REC_TOKEN_ADDRESS must be 0x followed by 40 hex digits")
if ANCHOR_CONTRACT_ADDRESS and not re.fullmatch(r"0x[0-9a-fA-F]{40}", ANCHOR_CONTRACT_ADDRESS):
    raise ImproperlyConfigured("ANCHOR_CONTRACT_ADDRESS must be 0x followed by 40 hex digits")
CHAIN_CONFIRMATIONS = env_int("CHAIN_CONFIRMATIONS", 1 if EMBEDDED else 12, minimum=1)
# The chain the node must be on (/readyz); unset, the chain the ledger last anchored on.
CHAIN_ID = env_int("CHAIN_ID", 0, minimum=0) or None
# /metrics: readable from these networks (loopback by default), or from anywhere with
# METRICS_TOKEN as a bearer token when it is set.
METRICS_ALLOWED_NETWORKS = [
    ipaddress.ip_network(network)
    for network in env_list("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
]
METRICS_TOKEN = env_str("METRICS_TOKEN")
# /readyz fails when the signing account cannot pay for this many anchoring transactions.
READY_MIN_ANCHORS = env_int("READY_MIN_ANCHORS", 10, minimum=0)
BLOCK_MAX_TXS = env_int("BLOCK_MAX_TXS", 10_000, minimum=1)
CHAIN_GAS_LIMIT = env_int("CHAIN_GAS_LIMIT", 100_000, minimum=21_000)
# Retries of a failed send wait 2, 4, 8... seconds, at most CHAIN_RETRY_MAX_SECONDS.
CHAIN_RETRY_MAX_SECONDS = env_int("CHAIN_RETRY_MAX_SECONDS", 300, minimum=1)

# Plausibility at ingestion: samples older than this many days are refused (a year of
# backfill is accepted, not history from 1970), and so is a rise of cumulative energy
# faster than any single plant could produce (MAX_SOURCE_POWER_W; the largest ones
# are around 22 GW).
MAX_BACKFILL_DAYS = env_int("MAX_BACKFILL_DAYS", 400, minimum=1)
MAX_SOURCE_POWER_W = env_int("MAX_SOURCE_POWER_W", 25_000_000_000, minimum=1)
# An hour of more energy than the source's capacity x 1 h x this margin is quarantined:
# held out of RECs until an operator releases or rejects it.
PLAUSIBILITY_MARGIN = env_decimal("PLAUSIBILITY_MARGIN", "1.10", minimum="1")

# Default intervals of the periodic tasks, used when the schedule is first created.
HOURLY_INTERVAL_SECONDS = env_int("HOURLY_INTERVAL_SECONDS", 60, minimum=1)
ANCHOR_INTERVAL_SECONDS = env_int("ANCHOR_INTERVAL_SECONDS", 30, minimum=1)
REC_INTERVAL_SECONDS = env_int("REC_INTERVAL_SECONDS", 300, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
