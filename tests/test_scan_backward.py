"""Reverse mode of scan: the residuals the forward loop keeps, the products of per-step values
the backward loop leaves to one contraction after it (a weight's gradient as one GEMM over all
steps), and the steps' outputs written straight into the stacked results. Gradients against the
same scan with the contractions left in the loop (bit for bit where nothing was taken out, to
1e-12 in float64 where something was), the unrolled Python loop, and JAX where installed."""
import contextlib

import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import extend, lax
from funcnn._src import step_sums
from funcnn.testing import check_grads

from test_graph import assert_same_bits

RNG = np.random.default_rng(0)


@contextlib.contextmanager
def products_in_the_loop():
    """Scan's reverse mode with no step-sum rules: every cotangent summed step by step, as before."""
    saved = dict(step_sums.step_sum_rules)
    step_sums.step_sum_rules.clear()
    try:
        yield
    finally:
        step_sums.step_sum_rules.update(saved)


def grads_both_ways(loss, args, argnums):
    """The gradient with the products taken out of the loop, and with them left in."""
    taken_out = fn.grad(loss, argnums=argnums)(*args)
    with products_in_the_loop():
        in_loop = fn.grad(loss, argnums=argnums)(*args)
    return taken_out, in_loop


def assert_close(actual, expected, rtol=1e-12, atol=1e-13):
    for a, e in zip(actual, expected):
        assert np.asarray(a).dtype == np.asarray(e).dtype
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def scans_of(graph):
    return [eq for eq in graph.equations if eq.prim.name == "scan"]


def products_after_the_loops(loss, args, argnums):
    """The products the gradient's graph forms after its backward scan, as (name, operand shapes)."""
    graph = fn.make_graph(fn.grad(loss, argnums=argnums))(*args)
    after = graph.equations[graph.equations.index(scans_of(graph)[-1]) + 1:]
    return sorted((eq.prim.name, tuple(v.aval.shape for v in eq.inputs)) for eq in after
                  if eq.prim.name in ("matmul", "einsum"))


# --- bodies ------------------------------------------------------------------------------------------


def rnn_loss(w, u, b, xs, h0, reverse=False):
    """h = tanh(h W + x U + b), a batch of 4: W's and U's gradients are products of per-step values."""
    def step(h, x):
        h = fnp.tanh(h @ w + x @ u + b)
        return h, fnp.sum(h ** 2)
    h, ys = lax.scan(step, h0, xs, reverse=reverse)
    return fnp.sum(ys) + fnp.sum(h * h0)


def rnn_by_hand(w, u, b, xs, h0, reverse=False):
    h, total = h0, 0.0
    for x in (xs[::-1] if reverse else xs):
        h = fnp.tanh(h @ w + x @ u + b)
        total = total + fnp.sum(h ** 2)
    return total + fnp.sum(h * h0)


RNN_ARGS = (RNG.standard_normal((3, 3)) * 0.5, RNG.standard_normal((2, 3)) * 0.5, RNG.standard_normal(3) * 0.1,
            RNG.standard_normal((6, 4, 2)), RNG.standard_normal((4, 3)) * 0.1)


def many_ways_loss(w, xs, h0):
    """``w`` used as the right factor, transposed, as the left factor, elementwise, through a
    sum, and against each step's output cotangent: some terms of its gradient are products of
    per-step values, the others stay in the loop."""
    def step(h, x):
        pre = h @ w + x @ w.T + (w @ h.T).T * 0.5 + fnp.sum(w) * h + h * w[0]
        h = fnp.tanh(pre)
        return h, h @ w
    h, ys = lax.scan(step, h0, xs)
    return fnp.sum(ys ** 2) + fnp.sum(h)


MANY_ARGS = (RNG.standard_normal((3, 3)) * 0.3, RNG.standard_normal((5, 2, 3)), RNG.standard_normal((2, 3)) * 0.1)


# --- the gradients ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True])
def test_products_after_the_loop_give_the_gradient_of_the_loop(reverse):
    args = RNN_ARGS + (reverse,)
    loss = lambda *a: rnn_loss(*a[:5], reverse=a[5])  # noqa: E731
    taken_out, in_loop = grads_both_ways(loss, args, (0, 1, 2, 3, 4))
    assert_close(taken_out, in_loop)
    by_hand = fn.grad(lambda *a: rnn_by_hand(*a, reverse=reverse), argnums=(0, 1, 2, 3, 4))(*RNN_ARGS)
    assert_close(taken_out, by_hand)
    assert_same_bits(fn.jit(fn.grad(loss, argnums=(0, 1, 2, 3, 4)), static_argnums=5)(*args), taken_out)


