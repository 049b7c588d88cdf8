"""The layer type: a pair of pure functions ``init`` and ``apply``, as in JAX's stax.

Every layer is built from two internal functions that share one convention:

* ``init_fn(key, input_shape, path) -> (output_shape, params, state)``
* ``apply_fn(params, state, x, ctx) -> (y, new_state)``

``path`` is the layer's key path inside the model's params (for error messages) and
``ctx`` a :class:`Context` carrying the key, the mode and that path. ``state`` is ``None``
when the caller passed none; a layer then returns ``None`` as its new state. The public
methods of :class:`Layer` wrap these two in the user-facing convention documented there.

A layer also remembers how it was made, as a :class:`Config` (the constructor's name and
the arguments it was given), which its ``repr`` prints as the call that rebuilds it.
Combinators run their sublayers through :func:`init_sublayer` and :func:`apply_sublayer`,
which report each visit to a watcher when one is installed (``nn.summary`` is one).
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import inspect
import textwrap
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, NamedTuple, ParamSpec, TypeVar

import numpy as np

from funcnn import random
from funcnn.extend import shape_of

Shape = tuple[int, ...]
Params = Any
State = Any
InitFn = Callable[[Any, Any, tuple[str, ...]], tuple[Any, Params, State]]
ApplyFn = Callable[[Params, State, Any, "Context"], tuple[Any, State]]


def keystr(path: Sequence[str]) -> str:
    """``['block_0']['dense_1']`` for the path ``("block_0", "dense_1")``."""
    return "".join(f"[{name!r}]" for name in path)


def describe(kind: str, path: Sequence[str]) -> str:
    """How an error names a layer: ``Dense layer 'dense_1' (params['block_0']['dense_1'])``."""
    if not path:
        return f"{kind} layer"
    return f"{kind} layer {path[-1]!r} (params{keystr(path)})"


class Context(NamedTuple):
    """What ``apply`` passes down a model: the PRNG key, the mode and the layer's key path."""

    key: Any
    train: bool
    path: tuple[str, ...]

    def child(self, name: str, index: int) -> Context:
        """The context of a sublayer: its own key (``fold_in(key, index)``) and path."""
        key = None if self.key is None else random.fold_in(self.key, index)
        return Context(key, self.train, self.path + (name,))


def child_init_key(key: Any, index: int) -> Any:
    """The init key of sublayer ``index``: ``fold_in(key, index)``, so that adding a layer at
    the end of a model does not change the parameters of the layers before it."""
    return random.fold_in(key, index)


def entry(tree: Any, name: str, path: Sequence[str], what: str = "params") -> Any:
    """``tree[name]``, or a ``ValueError`` saying which entry of ``params``/``state`` is missing."""
    if isinstance(tree, dict) and name in tree:
        return tree[name]
    where = f"{what}{keystr(path)}"
    if not isinstance(tree, dict):
        raise ValueError(f"{where} should be a dict with an entry {name!r}, but it is a "
                         f"{type(tree).__name__}; pass the {what} made by this model's init")
    hint = ("; state comes from init_with_state" if what == "state" else
            "; were these params made by this model's init?")
    raise ValueError(f"{where} has no entry {name!r} (its entries: {sorted(tree)}){hint}")


def as_shape(input_shape: Any, who: str) -> Shape:
    """``input_shape`` checked to be a tuple of ints (``-1`` allowed for an unknown batch size)."""
    if isinstance(input_shape, (tuple, list)) and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= -1 for d in input_shape):
        return tuple(int(d) for d in input_shape)
    raise ValueError(f"{who}: input_shape must be a tuple of ints (-1 for an unknown batch size); "
                     f"got {input_shape!r}")


def same_shape(expected: Sequence[int], actual: Sequence[int]) -> bool:
    """Whether ``actual`` fits ``expected``, where ``-1`` in ``expected`` matches any size."""
    return len(expected) == len(actual) and all(e in (-1, a) for e, a in zip(expected, actual))


# A combinator's repr longer than this puts each argument on its own line.
_LINE_WIDTH = 80


def _is_dtype(value: Any) -> bool:
    return isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic))


def _is_default(value: Any, default: Any) -> bool:
    """Whether `value` equals the parameter's `default` (dtypes compare as dtypes)."""
    if value is default:
        return True
    if _is_dtype(default):
        try:
            return bool(np.dtype(value) == np.dtype(default))
        except TypeError:
            return False
    try:
        same = value == default
    except Exception:  # an argument whose == raises is simply not the default
        return False
    return isinstance(same, (bool, np.bool_)) and bool(same)


