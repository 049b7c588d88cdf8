"""Pytrees: nested containers of arrays, with the names and semantics of ``jax.tree_util``.

A *pytree* is a nested structure of containers (dicts, lists, tuples, NamedTuples,
``None`` and any registered class) whose non-container contents are *leaves*
(arrays, Python and NumPy scalars, any other object). Parameters, gradients and
optimizer states are all pytrees, and every transformation in funcnn starts by
flattening one into a list of leaves and a :class:`PyTreeDef` describing its
shape, and ends by unflattening.

Dicts are flattened in sorted key order, so two dicts with the same keys flatten
the same way whatever order their keys were inserted in. Every traversal uses an
explicit stack, so deeply nested trees do not hit Python's recursion limit.

Examples
--------
>>> import numpy as np
>>> from funcnn import tree_util as tu
>>> params = {"w": np.ones((2, 3)), "b": np.zeros(3)}
>>> leaves, treedef = tu.tree_flatten(params)
>>> [leaf.shape for leaf in leaves]
[(3,), (2, 3)]
>>> treedef
PyTreeDef({'b': *, 'w': *})
>>> tu.tree_map(lambda x: x.size, params)
{'b': 3, 'w': 6}
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import reprlib
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar, Union

__all__ = [
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "KeyEntry",
    "KeyPath",
    "PyTree",
    "PyTreeDef",
    "SequenceKey",
    "check_same_structure",
    "keystr",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "tree_all",
    "tree_flatten",
    "tree_flatten_with_path",
    "tree_leaves",
    "tree_leaves_with_path",
    "tree_map",
    "tree_map_with_path",
    "tree_reduce",
    "tree_structure",
    "tree_unflatten",
]

PyTree = Any
"""Any pytree: a leaf, or a registered container of pytrees."""

T = TypeVar("T")
IsLeaf = Callable[[Any], bool]


# --------------------------------------------------------------------------- key paths


@dataclasses.dataclass(frozen=True, slots=True)
class DictKey:
    """The key of a dict entry on a key path; prints as ``['name']``."""

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True, slots=True)
class SequenceKey:
    """The index of a list or tuple element on a key path; prints as ``[0]``."""

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx}]"


@dataclasses.dataclass(frozen=True, slots=True)
class GetAttrKey:
    """A NamedTuple or dataclass field on a key path; prints as ``.name``."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclasses.dataclass(frozen=True, slots=True)
class FlattenedIndexKey:
    """The position of a child of a registered node that provides no keys of its own."""

    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


KeyEntry = Union[DictKey, SequenceKey, GetAttrKey, FlattenedIndexKey]
KeyPath = tuple[KeyEntry, ...]


def keystr(keys: KeyPath, *, simple: bool = False, separator: str = "") -> str:
    """Format a key path as text.

    Parameters
    ----------
    keys : tuple of key entries
        A key path, as produced by :func:`tree_flatten_with_path`.
    simple : bool
        If true, print only the bare keys (``dense_0``, ``0``, ``bias``) instead of
        Python-like accessors (``['dense_0']``, ``[0]``, ``.bias``).
    separator : str
        Put between the entries; ``"/"`` with ``simple=True`` gives file-system-like names.

    Returns
    -------
    str
        The formatted path; the empty path gives ``""``.

    Examples
    --------
    >>> keystr((DictKey("dense_0"), DictKey("w")))
    "['dense_0']['w']"
    >>> keystr((SequenceKey(0), GetAttrKey("bias")))
    '[0].bias'
    >>> keystr((DictKey("dense_0"), DictKey("w")), simple=True, separator="/")
    'dense_0/w'
    """
    if simple:
        return separator.join(str(_bare_key(k)) for k in keys)
    return separator.join(str(k) for k in keys)


def _bare_key(entry: KeyEntry) -> Any:
    if isinstance(entry, DictKey):
        return entry.key
    if isinstance(entry, SequenceKey):
        return entry.idx
    if isinstance(entry, GetAttrKey):
        return entry.name
    return entry.key


# --------------------------------------------------------------------------- node kinds


