"""Deployment checks of our own, run by `manage.py check --deploy`."""
from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def secret_key_is_set(app_configs, **kwargs):
    if settings.SECRET_KEY == settings._DEV_KEY:
        return [Warning("MIRAGE_SECRET_KEY is not set: the built-in development SECRET_KEY is public.",
                        hint="Set MIRAGE_SECRET_KEY to a long random string (python -c 'import secrets; "
                             "print(secrets.token_urlsafe(50))').", id="mirage.W001")]
    return []
