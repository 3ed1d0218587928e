from django.urls import path

from recs import views

urlpatterns = [
    path("account", views.AccountView.as_view(), name="account"),
    path("holdings", views.HoldingListView.as_view(), name="holdings"),
    path("recs", views.RecListView.as_view(), name="recs"),
    path("recs/<str:rec_id>", views.RecDetailView.as_view(), name="rec"),
    path("recs/<str:rec_id>/proof", views.RecProofView.as_view(), name="rec_proof"),
    path("retirements", views.RetirementListView.as_view(), name="retirements"),
    path(
        "retirements/<str:retirement_id>",
        views.RetirementDetailView.as_view(),
        name="retirement",
    ),
    path("tokens/<str:token_id>/events", views.TokenEventListView.as_view(), name="token_events"),
    path("tokenizations", views.TokenizationListView.as_view(), name="tokenizations"),
    path(
        "tokenizations/<str:tokenization_id>",
        views.TokenizationDetailView.as_view(),
        name="tokenization",
    ),
    path("transfers", views.TransferListView.as_view(), name="transfers"),
    path("transfers/<str:transfer_id>", views.TransferDetailView.as_view(), name="transfer"),
    *(
        path(
            f"transfers/<str:transfer_id>/{answer}",
            views.TransferAnswerView.as_view(answer=answer),
            name=f"transfer_{answer}",
        )
        for answer in ("accept", "reject", "recall")
    ),
]
