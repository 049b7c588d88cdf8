"""funcnn.io under faults: killed saves, long names, full disks, and damaged or lying files."""

import errno
import json
import os
import random
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funcnn import io
from funcnn.tree_util import tree_leaves, tree_structure


def tree():
    return {
        "w": np.arange(24, dtype=np.float32).reshape(4, 6),
        "b": [np.ones(3), None, (np.array(7, np.int32),)],
        "empty": np.zeros((0, 2), np.int8),
    }


def assert_same_tree(got, want):
    assert tree_structure(got) == tree_structure(want)
    for x, y in zip(tree_leaves(got), tree_leaves(want)):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


def others(folder, keep="ckpt.npz"):
    """Every name in ``folder`` except the checkpoint itself."""
    return sorted(name for name in os.listdir(folder) if name != keep)


def age(path, seconds):
    """Make ``path`` look ``seconds`` older, as if that much time had passed since it was written."""
    stat = os.stat(path, follow_symlinks=False)
    os.utime(path, (stat.st_atime - seconds, stat.st_mtime - seconds), follow_symlinks=False)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "ckpt.npz"


STALE = io.STALE_TEMPORARY_SECONDS + 60


# --------------------------------------------------------------------------- temporary files


@pytest.mark.parametrize("name", ["a", "x" * 100, "x" * 237, "x" * 238, "x" * 250, "x" * 255, "é" * 127],
                         ids=lambda n: f"{len(n.encode())} bytes")
def test_any_name_that_fits_can_be_saved(tmp_path, name):
    target = tmp_path / name
    io.save(target, tree())
    assert_same_tree(io.load(target), tree())
    assert os.listdir(tmp_path) == [name]


