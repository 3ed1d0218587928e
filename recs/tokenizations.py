"""RECs as tokens on chain: tokenizing to a wallet, and following what wallets do.

Tokenizing takes active RECs out of an account (bundles ``minting``) and queues one
mint of the RecToken contract (chain/contracts/RecToken.sol) carrying them to a
wallet, one amount per token id (a source and vintage month, ``recs.tokens``), so
its gas grows with the token ids, not the RECs. The mint's fate comes back through
``TokenizationMint`` (a ``chain.transactions`` purpose): Pending once the node has
it, Processed once final (bundles ``on_chain``), or Failed if it reverts (the RECs
return active).

From then on the chain is authoritative for those RECs, and the ledger follows the
contract's final events (``chain.token_events``): a burn with a claim becomes a
retirement with a public statement, a redemption returns RECs to the account it
names. Tokens of one id are alike, so both take that id's on-chain serials oldest
first, whoever tokenized them.
"""

import datetime as dt
import logging
import secrets
from collections import defaultdict

from django.db import connection, transaction
from django.utils import timezone
from web3 import Web3

from chain import client, transactions
from chain.models import EngineTransaction, TokenEvent
from chain.sending import NODE_DOWN
from core.errors import ChainUnavailable, InvalidParameter, TokenizationOff
from energy.models import Customer
from recs.accounts import account_open
from recs.holdings import (
    ACTIVE,
    MINTING,
    ON_CHAIN,
    RETIRED,
    Holder,
    Run,
    accounts_lock,
    runs,
    runs_asked,
    runs_move,
)
from recs.models import (
    Account,
    Bundle,
    Rec,
    Redemption,
    RedemptionRange,
    Retirement,
    RetirementRange,
    Tokenization,
    TokenizationRange,
)
from recs.selectors import serials_within
from recs.tokens import recs_by_token, token_origin, vintage_bounds

log = logging.getLogger(__name__)
PURPOSE = "tokenization"
ZERO_ADDRESS = "0x" + "0" * 40
State = Tokenization.State


def wallet_address(text: str) -> str:
    """The checksummed address of a wallet; ``InvalidParameter`` for anything else, the
    zero address included (tokens minted there are lost)."""
    if not isinstance(text, str) or not Web3.is_address(text):
        raise InvalidParameter("wallet", "wallet: not an address (0x and 40 hex digits)")
    if not Web3.is_checksum_address(text) and text[2:] not in (text[2:].lower(), text[2:].upper()):
        raise InvalidParameter("wallet", "wallet: its mixed case fails the EIP-55 checksum")
    address = Web3.to_checksum_address(text)
    if address == ZERO_ADDRESS:
        raise InvalidParameter("wallet", "wallet: the zero address holds nothing")
    return address


def token_contract():
    """The RecToken contract RECs are minted by (deployed on a first use on a local
    chain); called before any database transaction, as it may ask the node."""
    try:
        contract = client.rec_token_contract(deploy=True)
    except NODE_DOWN:
        raise ChainUnavailable() from None
    if contract is None:
        raise TokenizationOff()
    return contract


def token_amounts(wanted: list[Run]) -> list[tuple[int, int]]:
    """(token id, RECs) of the runs, by token id: the RECs of each vintage month."""
    return sorted(recs_by_token(Rec.objects.filter(serials_within(wanted))).items())


def tokenization_create(
    *,
    customer: Customer,
    contract,
    wallet: str,
    quantity: int | None = None,
    source_id: int | None = None,
    serials: list[tuple[int, int]] | None = None,
) -> Tokenization:
    """Tokenize ``quantity`` active RECs (oldest first, of ``source_id`` if given) or
    exactly these (source, serial) to ``wallet``: they leave the account's active
    holdings and one mint is queued. Raises, changing nothing, for RECs not held."""
    account = account_open(customer=customer)
    address = wallet_address(wallet)
    with transaction.atomic():
        accounts_lock([account.pk])
        taken = runs_asked(account=account, quantity=quantity, source_id=source_id,
                           serials=serials)  # fmt: skip
        tokens = token_amounts(taken)
        created = Tokenization.objects.create(
            account=account,
            contract=contract.address,
            wallet=address,
            quantity=sum(run.quantity for run in taken),
            tokens=[[str(token), amount] for token, amount in tokens],
        )
        TokenizationRange.objects.bulk_create(
            TokenizationRange(tokenization=created, source_id=run.source_id, first=run.first,
                              last=run.last, quantity=run.quantity)
            for run in taken
        )  # fmt: skip
        runs_move(taken, origin=Holder(account.pk, ACTIVE), to=Holder(account.pk, MINTING))
        data = contract.encode_abi(
            "mint", args=[address, [t for t, _ in tokens], [n for _, n in tokens]]
        )
        transactions.transaction_queue(
            purpose=PURPOSE, owner_id=created.pk, to=contract.address, data=data
        )
    return created


