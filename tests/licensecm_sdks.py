"""The published LicenseCM SDKs (github.com/cmappseu/LicenseCM-SDK, 13 languages) as they behave on the wire,
emulated here from reading them: what each sends (body, `client_data`, headers, envelope with its own AES key
and nonce) and how each reads an answer (opening it, checking its signature, taking the session token, parsing
`expires_at`, telling a refusal that ends the session). Nothing of the SDKs is used or copied: every line is
ours, written to reproduce the behaviour documented in docs/migrating-from-licensecm.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class SdkError(Exception):
    """What the SDK raises to its application: a refusal's `message`, or its own failure."""


def _compact(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _sorted(body: Any) -> bytes:  # Go's and Rust's maps, nlohmann's objects: keys sorted, `<>&` escaped by Go
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def _python(body: Any) -> bytes:  # json.dumps with its default separators, ASCII-escaped
    return json.dumps(body).encode()


def _php(body: Any) -> bytes:  # json_encode escapes "/" and non-ASCII
    return json.dumps(body, separators=(",", ":")).replace("/", "\\/").encode()


ISO_WHOLE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ISO_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _lenient(text: Any) -> bool:  # new Date(), DateTime.Parse, new \DateTime, ISO8601ToDate
    return isinstance(text, str) and datetime.fromisoformat(text.replace("Z", "+00:00")) is not None


def _string(text: Any) -> bool:  # Rust, Lua, C++ keep it as a string (C++ throws on anything else)
    return isinstance(text, str)


@dataclass(frozen=True)
class Sdk:
    """One SDK's wire behaviour."""

    name: str
    encode: Callable[[Any], bytes]
    headers: dict[str, str]
    client_data: Callable[[str, int], dict[str, Any]]
    expires_at_ok: Callable[[Any], bool]
    iv_sent: int | None = 16
    """None: cannot send an envelope (never encrypts, or throws first)."""
    nonce_bytes: int | None = None
    """The nonce its AES-GCM uses: None, the iv as sent; 12, its first 12 bytes (Go)."""
    key_padding: bytes = b"\0"
    opens: str | None = "any"
    """Sealed answers: "any" iv, "first12" (Go, Rust: its first 12 bytes), None (never opens)."""
    verifies: str | None = None
    """Whose signature check it runs: "node" (JSON.stringify) or "python" (json.dumps); None: none."""
    chunked: bool = False
    case_sensitive_sniff: bool = False
    drops_token_without_new_token: bool = False
    automatic_heartbeat_without_token: bool = False
    reads_4xx_body_unopened: bool = False
    notes: tuple[str, ...] = field(default=())


def _common(hwid: str, now_ms: int) -> dict[str, Any]:
    return {"hwid": hwid, "timestamp": now_ms, "hostname": "build-host-7"}


SDKS: dict[str, Sdk] = {sdk.name: sdk for sdk in (
    Sdk("node", _compact, {"Content-Type": "application/json", "Connection": "keep-alive"},
        lambda hwid, now: {**_common(hwid, now), "platform": "linux", "os_version": "6.1.0-18-amd64",
                           "architecture": "x64", "uptime": 1684.06, "total_memory": 33_402_474_496,
                           "free_memory": 20_012_345_344, "cpu_model": "AMD EPYC 7B13", "cpu_cores": 2,
                           "env_indicators": {"node_env": "production", "debug_mode": False, "is_electron": False,
                                              "process_title": "node"},
                           "runtime": {"node_version": "v20.11.1", "pid": 4242, "ppid": 1,
                                       "exec_path": "/usr/bin/node"},
                           "vm_indicators": [], "debug_indicators": []},
        _lenient, verifies="node", chunked=True, case_sensitive_sniff=True),
    Sdk("python", _python, {"Content-Type": "application/json", "User-Agent": "Python-urllib/3.11",
                            "Accept-Encoding": "identity", "Connection": "close"},
        lambda hwid, now: {**_common(hwid, now), "platform": "Linux", "os_version": "6.1.0-18-amd64",
                           "architecture": "x86_64", "python_version": "3.11.2", "cpu_count": None,
                           "env_indicators": {"debug_mode": False, "pythondontwritebytecode": False,
                                              "virtual_env": True},
                           "vm_indicators": [], "debug_indicators": []},
        lambda text: isinstance(text, str) and datetime.fromisoformat(text.replace("Z", "+00:00")) is not None,
        verifies="python", reads_4xx_body_unopened=True),
    Sdk("csharp", _compact, {"Content-Type": "application/json; charset=utf-8"},
        lambda hwid, now: {**_common(hwid, now), "platform": "Unix", "os_version": "Unix 6.1.0.18",
                           "architecture": "X64", "dotnet_version": "8.0.2", "cpu_count": 2,
                           "env_indicators": {"debug_mode": False, "is_64bit_process": True, "is_64bit_os": True},
                           "vm_indicators": [], "debug_indicators": []},
        _lenient, iv_sent=None, key_padding=b" ", opens=None,
        notes=("its AesGcm takes only 12-byte nonces and it passes 16: no envelope is ever sent",)),
    Sdk("go", _sorted, {"Content-Type": "application/json", "User-Agent": "Go-http-client/1.1",
                        "Accept-Encoding": "gzip"},
        lambda hwid, now: {**_common(hwid, now), "platform": "linux", "architecture": "amd64", "go_version":
                           "go1.19.8", "cpu_count": 2, "env_indicators": {"debug_mode": False, "go_debug": False,
                                                                          "num_goroutines": 3},
                           "vm_indicators": None, "debug_indicators": None},
        lambda text: isinstance(text, str) and RFC3339.match(text) is not None, nonce_bytes=12, opens="first12"),
    Sdk("java", _compact, {"Content-Type": "application/json", "User-Agent": "Java/17.0.15",
                           "Accept": "text/html, image/gif, image/jpeg, */*; q=0.2", "Connection": "keep-alive"},
        lambda hwid, now: {**_common(hwid, now), "platform": "Linux", "os_version": "6.1.0-18-amd64",
                           "architecture": "amd64", "java_version": "17.0.15", "cpu_count": 2,
                           "env_indicators": {"debug_mode": False, "java_debug": False},
                           "vm_indicators": [], "debug_indicators": []},
        lambda text: isinstance(text, str) and ISO_INSTANT.match(text) is not None, reads_4xx_body_unopened=True),
    Sdk("kotlin", _compact, {"Content-Type": "application/json"},
        lambda hwid, now: {**_common(hwid, now), "platform": "Linux", "osVersion": "6.1.0-18-amd64",
                           "architecture": "amd64", "kotlinVersion": "1.9.22",
                           "envIndicators": {"debug_mode": False}, "vmIndicators": [], "debugIndicators": []},
        lambda text: isinstance(text, str) and ISO_INSTANT.match(text) is not None, opens=None,
        notes=("its body (a Map<String, Any?>) has no serializer: it sends nothing at all; emulated as it would "
               "send once that is fixed",)),
    Sdk("swift", _compact, {"Content-Type": "application/json", "User-Agent": "App/1 CFNetwork/1494 Darwin/23.4.0"},
        lambda hwid, now: {**_common(hwid, now), "platform": "macOS", "osVersion": "14.4.1",
                           "architecture": "arm64", "swiftVersion": "5.9", "envIndicators": {"debug_mode": False},
                           "vmIndicators": [], "debugIndicators": []},
        lambda text: isinstance(text, str) and ISO_WHOLE.match(text) is not None, iv_sent=None, opens=None),
    Sdk("rust", _sorted, {"Content-Type": "application/json", "Accept": "*/*"},
        lambda hwid, now: {**_common(hwid, now), "platform": "linux", "architecture": "x86_64",
                           "rust_version": "1.70", "env_indicators": {"debug_mode": False, "rust_backtrace": True},
                           "vm_indicators": [], "debug_indicators": ["env_rust_backtrace"]},
        _string, iv_sent=12, opens="first12", automatic_heartbeat_without_token=True),
    Sdk("ruby", _compact, {"Content-Type": "application/json", "User-Agent": "Ruby", "Accept": "*/*",
                           "Connection": "close"},
        lambda hwid, now: {**_common(hwid, now), "platform": "x86_64-linux", "os_version": "3.1.2",
                           "architecture": "x86_64-linux", "ruby_version": "3.1.2",
                           "env_indicators": {"debug_mode": False, "rails_env": None},
                           "vm_indicators": ["single_cpu"], "debug_indicators": []},
        _lenient, iv_sent=None, opens=None,
        notes=("its AES-GCM refuses the 16-byte iv it makes: no envelope is ever sent",
               "its activate raises NoMethodError on Time.parse unless the application requires 'time'")),
    Sdk("php", _php, {"Content-Type": "application/json", "Accept": "*/*"},
        lambda hwid, now: {**_common(hwid, now), "platform": "Linux", "os_version": "6.1.0-18-amd64",
                           "architecture": "x86_64", "php_version": "8.2.7",
                           "env_indicators": {"debug_mode": False, "display_errors": True},
                           "vm_indicators": [], "debug_indicators": []},
        _lenient),
    Sdk("lua", _compact, {"Content-Type": "application/json", "User-Agent": "LuaSocket 3.0.0",
                          "Connection": "close, TE", "TE": "trailers"},
        lambda hwid, now: {**_common(hwid, now // 1000 * 1000), "platform": "Unix", "lua_version": "Lua 5.3",
                           "env_indicators": {"debug_mode": False}, "vm_indicators": {}, "debug_indicators": {}},
        _string, iv_sent=None, opens=None),
    Sdk("cpp", _sorted, {"Content-Type": "application/json", "Accept": "*/*"},
        lambda hwid, now: {**_common(hwid, now), "platform": "Linux", "cpp_version": 201703,
                           "env_indicators": {"debug_mode": False}, "vm_indicators": [], "debug_indicators": []},
        _string, iv_sent=None, opens=None),
    Sdk("delphi", _compact, {"Content-Type": "application/json", "User-Agent": "Embarcadero URI Client/1.0"},
        lambda hwid, now: {"hwid": hwid, "timestamp": now // 1000 * 1000, "platform": "Windows",
                           "os_version": "Windows 10 (Version 22H2, Build 19045.4170, 64-bit Edition)",
                           "architecture": "x64", "delphi_version": "36", "cpu_count": 8,
                           "env_indicators": {"debug_mode": False}, "vm_indicators": [], "debug_indicators": []},
        _lenient, iv_sent=None, opens=None, drops_token_without_new_token=True),
)}

ENCRYPTING = [name for name, sdk in SDKS.items() if sdk.iv_sent is not None]
"""node, python, go, java, kotlin (were it to send), rust, php."""


def hwid_of(name: str) -> str:
    """A lower-case hex SHA-256, as every SDK makes its HWID."""
    return hashlib.sha256(f"{name}|x64|build-host-7".encode()).hexdigest()


# --- requests -----------------------------------------------------------------------------------------


def request_body(sdk: Sdk, fields: dict[str, Any], product_id: str, token: str | None, now_ms: int) -> dict[str, Any]:
    """`{...fields, product_id, client_data[, session_token]}`: the body every SDK sends."""
    body = {**fields, "product_id": product_id, "client_data": sdk.client_data(fields["hwid"], now_ms)}
    if token:
        body["session_token"] = token
    return body


def aes_key(sdk: Sdk, secret: str) -> bytes:
    """The secret's first 32 bytes, padded (never its SHA-256)."""
    return secret.encode()[:32].ljust(32, sdk.key_padding)


def seal(sdk: Sdk, secret: str, product_id: str, plaintext: bytes, now_ms: int) -> dict[str, Any]:
    """The SDK's envelope: its own key and nonce, the HMAC keyed with the whole secret."""
    assert sdk.iv_sent is not None, f"{sdk.name} cannot encrypt"
    iv = os.urandom(sdk.iv_sent)
    sealed = AESGCM(aes_key(sdk, secret)).encrypt(iv[: sdk.nonce_bytes], plaintext, None)
    iv_hex, data, tag = iv.hex(), sealed[:-16].hex(), sealed[-16:].hex()
    signature = hmac.new(secret.encode(), f"{iv_hex}:{data}:{tag}:{now_ms}".encode(), hashlib.sha256).hexdigest()
    return {"encrypted": True, "iv": iv_hex, "data": data, "tag": tag, "signature": signature,
            "product_id": product_id, "timestamp": now_ms}


# --- answers ------------------------------------------------------------------------------------------


@dataclass
class Session:
    token: str | None = None
    expires_at: Any = None
    expires_at_ok: bool = False


def open_answer(sdk: Sdk, secret: str, answer: dict[str, Any], encrypted: bool) -> dict[str, Any]:
    """A sealed answer opened as the SDK opens it (no HMAC check: none of them checks one)."""
    if not (encrypted and answer.get("encrypted") is True):
        return answer  # every SDK that opens answers reads a plain one as it is
    if sdk.opens is None:
        raise SdkError(f"{sdk.name} cannot open a sealed answer")
    iv = bytes.fromhex(answer["iv"])
    nonce = iv[:12] if sdk.opens == "first12" else iv
    try:
        plaintext = AESGCM(aes_key(sdk, secret)).decrypt(nonce, bytes.fromhex(answer["data"] + answer["tag"]), None)
    except InvalidTag:
        raise SdkError(f"{sdk.name} cannot open the answer (iv of {len(iv)} bytes)") from None
    return json.loads(plaintext)


def node_stringify(value: Any) -> bytes:
    """JSON.stringify: compact, insertion order; `undefined` cannot be signed (crypto.Verify.update throws)."""
    if value is None:
        raise SdkError('TypeError: The "data" argument must be of type string or an instance of Buffer')
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def signature_holds(sdk: Sdk, data: dict[str, Any], public_pem: str) -> bool:
    """Node's and Python's check: RSA PKCS#1 v1.5, SHA-512, over their own JSON text of `data.data`."""
    if sdk.verifies == "node":
        message = node_stringify(data.get("data"))
    else:
        message = json.dumps(data.get("data", {})).encode()
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
        assert isinstance(key, rsa.RSAPublicKey)  # Python's RSA.import_key takes nothing else
        key.verify(base64.b64decode(data["signature"]), message, padding.PKCS1v15(), hashes.SHA512())
    except (InvalidSignature, ValueError, TypeError, AssertionError):
        return False
    return True


def read_answer(sdk: Sdk, answer: dict[str, Any], session: Session, public_pem: str | None) -> dict[str, Any]:
    """`data` of a success as the SDK hands it to its application, taking the session token on the way; a
    refusal raised with its `message`."""
    if answer.get("success") is not True:
        message = answer.get("message")
        if not isinstance(message, str) or not message:
            raise SdkError(f"{sdk.name} crashes on a refusal without a text message")
        if "security_blocked" in answer and not isinstance(answer["security_blocked"], bool):
            raise SdkError(f"{sdk.name} crashes on a non-boolean security_blocked")
        raise SdkError(message)
    data = answer.get("data")
    if not isinstance(data, dict):
        raise SdkError(f"{sdk.name} needs `data` to be an object")
    if sdk.verifies and data.get("signature") and public_pem and not signature_holds(sdk, data, public_pem):
        raise SdkError("Invalid server signature")
    _take_session(sdk, data, session)
    return data


def _take_session(sdk: Sdk, data: dict[str, Any], session: Session) -> None:
    new_token = data.get("new_token")
    if new_token is not None and not isinstance(new_token, str):
        raise SdkError(f"{sdk.name} crashes on a new_token that is not text")
    if new_token:
        session.token = new_token
    elif sdk.drops_token_without_new_token:
        session.token = None  # TryGetValue clears its `out` token when the key is absent
    if isinstance(data.get("session"), dict):
        token, expires_at = data["session"].get("token"), data["session"].get("expires_at")
        if not isinstance(token, str) or expires_at is None:
            raise SdkError(f"{sdk.name} crashes on a session without a text token and expiry")
        session.token, session.expires_at = token, expires_at
        session.expires_at_ok = sdk.expires_at_ok(expires_at)


def ends_session(sdk: Sdk, message: str) -> bool:
    """Whether a refused heartbeat with this message makes the SDK stop and report the session over."""
    text = message if sdk.case_sensitive_sniff else message.lower()
    return "expired" in text or "invalid" in text


def hwid_challenge_response(hwid: str, challenge: str) -> str:
    """Node's, Python's and C#'s answer to a challenge: HMAC-SHA256 keyed with the HWID."""
    return hmac.new(hwid.encode(), challenge.encode(), hashlib.sha256).hexdigest()


# --- the client ---------------------------------------------------------------------------------------

Post = Callable[[str, bytes, dict[str, str]], tuple[int, Any]]
"""Sends a body to a client route: (path, body bytes, headers) -> (HTTP status, decoded JSON answer)."""


class EmulatedSdk:
    """One SDK client as its application uses it: activate, validate, heartbeat, deactivate, challenge."""

    def __init__(self, sdk: Sdk, post: Post, product_id: str, secret: str, public_pem: str | None,
                 encrypted: bool, clock_ms: Callable[[], int]) -> None:
        self.sdk, self.post, self.product_id, self.secret = sdk, post, product_id, secret
        self.public_pem, self.encrypted, self.clock_ms = public_pem, encrypted, clock_ms
        self.hwid = hwid_of(sdk.name)
        self.session = Session()
        self.sent: list[dict[str, Any]] = []

    def call(self, endpoint: str, fields: dict[str, Any]) -> dict[str, Any]:
        body = request_body(self.sdk, {**fields, "hwid": self.hwid}, self.product_id, self.session.token,
                            self.clock_ms())
        return self.send(endpoint, body)

    def send(self, endpoint: str, body: dict[str, Any], encrypt: bool | None = None) -> dict[str, Any]:
        self.sent.append(body)
        payload = self.sdk.encode(body)
        if self.encrypted if encrypt is None else encrypt:
            payload = self.sdk.encode(seal(self.sdk, self.secret, self.product_id, payload, self.clock_ms()))
        status, answer = self.post(f"/api/client/{endpoint}", payload, self.sdk.headers)
        if self.sdk.reads_4xx_body_unopened and status >= 400 and self.sdk.name == "python":
            raise SdkError(answer.get("message") or f"HTTP Error {status}")  # urllib's HTTPError: never opened
        return read_answer(self.sdk, open_answer(self.sdk, self.secret, answer, self.encrypted), self.session,
                           self.public_pem)

    def activate(self, key: str) -> dict[str, Any]:
        return self.call("activate", {"license_key": key})

    def validate(self, key: str) -> dict[str, Any]:
        return self.call("validate", {"license_key": key})

    def heartbeat(self, key: str) -> dict[str, Any]:
        return self.call("heartbeat", {"license_key": key})

    def deactivate(self, key: str) -> dict[str, Any]:
        data = self.call("deactivate", {"license_key": key})
        self.session.token = None
        return data

    def verify_challenge(self, key: str, challenge: str) -> dict[str, Any]:
        return self.call("verify-challenge", {"license_key": key, "challenge": challenge,
                                              "response": hwid_challenge_response(self.hwid, challenge)})

    def automatic_heartbeat(self, key: str) -> tuple[int, Any]:
        """Rust's timer: key, HWID and product only, never sealed, its answer thrown away."""
        body = {"license_key": key, "hwid": self.hwid, "product_id": self.product_id}
        return self.post("/api/client/heartbeat", self.sdk.encode(body), self.sdk.headers)
