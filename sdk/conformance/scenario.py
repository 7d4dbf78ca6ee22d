"""The scenario: every SDK's example driven through the same script against a real `keyledger serve`.

    .venv/bin/python sdk/conformance/scenario.py                       # every SDK, SQLite and PostgreSQL
    .venv/bin/python sdk/conformance/scenario.py --sdk node,go --backend sqlite

For each backend it starts `keyledger serve` on a free port (PostgreSQL: a throwaway schema),
registers a vendor, creates an RSA-4096 and an Ed25519 product, and for each SDK runs its
command-line example (the contract is in sdk/conformance/README.md) once per scenario with a
fresh license, checking the JSON lines it prints. Answers are altered in transit by a local
proxy that this runner starts. Exit status 1 if any scenario fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from keys.envelope import open_envelope  # noqa: E402  (the proxy strips envelopes as an attacker with the secret)

POSTGRES_URL = os.environ.get("KEYLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
STEP_TIMEOUT = 60

# How to run each SDK's example, from the repository root (the Makefile builds what needs building).
EXAMPLES: dict[str, list[str]] = {
    "python": [sys.executable, "sdk/python/example.py"],
    "node": ["node", "sdk/nodejs/example/cli.js"],
    "go": ["sdk/go/build/example"],
    "java": ["java", "-cp", "sdk/java/build/classes", "com.licensecm.example.Example"],
    "php": ["php", "sdk/php/example/cli.php"],
    "csharp": ["mono", "sdk/csharp/build/Example.exe"],
}


# --- the server and the vendor -----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"null")


class Server:
    """`keyledger serve` on a free port; its output goes to a log file."""

    def __init__(self, workdir: Path, database_url: str | None) -> None:
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self.env = {**os.environ, "KEYLEDGER_PASSWORD_PROFILE": "CHEAPEST",  # the script runs faster than limits allow
                    "KEYLEDGER_RATE_LIMIT_API": "0", "KEYLEDGER_RATE_LIMIT_VALIDATION": "0",
                    "KEYLEDGER_RATE_LIMIT_CLIENT_IP": "0", "KEYLEDGER_BRUTE_FORCE_UNKNOWN_KEYS": "0",
                    "KEYLEDGER_BRUTE_FORCE_LOGINS": "0"}
        if database_url:
            self.env["KEYLEDGER_DATABASE_URL"] = database_url
        self.command = [sys.executable, "-m", "keyledger.cli", "serve", "--port", str(self.port),
                        "--data-dir", str(workdir / "var")]
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("keyledger serve exited:\n" + self.log_path.read_text(errors="replace")[-3000:])
            try:
                urllib.request.urlopen(f"{self.root}/api/client/public-key", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("keyledger serve did not answer within 60 s")

    def __exit__(self, *_: Any) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Vendor:
    def __init__(self, api: str) -> None:
        self.api = api
        status, answer = http_json("POST", f"{api}/auth/register", {
            "email": f"sdk-{uuid.uuid4().hex[:8]}@example.com", "password": "secret123", "display_name": "SDK"})
        assert status == 201, answer
        self.token = answer["data"]["token"]

    def call(self, method: str, path: str, body: Any = None, expected: int = 200) -> Any:
        status, answer = http_json(method, self.api + path, body, self.token)
        assert status == expected, (method, path, status, answer)
        return answer["data"]

    def product(self, name: str, **fields: Any) -> dict[str, Any]:
        return self.call("POST", "/products", {"name": name, **fields}, 201)

    def license(self, product: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/licenses", {"product_id": product["id"], "type": "subscription", "max_uses": 1,
                                               "hwid_locked": True}, 201)

    def suspend(self, license: dict[str, Any]) -> None:
        self.call("PUT", f"/licenses/{license['id']}", {"status": "suspended"})

    def uses(self, license: dict[str, Any]) -> int:
        return self.call("GET", f"/licenses/{license['id']}")["current_uses"]

    def uses_become(self, license: dict[str, Any], expected: int, seconds: float = 5) -> bool:
        """Client calls reach the vendor's read model a moment later: wait for it, bounded."""
        deadline = time.monotonic() + seconds
        while self.uses(license) != expected:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


# --- the proxy that alters answers -------------------------------------------------------------

