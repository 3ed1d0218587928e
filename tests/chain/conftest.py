import pytest

from chain import client


@pytest.fixture
def chain(settings):
    """A fresh in-process chain (eth-tester) for the test, one confirmation deep."""
    settings.CHAIN_CONFIRMATIONS = 1
    w3 = client._in_process_web3()
    client.use_web3(w3)
    yield w3
    client.use_web3(None)
