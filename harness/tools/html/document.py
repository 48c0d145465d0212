"""One self-contained HTML document: the page's data as JSON, the stylesheet and the script inline.

Nothing on a page is fetched: no font, script, style sheet or image from anywhere, so a page
opens the same from a CI artifact, a ticket or a laptop offline. The Content-Security-Policy
says so to the browser too: only the page's own script and style (by their hashes) run, and
nothing may be loaded, so even text that slipped past the escaping could not reach out.

Escaping: every string of a trace is untrusted (a script's stderr can hold `<script>`). The
data goes into a `<script type="application/json">` block with every `<`, `>` and `&` written
as a JSON escape, so no sequence in it can end the block or open a comment; the page's script
parses it and builds the DOM with textContent, never HTML parsing of data. The only text
interpolated into the markup itself is the title, escaped with html.escape.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from functools import cache
from importlib import resources
from pathlib import Path

DATA_ID = "macsim-data"


@cache
def asset(name: str) -> str:
    """page.css or page.js, shipped beside this module (package data)."""
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    if "</" in text or "<!--" in text:
        raise ValueError(f"harness/tools/html/{name} holds '</' or '<!--', which would end its inline block early")
    return text


def embedded_json(data: object) -> str:
    """JSON that can sit inside a <script> block whatever its strings hold."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def render(title: str, data: dict) -> str:
    css, js = asset("page.css"), asset("page.js")
    policy = (f"default-src 'none'; script-src {_hash(js)}; style-src {_hash(css)}; img-src 'none'; "
              "base-uri 'none'; form-action 'none'")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{css}</style>\n</head>\n<body>\n"
        '<noscript><p class="noscript">This report is drawn by its own inline script: allow '
        "JavaScript for this file to see it.</p></noscript>\n"
        '<div id="app"></div>\n'
        f'<script type="application/json" id="{DATA_ID}">{embedded_json(data)}</script>\n'
        f"<script>{js}</script>\n</body>\n</html>\n"
    )


def file_name(name: str) -> str:
    """A page's file name for a scenario or run name: letters, digits, '.', '_' and '-' only."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "run"
    return f"{safe}.html"


def write(directory: Path, name: str, title: str, data: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(render(title, data), encoding="utf-8")
    return path
