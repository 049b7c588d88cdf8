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
save therefore leaves the previous checkpoint untouched.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
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

__all__ = ["load", "save"]

PathLike = Union[str, "os.PathLike[str]"]

STRUCTURE_ENTRY = "__structure__"
FORMAT_NAME = "funcnn-checkpoint"
FORMAT_VERSION = 1

# JSON-encoded key entries and paths: an entry is [kind, key].
_Entry = list[Any]
_Path = list[_Entry]


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
        Python objects); the message names the leaf's key path. The previous
        file at ``path``, if any, is left as it was.

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
    ValueError
        If the file is truncated, corrupt or not a funcnn checkpoint (the
        message names the file), or if it does not match ``like``: the
        message names the key path of the first leaf that is missing, extra,
        or of another shape or dtype.
    FileNotFoundError
        If ``path`` does not exist.

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
    try:
        return _rebuild(source, record, entries)
    except (KeyError, TypeError, IndexError) as err:
        raise ValueError(f"{source}: corrupt checkpoint: bad structure record ({err!r})") from err


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
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as f:
            with zipfile.ZipFile(f, "w", compression=compression, allowZip64=True) as archive:
                for name, arr in entries.items():
                    with archive.open(name + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, arr, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _sync_folder(folder)


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


def _read_entries(source: str) -> dict[str, np.ndarray]:
    """Every ``.npy`` entry of the archive, read fully (so CRCs are checked)."""
    entries = {}
    with open(source, "rb") as f:
        try:
            with zipfile.ZipFile(f) as archive:
                for info in archive.infolist():
                    if not info.filename.endswith(".npy"):
                        raise ValueError(f"unexpected entry {info.filename!r}")
                    with archive.open(info) as member:
                        arr = np.lib.format.read_array(member, allow_pickle=False)
                        if member.read():
                            raise ValueError(f"entry {info.filename!r} has trailing bytes")
                    entries[info.filename[: -len(".npy")]] = arr
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, UnicodeDecodeError) as err:
            raise ValueError(
                f"{source}: not a readable funcnn checkpoint (truncated or corrupt?): "
                f"{type(err).__name__}: {err}"
            ) from err
    return entries


def _parse_structure(
    source: str, raw: Optional[np.ndarray], entries: dict[str, np.ndarray]
) -> dict[str, Any]:
    """The checked structure record; it must list exactly the stored leaves."""
    if raw is None:
        raise ValueError(f"{source}: not a funcnn checkpoint: it has no {STRUCTURE_ENTRY} entry")
    try:
        record = json.loads(str(raw.reshape(-1)[0]))
        ok = record.get("format") == FORMAT_NAME and isinstance(record.get("nodes"), list)
    except (ValueError, IndexError, AttributeError) as err:
        raise ValueError(f"{source}: corrupt checkpoint: unreadable structure record ({err})") from err
    if not ok:
        raise ValueError(f"{source}: not a funcnn checkpoint: unknown structure record format")
    if record.get("version") != FORMAT_VERSION:
        raise ValueError(f"{source}: checkpoint format version {record.get('version')} is not supported")
    try:
        stored = {leaf["entry"] for leaf in record["leaves"]}
    except (KeyError, TypeError) as err:
        raise ValueError(f"{source}: corrupt checkpoint: bad structure record ({err!r})") from err
    if stored != set(entries):
        raise ValueError(
            f"{source}: corrupt checkpoint: its structure record and its entries do not match"
        )
    return record  # type: ignore[no-any-return]


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
        values = [built[_path_id(path + [key])] for key in keys]
        built[_path_id(path)] = _make_node(source, node, keys, values)
    root = _path_id([])
    if root not in built:
        raise ValueError(f"{source}: corrupt checkpoint: the structure record has no root")
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
