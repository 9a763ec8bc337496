"""Files only their owner may read: keys, certificates, sessions, kept probes and sheets."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes | str, exclusive: bool = False) -> Path:
    """Write ``data`` to ``path`` as a 0600 file in a folder made 0700 if missing; with
    ``exclusive``, FileExistsError if ``path`` exists already (a race lost)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    with os.fdopen(os.open(path, flags, 0o600), "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    return path
