"""Checkpoints: save and load pytrees of arrays as ``.npz`` files, safely.

A checkpoint is an ordinary ``.npz`` (zip) archive. Each leaf is one ``.npy``
entry named by its key path (``['dense_0']['w']``), so ``numpy.load`` can read
it too. One more entry, ``__structure__``, holds a JSON text (in a one-element
string array) describing the containers (dicts, lists, tuples, ``None``,
NamedTuples), which lets :func:`load` rebuild plain structures without a
template. Nothing is ever pickled: saving refuses object arrays and loading
uses ``allow_pickle=False``.

Saving writes a temporary file in the destination folder, flushes and fsyncs
it, then renames it over the destination with ``os.replace``. An interrupted
save therefore leaves the previous checkpoint untouched. A save that is killed
outright leaves its temporary file behind; the next save of the same target
removes it once it is :data:`STALE_TEMPORARY_SECONDS` old (see :func:`save`).

Loading treats the file as untrusted: every way it can be damaged (truncated,
flipped bytes, a lying header, a broken structure record) raises
:class:`CorruptCheckpointError` naming the file, and nothing is allocated
beyond what the file can hold.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import re
import secrets
import struct
import zipfile
import zlib
from typing import Any, Optional, Union

import numpy as np

from .tree_util import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    KeyEntry,
    KeyPath,
    PyTree,
    SequenceKey,
    keystr,
    tree_flatten_with_path,
    tree_unflatten,
)

__all__ = ["CorruptCheckpointError", "discard_temporaries", "load", "save"]

PathLike = Union[str, "os.PathLike[str]"]

STRUCTURE_ENTRY = "__structure__"
FORMAT_NAME = "funcnn-checkpoint"
FORMAT_VERSION = 1

#: A later save of the same target removes a temporary file of a killed save once the
#: temporary is this many seconds old. A live save keeps its temporary's modification time
#: fresh while it writes, so only a save stalled this long in one call (an fsync of a huge
#: file on a very slow disk) could lose its temporary, and then it fails; nothing is corrupted.
STALE_TEMPORARY_SECONDS = 600.0

_TEMPORARY_SUFFIX = ".funcnn-tmp"

# JSON-encoded key entries and paths: an entry is [kind, key].
_Entry = list[Any]
_Path = list[_Entry]


class CorruptCheckpointError(ValueError):
    """A checkpoint file that cannot be loaded: truncated, damaged, or not written by :func:`save`.

    The message reads ``corrupt checkpoint <path>: <what is wrong>``. It is a
    ``ValueError``, so code catching that keeps working.

    Attributes
    ----------
    path : str
        The file.
    reason : str
        What is wrong with it.

    Examples
    --------
    >>> err = CorruptCheckpointError("run/ckpt.npz", "it is empty")
    >>> print(err)
    corrupt checkpoint run/ckpt.npz: it is empty
    >>> isinstance(err, ValueError), err.path
    (True, 'run/ckpt.npz')
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"corrupt checkpoint {path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return type(self), (self.path, self.reason)


