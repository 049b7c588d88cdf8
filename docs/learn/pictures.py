"""Draw the pictures of the learning path (docs/learn/): plots with matplotlib, graph drawings
with Graphviz.

    python docs/learn/pictures.py            # every page's pictures
    python docs/learn/pictures.py 02-chain   # the pictures of pages whose name starts so

Each page's pictures are drawn by ``docs/learn/figures/<page>.py``, a module with a
``draw(images)`` function that writes its files into ``docs/learn/images/`` and returns
their names. Without matplotlib (``pip install "funcnn[plot]"``) or Graphviz's ``dot``,
the pictures that need them are skipped with a note; the committed files stay as they are.

The figure scripts share the helpers below (``import pictures``): `matplotlib_or_note`,
`write_graph`, and `page_namespace` to draw from the numbers a page's own code computes.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import pathlib
import re
import shutil
import subprocess
import sys
from types import ModuleType
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
IMAGES = HERE / "images"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def matplotlib_or_note(page: str) -> Any:
    """``matplotlib.pyplot``, set to draw into files only; or, without matplotlib, None after
    a note that ``page``'s picture is left as it is."""
    try:
        import matplotlib
    except ImportError:
        print(f"{page}: matplotlib is not installed; the picture is left as it is")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_graph(images: pathlib.Path, name: str, dot_text: str) -> list[str]:
    """Write ``<name>.dot`` into ``images`` and, where Graphviz's ``dot`` is installed, render it
    to ``<name>.svg``; return the names written (without ``dot``, a note says the SVG is kept)."""
    dot_file = images / f"{name}.dot"
    dot_file.write_text(dot_text)
    dot = shutil.which("dot")
    if dot is None:
        print(f"{name}: Graphviz's dot is not installed; {name}.svg is left as it is")
        return [dot_file.name]
    subprocess.run([dot, "-Tsvg", str(dot_file), "-o", str(images / f"{name}.svg")], check=True)
    return [dot_file.name, f"{name}.svg"]


def python_blocks(page: str) -> list[str]:
    """The ```python blocks of ``docs/learn/<page>.md``, in order."""
    return PYTHON_BLOCK.findall((HERE / f"{page}.md").read_text())


def page_namespace(page: str, blocks: int | None = None) -> dict[str, Any]:
    """Run the first ``blocks`` python blocks of ``<page>.md`` (all by default) in order, in one
    namespace and quietly, as the documentation tests do; return the names they define."""
    namespace: dict[str, Any] = {"__name__": f"figure_{page.replace('-', '_')}"}
    with contextlib.redirect_stdout(io.StringIO()):
        for i, code in enumerate(python_blocks(page)[:blocks]):
            exec(compile(code, f"{page}.md[block {i + 1}]", "exec"), namespace)  # noqa: S102
    return namespace


def figure_modules(prefix: str = "") -> list[pathlib.Path]:
    """The figure scripts, one per page, in page order."""
    return sorted(p for p in (HERE / "figures").glob("*.py") if p.stem.startswith(prefix))


def load(path: pathlib.Path) -> ModuleType:
    """Import one figure script (its file name is not a module name, so by path)."""
    spec = importlib.util.spec_from_file_location(f"figures_{path.stem.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def draw(path: pathlib.Path, images: pathlib.Path = IMAGES) -> list[str]:
    """Run one page's ``draw(images)``; return the files it wrote."""
    return list(load(path).draw(images))


def main(argv: list[str]) -> None:
    IMAGES.mkdir(exist_ok=True)
    for path in figure_modules(argv[0] if argv else ""):
        for name in draw(path):
            print(f"{path.stem}: wrote images/{name}")


if __name__ == "__main__":
    sys.modules.setdefault("pictures", sys.modules[__name__])  # the figure scripts import this very module
    main(sys.argv[1:])
