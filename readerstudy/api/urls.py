from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("pools", views.PoolViewSet, basename="pool")
router.register("studies", views.StudyViewSet, basename="study")
router.register("readers", views.ReaderViewSet, basename="reader")
router.register("trials", views.TrialViewSet, basename="trial")
router.register("responses", views.ResponseViewSet, basename="response")

urlpatterns = [path("token/", obtain_auth_token, name="api-token"), *router.urls]
