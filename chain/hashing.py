"""Canonical hashes of ledger rows, Merkle trees over them, and proofs.

Leaf of an attribution (what it asserts, ABI-encoded, so Solidity can rebuild it):

    keccak256(abi.encode(
        bytes32 keccak256("cg.attribution.v1"),
        bytes32 source client id,
        bytes32 keccak256(utf8 external id),
        uint64  effective time, seconds since 1970-01-01T00:00:00Z,
        int256  value, mWh
    ))

An attribution read from signed reports also commits to them (v2): the same
fields under keccak256("cg.attribution.v2"), then

        bytes32 evidence, keccak256 of the concatenated keccak-256 digests of the
                signed reports whose samples bound its hour, in time order

Leaf of a REC (its source, its serial, and the energy it holds, where from and
how much):

    keccak256(bytes32 keccak256("cg.rec.v2") ‖ bytes32 source client id
              ‖ uint256 serial (its 1-based place among its source's RECs)
              ‖ for each transaction in the REC's order (the incoming remainder
                first, then by time): bytes32 leaf of the metered transaction the
                energy comes from ‖ uint256 mWh taken from it)

RECs issued before the serial was committed (``Rec.leaf_version`` 1) hash under
keccak256("cg.rec.v1") without it: two RECs cut from one hour of several MWh had
the same leaf then.

Tree: OpenZeppelin's sorted-pair construction (``MerkleProof.verify``):
parent = keccak256(min(a, b) ‖ max(a, b)); a node without a sibling moves up
unchanged. Block hash: keccak256(abi.encode(bytes32 previous block hash,
uint256 height, bytes32 root, uint256 leaf count)), chained from 32 zero bytes.
"""

import datetime as dt

import sha3


def keccak(data: bytes) -> bytes:
    return sha3.keccak_256(data).digest()


ATTRIBUTION_DOMAIN = keccak(b"cg.attribution.v1")
ATTRIBUTION_DOMAIN_V2 = keccak(b"cg.attribution.v2")
REC_DOMAIN = keccak(b"cg.rec.v1")
REC_DOMAIN_V2 = keccak(b"cg.rec.v2")
RETIREMENT_DOMAIN = keccak(b"cg.retirement.v1")
GENESIS = bytes(32)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def attribution_leaf(
    client_id: str | bytes,
    external_id: str,
    effective_time: dt.datetime | int,
    value: int,
    evidence: bytes | None = None,
) -> bytes:
    """The leaf hash of one attribution: v2 with its ``evidence``, v1 without.

    ``client_id`` as 0x-hex or its 32 bytes, ``effective_time`` as a datetime or
    epoch seconds: the sealer passes the cheap forms for thousands of rows.
    """
    if isinstance(effective_time, dt.datetime):
        effective_time = (effective_time - _EPOCH) // dt.timedelta(seconds=1)
    if isinstance(client_id, str):
        client_id = bytes.fromhex(client_id[2:])
    if evidence is not None:
        evidence = bytes(evidence)
    [leaf] = attribution_leaves([(client_id, external_id, effective_time, value, evidence)])
    return leaf


def attribution_leaves(rows) -> list[bytes]:
    """``attribution_leaf`` of many (client id bytes, external id, epoch seconds, value,
    evidence or None) rows at once: what sealing and the audit hash, with the hasher
    bound once (the same bytes as one call per row)."""
    hasher, v1, v2 = sha3.keccak_256, ATTRIBUTION_DOMAIN, ATTRIBUTION_DOMAIN_V2
    leaves = []
    for client_id, external_id, epoch, value, evidence in rows:
        body = (
            client_id
            + hasher(external_id.encode()).digest()
            + epoch.to_bytes(32, "big")
            + value.to_bytes(32, "big", signed=True)
        )
        if evidence is None:
            leaves.append(hasher(v1 + body).digest())
        else:
            leaves.append(hasher(v2 + body + evidence).digest())
    return leaves


def evidence_hash(digests: list[bytes]) -> bytes:
    """What an attribution's ``evidence`` is: keccak-256 over its bounding reports'
    digests, in time order."""
    return keccak(b"".join(bytes(d) for d in digests))


def rec_leaf(client_id: str, members: list[tuple[bytes, int]], serial: int | None = None) -> bytes:
    """The leaf hash of a REC from its (origin leaf, mWh taken) members, in REC order:
    v2 with its ``serial``, v1 (RECs of before) without."""
    if serial is None:
        parts = [REC_DOMAIN, bytes.fromhex(client_id[2:])]
    else:
        parts = [REC_DOMAIN_V2, bytes.fromhex(client_id[2:]), _word(serial)]
    for leaf, amount in members:
        parts += [leaf, amount.to_bytes(32, "big")]
    return keccak(b"".join(parts))


def retirement_leaf(
    *,
    beneficiary: str | bytes,
    purpose: str | bytes,
    country: str,
    period_start: dt.date,
    period_end: dt.date,
    recs: list[tuple[int, int, bytes]],
) -> bytes:
    """The leaf hash of a retirement: keccak-256 over its domain, keccak of the UTF-8
    beneficiary and purpose, the country code's two ASCII bytes, the period's first
    and last day (days since 1970-01-01), then each retired REC's source id, serial
    and leaf, in source and serial order; integers as 32-byte big-endian words. A
    retirement burnt on chain gives beneficiary and purpose as the 32-byte hashes its
    holder put on chain (bytes), the text staying the holder's."""
    epoch = dt.date(1970, 1, 1)
    parts = [
        RETIREMENT_DOMAIN,
        beneficiary if isinstance(beneficiary, bytes) else keccak(beneficiary.encode()),
        purpose if isinstance(purpose, bytes) else keccak(purpose.encode()),
        country.encode("ascii"),
        _word((period_start - epoch).days),
        _word((period_end - epoch).days),
    ]
    for source_id, serial, leaf in recs:
        parts += [_word(source_id), _word(serial), leaf]
    return keccak(b"".join(parts))


def block_hash(previous: bytes, height: int, root: bytes, count: int) -> bytes:
    return keccak(previous + _word(height) + root + _word(count))


def _parent(a: bytes, b: bytes) -> bytes:
    return keccak(a + b if a < b else b + a)


def merkle_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every level of the tree, the leaves first and the root alone last."""
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    hasher = sha3.keccak_256  # bound once: a tree of 10,000 leaves hashes 10,000 times
    levels = [leaves]
    while len(levels[-1]) > 1:
        level = levels[-1]
        up = [
            hasher(a + b if a < b else b + a).digest()
            for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if len(level) % 2:
            up.append(level[-1])
        levels.append(up)
    return levels


def merkle_root(leaves: list[bytes]) -> bytes:
    return merkle_levels(leaves)[-1][0]


def merkle_proof(levels: list[list[bytes]], index: int) -> list[bytes]:
    """The sibling hashes from leaf ``index`` up to the root."""
    proof = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index //= 2
    return proof


def merkle_verify(proof: list[bytes], root: bytes, leaf: bytes) -> bool:
    node = leaf
    for sibling in proof:
        node = _parent(node, sibling)
    return node == root
