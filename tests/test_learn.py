"""The learning path, docs/learn/ (its code blocks run in tests/test_docs.py): every image a page
shows exists and is small, every relative link and anchor resolves, the pages link to each other
by their headings, each figure script draws exactly the images its page shows (and skips cleanly
without matplotlib or Graphviz), the committed Graphviz text is what the scripts draw today, and
the two programs the pages promise to keep short stay short."""
import pathlib
import re
import shutil
import sys

import pytest

LEARN = pathlib.Path(__file__).resolve().parent.parent / "docs" / "learn"
sys.path.insert(0, str(LEARN))  # docs/learn/pictures.py: the figure scripts and their helpers
import pictures  # noqa: E402

PAGES = sorted(path.stem for path in LEARN.glob("[0-9][0-9]-*.md"))
SCRIPTS = pictures.figure_modules()
IMAGE = re.compile(r"!\[[^\]]*\]\((images/[^)\s]+)\)")
LINK = re.compile(r"\]\(([^)\s#]*)(?:#([^)\s]*))?\)")
CODE = re.compile(r"^```.*?^```", re.S | re.M)
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)
MAX_IMAGE_BYTES = 60_000


def text(page):
    return (LEARN / f"{page}.md").read_text()


def prose(path):
    """A markdown file without its code blocks."""
    return CODE.sub("", path.read_text())


def shown(page):
    """The file names of the images the page shows."""
    return {pathlib.Path(link).name for link in IMAGE.findall(text(page))}


def script_of(page):
    return LEARN / "figures" / f"{page}.py"


def anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def title(path):
    return HEADING.search(path.read_text()).group(1)


@pytest.mark.parametrize("page", [*PAGES, "README"])
def test_images_exist_and_are_small(page):
    for link in IMAGE.findall(text(page)):
        image = LEARN / link
        assert image.is_file(), f"{page}.md shows {link}, which does not exist"
        assert image.stat().st_size < MAX_IMAGE_BYTES, f"{link} is {image.stat().st_size} bytes"


@pytest.mark.parametrize("page", PAGES)
def test_a_page_has_a_figure_script_exactly_when_it_shows_images(page):
    assert script_of(page).exists() == bool(shown(page)), \
        f"{page}: figures/{page}.py exists: {script_of(page).exists()}, images shown: {sorted(shown(page))}"


def test_every_committed_image_is_shown_by_a_page():
    everything_shown = set().union(*(shown(page) for page in PAGES))
    for image in (LEARN / "images").iterdir():
        wanted = image.with_suffix(".svg").name if image.suffix == ".dot" else image.name  # .dot: its SVG's source
        assert wanted in everything_shown, f"images/{image.name} is not shown by any page"


@pytest.mark.parametrize("page", [*PAGES, "README"])
def test_relative_links_and_anchors_resolve(page):
    for target, fragment in LINK.findall(prose(LEARN / f"{page}.md")):
        if "://" in target:
            continue
        path = (LEARN / target) if target else LEARN / f"{page}.md"
        assert path.exists(), f"{page}.md links to {target}, which does not exist"
        if fragment and path.suffix == ".md":
            anchors = {anchor(heading) for heading in HEADING.findall(prose(path))}
            assert fragment in anchors, f"{page}.md links to {target}#{fragment}: no such heading"


@pytest.mark.parametrize("page", PAGES)
def test_a_page_opens_with_what_you_will_learn_and_links_its_neighbours_by_their_titles(page):
    lines = text(page).splitlines()
    assert lines[2].startswith("*What you will learn:*"), f"{page}.md: line 3 is {lines[2]!r}"
    navigation = [line for line in lines if line.startswith("[←")]
    assert len(navigation) == 2 and navigation[0] == navigation[-1] == lines[-1], \
        f"{page}.md: the same navigation line should open (after the introduction) and close the page"
    assert lines.index(navigation[0]) < 12, f"{page}.md: the navigation line should come near the top"
    i = PAGES.index(page)
    previous = PAGES[i - 1] + ".md" if i > 0 else "README.md"
    following = PAGES[i + 1] + ".md" if i + 1 < len(PAGES) else "README.md"
    links = re.findall(r"\[([^\]]+)\]\(([^)]+)\)", navigation[0])
    assert [target for _, target in links] == [previous, following], navigation[0]
    for (label, target), arrow in zip(links, ("← {}", "{} →")):
        if target != "README.md":
            assert label == arrow.format(title(LEARN / target)), f"{page}.md: {label!r} is not {target}'s title"


def test_the_index_lists_every_page_in_order_by_its_title():
    listed = re.findall(r"^(\d+)\. \[([^\]]+)\]\(([^)]+)\)", text("README"), re.M)
    assert [target for _, _, target in listed] == [f"{page}.md" for page in PAGES]
    for number, label, target in listed:
        assert f"{number}. {label}" == title(LEARN / target), f"the index calls {target} {label!r}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_figure_script_draws_what_its_page_shows(script, tmp_path, capsys):
    names = pictures.draw(script, tmp_path)
    note = capsys.readouterr().out
    if "is not installed" in note:
        pytest.skip(note.strip())
    assert {name for name in names if not name.endswith(".dot")} == shown(script.stem)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names)
    for name in names:
        assert (tmp_path / name).stat().st_size < MAX_IMAGE_BYTES, f"{name} is too large"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_figure_script_skips_without_matplotlib_or_graphviz(script, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    monkeypatch.setattr(shutil, "which", lambda program: None)
    names = pictures.draw(script, tmp_path)
    assert all(name.endswith(".dot") for name in names), names  # Graphviz text needs no tool
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names)
    assert "is not installed" in capsys.readouterr().out


@pytest.mark.parametrize("dot", sorted((LEARN / "images").glob("*.dot")), ids=lambda p: p.name)
def test_committed_graph_text_is_what_the_script_draws(dot, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda program: None)  # the .dot text only
    (script,) = pictures.figure_modules(dot.name[:3])
    assert dot.name in pictures.draw(script, tmp_path)
    assert dot.read_text() == (tmp_path / dot.name).read_text(), \
        f"images/{dot.name} is stale: run python docs/learn/pictures.py {dot.name[:2]}"


def test_the_scalar_engine_is_under_80_lines():
    engine = pictures.python_blocks("03-reverse-mode")[0]
    assert len(engine.splitlines()) < 80


def test_the_mnist_program_is_under_40_lines():
    """The loading block and the program block, blank lines aside."""
    loading, program = pictures.python_blocks("08-training-mnist")[:2]
    lines = [line for line in (loading + program).splitlines() if line.strip()]
    assert len(lines) < 40, len(lines)
