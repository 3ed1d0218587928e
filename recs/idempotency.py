"""Idempotent POSTs: the same ``Idempotency-Key`` with the same body gets the first answer.

The key is looked up, the work done and the answer stored in one transaction that
holds the caller's account lock: two requests with one key, however they race,
run one after the other, and the second finds the first's answer. A request that
fails stores nothing (it changed nothing), so it may be retried with its key.
"""

import hashlib
import json
from collections.abc import Callable

from django.db import transaction

from core.errors import IdempotencyKeyReused
from energy.models import Customer
from recs.accounts import account_open
from recs.holdings import accounts_lock
from recs.models import IdempotentRequest


def fingerprint(method: str, path: str, body) -> str:
    """What a key is bound to: the request's method, path and body (canonical JSON)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def idempotent(
    *, customer: Customer, key: str, fingerprint: str, respond: Callable[[], tuple[int, dict]]
) -> tuple[int, dict]:
    """``respond()`` (status, body) the first time ``key`` is used by the customer with
    this fingerprint, the stored answer after; ``IdempotencyKeyReused`` for the key
    used with another request."""
    account = account_open(customer=customer)
    with transaction.atomic():
        accounts_lock([account.pk])
        found = IdempotentRequest.objects.filter(account=account, key=key).first()
        if found is not None:
            if found.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            return found.status_code, found.body
        status, body = respond()
        IdempotentRequest.objects.create(
            account=account, key=key, fingerprint=fingerprint, status_code=status, body=body
        )
        return status, body
