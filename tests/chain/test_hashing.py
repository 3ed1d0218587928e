"""Leaf hashes, Merkle roots and proofs, checked against OpenZeppelin's verifier on chain."""

import datetime as dt

import pytest
from eth_abi import encode
from eth_hash.auto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain import client
from chain.hashing import (
    ATTRIBUTION_DOMAIN,
    attribution_leaf,
    attribution_leaves,
    block_hash,
    merkle_levels,
    merkle_proof,
    merkle_root,
    merkle_verify,
)

CLIENT = "0x" + "ab" * 32


def test_the_leaf_is_keccak_of_the_documented_abi_encoding():
    when = dt.datetime(2019, 3, 15, 11, tzinfo=dt.UTC)

    leaf = attribution_leaf(CLIENT, "5c8bb3a20495c9baf67290c5", when, -29_167)

    expected = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint64", "int256"],
            [
                keccak(b"cg.attribution.v1"),
                bytes.fromhex("ab" * 32),
                keccak(b"5c8bb3a20495c9baf67290c5"),
                int(when.timestamp()),
                -29_167,
            ],
        )
    )
    assert leaf == expected
    assert keccak(b"cg.attribution.v1") == ATTRIBUTION_DOMAIN


def test_every_field_changes_the_leaf():
    base = (CLIENT, "x", 1_552_647_600, 5)
    variants = [
        ("0x" + "cd" * 32, "x", 1_552_647_600, 5),
        (CLIENT, "y", 1_552_647_600, 5),
        (CLIENT, "x", 1_552_651_200, 5),
        (CLIENT, "x", 1_552_647_600, 6),
    ]
    assert len({attribution_leaf(*v) for v in [base, *variants]}) == 5


def test_the_block_hash_chains_the_previous_one():
    root = keccak(b"root")

    assert block_hash(bytes(32), 1, root, 3) == keccak(
        encode(["bytes32", "uint256", "bytes32", "uint256"], [bytes(32), 1, root, 3])
    )


def test_a_single_leaf_is_its_own_root():
    leaf = keccak(b"a")

    assert merkle_root([leaf]) == leaf
    assert merkle_proof(merkle_levels([leaf]), 0) == []


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70), st.data())
def test_every_leaf_proves_against_the_root_and_no_other(leaves, data):
    levels = merkle_levels(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))

    proof = merkle_proof(levels, index)

    assert merkle_verify(proof, levels[-1][0], leaves[index])
    assert not merkle_verify(proof, levels[-1][0], keccak(leaves[index]))


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40, unique=True))
def test_openzeppelin_merkle_proof_accepts_our_proofs(chain, leaves):
    anchor = client.anchor_contract()
    levels = merkle_levels(leaves)
    root = levels[-1][0]

    for index in {0, len(leaves) // 2, len(leaves) - 1}:
        proof = merkle_proof(levels, index)
        assert anchor.functions.verify(proof, root, leaves[index]).call()
        assert not anchor.functions.verify(proof, root, keccak(b"other")).call()


def test_leaves_hashed_in_a_batch_are_the_leaves_of_each_row():
    rows = [
        (bytes.fromhex(CLIENT[2:]), "a", 1_552_608_000, 5, None),
        (bytes.fromhex(CLIENT[2:]), "b", 1_552_611_600, -29_167, None),
        (bytes.fromhex(CLIENT[2:]), "c", 1_552_615_200, 10**12, b"\x07" * 32),
    ]

    assert attribution_leaves(rows) == [attribution_leaf(*row) for row in rows]
    assert len(set(attribution_leaves(rows))) == 3