def test_a_constant_used_in_several_ways():
    taken_out, in_loop = grads_both_ways(many_ways_loss, MANY_ARGS, (0, 1, 2))
    assert_close(taken_out, in_loop)
    # h @ w, x @ w.T, w @ h.T and ys' h @ w: four products over the 5 steps of 2 rows each
    assert [shapes for _, shapes in products_after_the_loops(many_ways_loss, MANY_ARGS, 0)] == [
        ((3, 10), (10, 3))] * 4
    check_grads(many_ways_loss, MANY_ARGS, order=1)


def test_nothing_to_take_out_changes_no_bit():
    """A body whose constants enter elementwise only: the backward loop is the one it was."""
    def loss(w, xs):
        return fnp.sum(lax.scan(lambda h, x: (fnp.sin(h * w + x), h), np.zeros(3), xs)[1])
    args = (RNG.standard_normal(3), RNG.standard_normal((4, 3)))
    taken_out, in_loop = grads_both_ways(loss, args, (0, 1))
    assert_same_bits(taken_out, in_loop)


def test_float32_gradients_stay_float32_and_match_float64():
    args32 = tuple(a.astype(np.float32) for a in RNN_ARGS)
    grads32 = fn.grad(rnn_loss, argnums=(0, 1, 2, 3, 4))(*args32)
    grads64 = fn.grad(rnn_loss, argnums=(0, 1, 2, 3, 4))(*RNN_ARGS)
    for g32, g64 in zip(grads32, grads64):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=2e-5, atol=2e-6)
    with products_in_the_loop():
        in_loop = fn.grad(rnn_loss, argnums=(0, 1, 2, 3, 4))(*args32)
    assert_close(grads32, in_loop, rtol=2e-5, atol=2e-6)


def test_nested_scans():
    """An outer scan over sequences, an inner one over their steps, both closing over ``w``."""
    def loss(w, u, seqs):
        def sequence(total, xs):
            h, hs = lax.scan(lambda h, x: (fnp.tanh(h @ w + x @ u), h), np.zeros((2, 3)), xs)
            return total + fnp.sum(h @ w), fnp.sum(hs)
        total, sums = lax.scan(sequence, 0.0, seqs)
        return total + fnp.sum(sums ** 2)
    args = (RNG.standard_normal((3, 3)) * 0.4, RNG.standard_normal((2, 3)) * 0.4, RNG.standard_normal((3, 4, 2, 2)))
    taken_out, in_loop = grads_both_ways(loss, args, (0, 1, 2))
    assert_close(taken_out, in_loop)
    check_grads(loss, args, order=1, modes="rev")


def test_vmap_of_the_gradient():
    """Per-example gradients of a batch of sequences, against one gradient per example."""
    w, u, b, _, h0 = RNN_ARGS
    seqs = RNG.standard_normal((3, 6, 4, 2))
    per_example = fn.vmap(fn.grad(rnn_loss, argnums=(0, 1)), in_axes=(None, None, None, 0, None))(w, u, b, seqs, h0)
    for i in range(3):
        one = fn.grad(rnn_loss, argnums=(0, 1))(w, u, b, seqs[i], h0)
        assert_close([p[i] for p in per_example], one)
    assert_same_bits(fn.jit(fn.vmap(fn.grad(rnn_loss), in_axes=(None, None, None, 0, None)))(w, u, b, seqs, h0),
                     per_example[0])


def test_second_order_through_the_products():
    """The contraction after the loop is differentiated like any product: grad of grad, and
    forward over reverse."""
    w, u, b, xs, h0 = RNN_ARGS
    small = (w, u, b, xs[:3, :2], h0[:2])
    check_grads(rnn_loss, small, order=2, modes=("rev",))
    check_grads(lambda w, xs: many_ways_loss(w, xs, MANY_ARGS[2]), MANY_ARGS[:2], order=2, modes=("fwd", "rev"))


def test_einsum_and_stacks_of_matrices():
    """Products with a step-sum rule besides a plain ``matmul``: ``einsum``, and a ``matmul`` of
    stacks of matrices (heads); a product with a vector stays in the loop."""
    def loss(w, v, heads, xs):
        def step(h, x):
            mixed = fnp.einsum("bi,ij->bj", h, w) + x
            per_head = fnp.reshape(h, (2, 2, 3)) @ heads  # (heads, batch, 3) @ (heads, 3, 3)
            h = fnp.tanh(mixed + fnp.reshape(per_head, (4, 3)) * 0.3 + (h @ v)[:, None])
            return h, h
        return fnp.sum(lax.scan(step, np.full((4, 3), 0.1), xs)[1] ** 2)
    args = (RNG.standard_normal((3, 3)) * 0.4, RNG.standard_normal(3) * 0.4, RNG.standard_normal((2, 3, 3)) * 0.4,
            RNG.standard_normal((5, 4, 3)))
    taken_out, in_loop = grads_both_ways(loss, args, (0, 1, 2, 3))
    assert_close(taken_out, in_loop)
    check_grads(loss, args, order=1, modes="rev")
    assert products_after_the_loops(loss, args, (0, 1, 2)) == [
        ("einsum", ((5, 4, 3), (5, 4, 3))), ("matmul", ((2, 3, 10), (2, 10, 3)))]


