from django.urls import path

from energy import views

urlpatterns = [
    path("sources", views.SourceListView.as_view(), name="sources"),
    path(
        "attributions/<str:device_id>",
        views.AttributionListView.as_view(),
        name="attributions",
    ),
    path("attributions/<str:device_id>/daily", views.DailyListView.as_view(), name="daily"),
    path(
        "attributions/<str:device_id>/<str:attribution_id>/proof",
        views.ProofView.as_view(),
        name="proof",
    ),
    path(
        "attributions/<str:device_id>/<str:attribution_id>/evidence",
        views.EvidenceView.as_view(),
        name="evidence",
    ),
]
