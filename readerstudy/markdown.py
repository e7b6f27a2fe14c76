"""Coordinator-written Markdown rendered safely for readers."""
from __future__ import annotations

import markdown as md
import nh3
from django.utils.safestring import SafeString, mark_safe


def render_markdown(text: str) -> SafeString:
    html = md.markdown(text or "", extensions=["extra", "sane_lists"])
    return mark_safe(nh3.clean(html))