class _NodeKind:
    """How one container type is taken apart and put back together.

    ``flatten(x) -> (children, aux)`` with ``children`` a sequence;
    ``unflatten(aux, children) -> x`` where ``children`` is a fresh list;
    ``flatten_with_keys(x) -> ([(key, child), ...], aux)`` with the same ``aux``;
    ``describe(aux, n)`` and ``show(aux, child_strings)`` produce error and repr text.
    """

    __slots__ = ("name", "flatten", "unflatten", "flatten_with_keys", "describe", "show")

    def __init__(
        self,
        name: str,
        flatten: Callable[[Any], tuple[Sequence[Any], Any]],
        unflatten: Callable[[Any, list[Any]], Any],
        flatten_with_keys: Callable[[Any], tuple[list[tuple[KeyEntry, Any]], Any]],
        describe: Callable[[Any, int], str],
        show: Callable[[Any, list[str]], str],
    ) -> None:
        self.name = name
        self.flatten = flatten
        self.unflatten = unflatten
        self.flatten_with_keys = flatten_with_keys
        self.describe = describe
        self.show = show

    def __repr__(self) -> str:
        return f"<pytree node kind {self.name}>"


_registry: dict[type, _NodeKind] = {}


def _sorted_keys(d: dict[Any, Any]) -> tuple[Any, ...]:
    try:
        return tuple(sorted(d))
    except TypeError:
        raise TypeError(
            f"cannot flatten a {type(d).__name__} with keys {reprlib.repr(list(d))}: pytrees "
            "flatten dicts in sorted key order, so the keys must be comparable with each other "
            "(e.g. all str). Use keys of one type, or a collections.OrderedDict, which is "
            "flattened in insertion order."
        ) from None


def _show_items(keys: Iterable[Any], children: list[str]) -> str:
    return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(keys, children)) + "}"


def _dict_flatten(x: dict[Any, Any]) -> tuple[list[Any], tuple[Any, ...]]:
    keys = _sorted_keys(x)
    return [x[k] for k in keys], keys


def _dict_flatten_with_keys(x: dict[Any, Any]) -> tuple[list[tuple[KeyEntry, Any]], Any]:
    keys = _sorted_keys(x)
    return [(DictKey(k), x[k]) for k in keys], keys


_registry[dict] = _NodeKind(
    "dict",
    _dict_flatten,
    lambda keys, children: dict(zip(keys, children)),
    _dict_flatten_with_keys,
    lambda keys, n: f"a dict with keys {list(keys)}",
    _show_items,
)


def _ordered_flatten(x: collections.OrderedDict[Any, Any]) -> tuple[list[Any], tuple[Any, ...]]:
    keys = tuple(x)
    return [x[k] for k in keys], keys


_registry[collections.OrderedDict] = _NodeKind(
    "OrderedDict",
    _ordered_flatten,
    lambda keys, children: collections.OrderedDict(zip(keys, children)),
    lambda x: ([(DictKey(k), v) for k, v in x.items()], tuple(x)),
    lambda keys, n: f"an OrderedDict with keys {list(keys)}",
    lambda keys, children: f"OrderedDict({_show_items(keys, children)})",
)


def _defaultdict_flatten(x: collections.defaultdict[Any, Any]) -> tuple[list[Any], Any]:
    keys = _sorted_keys(x)
    return [x[k] for k in keys], (x.default_factory, keys)


def _defaultdict_flatten_with_keys(x: collections.defaultdict[Any, Any]) -> tuple[list[Any], Any]:
    keys = _sorted_keys(x)
    return [(DictKey(k), x[k]) for k in keys], (x.default_factory, keys)


def _factory_name(factory: Any) -> str:
    return getattr(factory, "__name__", repr(factory))


_registry[collections.defaultdict] = _NodeKind(
    "defaultdict",
    _defaultdict_flatten,
    lambda aux, children: collections.defaultdict(aux[0], zip(aux[1], children)),
    _defaultdict_flatten_with_keys,
    lambda aux, n: f"a defaultdict({_factory_name(aux[0])}) with keys {list(aux[1])}",
    lambda aux, children: (
        f"defaultdict({_factory_name(aux[0])}, {_show_items(aux[1], children)})"
    ),
)


def _sequence_with_keys(x: Sequence[Any]) -> tuple[list[tuple[KeyEntry, Any]], None]:
    return [(SequenceKey(i), v) for i, v in enumerate(x)], None


_registry[list] = _NodeKind(
    "list",
    lambda x: (x, None),
    lambda aux, children: children,
    _sequence_with_keys,
    lambda aux, n: f"a list of length {n}",
    lambda aux, children: "[" + ", ".join(children) + "]",
)

_registry[tuple] = _NodeKind(
    "tuple",
    lambda x: (x, None),
    lambda aux, children: tuple(children),
    _sequence_with_keys,
    lambda aux, n: f"a tuple of length {n}",
    lambda aux, children: "(" + ", ".join(children) + ("," if len(children) == 1 else "") + ")",
)

