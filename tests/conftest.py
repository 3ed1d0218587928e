import pytest
from rest_framework.test import APIClient

from chain import client
from tests.factories import CustomerFactory, SourceFactory, token_for


@pytest.fixture
def customer():
    return CustomerFactory(name="Hill Valley Energy")


@pytest.fixture
def source(customer):
    return SourceFactory(customer=customer)


@pytest.fixture
def client_for():
    """An API client authenticated as the given customer."""

    def make(customer) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(customer)}")
        return client

    return make


@pytest.fixture
def api(client_for, customer) -> APIClient:
    return client_for(customer)


@pytest.fixture
def chain(settings):
    """A fresh in-process chain (eth-tester) for the test, one confirmation deep.

    Node calls are refused inside database transactions, so tests using it
    need ``django_db(transaction=True)``.
    """
    settings.CHAIN_CONFIRMATIONS = 1
    w3 = client._in_process_web3()
    client.use_web3(w3)
    yield w3
    client.use_web3(None)
