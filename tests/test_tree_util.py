"""Tests for funcnn.tree_util and its short aliases in funcnn.tree."""

from __future__ import annotations

import collections
import dataclasses
import operator
import re
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from funcnn import tree
from funcnn import tree_util as tu
from funcnn.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey


class Point(NamedTuple):
    x: Any
    y: Any


class Other(NamedTuple):
    x: Any
    y: Any


class Box:
    """Registered with register_pytree_node, no keys: children get flat indices."""

    def __init__(self, items: list[Any], label: str) -> None:
        self.items = items
        self.label = label


tu.register_pytree_node(Box, lambda b: (b.items, b.label), lambda label, ch: Box(list(ch), label))


class Named:
    """Registered with a flatten_with_keys function."""

    def __init__(self, first: Any, second: Any) -> None:
        self.first = first
        self.second = second


tu.register_pytree_node(
    Named,
    lambda n: ((n.first, n.second), None),
    lambda aux, ch: Named(*ch),
    lambda n: (((GetAttrKey("first"), n.first), (GetAttrKey("second"), n.second)), None),
)


@tu.register_pytree_node_class
class Scaled:
    def __init__(self, value: Any, scale: float) -> None:
        self.value = value
        self.scale = scale

    def tree_flatten(self) -> tuple[tuple[Any], float]:
        return (self.value,), self.scale

    @classmethod
    def tree_unflatten(cls, scale: float, children: tuple[Any, ...]) -> Scaled:
        return cls(children[0], scale)


@tu.register_dataclass
@dataclasses.dataclass
class Dense:
    w: Any
    b: Any
    activation: str = dataclasses.field(default="relu", metadata={"static": True})


@tu.register_dataclass
@dataclasses.dataclass(frozen=True)
class Frozen:
    a: Any
    cached: int = dataclasses.field(default=0, init=False)


# --------------------------------------------------------------------------- helpers


def assert_identical(a: Any, b: Any) -> None:
    """Same containers (exact types, dict key order, aux data) and equal leaves."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        if isinstance(a, collections.defaultdict):
            assert a.default_factory is b.default_factory
        for k in a:
            assert_identical(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_identical(x, y)
    else:
        assert a == b


def sorted_dicts(t: Any) -> Any:
    """What unflatten gives back: plain dicts and defaultdicts rebuilt in sorted key order."""
    if isinstance(t, collections.OrderedDict):
        return collections.OrderedDict((k, sorted_dicts(v)) for k, v in t.items())
    if isinstance(t, collections.defaultdict):
        items = {k: sorted_dicts(t[k]) for k in sorted(t)}
        return collections.defaultdict(t.default_factory, items)
    if isinstance(t, dict):
        return {k: sorted_dicts(t[k]) for k in sorted(t)}
    if isinstance(t, Point):
        return Point(sorted_dicts(t.x), sorted_dicts(t.y))
    if isinstance(t, (list, tuple)):
        return type(t)(sorted_dicts(v) for v in t)
    return t


def get_at(t: Any, path: tu.KeyPath) -> Any:
    for entry in path:
        if isinstance(entry, DictKey):
            t = t[entry.key]
        elif isinstance(entry, SequenceKey):
            t = t[entry.idx]
        else:
            assert isinstance(entry, GetAttrKey)
            t = getattr(t, entry.name)
    return t


leaves_st = st.one_of(
    st.integers(-5, 5),
    st.floats(-10, 10, allow_nan=False),
    hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int64]),
        hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
        elements=st.integers(-3, 3),
    ),
    st.just(np.float32(1.5)),
)
keys_st = st.text(alphabet="abcd_0", min_size=1, max_size=3)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    dicts = st.dictionaries(keys_st, children, max_size=3)
    return st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        dicts,
        st.builds(Point, children, children),
        dicts.map(collections.OrderedDict),
        dicts.map(lambda d: collections.defaultdict(list, d)),
    )


trees_st = st.recursive(leaves_st | st.none(), _containers, max_leaves=12)


def nested_list(depth: int, leaf: Any = 0) -> Any:
    t = leaf
    for _ in range(depth):
        t = [t]
    return t


# --------------------------------------------------------------------------- round trips


@given(trees_st)
def test_flatten_unflatten_round_trip(t: Any) -> None:
    leaves, treedef = tu.tree_flatten(t)
    assert len(leaves) == treedef.num_leaves
    assert_identical(tu.tree_unflatten(treedef, leaves), sorted_dicts(t))
    assert_identical(treedef.unflatten(iter(leaves)), sorted_dicts(t))


@given(trees_st)
def test_leaves_and_structure_agree_with_flatten(t: Any) -> None:
    leaves, treedef = tu.tree_flatten(t)
    assert tu.tree_structure(t) == treedef
    assert all(a is b for a, b in zip(tu.tree_leaves(t), leaves, strict=True))


@given(trees_st)
def test_with_path_agrees_with_flatten(t: Any) -> None:
    leaves, treedef = tu.tree_flatten(t)
    pairs, path_treedef = tu.tree_flatten_with_path(t)
    assert path_treedef == treedef
    assert all(a is b for (_, a), b in zip(pairs, leaves, strict=True))
    for path, leaf in pairs:
        assert get_at(t, path) is leaf
    assert [p for p, _ in tu.tree_leaves_with_path(t)] == [p for p, _ in pairs]


@given(trees_st)
def test_map_identity_keeps_structure(t: Any) -> None:
    mapped = tu.tree_map(lambda x: x, t)
    assert tu.tree_structure(mapped) == tu.tree_structure(t)
    assert_identical(mapped, sorted_dicts(t))


@given(trees_st)
def test_equal_structures_hash_equal(t: Any) -> None:
    a = tu.tree_structure(t)
    b = tu.tree_structure(tu.tree_map(lambda x: "leaf", t))
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1


@given(trees_st)
def test_check_same_structure_accepts_itself(t: Any) -> None:
    tu.check_same_structure(t, tu.tree_map(lambda x: 0, t))


@given(trees_st, st.data())
def test_errors_name_the_changed_leaf(t: Any, data: st.DataObject) -> None:
    leaves, treedef = tu.tree_flatten(t)
    assume(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1))
    path = tu.tree_leaves_with_path(t)[i][0]
    where = tu.keystr(path) if path else "the root"
    original = leaves[i]
    leaves[i] = [original, original]  # a list where there was a leaf
    changed = treedef.unflatten(leaves)
    with pytest.raises(ValueError) as info:
        tu.check_same_structure(t, changed)
    assert str(info.value).startswith(
        f"check_same_structure: the trees differ at {where}: the first tree has a leaf"
    )
    assert str(info.value).endswith("and the second tree has a list of length 2.")
    # tree_map accepts t as a prefix of the changed tree, and passes the list whole.
    subtrees = treedef.flatten_up_to(changed)
    assert type(subtrees[i]) is list and subtrees[i][0] is original
    kinds = tu.tree_leaves(tu.tree_map(lambda x, y: type(y).__name__, t, changed))
    assert kinds[i] == "list" and kinds.count("list") == 1
    with pytest.raises(ValueError, match=re.escape(f"differ at {where}: the first tree has a list")):
        tu.tree_map(lambda x, y: x, changed, t)


# --------------------------------------------------------------------------- node types


def test_dicts_flatten_in_sorted_key_order() -> None:
    leaves, treedef = tu.tree_flatten({"b": 1, "a": 2, "c": 3})
    assert leaves == [2, 1, 3]
    rebuilt = treedef.unflatten(leaves)
    assert type(rebuilt) is dict and list(rebuilt) == ["a", "b", "c"]
    assert treedef == tu.tree_structure({"c": 0, "a": 0, "b": 0})
    assert tu.tree_leaves({(1, "b"): "y", (1, "a"): "x", (0, "z"): "w"}) == ["w", "x", "y"]
    assert tu.tree_leaves({10: "b", 2: "a", -1.5: "c"}) == ["c", "a", "b"]


def test_dict_with_unorderable_keys_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match="sorted key order.*OrderedDict"):
        tu.tree_flatten({1: "a", "x": "b"})


def test_ordered_dict_keeps_insertion_order() -> None:
    t = collections.OrderedDict([("b", 1), ("a", 2)])
    leaves, treedef = tu.tree_flatten(t)
    assert leaves == [1, 2]
    assert_identical(treedef.unflatten(leaves), t)
    assert treedef != tu.tree_structure(collections.OrderedDict([("a", 1), ("b", 2)]))
    assert treedef != tu.tree_structure({"a": 1, "b": 2})
    pairs = tu.tree_leaves_with_path(t)
    assert [tu.keystr(p) for p, _ in pairs] == ["['b']", "['a']"]


def test_defaultdict_keeps_its_factory() -> None:
    t = collections.defaultdict(list, {"b": 1, "a": 2})
    out = tu.tree_map(lambda x: x * 10, t)
    assert type(out) is collections.defaultdict and out.default_factory is list
    assert dict(out) == {"a": 20, "b": 10}
    assert tu.tree_structure(t) != tu.tree_structure(collections.defaultdict(dict, t))


def test_none_is_a_node_without_children() -> None:
    assert tu.tree_leaves(None) == []
    assert tu.tree_leaves([None, 1, {"a": None}]) == [1]
    treedef = tu.tree_structure(None)
    assert treedef.num_leaves == 0 and treedef.num_nodes == 1
    assert treedef.unflatten([]) is None
    assert tu.tree_map(lambda x: x + 1, [None, 1]) == [None, 2]


def test_is_leaf_stops_recursion() -> None:
    t = {"a": (1, 2), "b": [None, (3, 4)]}
    leaves = tu.tree_leaves(t, is_leaf=lambda x: isinstance(x, tuple))
    assert leaves == [(1, 2), (3, 4)]
    assert tu.tree_leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]
    out = tu.tree_map(lambda x: sum(x), t, is_leaf=lambda x: isinstance(x, tuple))
    assert out == {"a": 3, "b": [None, 7]}
    pairs, _ = tu.tree_flatten_with_path(t, is_leaf=lambda x: isinstance(x, tuple))
    assert [tu.keystr(p) for p, _ in pairs] == ["['a']", "['b'][1]"]


def test_named_tuples_keep_their_class() -> None:
    p = Point(np.ones(2), 3)
    out = tu.tree_map(lambda x: x * 2, p)
    assert type(out) is Point and out.y == 6
    assert tu.tree_structure(p) != tu.tree_structure(Other(1, 2))
    assert tu.tree_structure(p) != tu.tree_structure((1, 2))
    assert [tu.keystr(k) for k, _ in tu.tree_leaves_with_path(p)] == [".x", ".y"]


def test_everything_else_is_a_leaf() -> None:
    class Thing:
        pass

    class MyDict(dict):  # type: ignore[type-arg]
        pass

    thing, arr, sub = Thing(), np.zeros((2, 2)), MyDict(a=1)
    leaves = [1, 2.0, np.float32(3), arr, "text", thing, sub, b"x", 1j]
    assert tu.tree_leaves(leaves) == leaves
    assert tu.tree_structure(arr) == tu.tree_structure(5)
    assert repr(tu.tree_structure(thing)) == "PyTreeDef(*)"


# --------------------------------------------------------------------------- key paths


def test_keystr() -> None:
    assert tu.keystr((DictKey("dense_0"), DictKey("w"))) == "['dense_0']['w']"
    assert tu.keystr((SequenceKey(0), GetAttrKey("bias"))) == "[0].bias"
    assert tu.keystr((DictKey(3), FlattenedIndexKey(1))) == "[3][<flat index 1>]"
    assert tu.keystr(()) == ""
    path = (DictKey("dense_0"), SequenceKey(1), GetAttrKey("w"), FlattenedIndexKey(2))
    assert tu.keystr(path, simple=True, separator="/") == "dense_0/1/w/2"
    assert tu.keystr(path, separator=" ") == "['dense_0'] [1] .w [<flat index 2>]"


def test_key_entries_are_hashable_values() -> None:
    assert DictKey("a") == DictKey("a") and hash(DictKey("a")) == hash(DictKey("a"))
    assert DictKey(0) != SequenceKey(0)
    assert repr(GetAttrKey("w")) == "GetAttrKey(name='w')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        DictKey("a").key = "b"  # type: ignore[misc]


def test_paths_of_a_model() -> None:
    params = [{"w": 1, "b": 2}, Dense(w=3, b=4), Point(5, None), Box([6, 7], "box"), Named(8, 9)]
    paths = [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(params)]
    assert paths == [
        "[0]['b']",
        "[0]['w']",
        "[1].w",
        "[1].b",
        "[2].x",
        "[3][<flat index 0>]",
        "[3][<flat index 1>]",
        "[4].first",
        "[4].second",
    ]
    assert tu.tree_leaves(params) == [2, 1, 3, 4, 5, 6, 7, 8, 9]


def test_map_with_path() -> None:
    t = {"dense_0": {"w": 1, "b": 2}}
    out = tu.tree_map_with_path(lambda p, x, y: f"{tu.keystr(p)}={x + y}", t, t)
    assert out == {"dense_0": {"b": "['dense_0']['b']=4", "w": "['dense_0']['w']=2"}}
    with pytest.raises(ValueError, match=re.escape("tree_map_with_path: the trees differ at")):
        tu.tree_map_with_path(lambda p, x, y: x, t, {"dense_0": [1, 2]})


# --------------------------------------------------------------------------- map, reduce, all


def test_map_over_several_trees() -> None:
    params = {"w": np.ones(3), "b": [1.0, 2.0]}
    grads = {"b": [0.5, 0.5], "w": np.full(3, 2.0)}
    out = tu.tree_map(lambda p, g, s: p - s * g, params, grads, {"w": 1.0, "b": [2.0, 0.0]})
    np.testing.assert_array_equal(out["w"], -np.ones(3))
    assert out["b"] == [0.0, 2.0]


def test_map_with_prefix_structure() -> None:
    rest = {"a": [7, 8], "b": {"x": 1, "y": 2}}
    out = tu.tree_map(lambda n, sub: tu.tree_leaves(sub)[:n], {"a": 1, "b": 2}, rest)
    assert out == {"a": [7], "b": [1, 2]}
    # A leaf of the first tree matches None in the others, as in JAX.
    assert tu.tree_map(lambda x, y: y, [1], [None]) == [None]


def test_map_does_not_treat_rest_with_is_leaf() -> None:
    def is_pair(x: Any) -> bool:
        return isinstance(x, tuple)

    out = tu.tree_map(lambda x, y: (x, y), [(1, 2)], [(3, 4)], is_leaf=is_pair)
    assert out == [((1, 2), (3, 4))]


def test_reduce() -> None:
    t = {"a": 1, "b": [2, 3], "c": None}
    assert tu.tree_reduce(operator.add, t) == 6
    assert tu.tree_reduce(operator.add, t, 10) == 16
    assert tu.tree_reduce(lambda acc, x: acc + [x], t, initializer=[]) == [1, 2, 3]
    assert tu.tree_reduce(operator.add, [], initializer=0) == 0
    with pytest.raises(TypeError):
        tu.tree_reduce(operator.add, [])
    count = tu.tree_reduce(
        lambda a, b: a + len(b), [(1, 2), (3,)], 0, is_leaf=lambda x: isinstance(x, tuple)
    )
    assert count == 3


def test_all() -> None:
    assert tu.tree_all({"a": True, "b": [1, np.True_]})
    assert not tu.tree_all({"a": True, "b": [1, 0]})
    assert tu.tree_all([])
    assert tu.tree_all([None])
    assert not tu.tree_all([None], is_leaf=lambda x: x is None)


# --------------------------------------------------------------------------- errors


def test_map_error_names_a_missing_key() -> None:
    a = {"dense_0": {"w": 1, "b": 2}}
    b = {"dense_0": {"w": 1}}
    msg = (
        "tree_map: the trees differ at ['dense_0']['b']: the first tree has a dict with keys "
        "['b', 'w'] at ['dense_0'] and the second tree has a dict with keys ['w'] "
        "(key 'b' is missing from the second tree)."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        tu.tree_map(lambda x, y: x, a, b)
    with pytest.raises(ValueError, match=re.escape("(key 'b' is missing from the first tree)")):
        tu.tree_map(lambda x, y: x, b, a)


def test_map_error_names_a_type_difference() -> None:
    a = {"dense_0": {"w": 1, "b": 2}}
    msg = (
        "tree_map: the trees differ at ['dense_0']: the first tree has a dict with keys "
        "['b', 'w'] and the second tree has a list of length 3."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        tu.tree_map(lambda x, y: x, a, {"dense_0": [1, 2, 3]})


FIRST, SECOND = "the first tree has", "and the second tree has"


@pytest.mark.parametrize(
    ("first", "second", "where", "detail"),
    [
        ([1, 2], [1, 2, 3], "the root", f"{FIRST} a list of length 2 {SECOND} a list of length 3"),
        ([1, 2], (1, 2), "the root", f"{FIRST} a list of length 2 {SECOND} a tuple of length 2"),
        ({"a": None}, {"a": 1}, "['a']", f"{FIRST} None {SECOND} a leaf of type int"),
        (
            {"a": [1]},
            {"a": np.zeros((2, 3), np.float32)},
            "['a']",
            f"{FIRST} a list of length 1 "
            f"{SECOND} a leaf of type ndarray with shape (2, 3) and dtype float32",
        ),
        (
            [Point(1, 2)],
            [Other(1, 2)],
            "[0]",
            f"{FIRST} a NamedTuple Point with fields ['x', 'y'] "
            f"{SECOND} a NamedTuple Other with fields ['x', 'y']",
        ),
        (
            Dense(1, 2),
            Dense(1, 2, activation="tanh"),
            "the root",
            f"{FIRST} a dataclass Dense with fields ['w', 'b'] and static fields "
            f"{{'activation': 'relu'}} {SECOND} a dataclass Dense with fields ['w', 'b'] and "
            "static fields {'activation': 'tanh'}",
        ),
        (
            Box([1], "p"),
            Box([1], "q"),
            "the root",
            f"{FIRST} a registered Box node with 1 child and aux data 'p' "
            f"{SECOND} a registered Box node with 1 child and aux data 'q'",
        ),
        (
            collections.OrderedDict(a=1, b=2),
            collections.OrderedDict(b=1, a=2),
            "the root",
            f"{FIRST} an OrderedDict with keys ['a', 'b'] "
            f"{SECOND} an OrderedDict with keys ['b', 'a']",
        ),
        (
            {"x": [{"a": 1}]},
            {"x": [{"a": 1, "c": 2}]},
            "['x'][0]['c']",
            f"{FIRST} a dict with keys ['a'] at ['x'][0] {SECOND} a dict with keys ['a', 'c'] "
            "(key 'c' is missing from the first tree)",
        ),
    ],
)
def test_map_errors_say_where_and_what(first: Any, second: Any, where: str, detail: str) -> None:
    with pytest.raises(ValueError) as info:
        tu.tree_map(lambda *xs: xs[0], first, second)
    assert str(info.value) == f"tree_map: the trees differ at {where}: {detail}."


def test_map_error_names_which_tree() -> None:
    msg = "the first tree has a list of length 1 and the third tree has a tuple of length 1"
    with pytest.raises(ValueError, match=re.escape(msg)):
        tu.tree_map(lambda *xs: 0, [1], [2], (3,))


def test_unorderable_keys_in_mismatch_still_report() -> None:
    a, b = collections.OrderedDict([(1, 0)]), collections.OrderedDict([("a", 0)])
    with pytest.raises(ValueError, match=re.escape("differ at [1]: the first tree has an Ordered")):
        tu.tree_map(lambda x, y: x, a, b)


def test_unflatten_wrong_number_of_leaves() -> None:
    treedef = tu.tree_structure({"a": 1, "b": [2, 3]})
    msg = "tree_unflatten: expected 3 leaves for PyTreeDef({'a': *, 'b': [*, *]}), got 2."
    with pytest.raises(ValueError, match=re.escape(msg)):
        tu.tree_unflatten(treedef, [1, 2])
    with pytest.raises(ValueError, match="expected 3 leaves"):
        treedef.unflatten(iter(range(4)))


def test_flatten_up_to() -> None:
    treedef = tu.tree_structure({"a": 0, "b": [0, 0]})
    subtrees = treedef.flatten_up_to({"a": (1, 2), "b": [{"x": 3}, None]})
    assert subtrees == [(1, 2), {"x": 3}, None]
    msg = (
        "flatten_up_to: the trees differ at ['b']: the structure has a list of length 2 "
        "and the tree has a leaf of type int."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        treedef.flatten_up_to({"a": 1, "b": 2})


def test_check_same_structure() -> None:
    params = {"w": 1, "b": [2]}
    tu.check_same_structure(params, {"b": [np.zeros(2)], "w": None}, is_leaf=lambda x: x is None)
    with pytest.raises(ValueError) as info:
        updates = {"w": 1, "b": [[2, 3]]}
        tu.check_same_structure(params, updates, "apply_updates", names=("params", "updates"))
    assert str(info.value) == (
        "apply_updates: the trees differ at ['b'][0]: params has a leaf of type int "
        "and updates has a list of length 2."
    )
    msg = (
        "check_same_structure: the trees differ at ['w']: the first tree has a leaf of type int "
        "and the second tree has a dict with keys []."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        tu.check_same_structure({"w": 1}, {"w": {}})


_marked: list[int] = [1]


def test_check_same_structure_with_is_leaf_on_second_tree() -> None:
    # is_leaf applies to both trees: a marked list in the second is a leaf there.
    msg = "the first tree has a list of length 1 and the second tree has a leaf of type list"
    with pytest.raises(ValueError, match=re.escape(msg)):
        tu.check_same_structure([[1]], [_marked], is_leaf=lambda x: x is _marked)


# --------------------------------------------------------------------------- registration


def test_register_pytree_node_round_trip() -> None:
    box = Box([1, {"a": 2}], "label")
    leaves, treedef = tu.tree_flatten(box)
    assert leaves == [1, 2]
    out = treedef.unflatten([10, 20])
    assert type(out) is Box and out.items == [10, {"a": 20}] and out.label == "label"
    assert treedef != tu.tree_structure(Box([1, {"a": 2}], "other"))
    assert repr(treedef) == "PyTreeDef(CustomNode(Box['label'], [*, {'a': *}]))"


def test_register_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="Box is already registered"):
        tu.register_pytree_node(Box, lambda b: ((), None), lambda aux, ch: Box([], ""))
    with pytest.raises(ValueError, match="dict is already registered"):
        tu.register_pytree_node(dict, lambda d: ((), None), lambda aux, ch: {})
    with pytest.raises(ValueError, match="Dense is already registered"):
        tu.register_dataclass(Dense)


def test_register_pytree_node_class() -> None:
    out = tu.tree_map(lambda x: x * 2, [Scaled(np.ones(2), 0.5)])
    assert type(out[0]) is Scaled and out[0].scale == 0.5
    np.testing.assert_array_equal(out[0].value, [2.0, 2.0])
    assert tu.tree_structure(Scaled(1, 0.5)) != tu.tree_structure(Scaled(1, 0.25))


def test_register_dataclass() -> None:
    layer = Dense(w=np.ones((2, 2)), b=np.zeros(2), activation="tanh")
    leaves, treedef = tu.tree_flatten(layer)
    assert leaves[0] is layer.w and leaves[1] is layer.b
    assert repr(treedef) == "PyTreeDef(Dense(w=*, b=*, activation='tanh'))"
    out = treedef.unflatten([1, 2])
    assert out == Dense(1, 2, "tanh")
    assert treedef != tu.tree_structure(Dense(1, 2))


def test_register_frozen_dataclass_skips_non_init_fields() -> None:
    out = tu.tree_map(lambda x: x + 1, Frozen(a=1))
    assert out == Frozen(a=2)
    assert tu.tree_leaves(Frozen(a=[1, 2])) == [1, 2]


def test_register_dataclass_with_explicit_fields() -> None:
    class Plain:
        def __init__(self, value: Any, name: str) -> None:
            self.value, self.name = value, name

    tu.register_dataclass(Plain, data_fields=["value"], meta_fields=["name"])
    out = tu.tree_map(lambda x: -x, Plain(3, "n"))
    assert (out.value, out.name) == (-3, "n")
    assert [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(Plain(3, "n"))] == [".value"]


def test_register_dataclass_rejects_plain_classes() -> None:
    class NotADataclass:
        pass

    with pytest.raises(TypeError, match="is not a dataclass.*@dataclasses.dataclass"):
        tu.register_dataclass(NotADataclass)


# --------------------------------------------------------------------------- PyTreeDef


def test_treedef_repr() -> None:
    t = {
        "a": [1, (2,)],
        "b": None,
        "c": Point(1, ()),
        "d": collections.OrderedDict(z=1, y=2),
        "e": collections.defaultdict(list, {"k": 1}),
    }
    assert repr(tu.tree_structure(t)) == (
        "PyTreeDef({'a': [*, (*,)], 'b': None, 'c': Point(x=*, y=()), "
        "'d': OrderedDict({'z': *, 'y': *}), 'e': defaultdict(list, {'k': *})})"
    )
    assert repr(tu.tree_structure(None)) == "PyTreeDef(None)"


def test_treedef_counts() -> None:
    treedef = tu.tree_structure({"a": [1, 2], "b": None, "c": 3})
    assert treedef.num_leaves == 3
    assert treedef.num_nodes == 6  # dict, list, two leaves, None, leaf
    assert tu.tree_structure(1).num_nodes == 1


def test_treedef_equality_and_hash() -> None:
    a = tu.tree_structure({"x": [1, 2]})
    assert a == tu.tree_structure({"x": ["p", "q"]})
    assert a != tu.tree_structure({"x": [1]})
    assert a != tu.tree_structure({"y": [1, 2]})
    assert a != tu.tree_structure({"x": (1, 2)})
    assert a != "PyTreeDef({'x': [*, *]})"
    table = {a: "first"}
    assert table[tu.tree_structure({"x": [0, 0]})] == "first"
    assert tu.tree_structure([None]) != tu.tree_structure([1])


# --------------------------------------------------------------------------- deep trees


def test_deep_list_tree() -> None:
    depth = 1000
    t = nested_list(depth, leaf=5)
    leaves, treedef = tu.tree_flatten(t)
    assert leaves == [5] and treedef.num_nodes == depth + 1
    out = tu.tree_map(lambda x: x + 1, t)
    for _ in range(depth):
        assert type(out) is list and len(out) == 1
        out = out[0]
    assert out == 6
    assert treedef == tu.tree_structure(nested_list(depth))
    assert hash(treedef) == hash(tu.tree_structure(nested_list(depth)))
    assert repr(treedef) == "PyTreeDef(" + "[" * depth + "*" + "]" * depth + ")"
    (path, leaf), = tu.tree_leaves_with_path(t)
    assert leaf == 5 and tu.keystr(path) == "[0]" * depth


def test_deep_dict_tree_mismatch_names_the_path() -> None:
    depth = 1000
    a: Any = 1
    b: Any = [1]
    for _ in range(depth):
        a, b = {"k": a}, {"k": b}
    with pytest.raises(ValueError) as info:
        tu.tree_map(lambda x, y: x, b, a)
    assert str(info.value).startswith("tree_map: the trees differ at " + "['k']" * depth + ": ")
    with pytest.raises(ValueError):
        tu.check_same_structure(a, b)


def test_very_deep_flatten_unflatten() -> None:
    t = nested_list(10_000)
    leaves, treedef = tu.tree_flatten(t)
    rebuilt = treedef.unflatten(leaves)
    assert tu.tree_structure(rebuilt) == treedef


# --------------------------------------------------------------------------- aliases


def test_tree_aliases_are_the_same_functions() -> None:
    assert tree.flatten is tu.tree_flatten
    assert tree.unflatten is tu.tree_unflatten
    assert tree.map is tu.tree_map
    assert tree.leaves is tu.tree_leaves
    assert tree.structure is tu.tree_structure
    assert tree.reduce is tu.tree_reduce
    assert tree.all is tu.tree_all
    assert tree.flatten_with_path is tu.tree_flatten_with_path
    assert tree.leaves_with_path is tu.tree_leaves_with_path
    assert tree.map_with_path is tu.tree_map_with_path
    assert sorted(tree.__all__) == sorted(
        ["flatten", "unflatten", "map", "leaves", "structure", "reduce", "all"]
        + ["flatten_with_path", "leaves_with_path", "map_with_path"]
    )


def test_public_api_is_listed() -> None:
    for name in tu.__all__:
        assert hasattr(tu, name), name