def test_zero_steps():
    xs = np.zeros((0, 4, 2))
    grads = fn.grad(rnn_loss, argnums=(0, 1))(RNN_ARGS[0], RNN_ARGS[1], RNN_ARGS[2], xs, RNN_ARGS[4])
    assert_same_bits(grads, (np.zeros((3, 3)), np.zeros((2, 3))))


def test_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def theirs(w, u, b, xs, h0):
        def step(h, x):
            h = jnp.tanh(h @ w + x @ u + b)
            return h, jnp.sum(h ** 2)
        h, ys = jax.lax.scan(step, h0, xs)
        return jnp.sum(ys) + jnp.sum(h * h0)

    ours = fn.grad(rnn_loss, argnums=(0, 1, 2, 3, 4))(*RNN_ARGS)
    expected = jax.grad(theirs, argnums=(0, 1, 2, 3, 4))(*RNN_ARGS)
    assert_close(ours, [np.asarray(e) for e in expected], rtol=1e-10, atol=1e-12)


# --- what the loops hold ----------------------------------------------------------------------------


def test_the_weights_gradients_are_one_product_each_after_the_loop():
    graph = fn.make_graph(fn.grad(rnn_loss, argnums=(0, 1, 2)))(*RNN_ARGS)
    forward, backward = scans_of(graph)
    # the backward loop carries the carry's cotangent and b's running sum, not W's or U's
    assert backward.params["n_carry"] == 2
    body = backward.params["body"]
    assert not [eq for eq in body.equations if eq.prim.name == "matmul" and eq.outputs[0].aval.shape == (3, 3)]
    after = graph.equations[graph.equations.index(backward) + 1:]
    products = [eq for eq in after if eq.prim.name == "matmul"]
    assert sorted(tuple(v.aval.shape for v in eq.inputs) for eq in products) == [((2, 24), (24, 3)),
                                                                                  ((3, 24), (24, 3))]


def test_the_forward_loop_stacks_few_residuals():
    """The backward loop recomputes tanh's derivative from tanh's value and transposes ``h``
    itself; ``x`` is read from ``xs``: the forward loop stacks the new and the old ``h`` only."""
    graph = fn.make_graph(fn.grad(rnn_loss, argnums=(0, 1, 2)))(*RNN_ARGS)
    forward = scans_of(graph)[0]
    residuals = forward.outputs[2:]  # after the final carry and the ys
    assert [v.aval.shape for v in residuals] == [(6, 4, 3), (6, 4, 3)]
    assert not [eq for eq in forward.params["body"].equations if eq.prim.name == "transpose"]


def test_linearized_graphs_recompute_only_what_the_forward_half_does_not_need():
    body = scans_of(fn.make_graph(lambda w, xs: lax.scan(
        lambda h, x: (fnp.tanh(h @ w + x), fnp.exp(h)), np.zeros((2, 3)), xs))(np.eye(3), np.ones((4, 2, 3))))[0]
    graph = body.params["body"]
    forward, backward = extend.linearized_graphs(graph, 1)
    # residuals: tanh's value (also the new carry), exp's value (also the output) and the old h
    assert len(forward.outputs) - len(graph.outputs) == 3
    names = [eq.prim.name for eq in forward.equations]
    assert names.count("tanh") == 1 and names.count("exp") == 1 and "transpose" not in names
    assert "tanh" not in [eq.prim.name for eq in backward.equations]


# --- the stacked outputs ---------------------------------------------------------------------------


def test_each_step_writes_its_outputs_into_the_stacked_results():
    """Outputs land in their rows of ``ys`` (straight from a ufunc or ``concatenate``, else
    copied); a carry that is also an output shares no memory with ``ys``."""
    def f(w, xs):
        def step(c, x):
            new = fnp.tanh(c * w + x)
            return new, (new, fnp.concatenate([new, x]), x, 2.0, w)
        return lax.scan(step, np.zeros(3), xs)

    w, xs = RNG.standard_normal(3), RNG.standard_normal((5, 3))
    carry, (same, joined, passed, number, const) = fn.jit(f)(w, xs)
    c, expected = np.zeros(3), []
    for x in xs:
        c = np.tanh(c * w + x)
        expected.append(c)
    assert_same_bits(same, np.stack(expected))
    assert_same_bits(carry, expected[-1])
    assert not np.shares_memory(carry, same)
    assert_same_bits(joined, np.concatenate([np.stack(expected), xs], axis=1))
    assert_same_bits(passed, xs)
    assert_same_bits(number, np.full(5, 2.0))
    assert_same_bits(const, np.tile(w, (5, 1)))
    assert_same_bits(fn.jit(f)(w, xs), f(w, xs))
