"""Reader for the IDX format of MNIST-like datasets (plain or gzipped)."""

from __future__ import annotations

import gzip
import os
import zlib
from typing import Optional, Union

import numpy as np

__all__ = ["read_idx"]

PathLike = Union[str, "os.PathLike[str]"]

#: IDX type byte -> big-endian element dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: PathLike, *, expect_magic: Optional[int] = None) -> np.ndarray:
    """Read an IDX file (as used by MNIST) into a NumPy array.

    The file may be gzip-compressed (detected from its first bytes, whatever
    its name). The header is checked before any data is used: two zero bytes,
    a known type byte, the number of dimensions, one 32-bit size per
    dimension, and then exactly as many data bytes as the sizes announce.

    Parameters
    ----------
    path : str or path-like
        The ``.gz`` or uncompressed IDX file.
    expect_magic : int, optional
        Required magic number (the first 4 header bytes read as a big-endian
        int), e.g. 2051 for MNIST images and 2049 for labels.

    Returns
    -------
    data : ndarray, shape given by the header
        Native byte order; dtype from the type byte (0x08 gives uint8).

    Raises
    ------
    ValueError
        If the file is not valid IDX, is truncated, has trailing bytes, has a
        different magic number than ``expect_magic``, or is a broken gzip
        stream. The message names the file and what is wrong.
    FileNotFoundError
        If ``path`` does not exist.

    Examples
    --------
    >>> import os, tempfile
    >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "tiny-idx2-ubyte")
    ...     with open(path, "wb") as f:
    ...         _ = f.write(header + bytes(range(6)))
    ...     read_idx(path)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    name = os.fspath(path)
    raw = _read_bytes(name)
    if len(raw) < 4:
        raise ValueError(
            f"{name}: not an IDX file: only {len(raw)} bytes, shorter than the 4-byte magic number"
        )
    magic = int.from_bytes(raw[:4], "big")
    if expect_magic is not None and magic != expect_magic:
        raise ValueError(
            f"{name}: wrong magic number {magic} (0x{magic:08x}); expected {expect_magic} "
            f"(0x{expect_magic:08x}) — is this the right file?"
        )
    if raw[:2] != b"\x00\x00":
        raise ValueError(f"{name}: not an IDX file: the first two bytes must be zero, got {raw[:2].hex()}")
    type_byte, ndim = raw[2], raw[3]
    if type_byte not in IDX_DTYPES:
        known = ", ".join(f"0x{t:02x}" for t in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX type byte 0x{type_byte:02x}; expected one of {known}")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(
            f"{name}: truncated header: {ndim} dimensions need {header_len} header bytes, "
            f"the file has {len(raw)}"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[type_byte]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header_len
    if got < expected:
        raise ValueError(
            f"{name}: truncated data: shape {shape} of {dtype.name} needs {expected} bytes after "
            f"the header, the file has {got}"
        )
    if got > expected:
        raise ValueError(
            f"{name}: {got - expected} unexpected trailing bytes after the {expected} data bytes "
            f"announced for shape {shape}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _read_bytes(name: str) -> bytes:
    """All bytes of the file, decompressed when it starts with the gzip magic."""
    with open(name, "rb") as f:
        raw = f.read()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{name}: broken gzip data ({err}); the file is corrupt or was cut short") from err
