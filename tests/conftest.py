import pytest
from rest_framework.test import APIClient

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
