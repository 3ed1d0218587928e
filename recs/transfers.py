"""Transfers: RECs sent to another account, which the receiver accepts or rejects.

As in M-RETS, NYGATS and NEPOOL, a transfer waits for its receiver: while it is
``pending`` its RECs are out of the sender's active holdings (its bundles
``in_transfer``, tied to the transfer) and not yet the receiver's. Accepting
completes it (the receiver holds them, active); rejecting, or the sender's
recall, returns them to the sender as they were. Each answer is a conditional
update out of ``pending`` under both accounts' locks, so of two that race
exactly one wins.
"""

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from core.errors import InvalidParameter, TransferNotPending, UnknownAccount
from energy.models import Customer
from recs.accounts import account_open
from recs.holdings import ACTIVE, IN_TRANSFER, Holder, Run, accounts_lock, runs_asked, runs_move
from recs.models import Account, Transfer, TransferRange


def transfer_create(
    *,
    customer: Customer,
    to: str,
    quantity: int | None = None,
    source_id: int | None = None,
    serials: list[tuple[int, int]] | None = None,
) -> Transfer:
    """Send ``quantity`` active RECs (oldest first, of ``source_id`` if given) or exactly
    these (source, serial) to the account whose code is ``to``: a pending transfer.
    Raises, changing nothing, for an unknown account, one's own, or RECs not held."""
    sender = account_open(customer=customer)
    receiver = Account.objects.filter(code=to).first()
    if receiver is None:
        raise UnknownAccount(f"No account has the code {to!r}.")
    if receiver.pk == sender.pk:
        raise InvalidParameter("to", "to: a transfer goes to another account than yours")
    with transaction.atomic():
        accounts_lock([sender.pk])
        runs = runs_asked(account=sender, quantity=quantity, source_id=source_id, serials=serials)
        return _create(sender, receiver, runs)


def _create(sender: Account, receiver: Account, runs: list[Run]) -> Transfer:
    created = Transfer.objects.create(
        sender=sender, receiver=receiver, quantity=sum(run.quantity for run in runs)
    )
    TransferRange.objects.bulk_create(
        TransferRange(transfer=created, source_id=run.source_id, first=run.first,
                      last=run.last, quantity=run.quantity)
        for run in runs
    )  # fmt: skip
    runs_move(
        runs,
        origin=Holder(sender.pk, ACTIVE),
        to=Holder(sender.pk, IN_TRANSFER, created.pk),
    )
    return created


# Who may give each answer, and where it leaves the transfer.
ANSWERS = {
    "accept": ("receiver", Transfer.Status.COMPLETED),
    "reject": ("receiver", Transfer.Status.REJECTED),
    "recall": ("sender", Transfer.Status.RECALLED),
}


def transfer_answer(*, customer: Customer, transfer: Transfer, answer: str) -> Transfer:
    """Accept or reject (the receiver) or recall (the sender) a pending transfer the
    customer can see: ``PermissionDenied`` for the other party, ``TransferNotPending``
    once it is answered. Changes nothing when it refuses."""
    party, status = ANSWERS[answer]
    if getattr(transfer, f"{party}_id") != account_open(customer=customer).pk:
        raise PermissionDenied(f"Only the transfer's {party} may {answer} it.")
    with transaction.atomic():
        accounts_lock([transfer.sender_id, transfer.receiver_id])
        now = timezone.now()
        moved = Transfer.objects.filter(pk=transfer.pk, status=Transfer.Status.PENDING).update(
            status=status, status_changed=now
        )
        if not moved:
            raise TransferNotPending(f"Transfer {transfer.pk} is no longer pending.")
        held = [
            Run(r.source_id, r.first, r.last)
            for r in TransferRange.objects.filter(transfer=transfer).order_by("source_id", "first")
        ]
        completed = status == Transfer.Status.COMPLETED
        runs_move(
            held,
            origin=Holder(transfer.sender_id, IN_TRANSFER, transfer.pk),
            to=Holder(transfer.receiver_id if completed else transfer.sender_id, ACTIVE),
        )
    transfer.refresh_from_db()
    return transfer
