"""Roles: coordinator (staff user), analyst (member of the "analysts" group), reader (invitation token)."""
from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

ANALYSTS_GROUP = "analysts"


def is_coordinator(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def is_analyst(user) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_staff or user.groups.filter(name=ANALYSTS_GROUP).exists()


def _require(check):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                raise PermissionDenied("Your account does not have this role.")
            return view(request, *args, **kwargs)
        return wrapped
    return decorator


coordinator_required = _require(is_coordinator)
analyst_required = _require(is_analyst)


def context_processor(request):
    user = getattr(request, "user", None)
    return {"is_coordinator": is_coordinator(user), "is_analyst": is_analyst(user)}


class CoordinatorOrReadOnlyAnalyst(BasePermission):
    """Coordinators may do anything; analysts may read."""

    def has_permission(self, request, view) -> bool:
        if is_coordinator(request.user):
            return True
        return request.method in SAFE_METHODS and is_analyst(request.user)


class IsAnalyst(BasePermission):
    def has_permission(self, request, view) -> bool:
        return is_analyst(request.user)
