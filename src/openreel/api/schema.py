"""/openapi.json lists the statuses each route really answers, each with OpenAI's error envelope.

FastAPI documents a 422 for every route with parameters, but this app answers
validation errors with a 400 (see create_app's handlers), so 422 is removed and
the real error statuses are added, all pointing at components.schemas.Error.
"""

from __future__ import annotations

from fastapi import FastAPI

_NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
ERROR = {
    "type": "object", "title": "Error", "required": ["error"],
    "description": "OpenAI's error envelope.",
    "properties": {"error": {"type": "object", "required": ["message", "type", "param", "code"], "properties": {
        "message": {"type": "string"},
        "type": {"type": "string", "description": "invalid_request_error, permission_error, rate_limit_error, ..."},
        "param": {**_NULLABLE_STRING, "description": "the field, parameter or header at fault"},
        "code": {**_NULLABLE_STRING, "description": "a stable machine-readable code"},
    }}},
}

DESCRIPTIONS = {
    400: "Invalid request: `param` names the field, query parameter, path id or header",
    401: "No API key, or an unknown, revoked or expired one",
    403: "The key is suspended, lacks the route's scope, or is over a per-video limit",
    404: "No such object visible to this key",
    409: "The object is not in a state that allows this (e.g. the video is not completed)",
    410: "The video's files have expired or were deleted",
    413: "The request body is over OPENREEL_MAX_UPLOAD_BYTES",
    415: "Unsupported Content-Type: send application/json or multipart/form-data",
    429: "Over the key's rate limit, concurrent jobs or daily quota (see Retry-After)",
}

# Statuses beyond those every route gets (400; 401, 403, 429 on /v1; 404 with a path id; 413 with a body;
# 415 with a multipart body): what the service can answer for that route.
EXTRA: dict[tuple[str, str], set[int]] = {
    ("post", "/v1/videos/edits"): {404, 409, 410},
    ("post", "/v1/videos/extensions"): {404, 409, 410},
    ("post", "/v1/videos/{video_id}/remix"): {409, 410},
    ("get", "/v1/videos/{video_id}/content"): {409, 410},
    ("post", "/v1/videos/{video_id}/share"): {409},
    ("post", "/v1/review/{share_id}/approve"): {409},
    ("post", "/v1/review/{share_id}/reject"): {409},
    ("get", "/v1/review/{share_id}/content"): {409, 410},
    ("post", "/v1/admin/keys"): {404},
}


def error_responses(path: str, method: str, op: dict) -> dict[str, dict]:
    statuses = {400}
    if path.startswith("/v1/"):
        statuses |= {401, 403, 429}
    if "{" in path:
        statuses.add(404)
    body = op.get("requestBody")
    if body:
        statuses.add(413)
        if "multipart/form-data" in body.get("content", {}):
            statuses.add(415)
    statuses |= EXTRA.get((method, path), set())
    return {str(s): {"description": DESCRIPTIONS[s],
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for s in sorted(statuses)}


def document_errors(app: FastAPI) -> None:
    """Wrap app.openapi so the schema lists the real error statuses (and no 422)."""
    generate = app.openapi  # FastAPI's: cached until the routes change

    def openapi() -> dict:
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        if "Error" in schemas:
            return schema  # this schema is already documented
        for path, operations in schema.get("paths", {}).items():
            for method, op in operations.items():
                responses = op.setdefault("responses", {})
                responses.pop("422", None)
                responses.update(error_responses(path, method, op))
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas["Error"] = ERROR
        return schema

    app.openapi = openapi
