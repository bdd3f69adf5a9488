"""mkdocs hook: make ``404.html`` work when the built site is opened from files.

mkdocs writes the 404 page with absolute links (``/assets/...``, ``/index.html``), so a
browser showing it from ``file://`` finds neither the styles nor the pages. The page lies at
the site's root, so the same links made relative (``./assets/...``) work from files and from a
web server at the root alike.
"""

from __future__ import annotations

import re
from pathlib import Path

_ABSOLUTE = re.compile(r'((?:href|src)=")/(?!/)')


def on_post_build(config, **kwargs) -> None:
    page = Path(config["site_dir"]) / "404.html"
    if page.is_file():
        page.write_text(_ABSOLUTE.sub(r"\1./", page.read_text(encoding="utf-8")), encoding="utf-8")
