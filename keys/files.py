"""Key files: created once with mode 0600 in a directory of mode 0700, read back on later starts."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def load_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """Return the file's bytes, creating it first (0600, atomically) if it does not exist. The key is written in full
    to a private temporary file, flushed to disk, then hard-linked into place, which never replaces a file: of two
    processes starting at once (`keyledger serve --workers N`), only one links its key and the other uses that one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    data = make()
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:  # another process linked its key first: everyone uses that one
            return path.read_bytes()
    finally:
        draft.unlink(missing_ok=True)
    return data
