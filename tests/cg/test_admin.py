"""The operator admin: everything browsable, the ledger read-only, tokens shown once."""

import datetime as dt
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from energy.models import ApiToken, Attribution, Customer, Source
from recs.selectors import rec_transactions
from tests.factories import CustomerFactory, SourceFactory, append, issue, mark_processed

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(source):
    attrs = append(source, [600_000_000, 500_000_000])
    mark_processed(attrs)
    [rec] = issue(source)  # 0.1 MWh of the second carried forward
    return source, attrs, rec


@pytest.mark.parametrize(
    "model",
    ["customer", "apitoken", "source", "attribution", "dailyaggregate", "report", "reading"],
)
def test_every_energy_list_page_renders(admin_client, ledger, model):
    response = admin_client.get(reverse(f"admin:energy_{model}_changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", ["ledgerblock", "deployment", "enginetransaction"])
def test_the_chain_list_pages_render(admin_client, model):
    assert admin_client.get(reverse(f"admin:chain_{model}_changelist")).status_code == 200


def test_lists_filter_and_search(admin_client, ledger):
    source, attrs, rec = ledger
    [waiting] = append(source, [5], start=attrs[-1].effective_time + dt.timedelta(hours=1))
    pages = [
        reverse("admin:energy_attribution_changelist") + "?state__exact=Processed",
        reverse("admin:energy_attribution_changelist") + "?effective_time__year=2019",
        reverse("admin:energy_attribution_changelist") + "?in_rec=yes",
        reverse("admin:energy_source_changelist") + f"?q={source.client_id}",
        reverse("admin:energy_source_changelist") + "?type__exact=solar&state__exact=active",
        reverse("admin:recs_rec_changelist") + "?state__exact=New",
        reverse("admin:recs_rec_change", args=[rec.pk]),
        reverse("admin:energy_source_change", args=[source.pk]),
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
    listing = admin_client.get(pages[3]).content.decode()
    assert source.external_id in listing
    assert "1.1" in listing  # the source's rec_sum, in MWh
    in_recs = admin_client.get(pages[2]).content.decode()
    assert all(f">{a.pk}<" in in_recs for a in rec_transactions(rec=rec))
    assert f">{waiting.pk}<" not in in_recs
    rec_page = admin_client.get(pages[6]).content.decode()
    assert all(a.external_id in rec_page for a in rec_transactions(rec=rec))


def test_the_ledger_cannot_be_edited_or_deleted_by_hand(admin_client, ledger):
    _, attrs, rec = ledger

    change = admin_client.get(reverse("admin:energy_attribution_change", args=[attrs[0].pk]))
    delete = admin_client.get(reverse("admin:energy_attribution_delete", args=[attrs[0].pk]))
    add = admin_client.get(reverse("admin:energy_attribution_add"))
    rec_delete = admin_client.get(reverse("admin:recs_rec_delete", args=[rec.pk]))

    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert delete.status_code == add.status_code == rec_delete.status_code == 403
    assert Attribution.objects.count() == 2


def test_a_token_created_from_the_admin_is_shown_once_and_works(admin_client, customer):
    response = admin_client.post(
        reverse("admin:energy_customer_changelist"),
        {"action": "create_token", "_selected_action": [customer.pk]},
        follow=True,
    )

    [token] = re.findall(r"0x[0-9a-f]{64}", response.content.decode())
    assert ApiToken.objects.filter(customer=customer, prefix=token[:10]).exists()
    later = admin_client.get(reverse("admin:energy_customer_change", args=[customer.pk]))
    assert token not in later.content.decode()


def test_revoking_from_the_admin(admin_client, customer, client_for):
    client = client_for(customer)
    token = ApiToken.objects.get(customer=customer)

    admin_client.post(
        reverse("admin:energy_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )

    assert client.get("/api/v1/energy/sources").status_code == 401


def test_adding_a_source_issues_a_client_id_and_checks_the_rules(admin_client, customer):
    url = reverse("admin:energy_source_add")
    form = {
        "customer": customer.pk,
        "external_id": "meter-9",
        "name": "Meter 9",
        "node_type": "meter",
        "type": "solar",
        "state": "active",
        "miner_address": "0x1134e1FEcA30FE9EAF77222b30C6CC571b33CD52",
        "capacity_wh": "5000",
        "technology": "solar_pv",
        "country": "us",
        "location": "",
        "children-TOTAL_FORMS": "0",
        "children-INITIAL_FORMS": "0",
    }

    bad = admin_client.post(url, form | {"miner_address": "0x12"})
    unbounded = admin_client.post(url, form | {"capacity_wh": ""})
    nowhere = admin_client.post(url, form | {"country": "XX"})
    good = admin_client.post(url, form)

    assert bad.status_code == 200 and "40 hex digits" in bad.content.decode()
    assert "a generation source needs a capacity" in unbounded.content.decode()
    assert "ISO 3166-1 alpha-2" in nowhere.content.decode()
    assert good.status_code == 302
    created = Source.objects.get(external_id="meter-9")
    assert (created.technology, created.country) == ("solar_pv", "US")
    assert re.fullmatch(r"0x[0-9a-f]{64}", created.client_id)
    assert created.miner_address == "0x1134e1feca30fe9eaf77222b30c6cc571b33cd52"
    assert Customer.objects.count() == 1


def _edit(admin_client, source: Source, **changes):
    """POST the source's change form with ``changes`` over its current values."""
    form = {
        "name": source.name,
        "node_type": source.node_type,
        "type": source.type,
        "state": source.state,
        "parent": source.parent_id or "",
        "owner_address": source.owner_address or "",
        "capacity_wh": source.capacity_wh or "",
        "technology": source.technology,
        "country": source.country,
        "location": source.location,
        "emission_factor": source.emission_factor or "",
        "children-TOTAL_FORMS": "0",
        "children-INITIAL_FORMS": "0",
    }
    return admin_client.post(
        reverse("admin:energy_source_change", args=[source.pk]), form | changes
    )


def test_a_parent_of_another_customer_or_a_cycle_is_refused(admin_client, customer):
    site = SourceFactory(customer=customer)
    meter = SourceFactory(customer=customer, parent=site)
    foreign = SourceFactory()  # another customer's

    elsewhere = _edit(admin_client, meter, parent=foreign.pk)
    cycle = _edit(admin_client, site, parent=meter.pk)
    fine = _edit(admin_client, meter, name="Meter, renamed")
    nowhere = _edit(admin_client, meter, country="XX")
    half = _edit(admin_client, meter, latitude="45.1")

    assert "the parent must belong to the same customer" in elsewhere.content.decode()
    assert "cannot be its own ancestor" in cycle.content.decode()
    assert "is no ISO 3166-1 alpha-2 code" in nowhere.content.decode()
    assert "give both latitude and longitude" in half.content.decode()
    assert fine.status_code == 302
    assert Source.objects.get(pk=meter.pk).parent_id == site.pk
    assert Source.objects.get(pk=site.pk).parent_id is None


def test_a_sources_type_is_fixed_once_it_has_readings(admin_client, source):
    _edit(admin_client, source, type="wind")
    assert Source.objects.get(pk=source.pk).type == "wind"  # no readings yet: a correction
    append(source, [5])

    page = admin_client.get(reverse("admin:energy_source_change", args=[source.pk]))
    _edit(admin_client, source, type="consumer")

    assert 'name="type"' not in page.content.decode()
    assert Source.objects.get(pk=source.pk).type == "wind"
    source.type = "consumer"
    with pytest.raises(ValidationError, match="for good"):
        source.full_clean()


@pytest.mark.postgres
def test_the_database_refuses_a_foreign_parent_a_cycle_and_a_type_change(customer):
    site = SourceFactory(customer=customer)
    meter = SourceFactory(customer=customer, parent=site)
    foreign = SourceFactory()
    append(meter, [5])

    for change in (
        lambda: Source.objects.filter(pk=meter.pk).update(parent=foreign),
        lambda: Source.objects.filter(pk=site.pk).update(parent=meter),
        lambda: Source.objects.filter(pk=site.pk).update(parent=site),
        lambda: Source.objects.filter(pk=meter.pk).update(type="consumer"),
        lambda: Source.objects.filter(pk=site.pk).update(customer=foreign.customer),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            change()
    assert Source.objects.get(pk=meter.pk).parent_id == site.pk


def test_operator_actions_are_in_the_admin_log(admin_client, customer, source):
    changelist = reverse("admin:energy_customer_changelist")
    admin_client.post(changelist, {"action": "create_token", "_selected_action": [customer.pk]})
    token = ApiToken.objects.filter(customer=customer).order_by("-pk").first()
    admin_client.post(
        reverse("admin:energy_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    admin_client.post(
        reverse("admin:energy_source_changelist"),
        {"action": "issue_recs_now", "_selected_action": [source.pk]},
    )

    logged = [(e.object_repr, e.get_change_message()) for e in LogEntry.objects.order_by("pk")]
    assert logged == [
        (str(customer), f"Created API token {token.prefix}…"),
        (str(token), f"Revoked API token {token.prefix}…"),
        (str(source), "Issue RECs now: 0 REC(s) issued"),
    ]


@pytest.fixture
def lifecycle(client_for, source):
    """RECs 1..4 issued; 2..3 sent to a buyer who accepted; 1 retired by the seller."""
    mark_processed(append(source, [10**9] * 4))
    issue(source, anchor=False)
    seller, buyer = client_for(source.customer), client_for(CustomerFactory(name="Buyer"))
    to = buyer.get("/api/v1/energy/account").json()["account"]
    serials = [f"{source.pk}-2", f"{source.pk}-3"]
    sent = seller.post(
        "/api/v1/energy/transfers", {"to": to, "recs": serials}, format="json",
        HTTP_IDEMPOTENCY_KEY="t",
    ).json()  # fmt: skip
    buyer.post(f"/api/v1/energy/transfers/{sent['id']}/accept")
    retired = seller.post(
        "/api/v1/energy/retirements",
        {"beneficiary": "Acme Bakery", "country": "US", "period_start": "2019-03-15",
         "period_end": "2019-03-15", "recs": [f"{source.pk}-1"]},
        format="json", HTTP_IDEMPOTENCY_KEY="r",
    ).json()  # fmt: skip
    return source, sent, retired


@pytest.mark.parametrize(
    "model", ["account", "bundle", "transfer", "retirement", "tokenization", "redemption"]
)
def test_the_lifecycle_pages_render_read_only(admin_client, lifecycle, model):
    listing = admin_client.get(reverse(f"admin:recs_{model}_changelist"))
    add = admin_client.get(reverse(f"admin:recs_{model}_add"))

    assert listing.status_code == 200
    assert add.status_code == 403


def test_an_operator_finds_every_holder_of_a_rec_and_every_retirement_of_a_source(
    admin_client, lifecycle
):
    source, sent, _ = lifecycle

    holders = admin_client.get(reverse("admin:recs_bundle_changelist"), {"q": f"{source.pk}-3"})
    of_source = admin_client.get(
        reverse("admin:recs_retirement_changelist"), {"source": source.pk}
    ).content.decode()
    by_serial = admin_client.get(
        reverse("admin:recs_retirement_changelist"), {"q": f"{source.pk}-1"}
    ).content.decode()
    transfer_page = admin_client.get(reverse("admin:recs_transfer_change", args=[sent["id"]]))

    assert "Buyer" in holders.content.decode()
    assert f"{source.pk}-2..{source.pk}-3" in holders.content.decode()
    assert "Acme Bakery" in of_source and "Acme Bakery" in by_serial
    assert transfer_page.status_code == 200
    assert 'name="_save"' not in transfer_page.content.decode()
