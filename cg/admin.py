from django.contrib import admin

from cg.models import TaskRun
from core.admin import ReadOnlyAdmin

# The admin index links the operators' pipeline page (cg.pipeline_page).
admin.site.index_template = "cg/admin_index.html"


@admin.register(TaskRun)
class TaskRunAdmin(ReadOnlyAdmin):
    list_display = ["task", "started", "seconds", "outcome", "error"]
    list_filter = ["outcome", "task"]
    date_hierarchy = "started"
