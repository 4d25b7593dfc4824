"""OpenReel's optional request fields, parsed: the SDK ignores them, multipart sends them as strings."""

from __future__ import annotations

from typing import Any

from .errors import bad

CASTS = {"seed": int, "steps": int, "guidance": float, "fps": int, "strength": float}


def parse_extras(fields: dict) -> dict[str, Any]:
    """seed, steps, guidance, fps, strength and negative_prompt as given, typed; a field that does not
    parse is a 400 naming it. Whether a value is allowed is the request's check, not this."""
    out: dict[str, Any] = {}
    for name, cast in CASTS.items():
        value = fields.get(name)
        if value in (None, ""):
            continue
        try:
            if isinstance(value, bool):
                raise ValueError
            out[name] = cast(value)
            if cast is int and str(value).strip() != str(out[name]) and not isinstance(value, int):
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise bad(name, f"{name} must be {'an integer' if cast is int else 'a number'}, got {value!r}") from None
    negative = fields.get("negative_prompt")
    if negative not in (None, ""):
        out["negative_prompt"] = negative
    return out
