"""A hardware id that is the same on every call and in every process on one machine."""

from __future__ import annotations

import functools
import hashlib
import platform
import subprocess
import sys
import uuid
from typing import Optional

_MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


@functools.lru_cache(maxsize=None)
def get_hwid() -> str:
    """64 hex characters: SHA-256 of the OS's machine id, else of hostname + MAC + architecture.

    Sources, first found wins: Linux ``/etc/machine-id`` (or the D-Bus copy), the Windows
    ``MachineGuid``, the macOS ``IOPlatformUUID``. Without any of them the fallback is the
    host name, the MAC address (only if it is a real one, never Python's random stand-in)
    and the machine architecture. The raw id never leaves the machine, only its hash.
    """
    machine_id = _machine_id()
    if machine_id:
        return hwid_from_machine_id(machine_id)
    return _hash("host", platform.node(), _mac() or "", platform.machine())


def hwid_from_machine_id(machine_id: str) -> str:
    """The HWID every KeyLedger SDK derives from one OS machine id (sdk/conformance/vectors/hwid.json)."""
    return _hash("machine-id", machine_id.strip().lower())


def _hash(*parts: str) -> str:
    return hashlib.sha256(("licensecm-hwid:v1:" + "|".join(parts)).encode("utf-8")).hexdigest()


def _machine_id() -> Optional[str]:
    for reader in (_linux_machine_id, _windows_machine_guid, _macos_platform_uuid):
        try:
            value = reader()
        except Exception:  # any platform oddity just means "try the next source"
            value = None
        if value and value.strip().strip("0-"):  # an all-zero id is a placeholder, not an id
            return value.strip().lower()
    return None


def _linux_machine_id() -> Optional[str]:
    for path in _MACHINE_ID_FILES:
        try:
            with open(path, encoding="ascii") as handle:
                value = handle.read().strip()
        except OSError:
            continue
        if value:
            return value
    return None


def _windows_machine_guid() -> Optional[str]:
    if sys.platform != "win32":
        return None
    import winreg  # type: ignore[import-not-found]

    flags = winreg.KEY_READ | getattr(winreg, "KEY_WOW64_64KEY", 0)
    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography", 0, flags) as key:
        return str(winreg.QueryValueEx(key, "MachineGuid")[0])


def _macos_platform_uuid() -> Optional[str]:
    if sys.platform != "darwin":
        return None
    output = subprocess.run(["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"], capture_output=True,
                            text=True, timeout=5, check=False).stdout
    for line in output.splitlines():
        if "IOPlatformUUID" in line:
            return line.split("=", 1)[1].strip().strip('"')
    return None


def _mac() -> Optional[str]:
    node = uuid.getnode()
    if (node >> 40) & 1:  # the multicast bit: uuid made up a random number, different in each process
        return None
    return f"{node:012x}"


