"""Prometheus metrics at ``/metrics``: what an operator's monitoring scrapes.

Two kinds of series:

- events, counted where they happen: reports and samples by outcome
  (``energy.metrics``), task durations per stage (``TASK_SECONDS``, observed by
  Celery's task signals), HTTP requests. Under gunicorn and Celery set
  ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory each start): every process
  writes its own file and a scrape adds them up.
- the ledger's state, read at scrape time (``LedgerCollector``) from stored
  counters and small indexed lookups, never a count over the attribution table:
  attributions by state, the age of the oldest New hour and of the oldest
  unconfirmed block, blocks by status, RECs issued, quarantined hours, and from
  the node its head block and the signer's balance.

Counts per state are operational data: only loopback addresses may read them
unless ``METRICS_ALLOWED_NETWORKS`` names more networks, or ``METRICS_TOKEN`` is
set and the request carries it as a bearer token.
"""

import hmac
import ipaddress
import logging
import os
import time

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from cg.status import pipeline_status

log = logging.getLogger(__name__)

TASK_SECONDS = Histogram(
    "cg_task_duration_seconds",
    "Time each pipeline task took, by task (stage).",
    ["task"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
HTTP_REQUESTS = Counter(
    "cg_http_requests", "HTTP requests answered, by method and status class.", ["method", "status"]
)
# Node figures are read at most this often: a scrape must not wait on a slow node.
NODE_CACHE_SECONDS = 10


class LedgerCollector:
    """The pipeline's backlog and lag, read from the database (and the node) per scrape."""

    def __init__(self):
        self._node: tuple[float, str | None, dict] = (0.0, None, {})

    def collect(self):
        status = pipeline_status()
        states = GaugeMetricFamily(
            "cg_attributions", "Metered attributions by anchoring state.", labels=["state"]
        )
        for state, n in status.attributions.items():
            states.add_metric([state], n)
        yield states
        blocks = GaugeMetricFamily(
            "cg_ledger_blocks", "Ledger blocks by status.", labels=["status"]
        )
        for state, n in status.blocks.items():
            blocks.add_metric([state], n)
        yield blocks
        backlog = GaugeMetricFamily(
            "cg_stage_backlog",
            "What each stage has still to do (its unit).",
            labels=["stage", "unit"],
        )
        lag = GaugeMetricFamily(
            "cg_stage_lag_seconds",
            "How long the oldest of it has waited (0: none).",
            labels=["stage"],
        )
        for stage in status.stages:
            backlog.add_metric([stage.name, stage.unit], stage.waiting)
            waited = stage.lag(status.now)
            lag.add_metric([stage.name], waited.total_seconds() if waited else 0)
        yield backlog
        yield lag
        sealing = {stage.name: stage for stage in status.stages}["sealing"].lag(status.now)
        yield _gauge(
            "cg_attribution_oldest_new_age_seconds",
            "Age of the oldest generation hour not yet sealed into a ledger block (0: none).",
            sealing.total_seconds() if sealing else 0,
        )
        unconfirmed = [s.lag(status.now) for s in status.stages if s.unit == "blocks"]
        oldest = max((waited for waited in unconfirmed if waited), default=None)
        yield _gauge(
            "cg_ledger_oldest_unconfirmed_age_seconds",
            "How long the oldest block not yet confirmed has waited at its stage: to be sent "
            "since sealed, to be confirmed since sent (0: none).",
            oldest.total_seconds() if oldest else 0,
        )
        yield _gauge(
            "cg_ledger_blocks_failing", "Unconfirmed blocks whose last send failed.",
            status.blocks_failing,
        )  # fmt: skip
        yield _gauge("cg_recs_issued", "RECs issued.", status.recs_issued)
        yield _gauge(
            "cg_quarantined_hours", "Hours held out of issuance for an operator.",
            status.quarantined,
        )  # fmt: skip
        yield from self._chain()

    def _chain(self):
        at, uri, figures = self._node
        if time.monotonic() - at > NODE_CACHE_SECONDS or uri != settings.WEB3_PROVIDER_URI:
            figures = _node_figures()
            self._node = (time.monotonic(), settings.WEB3_PROVIDER_URI, figures)
        yield _gauge("cg_node_up", "Whether the chain node answered.", 1 if figures else 0)
        if figures:
            yield _gauge("cg_node_head_block", "The node's latest block.", figures["head"])
            yield _gauge(
                "cg_signer_balance_wei", "The signing account's balance.", figures["balance"]
            )


def _node_figures() -> dict:
    from cg.health import probe_web3
    from chain import client

    try:
        w3 = probe_web3()
        return {
            "head": w3.eth.block_number,
            "balance": w3.eth.get_balance(client.engine_account().address),
        }
    except Exception as error:  # the node is down: cg_node_up says so
        log.warning("metrics: the chain node does not answer (%s)", type(error).__name__)
        return {}


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


_LEDGER = CollectorRegistry(auto_describe=False)
_LEDGER.register(LedgerCollector())


def exposition() -> bytes:
    """Every series as Prometheus text: this process's (or, in multiprocess mode, all
    processes' files) and the ledger's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        events = CollectorRegistry()
        multiprocess.MultiProcessCollector(events)
    else:
        events = REGISTRY
    return generate_latest(events) + generate_latest(_LEDGER)


def allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


@require_safe
def metrics(request):
    if not allowed(request):
        return JsonResponse(
            {"code": 403, "error": "forbidden", "message": "Metrics are not readable from here."},
            status=403,
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


class RequestCounter:
    """Middleware: count each HTTP response by method and status class (2xx, 4xx...)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        HTTP_REQUESTS.labels(request.method, f"{response.status_code // 100}xx").inc()
        return response
