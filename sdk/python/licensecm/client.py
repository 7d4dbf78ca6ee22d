"""LicenseCM: activate, validate, keep alive and deactivate a license from your application."""

from __future__ import annotations

import http.client
import json
import logging
import platform
import secrets
import sys
import threading
import urllib.parse
from datetime import datetime, timezone
from typing import Any, Callable, Dict, NoReturn, Optional, Tuple, Union

from licensecm.errors import LicenseCMError
from licensecm.hwid import get_hwid
from licensecm.protocol import (
    EnvelopeError,
    PublicKey,
    challenge_response,
    check_answer,
    key_id,
    load_public_key,
    open_envelope,
    seal_envelope,
    verify_answer_signature,
)
from licensecm.transport import Transport, urllib_transport

log = logging.getLogger("licensecm")

__version__ = "0.1.0"

#: Heartbeat refusals after which the session cannot continue: `on_session_expired` is called.
SESSION_ENDING_CODES = frozenset({
    "SESSION_EXPIRED", "LICENSE_SUSPENDED", "LICENSE_EXPIRED", "LICENSE_NOT_FOUND", "HWID_MISMATCH",
    "PRODUCT_NOT_FOUND", "BLACKLISTED", "SECURITY_VIOLATION",
})
#: After a transient heartbeat failure (network, 5xx) the thread retries after at most this many seconds.
HEARTBEAT_RETRY_SECONDS = 30.0