def _render_value(value: Any) -> str:
    """An argument as it reads in a call: layers by their repr, dtypes by name, functions by name."""
    if _is_dtype(value):
        return repr(np.dtype(value).name)
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, tuple):
        items = [_render_value(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, list):
        return f"[{', '.join(_render_value(v) for v in value)}]"
    if inspect.isroutine(value):
        qualname = getattr(value, "__qualname__", getattr(value, "__name__", "function"))
        # A closure cannot be written back as a name; say where it came from instead.
        return f"<function {qualname}>" if "<locals>" in qualname else value.__name__
    return repr(value)


def call_text(title: str, parts: Sequence[str], bare: bool = False, nested: bool = False) -> str:
    """``title(part, part, ...)``; ``title`` alone when `bare` and there are no parts. A call
    with `nested` layers among its parts goes on several indented lines when long."""
    if not parts:
        return title if bare else f"{title}()"
    line = f"{title}({', '.join(parts)})"
    if not nested or (len(line) <= _LINE_WIDTH and "\n" not in line):
        return line
    body = "".join(textwrap.indent(part, "  ") + ",\n" for part in parts)
    return f"{title}(\n{body})"


@dataclasses.dataclass(frozen=True)
class Config:
    """How a layer was made: the constructor's name and the arguments it was given.

    Attributes
    ----------
    constructor : str
        The name under which ``funcnn.nn`` exports the constructor (``"Conv"``, ``"serial"``).
    args : tuple
        The required arguments in order, then the variadic ones (a combinator's layers).
    kwargs : tuple of (str, value) pairs
        The optional arguments that differ from their defaults, in the signature's order.

    Examples
    --------
    >>> Config("Conv", (16, 3), (("padding", 1),)).render()
    'Conv(16, 3, padding=1)'
    """

    constructor: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of_call(cls, constructor: str, signature: inspect.Signature, args: Sequence[Any],
                kwargs: dict[str, Any]) -> Config:
        """The config of ``constructor(*args, **kwargs)``, a function of `signature`."""
        positional: list[Any] = []
        keywords: list[tuple[str, Any]] = []
        for name, value in signature.bind(*args, **kwargs).arguments.items():
            param = signature.parameters[name]
            if param.kind is param.VAR_POSITIONAL:
                positional.extend(value)
            elif param.kind is param.VAR_KEYWORD:
                keywords.extend(value.items())
            elif param.default is param.empty and param.kind is not param.KEYWORD_ONLY:
                positional.append(value)
            elif param.default is param.empty or not _is_default(value, param.default):
                keywords.append((name, value))
        return cls(constructor, tuple(positional), tuple(keywords))

    def render(self, bare: bool = False) -> str:
        """The call that rebuilds the layer (just the name when `bare` and without arguments)."""
        parts = [_render_value(v) for v in self.args]
        parts += [f"{name}={_render_value(v)}" for name, v in self.kwargs]
        nested = any(isinstance(v, Layer) for v in [*self.args, *dict(self.kwargs).values()])
        return call_text(self.constructor, parts, bare, nested)


@dataclasses.dataclass(frozen=True, eq=False)
class Layer:
    """A layer: the pure functions ``init`` and ``apply``, as in JAX's stax.

    ``init_fn, apply_fn = layer`` unpacks it like a stax pair.

    Its ``repr`` is the call that made it, ``Conv(16, 3, padding=1)``: the constructor's
    required arguments and those of its optional arguments that differ from the defaults.

    Attributes
    ----------
    name : str
        The stem of the layer's key in a combinator's params: the ``i``-th layer of a
        :func:`serial` is stored under ``f"{name}_{i}"`` (``params["dense_0"]``), unless it
        was given an exact name with :meth:`named`.
    config : Config or None
        How the layer was made (set by :func:`layer_constructor`); ``None`` for a layer
        built directly with ``Layer(name, init_fn, apply_fn)``.
    """

    # A layer written without parentheses when it has no arguments (``Relu``, ``Flatten``).
    written_bare: ClassVar[bool] = False

    name: str
    init_fn: InitFn = dataclasses.field(repr=False)
    apply_fn: ApplyFn = dataclasses.field(repr=False)
    config: Config | None = dataclasses.field(default=None, repr=False)
    exact_name: bool = dataclasses.field(default=False, repr=False)

    def init(self, key: Any, input_shape: Sequence[int]) -> tuple[Any, Params]:
        """Create parameters for inputs of `input_shape`.

        Parameters
        ----------
        key : PRNG key from ``funcnn.random.key``
        input_shape : tuple of int
            Including the batch dimension, which may be ``-1`` (unknown). Combinators
            that take several inputs (:func:`parallel`) take a tuple of shapes.

        Returns
        -------
        output_shape : tuple of int
            The shape ``apply`` will return, worked out without data.
        params : dict
            Nested dicts of arrays with readable names, e.g. ``params["dense_0"]["w"]``.

        Examples
        --------
        >>> from funcnn import nn, random
        >>> out_shape, params = nn.Dense(3).init(random.key(0), (-1, 5))
        >>> out_shape, params["w"].shape, params["b"].shape
        ((-1, 3), (5, 3), (3,))
        """
        output_shape, params, _ = self.init_fn(key, input_shape, ())
        return output_shape, params

    def init_with_state(self, key: Any, input_shape: Sequence[int]) -> tuple[Any, Params, State]:
        """Like :meth:`init`, and also the initial ``state`` (e.g. BatchNorm's running statistics).

        The params are the same as :meth:`init` makes from the same key. The state is a
        dict with one entry per sublayer, parallel to the params (``{}`` for layers
        without state).

        Examples
        --------
        >>> from funcnn import nn, random
        >>> model = nn.serial(nn.Dense(4), nn.BatchNorm())
        >>> _, params, state = model.init_with_state(random.key(0), (-1, 3))
        >>> state["batch_norm_1"]["mean"]
        array([0., 0., 0., 0.], dtype=float32)
        >>> state["dense_0"]
        {}
        """
        return self.init_fn(key, input_shape, ())

    def apply(self, params: Params, x: Any, *, key: Any = None, train: bool = False,
              state: State = None) -> Any:
        """Run the layer on `x`.

        Parameters
        ----------
        params : dict
            From :meth:`init`.
        x : ndarray
            An input of the shape given to :meth:`init` (any batch size).
        key : PRNG key, optional
            Needed in training mode by layers that draw random numbers (``Dropout``).
            Combinators give each sublayer its own key, ``fold_in(key, index)``.
        train : bool, default False
            Training mode (``Dropout`` drops, ``BatchNorm`` uses batch statistics) or
            evaluation mode (deterministic).
        state : dict, optional
            From :meth:`init_with_state` or a previous call. When given, the result is
            ``(y, new_state)``; when omitted, just ``y``. ``BatchNorm`` needs it in
            evaluation mode.

        Returns
        -------
        y, or (y, new_state) when `state` is given

        Examples
        --------
        >>> import numpy as np
        >>> from funcnn import nn, random
        >>> _, params = nn.Dense(2).init(random.key(0), (-1, 3))
        >>> nn.Dense(2).apply(params, np.ones((4, 3), np.float32)).shape
        (4, 2)
        """
        if not isinstance(train, (bool, np.bool_)):
            raise TypeError(f"apply: train must be True or False; got {train!r}")
        y, new_state = self.apply_fn(params, state, x, Context(key, bool(train), ()))
        return y if state is None else (y, new_state)

    def named(self, name: str) -> Layer:
        """This layer under the exact key `name` in a combinator's params (no index suffix).

        Examples
        --------
        >>> from funcnn import nn, random
        >>> model = nn.serial(nn.Dense(8).named("hidden"), nn.Relu, nn.Dense(2).named("head"))
        >>> sorted(model.init(random.key(0), (-1, 4))[1])
        ['head', 'hidden', 'relu_1']
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"named: a layer name must be a non-empty string; got {name!r}")
        return dataclasses.replace(self, name=name, exact_name=True)

    def __iter__(self) -> Iterator[Callable[..., Any]]:
        yield self.init
        yield self.apply

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        shown = repr(self) if "\n" not in repr(self) else "layer"
        raise TypeError(f"a layer is not called directly: use {shown}.apply(params, x) to run it "
                        "and .init(key, input_shape) to create its params")

    def __repr__(self) -> str:
        """The call that rebuilds the layer, e.g. ``Dense(8).named('hidden')``.

        Examples
        --------
        >>> from funcnn import nn
        >>> nn.serial(nn.Conv(16, 3, padding=1), nn.Relu, nn.Dense(10).named("head"))
        serial(Conv(16, 3, padding=1), Relu, Dense(10).named('head'))
        """
        if self.config is None:
            return f"Layer({self.name!r})"
        named = f".named({self.name!r})" if self.exact_name else ""
        return self.config.render(bare=self.written_bare) + named


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class ConfigurableLayer(Layer):
    """A ready-made layer that can also be called to configure it: ``Relu`` and ``Relu()`` are
    the same layer; ``LeakyRelu(0.2)`` and ``Softmax(axis=1)`` are configured ones."""

    written_bare: ClassVar[bool] = True

    factory: Callable[..., Layer] | None = dataclasses.field(default=None, repr=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Layer:
        assert self.factory is not None
        return self.factory(*args, **kwargs)


def configurable(factory: Callable[..., Layer]) -> ConfigurableLayer:
    """``factory()`` as a layer that, when called, runs ``factory`` again with the arguments."""
    def make(*args: Any, **kwargs: Any) -> ConfigurableLayer:
        made = factory(*args, **kwargs)
        return ConfigurableLayer(made.name, made.init_fn, made.apply_fn, made.config, made.exact_name,
                                 factory=make)

    return make()


P = ParamSpec("P")
L = TypeVar("L", bound=Layer)


def layer_constructor(make: Callable[P, L]) -> Callable[P, L]:
    """Make the layers that `make` returns remember the arguments they were made with.

    Decorate a layer constructor with it: the layer's ``repr`` then shows the call
    (required arguments, and optional ones that differ from their defaults) and
    ``nn.summary`` names its kind.

    Examples
    --------
    >>> import numpy as np
    >>> from funcnn import nn
    >>> @nn.layer_constructor
    ... def Scale(init_value=1.0):
    ...     def init_fn(key, input_shape, path):
    ...         return input_shape, {"scale": np.full(input_shape[-1], init_value, np.float32)}, {}
    ...     def apply_fn(params, state, x, ctx):
    ...         return x * params["scale"], state
    ...     return nn.Layer("scale", init_fn, apply_fn)
    >>> Scale(), Scale(init_value=2.0)
    (Scale(), Scale(init_value=2.0))
    """
    signature = inspect.signature(make)

    @functools.wraps(make)
    def constructor(*args: P.args, **kwargs: P.kwargs) -> L:
        layer = make(*args, **kwargs)
        config = Config.of_call(make.__name__, signature, args, kwargs)
        return dataclasses.replace(layer, config=config)

    return constructor


Watcher = Callable[[str, tuple[str, ...], Layer], Callable[[Any], None]]
_WATCHER: contextvars.ContextVar[Watcher | None] = contextvars.ContextVar("funcnn_nn_watcher", default=None)


@contextlib.contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    """Inside the block, every :func:`init_sublayer` and :func:`apply_sublayer` call first calls
    ``watcher(event, path, layer)`` (`event` is ``"init"`` or ``"apply"``) and passes what the
    layer returns to the function the watcher returned."""
    token = _WATCHER.set(watcher)
    try:
        yield
    finally:
        _WATCHER.reset(token)


def _ignore(result: Any) -> None:
    return None


def _report(event: str, path: tuple[str, ...], layer: Layer) -> Callable[[Any], None]:
    watcher = _WATCHER.get()
    return _ignore if watcher is None else watcher(event, path, layer)


def init_sublayer(layer: Layer, key: Any, input_shape: Any, path: tuple[str, ...]) -> tuple[Any, Params, State]:
    """``layer.init_fn(key, input_shape, path)``, reported to the watcher (see :func:`watching`)."""
    done = _report("init", path, layer)
    result = layer.init_fn(key, input_shape, path)
    done(result)
    return result


def apply_sublayer(layer: Layer, params: Params, state: State, x: Any, ctx: Context) -> tuple[Any, State]:
    """``layer.apply_fn(params, state, x, ctx)``, reported to the watcher (see :func:`watching`)."""
    done = _report("apply", ctx.path, layer)
    result = layer.apply_fn(params, state, x, ctx)
    done(result)
    return result


def check_layers(who: str, layers: Sequence[Any]) -> None:
    """Every element of `layers` must be a :class:`Layer`; suggest calling a constructor."""
    for i, layer in enumerate(layers):
        if isinstance(layer, Layer):
            continue
        if callable(layer):
            fname = getattr(layer, "__name__", repr(layer))
            raise TypeError(f"{who}: argument {i} is the function {fname}, not a layer; call it to "
                            f"make one, e.g. {fname}(...)")
        raise TypeError(f"{who}: argument {i} is a {type(layer).__name__}, not a layer")


def child_names(who: str, layers: Sequence[Layer]) -> list[str]:
    """The params keys of `layers` inside a combinator: ``f"{name}_{i}"`` or an exact name."""
    names = [layer.name if layer.exact_name else f"{layer.name}_{i}" for i, layer in enumerate(layers)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{who}: two layers would both be stored under params[{name!r}]; "
                             "give them different names with .named(...)")
        seen.add(name)
    return names


def input_shape_of(x: Any) -> Shape:
    """The shape of an array or traced value."""
    return tuple(shape_of(x))


def positive_int(value: Any, who: str, name: str) -> int:
    """`value` checked to be a positive int (a layer's size argument)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{who}: {name} must be a positive int; got {value!r}")
    return int(value)
