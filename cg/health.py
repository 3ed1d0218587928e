"""Liveness and readiness: what an orchestrator and an operator ask of a cg process.

``/healthz`` answers as long as the process serves requests and touches nothing.
``/readyz`` checks each dependency the pipeline needs and says, one entry per
check, which fails: the database answers and is migrated; the broker answers
(when one is configured); the node answers with the expected chain id; the
Anchor contract has code there; the signing account can pay for
``READY_MIN_ANCHORS`` anchoring transactions at the current fee. No URL, address
or secret is in the answer, and no token is needed: it tells nothing else.
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.http import require_safe
from kombu import Connection
from web3 import HTTPProvider, Web3

from chain import client

# A node that does not answer within this many seconds is down, for readiness.
NODE_TIMEOUT_SECONDS = 3


class NotReady(Exception):
    pass


_migrated = False  # once all migrations are applied, they stay applied


def check_database() -> str:
    global _migrated
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    if not _migrated:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise NotReady("migrations are not all applied: run manage.py migrate")
        _migrated = True
    return f"{connection.vendor}, migrated"


def check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "none: tasks run in the process (embedded)"
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=NODE_TIMEOUT_SECONDS) as broker:
        broker.ensure_connection(max_retries=0, timeout=NODE_TIMEOUT_SECONDS)
    return "answers"


def probe_web3() -> Web3:
    """The node, asked with a short timeout: a readiness probe must not hang."""
    if settings.WEB3_PROVIDER_URI == settings.IN_PROCESS_CHAIN:
        return client.web3()
    if settings.WEB3_PROVIDER_URI is None:
        raise NotReady("no node: WEB3_PROVIDER_URI is not set and no embedded node runs")
    uri = settings.WEB3_PROVIDER_URI
    return Web3(HTTPProvider(uri, request_kwargs={"timeout": NODE_TIMEOUT_SECONDS}))


def expected_chain_id() -> int | None:
    """``CHAIN_ID`` if set, else the chain the ledger's blocks were last sent to."""
    from chain.models import LedgerBlock

    if settings.CHAIN_ID is not None:
        return settings.CHAIN_ID
    last = (
        LedgerBlock.objects.filter(chain_id__isnull=False)
        .order_by("-ledger_height")
        .values_list("chain_id", flat=True)
        .first()
    )
    return last


def check_node(w3: Web3) -> str:
    chain_id = w3.eth.chain_id
    expected = expected_chain_id()
    if expected is not None and chain_id != expected:
        raise NotReady(f"the node is on chain {chain_id}, the ledger on chain {expected}")
    return f"chain {chain_id}, head block {w3.eth.block_number}"


def check_contract(w3: Web3) -> str:
    from chain.models import Deployment

    address = settings.ANCHOR_CONTRACT_ADDRESS
    if address is None:
        known = Deployment.objects.filter(contract="Anchor", chain_id=w3.eth.chain_id).first()
        if known is None:
            if client.local_chain():
                return "not deployed yet: deployed on this local chain at the first anchoring"
            raise NotReady("ANCHOR_CONTRACT_ADDRESS is not set")
        address = known.address
    if not w3.eth.get_code(Web3.to_checksum_address(address)):
        raise NotReady("no contract code at the Anchor address on this chain")
    return "has code"


def check_signer(w3: Web3) -> str:
    balance = w3.eth.get_balance(client.engine_account().address)
    base = w3.eth.get_block("latest").get("baseFeePerGas", 0)
    per_anchor = settings.CHAIN_GAS_LIMIT * (2 * base + w3.eth.max_priority_fee)
    anchors = balance // per_anchor if per_anchor else None
    if anchors is not None and anchors < settings.READY_MIN_ANCHORS:
        raise NotReady(
            f"the signing account pays for {anchors} anchoring transactions at the current "
            f"fee, fewer than READY_MIN_ANCHORS ({settings.READY_MIN_ANCHORS})"
        )
    return (
        "pays for any number of anchors (no fee)"
        if anchors is None
        else (f"pays for {anchors} anchoring transactions at the current fee")
    )


def _run(check: Callable[[], str]) -> dict:
    t0 = time.perf_counter()
    try:
        entry = {"ok": True, "detail": check()}
    except NotReady as error:
        entry = {"ok": False, "detail": str(error)}
    except Exception as error:  # any failure of a dependency is "not ready"
        # Its kind only: a driver's message may name hosts, users or paths.
        entry = {"ok": False, "detail": f"does not answer ({type(error).__name__})"}
    entry["ms"] = round((time.perf_counter() - t0) * 1000, 1)
    return entry


def readiness() -> dict:
    """Each check's outcome; the chain's checks are skipped (failed) when the node is."""
    checks = {"database": _run(check_database), "broker": _run(check_broker)}
    w3 = None

    def node() -> str:
        nonlocal w3
        w3 = probe_web3()
        return check_node(w3)

    checks["node"] = _run(node)
    if checks["node"]["ok"]:
        checks["contract"] = _run(lambda: check_contract(w3))
        checks["signer"] = _run(lambda: check_signer(w3))
    else:
        unknown = {"ok": False, "detail": "the node does not answer", "ms": 0.0}
        checks["contract"], checks["signer"] = dict(unknown), dict(unknown)
    return checks


@require_safe
def healthz(request):
    return JsonResponse({"status": "alive"})


@require_safe
def readyz(request):
    checks = readiness()
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )
