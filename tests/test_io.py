"""Tests for funcnn.io: atomic, pickle-free checkpoints of pytrees."""

import collections
import dataclasses
import json
import os
import re
import zipfile
from typing import NamedTuple

import numpy as np
import pytest

from funcnn import io
from funcnn.tree_util import register_dataclass, register_pytree_node, tree_leaves, tree_structure


class AdamState(NamedTuple):
    count: np.ndarray
    mu: dict
    nu: dict


def params():
    rng = np.random.default_rng(0)
    return {
        "dense_0": {"w": rng.normal(size=(3, 4)).astype(np.float32), "b": np.zeros(4, np.float32)},
        "dense_1": {"w": rng.normal(size=(4, 2)).astype(np.float32), "b": np.zeros(2, np.float32)},
    }


def adam_state():
    p = params()
    zeros = {k: {n: np.zeros_like(v) for n, v in layer.items()} for k, layer in p.items()}
    return AdamState(count=np.array(7, np.int32), mu=zeros, nu=zeros)


def assert_trees_equal(a, b):
    assert tree_structure(a) == tree_structure(b)
    for x, y in zip(tree_leaves(a), tree_leaves(b)):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


def only_file(folder):
    """The checkpoint is the only file left: no temporary files."""
    return sorted(os.listdir(folder))


@pytest.fixture
def path(tmp_path):
    return tmp_path / "ckpt.npz"


# --------------------------------------------------------------------------- round trips


def test_params_round_trip_with_and_without_like(path):
    tree = params()
    io.save(path, tree)
    assert_trees_equal(io.load(path), tree)
    assert_trees_equal(io.load(path, like=tree), tree)
    assert io.load(path)["dense_0"]["w"].dtype == np.float32
    assert only_file(path.parent) == ["ckpt.npz"]


def test_entries_are_named_by_key_path_and_readable_by_numpy(path):
    io.save(str(path), params())
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == [
            "['dense_0']['b']",
            "['dense_0']['w']",
            "['dense_1']['b']",
            "['dense_1']['w']",
            "__structure__",
        ]
        np.testing.assert_array_equal(npz["['dense_1']['w']"], params()["dense_1"]["w"])
        record = json.loads(str(npz["__structure__"][0]))
    assert record["format"] == "funcnn-checkpoint" and record["version"] == 1


def test_namedtuple_state_needs_like_for_its_class(path):
    state = adam_state()
    io.save(path, state)
    restored = io.load(path, like=adam_state())
    assert isinstance(restored, AdamState)
    assert_trees_equal(restored, state)
    plain = io.load(path)
    assert set(plain) == {"count", "mu", "nu"}
    np.testing.assert_array_equal(plain["mu"]["dense_0"]["w"], state.mu["dense_0"]["w"])


def test_plain_structures_are_rebuilt_exactly(path):
    tree = {
        "list": [np.arange(3), (np.ones(2, np.float16), None)],
        "tuple": (np.array([True, False]),),
        "empty": {"d": {}, "l": [], "t": ()},
        "none": None,
        "ints": {7: np.array([1 + 2j]), 10: np.array(2)},
        "nested": [[[np.zeros((0, 5), np.int8)]]],
    }
    io.save(path, tree)
    assert_trees_equal(io.load(path), tree)
    assert io.load(path)["empty"] == {"d": {}, "l": [], "t": ()}


@pytest.mark.parametrize("tree", [np.ones((2, 2), np.float32), None, {}, [], ()], ids=repr)
def test_root_can_be_a_leaf_or_empty(path, tree):
    io.save(path, tree)
    got = io.load(path)
    if isinstance(tree, np.ndarray):
        np.testing.assert_array_equal(got, tree)
        assert got.dtype == np.float32
    else:
        assert got == tree and type(got) is type(tree)


def test_scalars_round_trip_as_0d_arrays(path):
    tree = {"lr": 0.1, "step": 3, "flag": True, "f32": np.float32(2.5), "i8": np.int8(-1)}
    io.save(path, tree)
    got = io.load(path)
    assert all(isinstance(v, np.ndarray) and v.shape == () for v in got.values())
    assert got["lr"].dtype == np.float64 and got["lr"] == 0.1
    assert got["step"].dtype == np.asarray(3).dtype and got["step"] == 3
    assert got["flag"].dtype == np.bool_
    assert got["f32"].dtype == np.float32 and got["i8"].dtype == np.int8
    assert_trees_equal(io.load(path, like=tree), tree)


def test_ordered_and_custom_dict_keys(path):
    tree = collections.OrderedDict([("z", np.ones(1)), ("a", np.zeros(1))])
    io.save(path, tree)
    assert list(io.load(path)) == ["z", "a"]
    assert isinstance(io.load(path, like=tree), collections.OrderedDict)


