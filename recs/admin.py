from django.contrib import admin

from energy.admin import ReadOnlyAdmin
from recs.models import Link, Rec


class RecTransactionInline(admin.TabularInline):
    model = Link
    fields = ["kind", "external_id", "effective_time", "value", "remainder", "state"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-attribution__kind", "attribution__effective_time", "attribution_id"]
    verbose_name = "transaction"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("attribution")

    @admin.display(description="kind")
    def kind(self, link: Link) -> str:
        return link.attribution.kind

    @admin.display(description="external id")
    def external_id(self, link: Link) -> str:
        return link.attribution.external_id

    @admin.display(description="effective time")
    def effective_time(self, link: Link):
        return link.attribution.effective_time

    @admin.display(description="value")
    def value(self, link: Link) -> int:
        return link.attribution.value

    @admin.display(description="state")
    def state(self, link: Link) -> str:
        return link.attribution.state

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