_registry[type(None)] = _NodeKind(
    "None",
    lambda x: ((), None),
    lambda aux, children: None,
    lambda x: ([], None),
    lambda aux, n: "None",
    lambda aux, children: "None",
)

# NamedTuples are recognised by shape rather than registered one class at a time;
# the class itself is the aux data, so two different NamedTuples never match.
_NAMEDTUPLE = _NodeKind(
    "NamedTuple",
    lambda x: (x, type(x)),
    lambda cls, children: cls(*children),
    lambda x: ([(GetAttrKey(f), v) for f, v in zip(x._fields, x)], type(x)),
    lambda cls, n: f"a NamedTuple {cls.__name__} with fields {list(cls._fields)}",
    lambda cls, children: (
        f"{cls.__name__}(" + ", ".join(f"{f}={c}" for f, c in zip(cls._fields, children)) + ")"
    ),
)


def _kind_of(x: Any) -> _NodeKind | None:
    """The node kind of ``x``, or ``None`` if ``x`` is a leaf. Dispatch is on exact type."""
    kind = _registry.get(type(x))
    if kind is None and isinstance(x, tuple) and hasattr(x, "_fields"):
        return _NAMEDTUPLE
    return kind


# --------------------------------------------------------------------------- registration


def register_pytree_node(
    nodetype: type[T],
    flatten_func: Callable[[T], tuple[Iterable[Any], Hashable]],
    unflatten_func: Callable[[Any, tuple[Any, ...]], T],
    flatten_with_keys_func: Callable[[T], tuple[Iterable[tuple[KeyEntry, Any]], Hashable]]
    | None = None,
) -> None:
    """Make instances of ``nodetype`` pytree nodes rather than leaves.

    Parameters
    ----------
    nodetype : type
        The class to register. Dispatch is on exact type: subclasses are not covered.
    flatten_func : callable
        ``flatten_func(node) -> (children, aux_data)``. ``children`` are the sub-pytrees;
        ``aux_data`` is everything else needed to rebuild the node. It must be hashable and
        comparable with ``==``, because it becomes part of the :class:`PyTreeDef`.
    unflatten_func : callable
        ``unflatten_func(aux_data, children) -> node``, with ``children`` a tuple.
    flatten_with_keys_func : callable, optional
        ``flatten_with_keys_func(node) -> ([(key, child), ...], aux_data)``, giving the key
        entries used in key paths. Without it children get :class:`FlattenedIndexKey`.

    Raises
    ------
    ValueError
        If ``nodetype`` is already registered (this includes the built-in containers).

    Examples
    --------
    >>> class Pair:
    ...     def __init__(self, a, b):
    ...         self.a, self.b = a, b
    >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda aux, ch: Pair(*ch))
    >>> tree_leaves([Pair(1, 2), 3])
    [1, 2, 3]
    """
    if nodetype in _registry:
        raise ValueError(f"{nodetype.__name__} is already registered as a pytree node.")
    name = nodetype.__name__

    def flatten(x: Any) -> tuple[tuple[Any, ...], Any]:
        children, aux = flatten_func(x)
        return tuple(children), aux

    if flatten_with_keys_func is None:

        def flatten_with_keys(x: Any) -> tuple[list[tuple[KeyEntry, Any]], Any]:
            children, aux = flatten_func(x)
            return [(FlattenedIndexKey(i), c) for i, c in enumerate(children)], aux

    else:
        user_flatten_with_keys = flatten_with_keys_func

        def flatten_with_keys(x: Any) -> tuple[list[tuple[KeyEntry, Any]], Any]:
            keyed, aux = user_flatten_with_keys(x)
            return list(keyed), aux

    _registry[nodetype] = _NodeKind(
        name,
        flatten,
        lambda aux, children: unflatten_func(aux, tuple(children)),
        flatten_with_keys,
        lambda aux, n: (
            f"a registered {name} node with {n} {'child' if n == 1 else 'children'} "
            f"and aux data {reprlib.repr(aux)}"
        ),
        lambda aux, children: f"CustomNode({name}[{aux!r}], [{', '.join(children)}])",
    )


