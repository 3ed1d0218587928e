"""The engine's connection to an EVM chain, its signing account and the Anchor contract.

``WEB3_PROVIDER_URI`` names any EVM JSON-RPC node. In embedded mode ``make
run`` starts anvil and records its URL under ``var/``, where every other
embedded process finds it. ``eth-tester://`` is an in-process chain (eth-tester)
that vanishes with the process: the tests ask for it, and ``make run`` falls
back to it where Node.js is missing, with a warning. Nothing falls back to it
silently.
"""

import functools
import json
import logging
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from eth_account import Account
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.contract import Contract
from web3.middleware.base import Web3Middleware

log = logging.getLogger(__name__)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


class RpcInsideTransaction(RuntimeError):
    pass


class NoRpcInsideTransaction(Web3Middleware):
    """Refuse any node call made while a database transaction is open.

    A node can take seconds or never answer; holding row locks meanwhile would
    stall ingestion. Services commit first, call the node, then record.
    """

    def request_processor(self, method, params):
        if connection.in_atomic_block:
            raise RpcInsideTransaction(f"{method} called inside a database transaction")
        return method, params


@functools.cache
def contract_artifact(name: str) -> dict:
    return json.loads((ARTIFACTS / f"{name}.json").read_text())


def anchor_artifact() -> dict:
    return contract_artifact("Anchor")


def _in_process_web3() -> Web3:
    w3 = Web3(EthereumTesterProvider())
    # Fund the engine's account from the chain's own prefunded one.
    engine = engine_account().address
    funder = w3.eth.accounts[0]
    if w3.eth.get_balance(engine) == 0:
        tx = w3.eth.send_transaction({"from": funder, "to": engine, "value": 10**21})
        w3.eth.wait_for_transaction_receipt(tx)
    return w3


_web3: Web3 | None = None


def web3() -> Web3:
    """The process's connection (created on first use)."""
    global _web3
    if _web3 is None:
        uri = settings.WEB3_PROVIDER_URI
        if uri == settings.IN_PROCESS_CHAIN:
            w3 = _in_process_web3()
        elif uri is None:
            raise ImproperlyConfigured(
                "no chain node: set WEB3_PROVIDER_URI, or start `make run` (manage.py serve), "
                f"which starts anvil and records its URL in {settings.NODE_URL_FILE}"
            )
        else:
            w3 = Web3(HTTPProvider(uri, request_kwargs={"timeout": 30}))
        w3.middleware_onion.add(NoRpcInsideTransaction, "no_rpc_inside_transaction")
        _web3 = w3
    return _web3


def use_web3(w3: Web3 | None) -> None:
    """Replace the process's connection (tests start each on a fresh chain)."""
    global _web3
    _web3 = w3
    deployed_contract.cache_clear()
    if w3 is not None and "no_rpc_inside_transaction" not in w3.middleware_onion:
        w3.middleware_onion.add(NoRpcInsideTransaction, "no_rpc_inside_transaction")


def engine_account():
    return Account.from_key(settings.CHAIN_PRIVATE_KEY)


def deploy_anchor(w3: Web3) -> str:
    """Deploy the Anchor contract from the engine's account; its address."""
    return deploy_contract(w3, "Anchor")


def deploy_contract(w3: Web3, name: str, *args) -> str:
    """Deploy the compiled contract ``name`` (chain/artifacts) from the engine's
    account with these constructor arguments; its address."""
    artifact = contract_artifact(name)
    account = engine_account()
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(*args).build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)}
    )
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction), timeout=120
    )
    if receipt["status"] != 1:
        raise RuntimeError(f"deploying the {name} contract failed")
    return receipt["contractAddress"]


def local_chain() -> bool:
    """Whether the chain is a local one of embedded mode or the tests."""
    return settings.EMBEDDED or settings.WEB3_PROVIDER_URI == settings.IN_PROCESS_CHAIN


# Each contract the engine deploys by itself on a local chain: the setting that names
# its address otherwise, and its constructor's arguments.
CONTRACTS = {
    "Anchor": ("ANCHOR_CONTRACT_ADDRESS", lambda: ()),
    "RecToken": ("REC_TOKEN_ADDRESS", lambda: (settings.REC_TOKEN_URI,)),
}


def known_contract(name: str) -> Contract | None:
    """The contract ``name`` if its setting names it or it was deployed on this chain;
    never deploys (the audit reads the chain, it never writes to it)."""
    from chain.models import Deployment

    w3 = web3()
    setting, _ = CONTRACTS[name]
    abi = contract_artifact(name)["abi"]
    if address := getattr(settings, setting):
        return w3.eth.contract(address=address, abi=abi)
    if not local_chain():
        raise ImproperlyConfigured(
            f"{setting} must be set (manage.py chain_deploy deploys the {name} contract)"
        )
    known = Deployment.objects.filter(contract=name, chain_id=w3.eth.chain_id).first()
    if known and w3.eth.get_code(known.address):
        return w3.eth.contract(address=known.address, abi=abi)
    return None


def known_anchor_contract() -> Contract | None:
    return known_contract("Anchor")


@functools.cache
def deployed_contract(name: str) -> Contract:
    """The contract ``name``: the address its setting names, or one deployed here and
    remembered. Deploying automatically is for local chains only (embedded mode,
    tests); a remembered address whose code has gone (a fresh in-process chain, a
    reset node) is deployed again."""
    from chain.models import Deployment

    if (known := known_contract(name)) is not None:
        return known
    w3 = web3()
    chain_id = w3.eth.chain_id
    address = deploy_contract(w3, name, *CONTRACTS[name][1]())
    Deployment.objects.update_or_create(
        contract=name, chain_id=chain_id, defaults={"address": address}
    )
    log.info("deployed the %s contract at %s on chain %s", name, address, chain_id)
    return w3.eth.contract(address=address, abi=contract_artifact(name)["abi"])


def anchor_contract() -> Contract:
    """The Anchor contract: ANCHOR_CONTRACT_ADDRESS, or one deployed here and remembered."""
    return deployed_contract("Anchor")


def rec_token_contract(*, deploy: bool = False) -> Contract | None:
    """The RecToken contract: REC_TOKEN_ADDRESS, or on a local chain the one deployed
    here (deployed now when ``deploy``, for a first tokenization); None where RECs are
    not tokenized (no address set outside a local chain), or nothing is deployed yet."""
    if settings.REC_TOKEN_ADDRESS is None and not local_chain():
        return None
    return deployed_contract("RecToken") if deploy else known_contract("RecToken")
