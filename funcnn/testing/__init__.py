"""Tools to test derivatives: ``check_grads`` and ``numerical_grad`` (NumPy only), and
hypothesis strategies in ``funcnn.testing.strategies`` (needs ``hypothesis``)."""
from funcnn.testing._checks import (
    assert_trees_allclose, check_grads, check_jvp, check_vjp, numerical_grad, numerical_jvp,
)

__all__ = ["assert_trees_allclose", "check_grads", "check_jvp", "check_vjp", "numerical_grad",
           "numerical_jvp"]
