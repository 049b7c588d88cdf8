"""check_grads: each order checks only the requested modes, composed as JAX composes them, and
a failure names the order, the mode and the derivative function that failed."""
import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn.testing import _checks, check_grads

X = np.array([0.3, -1.1, 0.8])


def softplus_with_vjp():
    """softplus with a hand-written, correct VJP (it has no JVP)."""
    @fn.custom_vjp
    def softplus(x):
        return fnp.log1p(fnp.exp(x))

    softplus.defvjp(lambda x: (softplus.fun(x), x), lambda x, g: (g / (1 + fnp.exp(-x)),))
    return softplus


def sin_with_flat_vjp():
    """sin whose VJP has the right value, cos(x) g, but not the right derivative: the residual
    enters behind stop_gradient, so the second derivative it implies is 0, not -sin(x)."""
    @fn.custom_vjp
    def sin(x):
        return fnp.sin(x)

    sin.defvjp(lambda x: (fnp.sin(x), x), lambda x, g: (g * fnp.cos(fn.stop_gradient(x)),))
    return sin


@pytest.fixture
def primitive():
    """Makes primitives with given rules, and unregisters them after the test."""
    from funcnn._src.core import PRIMITIVES
    from funcnn.extend import Primitive, def_jvp, def_vjp

    made = []

    def make(name, jvp_rule, vjp_maker):
        prim = Primitive(name, np.sin)
        def_jvp(prim, jvp_rule)
        def_vjp(prim, vjp_maker)
        made.append(prim)
        return prim

    yield make
    for prim in made:
        PRIMITIVES.remove(prim)


def no_vjp(ans, x):
    raise RuntimeError("a VJP rule was called")


def test_custom_vjp_is_checked_to_second_order_in_reverse_mode():
    softplus = softplus_with_vjp()
    check_grads(softplus, (X,), order=2, modes=("rev",))
    check_grads(softplus, (X,), order=3, modes="rev")
    check_grads(lambda x, y: fnp.sum(softplus(x * y)), (X, X[::-1].copy()), order=2, modes=("rev",))
    with pytest.raises(TypeError, match="forward-mode"):  # a JVP is asked for: JAX refuses it too
        check_grads(softplus, (X,), order=1, modes=("fwd",))


def test_float32_inputs_are_checked_with_looser_tolerances():
    softplus = softplus_with_vjp()
    check_grads(softplus, (X.astype(np.float32),), order=2, modes=("rev",))


def test_a_wrong_second_derivative_fails_at_order_2_in_reverse_mode():
    sin = sin_with_flat_vjp()
    check_grads(sin, (X,), order=1, modes=("rev",))
    with pytest.raises(AssertionError) as info:
        check_grads(sin, (X,), order=2, modes=("rev",))
    message = str(info.value)
    assert "order 2 in mode 'rev'" in message and "the VJP of the VJP of f" in message
    assert "error" in message and "tolerance" in message


def test_a_wrong_second_derivative_fails_at_order_2_in_forward_mode(primitive):
    flat = primitive("flat_jvp_sin", lambda t, ans, x: t * fnp.cos(fn.stop_gradient(x)), no_vjp)
    check_grads(flat.bind, (X,), order=1, modes=("fwd",))
    with pytest.raises(AssertionError, match=r"order 2 in mode 'fwd' failed \(checking the JVP of the JVP of f\)"
                                             r": forward mode \(jvp\) vs finite differences.*max abs difference"):
        check_grads(flat.bind, (X,), order=2, modes=("fwd",))


def test_a_wrong_first_derivative_fails_at_order_1():
    @fn.custom_vjp
    def bad(x):
        return fnp.sin(x)

    bad.defvjp(lambda x: (fnp.sin(x), x), lambda x, g: (1.01 * g * fnp.cos(x),))
    with pytest.raises(AssertionError, match=r"order 1 in mode 'rev' failed \(checking the VJP of f\): "
                                             r"reverse mode \(vjp\) disagrees"):
        check_grads(bad, (X,), order=2, modes=("rev",))


def test_forward_mode_alone_never_calls_a_vjp(primitive):
    sin = primitive("sin_without_vjp", lambda t, ans, x: t * fnp.cos(x), no_vjp)
    check_grads(sin.bind, (X,), order=3, modes=("fwd",))
    with pytest.raises(RuntimeError, match="a VJP rule was called"):
        check_grads(sin.bind, (X,), order=1, modes=("rev",))


def test_each_order_composes_the_requested_modes(monkeypatch):
    calls = []
    monkeypatch.setattr(_checks, "check_jvp", lambda f, args, **kw: calls.append("fwd"))
    monkeypatch.setattr(_checks, "check_vjp", lambda f, args, **kw: calls.append("rev"))
    check_grads(fnp.sin, (X,), order=3)
    assert calls.count("fwd") == calls.count("rev") == 1 + 2 + 4  # two modes on 1, 2, 4 functions
    calls.clear()
    check_grads(fnp.sin, (X,), order=3, modes=("rev",))
    assert calls == ["rev"] * 3
    calls.clear()
    check_grads(fnp.sin, (X,), order=2, modes=("fwd", "fwd"))
    assert calls == ["fwd"] * 2


def test_mixed_orders_check_the_derivative_functions():
    check_grads(lambda x, w: fnp.sum(fnp.tanh(x @ w)), (np.ones((2, 3)), np.full((3, 2), 0.3)), order=2)
    check_grads(lambda p: fnp.exp(p["a"]) * p["b"], ({"a": X, "b": X + 2},), order=3, modes=("rev", "fwd"))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="modes must be 'fwd' and/or 'rev', not 'sideways'"):
        check_grads(fnp.sin, (X,), modes=("sideways",))
    with pytest.raises(ValueError, match="modes is empty"):
        check_grads(fnp.sin, (X,), modes=())
    with pytest.raises(ValueError, match="order must be a positive int; got 0"):
        check_grads(fnp.sin, (X,), order=0)