class LicenseCM:
    """A client of the KeyLedger / LicenseCM client API.

    Every successful answer is checked before it is returned: its signature against the
    product's public key (pinned, if you pin it), its key id, the nonce this call sent, and
    its server time within `max_clock_skew` seconds of the local clock. Any failure calls
    `on_security_violation(details)` and raises `LicenseCMError` with code
    ``SECURITY_VIOLATION``, so the application fails closed.
    """

    def __init__(
        self,
        base_url: str,
        product_id: str,
        secret_key: Optional[str] = None,
        use_encryption: bool = False,
        auto_heartbeat: bool = True,
        heartbeat_interval: float = 300,
        on_session_expired: Optional[Callable[[], Any]] = None,
        on_security_violation: Optional[Callable[[Dict[str, Any]], Any]] = None,
        *,
        timeout: float = 10.0,
        pinned_public_key: Optional[Union[str, bytes]] = None,
        pinned_key_id: Optional[str] = None,
        hwid: Optional[str] = None,
        max_clock_skew: float = 300.0,
        transport: Optional[Transport] = None,
    ) -> None:
        self.api_url = _api_url(base_url)
        self.product_id = str(product_id)
        self.secret_key = secret_key
        self.use_encryption = bool(use_encryption)
        if self.use_encryption and not secret_key:
            raise ValueError("use_encryption=True needs the product's secret_key")
        self.auto_heartbeat = bool(auto_heartbeat)
        if heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be positive (seconds)")
        self.heartbeat_interval = float(heartbeat_interval)
        self.on_session_expired = on_session_expired
        self.on_security_violation = on_security_violation
        self.timeout = float(timeout)
        self.max_clock_skew = float(max_clock_skew)
        self.hwid = hwid or get_hwid()
        self._transport: Transport = transport or urllib_transport
        self._pinned_key: Optional[PublicKey] = None
        self._pinned_key_id = pinned_key_id.lower() if pinned_key_id else None
        if pinned_public_key is not None:
            self._pinned_key = load_public_key(pinned_public_key)  # a bad pin is a programming error: raise now
            pinned_id = key_id(self._pinned_key)
            if self._pinned_key_id and self._pinned_key_id != pinned_id:
                raise ValueError("pinned_key_id does not belong to pinned_public_key")
            self._pinned_key_id = pinned_id

        self._lock = threading.RLock()  # guards the fields below
        self._beat_lock = threading.Lock()  # one heartbeat at a time: each one rotates the token
        self._public_key: Optional[PublicKey] = None
        self._public_key_pem: Optional[str] = None
        self._key_id: Optional[str] = None
        self._license_key: Optional[str] = None
        self._session_token: Optional[str] = None
        self._session_expires_at: Optional[str] = None
        self._session_end_reported = False
        self._thread: Optional[threading.Thread] = None
        self._thread_stop: Optional[threading.Event] = None

    # --- state -----------------------------------------------------------------------------

    @property
    def session_token(self) -> Optional[str]:
        """The current session token (rotated by every heartbeat), or None without a session."""
        with self._lock:
            return self._session_token

    @property
    def session_expires_at(self) -> Optional[str]:
        with self._lock:
            return self._session_expires_at

    @property
    def license_key(self) -> Optional[str]:
        """The key of the last successful activation."""
        with self._lock:
            return self._license_key

    @property
    def public_key_id(self) -> Optional[str]:
        """The id of the key answers must be signed with, once `initialize()` ran."""
        with self._lock:
            return self._key_id

    @property
    def public_key_pem(self) -> Optional[str]:
        with self._lock:
            return self._public_key_pem

    @property
    def heartbeat_running(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    # --- the API ---------------------------------------------------------------------------

    def initialize(self) -> Dict[str, Any]:
        """Fetch the product's public key and check it against the pin (if any).

        Returns ``{"key_id", "algorithm", "public_key"}``. Called by the first request
        automatically when you don't call it yourself.
        """
        query = urllib.parse.urlencode({"product_id": self.product_id})
        status, answer = self._exchange("public-key", "GET", f"/client/public-key?{query}", None)
        data = answer.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("public_key"), str):
            raise LicenseCMError("The public key answer has no key", "INVALID_RESPONSE", status, {"answer": answer})
        try:
            public_key = load_public_key(data["public_key"])
        except ValueError as error:
            self._violation("public-key", f"unusable public key: {error}")
        fetched_id = key_id(public_key)
        if data.get("key_id") != fetched_id:
            self._violation("public-key", "the served key_id does not match the served key",
                            served_key_id=data.get("key_id"), computed_key_id=fetched_id)
        if self._pinned_key_id is not None and fetched_id != self._pinned_key_id:
            self._violation("public-key", "the server's public key is not the pinned key",
                            pinned_key_id=self._pinned_key_id, served_key_id=fetched_id)
        with self._lock:
            self._public_key = self._pinned_key or public_key
            self._public_key_pem = data["public_key"]
            self._key_id = fetched_id
        return {"key_id": fetched_id, "algorithm": data.get("algorithm"), "public_key": data["public_key"]}

    def activate(self, license_key: str, client_data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Bind this device to the license and open a session; starts the heartbeat thread.

        Returns the verified answer ``data`` (``activated``, ``session``, ``license``,
        ``watermark``, ...). Raises LicenseCMError on refusal (``HWID_MISMATCH``,
        ``MAX_USES_EXCEEDED``, ``LICENSE_EXPIRED``, ...).
        """
        fields = {"license_key": license_key, "hwid": self.hwid, "client_data": self._client_data(client_data)}
        data = self._signed_call("activate", fields)
        session = data.get("session")
        if data.get("activated") is not True or not isinstance(session, dict) or \
                not isinstance(session.get("token"), str):
            raise LicenseCMError("The activation answer has no session", "INVALID_RESPONSE", details={"data": data})
        with self._lock:
            self._license_key = license_key
            self._session_token = session["token"]
            self._session_expires_at = session.get("expires_at")
            self._session_end_reported = False
        if self.auto_heartbeat:
            self._start_heartbeat()
        return data

    def validate(self, license_key: Optional[str] = None,
                 client_data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Check the license for this device; defaults to the activated key. Returns the verified data."""
        key = self._key_or_activated(license_key)
        data = self._signed_call("validate", {"license_key": key, "hwid": self.hwid,
                                              "client_data": self._client_data(client_data)})
        if data.get("valid") is not True:
            raise LicenseCMError("The license is not valid", "INVALID_RESPONSE", details={"data": data})
        return data

    def heartbeat(self) -> Dict[str, Any]:
        """Keep the session alive and take the rotated token.

        A refusal that ends the session (see SESSION_ENDING_CODES) clears it, stops the
        heartbeat thread and calls `on_session_expired()` once, then raises.
        """
        session_over = False
        try:
            with self._beat_lock:
                with self._lock:
                    token, key = self._session_token, self._license_key
                if token is None or key is None:
                    raise LicenseCMError("No active session: call activate() first", "NOT_ACTIVATED")
                try:
                    data = self._signed_call("heartbeat", {"license_key": key, "hwid": self.hwid,
                                                           "session_token": token})
                except LicenseCMError as error:
                    if error.code in SESSION_ENDING_CODES:
                        session_over = self._end_session(token)
                    raise
                new_token = data.get("new_token")
                if data.get("valid") is not True or not isinstance(new_token, str) or not new_token:
                    raise LicenseCMError("The heartbeat answer has no new token", "INVALID_RESPONSE",
                                         details={"data": data})
                with self._lock:
                    if self._session_token == token:  # not ended or replaced meanwhile
                        self._session_token = new_token
                        self._session_expires_at = data.get("expires_at", self._session_expires_at)
                return data
        finally:
            if session_over:  # outside the lock: the callback may call back into the client
                self._notify_session_expired()

    def deactivate(self, license_key: Optional[str] = None) -> Dict[str, Any]:
        """Free this device's seat and end the session (stops the heartbeat thread)."""
        key = self._key_or_activated(license_key)
        ours = key == self.license_key
        if ours:
            self._stop_heartbeat()  # before the call: a heartbeat must not race the deactivation
        try:
            data = self._signed_call("deactivate", {"license_key": key, "hwid": self.hwid})
        except LicenseCMError:
            if ours and self.session_token is not None and self.auto_heartbeat:
                self._start_heartbeat()  # the session lives on: keep it alive
            raise
        if data.get("deactivated") is not True:
            raise LicenseCMError("The deactivation answer is not a deactivation", "INVALID_RESPONSE",
                                 details={"data": data})
        with self._lock:
            if ours and key == self._license_key:
                self._session_token = None
                self._session_expires_at = None
                self._session_end_reported = True  # ended on purpose: no on_session_expired
        return data

    def challenge(self, license_key: Optional[str] = None) -> Dict[str, Any]:
        """Validate by challenge-response, proving this client holds the product secret."""
        if not self.secret_key:
            raise ValueError("challenge() needs the product's secret_key")
        key = self._key_or_activated(license_key)
        fields = {"license_key": key, "hwid": self.hwid}
        self._ensure_initialized()
        _, issued = self._exchange("challenge", "POST", "/client/challenge",
                                   {**fields, "product_id": self.product_id})
        value = issued.get("data", {}).get("challenge") if isinstance(issued.get("data"), dict) else None
        if not isinstance(value, str):
            raise LicenseCMError("The challenge answer has no challenge", "INVALID_RESPONSE", details=issued)
        response = challenge_response(self.secret_key, value, key, self.hwid)
        data = self._signed_call("challenge", {**fields, "challenge": value, "response": response})
        if data.get("valid") is not True:
            raise LicenseCMError("The license is not valid", "INVALID_RESPONSE", details={"data": data})
        return data

    def close(self) -> None:
        """Stop the heartbeat thread. The seat stays taken: call `deactivate()` to free it."""
        self._stop_heartbeat()

    def __enter__(self) -> "LicenseCM":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # --- requests and checks ---------------------------------------------------------------

    def _ensure_initialized(self) -> None:
        with self._lock:
            ready = self._public_key is not None
        if not ready:
            self.initialize()

    def _signed_call(self, action: str, fields: Dict[str, Any]) -> Dict[str, Any]:
        """POST /client/<action> with a fresh nonce; the answer's data once every check passed."""
        self._ensure_initialized()
        nonce = secrets.token_hex(16)
        body = {name: value for name, value in fields.items() if value is not None}
        body.update(product_id=self.product_id, nonce=nonce)
        _, answer = self._exchange(action, "POST", f"/client/{action}", body)
        data = answer.get("data")
        with self._lock:
            public_key, expected_id = self._public_key, self._key_id
        reason = check_answer(public_key, expected_id or "", data, nonce=nonce,  # type: ignore[arg-type]
                              now=datetime.now(timezone.utc), max_skew_seconds=self.max_clock_skew, request=body)
        if reason is not None:
            self._violation(action, reason)
        return data  # type: ignore[return-value]

    def _exchange(self, action: str, method: str, path: str,
                  body: Optional[Dict[str, Any]]) -> Tuple[int, Dict[str, Any]]:
        """Send a request (sealed when encryption is on) and return the (opened) successful answer.

        Refusals raise LicenseCMError with the server's error_code and the HTTP status.
        """
        sealed = self.use_encryption and body is not None
        payload = None
        if body is not None:
            wire = seal_envelope(self.secret_key or "", self.product_id, body) if sealed else body
            payload = json.dumps(wire, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = {"Accept": "application/json", "User-Agent": f"licensecm-python/{__version__}"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            status, raw = self._transport(method, self.api_url + path, payload, headers, self.timeout)
        except LicenseCMError:
            raise
        except (OSError, http.client.HTTPException, ValueError) as error:  # URLError, timeouts, resets
            raise LicenseCMError(f"No answer from the license server: {error}", "NETWORK_ERROR",
                                 details={"action": action, "error": repr(error)}) from error
        try:
            answer = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise LicenseCMError(f"The license server's answer is not JSON (HTTP {status})", "INVALID_RESPONSE",
                                 status, {"action": action, "body": raw[:500].decode("utf-8", "replace")}) from None
        if sealed:
            answer = self._open(action, answer)
        if not isinstance(answer, dict):
            raise LicenseCMError(f"Unexpected answer (HTTP {status})", "INVALID_RESPONSE", status,
                                 {"action": action, "answer": answer})
        if answer.get("success") is not True:
            self._refused(action, status, answer)
        return status, answer

    def _open(self, action: str, answer: Any) -> Any:
        if isinstance(answer, dict) and answer.get("encrypted") is True:
            if str(answer.get("product_id", "")).lower() != self.product_id.lower():
                self._violation(action, "the encrypted answer is for another product")
            try:
                return open_envelope(self.secret_key or "", answer, max_skew_ms=int(self.max_clock_skew * 1000))
            except EnvelopeError as error:
                self._violation(action, f"the encrypted answer failed its checks: {error}")
        if isinstance(answer, dict) and answer.get("success") is False:
            # The server answers a refused envelope in plain JSON: it cannot know whether the
            # sender holds the secret. A refusal grants nothing, so it is safe to read.
            return answer
        self._violation(action, "an encrypted request got an unencrypted answer")

    def _refused(self, action: str, status: int, answer: Dict[str, Any]) -> None:
        code = answer.get("error_code") if isinstance(answer.get("error_code"), str) else "HTTP_ERROR"
        message = answer.get("message") if isinstance(answer.get("message"), str) else f"HTTP {status}"
        details = {**answer, "action": action}
        if code == "SECURITY_VIOLATION" or answer.get("security_blocked"):
            self._report({"source": "server", "action": action, "reason": message, "code": code,
                          "status": status, **({"security_details": answer["security_details"]}
                                               if "security_details" in answer else {})})
        raise LicenseCMError(message, code, status, details)

    def _violation(self, action: str, reason: str, **extra: Any) -> NoReturn:
        details = {"source": "client", "action": action, "reason": reason, **extra}
        log.warning("licensecm security violation on %s: %s", action, reason)
        self._report(details)
        raise LicenseCMError(f"Security violation: {reason}", "SECURITY_VIOLATION", None, details)

    def _report(self, details: Dict[str, Any]) -> None:
        if self.on_security_violation is None:
            return
        try:
            self.on_security_violation(details)
        except Exception:  # the callback's own failure must not hide the violation
            log.exception("on_security_violation raised")

    def _key_or_activated(self, license_key: Optional[str]) -> str:
        key = license_key or self.license_key
        if not key:
            raise LicenseCMError("No license key: pass one or call activate() first", "NOT_ACTIVATED")
        return key

    @staticmethod
    def _client_data(extra: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        data: Dict[str, Any] = {"platform": sys.platform[:100], "os_version": platform.release()[:100],
                                "vm_indicators": [], "debug_indicators": []}
        data.update(extra or {})
        return data

    # --- the session and the heartbeat thread ----------------------------------------------

    def _end_session(self, token: str) -> bool:
        """Forget the session `token` and stop its heartbeat; True if `on_session_expired` is now due."""
        with self._lock:
            if self._session_token not in (token, None):
                return False  # a newer activation replaced this session: it is not over
            self._session_token = None
            self._session_expires_at = None
            due = not self._session_end_reported
            self._session_end_reported = True
            stop = self._thread_stop
        if stop is not None:
            stop.set()
        return due

    def _notify_session_expired(self) -> None:
        if self.on_session_expired is None:
            return
        try:
            self.on_session_expired()
        except Exception:
            log.exception("on_session_expired raised")

    def _start_heartbeat(self) -> None:
        self._stop_heartbeat()
        stop = threading.Event()
        thread = threading.Thread(target=self._heartbeat_loop, args=(stop,), name="licensecm-heartbeat",
                                  daemon=True)
        with self._lock:
            self._thread, self._thread_stop = thread, stop
        thread.start()

    def _stop_heartbeat(self) -> None:
        with self._lock:
            thread, stop = self._thread, self._thread_stop
            self._thread = self._thread_stop = None
        if stop is not None:
            stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout + 1)

    def _heartbeat_loop(self, stop: threading.Event) -> None:
        delay = self.heartbeat_interval
        while not stop.wait(delay):
            try:
                self.heartbeat()
                delay = self.heartbeat_interval
            except LicenseCMError as error:
                if error.code in SESSION_ENDING_CODES or error.code == "NOT_ACTIVATED":
                    return
                log.warning("licensecm heartbeat failed, retrying: %s", error)
                delay = min(self.heartbeat_interval, HEARTBEAT_RETRY_SECONDS)
            except Exception:
                log.exception("licensecm heartbeat failed unexpectedly, retrying")
                delay = min(self.heartbeat_interval, HEARTBEAT_RETRY_SECONDS)


def _api_url(base_url: str) -> str:
    """``http://host:port``, ``http://host:port/`` and ``http://host:port/api`` all mean ``.../api``."""
    url = base_url.strip().rstrip("/")
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
    return url if url.endswith("/api") else url + "/api"

