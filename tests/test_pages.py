"""The static site: one page per notebook, an index, and every internal link resolves."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from tools import catalog
from tools.pages import build

ROOT = Path(__file__).resolve().parent.parent


class _Links(HTMLParser):
    """The href of every real <a> element (text that merely looks like markup is not a link)."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href is not None:
            self.targets.append(href.split("#", 1)[0])


def links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text())
    return parser.targets


def test_every_notebook_has_a_page_and_internal_links_resolve(tmp_path: Path) -> None:
    pages = build(tmp_path)
    assert [p.stem for p in pages] == [entry.path.stem for entry in catalog.notebooks()]
    index = (tmp_path / "index.html").read_text()
    for page in pages:
        assert f'href="{page.name}"' in index
    for page in [*pages, tmp_path / "index.html"]:
        for target in links(page):
            if not target or "://" in target or target.startswith(("mailto:", "data:", "javascript:")):
                continue
            assert not target.endswith(".ipynb"), f"{page.name}: link to {target} not rewritten"
            assert (tmp_path / target).exists() or (ROOT / "notebooks" / target).exists(), (
                f"{page.name}: broken link {target}"
            )
