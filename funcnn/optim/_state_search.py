"""Find the states of one transformation anywhere in an optimizer's state, and replace them.

An optimizer's state is a pytree of NamedTuples, tuples and dicts: a chain's tuple, a
wrapper's inner state, and so on. Helpers such as ``averaged_params`` and
``set_hyperparams`` look for their own state type in it, however deeply it is nested.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from ..tree_util import tree_leaves, tree_map
from ._base import OptState

__all__ = ["find_states", "replace_states"]

S = TypeVar("S", bound=tuple)


def find_states(opt_state: OptState, cls: type[S]) -> list[S]:
    """Every instance of the NamedTuple ``cls`` in ``opt_state``, outermost first.

    Instances nested in another one's fields (a wrapper around a wrapper) are found too.
    """
    found: list[S] = []
    pending: deque[Any] = deque([opt_state])
    while pending:
        for node in tree_leaves(pending.popleft(), is_leaf=lambda x: isinstance(x, cls)):
            if isinstance(node, cls):
                found.append(node)
                pending.append(tuple(node))  # a plain tuple: its fields are searched next
    return found


def replace_states(opt_state: OptState, cls: type[S], fn: Callable[[S], S]) -> OptState:
    """``opt_state`` with every instance ``s`` of the NamedTuple ``cls`` replaced by ``fn(s)``.

    Instances nested in another one's fields are replaced first (the depth is that of the
    wrappers an optimizer is built of, so the recursion stays shallow).
    """

    def visit(node: Any) -> Any:
        if not isinstance(node, cls):
            return node
        return fn(node._make(replace_states(tuple(node), cls, fn)))  # type: ignore[attr-defined]

    return tree_map(visit, opt_state, is_leaf=lambda x: isinstance(x, cls))
