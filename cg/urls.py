from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from energy.rpc import rpc

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1", rpc, name="rpc"),
    path("api/v1/energy/", include("energy.urls")),
    path("api/v1/energy/", include("recs.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

handler400 = "cg.errors.bad_request"
handler403 = "cg.errors.forbidden"
handler404 = "cg.errors.not_found"
handler500 = "cg.errors.server_error"
