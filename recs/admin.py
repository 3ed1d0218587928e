import re

from django.contrib import admin
from django.db.models import Q, QuerySet, Sum
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core.admin import ReadOnlyAdmin
from core.paging import Page
from core.units import mwh_text
from energy.admin import AttributionAdmin, SourceAdmin
from energy.models import Attribution, Source
from recs.models import (
    Account,
    Bundle,
    Rec,
    Redemption,
    RedemptionRange,
    Remainder,
    Retirement,
    RetirementRange,
    Span,
    Tokenization,
    TokenizationRange,
    Transfer,
    TransferRange,
)
from recs.selectors import in_a_span, rec_transactions
from recs.services import rec_issue


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class OpenerInline(_ReadOnlyInline):
    model = Remainder
    fields = ["split_from", "effective_time", "value", "remainder", "external_id"]
    readonly_fields = fields
    verbose_name = "opening remainder"


class SpanInline(_ReadOnlyInline):
    model = Span
    fields = ["seq_first", "seq_last", "remainder", "created"]
    readonly_fields = fields
    ordering = ["seq_first"]
    verbose_name = "span of the source's transactions"


@admin.register(Rec)
class RecAdmin(ReadOnlyAdmin):
    list_display = ["id", "customer", "source", "state", "state_changed", "height", "created"]
    list_filter = ["state", "created", "customer"]
    date_hierarchy = "created"
    search_fields = ["hash", "source__external_id", "source__name", "customer__name"]
    list_select_related = ["customer", "source"]
    inlines = [OpenerInline, SpanInline]
    readonly_fields = ["transactions"]

    @admin.display(description="transactions (the first 100)")
    def transactions(self, rec: Rec) -> str:
        rows = rec_transactions(rec=rec, page=Page(number=0, size=100))
        return format_html(
            "<table><tr><th>id</th><th>external id</th><th>hour</th><th>MWh</th>"
            "<th>remainder MWh</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                [_transaction_cells(row) for row in rows],
            ),
        )


def _transaction_cells(row) -> tuple:
    hour = f"{row.effective_time:%Y-%m-%d %H:%M}"
    return row.pk, row.external_id, hour, mwh_text(row.value), mwh_text(row.remainder)


class IssuingSourceAdmin(SourceAdmin):
    """The energy app's source admin, with issuance's action: issuance lives here,
    above energy, so energy's admin does not know it."""

    actions = ["issue_recs_now"]

    @admin.action(description="Issue RECs now")
    def issue_recs_now(self, request, queryset: QuerySet[Source]) -> None:
        issued = 0
        for source in queryset.order_by("pk"):
            count = rec_issue(source_id=source.pk)
            self.log_change(request, source, f"Issue RECs now: {count} REC(s) issued")
            issued += count
        self.message_user(request, f"Issued {issued} REC(s) for {queryset.count()} source(s).")


class InRecFilter(admin.SimpleListFilter):
    title = "in a REC"
    parameter_name = "in_rec"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        held = in_a_span()
        if self.value() == "yes":
            return queryset.filter(held, value__gt=0)
        if self.value() == "no":
            return queryset.exclude(held, value__gt=0)
        return queryset


class IssuedAttributionAdmin(AttributionAdmin):
    """The energy app's attribution admin, with a filter on what RECs hold."""

    list_filter = [*AttributionAdmin.list_filter, InRecFilter]


admin.site.unregister(Source)
admin.site.register(Source, IssuingSourceAdmin)
admin.site.unregister(Attribution)
admin.site.register(Attribution, IssuedAttributionAdmin)


SERIAL_SEARCH = re.compile(r"^\s*(\d{1,18})-(\d{1,18})\s*$")


class SerialSearch:
    """Search by serial (``12-41``): the rows whose range holds that REC."""

    def get_search_results(self, request, queryset, search_term):
        if found := SERIAL_SEARCH.match(search_term):
            source_id, serial = map(int, found.groups())
            rows = queryset.filter(
                **{f"{self.range_path}source_id": source_id,
                   f"{self.range_path}first__lte": serial,
                   f"{self.range_path}last__gte": serial}
            ).distinct()  # fmt: skip
            return rows, False
        return super().get_search_results(request, queryset, search_term)


