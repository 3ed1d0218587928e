"""tx_reportMinerPoGG, edr_reportConsumeData and net_getMinerByAddress into the reading log."""

import datetime as dt
import json

import pytest
from django.test import Client
from eth_keys import KeyAPI
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy.ingestion import base58_decode, base58_encode, pogg_message, pogg_sign
from energy.models import Reading, Report, Source
from tests.factories import SourceFactory, token_for
from tests.pushing import Miner, call, hourly_report, post, sample_hex

pytestmark = pytest.mark.django_db

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
T = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=5)


def at(minutes: int) -> dt.datetime:
    return T + dt.timedelta(minutes=minutes)


@pytest.fixture
def miner(customer):
    miner = Miner(seed=21)
    SourceFactory(
        customer=customer,
        miner_address=miner.address.lower(),
        owner_address="0x" + "ab" * 20,
        capacity_wh=5000,
    )
    return miner


def report(miner, samples, call_id=1) -> dict:
    return post(Client(), call("tx_reportMinerPoGG", miner.report(samples), call_id)).json()


def signed(miner, data_list: list[str]) -> dict:
    """Report params of raw ``dataList`` items, signed by the miner as they stand."""
    return {
        "version": 1,
        "address": miner.address,
        "dataList": data_list,
        "signature": pogg_sign(miner.key, 1, miner.address, data_list),
    }


def error_code(answer: dict) -> int | None:
    return answer.get("error", {}).get("code")


def stored() -> list[tuple]:
    return list(
        Reading.objects.order_by("sample_time").values_list("sample_time", "power", "energy")
    )


