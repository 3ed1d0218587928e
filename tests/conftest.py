import pytest
from rest_framework.test import APIClient

from chain import anvil, client
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


@pytest.fixture(autouse=True)
def _anchor_contract_per_test(settings):
    """Each test's database starts empty, so each test looks up (or deploys) its Anchor;
    the test chain is one confirmation deep, as embedded mode's."""
    settings.CHAIN_CONFIRMATIONS = 1
    client.deployed_contract.cache_clear()
    yield
    client.deployed_contract.cache_clear()


@pytest.fixture
def anvil_node(settings):
    """A fresh anvil, mining each transaction as it comes, with the Anchor deployed and
    configured as in production; yields (web3, its URL). Other processes reach it too."""
    assert anvil.available(), "anvil is missing: run `make test`, which installs it with npm"
    process, url = anvil.start(anvil.free_port())
    settings.WEB3_PROVIDER_URI = url
    settings.CHAIN_CONFIRMATIONS = 1
    client.use_web3(None)
    w3 = client.web3()
    settings.ANCHOR_CONTRACT_ADDRESS = client.deploy_anchor(w3)
    yield w3, url
    client.use_web3(None)
    anvil.stop(process)


@pytest.fixture
def browser():
    """Headless Chromium from Debian's packages, driven through its own driver."""
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    assert driver_path, "chromium-driver is missing: .ci/run installs it with apt-get"
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1200,1600"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()
