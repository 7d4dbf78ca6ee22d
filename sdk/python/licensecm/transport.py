"""HTTP with nothing but the standard library.

A transport is any callable ``(method, url, body, headers, timeout) -> (status, body)``
where both bodies are bytes (the request body is None for GET). It returns error
statuses (4xx, 5xx) like any other answer and raises OSError when there is no answer.
Pass your own as ``LicenseCM(..., transport=...)`` to use another HTTP library, a proxy
setup or a test double.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Callable, Dict, Optional, Tuple

Transport = Callable[[str, str, Optional[bytes], Dict[str, str], float], Tuple[int, bytes]]

MAX_ANSWER_BYTES = 1_000_000


def urllib_transport(method: str, url: str, body: Optional[bytes], headers: Dict[str, str],
                     timeout: float) -> Tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only, checked by the client
            return response.status, response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(MAX_ANSWER_BYTES)