class TestMinerReports:
    def test_an_accepted_report_is_logged_sample_by_sample(self, miner):
        samples = [(at(5 * i), 27000, 377_620_000 + 1000 * i) for i in range(12)]

        answer = report(miner, samples)

        assert answer == {"jsonrpc": "2.0", "id": 1, "result": "200"}
        assert stored() == samples
        [logged] = Report.objects.all()
        assert logged.method == "tx_reportMinerPoGG" and logged.samples == 12
        assert logged.signature == miner.report(samples)["signature"]
        source = Source.objects.get()
        assert (source.last_sample_time, source.last_energy) == (at(55), 377_631_000)

    def test_a_stored_report_keeps_what_was_signed_so_anyone_can_recover_the_signer(self, miner):
        samples = [(at(5 * i), 27000, 1000 * i) for i in range(3)]
        report(miner, samples)

        [logged] = Report.objects.all()
        signed = json.loads(logged.signed)  # nothing of ours: the text, its signature, keccak
        assert signed["dataList"] == miner.report(samples)["dataList"]
        raw = base58_decode(logged.signature)
        vrs = (raw[64], int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"))
        signer = (
            KeyAPI()
            .Signature(vrs=vrs)
            .recover_public_key_from_msg_hash(keccak(logged.signed.encode()))
        )
        assert signer.to_address().lower() == miner.address.lower() == signed["address"].lower()

    def test_the_very_first_report_may_be_a_single_zero_sample(self, miner):
        assert report(miner, [(at(0), 0, 0)])["result"] == "200"
        assert stored() == [(at(0), 0, 0)]

    def test_replaying_a_report_is_accepted_and_stored_once(self, miner):
        samples = [(at(0), 1, 10), (at(5), 1, 20)]
        report(miner, samples)

        again = report(miner, samples, call_id=2)

        assert again["result"] == "200"
        assert stored() == samples
        assert Report.objects.count() == 1

    def test_resending_a_whole_batch_or_a_long_report_is_accepted_and_stored_once(self, miner):
        # 100 reports x 12 samples, then one report of 1,000 samples: each lookup of
        # what is stored stays within what SQLite accepts in one statement.
        start = T - dt.timedelta(hours=200)
        batch = [
            call("tx_reportMinerPoGG", miner.report(hourly_report(start + dt.timedelta(hours=h),
                                                                  3_000_000 * h, 3000)), h)
            for h in range(100)
        ]  # fmt: skip
        long = [(start + dt.timedelta(hours=100, seconds=60 * i), 1, 300_000_000 + i)
                for i in range(1000)]  # fmt: skip
        answers = []
        for payload in (batch, call("tx_reportMinerPoGG", miner.report(long))):
            for _ in range(2):  # sent, then sent again
                answer = post(Client(), payload).json()
                answers += [a.get("result") for a in (answer if payload is batch else [answer])]
        assert answers == ["200"] * 202
        assert Reading.objects.count() == 2200
        assert Report.objects.count() == 101

    def test_a_report_overlapping_the_stored_ones_adds_only_the_new_samples(self, miner):
        report(miner, [(at(0), 1, 10), (at(5), 1, 20)])

        answer = report(miner, [(at(5), 1, 20), (at(10), 1, 30)])

        assert answer["result"] == "200"
        assert [e for _, _, e in stored()] == [10, 20, 30]

    @pytest.mark.parametrize(
        "samples",
        [
            [(at(5), 1, 21), (at(10), 1, 30)],  # conflicts with the sample stored at 5
            [(at(3), 1, 15), (at(10), 1, 30)],  # older than the newest, never stored
            [(at(10), 1, 19)],  # cumulative energy went down
        ],
    )
    def test_going_back_is_12207_and_stores_nothing_of_the_report(self, miner, samples):
        report(miner, [(at(0), 1, 10), (at(5), 1, 20)])

        answer = report(miner, samples)

        assert error_code(answer) == 12207
        assert [e for _, _, e in stored()] == [10, 20]

    @pytest.mark.parametrize(
        "data_list",
        [
            ["zz" * 20],
            ["01" * 19],
            [sample_hex(1_700_000_000, 1, 1, version=2)],
            [sample_hex(1_700_000_000, 1, 5), sample_hex(1_700_000_000, 1, 6)],  # same time
            [sample_hex(1_700_000_000, 1, 5), sample_hex(1_700_000_300, 1, 4)],  # decrease
            [sample_hex(int(dt.datetime.now().timestamp()) + 86_400, 1, 5)],  # the future
            ["01" + "0" * 22 + "ff" * 8],  # energy past 2**63
            ["01" + "ff" * 5 + "00" * 14],  # a time past the year 9999
            [],
        ],
    )
    def test_malformed_samples_are_12207(self, miner, data_list, caplog):
        answer = post(Client(), call("tx_reportMinerPoGG", signed(miner, data_list))).json()

        assert error_code(answer) == 12207
        assert stored() == []
        assert not [r for r in caplog.records if r.exc_info]  # no traceback logged

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(samples=st.lists(st.binary(min_size=19, max_size=19), min_size=1, max_size=3))
    def test_any_sample_bytes_get_a_typed_answer_never_an_internal_error(self, miner, samples):
        data_list = ["01" + raw.hex() for raw in samples]

        answer = post(Client(), call("tx_reportMinerPoGG", signed(miner, data_list))).json()

        assert answer.get("result") == "200" or error_code(answer) == 12207

    def test_a_malleated_high_s_signature_of_the_same_signer_is_12201(self, miner):
        params = miner.report([(at(0), 1, 1)])
        raw = base58_decode(params["signature"])
        r, s, v = raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]
        high = base58_encode(r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([1 - v]))
        digest = keccak(pogg_message(1, params["address"], params["dataList"]))
        vrs = (1 - v, int.from_bytes(r, "big"), SECP256K1_N - s)
        same = KeyAPI().Signature(vrs=vrs).recover_public_key_from_msg_hash(digest)
        assert same.to_address().lower() == miner.address.lower()  # a valid signature too

        answer = post(Client(), call("tx_reportMinerPoGG", params | {"signature": high})).json()

        assert error_code(answer) == 12201
        assert "lower half" in answer["error"]["data"]["reason"]
        assert stored() == []

    def test_a_report_signed_by_someone_else_is_12201(self, miner):
        params = Miner(seed=99).report([(at(0), 1, 1)])
        params["address"] = miner.address

        answer = post(Client(), call("tx_reportMinerPoGG", params)).json()

        assert error_code(answer) == 12201
        assert stored() == []

    def test_an_unknown_or_inactive_miner_is_12208(self, miner):
        stranger = Miner(seed=77)
        assert error_code(report(stranger, [(at(0), 1, 1)])) == 12208

        Source.objects.update(state="inactive")
        assert error_code(report(miner, [(at(0), 1, 1)])) == 12208
        assert stored() == []

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"version": 1.0}, "version"),
            ({"version": "1"}, "version"),
            ({"address": "0x1234"}, "address"),
            ({"dataList": "01ab"}, "dataList"),
            ({"dataList": [1, 2]}, "dataList"),
            ({"signature": 5}, "signature"),
        ],
    )
    def test_malformed_params_are_32602_naming_the_field(self, miner, change, field):
        params = miner.report([(at(0), 1, 1)]) | change

        answer = post(Client(), call("tx_reportMinerPoGG", params)).json()

        assert error_code(answer) == -32602
        assert answer["error"]["data"]["field"] == field

    def test_a_missing_param_is_32602_naming_it(self, miner):
        params = miner.report([(at(0), 1, 1)])
        del params["signature"]

        answer = post(Client(), call("tx_reportMinerPoGG", params)).json()

        assert answer["error"]["data"] == {"field": "signature", "reason": "is required"}


