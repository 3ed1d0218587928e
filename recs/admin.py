from django.contrib import admin

from energy.admin import ReadOnlyAdmin
from energy.models import Attribution
from recs.models import Rec


class RecTransactionInline(admin.TabularInline):
    model = Attribution
    fk_name = "rec"
    fields = ["kind", "external_id", "effective_time", "value", "remainder", "state"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-kind", "effective_time", "id"]

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
