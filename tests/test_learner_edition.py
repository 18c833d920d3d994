"""The committed learner edition (learner/): in sync with notebooks/, deterministic, and safe to refresh.

No kernel runs here: the edition is regenerated in memory and compared byte for byte with the
committed folder. What the stubs do when run is tested in tests/test_exercises.py.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from tools import catalog, edition

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_committed_learner_edition_is_up_to_date() -> None:
    problems = edition.stale()
    assert not problems, (
        f"learner/ is stale ({', '.join(problems)}): run `{edition.REGENERATE}` and commit learner/"
    )


def test_the_edition_is_byte_identical_each_time() -> None:
    sources = catalog.paths()[:3]
    assert edition.edition_files(sources) == edition.edition_files(sources)


def test_cli_check_names_the_stale_files_and_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog, "paths", lambda: [catalog.notebooks()[0].path])
    assert edition.main(["learner", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "00_start_here.ipynb (missing)" in err and "python -m tools edition learner" in err


def test_learner_notebooks_link_only_to_each_other() -> None:
    """Navigation and cross-references are sibling links, so they work inside learner/ as in notebooks/."""
    for path in sorted(edition.LEARNER.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for target in LINK.findall(cell.source):
                if "://" in target or target.startswith("#"):
                    continue
                assert (path.parent / target.split("#")[0]).exists(), f"{path.name} links to {target}"


@pytest.fixture
def clone(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A learner folder as a fresh clone has it (written from two solved notebooks), and those sources."""
    sources = [tmp_path / "src" / p.name for p in catalog.paths()[:2]]
    (tmp_path / "src").mkdir()
    for src, original in zip(sources, catalog.paths(), strict=False):
        shutil.copy(original, src)
    folder = tmp_path / "learner"
    edition.write_learner_edition(folder, sources=sources)
    return folder, sources


def test_the_maintainer_regenerates_without_force(clone: tuple[Path, list[Path]]) -> None:
    folder, sources = clone
    nb = nbformat.read(sources[0], as_version=4)
    nb.cells[0].source += "\n\nA new paragraph."
    nbformat.write(nb, sources[0])
    assert edition.stale(folder, sources) == [sources[0].name, edition.MANIFEST]
    edition.write_learner_edition(folder, sources=sources)  # the committed copy is the generated state
    assert edition.stale(folder, sources) == []
    assert "A new paragraph." in (folder / sources[0].name).read_text()


def test_a_learners_work_is_never_overwritten(clone: tuple[Path, list[Path]]) -> None:
    folder, sources = clone
    mine = folder / sources[1].name
    nb = nbformat.read(mine, as_version=4)
    nb.cells[-2].source += "\n# my try"
    nbformat.write(nb, mine)
    (folder / "scratch.ipynb").write_text("{}")  # a learner's own notebook: neither blocks nor is touched
    with pytest.raises(FileExistsError, match=f"{sources[1].name}.*--force"):
        edition.write_learner_edition(folder, sources=sources)
    assert "# my try" in mine.read_text()
    edition.write_learner_edition(folder, sources=sources, force=True)
    assert "# my try" not in mine.read_text() and (folder / "scratch.ipynb").exists()


def test_a_notebook_dropped_from_the_catalog_leaves_the_edition(clone: tuple[Path, list[Path]]) -> None:
    folder, sources = clone
    edition.write_learner_edition(folder, sources=sources[:1])
    assert not (folder / sources[1].name).exists()
    assert edition.stale(folder, sources[:1]) == []


def test_crlf_checkouts_are_not_a_learners_change(clone: tuple[Path, list[Path]]) -> None:
    folder, sources = clone
    path = folder / sources[0].name
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert edition.changed_by_learner(folder) == []
