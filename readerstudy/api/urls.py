"""The API's own routes, all named in the "api" namespace (api:study-detail, api:token...).

The namespace keeps the router's names (study-detail, pool-detail, study-copy...) apart from the
coordinator pages' names, so `reverse("study-detail")` is always the page and never the API.
"""
from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

app_name = "api"

router = DefaultRouter()
router.register("pools", views.PoolViewSet, basename="pool")
router.register("studies", views.StudyViewSet, basename="study")
router.register("readers", views.ReaderViewSet, basename="reader")
router.register("trials", views.TrialViewSet, basename="trial")
router.register("responses", views.ResponseViewSet, basename="response")

urlpatterns = [
    path("token/", views.TokenView.as_view(), name="token"),
    path("pools/<int:pk>/quality/<int:run_pk>/<str:name>", views.PoolQualityFileView.as_view(),
         name="pool-quality-file"),
    *router.urls,
]