def register_pytree_node_class(cls: type[T]) -> type[T]:
    """Class decorator: register a class that flattens itself.

    The class defines a method ``tree_flatten(self) -> (children, aux_data)`` and a
    classmethod ``tree_unflatten(cls, aux_data, children)``.

    Examples
    --------
    >>> @register_pytree_node_class
    ... class Scaled:
    ...     def __init__(self, value, scale):
    ...         self.value, self.scale = value, scale
    ...     def tree_flatten(self):
    ...         return (self.value,), self.scale
    ...     @classmethod
    ...     def tree_unflatten(cls, scale, children):
    ...         return cls(children[0], scale)
    >>> tree_map(lambda x: x + 1, Scaled(1, scale=10)).value
    2
    """
    unflatten = cls.tree_unflatten  # type: ignore[attr-defined]
    register_pytree_node(cls, lambda x: x.tree_flatten(), unflatten)  # type: ignore[attr-defined]
    return cls


def register_dataclass(
    nodetype: type[T],
    data_fields: Sequence[str] | None = None,
    meta_fields: Sequence[str] | None = None,
) -> type[T]:
    """Register a dataclass as a pytree node; usable as a class decorator.

    By default every field that ``__init__`` takes is a child (a sub-pytree), except
    fields declared with ``dataclasses.field(metadata={"static": True})``, which are
    kept in the :class:`PyTreeDef` as hashable metadata. Children get
    :class:`GetAttrKey` entries in key paths. Unflattening calls the constructor with
    every field as a keyword argument.

    Parameters
    ----------
    nodetype : type
        The dataclass to register.
    data_fields, meta_fields : sequence of str, optional
        Explicit field names, overriding the default split. If both are given
        ``nodetype`` need not be a dataclass, but its constructor must accept them all
        as keyword arguments.

    Returns
    -------
    type
        ``nodetype`` itself.

    Examples
    --------
    >>> import dataclasses
    >>> @register_dataclass
    ... @dataclasses.dataclass
    ... class Dense:
    ...     w: float
    ...     b: float
    ...     activation: str = dataclasses.field(default="relu", metadata={"static": True})
    >>> leaves, treedef = tree_flatten(Dense(w=2.0, b=0.5))
    >>> leaves
    [2.0, 0.5]
    >>> treedef
    PyTreeDef(Dense(w=*, b=*, activation='relu'))
    """
    if data_fields is None or meta_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(
                f"register_dataclass: {nodetype.__name__} is not a dataclass. Decorate it with "
                "@dataclasses.dataclass first (below @register_dataclass), or pass both "
                "data_fields and meta_fields."
            )
        init_fields = [f for f in dataclasses.fields(nodetype) if f.init]
        if data_fields is None:
            data_fields = [f.name for f in init_fields if not f.metadata.get("static", False)]
        if meta_fields is None:
            meta_fields = [f.name for f in init_fields if f.metadata.get("static", False)]
    data = tuple(data_fields)
    meta = tuple(meta_fields)
    name = nodetype.__name__

    def flatten(x: Any) -> tuple[list[Any], tuple[Any, ...]]:
        return [getattr(x, f) for f in data], tuple(getattr(x, f) for f in meta)

    def unflatten(aux: tuple[Any, ...], children: list[Any]) -> Any:
        return nodetype(**dict(zip(data, children)), **dict(zip(meta, aux)))

    def flatten_with_keys(x: Any) -> tuple[list[tuple[KeyEntry, Any]], tuple[Any, ...]]:
        keyed: list[tuple[KeyEntry, Any]] = [(GetAttrKey(f), getattr(x, f)) for f in data]
        return keyed, tuple(getattr(x, f) for f in meta)

    def describe(aux: tuple[Any, ...], n: int) -> str:
        text = f"a dataclass {name} with fields {list(data)}"
        if meta:
            text += f" and static fields {reprlib.repr(dict(zip(meta, aux)))}"
        return text

    def show(aux: tuple[Any, ...], children: list[str]) -> str:
        parts = [f"{f}={c}" for f, c in zip(data, children)]
        parts += [f"{f}={v!r}" for f, v in zip(meta, aux)]
        return f"{name}({', '.join(parts)})"

    if nodetype in _registry:
        raise ValueError(f"{name} is already registered as a pytree node.")
    _registry[nodetype] = _NodeKind(name, flatten, unflatten, flatten_with_keys, describe, show)
    return nodetype


# --------------------------------------------------------------------------- PyTreeDef

# A treedef is its nodes in preorder: ``None`` for a leaf, ``(kind, aux, n_children)``
# for a container. Flat tuples keep equality, hashing and every walk non-recursive.
_Node = Union[tuple[_NodeKind, Any, int], None]


