"""Write the learner edition: ``python -m tools edition learner DIR [--force]``.

    python -m tools edition learner learner/     # what `make learner` runs

Every notebook is copied with each ``solution`` cell's body replaced by its stub (see
``helpers.checks.stub_of``) and all outputs cleared, like a fresh worksheet. The edition never
overwrites a notebook that a learner has changed since it was written (it keeps a manifest of what
it wrote); ``--force`` overwrites anyway.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import nbformat

from helpers.checks import stub_of
from tools import catalog

MANIFEST = ".edition.json"


def learner_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solutions stubbed and outputs cleared."""
    copy = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in copy.cells:
        if cell.cell_type != "code":
            continue
        if "solution" in cell.get("metadata", {}).get("tags", []):
            cell.source = stub_of(cell.source)
        cell.outputs = []
        cell.execution_count = None
    return copy


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def changed_by_learner(folder: Path) -> list[str]:
    """Notebooks in ``folder`` that differ from what the edition last wrote there."""
    manifest_path = folder / MANIFEST
    written = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    return sorted(
        path.name
        for path in folder.glob("*.ipynb")
        if written.get(path.name) != _digest(path)  # unknown to the manifest counts as the learner's
    )


def write_learner_edition(
    folder: Path, *, force: bool = False, sources: list[Path] | None = None
) -> list[Path]:
    """Write every notebook (default: the catalog's) into ``folder``; refuse to clobber a learner's changes."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = changed_by_learner(folder)
    if changed and not force:
        raise FileExistsError(
            f"{folder} holds work that would be overwritten ({', '.join(changed)}); "
            "pick another folder, or pass --force to overwrite it"
        )
    written: dict[str, str] = {}
    paths = []
    for src in sources if sources is not None else catalog.paths():
        target = folder / src.name
        nbformat.write(learner_notebook(nbformat.read(src, as_version=4)), target)
        written[src.name] = _digest(target)
        paths.append(target)
    (folder / MANIFEST).write_text(json.dumps(written, indent=1))
    return paths


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools edition", description=__doc__.splitlines()[0])
    parser.add_argument("edition", choices=["learner"], help="which edition to write")
    parser.add_argument("folder", type=Path, help="where to write it (created if missing)")
    parser.add_argument("--force", action="store_true", help="overwrite notebooks a learner has changed")
    args = parser.parse_args(argv)
    try:
        paths = write_learner_edition(args.folder, force=args.force)
    except FileExistsError as exc:
        print(f"not written: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(paths)} learner notebooks to {args.folder}")
    return 0