def test_temporary_names_are_short_and_name_the_target(path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(io.os, "replace", spy)
    io.save(path, tree())
    io.save(path.parent / ("y" * 255), tree())
    assert re.fullmatch(r"\.ckpt\.npz\.[0-9a-f]{12}\.[0-9a-f]{8}\.funcnn-tmp", seen[0])
    assert re.fullmatch(r"\.y{24}\.[0-9a-f]{12}\.[0-9a-f]{8}\.funcnn-tmp", seen[1])


KILLED_SAVE = """
import sys
import numpy as np
from funcnn import io

real_write = np.lib.format.write_array

def write_then_hang(*args, **kwargs):
    real_write(*args, **kwargs)
    print("writing", flush=True)
    sys.stdin.read()  # never returns: the test kills this process here

np.lib.format.write_array = write_then_hang
io.save(sys.argv[1], {"a": np.ones((256, 256), np.float32), "b": np.zeros(256, np.float32)})
"""


def kill_mid_save(path):
    """Run a save in another process and SIGKILL it once it has written its first entry."""
    with subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        line = proc.stdout.readline()
        proc.kill()
        proc.wait()
        assert line == b"writing\n", proc.stderr.read().decode()


def test_a_later_save_removes_the_temporary_of_a_killed_save(path):
    io.save(path, {"w": np.zeros(2)})
    kill_mid_save(path)
    (leftover,) = others(path.parent)
    assert leftover.endswith(".funcnn-tmp") and os.path.getsize(path.parent / leftover) > 256 * 256 * 4
    np.testing.assert_array_equal(io.load(path)["w"], np.zeros(2))  # the killed save changed nothing

    io.save(path, {"w": np.ones(2)})
    assert others(path.parent) == [leftover]  # young: it could be a save still running elsewhere
    age(path.parent / leftover, STALE)
    io.save(path, {"w": np.full(2, 2.0)})
    assert others(path.parent) == []
    np.testing.assert_array_equal(io.load(path)["w"], np.full(2, 2.0))


def test_temporaries_of_earlier_versions_are_removed_when_stale(path):
    old, young = path.parent / ".ckpt.npz.0123456789ab.tmp", path.parent / ".ckpt.npz.ba9876543210.tmp"
    old.write_bytes(b"x" * 100)
    young.write_bytes(b"x" * 100)
    age(old, STALE)
    io.save(path, tree())
    assert others(path.parent) == [young.name]


def test_cleanup_leaves_every_other_file_alone(path):
    folder = path.parent
    other_target = folder / (io._temporary_prefix("other.npz") + "0123abcd.funcnn-tmp")
    lookalikes = [
        other_target,                                                   # another checkpoint's temporary
        folder / ".other.npz.0123456789ab.tmp",                         # ... from an earlier version
        folder / "ckpt.npz.bak",
        folder / ".ckpt.npz.tmp",
        folder / ".ckpt.npz.0123456789ab.tmp.keep",
        folder / ".ckpt.npz.0123456789AB.tmp",
        folder / (io._temporary_prefix("ckpt.npz") + "0123abcd.funcnn-tmp.keep"),
        folder / (io._temporary_prefix("ckpt.npz") + "0123abc.funcnn-tmp"),
    ]
    for p in lookalikes:
        p.write_bytes(b"mine")
    a_folder = folder / (io._temporary_prefix("ckpt.npz") + "0123abcd.funcnn-tmp")
    a_folder.mkdir()
    a_link = folder / ".ckpt.npz.aaaaaaaaaaaa.tmp"
    a_link.symlink_to(folder / "ckpt.npz.bak")
    for p in [*lookalikes, a_folder, a_link]:
        age(p, STALE)
    io.save(path, tree())
    assert others(folder) == sorted(p.name for p in [*lookalikes, a_folder, a_link])


# --------------------------------------------------------------------------- errors while saving


def fail_writing_with(monkeypatch, err):
    real_write = np.lib.format.write_array
    calls = []

    def write_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first entry is already in the temporary file
            raise err
        return real_write(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)


def test_a_full_disk_names_the_destination_and_keeps_the_errno(path, monkeypatch):
    io.save(path, tree())
    before = path.read_bytes()
    original = OSError(errno.ENOSPC, "No space left on device")
    fail_writing_with(monkeypatch, original)
    with pytest.raises(OSError) as info:
        io.save(path, {"a": np.ones(3), "b": np.ones(3)})
    err = info.value
    assert type(err) is OSError and err.errno == errno.ENOSPC and err.filename == str(path)
    assert str(path) in str(err) and "No space left on device" in str(err)
    assert err.__cause__ is original
    assert path.read_bytes() == before and others(path.parent) == []


def test_a_failed_rename_keeps_the_oserror_subclass(path, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", src)

    monkeypatch.setattr(io.os, "replace", refuse)
    with pytest.raises(PermissionError, match=re.escape(repr(str(path)))) as info:
        io.save(path, tree())
    assert info.value.errno == errno.EACCES and info.value.filename == str(path)
    assert os.listdir(path.parent) == []


def test_an_oserror_without_errno_still_names_the_destination(path, monkeypatch):
    fail_writing_with(monkeypatch, OSError("device went away"))
    with pytest.raises(OSError, match=f"device went away .*{re.escape(str(path))}"):
        io.save(path, {"a": np.ones(3), "b": np.ones(3)})
    assert os.listdir(path.parent) == []


def test_a_failed_fsync_removes_the_temporary(path, monkeypatch):
    def fail(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(io.os, "fsync", fail)
    with pytest.raises(OSError, match="Input/output error") as info:
        io.save(path, tree())
    assert info.value.errno == errno.EIO and info.value.filename == str(path)
    assert os.listdir(path.parent) == []


# --------------------------------------------------------------------------- damaged and lying files


def write_archive(path, members, compression=zipfile.ZIP_STORED):
    """A zip of raw ``.npy`` members: name -> (header dict, data bytes) or array."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, member in members.items():
            with archive.open(name + ".npy", "w") as f:
                if isinstance(member, np.ndarray):
                    np.lib.format.write_array(f, member)
                else:
                    header, data = member
                    np.lib.format.write_array_header_1_0(f, header)
                    f.write(data)


def record_for_w():
    return json.dumps({"format": "funcnn-checkpoint", "version": 1,
                       "nodes": [{"path": [], "type": "dict", "class": "builtins.dict", "children": [["dict", "w"]]}],
                       "leaves": [{"path": [["dict", "w"]], "entry": "['w']"}]})


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
@pytest.mark.parametrize("shape", [(10**12,), (10**6, 10**6), (-2, -8)], ids=str)
def test_a_declared_shape_larger_than_the_entry_is_corrupt(path, compression, shape):
    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    write_archive(path, {"['w']": (header, bytes(64)), "__structure__": np.array([record_for_w()])}, compression)
    with pytest.raises(io.CorruptCheckpointError, match=r"declares shape .* but holds 64 bytes of data") as info:
        io.load(path)
    assert info.value.path == str(path)


def test_a_declared_shape_smaller_than_the_entry_is_corrupt(path):
    header = {"descr": "<f4", "fortran_order": False, "shape": (4,)}
    write_archive(path, {"['w']": (header, bytes(20)), "__structure__": np.array([record_for_w()])})
    with pytest.raises(io.CorruptCheckpointError, match=r"shape \(4,\) of float32 \(16 bytes\) but holds 20"):
        io.load(path)


def patch_directory(path, offset, value):
    """Overwrite a 2-byte field at ``offset`` in every central directory record of the zip."""
    raw = bytearray(path.read_bytes())
    for match in re.finditer(b"PK\x01\x02", bytes(raw)):
        raw[match.start() + offset: match.start() + offset + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("method", [1, 12, 14, 99], ids=["shrunk", "bzip2", "lzma", "unknown"])
def test_an_unsupported_compression_method_is_corrupt(path, method):
    io.save(path, tree())
    patch_directory(path, 10, method)  # the compression method field
    with pytest.raises(io.CorruptCheckpointError, match=f"compression method {method}"):
        io.load(path)


def test_an_entry_size_the_file_cannot_hold_is_corrupt(path):
    write_archive(path, {"['w']": np.ones(4, np.float32), "__structure__": np.array([record_for_w()])})
    raw = bytearray(path.read_bytes())
    start = raw.index(b"PK\x01\x02")
    raw[start + 24: start + 28] = (2**31).to_bytes(4, "little")  # the uncompressed size field
    path.write_bytes(bytes(raw))
    with pytest.raises(io.CorruptCheckpointError, match="claims 2147483648 bytes, more than a file of"):
        io.load(path)


@pytest.mark.parametrize("text", [
    "{not json",
    "[" * 100_000,
    json.dumps({"format": "funcnn-checkpoint", "version": 1, "nodes": [
        {"path": [], "type": "dict", "class": "builtins.dict", "children": [["dict", "w", "extra"]]}],
        "leaves": [{"path": [["dict", "w"]], "entry": "['w']"}]}),
    json.dumps({"format": "funcnn-checkpoint", "version": 1, "nodes": [
        {"path": [], "type": "dict", "class": "builtins.dict", "children": [["dict", ["w"]]]}],
        "leaves": [{"path": [["dict", "w"]], "entry": "['w']"}]}),
    json.dumps({"format": "funcnn-checkpoint", "version": 1, "nodes": [
        {"path": [], "type": "dict", "class": "builtins.dict", "children": [["dict", "v"]]}],
        "leaves": [{"path": [["dict", "w"]], "entry": "['w']"}]}),
    json.dumps({"format": "funcnn-checkpoint", "version": 1, "nodes": "many",
                "leaves": [{"path": [["dict", "w"]], "entry": "['w']"}]}),
    json.dumps({"format": "funcnn-checkpoint", "version": 2, "nodes": [], "leaves": []}),
], ids=["syntax", "deep", "long key", "list key", "missing child", "nodes not a list", "version"])
def test_a_bad_structure_record_is_corrupt(path, text):
    write_archive(path, {"['w']": np.ones(2), "__structure__": np.array([text])})
    with pytest.raises(io.CorruptCheckpointError, match=f"^corrupt checkpoint {re.escape(str(path))}: "):
        io.load(path)


def test_the_error_pickles_and_is_a_value_error():
    import pickle

    err = pickle.loads(pickle.dumps(io.CorruptCheckpointError("a.npz", "cut short")))
    assert isinstance(err, ValueError) and (err.path, err.reason) == ("a.npz", "cut short")
    assert str(err) == "corrupt checkpoint a.npz: cut short"


def mutations(raw, rng, count):
    """Damaged copies of ``raw``: cut short, or with 1-3 bytes changed (half of them in the zip directory)."""
    for _ in range(count):
        damaged = bytearray(raw)
        if rng.random() < 0.2:
            yield bytes(damaged[: rng.randrange(len(raw))])
            continue
        start = len(raw) - 300 if rng.random() < 0.5 else 0
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(start, len(raw))] = rng.randrange(256)
        yield bytes(damaged)


@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_fuzz_damaged_files_load_right_or_raise_corrupt(path, compress):
    io.save(path, tree(), compress=compress)
    raw = path.read_bytes()
    outcomes = {"loaded": 0, "corrupt": 0}
    for damaged in mutations(raw, random.Random(20240 + compress), 600):
        path.write_bytes(damaged)
        try:
            got = io.load(path)
        except io.CorruptCheckpointError as err:
            assert err.path == str(path)
            outcomes["corrupt"] += 1
        else:
            assert_same_tree(got, tree())  # only bytes nobody reads (dates, comments) were hit
            outcomes["loaded"] += 1
    assert outcomes["corrupt"] > 400


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def places(obj, out):
    """Every (container, key) in a JSON value, iteratively."""
    stack = [obj]
    while stack:
        node = stack.pop()
        keys = range(len(node)) if isinstance(node, list) else node if isinstance(node, dict) else ()
        for key in keys:
            out.append((node, key))
            stack.append(node[key])
    return out


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.integers(0, 10**6), value=JSON_VALUES)
def test_fuzz_structure_records_load_or_raise_corrupt(path, where, value):
    tree_ = {"w": np.ones(2), "l": [np.zeros(1), None, ()], "t": (np.int8(3),)}
    io.save(path, tree_)
    with np.load(path) as npz:
        members = {name: npz[name] for name in npz.files}
    record = json.loads(str(members["__structure__"][0]))
    spots = places(record, [])
    container, key = spots[where % len(spots)]
    container[key] = value
    members["__structure__"] = np.array([json.dumps(record)])
    write_archive(path, members)
    try:
        io.load(path)
    except io.CorruptCheckpointError:
        pass
    except ValueError as err:  # a record can be valid yet name a key that JSON cannot restore
        assert "pass like=" in str(err)
