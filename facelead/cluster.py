"""Reaching facelead's Dask cluster: its TLS client files, and one long-lived client a process.

Every cluster facelead starts speaks mutual TLS with certificates made at start; flow runs
in other processes present the client files that ``write_tls_files`` leaves owner-only.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from distributed import Client
from distributed.security import Security

from facelead.files import write_private
from facelead.settings import DaskSettings

TLS_FILES = {"tls_ca_file": "ca.pem", "tls_client_cert": "cert.pem", "tls_client_key": "key.pem"}


def write_tls_files(security: Security, folder: Path) -> None:
    """The certificates of ``security`` (made with ``Security.temporary()``) as owner-only
    files in ``folder``, for clients in other processes (flow runs) to present."""
    for attribute, name in TLS_FILES.items():
        write_private(folder / name, getattr(security, attribute))


def client_security(tls_dir: Path) -> Security:
    """Client credentials for a TLS cluster whose files ``write_tls_files`` wrote to ``tls_dir``."""
    return Security(require_encryption=True, **{attribute: str(tls_dir / name) for attribute, name in TLS_FILES.items()})


_CLIENT_LOCK = threading.Lock()


def cluster_client(settings: DaskSettings) -> Client:
    """A client of the cluster at ``settings.address``, connected once a process and kept
    (connecting costs about a second, a search's whole budget); a closed one is replaced."""
    if not settings.address:
        raise ValueError("no Dask cluster address is configured (FACELEAD_DASK__ADDRESS)")
    with _CLIENT_LOCK:
        client = _client(settings.address, settings.tls_dir)
        if client.status in ("closed", "closing"):
            _client.cache_clear()
            client = _client(settings.address, settings.tls_dir)
        return client


@functools.cache
def _client(address: str, tls_dir: Path | None) -> Client:
    return Client(address, security=client_security(tls_dir) if tls_dir else None, set_as_default=False)
