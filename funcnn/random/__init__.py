"""Explicit pseudo-random number keys, in the style of ``jax.random``.

There is no global random state. Every sampler takes a *key* and is a pure
function of it: the same key gives bit-identical numbers on every run, machine
and NumPy version. New keys come from :func:`split` and :func:`fold_in`.

A key is a NumPy ``uint32`` array of shape ``(2,)``. Bits come from the
counter-based generator Threefry-2x32 with 20 rounds (Salmon et al., "Parallel
random numbers: as easy as 1, 2, 3", SC'11): word ``i`` of a key's stream is
half of the Threefry block that encrypts counter ``i // 2`` under the key, so
the stream is computed in vectorized ``uint32`` arithmetic, never in a loop
over elements. Float samplers turn those words into floats with exact bit
manipulation and IEEE-754 ``+ - * /`` and ``sqrt`` only (their own ``log``,
``exp`` and normal quantile), so no platform ``libm`` can change a result.

Every function binds a primitive whose operands are the key and any array
arguments, so keys may be traced: ``split`` and sample inside a function given
to ``funcnn.make_graph`` (or ``grad``), and the graph replays the same bits.
The draws carry no derivative.

The package holds one idea per file: ``_threefry`` (the cipher and a key's
stream of words), ``_from_words`` (words to floats, bounded integers and
orderings), ``_ieee_math`` (the exact special functions), ``_checks`` (argument
checks), ``_keys`` (``key``, ``split``, ``fold_in``), ``_samplers`` and
``_choice`` (the public samplers and their primitives), ``_categorical`` (Gumbel noise and
categorical draws by the Gumbel-max trick).

Examples
--------
>>> from funcnn import random
>>> key = random.key(0)
>>> key, sub = random.split(key)
>>> random.uniform(sub, (2, 3)).shape
(2, 3)
"""
from funcnn.random._categorical import categorical as categorical
from funcnn.random._categorical import gumbel as gumbel
from funcnn.random._choice import choice as choice
from funcnn.random._choice import permutation as permutation
from funcnn.random._keys import Key as Key
from funcnn.random._keys import PRNGKey as PRNGKey
from funcnn.random._keys import fold_in as fold_in
from funcnn.random._keys import key as key
from funcnn.random._keys import split as split
from funcnn.random._samplers import bernoulli as bernoulli
from funcnn.random._samplers import bits as bits
from funcnn.random._samplers import normal as normal
from funcnn.random._samplers import randint as randint
from funcnn.random._samplers import truncated_normal as truncated_normal
from funcnn.random._samplers import uniform as uniform

__all__ = [
    "Key",
    "PRNGKey",
    "bernoulli",
    "bits",
    "categorical",
    "choice",
    "fold_in",
    "gumbel",
    "key",
    "normal",
    "permutation",
    "randint",
    "split",
    "truncated_normal",
    "uniform",
]
