"""JSON bodies only.

A body is refused (415 UNSUPPORTED_MEDIA_TYPE) unless its Content-Type is `application/json` or
`application/*+json`, parameters (`; charset=utf-8`) allowed: a web page may post a form or
`text/plain` anywhere without a CORS preflight, but not JSON, so a route that reads only JSON
cannot be driven by a page the user happens to visit.
"""

from typing import Any

from litestar.exceptions import HTTPException

JSON = b"application/json"


def is_json(content_type: bytes) -> bool:
    """`application/json` or `application/*+json`, with or without parameters, in any case."""
    if content_type == JSON:  # what the SDKs send: the whole check
        return True
    media_type = content_type.partition(b";")[0].strip().lower()
    return media_type == JSON or (media_type.startswith(b"application/") and media_type.endswith(b"+json"))


def has_json_body_type(headers: Any) -> bool:
    """Whether the ASGI scope's headers declare a JSON body: a scan of the raw pairs, with no header object
    built (api/direct.py asks this on every validation)."""
    for name, value in headers:
        if name == b"content-type":
            return is_json(value)
    return False


def require_json_body(scope: Any) -> None:
    """Refuse a body that is not declared as JSON (api/requests.py asks, before any route reads one)."""
    if not has_json_body_type(scope["headers"]):
        raise HTTPException(status_code=415, detail="The body must be JSON (Content-Type: application/json)")
