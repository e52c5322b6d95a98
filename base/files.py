"""Writing files that hold secrets or that a running daemon re-reads: atomic replace, mode set before the rename."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | os.PathLike, content: str | bytes, mode: int = 0o600) -> Path:
    """Write `content` to `path` with `mode`: readers see the old file or the new one, never half of it, and the
    content is never readable with a wider mode, not even for a moment."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT does not change the mode of a tmp file left by an earlier crash
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path
