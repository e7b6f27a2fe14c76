from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect

from ..roles import is_analyst, is_coordinator


def home(request):
    if is_coordinator(request.user):
        return redirect("dashboard")
    if is_analyst(request.user):
        return redirect("results-list")
    if request.user.is_authenticated:
        return redirect("my-studies")
    return redirect("login")


def health(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
