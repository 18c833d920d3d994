"""Render the notebooks, with their stored outputs, into a static site: ``python -m tools pages OUT``.

    python -m tools pages _site        # what `make site` runs; open _site/index.html

Why nbconvert and not jupyter-book: it is already installed with JupyterLab, needs no build
configuration or network access, and renders the stored outputs exactly as they were executed
(nothing is re-run). Each page gets a navigation bar (previous · all notebooks · next); links
between notebooks are rewritten from ``.ipynb`` to ``.html``; ``index.html`` lists them all.
"""

from __future__ import annotations

import argparse
import html
import re
from pathlib import Path

import nbformat

from tools import catalog

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_LINK = re.compile(r'href="(\d\d_[a-z0-9_]+)\.ipynb(#[^"]*)?"')
SITE_TITLE = "asyncio lab — asynchronous Python, measured"
STYLE = (
    "<style>.lab-nav{font:15px system-ui,sans-serif;display:flex;justify-content:space-between;"
    "padding:.6em 1em;margin:0 0 1em;background:#f3f5f8;border-bottom:1px solid #d8dde5}"
    ".lab-nav a{text-decoration:none}</style>"
)


def _nav(pages: list[tuple[str, str]], index: int) -> str:
    prev_link = (
        f'<a href="{pages[index - 1][0]}">← {html.escape(pages[index - 1][1])}</a>'
        if index > 0
        else "<span></span>"
    )
    next_link = (
        f'<a href="{pages[index + 1][0]}">{html.escape(pages[index + 1][1])} →</a>'
        if index + 1 < len(pages)
        else "<span></span>"
    )
    return f'<nav class="lab-nav">{prev_link}<a href="index.html">All notebooks</a>{next_link}</nav>'


def _with_navigation(body: str, nav: str, present: set[str]) -> str:
    # A link to a notebook not written yet points at the index, which lists what exists.
    def rewrite(m: re.Match[str]) -> str:
        return f'href="{m.group(1)}.html{m.group(2) or ""}"' if m.group(1) in present else 'href="index.html"'

    body = NOTEBOOK_LINK.sub(rewrite, body)
    body = body.replace("</head>", f"{STYLE}</head>", 1)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
    return body.replace("</body>", f"{nav}</body>", 1)


def _index(pages: list[tuple[str, str]]) -> str:
    items = "\n".join(f'<li><a href="{href}">{html.escape(title)}</a></li>' for href, title in pages)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{SITE_TITLE}</title>{STYLE}</head>"
        f"<body style='font:16px system-ui,sans-serif;max-width:48em;margin:2em auto;padding:0 1em'>"
        f"<h1>{SITE_TITLE}</h1><p>Ordered notebooks on asyncio, aiohttp, asyncpg, redis.asyncio, threads and "
        f"processes. Every figure was measured when the notebook was executed; run them yourself with "
        f"<code>make lab</code>.</p><ol start='0'>{items}</ol></body></html>"
    )


def build(out: Path) -> list[Path]:
    """Write one HTML page per catalog notebook plus ``index.html`` into ``out``; return the pages."""
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    notebooks = catalog.paths()
    pages = [(f"{entry.path.stem}.html", entry.label) for entry in catalog.notebooks()]
    exporter = HTMLExporter(template_name="lab")
    written = []
    for index, path in enumerate(notebooks):
        body, _ = exporter.from_notebook_node(nbformat.read(path, as_version=4))
        target = out / pages[index][0]
        present = {nb.stem for nb in notebooks}
        target.write_text(_with_navigation(body, _nav(pages, index), present), encoding="utf-8")
        written.append(target)
    (out / "index.html").write_text(_index(pages), encoding="utf-8")
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools pages", description=__doc__.splitlines()[0])
    parser.add_argument(
        "out", type=Path, nargs="?", default=ROOT / "_site", help="output folder (default _site/)"
    )
    args = parser.parse_args(argv)
    written = build(args.out)
    print(f"wrote {len(written)} pages and index.html to {args.out}")
    return 0