def _ranges(tokenization_id: int) -> list[Run]:
    rows = TokenizationRange.objects.filter(tokenization_id=tokenization_id)
    return [Run(r.source_id, r.first, r.last) for r in rows.order_by("source_id", "first")]


def _minted(tokenization: Tokenization, height: int) -> None:
    """The mint is final: its RECs are tokens (once, whoever sees it first)."""
    moved = Tokenization.objects.filter(
        pk=tokenization.pk, state__in=[State.NEW, State.PENDING]
    ).update(state=State.PROCESSED, height=height, state_changed=timezone.now())
    if moved:
        accounts_lock([tokenization.account_id])
        runs_move(
            _ranges(tokenization.pk),
            origin=Holder(tokenization.account_id, MINTING),
            to=Holder(tokenization.account_id, ON_CHAIN),
        )


class TokenizationMint:
    """What the mint's moves do to its tokenization (``chain.transactions`` purpose)."""

    name = PURPOSE

    def sent(self, tx: EngineTransaction) -> None:
        Tokenization.objects.filter(pk=tx.owner_id, state=State.NEW).update(
            state=State.PENDING, tx_hash=tx.tx_hash, state_changed=timezone.now()
        )

    def confirmed(self, tx: EngineTransaction) -> None:
        tokenization = Tokenization.objects.get(pk=tx.owner_id)
        if tokenization.tx_hash != tx.tx_hash:  # re-signed after its first hash was sent
            Tokenization.objects.filter(pk=tokenization.pk).update(tx_hash=tx.tx_hash)
        _minted(tokenization, tx.chain_block_number)

    def failed(self, tx: EngineTransaction) -> None:
        tokenization = Tokenization.objects.get(pk=tx.owner_id)
        moved = Tokenization.objects.filter(
            pk=tokenization.pk, state__in=[State.NEW, State.PENDING]
        ).update(state=State.FAILED, state_changed=timezone.now())
        if moved:
            accounts_lock([tokenization.account_id])
            runs_move(
                _ranges(tokenization.pk),
                origin=Holder(tokenization.account_id, MINTING),
                to=Holder(tokenization.account_id, ACTIVE),
            )


def _on_chain(source_id: int, vintage: dt.date, quantity: int) -> dict[int, list[Run]]:
    """The ``quantity`` oldest on-chain serials of a token id (source, vintage month),
    as runs by the account that tokenized them; fewer if the ledger has fewer."""
    start, end = vintage_bounds(vintage)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT b.account_id, r.serial
            FROM {Rec._meta.db_table} r JOIN {Bundle._meta.db_table} b
              ON b.source_id = r.source_id AND r.serial BETWEEN b.first AND b.last
            WHERE b.status = %s AND r.source_id = %s
              AND r.production_start >= %s AND r.production_start < %s
            ORDER BY r.serial LIMIT %s
            """,
            [ON_CHAIN, source_id, *map(connection.ops.adapt_datetimefield_value, (start, end)),
             quantity],
        )  # fmt: skip
        found = defaultdict(list)
        for account_id, serial in cursor.fetchall():
            found[account_id].append((source_id, serial))
    return {account_id: runs(serials) for account_id, serials in found.items()}


def _taken(event: TokenEvent) -> dict[int, list[Run]] | None:
    """The on-chain serials an event's tokens stand for; None (logged) when the ledger
    holds fewer on chain than the contract burnt: ``verify_ledger`` names it."""
    origin = token_origin(str(event.token_id))
    amount = int(event.amount)
    found = _on_chain(*origin, amount) if origin else {}
    if sum(run.quantity for held in found.values() for run in held) != amount:
        log.critical("token %s: %s burnt on chain in %s, but the ledger holds fewer on chain",
                     event.token_id, amount, event.tx_hash)  # fmt: skip
        return None
    return found


def _from_chain(taken: dict[int, list[Run]], ranges, *, to, **owner) -> None:
    """Record the runs an event took as ``ranges`` rows of ``owner`` and move them off
    chain: each account's runs to ``to(account)``, an (account, status) pair."""
    ranges.objects.bulk_create(
        ranges(**owner, source_id=run.source_id, first=run.first, last=run.last,
               quantity=run.quantity)
        for held in taken.values() for run in held
    )  # fmt: skip
    for account_id, held in taken.items():
        runs_move(held, origin=Holder(account_id, ON_CHAIN), to=Holder(*to(account_id)))


