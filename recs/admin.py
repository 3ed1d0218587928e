from django.contrib import admin
from django.db.models import QuerySet
from django.utils.html import format_html, format_html_join

from core.admin import ReadOnlyAdmin
from core.paging import Page
from core.units import mwh_text
from energy.admin import AttributionAdmin, SourceAdmin
from energy.models import Attribution, Source
from recs.models import Rec, Remainder, Span
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