class _ProxyServer(ThreadingHTTPServer):
    request_queue_size = 128  # six SDKs connect at once; socketserver's default backlog is 5


class Proxy:
    """Forwards `/<mode>/api/...` to the server as `/api/...` and alters client answers by mode.

    tamper: change a signed field (plain) or a ciphertext byte (encrypted); replay: answer every
    validation with the first one it saw; strip: open encrypted answers and pass them on in plain.
    """

    def __init__(self, upstream: str, secrets: dict[str, str]) -> None:
        self.upstream = upstream
        self.secrets = secrets  # product id -> secret, for `strip`
        self.recorded: dict[str, bytes] = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the server it stands for: no connection per request

            def do_GET(self) -> None:  # noqa: N802
                proxy.forward(self, None)

            def do_POST(self) -> None:  # noqa: N802
                proxy.forward(self, self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def log_message(self, *_: Any) -> None:
                pass

        self.server = _ProxyServer(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        _, mode, rest = handler.path.split("/", 2)
        request = urllib.request.Request(f"{self.upstream}/{rest}", data=body, method=handler.command,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:
                status, raw = error.code, error.read()
        if status == 200 and "/client/" in rest and "public-key" not in rest:
            raw = self.alter(mode, rest, raw)
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    def alter(self, mode: str, path: str, raw: bytes) -> bytes:
        answer = json.loads(raw)
        if mode == "tamper" and answer.get("encrypted") is True:
            answer["data"] = ("1" if answer["data"][0] == "0" else "0") + answer["data"][1:]
        elif mode == "tamper" and isinstance(answer.get("data"), dict):
            answer["data"]["watermark"] = "f" * 32  # a field every signed answer may carry
        elif mode == "replay" and path.endswith("/validate"):
            with self.lock:
                return self.recorded.setdefault(path, raw)
        elif mode == "strip" and answer.get("encrypted") is True:
            answer = open_envelope(self.secrets[answer["product_id"]], answer, int(time.time() * 1000))
        return json.dumps(answer).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- running an example ------------------------------------------------------------------------

@dataclass
class Run:
    lines: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""

    def step(self, name: str, index: int = 0) -> dict[str, Any]:
        found = [line for line in self.lines if line.get("step") == name]
        return found[index] if index < len(found) else {"step": name, "ok": None, "missing": True}

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == name]


class Example:
    """One SDK's example, started with a scenario's environment."""

    def __init__(self, sdk: str, server_root: str) -> None:
        self.sdk = sdk
        self.command = EXAMPLES[sdk]
        self.server_root = server_root

    def env(self, product: dict[str, Any], license_key: str, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("KEYLEDGER_", "PINNED_"))}
        env.update(BASE_URL=self.server_root, PRODUCT_ID=product["id"], SECRET_KEY=product["secret_key"],
                   LICENSE_KEY=license_key, USE_ENCRYPTION="0", HEARTBEAT_INTERVAL_MS="0")
        env.update(extra)
        return env

    def run(self, steps: list[str], env: dict[str, str],
            on_line: Callable[[dict[str, Any]], None] | None = None) -> Run:
        process = subprocess.Popen([*self.command, *steps], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        timer = threading.Timer(STEP_TIMEOUT, process.kill)
        timer.start()
        run = Run()
        try:
            assert process.stdout is not None
            for text in process.stdout:
                try:
                    line = json.loads(text)
                except ValueError:
                    line = {"unparsed": text.rstrip()}
                run.lines.append(line)
                if on_line:
                    on_line(line)
            run.stderr = process.stderr.read() if process.stderr else ""
            process.wait()
        finally:
            timer.cancel()
        return run


# --- the scenarios -----------------------------------------------------------------------------

class Failed(AssertionError):
    pass


def check(condition: bool, message: str, run: Run | None = None) -> None:
    if not condition:
        detail = ""
        if run is not None:
            detail = "\n      " + "\n      ".join(json.dumps(line) for line in run.lines)
            if run.stderr.strip():
                detail += "\n      stderr: " + run.stderr.strip()[-1500:].replace("\n", "\n      ")
        raise Failed(message + detail)


def ok_steps(run: Run, *names: str) -> None:
    for name in names:
        check(run.step(name).get("ok") is True, f"step {name} did not succeed", run)


def refused(run: Run, name: str, code: str, status: int | None = ..., index: int = 0) -> None:  # type: ignore[assignment]
    line = run.step(name, index)
    check(line.get("ok") is False and line.get("code") == code,
          f"step {name} should be refused with {code}", run)
    if status is not ...:
        check(line.get("status") == status, f"step {name} should carry HTTP status {status}", run)


class Scenarios:
    """The script every SDK goes through. Each method is one scenario; its name is what the report shows."""

    def __init__(self, example: Example, vendor: Vendor, products: dict[str, dict[str, Any]], proxy: Proxy,
                 keys: dict[str, dict[str, Any]], reference_hwid: str | None) -> None:
        self.example, self.vendor, self.products, self.proxy = example, vendor, products, proxy
        self.keys, self.reference_hwid = keys, reference_hwid

    def _lifecycle(self, algorithm: str, encrypted: bool) -> None:
        product = self.products[algorithm]
        license = self.vendor.license(product)
        env = self.example.env(product, license["license_key"], USE_ENCRYPTION="1" if encrypted else "0",
                               HWID=f"device-{uuid.uuid4().hex[:8]}")
        run = self.example.run(["initialize", "activate", "validate", "heartbeat", "heartbeat", "challenge",
                                "deactivate", "heartbeat"], env)
        ok_steps(run, "initialize", "activate", "validate", "heartbeat", "challenge", "deactivate")
        check(run.step("heartbeat", 1).get("ok") is True, "the second heartbeat did not succeed", run)
        check(run.step("initialize").get("algorithm") == algorithm, f"the key is not {algorithm}", run)
        check(run.step("initialize").get("key_id") == self.keys[algorithm]["key_id"], "wrong key id", run)
        check(re.fullmatch("[0-9a-f]{32}", str(run.step("validate").get("watermark"))) is not None,
              "validate returned no watermark", run)
        tokens = [run.step("activate").get("token"), run.step("heartbeat").get("token"),
                  run.step("heartbeat", 1).get("token")]
        check(None not in tokens and len(set(tokens)) == 3, "heartbeats did not rotate the token", run)
        refused(run, "heartbeat", "NOT_ACTIVATED", index=2)
        check(not run.events("security_violation") and not run.events("session_expired"),
              "no callback should fire in a clean run", run)
        check(self.vendor.uses_become(license, 0), "deactivate did not free the seat")

    def lifecycle_plain_rsa(self) -> None:
        """activate, validate (nonce), heartbeat x2 (rotation), challenge, deactivate; RSA-4096, plain."""
        self._lifecycle("rsa-4096", encrypted=False)

    def lifecycle_encrypted_ed25519(self) -> None:
        """the same through the AES-256-GCM envelope; Ed25519."""
        self._lifecycle("ed25519", encrypted=True)

    def lifecycle_encrypted_rsa(self) -> None:
        self._lifecycle("rsa-4096", encrypted=True)

    def refusals_carry_codes(self) -> None:
        """an unknown key is LICENSE_NOT_FOUND (404); a second device is HWID_MISMATCH (403)."""
        product = self.products["ed25519"]
        license = self.vendor.license(product)
        unknown = self.example.run(["validate"], self.example.env(product, "AAAA-BBBB-CCCC-DDDD", HWID="d-1"))
        refused(unknown, "validate", "LICENSE_NOT_FOUND", 404)
        first = self.example.run(["activate"], self.example.env(product, license["license_key"], HWID="d-1"))
        ok_steps(first, "activate")
        second = self.example.run(["activate"], self.example.env(product, license["license_key"], HWID="d-2",
                                                                  USE_ENCRYPTION="1"))
        refused(second, "activate", "HWID_MISMATCH", 403)

    def pinned_key_matches(self) -> None:
        """the right PEM pinned: answers verify with it."""
        product = self.products["rsa-4096"]
        license = self.vendor.license(product)
        run = self.example.run(["initialize", "activate"], self.example.env(
            product, license["license_key"], PINNED_PUBLIC_KEY=self.keys["rsa-4096"]["public_key"], HWID="d-pin"))
        ok_steps(run, "initialize", "activate")

    def pinned_key_differs(self) -> None:
        """another key pinned (by id, then by PEM): refused before any request, callback told."""
        product = self.products["rsa-4096"]
        license = self.vendor.license(product)
        for pin in ({"PINNED_KEY_ID": self.keys["ed25519"]["key_id"]},
                    {"PINNED_PUBLIC_KEY": self.keys["ed25519"]["public_key"]}):
            run = self.example.run(["initialize", "activate"],
                                   self.example.env(product, license["license_key"], HWID="d-pin", **pin))
            refused(run, "initialize", "SECURITY_VIOLATION")
            refused(run, "activate", "SECURITY_VIOLATION")
            check(all(e.get("source") == "client" for e in run.events("security_violation"))
                  and len(run.events("security_violation")) >= 1, "on_security_violation was not called", run)
        check(self.vendor.uses(license) == 0, "an activation reached a server whose key is not pinned")

    def _through_proxy(self, mode: str, encrypted: bool, steps: list[str]) -> tuple[Run, dict[str, Any]]:
        product = self.products["ed25519" if encrypted else "rsa-4096"]
        license = self.vendor.license(product)
        env = self.example.env(product, license["license_key"], HWID=f"d-{mode}",
                               USE_ENCRYPTION="1" if encrypted else "0", BASE_URL=f"{self.proxy.root}/{mode}")
        return self.example.run(steps, env), license

    def altered_answer_plain(self) -> None:
        """a signed field changed in transit: SECURITY_VIOLATION, callback (client)."""
        run, _ = self._through_proxy("tamper", False, ["activate"])
        refused(run, "activate", "SECURITY_VIOLATION", None)
        check([e.get("source") for e in run.events("security_violation")] == ["client"],
              "on_security_violation(client) was not called once", run)

    def altered_answer_encrypted(self) -> None:
        """a ciphertext byte changed in transit: the envelope does not open."""
        run, _ = self._through_proxy("tamper", True, ["activate"])
        refused(run, "activate", "SECURITY_VIOLATION", None)
        check([e.get("source") for e in run.events("security_violation")] == ["client"],
              "on_security_violation(client) was not called once", run)

    def replayed_answer(self) -> None:
        """an earlier genuine validation replayed: the nonce does not match."""
        self.proxy.recorded.clear()  # this run's first validation is the one replayed
        run, _ = self._through_proxy("replay", False, ["activate", "validate", "validate"])
        ok_steps(run, "activate", "validate")
        refused(run, "validate", "SECURITY_VIOLATION", None, index=1)

    def downgraded_answer(self) -> None:
        """an encrypted request answered in plain (envelope stripped): refused."""
        run, _ = self._through_proxy("strip", True, ["activate"])
        refused(run, "activate", "SECURITY_VIOLATION", None)

    def wrong_secret(self) -> None:
        """an envelope sealed with a wrong secret: the server refuses (403), callback (server)."""
        product = self.products["ed25519"]
        license = self.vendor.license(product)
        env = self.example.env(product, license["license_key"], HWID="d-wrong", USE_ENCRYPTION="1",
                               SECRET_KEY="sk_live_" + "0" * 48)
        run = self.example.run(["activate"], env)
        refused(run, "activate", "SECURITY_VIOLATION", 403)
        check([e.get("source") for e in run.events("security_violation")] == ["server"],
              "on_security_violation(server) was not called once", run)

    def session_expires_after_suspension(self) -> None:
        """auto heartbeat running; the vendor suspends: on_session_expired, once."""
        product = self.products["rsa-4096"]
        license = self.vendor.license(product)
        env = self.example.env(product, license["license_key"], HWID="d-susp", HEARTBEAT_INTERVAL_MS="300",
                               WAIT_MS="15000")

        def suspend_after_activation(line: dict[str, Any]) -> None:
            if line.get("step") == "activate" and line.get("ok"):
                time.sleep(0.7)  # let a heartbeat or two rotate the token first
                self.vendor.suspend(license)

        run = self.example.run(["activate", "wait-expired", "validate"], env, suspend_after_activation)
        ok_steps(run, "activate", "wait-expired")
        check(len(run.events("session_expired")) == 1, "on_session_expired was not called exactly once", run)
        refused(run, "validate", "LICENSE_SUSPENDED", 403)

    def hwid_is_stable(self) -> None:
        """the same HWID in two processes (and, from /etc/machine-id, the same as every SDK's)."""
        env = self.example.env(self.products["rsa-4096"], "")
        env.pop("HWID", None)
        first, second = self.example.run(["hwid"], env), self.example.run(["hwid"], env)
        hwid = first.step("hwid").get("hwid")
        check(re.fullmatch("[0-9a-f]{64}", str(hwid)) is not None, "the HWID is not 64 hex", first)
        check(second.step("hwid").get("hwid") == hwid, "the HWID changed between runs", second)
        if self.reference_hwid is not None:
            check(hwid == self.reference_hwid, "the HWID differs from the machine-id formula", first)

    ALL = ["lifecycle_plain_rsa", "lifecycle_encrypted_ed25519", "lifecycle_encrypted_rsa", "refusals_carry_codes",
           "pinned_key_matches", "pinned_key_differs", "altered_answer_plain", "altered_answer_encrypted",
           "replayed_answer", "downgraded_answer", "wrong_secret", "session_expires_after_suspension",
           "hwid_is_stable"]


def machine_id_hwid() -> str | None:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            value = Path(path).read_text().strip().lower()
        except OSError:
            continue
        if value and value.strip("0-"):
            return hashlib.sha256(f"licensecm-hwid:v1:machine-id|{value}".encode()).hexdigest()
    return None


# --- one backend -------------------------------------------------------------------------------

def postgres_schema() -> tuple[str, Callable[[], None]]:
    import psycopg

    schema = f"kl_sdk_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    return f"{POSTGRES_URL}?schema={schema}", drop


def run_backend(backend: str, sdks: list[str], only: list[str] | None) -> list[tuple[str, str, str, str, float]]:
    results = []
    workdir = Path(tempfile.mkdtemp(prefix=f"kl-sdk-{backend}-"))
    database_url, drop = postgres_schema() if backend == "postgres" else (None, lambda: None)
    try:
        with Server(workdir, database_url) as server:
            api = server.root + "/api"
            vendor = Vendor(api)
            products = {"rsa-4096": vendor.product("SDK RSA"),
                        "ed25519": vendor.product("SDK Ed25519", signing_algorithm="ed25519")}
            keys = {name: http_json("GET", f"{api}/client/public-key?product_id={p['id']}")[1]["data"]
                    for name, p in products.items()}
            proxy = Proxy(server.root, {p["id"]: p["secret_key"] for p in products.values()})
            try:
                for sdk in sdks:
                    scenarios = Scenarios(Example(sdk, server.root), vendor, products, proxy, keys, machine_id_hwid())
                    for name in only or Scenarios.ALL:
                        started = time.monotonic()
                        try:
                            getattr(scenarios, name)()
                            outcome, detail = "pass", ""
                        except Exception as error:  # a broken SDK must not stop the others' report
                            outcome, detail = "FAIL", f"{type(error).__name__}: {error}"
                        elapsed = time.monotonic() - started
                        results.append((sdk, backend, name, outcome, elapsed))
                        print(f"{outcome:4} {sdk:7} {backend:8} {name:36} {elapsed:5.1f}s", flush=True)
                        if detail:
                            print("     " + detail, flush=True)
            finally:
                proxy.close()
    finally:
        drop()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the SDK scenario against keyledger serve.")
    parser.add_argument("--sdk", default=",".join(EXAMPLES), help="comma-separated: " + ",".join(EXAMPLES))
    parser.add_argument("--backend", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--scenario", default="", help="comma-separated scenario names (default: all)")
    args = parser.parse_args()
    sdks = [name for name in args.sdk.split(",") if name]
    unknown = [name for name in sdks if name not in EXAMPLES]
    if unknown:
        parser.error(f"unknown SDK {unknown}")
    only = [name for name in args.scenario.split(",") if name] or None
    started = time.monotonic()
    results = []
    for backend in [name for name in args.backend.split(",") if name]:
        results += run_backend(backend, sdks, only)
    failed = sum(1 for result in results if result[3] != "pass")
    print(f"\nscenario: {len(sdks)} SDKs x {args.backend} in {time.monotonic() - started:.0f}s")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