class PyTreeDef:
    """The structure of a pytree: everything but its leaves.

    Obtained from :func:`tree_flatten` or :func:`tree_structure`; not constructed
    directly. Two treedefs are equal when their trees have the same containers, the same
    dict keys and the same registered aux data; treedefs are hashable.

    Examples
    --------
    >>> treedef = tree_structure({"a": [1, 2], "b": None})
    >>> treedef
    PyTreeDef({'a': [*, *], 'b': None})
    >>> treedef.num_leaves, treedef.num_nodes
    (2, 5)
    >>> treedef.unflatten(["x", "y"])
    {'a': ['x', 'y'], 'b': None}
    >>> treedef == tree_structure({"b": None, "a": [3, 4]})
    True
    """

    __slots__ = ("_nodes", "_num_leaves", "_hash")

    def __init__(self, nodes: tuple[_Node, ...], num_leaves: int) -> None:
        self._nodes = nodes
        self._num_leaves = num_leaves
        self._hash: int | None = None

    @property
    def num_leaves(self) -> int:
        """The number of leaves."""
        return self._num_leaves

    @property
    def num_nodes(self) -> int:
        """The number of nodes, leaves and ``None`` included."""
        return len(self._nodes)

    def unflatten(self, leaves: Iterable[Any]) -> PyTree:
        """Build a pytree of this structure from ``leaves`` (in flattening order).

        Raises
        ------
        ValueError
            If the number of leaves is not :attr:`num_leaves`.
        """
        values = leaves if isinstance(leaves, (list, tuple)) else list(leaves)
        if len(values) != self._num_leaves:
            raise ValueError(
                f"tree_unflatten: expected {self._num_leaves} leaves for {_short(repr(self))}, "
                f"got {len(values)}."
            )
        # Walking the preorder backwards meets every node after its children, so a
        # stack of finished subtrees is all that is needed.
        stack: list[Any] = []
        i = self._num_leaves
        for node in reversed(self._nodes):
            if node is None:
                i -= 1
                stack.append(values[i])
                continue
            kind, aux, n = node
            if n:
                children = stack[-n:]
                del stack[-n:]
                children.reverse()
            else:
                children = []
            stack.append(kind.unflatten(aux, children))
        return stack[0]

    def flatten_up_to(self, tree: PyTree) -> list[PyTree]:
        """Flatten ``tree`` as far as this structure goes.

        ``tree`` must have this structure as a prefix: where this structure has a leaf,
        ``tree`` may have any subtree, and that subtree is returned whole.

        Raises
        ------
        ValueError
            Naming the first key path at which ``tree`` does not have this structure.

        Examples
        --------
        >>> tree_structure([1, 2]).flatten_up_to([{"a": 1}, (2, 3)])
        [{'a': 1}, (2, 3)]
        """
        subtrees = _flatten_up_to(self, tree)
        if subtrees is None:
            raise _mismatch_error("flatten_up_to", self, tree, ("the structure", "the tree"))
        return subtrees

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        return self._nodes == other._nodes

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self._nodes)
        return self._hash

    def __repr__(self) -> str:
        stack: list[str] = []
        for node in reversed(self._nodes):
            if node is None:
                stack.append("*")
                continue
            kind, aux, n = node
            children = stack[len(stack) - n :]
            del stack[len(stack) - n :]
            children.reverse()
            stack.append(kind.show(aux, children))
        return f"PyTreeDef({stack[0]})"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- flattening


def tree_flatten(tree: PyTree, is_leaf: IsLeaf | None = None) -> tuple[list[Any], PyTreeDef]:
    """Split a pytree into its leaves and its structure.

    Parameters
    ----------
    tree : pytree
        Nested dicts (taken in sorted key order), lists, tuples, NamedTuples, ``None``
        (a node with no children), OrderedDicts (insertion order), defaultdicts and
        registered classes; everything else is a leaf.
    is_leaf : callable, optional
        Called on every subtree before it is taken apart; where it returns true the
        subtree is kept whole as a leaf.

    Returns
    -------
    leaves : list
        The leaves, left to right.
    treedef : PyTreeDef
        The structure, for :func:`tree_unflatten`.

    Examples
    --------
    >>> tree_flatten({"b": (1, 2), "a": None, "c": [3]})
    ([1, 2, 3], PyTreeDef({'a': None, 'b': (*, *), 'c': [*]}))
    >>> tree_flatten([(1, 2), (3, 4)], is_leaf=lambda x: isinstance(x, tuple))[0]
    [(1, 2), (3, 4)]
    """
    leaves: list[Any] = []
    nodes: list[_Node] = []
    stack = [tree]
    get_kind = _registry.get
    while stack:
        x = stack.pop()
        # _kind_of, inlined: this loop runs on every gradient evaluation.
        if is_leaf is not None and is_leaf(x):
            kind = None
        else:
            kind = get_kind(type(x))
            if kind is None and isinstance(x, tuple) and hasattr(x, "_fields"):
                kind = _NAMEDTUPLE
        if kind is None:
            leaves.append(x)
            nodes.append(None)
            continue
        children, aux = kind.flatten(x)
        nodes.append((kind, aux, len(children)))
        stack.extend(reversed(children))
    return leaves, PyTreeDef(tuple(nodes), len(leaves))


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> PyTree:
    """Build a pytree from a structure and leaves; the inverse of :func:`tree_flatten`.

    Raises
    ------
    ValueError
        If ``leaves`` does not hold exactly ``treedef.num_leaves`` leaves.

    Examples
    --------
    >>> leaves, treedef = tree_flatten({"a": 1, "b": [2, 3]})
    >>> tree_unflatten(treedef, [x * 10 for x in leaves])
    {'a': 10, 'b': [20, 30]}
    """
    return treedef.unflatten(leaves)


