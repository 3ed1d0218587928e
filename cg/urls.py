from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cg.health import healthz, readyz
from cg.metrics import metrics
from cg.pipeline_page import pipeline_page
from energy.rpc import rpc
from recs.pages import statement_page, token_page

urlpatterns = [
    path("admin/pipeline/", pipeline_page, name="pipeline"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("v1", rpc, name="rpc"),
    path("api/v1/energy/", include("energy.urls")),
    path("api/v1/energy/", include("recs.urls")),
    re_path(
        r"^statements/(?P<statement_id>[A-Za-z0-9_-]{1,64})(?P<suffix>\.json|\.pdf)?$",
        statement_page,
        name="statement",
    ),
    re_path(r"^tokens/(?P<token>[0-9A-Za-z]{1,64})\.json$", token_page, name="token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

handler400 = "core.errors.bad_request"
handler403 = "core.errors.forbidden"
handler404 = "core.errors.not_found"
handler500 = "core.errors.server_error"