class BundleInline(_ReadOnlyInline):
    model = Bundle
    fields = ["source", "first", "last", "quantity", "status", "transfer", "modified"]
    readonly_fields = fields
    ordering = ["source_id", "first"]
    verbose_name = "holding"


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "customer", "held", "retired", "created"]
    search_fields = ["code", "customer__name"]
    list_select_related = ["customer"]
    inlines = [BundleInline]

    def get_queryset(self, request):
        bundles = "bundles__quantity"
        return (
            super()
            .get_queryset(request)
            .annotate(
                held_count=Sum(bundles, filter=Q(bundles__status=Bundle.Status.ACTIVE)),
                retired_count=Sum(bundles, filter=Q(bundles__status=Bundle.Status.RETIRED)),
            )
        )

    @admin.display(description="held (active)", ordering="held_count")
    def held(self, account) -> int:
        return account.held_count or 0

    @admin.display(description="retired", ordering="retired_count")
    def retired(self, account) -> int:
        return account.retired_count or 0


@admin.register(Bundle)
class HoldingAdmin(SerialSearch, ReadOnlyAdmin):
    """Every holder of a REC: search its serial (``12-41``)."""

    range_path = ""
    list_display = ["__str__", "account", "source", "quantity", "status", "transfer", "modified"]
    list_filter = ["status"]
    search_fields = ["account__code", "account__customer__name", "source__external_id",
                     "source__name"]  # fmt: skip
    list_select_related = ["account__customer", "source"]
    ordering = ["source_id", "first"]


class TransferRangeInline(_ReadOnlyInline):
    model = TransferRange
    fields = ["source", "first", "last", "quantity"]
    readonly_fields = fields
    verbose_name = "range"


@admin.register(Transfer)
class TransferAdmin(SerialSearch, ReadOnlyAdmin):
    range_path = "ranges__"
    list_display = ["id", "sender", "receiver", "quantity", "status", "created", "status_changed"]
    list_filter = ["status", "created"]
    search_fields = ["sender__code", "receiver__code", "sender__customer__name",
                     "receiver__customer__name"]  # fmt: skip
    list_select_related = ["sender__customer", "receiver__customer"]
    inlines = [TransferRangeInline]


class RetirementRangeInline(TransferRangeInline):
    model = RetirementRange


class RetiredSourceFilter(admin.SimpleListFilter):
    """Every retirement of a source."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        retired = RetirementRange.objects.values("source_id").distinct()
        return [(s.pk, str(s)) for s in Source.objects.filter(pk__in=retired).order_by("pk")]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(ranges__source_id=int(self.value())).distinct()
        return queryset


@admin.register(Retirement)
class RetirementAdmin(SerialSearch, ReadOnlyAdmin):
    range_path = "ranges__"
    list_display = ["id", "beneficiary_shown", "quantity", "account", "wallet", "country",
                    "period_start",
                    "period_end", "state", "statement_link", "created"]  # fmt: skip
    list_filter = [RetiredSourceFilter, "state", "country", "created"]
    search_fields = ["beneficiary", "statement", "account__code", "account__customer__name",
                     "wallet", "tx_hash"]  # fmt: skip
    list_select_related = ["account__customer"]
    inlines = [RetirementRangeInline]

    @admin.display(description="statement")
    def statement_link(self, retirement) -> str:
        url = reverse("statement", kwargs={"statement_id": retirement.statement})
        return format_html('<a href="{}">statement</a>', url)


class TokenizationRangeInline(TransferRangeInline):
    model = TokenizationRange


@admin.register(Tokenization)
class TokenizationAdmin(SerialSearch, ReadOnlyAdmin):
    range_path = "ranges__"
    list_display = ["id", "account", "wallet", "quantity", "state", "tx_hash", "created"]
    list_filter = ["state", "created"]
    search_fields = ["wallet", "tx_hash", "account__code", "account__customer__name"]
    list_select_related = ["account__customer"]
    inlines = [TokenizationRangeInline]


class RedemptionRangeInline(TransferRangeInline):
    model = RedemptionRange


@admin.register(Redemption)
class RedemptionAdmin(SerialSearch, ReadOnlyAdmin):
    range_path = "ranges__"
    list_display = ["id", "account", "account_named", "wallet", "token_id", "quantity",
                    "tx_hash", "created"]  # fmt: skip
    search_fields = ["wallet", "tx_hash", "account_named", "account__customer__name"]
    list_select_related = ["account__customer"]
    inlines = [RedemptionRangeInline]