def tree_leaves(tree: PyTree, is_leaf: IsLeaf | None = None) -> list[Any]:
    """The leaves of a pytree, in :func:`tree_flatten` order.

    Examples
    --------
    >>> tree_leaves({"b": [2, 3], "a": 1, "c": None})
    [1, 2, 3]
    """
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: PyTree, is_leaf: IsLeaf | None = None) -> PyTreeDef:
    """The structure of a pytree, without its leaves.

    Examples
    --------
    >>> tree_structure((1, {"x": 2}))
    PyTreeDef((*, {'x': *}))
    """
    return tree_flatten(tree, is_leaf)[1]


def tree_flatten_with_path(
    tree: PyTree, is_leaf: IsLeaf | None = None
) -> tuple[list[tuple[KeyPath, Any]], PyTreeDef]:
    """Like :func:`tree_flatten`, but each leaf comes with its key path.

    Returns
    -------
    leaves_with_paths : list of (key path, leaf)
        Key paths are tuples of :class:`DictKey`, :class:`SequenceKey`,
        :class:`GetAttrKey` and :class:`FlattenedIndexKey`; format them with :func:`keystr`.
    treedef : PyTreeDef
        Equal to ``tree_structure(tree, is_leaf)``.

    Examples
    --------
    >>> pairs, _ = tree_flatten_with_path({"dense_0": {"w": 1, "b": 2}})
    >>> [(keystr(path), leaf) for path, leaf in pairs]
    [("['dense_0']['b']", 2), ("['dense_0']['w']", 1)]
    """
    leaves: list[tuple[KeyPath, Any]] = []
    nodes: list[_Node] = []
    stack: list[tuple[KeyPath, Any]] = [((), tree)]
    while stack:
        path, x = stack.pop()
        kind = None if is_leaf is not None and is_leaf(x) else _kind_of(x)
        if kind is None:
            leaves.append((path, x))
            nodes.append(None)
            continue
        keyed, aux = kind.flatten_with_keys(x)
        nodes.append((kind, aux, len(keyed)))
        stack.extend((path + (key,), child) for key, child in reversed(keyed))
    return leaves, PyTreeDef(tuple(nodes), len(leaves))


def tree_leaves_with_path(
    tree: PyTree, is_leaf: IsLeaf | None = None
) -> list[tuple[KeyPath, Any]]:
    """The ``(key path, leaf)`` pairs of a pytree, in :func:`tree_flatten` order.

    Examples
    --------
    >>> [(keystr(p), x) for p, x in tree_leaves_with_path([10, {"bias": 20}])]
    [('[0]', 10), ("[1]['bias']", 20)]
    """
    return tree_flatten_with_path(tree, is_leaf)[0]


# --------------------------------------------------------------------------- mapping


