"""The OpenAPI schema documents every answer an operation can give, errors included.

drf-spectacular documents the success answer of each operation. `MirageSchema` adds the errors, so that a
client (and the schema fuzzing test, which checks every answer against the schema) knows them all:

- 400 when the operation takes a body or query parameters (what was wrong, by field, or a list of messages);
- 401 and 403 where a login or a role is needed; 404 where the path names an object;
- 415 when it takes a body (a media type it cannot parse);
- and what a view lists in its `errors` by action or method (409 for a study that cannot do that now,
  410 for a withdrawn invitation, 429 for a locked-out login...).

Every error body but a 400's is {"detail": "..."}; a path matching no route at all gets Django's own HTML
404 page, so a 404 may also be text/html.
"""
from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny

Error = inline_serializer("Error", {"detail": serializers.CharField()})
FIELD_ERRORS = {
    "description": "What was wrong: each field's messages by field name, or a list of messages.",
    "oneOf": [{"type": "object", "additionalProperties": {}}, {"type": "array", "items": {"type": "string"}}],
}

MEANING = {
    400: "The request is not one this operation can take; the body says what was wrong.",
    401: "No credentials, or credentials that are not valid (for an invitation made to an account: log in).",
    403: "The account, or the invitation, is not allowed this.",
    404: "Nothing by that id or token here (a path matching no route gets Django's HTML page).",
    409: "Not now: the study or the reader is not in a state that allows it.",
    410: "The invitation has been withdrawn.",
    415: "A body in a media type this operation cannot parse.",
    429: "Too many failed logins for this account from this address; retry after Retry-After seconds.",
}


def error_responses(code: int) -> dict:
    """(status, media type) -> the answer, for one error."""
    if code == 400:
        return {(400, "application/json"): OpenApiResponse(FIELD_ERRORS, description=MEANING[400])}
    entries = {(code, "application/json"): OpenApiResponse(Error, description=MEANING[code])}
    if code == 404:
        entries[(404, "text/html")] = OpenApiResponse(str, description=MEANING[404])
    return entries


class MirageSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        # Where drf-spectacular turns the success answers (its own or extend_schema's) into responses.
        responses = super()._get_response_bodies(direction)
        for code in sorted(self.error_codes(self.get_response_serializers())):
            for (status, media_type), answer in error_responses(code).items():
                if str(status) in responses and media_type in responses[str(status)].get("content", {}):
                    continue
                body = self._get_response_for_code(answer, str(status), [media_type], direction)
                if str(status) in responses:
                    responses[str(status)].setdefault("content", {}).update(body["content"])
                else:
                    responses[str(status)] = body
        return responses

    def error_codes(self, success) -> set[int]:
        codes = set()
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            codes |= {400, 415}
        if self.method == "GET" and self._is_list_view(success):
            codes.add(400)  # ?limit, ?offset and the id filters
        if "{" in self.path:
            codes.add(404)
        if any(not isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            codes |= {401, 403}
        extra = getattr(self.view, "errors", {})
        codes.update(extra.get(getattr(self.view, "action", None), ()))
        codes.update(extra.get(self.method.lower(), ()))
        return codes