def save(path: PathLike, tree: PyTree, *, compress: bool = False) -> None:
    """Save a pytree of arrays to an ``.npz`` checkpoint, atomically.

    Parameters
    ----------
    path : str or path-like
        Destination file, used exactly as given (no suffix is added). Its
        folder must exist. An existing file is replaced only once the new
        one is completely written.
    tree : pytree
        Nested dicts, lists, tuples, NamedTuples, ``None`` and registered
        nodes whose leaves are arrays or scalars: parameters, optimizer
        states, BatchNorm state. Python and NumPy scalars are stored as 0-d
        arrays (and load back as 0-d arrays); dtypes are kept exactly
        (float32 stays float32; a Python float becomes float64).
    compress : bool, default False
        Deflate the entries (smaller, slower), like ``numpy.savez_compressed``.

    Raises
    ------
    ValueError
        If a leaf cannot be stored without pickling (object arrays, arbitrary
        Python objects); the message names the leaf's key path.
    OSError
        If writing fails (a full disk, no permission, ...): the same class and
        ``errno`` as the underlying error, with ``filename`` set to ``path``,
        chained to the original. A missing folder raises ``FileNotFoundError``.

    Notes
    -----
    The data go to a temporary file next to ``path``, named
    ``.<first 24 characters of the name>.<12 hex digits of a hash of the
    name>.<8 random hex digits>.funcnn-tmp`` (at most 130 bytes, so it fits
    wherever the target's name fits), which then replaces ``path`` with
    ``os.replace``. On any failure the previous file at ``path`` is left as
    it was and the temporary file is removed.

    A process killed mid-save cannot remove its temporary file. Each save
    therefore removes the temporaries of earlier saves *of the same target*
    that are older than :data:`STALE_TEMPORARY_SECONDS` (10 minutes), age
    measured against the filesystem's own clock (the new temporary's
    modification time). Younger ones may belong to a save running right now
    in another process and are left alone, as is every other file. Files
    named ``.<name>.<12 hex digits>.tmp``, the temporaries of earlier funcnn
    versions, count as temporaries of ``<name>`` too.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> params = {"dense_0": {"w": np.ones((2, 3), np.float32), "b": np.zeros(3, np.float32)}}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "params.npz")
    ...     save(path, params)
    ...     with np.load(path) as npz:
    ...         sorted(npz.files)
    ["['dense_0']['b']", "['dense_0']['w']", '__structure__']
    """
    target = os.fspath(path)
    pairs, _ = tree_flatten_with_path(tree)
    entries = {}
    for key_path, leaf in pairs:
        name = keystr(key_path)
        if name in entries:
            raise ValueError(
                f"save: two leaves share the key path {name!r}; checkpoint entries must be unique"
            )
        entries[name] = _storable(leaf, name)
    entries[STRUCTURE_ENTRY] = np.array([json.dumps(_describe(tree, pairs))])
    _write_atomically(target, entries, zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)


def load(path: PathLike, like: Optional[PyTree] = None) -> PyTree:
    """Load a checkpoint written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file.
    like : pytree, optional
        A template with the structure to restore, e.g. freshly initialised
        parameters or optimizer state. Its leaves may be arrays, scalars or
        anything with ``shape`` and ``dtype``; each stored leaf must have the
        same shape and dtype as the template leaf at the same key path. With
        ``like``, NamedTuples and custom classes come back as themselves.

    Returns
    -------
    tree : pytree
        With ``like``: the structure of ``like`` holding the stored arrays.
        Without: nested dicts, lists, tuples and ``None`` as saved;
        NamedTuples and other classes come back as dicts of their fields
        (or lists, for classes without field names).

    Raises
    ------
    CorruptCheckpointError
        A ``ValueError``: if the file is truncated, damaged (a failed CRC, a
        bad zip structure, an entry whose header declares more data than it
        holds, an unreadable structure record) or not a funcnn checkpoint.
        The message reads ``corrupt checkpoint <path>: <what>``.
    ValueError
        If the checkpoint does not match ``like``: the message names the key
        path of the first leaf that is missing, extra, or of another shape or
        dtype.
    OSError
        If ``path`` cannot be opened (``FileNotFoundError`` if it does not
        exist).

    Examples
    --------
    >>> import os, tempfile
    >>> from typing import NamedTuple
    >>> import numpy as np
    >>> class State(NamedTuple):
    ...     step: np.ndarray
    ...     mu: dict
    >>> state = State(step=np.array(3), mu={"w": np.full(2, 0.5, np.float32)})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "state.npz")
    ...     save(path, state)
    ...     restored = load(path, like=state)
    ...     plain = load(path)
    >>> restored
    State(step=array(3), mu={'w': array([0.5, 0.5], dtype=float32)})
    >>> plain
    {'step': array(3), 'mu': {'w': array([0.5, 0.5], dtype=float32)}}
    """
    source = os.fspath(path)
    entries = _read_entries(source)
    record = _parse_structure(source, entries.pop(STRUCTURE_ENTRY, None), entries)
    if like is not None:
        return _restore_like(source, entries, like)
    return _rebuild(source, record, entries)


