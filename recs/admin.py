from django.contrib import admin
from django.db.models import QuerySet

from core.admin import ReadOnlyAdmin
from energy.admin import SourceAdmin
from energy.models import Source
from recs.models import Link, Rec
from recs.services import rec_issue


def _of_the_transaction(field: str):
    """An inline column showing a field of the linked transaction."""

    @admin.display(description=field.replace("_", " "))
    def show(inline, link: Link):
        return getattr(link.attribution, field)

    return show


class RecTransactionInline(admin.TabularInline):
    model = Link
    fields = ["kind", "external_id", "effective_time", "value", "remainder", "state"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-attribution__kind", "attribution__effective_time", "attribution_id"]
    verbose_name = "transaction"

    kind = _of_the_transaction("kind")
    external_id = _of_the_transaction("external_id")
    effective_time = _of_the_transaction("effective_time")
    value = _of_the_transaction("value")
    state = _of_the_transaction("state")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("attribution")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Rec)
class RecAdmin(ReadOnlyAdmin):
    list_display = ["id", "customer", "source", "state", "state_changed", "height", "created"]
    list_filter = ["state", "created", "customer"]
    date_hierarchy = "created"
    search_fields = ["hash", "source__external_id", "source__name", "customer__name"]
    list_select_related = ["customer", "source"]
    inlines = [RecTransactionInline]


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


admin.site.unregister(Source)
admin.site.register(Source, IssuingSourceAdmin)