def tree_map(
    f: Callable[..., Any], tree: PyTree, *rest: PyTree, is_leaf: IsLeaf | None = None
) -> PyTree:
    """Apply ``f`` to every leaf, giving a pytree of the same structure.

    Parameters
    ----------
    f : callable
        Called as ``f(leaf, *rest_leaves)``.
    tree : pytree
        Its structure is the structure of the result.
    *rest : pytree
        More trees with the same structure as ``tree``, or with ``tree``'s structure as a
        prefix: where ``tree`` has a leaf they may have a whole subtree, passed to ``f``.
    is_leaf : callable, optional
        As in :func:`tree_flatten`; applies to ``tree``.

    Raises
    ------
    ValueError
        If a tree in ``rest`` does not match, naming the first differing key path and
        what each tree has there.

    Examples
    --------
    >>> tree_map(lambda x: x * 2, {"a": 1, "b": (2, None)})
    {'a': 2, 'b': (4, None)}
    >>> tree_map(lambda p, g: p - 0.5 * g, [1.0, 2.0], [2.0, 2.0])
    [0.0, 1.0]
    >>> tree_map(lambda n, sub: sub[:n], [1, 2], [[7, 8], (7, 8, 9)])  # a prefix of the rest
    [[7], (7, 8)]
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    others = [_flatten_rest("tree_map", treedef, other, i) for i, other in enumerate(rest)]
    return treedef.unflatten([f(*xs) for xs in zip(leaves, *others)])


def tree_map_with_path(
    f: Callable[..., Any], tree: PyTree, *rest: PyTree, is_leaf: IsLeaf | None = None
) -> PyTree:
    """Like :func:`tree_map`, but ``f`` is called as ``f(key_path, leaf, *rest_leaves)``.

    Examples
    --------
    >>> tree_map_with_path(lambda path, x: keystr(path), {"w": 0, "b": [0]})
    {'b': ["['b'][0]"], 'w': "['w']"}
    """
    pairs, treedef = tree_flatten_with_path(tree, is_leaf)
    others = [_flatten_rest("tree_map_with_path", treedef, o, i) for i, o in enumerate(rest)]
    return treedef.unflatten([f(p, x, *xs) for (p, x), *xs in zip(pairs, *others)])


def tree_reduce(
    function: Callable[[Any, Any], Any],
    tree: PyTree,
    initializer: Any = dataclasses.MISSING,
    is_leaf: IsLeaf | None = None,
) -> Any:
    """Fold ``function`` over the leaves, left to right, as :func:`functools.reduce` does.

    Examples
    --------
    >>> tree_reduce(lambda a, b: a + b, {"a": 1, "b": [2, 3]})
    6
    >>> tree_reduce(max, [], initializer=0)
    0
    """
    leaves = tree_leaves(tree, is_leaf)
    if initializer is dataclasses.MISSING:
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree: PyTree, *, is_leaf: IsLeaf | None = None) -> bool:
    """Whether every leaf is truthy (``True`` for a tree with no leaves).

    A NumPy array with more than one element has no truth value; map ``np.all`` over the
    tree first.

    Examples
    --------
    >>> tree_all({"a": True, "b": [1, 2]})
    True
    >>> tree_all([1, 0])
    False
    """
    return all(tree_leaves(tree, is_leaf))


def check_same_structure(
    tree1: PyTree,
    tree2: PyTree,
    what: str = "check_same_structure",
    *,
    names: tuple[str, str] = ("the first tree", "the second tree"),
    is_leaf: IsLeaf | None = None,
) -> None:
    """Raise a ``ValueError`` naming the first key path where two pytrees differ.

    Both trees must have exactly the same structure: containers, dict keys and aux
    data; the leaves themselves are not compared. Meant for library code that combines
    trees (parameters with their updates, a checkpoint with a model).

    Parameters
    ----------
    tree1, tree2 : pytree
        The trees to compare.
    what : str
        What is checking, used to start the error message (e.g. ``"apply_updates"``).
    names : tuple of two str
        How the message refers to the two trees.
    is_leaf : callable, optional
        As in :func:`tree_flatten`; applies to both trees.

    Raises
    ------
    ValueError
        ``"{what}: the trees differ at {key path}: {name1} has ... and {name2} has ..."``.

    Examples
    --------
    >>> check_same_structure({"w": 1, "b": 2}, {"b": 0, "w": 0})  # fine: no error
    >>> params, updates = {"dense_0": {"w": 1, "b": 2}}, {"dense_0": [0, 0]}
    >>> check_same_structure(params, updates, "apply_updates", names=("params", "updates"))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: apply_updates: the trees differ at ['dense_0']: params has a dict ... a list of length 2.
    """
    leaves, treedef = tree_flatten(tree1, is_leaf)
    if tree_structure(tree2, is_leaf) != treedef:
        raise _mismatch_error(what, treedef, tree2, names, is_leaf=is_leaf, leaves=leaves)


# --------------------------------------------------------------------------- matching


def _flatten_up_to(treedef: PyTreeDef, tree: PyTree) -> list[Any] | None:
    """The subtrees of ``tree`` at ``treedef``'s leaves, or ``None`` if it does not fit."""
    out: list[Any] = []
    stack = [tree]
    for node in treedef._nodes:
        x = stack.pop()
        if node is None:
            out.append(x)
            continue
        kind, aux, n = node
        if _kind_of(x) is not kind:
            return None
        children, x_aux = kind.flatten(x)
        if len(children) != n or x_aux != aux:
            return None
        stack.extend(reversed(children))
    return out


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def _flatten_rest(what: str, treedef: PyTreeDef, other: PyTree, i: int) -> list[Any]:
    subtrees = _flatten_up_to(treedef, other)
    if subtrees is None:
        position = _ORDINALS[i + 1] if i + 1 < len(_ORDINALS) else f"number {i + 2}"
        raise _mismatch_error(what, treedef, other, ("the first tree", f"the {position} tree"))
    return subtrees