# --------------------------------------------------------------------------- saving


def _storable(leaf: Any, name: str) -> np.ndarray:
    """``leaf`` as an array that ``.npy`` can hold without pickle."""
    where = name or "the root"
    try:
        arr = np.asarray(leaf)
    except Exception as err:  # any conversion failure is reported the same way
        raise ValueError(
            f"save: the leaf at {where} ({type(leaf).__name__}) cannot become an array: {err}"
        ) from err
    if arr.dtype.hasobject:
        raise ValueError(
            f"save: the leaf at {where} is an object array (from {type(leaf).__name__}); checkpoints "
            f"hold numeric arrays only and never pickle Python objects"
        )
    return arr


def _is_not(parent: Any, x: Any) -> bool:
    """``x`` is another object than ``parent``: flattening ``parent`` stops at its children."""
    return x is not parent


def _describe(tree: PyTree, pairs: list[tuple[KeyPath, Any]]) -> dict[str, Any]:
    """The JSON structure record: every container with its children, and every leaf's entry name."""
    nodes = []
    stack: list[tuple[_Path, Any]] = [([], tree)]
    while stack:
        path, obj = stack.pop()
        children, _ = tree_flatten_with_path(obj, is_leaf=functools.partial(_is_not, obj))
        if len(children) == 1 and children[0][0] == ():
            continue  # a leaf
        cls = type(obj)
        keys = [_encode_entry(key_path[0]) for key_path, _ in children]
        nodes.append({
            "path": path,
            "type": _node_type(obj),
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "children": keys,
        })
        stack.extend((path + [key], child) for key, (_, child) in zip(keys, children))
    leaves = [
        {"path": [_encode_entry(k) for k in key_path], "entry": keystr(key_path)}
        for key_path, _ in pairs
    ]
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "nodes": nodes, "leaves": leaves}


def _node_type(obj: Any) -> str:
    if obj is None:
        return "none"
    if isinstance(obj, dict):
        return "dict"
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return "namedtuple"
    if type(obj) in (list, tuple):
        return type(obj).__name__
    return "custom"


_JSON_KEY_TYPES = (str, int, float, bool, type(None))


def _encode_entry(entry: KeyEntry) -> _Entry:
    if isinstance(entry, DictKey):
        if isinstance(entry.key, _JSON_KEY_TYPES):
            return ["dict", entry.key]
        return ["dict-repr", repr(entry.key)]
    if isinstance(entry, SequenceKey):
        return ["seq", entry.idx]
    if isinstance(entry, GetAttrKey):
        return ["attr", entry.name]
    if isinstance(entry, FlattenedIndexKey):
        return ["flat", entry.key]
    return ["other", str(entry)]


def _write_atomically(target: str, entries: dict[str, np.ndarray], compression: int) -> None:
    folder, base = os.path.split(target)
    if not os.path.isdir(folder or "."):
        raise FileNotFoundError(f"save {target}: the folder {folder!r} does not exist (create it first)")
    tmp = None
    try:
        tmp, f = _create_temporary(folder, base)
        with f:
            _remove_stale_temporaries(folder, base, now=os.fstat(f.fileno()).st_mtime)
            _write_archive(f, entries, compression)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as err:
        raise _naming_destination(err, target) from err
    finally:
        if tmp is not None:
            _remove_if_there(tmp)
    _sync_folder(folder)