def test_non_json_dict_keys_need_like(path):
    tree = {(1, 2): np.ones(2)}
    io.save(path, tree)
    with pytest.raises(ValueError, match="pass like="):
        io.load(path)
    assert_trees_equal(io.load(path, like=tree), tree)


def test_compressed_checkpoint(path, tmp_path):
    tree = {"w": np.zeros((100, 100), np.float32)}
    io.save(path, tree, compress=True)
    io.save(tmp_path / "plain.npz", tree)
    assert os.path.getsize(path) < os.path.getsize(tmp_path / "plain.npz") / 10
    assert_trees_equal(io.load(path, like=tree), tree)


def test_save_overwrites_an_existing_checkpoint(path):
    io.save(path, {"w": np.zeros(2)})
    io.save(path, {"w": np.ones(3)})
    np.testing.assert_array_equal(io.load(path)["w"], np.ones(3))
    assert only_file(path.parent) == ["ckpt.npz"]


# --------------------------------------------------------------------------- load(like=...) checks


def test_like_shape_mismatch_names_the_key_path(path):
    io.save(path, params())
    like = params()
    like["dense_1"]["w"] = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"\['dense_1'\]\['w'\] has shape \(4, 2\).*shape \(4, 3\)"):
        io.load(path, like=like)


def test_like_dtype_mismatch_names_the_key_path(path):
    io.save(path, params())
    like = params()
    like["dense_0"]["b"] = like["dense_0"]["b"].astype(np.float64)
    with pytest.raises(ValueError, match=r"\['dense_0'\]\['b'\] has .*dtype float32.*dtype float64"):
        io.load(path, like=like)


def test_like_with_a_missing_or_extra_leaf(path):
    io.save(path, params())
    bigger = params()
    bigger["dense_2"] = {"w": np.zeros(1, np.float32)}
    with pytest.raises(ValueError, match=r"no leaf at \['dense_2'\]\['w'\]"):
        io.load(path, like=bigger)
    smaller = params()
    del smaller["dense_1"]
    with pytest.raises(ValueError, match=r"leaf at \['dense_1'\]\['b'\] that `like` does not have \(2 extra"):
        io.load(path, like=smaller)


def test_like_accepts_shape_dtype_templates(path):
    class Spec:
        def __init__(self, shape, dtype):
            self.shape, self.dtype = shape, dtype

    io.save(path, {"w": np.ones((2, 3), np.float32)})
    got = io.load(path, like={"w": Spec((2, 3), np.float32)})
    np.testing.assert_array_equal(got["w"], np.ones((2, 3)))


# --------------------------------------------------------------------------- refusing what needs pickle


@pytest.mark.parametrize(
    "leaf",
    [
        np.array([object(), 1], dtype=object),
        {1, 2},
        object(),
        np.array([(1, None)], dtype=[("a", "i4"), ("b", "O")]),
    ],
    ids=["object array", "set", "object", "structured with object"],
)
def test_object_leaves_are_refused_naming_the_path(path, leaf):
    with pytest.raises(ValueError, match=r"leaf at \['bad'\]\[1\].*never pickle"):
        io.save(path, {"bad": [np.zeros(1), leaf]})
    assert not path.exists()
    assert only_file(path.parent) == []


def test_a_failed_save_keeps_the_previous_checkpoint(path):
    io.save(path, params())
    before = path.read_bytes()
    with pytest.raises(ValueError, match="object array"):
        io.save(path, {"w": np.ones(3), "z": np.array([None], dtype=object)})
    assert path.read_bytes() == before
    assert only_file(path.parent) == ["ckpt.npz"]


def test_an_interrupted_write_keeps_the_previous_checkpoint(path, monkeypatch):
    io.save(path, params())
    before = path.read_bytes()
    real_write = np.lib.format.write_array
    calls = []

    def write_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # fail after the first entry is already on disk
            raise OSError("No space left on device")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(OSError, match="No space left"):
        io.save(path, {k: v for k, v in params().items()})
    monkeypatch.undo()
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert only_file(path.parent) == ["ckpt.npz"]
    assert_trees_equal(io.load(path, like=params()), params())