@pytest.fixture
def consumer(customer):
    return SourceFactory(customer=customer, type="consumer", node_type="meter")


def consume(client_id, power, energy, token: str | None, call_id=1) -> dict:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    params = {"clientId": client_id, "power": power, "energy": energy}
    return post(Client(), call("edr_reportConsumeData", params, call_id), **headers).json()


class TestConsumptionReports:
    def test_a_consumption_sample_is_stamped_on_receipt(self, consumer):
        before = dt.datetime.now(dt.UTC)

        answer = consume(consumer.client_id, 1500, 42, token_for(consumer.customer))

        assert answer == {"jsonrpc": "2.0", "id": 1, "result": "OK"}
        [(when, power, energy)] = stored()
        assert (power, energy) == (1500, 42)
        assert before <= when <= dt.datetime.now(dt.UTC)

    def test_two_samples_in_one_batch_both_count(self, consumer):
        token = token_for(consumer.customer)
        params = [{"clientId": consumer.client_id, "power": 1, "energy": e} for e in (5, 9)]
        batch = [call("edr_reportConsumeData", p, i) for i, p in enumerate(params)]

        answers = post(Client(), batch, HTTP_AUTHORIZATION=f"Bearer {token}").json()

        assert [a["result"] for a in answers] == ["OK", "OK"]
        assert [e for _, _, e in stored()] == [5, 9]

    @pytest.mark.parametrize("token", [None, "0x" + "0" * 64, "nonsense"])
    def test_no_or_a_bad_token_is_1000(self, consumer, token):
        assert error_code(consume(consumer.client_id, 1, 1, token)) == 1000
        assert stored() == []

    def test_a_client_id_of_another_customer_or_a_generator_is_4002(self, consumer, customer):
        others = SourceFactory(type="consumer")
        generator = SourceFactory(customer=customer)
        token = token_for(customer)

        assert error_code(consume(others.client_id, 1, 1, token)) == 4002
        assert error_code(consume(generator.client_id, 1, 1, token)) == 4002
        assert error_code(consume("0x" + "1" * 64, 1, 1, token)) == 4002
        assert error_code(consume("zzz", 1, 1, token)) == 4002
        assert stored() == []

    def test_energy_below_the_last_accepted_value_is_4003(self, consumer):
        token = token_for(consumer.customer)
        consume(consumer.client_id, 1, 100, token)

        assert error_code(consume(consumer.client_id, 1, 99, token)) == 4003
        assert consume(consumer.client_id, 1, 100, token)["result"] == "OK"  # equal is fine
        assert [e for _, _, e in stored()] == [100, 100]

    @pytest.mark.parametrize(
        ("power", "energy", "field"),
        [
            (1.5, 1, "power"),
            (1, -1, "energy"),
            (1, 2**63, "energy"),
            (True, 1, "power"),
            ("1", 1, "power"),
            (1, None, "energy"),
        ],
    )
    def test_numbers_must_be_integers_in_range(self, consumer, power, energy, field):
        answer = consume(consumer.client_id, power, energy, token_for(consumer.customer))

        assert error_code(answer) == -32602
        assert answer["error"]["data"]["field"] == field

    @pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e3", b"9" * 30])
    def test_json_number_oddities_are_refused(self, consumer, literal):
        body = (
            b'{"jsonrpc":"2.0","id":1,"method":"edr_reportConsumeData","params":{"clientId":"'
            + consumer.client_id.encode()
            + b'","power":1,"energy":'
            + literal
            + b"}}"
        )
        token = token_for(consumer.customer)

        answer = post(Client(), body, HTTP_AUTHORIZATION=f"Bearer {token}").json()

        assert error_code(answer) == -32602
        assert stored() == []


