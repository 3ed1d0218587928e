"""Accounts: what holds a customer's RECs, one per customer, known by a public code."""

import secrets

from django.db import IntegrityError, transaction

from energy.models import Customer
from recs.models import Account, Numbering

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
    """GET /account: the code, the holder's name, and how many RECs it holds and has
    retired. Until transfers and retirements exist, a customer holds every REC it was
    issued."""
    account = account_open(customer=customer)
    numbering = Numbering.objects.filter(customer=customer).first()
    return {
        "account": account.code,
        "name": customer.name,
        "created": account.created,
        "held": numbering.rec_count if numbering else 0,
        "retired": 0,
    }
