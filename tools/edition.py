"""Write the learner edition: ``python -m tools edition learner [DIR] [--force | --check]``.

    python -m tools edition learner            # regenerate the committed learner/ (what `make learner` runs)
    python -m tools edition learner --check    # exit 1 and name every stale file (a test runs this)
    python -m tools edition learner DIR        # or write a copy anywhere else

Every notebook of the catalog is copied with each ``solution`` cell's body replaced by its stub (see
``helpers.checks.stub_of``), all outputs, widget state and the executing Python's version cleared,
like a fresh worksheet (so re-executing ``notebooks/`` alone never makes it stale). The
edition is committed in ``learner/`` (the folder README, Binder and Colab open first); ``notebooks/``
stays the solved reference and the regression test. Writing is deterministic: the same notebooks
give byte-identical files (cell ids come from the solved notebooks; no timestamps), so the check is
exact.

The folder's manifest (``.edition.json``, committed with it) records a fingerprint of every notebook
as written. A notebook that no longer matches its fingerprint was changed by someone (a learner
solving it), and the edition then refuses to overwrite it; ``--force`` overwrites anyway. A
maintainer who only changed ``notebooks/`` is never blocked: the committed files still match the
committed fingerprints.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import nbformat

from helpers.checks import stub_of
from tools import catalog

LEARNER = catalog.LEARNER  # the committed learner edition
MANIFEST = ".edition.json"
REGENERATE = "python -m tools edition learner"


def learner_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solutions stubbed and outputs cleared."""
    copy = nbformat.from_dict(json.loads(json.dumps(nb)))
    copy.metadata.pop("widgets", None)  # the state of widgets whose outputs are gone
    # The Python that last executed the reference: re-executing it elsewhere leaves the edition alone.
    copy.metadata.get("language_info", {}).pop("version", None)
    for cell in copy.cells:
        cell.get("metadata", {}).pop("execution", None)  # run timestamps, if a tool recorded them
        if cell.cell_type != "code":
            continue
        if "solution" in cell.get("metadata", {}).get("tags", []):
            cell.source = stub_of(cell.source)
        cell.outputs = []
        cell.execution_count = None
    return copy


def _digest(data: bytes) -> str:
    # Line endings normalised: a checkout that turns \n into \r\n has not changed a notebook.
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def edition_files(sources: Iterable[Path] | None = None) -> dict[str, bytes]:
    """What the edition folder holds, by file name: each learner notebook, then the manifest."""
    files = {
        src.name: (nbformat.writes(learner_notebook(nbformat.read(src, as_version=4))) + "\n").encode()
        for src in (sources if sources is not None else catalog.paths())
    }
    manifest = {name: _digest(data) for name, data in files.items()}
    files[MANIFEST] = (json.dumps(manifest, indent=1) + "\n").encode()
    return files


def _manifest(folder: Path) -> dict[str, str]:
    path = folder / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def changed_by_learner(folder: Path, names: Iterable[str] | None = None) -> list[str]:
    """Notebooks in ``folder`` that differ from what the edition last wrote there.

    Only ``names`` are looked at when given (the files a write would replace or remove); a notebook
    the manifest does not know counts as the learner's.
    """
    written = _manifest(folder)
    paths = [folder / name for name in names] if names is not None else list(folder.glob("*.ipynb"))
    return sorted(
        path.name for path in paths if path.exists() and written.get(path.name) != _digest(path.read_bytes())
    )


def write_learner_edition(
    folder: Path = LEARNER, *, force: bool = False, sources: list[Path] | None = None
) -> list[Path]:
    """Write every notebook (default: the catalog's) into ``folder``; refuse to clobber a learner's changes.

    A notebook the edition wrote earlier that is no longer in the catalog is removed, unless it was
    changed (even with ``force``); a learner's own extra notebooks are left alone.
    """
    files = edition_files(sources)
    notebooks = [name for name in files if name != MANIFEST]
    retired = sorted(set(_manifest(folder)) - set(notebooks))
    changed = changed_by_learner(folder, [*notebooks, *retired])
    if changed and not force:
        raise FileExistsError(
            f"{folder} holds work that would be overwritten ({', '.join(changed)}); "
            "pick another folder, or pass --force to overwrite it"
        )
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in files.items():
        target = folder / name
        if not target.exists() or target.read_bytes() != data:  # untouched files keep their mtime
            target.write_bytes(data)
        if name != MANIFEST:
            paths.append(target)
    for name in retired:
        if name not in changed:
            (folder / name).unlink(missing_ok=True)
    return paths


def stale(folder: Path = LEARNER, sources: list[Path] | None = None) -> list[str]:
    """Files in ``folder`` that differ from a fresh edition (missing, different, or no longer in it)."""
    sources = sources if sources is not None else catalog.paths()
    problems = [f"{src.name} (notebooks/{src.name} is missing)" for src in sources if not src.exists()]
    files = edition_files([src for src in sources if src.exists()])
    for name, data in files.items():
        path = folder / name
        if not path.exists():
            problems.append(f"{name} (missing)")
        elif path.read_bytes() != data:
            problems.append(name)
    problems += [
        f"{p.name} (not in the catalog)" for p in sorted(folder.glob("*.ipynb")) if p.name not in files
    ]
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools edition", description=__doc__.splitlines()[0])
    parser.add_argument("edition", choices=["learner"], help="which edition to write")
    parser.add_argument(
        "folder",
        type=Path,
        nargs="?",
        default=LEARNER,
        help="where to write it (default: the committed learner/)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="overwrite notebooks a learner has changed")
    mode.add_argument("--check", action="store_true", help="write nothing; exit 1 if the folder is stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale(args.folder)
        default = args.folder.resolve() == LEARNER
        shown = f"{LEARNER.name}/" if default else f"{args.folder}/"
        for problem in problems:
            print(f"stale: {shown}{problem}", file=sys.stderr)
        if problems:
            command = REGENERATE if default else f"{REGENERATE} {args.folder}"
            print(f"regenerate it: {command}", file=sys.stderr)
        return 1 if problems else 0
    try:
        paths = write_learner_edition(args.folder, force=args.force)
    except (FileExistsError, FileNotFoundError) as exc:
        print(f"not written: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(paths)} learner notebooks to {args.folder}")
    return 0
