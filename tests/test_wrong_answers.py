"""Every exercise check rejects the corpus of wrong answers (tests/wrong_answers), naming each mistake.

Run it repeatedly, and under load, when a check changes (docs/authoring.md → "Wrong answers")::

    for i in 1 2 3 4 5; do .venv/bin/python -m pytest -q tests/test_wrong_answers.py || break; done
    LAB_BUSY_CORES=1 .venv/bin/python -m pytest -q tests/test_wrong_answers.py
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from helpers.checks import CheckFailed
from tests.wrong_answers import Lab, Wrong, corpus, corpus_namespace
from tools import catalog

MIN_PER_EXERCISE = 2
WITH_EXERCISES = catalog.with_exercises()


def _corpora() -> dict[int, list[Wrong]]:
    """Each notebook's wrong answers, for the notebooks that have a corpus module."""
    found = {nb.number: corpus(nb.number) for nb in WITH_EXERCISES}
    return {number: entries.wrong for number, entries in found.items() if entries and entries.wrong}


@pytest.fixture(scope="module", autouse=True)
def busy_cores() -> Iterator[None]:
    """With LAB_BUSY_CORES=N, N processes spin for the whole module: the checks must hold under load."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(int(os.environ.get("LAB_BUSY_CORES", "0")))
    ]
    yield
    for spinner in spinners:
        spinner.kill()
        spinner.wait()


def _rejects(notebook: int, wrong: Wrong, server) -> None:
    judge = corpus(notebook).checks[wrong.exercise]

    async def attempt() -> CheckFailed | None:
        lab = Lab(server=server, ns=corpus_namespace(notebook))
        try:
            await judge(wrong.answer, lab)
        except CheckFailed as failed:
            return failed
        finally:
            await lab.aclose()
        return None

    failed = asyncio.run(attempt())
    assert failed is not None, f"the {wrong.exercise} check accepted a wrong answer: {wrong.mistake}"
    said = f"{failed.problem}\n{failed.hint}"
    assert re.search(wrong.names, said, re.IGNORECASE), f"the hint does not name the mistake: {said}"


def _corpus_class(number: int, cases: list[Wrong]) -> type:
    """One test class per notebook: under ``--dist loadscope`` each class is one unit of work, so the
    notebooks' corpora spread over the workers (a module's plain test functions would all go to one)."""

    class Corpus:
        @pytest.mark.parametrize(
            "wrong", cases, ids=[f"{number:02d}-{w.exercise}-{w.mistake}" for w in cases]
        )
        def test_check_rejects_the_wrong_answer_and_names_the_mistake(self, wrong: Wrong, server) -> None:
            _rejects(number, wrong, server)

    Corpus.__name__ = Corpus.__qualname__ = f"TestNotebook{number:02d}"
    return Corpus


for _number, _cases in _corpora().items():
    globals()[f"TestNotebook{_number:02d}"] = _corpus_class(_number, _cases)


@pytest.mark.parametrize("nb", WITH_EXERCISES, ids=[f"{nb.number:02d}" for nb in WITH_EXERCISES])
def test_every_exercise_has_wrong_answers_and_a_judge(nb: catalog.Notebook) -> None:
    entries = corpus(nb.number)
    assert entries is not None, f"tests/wrong_answers/nb{nb.number:02d}.py is missing"
    assert set(entries.checks) == set(nb.exercises), "CHECKS must judge exactly the notebook's exercises"
    for name in nb.exercises:
        count = sum(w.exercise == name for w in entries.wrong)
        assert count >= MIN_PER_EXERCISE, f"{name}: {count} wrong answers, at least {MIN_PER_EXERCISE} needed"
