"""Type checkers see funcnn's public names: ``funcnn.numpy`` lists them in a literal
``__all__`` (a computed one is invisible to mypy, whose ``--strict`` then rejects ``fnp.sum``)."""
import ast
import os
import pathlib

import pytest

import funcnn.numpy as fnp

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_funcnn_numpy_lists_every_public_name_literally():
    tree = ast.parse((ROOT / "funcnn" / "numpy" / "__init__.py").read_text())
    listed, imported = None, set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            listed = ast.literal_eval(node.value)  # raises unless the list is written out
        elif isinstance(node, ast.ImportFrom):
            imported |= {alias.asname or alias.name for alias in node.names}
    public = {name for name in imported if not name.startswith("_") and name != "annotations"}
    assert listed is not None, "funcnn/numpy/__init__.py must assign __all__ a literal list"
    assert sorted(listed) == listed and len(set(listed)) == len(listed)
    assert set(listed) == public, f"missing: {sorted(public - set(listed))}, extra: {sorted(set(listed) - public)}"
    assert all(hasattr(fnp, name) for name in listed)


def test_mypy_strict_accepts_user_code(tmp_path):
    api = pytest.importorskip("mypy.api", reason="mypy is not installed")
    user = tmp_path / "user_code.py"
    user.write_text(
        "import numpy as np\n"
        "import funcnn as fn\n"
        "import funcnn.numpy as fnp\n\n\n"
        "def loss(w: np.ndarray) -> object:\n"
        "    return fnp.sum(fnp.tanh(w) ** 2) + fnp.linalg.norm(w)\n\n\n"
        "grads = fn.grad(loss)(np.ones(3))\n"
    )
    cwd = os.getcwd()
    os.chdir(ROOT)  # funcnn found from the checkout, as an editable install in compat mode would give it
    try:
        out, err, status = api.run(["--strict", "--follow-imports=silent", "--no-incremental",
                                    "--cache-dir", str(tmp_path / "cache"), str(user)])
    finally:
        os.chdir(cwd)
    assert status == 0, out + err