def _mismatch_error(
    what: str,
    treedef: PyTreeDef,
    tree: PyTree,
    names: tuple[str, str],
    *,
    is_leaf: IsLeaf | None = None,
    leaves: list[Any] | None = None,
) -> ValueError:
    """Find where ``tree`` first departs from ``treedef`` and say so.

    With ``leaves`` (the leaves belonging to ``treedef``) the match must be exact: a leaf
    of ``treedef`` must meet a leaf of ``tree``. Without, ``treedef`` need only be a prefix.
    """
    first, second = names
    stack: list[tuple[KeyPath, Any]] = [((), tree)]
    leaf_index = 0
    for node in treedef._nodes:
        path, x = stack.pop()
        kind = None if is_leaf is not None and is_leaf(x) else _kind_of(x)
        if node is None:
            if leaves is not None and kind is not None:
                mine = _describe_leaf(leaves[leaf_index])
                theirs = _describe_node(kind, x)
                return _differ(what, path, f"{first} has {mine} and {second} has {theirs}")
            leaf_index += 1
            continue
        my_kind, aux, n = node
        mine = my_kind.describe(aux, n)
        if kind is not my_kind:
            theirs = _describe_leaf(x) if kind is None else _describe_node(kind, x)
            return _differ(what, path, f"{first} has {mine} and {second} has {theirs}")
        keyed, x_aux = kind.flatten_with_keys(x)
        if len(keyed) != n or x_aux != aux:
            return _differ_in_node(what, path, (first, mine), (second, x), kind, aux)
        stack.extend((path + (key,), child) for key, child in reversed(keyed))
    # Unreachable when the fast check failed; kept so a caller bug cannot pass silently.
    return ValueError(f"{what}: the trees differ in structure.")


def _differ(what: str, path: KeyPath, detail: str) -> ValueError:
    return ValueError(f"{what}: the trees differ at {_where(path)}: {detail}.")


def _where(path: KeyPath) -> str:
    return keystr(path) if path else "the root"


def _differ_in_node(
    what: str,
    path: KeyPath,
    mine: tuple[str, str],
    theirs: tuple[str, Any],
    kind: _NodeKind,
    aux: Any,
) -> ValueError:
    """Two nodes of the same kind whose keys, lengths or aux data differ."""
    (first, my_text), (second, x) = mine, theirs
    their_text = _describe_node(kind, x)
    my_keys = _dict_keys(kind, aux)
    if my_keys is not None:
        their_keys = _dict_keys(kind, kind.flatten(x)[1])
        assert their_keys is not None
        missing = [k for k in my_keys if k not in their_keys]
        extra = [k for k in their_keys if k not in my_keys]
        if missing or extra:
            key = _first_key(missing + extra)
            lacking = second if key in missing else first
            return _differ(
                what,
                path + (DictKey(key),),
                f"{first} has {my_text} at {_where(path)} and {second} has {their_text} "
                f"(key {key!r} is missing from {lacking})",
            )
    return _differ(what, path, f"{first} has {my_text} and {second} has {their_text}")


def _dict_keys(kind: _NodeKind, aux: Any) -> tuple[Any, ...] | None:
    if kind is _registry[dict] or kind is _registry[collections.OrderedDict]:
        return tuple(aux)
    if kind is _registry[collections.defaultdict]:
        return tuple(aux[1])
    return None


def _first_key(keys: list[Any]) -> Any:
    try:
        return min(keys)
    except TypeError:
        return keys[0]


def _describe_node(kind: _NodeKind, x: Any) -> str:
    children, aux = kind.flatten(x)
    return kind.describe(aux, len(children))


def _describe_leaf(x: Any) -> str:
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if isinstance(shape, tuple) and dtype is not None:
        return f"a leaf of type {type(x).__name__} with shape {shape} and dtype {dtype}"
    return f"a leaf of type {type(x).__name__}"