class TestMinerLookup:
    def test_a_known_miner(self, miner):
        report(miner, [(at(0), 1, 10), (at(5), 1, 377_660_000)])

        answer = post(Client(), call("net_getMinerByAddress", [miner.address.lower()])).json()

        assert answer["result"] == {
            "address": miner.address,
            "ownerAddress": to_checksum_address("0x" + "ab" * 20),
            "capacity": 5000,
            "totalEnergyGeneration": "377660000",
        }

    def test_an_unknown_miner_is_12208_and_an_inactive_one_3005(self, miner):
        unknown = post(Client(), call("net_getMinerByAddress", ["0x" + "1" * 40])).json()
        Source.objects.update(state="inactive")
        inactive = post(Client(), call("net_getMinerByAddress", {"address": miner.address})).json()

        assert error_code(unknown) == 12208
        assert error_code(inactive) == 3005

    def test_a_malformed_address_is_32602(self):
        answer = post(Client(), call("net_getMinerByAddress", ["0x12"])).json()

        assert error_code(answer) == -32602


class TestPlausibleSamples:
    """Energy a meter could not have produced is refused at the door (12207, with why)."""

    def reason(self, answer: dict) -> str:
        assert error_code(answer) == 12207
        return answer["error"]["data"]["reason"]

    def test_a_first_sample_from_1970_is_refused(self, miner):
        answer = report(miner, [(dt.datetime(1970, 1, 2, tzinfo=dt.UTC), 1, 5)])

        assert "more than 400 days old (MAX_BACKFILL_DAYS)" in self.reason(answer)
        assert stored() == []

    def test_backfill_reaches_back_as_far_as_the_setting(self, miner, settings):
        year_ago = T - dt.timedelta(days=365)
        assert error_code(report(miner, [(year_ago, 1, 5)])) is None

        settings.MAX_BACKFILL_DAYS = 30
        answer = report(miner, [(year_ago + dt.timedelta(hours=1), 1, 6)], call_id=2)

        assert "more than 30 days old" in self.reason(answer)
        assert [e for _, _, e in stored()] == [5]

    def test_a_rise_no_plant_could_produce_is_refused(self, miner, settings):
        settings.MAX_SOURCE_POWER_W = 1_000_000  # 1 MW: at most 1,000,000,000 mWh an hour
        too_fast = report(miner, [(at(0), 1, 0), (at(60), 1, 1_000_000_001)])
        assert "more than 1000000 W could produce" in self.reason(too_fast)
        assert stored() == []

        assert error_code(report(miner, [(at(0), 1, 0), (at(60), 1, 10**9)], call_id=2)) is None
        after_the_stored_one = report(miner, [(at(120), 1, 2 * 10**9 + 1)], call_id=3)

        assert "rose by 1000000001 mWh in 3600 s" in self.reason(after_the_stored_one)
        assert [e for _, _, e in stored()] == [0, 10**9]

    def test_the_top_of_the_energy_range_after_a_real_sample_is_refused(self, miner):
        report(miner, [(at(0), 1, 10)])

        answer = report(miner, [(at(5), 1, 2**63 - 1)], call_id=2)

        assert "could produce" in self.reason(answer)
        assert [e for _, _, e in stored()] == [10]

    def test_a_sample_before_the_commissioning_date_is_refused(self, miner):
        Source.objects.update(commissioned=T.date())

        answer = report(miner, [(T - dt.timedelta(days=1), 1, 5), (T, 1, 6)])

        reason = self.reason(answer)
        assert reason.startswith("sample time") and "is before the source's commissioning" in reason
        assert stored() == []
        assert error_code(report(miner, [(T, 1, 6)], call_id=2)) is None
