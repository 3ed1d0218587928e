from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger is written by the pipeline, never by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
