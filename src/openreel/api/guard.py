"""Hostile input, refused at the door with a 400 naming the field, and security headers on the way out.

Text the database cannot store (a NUL, a lone UTF-16 surrogate), JSON nested
deeper than MAX_DEPTH, oversized or binary `Idempotency-Key` and
`X-Forwarded-For` headers, and malformed path ids never reach the service:
PostgreSQL would refuse them with an exception, which would be a 500. Valid
requests pass through unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Path, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..service.errors import ServiceError

MAX_DEPTH = 64  # JSON nesting; OpenReel's bodies need 3
MAX_IDEMPOTENCY_KEY = 200  # characters; stored scoped by user in a 255-character column
MAX_FORWARDED_FOR = 512  # characters: a dozen proxies' addresses
ID_SHAPE = r"^[A-Za-z0-9_-]{1,64}$"  # video_..., share_..., key_..., public page tokens
BAD_TEXT = re.compile("[\x00\ud800-\udfff]")

# Path and query ids: FastAPI checks the shape (a 400 naming the parameter) before the route runs.
VideoId = Annotated[str, Path(pattern=ID_SHAPE, max_length=64, description="video_...")]
ShareId = Annotated[str, Path(pattern=ID_SHAPE, max_length=64, description="share_...")]
KeyId = Annotated[str, Path(pattern=ID_SHAPE, max_length=64, description="key_...")]
Token = Annotated[str, Path(pattern=ID_SHAPE, max_length=64)]
AfterId = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{0,64}$", max_length=64,
                                      description="a video id: list the videos after it")]


def _escaped(text: str, limit: int = 100) -> str:
    """Text safe to echo in an error (a NUL or surrogate shown as an escape), cut to `limit` characters."""
    return BAD_TEXT.sub(lambda m: f"\\u{ord(m[0]):04x}", text[:limit])


def check_text(value: str, param: str) -> None:
    if m := BAD_TEXT.search(value):
        what = "a NUL character" if m[0] == "\x00" else "a lone UTF-16 surrogate"
        raise ServiceError(400, f"{param} contains {what} (U+{ord(m[0]):04X}); send valid Unicode text without NUL",
                           param=param, code="invalid_value")


def too_deep(param: str | None) -> ServiceError:
    where = f"{param} is" if param else "the JSON is"
    return ServiceError(400, f"{where} nested deeper than {MAX_DEPTH} levels", param=param, code="invalid_json")


def check_tree(value: Any, root: str | None = None) -> None:
    """Every string of a parsed body (keys too) is storable text; nothing nests deeper than MAX_DEPTH.

    Iterative, so no input can exhaust the stack. A bad string is named by its path
    (`input_reference.image_url`, `flags[2]`); too deep a value by its top-level field.
    """
    stack: list[tuple[Any, str | None, int]] = [(value, root, 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, path or "body")
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                top = (path or "").split(".")[0].split("[")[0] if root is None else root
                raise too_deep(top or None)
            if isinstance(item, dict):
                for key, child in item.items():
                    name = f"{path}.{_escaped(str(key))}" if path else _escaped(str(key))
                    if isinstance(key, str):
                        check_text(key, name)
                    stack.append((child, name, depth + 1))
            else:
                stack.extend((child, f"{path or ''}[{i}]", depth + 1) for i, child in enumerate(item))


def load_json(data: bytes | str, root: str | None = None) -> Any:
    """json.loads, checked by check_tree. A nesting too deep even to parse is a 400 too (not a RecursionError).

    ValueError (not JSON at all) passes to the caller, which answers as it always has.
    """
    try:
        value = json.loads(data)
    except RecursionError:
        raise too_deep(root or _deep_field(data)) from None
    if may_be_hostile(data):
        check_tree(value, root)
    return value


_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")  # how a NUL or a surrogate gets into JSON text


def may_be_hostile(data: bytes | str) -> bool:
    """Whether JSON text needs check_tree: it has more brackets than MAX_DEPTH, or a \\u escape of a NUL or a
    surrogate (in UTF-8 JSON, the only way to either). Two counts and a search, all in C: the usual body
    is never walked."""
    if isinstance(data, str):
        if BAD_TEXT.search(data):
            return True
        data = data.encode("utf-8", "surrogatepass")
    return (data.count(b"[") + data.count(b"{") > MAX_DEPTH or _RISKY_ESCAPE.search(data) is not None
            or b"\x00" in data[:4])  # UTF-16 or UTF-32 JSON: escapes look different; check it all


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _deep_field(data: bytes | str, budget: int = 200_000) -> str | None:
    """The top-level field of a JSON object that nests too deep, by a bounded scan (None if not found)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    depth, key, in_object = 0, None, text.lstrip().startswith("{")
    for n, m in enumerate(_TOKENS.finditer(text)):
        token = m[0]
        if n > budget:
            return None
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return key
        elif token in "]}":
            depth -= 1
        elif depth == 1 and in_object:
            try:
                key = _escaped(json.loads(token))
            except ValueError:
                key = None
    return None


