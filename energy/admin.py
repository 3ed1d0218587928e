from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from core.admin import ReadOnlyAdmin
from core.units import mwh_text
from energy import certificates
from energy.models import (
    ApiToken,
    Attribution,
    Customer,
    DailyAggregate,
    Quality,
    Reading,
    Report,
    Source,
)
from energy.services import (
    attributions_decide,
    source_clean,
    source_create,
    token_create,
    token_revoke,
)


class ApiTokenInline(admin.TabularInline):
    model = ApiToken
    fields = ["prefix", "label", "created", "revoked"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "source_count", "created"]
    search_fields = ["name"]
    readonly_fields = ["created", "modified"]
    inlines = [ApiTokenInline]
    actions = ["create_token"]

    @admin.display(description="sources")
    def source_count(self, obj: Customer) -> int:
        return obj.sources.count()

    @admin.action(description="Create an API token (shown once)")
    def create_token(self, request, queryset: QuerySet[Customer]) -> None:
        for customer in queryset:
            token, plain = token_create(customer=customer, label=f"admin: {request.user}")
            self.log_change(request, customer, f"Created API token {token.prefix}…")
            self.message_user(
                request,
                f"New token for {customer.name}, shown only now: {plain}",
                messages.WARNING,
            )


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "customer", "label", "created", "revoked"]
    list_filter = [("revoked", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "customer__name", "label"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None) -> bool:
        # Actions need change permission; the form itself stays read-only.
        return obj is None

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            token_revoke(token=token)
            self.log_change(request, token, f"Revoked API token {token.prefix}…")
        self.message_user(request, f"Revoked {queryset.count()} token(s).")


class ChildSourceInline(admin.TabularInline):
    model = Source
    fk_name = "parent"
    fields = ["external_id", "name", "node_type", "type", "state"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "external_id",
        "name",
        "customer",
        "node_type",
        "type",
        "state",
        "parent",
        "rec_number",
        "rec_mwh",
        "without_rec_number",
        "without_rec_mwh",
        "new_number",
        "new_mwh",
    ]
    list_filter = ["type", "node_type", "state", "customer"]
    search_fields = ["name", "external_id", "client_id", "miner_address"]
    list_select_related = ["customer", "parent"]
    autocomplete_fields = ["parent"]
    inlines = [ChildSourceInline]
    fields = [
        "customer",
        "external_id",
        "name",
        "node_type",
        "type",
        "state",
        "parent",
        "client_id",
        "miner_address",
        "owner_address",
        "capacity_wh",
        "commissioned",
        "technology",
        "country",
        "latitude",
        "longitude",
        "location",
        "emission_factor",
        "last_sample_time",
        "last_energy",
        "attribution_count",
        "rec_number",
        "rec_mwh",
        "without_rec_number",
        "without_rec_mwh",
        "new_number",
        "new_mwh",
        "created",
        "modified",
    ]
    counter_fields = [
        "client_id",
        "last_sample_time",
        "last_energy",
        "attribution_count",
        "rec_number",
        "rec_mwh",
        "without_rec_number",
        "without_rec_mwh",
        "new_number",
        "new_mwh",
        "created",
        "modified",
    ]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # What the ledger already refers to stays put once the source exists.
        if obj is None:
            return self.counter_fields
        fixed = [*self.counter_fields, "customer", "external_id", "miner_address"]
        return [*fixed, "type"] if obj.has_history() else fixed

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # set it inactive instead: the ledger refers to it

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if obj is None:
            form.clean = _new_source_clean
        return form

    def save_model(self, request, obj: Source, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = source_create(**form.source_fields)
        obj.pk, obj.client_id, obj.miner_address = (
            created.pk,
            created.client_id,
            created.miner_address,
        )

    @admin.display(description="REC MWh")
    def rec_mwh(self, obj: Source) -> str:
        return mwh_text(obj.rec_sum)

    @admin.display(description="without REC MWh")
    def without_rec_mwh(self, obj: Source) -> str:
        return mwh_text(obj.without_rec_sum)

    @admin.display(description="new MWh")
    def new_mwh(self, obj: Source) -> str:
        return mwh_text(obj.new_sum)


def _new_source_clean(form) -> dict:
    """Admin form check of a new source: the same rules as ``source_create``."""
    data = forms.ModelForm.clean(form)
    if form.errors:
        return data
    try:
        form.source_fields = source_clean(
            customer=data["customer"],
            external_id=data["external_id"],
            name=data["name"],
            type=data["type"],
            node_type=data["node_type"],
            parent=data.get("parent"),
            capacity_wh=data.get("capacity_wh"),
            location=data.get("location") or "",
            miner_address=data.get("miner_address") or None,
            emission_factor=data.get("emission_factor"),
            commissioned=data.get("commissioned"),
            technology=data.get("technology") or "other",
            country=data.get("country") or "",
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
        )
    except ValidationError as error:
        form.add_error(None, error)
        return data
    # The model's own checks run next, on the normalised values.
    data.update({k: v for k, v in form.source_fields.items() if k in data})
    return data


class DecisionForm(ActionForm):
    reason = forms.CharField(
        required=False, max_length=300, help_text="why (for release / reject quarantined hours)"
    )


class HeldChangeList(ChangeList):
    """The page's attributions with their RECs, looked up once for the page."""

    def get_results(self, request) -> None:
        super().get_results(request)
        certificates.attach(list(self.result_list))


@admin.register(Attribution)
class AttributionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "source",
        "effective_time",
        "value_mwh",
        "state",
        "rec",
        "remainder_mwh",
        "quality",
        "height",
    ]
    list_filter = ["state", "quality", "effective_time"]
    action_form = DecisionForm
    actions = ["release_hours", "reject_hours"]
    date_hierarchy = "effective_time"
    search_fields = ["external_id", "hash", "source__external_id", "source__name"]
    list_select_related = ["source"]
    show_full_result_count = False  # a count of millions of rows on every page load

    def get_changelist(self, request, **kwargs):
        return HeldChangeList

    @admin.display(description="MWh", ordering="value")
    def value_mwh(self, obj: Attribution) -> str:
        return mwh_text(obj.value)

    @admin.display(description="remainder MWh")
    def remainder_mwh(self, obj: Attribution) -> str:
        return mwh_text(obj.remainder)

    @admin.action(description="Release quarantined hours (they flow on to RECs)")
    def release_hours(self, request, queryset: QuerySet[Attribution]) -> None:
        self._decide(request, queryset, release=True)

    @admin.action(description="Reject quarantined hours (never in a REC)")
    def reject_hours(self, request, queryset: QuerySet[Attribution]) -> None:
        self._decide(request, queryset, release=False)

    def _decide(self, request, queryset, *, release: bool) -> None:
        reason = request.POST.get("reason", "")
        chosen = list(queryset.filter(quality=Quality.QUARANTINED).order_by("pk"))
        try:
            decided = attributions_decide(
                attribution_ids=[a.pk for a in chosen], release=release, reason=reason
            )
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
            return
        verb = "released" if release else "rejected"
        for attribution in chosen:
            self.log_change(request, attribution, f"{verb}: {reason.strip()}")
        self.message_user(request, f"{decided} quarantined hour(s) {verb}.")


@admin.register(DailyAggregate)
class DailyAggregateAdmin(ReadOnlyAdmin):
    list_display = ["source", "day", "state", "rec_id", "number", "value_mwh"]
    list_filter = ["state", "day"]
    date_hierarchy = "day"
    search_fields = ["source__external_id", "source__name"]
    list_select_related = ["source"]

    @admin.display(description="MWh")
    def value_mwh(self, obj: DailyAggregate) -> str:
        return mwh_text(obj.value)


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "source", "method", "received", "samples", "request_id"]
    list_filter = ["method", "received"]
    date_hierarchy = "received"
    search_fields = ["source__external_id", "source__miner_address", "=request_id"]
    list_select_related = ["source"]
    show_full_result_count = False


@admin.register(Reading)
class ReadingAdmin(ReadOnlyAdmin):
    list_display = ["source", "sample_time", "power", "energy", "report"]
    list_filter = ["sample_time"]
    date_hierarchy = "sample_time"
    search_fields = ["source__external_id", "source__miner_address"]
    list_select_related = ["source", "report"]
    show_full_result_count = False
