"""Short names for the pytree utilities, as in ``jax.tree``.

Each name is the same function object as its ``tree_``-prefixed counterpart in
:mod:`funcnn.tree_util`.

Examples
--------
>>> from funcnn import tree
>>> tree.map(lambda x: x + 1, {"a": 1, "b": [2, 3]})
{'a': 2, 'b': [3, 4]}
>>> tree.leaves({"b": 2, "a": 1})
[1, 2]
"""

from funcnn.tree_util import tree_all as all
from funcnn.tree_util import tree_flatten as flatten
from funcnn.tree_util import tree_flatten_with_path as flatten_with_path
from funcnn.tree_util import tree_leaves as leaves
from funcnn.tree_util import tree_leaves_with_path as leaves_with_path
from funcnn.tree_util import tree_map as map
from funcnn.tree_util import tree_map_with_path as map_with_path
from funcnn.tree_util import tree_reduce as reduce
from funcnn.tree_util import tree_structure as structure
from funcnn.tree_util import tree_unflatten as unflatten

__all__ = [
    "all",
    "flatten",
    "flatten_with_path",
    "leaves",
    "leaves_with_path",
    "map",
    "map_with_path",
    "reduce",
    "structure",
    "unflatten",
]
