"""Random programs run in funcnn and in JAX / PyTorch: values, gradients and second
derivatives must agree. Each peer is optional; its tests skip when it is not installed."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funcnn as fn
import funcnn.numpy as fnp

SHAPE = (3, 4)

# name -> (arity, funcnn version, builder of the peer version from its namespace)
UNARY = {
    "sin": lambda m: m.sin, "cos": lambda m: m.cos, "tanh": lambda m: m.tanh,
    "exp_tanh": lambda m: (lambda x: m.exp(m.tanh(x))),
    "log_1px2": lambda m: (lambda x: m.log(1 + x * x)),
    "sqrt_1px2": lambda m: (lambda x: m.sqrt(1 + x * x)),
    "square": lambda m: (lambda x: x * x), "neg": lambda m: (lambda x: -x),
    "arctan": lambda m: (m.arctan if hasattr(m, "arctan") else m.atan),
    "expm1_tanh": lambda m: (lambda x: m.expm1(m.tanh(x))),
    "log1p_x2": lambda m: (lambda x: m.log1p(x * x)),
    "abs_plus": lambda m: (lambda x: m.abs(x) + x),
    "cube": lambda m: (lambda x: x ** 3),
    "center": lambda m: (lambda x: x - m.mean(x, 0, keepdims=True)),
    "flip_t": lambda m: (lambda x: m.flip(x, 1)),
    "softmax_rows": lambda m: (lambda x: m.exp(x - m.max(x, 1, keepdims=True))
                               / m.sum(m.exp(x - m.max(x, 1, keepdims=True)), 1, keepdims=True)),
    "row_norm": lambda m: (lambda x: x / m.sqrt(1 + m.sum(x * x, 1, keepdims=True))),
    "gram": lambda m: (lambda x: (x @ x.T @ x) / 10),
}
BINARY = {
    "add": lambda m: (lambda x, y: x + y), "sub": lambda m: (lambda x, y: x - y),
    "mul": lambda m: (lambda x, y: x * y), "div": lambda m: (lambda x, y: x / (1 + y * y)),
    "maximum": lambda m: m.maximum, "minimum": lambda m: m.minimum,
    "where": lambda m: (lambda x, y: m.where(x > y, x * y, x - y)),
    "pow": lambda m: (lambda x, y: (1 + x * x) ** m.tanh(y)),
    "mix": lambda m: (lambda x, y: m.sin(x) * m.cos(y) + m.tanh(x * y)),
}
REDUCE = {
    "sum": lambda m: (lambda x: m.sum(x)), "mean_sq": lambda m: (lambda x: m.mean(x * x)),
    "max_rows": lambda m: (lambda x: m.sum(m.max(x, 1))),
    "lse": lambda m: (lambda x: m.sum(m.log(m.sum(m.exp(3 * m.tanh(x)), 0)))),
    "prod_rows": lambda m: (lambda x: m.sum(m.prod(m.tanh(x) + 1.5, 1))),
}


@st.composite
def programs(draw):
    steps = []
    for i in range(draw(st.integers(2, 7))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, i + 1))))
        else:
            a, b = draw(st.integers(0, i + 1)), draw(st.integers(0, i + 1))
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))), a, b))
    return steps, draw(st.sampled_from(sorted(REDUCE)))


def build(program, m):
    """The program as a function of (x, y) over namespace ``m`` (funcnn.numpy, jax.numpy or a torch shim)."""
    steps, reduce = program

    def f(x, y):
        values = [x, y]
        for step in steps:
            if step[0] == "u":
                values.append(UNARY[step[1]](m)(values[step[2]]))
            else:
                values.append(BINARY[step[1]](m)(values[step[2]], values[step[3]]))
        return REDUCE[reduce](m)(values[-1] + values[-2])
    return f


inputs = st.integers(0, 2**31 - 1).map(
    lambda seed: tuple(np.random.default_rng(seed).uniform(-1.5, 1.5, (2,) + SHAPE)))


@given(program=programs(), xy=inputs)
def test_random_programs_match_jax(program, xy):
    jax = pytest.importorskip("jax", reason="JAX is not installed; pip install jax jaxlib to run this oracle")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    f, g = build(program, fnp), build(program, jnp)
    x, y = xy
    np.testing.assert_allclose(f(x, y), g(x, y), rtol=1e-10, atol=1e-10)
    ours = fn.grad(f, argnums=(0, 1))(x, y)
    theirs = jax.grad(g, argnums=(0, 1))(x, y)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    v = np.random.default_rng(0).standard_normal(SHAPE)
    hvp = fn.jvp(lambda x: fn.grad(f)(x, y), (x,), (v,))[1]
    hvp_jax = jax.jvp(lambda x: jax.grad(g)(x, y), (x,), (v,))[1]
    np.testing.assert_allclose(hvp, hvp_jax, rtol=1e-8, atol=1e-8)
    rev_rev = fn.grad(lambda x: fnp.sum(fn.grad(f)(x, y) * v))(x)
    np.testing.assert_allclose(rev_rev, hvp_jax, rtol=1e-8, atol=1e-8)


class TorchNamespace:
    """The few NumPy spellings the programs use, on torch tensors."""

    def __init__(self, torch):
        self.t = torch

    def __getattr__(self, name):
        return getattr(self.t, name)

    def mean(self, x, axis=None, keepdims=False):
        return self.t.mean(x) if axis is None else self.t.mean(x, dim=axis, keepdim=keepdims)

    def sum(self, x, axis=None, keepdims=False):
        return self.t.sum(x) if axis is None else self.t.sum(x, dim=axis, keepdim=keepdims)

    def max(self, x, axis, keepdims=False):
        return self.t.amax(x, dim=axis, keepdim=keepdims)

    def prod(self, x, axis):
        return self.t.prod(x, dim=axis)

    def flip(self, x, axis):
        return self.t.flip(x, dims=(axis,))


@given(program=programs(), xy=inputs)
def test_random_programs_match_torch(program, xy):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; pip install torch==2.13.0")
    f, g = build(program, fnp), build(program, TorchNamespace(torch))
    x, y = xy
    tx, ty = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, y))
    out = g(tx, ty)
    gx, gy = (torch.zeros_like(t) if d is None else d
              for d, t in zip(torch.autograd.grad(out, (tx, ty), create_graph=True, allow_unused=True), (tx, ty)))
    np.testing.assert_allclose(f(x, y), out.item(), rtol=1e-10, atol=1e-10)
    ours = fn.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(ours[0], gx.detach().numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours[1], gy.detach().numpy(), rtol=1e-9, atol=1e-9)
    v = np.random.default_rng(0).standard_normal(SHAPE)
    hvp = fn.jvp(lambda x: fn.grad(f)(x, y), (x,), (v,))[1]
    hvp_torch = torch.autograd.grad(gx, tx, torch.tensor(v), allow_unused=True)[0] if gx.requires_grad else None
    expected = np.zeros(SHAPE) if hvp_torch is None else hvp_torch.numpy(force=True)
    np.testing.assert_allclose(hvp, expected, rtol=1e-8, atol=1e-8)


def test_autograd_agrees_on_a_deep_chain():
    autograd = pytest.importorskip("autograd", reason="HIPS autograd is not installed")
    import autograd.numpy as anp

    def chain(m):
        def f(x):
            for _ in range(30):
                x = m.tanh(x) * 1.1 + m.sin(x) * 0.1
            return m.sum(x ** 2)
        return f

    x = np.linspace(-1, 1, 7)
    np.testing.assert_allclose(fn.grad(chain(fnp))(x), autograd.grad(chain(anp))(x), rtol=1e-12)
