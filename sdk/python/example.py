"""The conformance example: `python example.py STEP...`, one JSON line per step (sdk/conformance/README.md).

    BASE_URL=http://127.0.0.1:47293 PRODUCT_ID=... SECRET_KEY=sk_live_... LICENSE_KEY=XXXX-... \
        python sdk/python/example.py initialize activate validate heartbeat deactivate
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict

sys.path.insert(0, str(Path(__file__).resolve().parent))

from licensecm import LicenseCM, LicenseCMError, get_hwid  # noqa: E402


def emit(line: Dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


def fingerprint(token: Any) -> Any:
    """Session tokens are credentials: print only enough of their hash to see them change."""
    return hashlib.sha256(token.encode()).hexdigest()[:12] if isinstance(token, str) else None


def make_client(expired: threading.Event) -> LicenseCM:
    env = os.environ
    interval_ms = int(env.get("HEARTBEAT_INTERVAL_MS") or 0)

    def on_session_expired() -> None:
        emit({"event": "session_expired"})
        expired.set()

    def on_security_violation(details: Dict[str, Any]) -> None:
        emit({"event": "security_violation", "source": details.get("source"), "action": details.get("action")})

    return LicenseCM(
        base_url=env["BASE_URL"], product_id=env["PRODUCT_ID"], secret_key=env.get("SECRET_KEY") or None,
        use_encryption=env.get("USE_ENCRYPTION") == "1", auto_heartbeat=interval_ms > 0,
        heartbeat_interval=(interval_ms or 300_000) / 1000, on_session_expired=on_session_expired,
        on_security_violation=on_security_violation, pinned_key_id=env.get("PINNED_KEY_ID") or None,
        pinned_public_key=env.get("PINNED_PUBLIC_KEY") or None, hwid=env.get("HWID") or None)


def steps(client: LicenseCM, expired: threading.Event) -> Dict[str, Callable[[], Dict[str, Any]]]:
    license_key = os.environ.get("LICENSE_KEY", "")
    wait_ms = int(os.environ.get("WAIT_MS") or 10_000)

    def initialize() -> Dict[str, Any]:
        key = client.initialize()
        return {"key_id": key["key_id"], "algorithm": key["algorithm"]}

    def wait_expired() -> Dict[str, Any]:
        if not expired.wait(wait_ms / 1000):
            raise LicenseCMError("on_session_expired was not called", "TIMEOUT")
        return {}

    return {
        "initialize": initialize,
        "activate": lambda: {"token": fingerprint(client.activate(license_key)["session"]["token"])},
        "validate": lambda: {"watermark": client.validate(license_key)["watermark"]},
        "heartbeat": lambda: {"token": fingerprint(client.heartbeat()["new_token"])},
        "challenge": lambda: {"valid": client.challenge(license_key)["valid"]},
        "deactivate": lambda: {"deactivated": client.deactivate(license_key)["deactivated"]},
        "hwid": lambda: {"hwid": get_hwid()},
        "wait-expired": wait_expired,
    }


def main(argv: list[str]) -> int:
    expired = threading.Event()
    client = make_client(expired)
    table = steps(client, expired)
    for step in argv:
        run = table.get(step)
        if run is None:
            emit({"step": step, "ok": False, "code": "UNKNOWN_STEP"})
            continue
        try:
            emit({"step": step, "ok": True, **run()})
        except LicenseCMError as error:
            emit({"step": step, "ok": False, "code": error.code, "status": error.status, "message": str(error)})
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