# ----------------------------------------------------------------------------
# The middleware

def _is_json(content_type: str) -> bool:
    """As FastAPI decides: no Content-Type, application/json or application/*+json is parsed as JSON."""
    ctype = content_type.split(";")[0].strip().lower()
    return not ctype or ctype == "application/json" or (ctype.startswith("application/") and ctype.endswith("+json"))


def check_headers(headers: list[tuple[bytes, bytes]]) -> None:
    for raw_name, value in headers:
        name = raw_name.lower()
        if name == b"idempotency-key":
            if len(value) > MAX_IDEMPOTENCY_KEY:
                raise ServiceError(400, f"Idempotency-Key is longer than {MAX_IDEMPOTENCY_KEY} characters",
                                   param="Idempotency-Key", code="invalid_value")
            if any(b < 0x20 or b == 0x7F for b in value):
                raise ServiceError(400, "Idempotency-Key contains control characters", param="Idempotency-Key",
                                   code="invalid_value")
        elif name == b"x-forwarded-for" and len(value) > MAX_FORWARDED_FOR:
            raise ServiceError(400, f"X-Forwarded-For is longer than {MAX_FORWARDED_FOR} characters",
                               param="X-Forwarded-For", code="invalid_value")
        elif b"\x00" in value:
            header = raw_name.decode("latin-1")
            raise ServiceError(400, f"the {header} header contains a NUL character", param=header,
                               code="invalid_value")


def check_query(query_string: bytes) -> None:
    if b"%00" not in query_string and b"\x00" not in query_string:
        return  # the only way to a NUL; surrogates cannot arrive (Starlette decodes with replacement)
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        check_text(key, _escaped(key))
        check_text(value, _escaped(key))


class Guard:
    """Refuses hostile headers, query strings and JSON bodies before any route or the database sees them.

    It sits inside BodyLimit, so the body it buffers (JSON only; multipart is checked
    after parsing, in read_fields) is already bounded; the app then reads the same bytes.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        try:
            check_headers(scope["headers"])
            check_query(scope.get("query_string", b""))
            if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
                content_type = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"content-type"),
                                    "")
                if _is_json(content_type):
                    body, receive = await _buffer(receive)
                    if body.strip() and may_be_hostile(body):  # then parse and walk it, off the event loop
                        try:
                            await run_in_threadpool(load_json, body)
                        except ValueError:
                            pass  # not JSON: the route answers as it always has (400 invalid_json, or 415)
        except ServiceError as exc:
            return await JSONResponse(exc.envelope(), exc.status)(scope, receive, send)
        await self.app(scope, receive, send)


async def _buffer(receive):
    """The whole request body, and a receive() that replays it and then passes on (disconnects)."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b"", _replay([message], receive)
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    return body, _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replay(messages: list, receive):
    async def replay():
        return messages.pop(0) if messages else await receive()
    return replay


# ----------------------------------------------------------------------------
# Security headers

NOSNIFF = (b"x-content-type-options", b"nosniff")
HTML_DEFAULT_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
HTML_HEADERS = [(b"content-security-policy", HTML_DEFAULT_CSP.encode()), (b"x-frame-options", b"DENY"),
                (b"referrer-policy", b"no-referrer")]


class SecurityHeaders:
    """`X-Content-Type-Options: nosniff` on every response; on HTML, a strict CSP (unless the page sets its
    own), `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                extra = [NOSNIFF]
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.lower().startswith(b"text/html"):
                    extra += HTML_HEADERS
                headers += [(k, v) for k, v in extra if k not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
