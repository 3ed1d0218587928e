"""Accounts: what holds a customer's RECs, one per customer, known by a public code."""

import secrets

from django.db import IntegrityError, transaction
from django.db.models import Sum

from energy.models import Customer
from recs.models import Account, Bundle

# No 0/O, 1/I/L or U: a code read out over the phone is not misheard.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_code() -> str:
    """CGA-XXXX-XXXX-XXXX: 12 random characters of 30, about 2^59 codes."""
    groups = ("".join(secrets.choice(ALPHABET) for _ in range(4)) for _ in range(3))
    return "CGA-" + "-".join(groups)


def account_open(*, customer: Customer) -> Account:
    """The customer's account, opened now if it has none (idempotent, race-safe: the
    one-per-customer constraint decides between two openers)."""
    found = Account.objects.filter(customer=customer).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Account.objects.create(customer=customer, code=new_code())
    except IntegrityError:
        return Account.objects.get(customer=customer)


def account_summary(*, customer: Customer) -> dict:
    """GET /account: the code, the holder's name, and how many RECs it holds active and
    has retired (from its bundles)."""
    account = account_open(customer=customer)
    totals = dict(
        Bundle.objects.filter(account=account)
        .order_by()
        .values("status")
        .annotate(n=Sum("quantity"))
        .values_list("status", "n")
    )
    return {
        "account": account.code,
        "name": customer.name,
        "created": account.created,
        "held": totals.get(Bundle.Status.ACTIVE, 0),
        "retired": totals.get(Bundle.Status.RETIRED, 0),
        # Beyond the spec: what it tokenized that is on chain now, or being minted.
        "on_chain": totals.get(Bundle.Status.ON_CHAIN, 0) + totals.get(Bundle.Status.MINTING, 0),
    }


def accounts_of(customer_ids: set[int]) -> dict[int, int]:
    """Account id by customer id, opening the missing ones."""
    found = dict(
        Account.objects.filter(customer_id__in=customer_ids).values_list("customer_id", "pk")
    )
    for customer_id in sorted(customer_ids - found.keys()):
        found[customer_id] = account_open(customer=Customer(pk=customer_id)).pk
    return found
