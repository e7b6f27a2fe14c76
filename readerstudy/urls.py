from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .api import reader as reader_api
from .converters import TokenConverter
from .views import analyst, coordinator, design, home, pools, reader

register_converter(TokenConverter, "token")

urlpatterns = [
    path("", home.home, name="home"),
    path("health/", home.health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Reader pages and the reader API (the invitation token is the credential).
    path("reading/", reader.my_studies, name="my-studies"),
    path("r/<token:token>/", reader.start, name="reader-start"),
    path("r/<token:token>/read/", reader.read, name="reader-read"),
    path("r/<token:token>/done/", reader.done, name="reader-done"),
    path("api/reader/<token:token>/", reader_api.ReaderStateView.as_view(), name="api-reader-state"),
    path("api/reader/<token:token>/start/", reader_api.ReaderStartView.as_view(), name="api-reader-start"),
    path("api/reader/<token:token>/responses/", reader_api.ReaderResponsesView.as_view(),
         name="api-reader-responses"),
    path("api/reader/<token:token>/images/<token:image_token>/", reader_api.ReaderImageView.as_view(),
         name="api-reader-image"),
    # Coordinator pages.
    path("coordinator/", coordinator.dashboard, name="dashboard"),
    path("coordinator/pools/<int:pk>/", pools.pool_detail, name="pool-detail"),
    path("coordinator/pools/<int:pk>/images/<token:uid>.png", pools.pool_image, name="pool-image"),
    path("coordinator/pools/<int:pk>/quality/", pools.pool_quality_start, name="pool-quality-start"),
    path("coordinator/pools/<int:pk>/quality/progress/", pools.pool_quality_progress, name="pool-quality-progress"),
    path("coordinator/pools/<int:pk>/quality/<int:run_pk>/<str:name>", pools.pool_quality_file,
         name="pool-quality-file"),
    path("coordinator/studies/new/", coordinator.study_edit, name="study-new"),
    path("coordinator/studies/design/preview/", design.design_preview, name="design-preview"),
    path("coordinator/studies/design/power/", design.design_power, name="design-power"),
    path("coordinator/studies/<int:pk>/", coordinator.study_detail, name="study-detail"),
    path("coordinator/studies/<int:pk>/edit/", coordinator.study_edit, name="study-edit"),
    path("coordinator/studies/<int:pk>/copy/", coordinator.study_copy, name="study-copy"),
    path("coordinator/studies/<int:pk>/status/<str:action>/", coordinator.study_status, name="study-status"),
    path("coordinator/studies/<int:pk>/readers/", coordinator.study_progress, name="study-progress"),
    path("coordinator/studies/<int:pk>/power/", coordinator.study_power, name="study-power"),
    path("coordinator/studies/<int:pk>/readers/invite/", coordinator.reader_invite, name="reader-invite"),
    path("coordinator/studies/<int:pk>/readers/invite-list/", coordinator.reader_invite_bulk,
         name="reader-invite-bulk"),
    path("coordinator/studies/<int:pk>/readers/links.csv", coordinator.reader_links_csv, name="reader-links-csv"),
    path("coordinator/studies/<int:pk>/readers/<int:reader_pk>/<str:action>/", coordinator.reader_action,
         name="reader-action"),
    # Analyst pages.
    path("results/", analyst.studies, name="results-list"),
    path("results/data-dictionary.csv", analyst.data_dictionary, name="results-dictionary"),
    path("results/<int:pk>/", analyst.results, name="results"),
    path("results/<int:pk>/responses.csv", analyst.responses_csv, name="results-csv"),
    path("results/<int:pk>/report.json", analyst.report_json, name="results-json"),
    path("results/<int:pk>/report.html", analyst.report_html, name="results-html"),
    path("results/<int:pk>/study.imrmc", analyst.imrmc, name="results-imrmc"),
    # The API for coordinators, analysts and scripts.
    path("api/", include("readerstudy.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