def _write_archive(f: Any, entries: dict[str, np.ndarray], compression: int) -> None:
    with zipfile.ZipFile(f, "w", compression=compression, allowZip64=True) as archive:
        for name, arr in entries.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def _naming_destination(err: OSError, target: str) -> OSError:
    """``err`` again (same class and errno), naming the checkpoint that was being saved."""
    if err.errno is None:
        return type(err)(f"{err} (while saving the checkpoint {target})")
    return type(err)(err.errno, f"{err.strerror} (while saving a checkpoint)", target)


# --------------------------------------------------------------------------- temporary files


def _temporary_prefix(base: str) -> str:
    """What the temporaries of ``base`` are named by: a readable start and a hash of the whole name."""
    digest = hashlib.sha256(os.fsencode(base)).hexdigest()[:12]
    return f".{base[:24]}.{digest}."


def _create_temporary(folder: str, base: str) -> tuple[str, Any]:
    """A new temporary file for ``base`` in ``folder``, opened for writing, and its path."""
    tmp = os.path.join(folder, _temporary_prefix(base) + secrets.token_hex(4) + _TEMPORARY_SUFFIX)
    return tmp, open(tmp, "xb")  # the caller closes it


def _temporaries_of(base: str) -> re.Pattern[str]:
    """Names of the temporary files that saves of ``base`` create (and earlier versions created)."""
    current = re.escape(_temporary_prefix(base)) + "[0-9a-f]{8}" + re.escape(_TEMPORARY_SUFFIX)
    legacy = re.escape(f".{base}.") + r"[0-9a-f]{12}\.tmp"
    return re.compile(f"{current}|{legacy}")


def discard_temporaries(folder: PathLike, name_prefix: str = "") -> int:
    """Remove the temporary files that killed saves left in ``folder``, of every target whose
    name starts with ``name_prefix``, whatever their age; return how many.

    ``save`` removes only old temporaries of its own target, since another process may be
    saving it now. A program that owns a folder (``funcnn.train.Checkpoint``, saving a run
    under new names) calls this when no save into it can be under way.
    """
    pattern = re.compile(re.escape("." + name_prefix[:24]) + r".*\.[0-9a-f]{12}\.[0-9a-f]{8}"
                         + re.escape(_TEMPORARY_SUFFIX))
    removed = 0
    with contextlib.suppress(OSError), os.scandir(os.fspath(folder) or ".") as listing:
        for entry in listing:
            if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                _remove_if_there(entry.path)
                removed += 1
    return removed


def _remove_stale_temporaries(folder: str, base: str, now: float) -> None:
    """Remove temporaries of ``base`` older than ``STALE_TEMPORARY_SECONDS`` before ``now``.

    Best effort: a file that vanishes or cannot be removed is left to a later save.
    """
    pattern = _temporaries_of(base)
    with contextlib.suppress(OSError), os.scandir(folder or ".") as listing:
        for entry in listing:
            if pattern.fullmatch(entry.name) and _is_stale(entry, now):
                _remove_if_there(entry.path)


def _is_stale(entry: os.DirEntry[str], now: float) -> bool:
    try:
        if not entry.is_file(follow_symlinks=False):
            return False
        return now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMPORARY_SECONDS
    except OSError:
        return False


def _remove_if_there(path: str) -> None:
    """Remove ``path``; one that is gone or cannot be removed now is left to a later save."""
    with contextlib.suppress(OSError):
        os.remove(path)


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX only; best effort)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- loading


# What reading a damaged zip archive or .npy entry can raise: found by fuzzing (tests/test_io_faults.py),
# plus struct.error and OverflowError, which short records and huge zip64 offsets can cause.
_DAMAGED = (
    zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError, RuntimeError,
    struct.error, OverflowError,
)

#: Deflate never shrinks data more than about 1032:1; a larger ratio is a lying size field.
_MAX_DEFLATE_RATIO = 1032


