from django.contrib import admin

from energy.admin import ReadOnlyAdmin
from recs.models import Link, Rec


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
