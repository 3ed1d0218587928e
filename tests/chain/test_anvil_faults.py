"""Faults against a real node: anvil, from the npm package pinned in package-lock.json."""

import pytest
import requests

from chain import anvil, client
from chain.models import LedgerBlock
from chain.services import anchoring_round, blocks_confirm, blocks_seal, blocks_send
from energy.models import Attribution
from tests.factories import SourceFactory, append

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def node(anvil_node):
    """The test's anvil; yields (web3, raw RPC)."""
    w3, _ = anvil_node

    def rpc(method, *params):
        return w3.provider.make_request(method, list(params))["result"]

    return w3, rpc


def events() -> list:
    return client.anchor_contract().events.Anchored().get_logs(from_block=0)


def states() -> set[str]:
    return set(Attribution.objects.values_list("state", flat=True))


def test_a_round_on_anvil_anchors_and_verifies(node):
    append(SourceFactory(), [5, 6, 7])

    assert anchoring_round() == {"sealed": 3, "sent": 1, "confirmed": 1}

    assert states() == {"Processed"}
    assert [e["args"]["height"] for e in events()] == [1]


def test_node_down_then_back_sends_once_with_the_same_nonce(node, settings):
    w3, _ = node
    append(SourceFactory(), [5])
    blocks_seal()
    url = settings.WEB3_PROVIDER_URI
    settings.WEB3_PROVIDER_URI = f"http://127.0.0.1:{anvil.free_port()}"  # nobody listens
    client.use_web3(None)
    with pytest.raises(requests.ConnectionError):
        client.web3().eth.block_number  # noqa: B018

    assert blocks_send() == 0
    assert LedgerBlock.objects.get().attempts == 1
    assert states() == {"New"}

    settings.WEB3_PROVIDER_URI = url
    client.use_web3(None)
    LedgerBlock.objects.update(next_attempt_at=None)
    assert blocks_send() == 1
    # anvil mines on its own task: on a loaded machine the receipt may lag the send.
    w3.eth.wait_for_transaction_receipt(LedgerBlock.objects.get().tx_hash, timeout=10)
    assert blocks_confirm() == 1
    assert len(events()) == 1
    assert w3.eth.get_transaction_count(client.engine_account().address) == 2  # deploy + one


def test_a_dropped_transaction_is_sent_again(node):
    _, rpc = node
    append(SourceFactory(), [5])
    rpc("evm_setAutomine", False)
    blocks_seal()
    blocks_send()
    block = LedgerBlock.objects.get()
    rpc("anvil_dropTransaction", block.tx_hash)

    assert blocks_confirm() == 0
    assert LedgerBlock.objects.get().status == "signed"
    assert blocks_send() == 1
    rpc("evm_mine")
    assert blocks_confirm() == 1
    assert LedgerBlock.objects.get().nonce == block.nonce
    assert len(events()) == 1


def test_a_reorg_before_confirmation_is_detected_and_anchored_again(node, settings):
    _, rpc = node
    settings.CHAIN_CONFIRMATIONS = 3
    append(SourceFactory(), [5, 9])
    snapshot = rpc("evm_snapshot")
    blocks_seal()
    blocks_send()
    rpc("evm_mine")
    assert blocks_confirm() == 0  # two confirmations of three

    rpc("evm_revert", snapshot)  # the chain forgets the anchoring block

    assert blocks_confirm() == 0
    assert LedgerBlock.objects.get().status == "signed"
    assert states() == {"Pending"}
    assert blocks_send() == 1
    rpc("anvil_mine", "0x2")
    assert blocks_confirm() == 1
    assert [e["args"]["height"] for e in events()] == [1]
    assert states() == {"Processed"}
