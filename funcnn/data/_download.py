"""Find dataset files locally, or download them from mirrors with checksum verification.

A download goes to a temporary file in the destination folder, is hashed while
it streams, and is moved into place with ``os.replace`` only once the checksum
matches; a partial or corrupt download is deleted and never used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

__all__ = ["RemoteFile", "cache_dir", "find_or_download"]

_CHUNK = 1 << 20
_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class RemoteFile:
    """A file a dataset needs, with the checksum its download must match.

    ``algorithm`` is a ``hashlib`` name ("sha256", or "md5" where only the
    published MD5 is known).
    """

    filename: str
    algorithm: str
    digest: str


def cache_dir() -> str:
    """The user cache folder for funcnn, where downloaded datasets are kept.

    ``$FUNCNN_CACHE`` when that variable is set (and not empty); otherwise the
    platform's cache folder:

    - Linux and other Unixes: ``$XDG_CACHE_HOME/funcnn`` when ``XDG_CACHE_HOME``
      is an absolute path (the XDG spec ignores relative ones), else
      ``~/.cache/funcnn``;
    - macOS: ``~/Library/Caches/funcnn``;
    - Windows: ``%LOCALAPPDATA%\\funcnn\\Cache`` (``LOCALAPPDATA`` is normally
      ``C:\\Users\\<you>\\AppData\\Local``).

    The folder is not created here; downloads create it when they need it.

    Returns
    -------
    folder : str

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"FUNCNN_CACHE": os.path.join("scratch", "funcnn")}):
    ...     cache_dir() == os.path.join("scratch", "funcnn")
    True
    """
    override = os.environ.get("FUNCNN_CACHE")
    if override:
        return os.path.expanduser(override)
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return os.path.join(base, "funcnn", "Cache")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", "funcnn")
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = xdg if os.path.isabs(xdg) else os.path.join(home, ".cache")
    return os.path.join(base, "funcnn")


def find_or_download(
    files: Sequence[RemoteFile],
    search_dirs: Sequence[str],
    download_dir: str,
    mirrors: Sequence[str],
    download: bool,
    dataset: str,
) -> list[str]:
    """Paths of ``files``, found in ``search_dirs`` or downloaded into ``download_dir``.

    Each file is looked for under its own name and without its ``.gz``
    suffix, in each search folder in turn. Missing files are downloaded when
    ``download`` is true; if any stays missing, a ``FileNotFoundError`` says
    which files to put where and where to get them.
    """
    found = {f.filename: _find_local(f.filename, search_dirs) for f in files}
    errors: list[str] = []
    unreachable: set[str] = set()
    for f in files:
        if found[f.filename] is None and download:
            found[f.filename] = _fetch(f, download_dir, mirrors, errors, unreachable)
    missing = [f.filename for f in files if found[f.filename] is None]
    if missing:
        message = _missing_message(missing, search_dirs, download_dir, mirrors, download, errors, dataset)
        raise FileNotFoundError(message)
    return [found[f.filename] for f in files]  # type: ignore[misc]


def _find_local(filename: str, search_dirs: Sequence[str]) -> Optional[str]:
    names = [filename]
    if filename.endswith(".gz"):
        names.append(filename[: -len(".gz")])
    for folder in search_dirs:
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
    return None


def _fetch(
    f: RemoteFile, folder: str, mirrors: Sequence[str], errors: list[str], unreachable: set[str]
) -> Optional[str]:
    """Try each mirror in turn; record why each attempt failed.

    A mirror that cannot be reached at all (no connection, no DNS, timeout)
    is not tried again for the next files, so going offline fails fast.
    """
    dest = os.path.join(folder, f.filename)
    for mirror in mirrors:
        if mirror in unreachable:
            continue
        url = mirror.rstrip("/") + "/" + f.filename
        try:
            download_verified(url, dest, f.algorithm, f.digest)
            return dest
        except urllib.error.HTTPError as err:
            err.close()  # an HTTPError holds the open response
            errors.append(f"{url}: HTTP {err.code} {err.reason}")
        except (OSError, ValueError, http.client.HTTPException) as err:
            note = ""
            if _is_unreachable(err):
                unreachable.add(mirror)
                note = " (mirror skipped from now on)"
            errors.append(f"{url}: {type(err).__name__}: {err}{note}")
    return None


def _is_unreachable(err: BaseException) -> bool:
    """True for failures to reach a server at all, as opposed to a missing or bad file."""
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    return isinstance(reason, (ConnectionError, TimeoutError, socket.gaierror))


def download_verified(url: str, dest: str, algorithm: str, digest: str) -> None:
    """Download ``url`` to ``dest`` atomically, keeping it only if its checksum is ``digest``.

    Raises ``ValueError`` on a checksum mismatch; network errors propagate.
    Either way no file is left at ``dest`` or in the temporary location.
    """
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    tmp = temporary_sibling(dest)
    hasher = hashlib.new(algorithm, usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_SECONDS) as response, open(tmp, "xb") as out:
            announced = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
                received += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if announced is not None and announced.isdigit() and received != int(announced):
            raise ValueError(
                f"incomplete download: received {received} of the {announced} bytes announced"
            )
        if hasher.hexdigest() != digest.lower():
            raise ValueError(
                f"{algorithm} checksum mismatch (got {hasher.hexdigest()}, expected {digest}); "
                f"the download is incomplete or not the original file"
            )
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def temporary_sibling(path: str) -> str:
    """A fresh hidden name next to ``path``, so ``os.replace`` stays on one filesystem."""
    folder, base = os.path.split(path)
    return os.path.join(folder, f".{base}.{secrets.token_hex(6)}.part")


def _missing_message(
    missing: Sequence[str],
    search_dirs: Sequence[str],
    download_dir: str,
    mirrors: Sequence[str],
    download: bool,
    errors: Sequence[str],
    dataset: str,
) -> str:
    lines = [f"{dataset}: missing file(s) {', '.join(missing)}."]
    lines.append("Looked in: " + ", ".join(search_dirs) + ".")
    if not download:
        lines.append("Downloading was switched off (download=False).")
    elif errors:
        lines.append("Every download attempt failed:")
        lines += [f"  {e}" for e in errors]
    lines.append(f"To fix this offline, put the original files into {download_dir} from:")
    for name in missing:
        lines += [f"  {m.rstrip('/')}/{name}" for m in mirrors]
    lines.append("(or pass data_dir=, or set FUNCNN_DATA to a folder holding the dataset's subfolder).")
    return "\n".join(lines)
