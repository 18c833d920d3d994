"""The static site: one page per notebook, an index, and every internal link resolves."""

from __future__ import annotations

import re
from pathlib import Path

from helpers.pages import build

ROOT = Path(__file__).resolve().parent.parent
HREF = re.compile(r'href="([^"#]*)(#[^"]*)?"')


def test_every_notebook_has_a_page_and_internal_links_resolve(tmp_path: Path) -> None:
    pages = build(tmp_path)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [p.stem for p in pages] == [n.stem for n in notebooks]
    index = (tmp_path / "index.html").read_text()
    for page in pages:
        assert f'href="{page.name}"' in index
    for page in [*pages, tmp_path / "index.html"]:
        for target, _ in HREF.findall(page.read_text()):
            if not target or "://" in target or target.startswith(("mailto:", "data:", "javascript:")):
                continue
            assert not target.endswith(".ipynb"), f"{page.name}: link to {target} not rewritten"
            assert (tmp_path / target).exists() or (ROOT / "notebooks" / target).exists(), f"{page.name}: broken link {target}"
