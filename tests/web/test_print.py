"""Printing a page prints what it is about: the print rules of the one stylesheet hide the
navigation, the language switch and every form."""

from __future__ import annotations

import re
from pathlib import Path

import web

WEB = Path(web.__file__).parent


def test_the_print_rules_hide_navigation_and_forms_and_every_page_has_the_stylesheet() -> None:
    text = (WEB / "static" / "app.css").read_text(encoding="utf-8")
    block = re.search(r"@media print \{(.*?)\n\}", text, re.S)
    assert block is not None
    hidden = re.search(r"([^{}]+)\{\s*display:\s*none", block.group(1))
    assert hidden is not None
    selectors = {s.strip() for s in hidden.group(1).split(",")}
    assert {"header.top", "form", ".actions", ".langs", ".skip"} <= selectors
    base = (WEB / "templates" / "base.html").read_text(encoding="utf-8")
    assert 'href="/app/static/app.css"' in base
    assert '<header class="top">' in base
