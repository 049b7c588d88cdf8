"""Every ```python block in README.md and docs/*.md runs, in order, one namespace per page; a
block followed directly by an ```output block must print exactly that."""
import contextlib
import io
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```\n(?:\s*^```output\n(.*?)^```)?", re.S | re.M)
# Pages that train on the real MNIST: data.mnist() would download it, so skip them (as
# tests/test_examples.py skips its MNIST examples) when it is neither in $FUNCNN_DATA/mnist/ nor cached.
NEEDS_MNIST = {"docs/learn/08-training-mnist.md"}


def skip_without_mnist():
    from funcnn import data

    try:
        data.mnist(download=False)
    except FileNotFoundError as err:
        pytest.skip(f"MNIST not found, set FUNCNN_DATA to a folder with mnist/ holding the original .gz files "
                    f"({str(err).splitlines()[0]})")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_code_runs(page, tmp_path, monkeypatch):
    if page.relative_to(ROOT).as_posix() in NEEDS_MNIST:
        skip_without_mnist()
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}"}
    for i, (code, expected) in enumerate(BLOCK.findall(page.read_text())):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"{page.name}[block {i + 1}]", "exec"), namespace)  # noqa: S102
        if expected:
            assert printed.getvalue().rstrip() == expected.rstrip(), \
                f"{page.name} block {i + 1} printed:\n{printed.getvalue()}"


def test_pictures_of_graphs_are_up_to_date():
    """docs/images/*.dot are what docs/graph_pictures.py draws from today's code (the SVGs are
    rendered from them by the same script where Graphviz is installed)."""
    import runpy

    module = runpy.run_path(str(ROOT / "docs" / "graph_pictures.py"))
    for name, dot in module["pictures"]().items():
        committed = ROOT / "docs" / "images" / f"{name}.dot"
        assert committed.read_text() == dot, f"{committed} is stale: run python docs/graph_pictures.py"