def test_a_failed_rename_leaves_no_temporary_file(path, monkeypatch):
    io.save(path, {"w": np.zeros(1)})

    def fail(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(io.os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        io.save(path, {"w": np.ones(1)})
    monkeypatch.undo()
    np.testing.assert_array_equal(io.load(path)["w"], np.zeros(1))
    assert only_file(path.parent) == ["ckpt.npz"]


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.save(tmp_path / "no" / "such" / "dir.npz", params())


# --------------------------------------------------------------------------- corrupt files


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_truncated_checkpoint_is_a_clear_error(path, keep):
    io.save(path, params())
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(io.CorruptCheckpointError, match="corrupt checkpoint") as info:
        io.load(path)
    assert info.value.path == str(path) and str(path) in str(info.value)


def test_flipped_byte_in_data_fails_the_crc(path):
    io.save(path, {"w": np.zeros(1000, np.float32)})
    raw = bytearray(path.read_bytes())
    raw[2000] ^= 0xFF  # inside the array data
    path.write_bytes(bytes(raw))
    with pytest.raises(io.CorruptCheckpointError, match="CRC") as info:
        io.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "payload",
    [b"", b"garbage bytes, not a zip" * 10, b"\x80\x04\x95 pickle-ish", b"PK\x03\x04" + b"\x00" * 50],
    ids=["empty", "garbage", "pickle", "bad zip"],
)
def test_garbage_file_is_a_clear_error(path, payload):
    path.write_bytes(payload)
    with pytest.raises(io.CorruptCheckpointError) as info:
        io.load(path)
    assert str(path) in str(info.value)


def test_npy_file_and_foreign_npz_are_refused(path, tmp_path):
    npy = tmp_path / "a.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(io.CorruptCheckpointError, match="corrupt checkpoint .*BadZipFile"):
        io.load(npy)
    np.savez(path, w=np.ones(3))
    with pytest.raises(io.CorruptCheckpointError, match="not a funcnn checkpoint: it has no __structure__ entry"):
        io.load(path)


def test_pickled_entries_are_never_loaded(path):
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("['w'].npy", "w") as member:
            np.lib.format.write_array(member, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(io.CorruptCheckpointError, match="corrupt checkpoint .*pickle"):
        io.load(path)


def test_tampered_structure_record_is_detected(path):
    io.save(path, {"w": np.ones(2)})
    with zipfile.ZipFile(path, "a") as archive:
        with archive.open("['extra'].npy", "w") as member:
            np.lib.format.write_array(member, np.ones(1))
    with pytest.raises(io.CorruptCheckpointError, match="structure record and its entries do not match"):
        io.load(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "nothing.npz")


# --------------------------------------------------------------------------- registered classes


@register_dataclass
@dataclasses.dataclass
class DenseParams:
    w: np.ndarray
    b: np.ndarray


class Pair:
    def __init__(self, first, second):
        self.first, self.second = first, second


register_pytree_node(Pair, lambda p: ((p.first, p.second), None), lambda aux, children: Pair(*children))


def test_registered_classes_round_trip_with_like(path):
    tree = {"layer": DenseParams(w=np.ones((2, 2), np.float32), b=np.zeros(2, np.float32)),
            "pair": Pair(np.arange(2), np.arange(3))}
    io.save(path, tree)
    restored = io.load(path, like=tree)
    assert isinstance(restored["layer"], DenseParams) and isinstance(restored["pair"], Pair)
    np.testing.assert_array_equal(restored["pair"].second, np.arange(3))
    plain = io.load(path)
    assert set(plain["layer"]) == {"w", "b"}  # field names kept
    assert isinstance(plain["pair"], list) and len(plain["pair"]) == 2  # no names: a list
    np.testing.assert_array_equal(plain["pair"][1], np.arange(3))


def test_malformed_structure_record_is_a_clear_error(path):
    records = [
        "not json",
        json.dumps(["a", "list"]),
        json.dumps({"format": "funcnn-checkpoint", "version": 99, "nodes": [], "leaves": []}),
        json.dumps({"format": "funcnn-checkpoint", "version": 1, "nodes": [], "leaves": [{"x": 1}]}),
        json.dumps({"format": "funcnn-checkpoint", "version": 1, "nodes": [{"path": []}],
                    "leaves": [{"entry": "['w']", "path": [["dict", "w"]]}]}),
    ]
    for text in records:
        with zipfile.ZipFile(path, "w") as archive:
            for name, arr in (("['w']", np.ones(2)), ("__structure__", np.array([text]))):
                with archive.open(name + ".npy", "w") as member:
                    np.lib.format.write_array(member, arr)
        with pytest.raises(io.CorruptCheckpointError, match=f"corrupt checkpoint {re.escape(str(path))}: "):
            io.load(path)


def test_save_into_a_missing_folder_names_the_folder(tmp_path):
    target = tmp_path / "missing" / "ck.npz"
    with pytest.raises(FileNotFoundError, match="missing.*does not exist"):
        io.save(str(target), {"w": np.ones(2)})