def _read_entries(source: str) -> dict[str, np.ndarray]:
    """Every ``.npy`` entry of the archive, read fully (so CRCs are checked)."""
    with open(source, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        try:
            with zipfile.ZipFile(f) as archive:
                return _read_members(archive, file_size)
        except _DAMAGED as err:
            raise CorruptCheckpointError(source, _error_text(err)) from err


def _error_text(err: BaseException) -> str:
    """What went wrong, with the error's class unless a check here found it."""
    cls = type(err)
    if cls is _Damaged:
        return str(err)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    return f"{name}: {str(err) or 'the data end too early'}"


class _Damaged(ValueError):
    """A damage that the checks here found (rather than zipfile or NumPy)."""


def _read_members(archive: zipfile.ZipFile, file_size: int) -> dict[str, np.ndarray]:
    entries = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise _Damaged(f"unexpected entry {info.filename!r}")
        name = info.filename[: -len(".npy")]
        if name in entries:
            raise _Damaged(f"the entry {info.filename!r} appears twice")
        _check_member_size(info, file_size)
        with archive.open(info) as member:
            entries[name] = _read_member(member, info)
    return entries


def _check_member_size(info: zipfile.ZipInfo, file_size: int) -> None:
    """The sizes in the zip directory must fit in the file, before anything is allocated from them."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Damaged(f"entry {info.filename!r} uses compression method {info.compress_type}; "
                       f"checkpoints are stored or deflated")
    ratio = 1 if info.compress_type == zipfile.ZIP_STORED else _MAX_DEFLATE_RATIO
    if info.file_size > file_size * ratio:
        raise _Damaged(f"entry {info.filename!r} claims {info.file_size} bytes, more than a file of "
                       f"{file_size} bytes can hold")


def _read_member(member: Any, info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` entry, its header's shape checked against the entry's size before reading the data."""
    version = np.lib.format.read_magic(member)
    # Version 3.0 differs from 2.0 only in the header's text encoding (UTF-8), so reading it as
    # 2.0 gives the right shape and item size, which is all the check needs.
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(member)
    declared = math.prod(shape) * dtype.itemsize
    held = info.file_size - member.tell()
    if declared != held or min(shape, default=0) < 0:
        raise _Damaged(f"entry {info.filename!r} declares shape {shape} of {dtype} ({declared} bytes) "
                       f"but holds {held} bytes of data")
    member.seek(0)
    arr = np.lib.format.read_array(member, allow_pickle=False)
    if member.read(1):
        raise _Damaged(f"entry {info.filename!r} has trailing bytes")
    return arr


def _parse_structure(
    source: str, raw: Optional[np.ndarray], entries: dict[str, np.ndarray]
) -> dict[str, Any]:
    """The checked structure record; it must list exactly the stored leaves."""
    if raw is None:
        raise CorruptCheckpointError(source, f"not a funcnn checkpoint: it has no {STRUCTURE_ENTRY} entry")
    try:
        record = json.loads(str(raw.reshape(-1)[0]))
    except (ValueError, IndexError, RecursionError) as err:
        raise CorruptCheckpointError(source, f"unreadable structure record ({err})") from err
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        raise CorruptCheckpointError(source, "not a funcnn checkpoint: unknown structure record format")
    if record.get("version") != FORMAT_VERSION:
        raise CorruptCheckpointError(
            source, f"format version {record.get('version')!r}; this funcnn reads version {FORMAT_VERSION}"
        )
    problem = _record_problem(record)
    if problem:
        raise CorruptCheckpointError(source, f"bad structure record: {problem}")
    if {leaf["entry"] for leaf in record["leaves"]} != set(entries):
        raise CorruptCheckpointError(source, "its structure record and its entries do not match")
    return record


_NODE_TYPES = ("none", "dict", "namedtuple", "list", "tuple", "custom")


def _record_problem(record: dict[str, Any]) -> Optional[str]:
    """What is wrong with the layout of a structure record, or None: the record that _describe writes."""
    nodes, leaves = record.get("nodes"), record.get("leaves")
    if not (isinstance(nodes, list) and isinstance(leaves, list)):
        return "'nodes' and 'leaves' must be lists"
    for node in nodes:
        if not (isinstance(node, dict) and _is_path(node.get("path")) and _is_path(node.get("children"))
                and node.get("type") in _NODE_TYPES and isinstance(node.get("class"), str)):
            return f"bad node {str(node)[:80]}"
    for leaf in leaves:
        if not (isinstance(leaf, dict) and _is_path(leaf.get("path")) and isinstance(leaf.get("entry"), str)):
            return f"bad leaf {str(leaf)[:80]}"
    return None


def _is_path(path: Any) -> bool:
    """A JSON key path: a list of [kind, key] pairs."""
    return isinstance(path, list) and all(
        isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
        and isinstance(entry[1], _JSON_KEY_TYPES)
        for entry in path
    )


def _restore_like(source: str, entries: dict[str, np.ndarray], like: PyTree) -> PyTree:
    pairs, treedef = tree_flatten_with_path(like)
    leaves = []
    for key_path, template in pairs:
        name = keystr(key_path)
        where = name or "the root"
        if name not in entries:
            raise ValueError(f"load {source}: the checkpoint has no leaf at {where}, which `like` has")
        arr = entries[name]
        shape, dtype = _shape_dtype(template)
        if arr.shape != shape or arr.dtype != dtype:
            raise ValueError(
                f"load {source}: the leaf at {where} has shape {arr.shape} and dtype {arr.dtype} "
                f"in the checkpoint, but shape {shape} and dtype {dtype} in `like`"
            )
        leaves.append(arr)
    expected = {keystr(key_path) for key_path, _ in pairs}
    extra = sorted(set(entries) - expected)
    if extra:
        raise ValueError(
            f"load {source}: the checkpoint has a leaf at {extra[0] or 'the root'} that `like` does not have "
            f"({len(extra)} extra leaves in all)"
        )
    return tree_unflatten(treedef, leaves)


def _shape_dtype(template: Any) -> tuple[tuple[int, ...], np.dtype]:
    shape, dtype = getattr(template, "shape", None), getattr(template, "dtype", None)
    if isinstance(shape, tuple) and dtype is not None:
        return shape, np.dtype(dtype)
    arr = np.asarray(template)
    return arr.shape, arr.dtype


def _rebuild(source: str, record: dict[str, Any], entries: dict[str, np.ndarray]) -> PyTree:
    """Plain containers from the structure record, deepest nodes first (no recursion)."""
    built: dict[str, Any] = {_path_id(leaf["path"]): entries[leaf["entry"]] for leaf in record["leaves"]}
    for node in sorted(record["nodes"], key=lambda n: len(n["path"]), reverse=True):
        path = node["path"]
        keys = node["children"]
        missing = [key for key in keys if _path_id(path + [key]) not in built]
        if missing:
            raise CorruptCheckpointError(source, f"the structure record has no child {missing[0]} of {path}")
        values = [built[_path_id(path + [key])] for key in keys]
        built[_path_id(path)] = _make_node(source, node, keys, values)
    root = _path_id([])
    if root not in built:
        raise CorruptCheckpointError(source, "the structure record has no root")
    return built[root]


def _make_node(source: str, node: dict[str, Any], keys: list[_Entry], values: list[Any]) -> Any:
    kind = node["type"]
    if kind == "none":
        return None
    if kind == "list":
        return values
    if kind == "tuple":
        return tuple(values)
    if kind == "dict":
        for key_kind, key in keys:
            if key_kind != "dict":
                raise ValueError(
                    f"load {source}: the dict key {key} of {node['class']} cannot be rebuilt from JSON; "
                    f"pass like= with the original structure"
                )
        return {key: value for (_, key), value in zip(keys, values)}
    if all(key_kind == "attr" for key_kind, _ in keys):
        return {name: value for (_, name), value in zip(keys, values)}
    return values


def _path_id(path: _Path) -> str:
    return json.dumps(path)
