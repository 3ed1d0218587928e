from drf_spectacular.utils import OpenApiParameter

PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="0-based page number", default=0),
    OpenApiParameter("per_page", int, description="records per page, 1 to 1000", default=25),
]
