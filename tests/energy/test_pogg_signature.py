"""The tx_reportMinerPoGG signature: keccak-256 of the compact JSON, r‖s‖v' in base58."""

import pytest

from energy.ingestion import (
    RpcError,
    base58_decode,
    base58_encode,
    decode_sample,
    pogg_signer,
)
from tests.pushing import Miner

SPEC_VECTOR = {
    "version": 1,
    "address": "0x1134e1FEcA30FE9EAF77222b30C6CC571b33CD52",
    "dataList": [
        "010064abb9db0000000069780000000016820620",
        "010064abbb070000000069780000000016820620",
        "010064abbc330000000115580000000016820620",
        "010064abbd5f0000000069780000000016825440",
        "010064abbe8b0000000069780000000016825440",
        "010064abbfb70000000121100000000016825440",
        "010064abc0e30000000121100000000016825440",
        "010064abc20f00000000fde80000000016825440",
        "010064abc33b00000000b3b0000000001682a260",
        "010064abc46700000000fa00000000001682a260",
        "010064abc59300000000f618000000001682a260",
        "010064abc6bf00000000cb20000000001682a260",
    ],
    "signature": (
        "2rj9DbrxzGniLcYL9GUfsVSTKSS3muEh8UU4n9E46Mm6oMDApdTHW7WJfaMMhqwNwZmhPs6DQNacrBnwpQRpCxfa8"
    ),
}


def signer(report: dict) -> str:
    return pogg_signer(
        report["version"], report["address"], report["dataList"], report["signature"]
    )


def test_the_spec_example_recovers_its_address():
    assert signer(SPEC_VECTOR) == SPEC_VECTOR["address"].lower()


def test_the_spec_example_samples_decode_as_documented():
    first = decode_sample(SPEC_VECTOR["dataList"][0])
    last = decode_sample(SPEC_VECTOR["dataList"][-1])

    assert (int(first.time.timestamp()), first.power, first.energy) == (
        1688975835,
        27000,
        377620000,
    )
    assert int(last.time.timestamp()) - int(first.time.timestamp()) == 11 * 300
    assert last.energy == 377660000


def test_a_report_signed_with_a_real_key_recovers_that_key():
    miner = Miner(seed=7)

    report = miner.report([(1_700_000_000, 1000, 5)])

    assert signer(report) == miner.address.lower()


def test_a_report_signed_by_another_key_recovers_someone_else():
    report = Miner(seed=7).report([(1_700_000_000, 1000, 5)])
    report["address"] = Miner(seed=8).address

    assert signer(report) != report["address"].lower()


def test_tampered_data_recovers_someone_else():
    report = dict(SPEC_VECTOR, dataList=[*SPEC_VECTOR["dataList"][:-1], "01" + "0" * 38])

    assert signer(report) != SPEC_VECTOR["address"].lower()


@pytest.mark.parametrize(
    "signature",
    [
        "0OIl" + SPEC_VECTOR["signature"][4:],  # not in the base58 alphabet
        SPEC_VECTOR["signature"][:-5],  # too short
        base58_encode(base58_decode(SPEC_VECTOR["signature"])[:64] + b"\x05"),  # v' not 0/1
        "",
    ],
)
def test_a_malformed_signature_is_12201(signature):
    with pytest.raises(RpcError) as caught:
        signer(dict(SPEC_VECTOR, signature=signature))

    assert caught.value.code == 12201


def test_base58_round_trips_leading_zero_bytes():
    data = b"\0\0\x01\x02\xff"

    assert base58_decode(base58_encode(data)) == data


def test_signers_are_recovered_by_libsecp256k1_not_pure_python():
    # eth-keys falls back to pure Python silently when coincurve is missing:
    # every report would then cost ~4.5 ms of signature recovery, not ~0.07.
    from eth_keys.backends.coincurve import CoinCurveECCBackend

    from energy.ingestion import _keys

    assert isinstance(_keys.backend, CoinCurveECCBackend)