def _days(days: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=days)


def _retire(event: TokenEvent) -> None:
    """A burn with a claim: a retirement of that many on-chain RECs, with a statement."""
    if Retirement.objects.filter(tx_hash=event.tx_hash, log_index=event.log_index).exists():
        return
    if (taken := _taken(event)) is None:
        return
    claim = event.claim
    start, end = _days(claim["period_start"]), _days(claim["period_end"])
    accounts_lock(taken)
    retirement = Retirement.objects.create(
        account=None,
        wallet=Web3.to_checksum_address(event.sender),
        tx_hash=event.tx_hash,
        log_index=event.log_index,
        beneficiary_hash=claim["beneficiary_hash"].removeprefix("0x"),
        purpose_hash=claim["purpose_hash"].removeprefix("0x"),
        statement=secrets.token_urlsafe(16),
        quantity=int(event.amount),
        beneficiary="",
        country=claim["country"].strip("\x00")[:2],
        period_start=min(start, end),
        period_end=end,
    )
    _from_chain(
        taken, RetirementRange, retirement=retirement, to=lambda account: (account, RETIRED)
    )


def _redeem(event: TokenEvent) -> None:
    """Tokens sent back to the contract: RECs active again in the account named (or, for
    a code that names none, in the account that tokenized them, flagged by the code)."""
    if Redemption.objects.filter(tx_hash=event.tx_hash, log_index=event.log_index).exists():
        return
    if (taken := _taken(event)) is None:
        return
    named = event.claim.get("account", "")
    account = Account.objects.filter(code=named.strip().upper()).first()
    target = account.pk if account else min(taken)
    accounts_lock([*taken, target])
    redemption = Redemption.objects.create(
        account_id=target,
        account_named=named[:64],
        wallet=Web3.to_checksum_address(event.sender),
        token_id=event.token_id,
        quantity=int(event.amount),
        tx_hash=event.tx_hash,
        log_index=event.log_index,
        block_number=event.block_number,
    )
    _from_chain(taken, RedemptionRange, redemption=redemption, to=lambda _: (target, ACTIVE))


def token_events_apply(events: list[TokenEvent]) -> None:
    """Follow the contract's final events, in chain order, inside the indexer's
    transaction: a mint seen final is its tokenization's end, a burn with a claim a
    retirement, a redemption RECs back in an account."""
    transfers = [e for e in events if e.kind == TokenEvent.Kind.TRANSFER]
    mints = {e.tx_hash for e in transfers if e.sender.lower() == ZERO_ADDRESS}
    for tokenization in Tokenization.objects.filter(
        tx_hash__in=mints, state__in=[State.NEW, State.PENDING]
    ):
        height = next(e.block_number for e in events if e.tx_hash == tokenization.tx_hash)
        _minted(tokenization, height)
    for event in sorted(events, key=lambda e: (e.block_number, e.log_index, e.position)):
        if event.kind == TokenEvent.Kind.RETIRED:
            _retire(event)
        elif event.kind == TokenEvent.Kind.REDEEMED:
            _redeem(event)
