"""A griffe extension for the API reference: Sphinx roles in docstrings become links.

ganzoo's docstrings are Google style but name other objects with Sphinx roles
(``:class:`ganzoo.ModelSpec```, ``:func:`~ganzoo.load```), which Markdown would print
literally. This turns each role into an *optional* autorefs cross-reference: a link when
the target is rendered somewhere on the site, plain code otherwise (so strict builds do not
fail on roles that point outside the reference, such as ``click.Group``). It also turns
reST's ``text::`` literal-block marker into ``text:``, and fences doctest examples
(``>>>`` lines and their output) as ``pycon`` code, which Markdown would otherwise read as
nested quotes. Source files are not touched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|data|mod|exc|obj):`(~?)([^`]+)`")
_LITERAL = re.compile(r"(\S)::$", re.MULTILINE)
_DOCTEST_FLAG = re.compile(r"\s*# doctest: [+-]\w+(?:, *[+-]\w+)*")


def _fence_doctests(text: str) -> str:
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        stripped = lines[i].lstrip()
        if not stripped.startswith(">>>"):
            out.append(lines[i])
            i += 1
            continue
        indent = lines[i][: len(lines[i]) - len(stripped)]
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            out.append(_DOCTEST_FLAG.sub("", lines[i]))
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


def _convert(text: str, scope: str) -> str:
    def link(match: re.Match[str]) -> str:
        short, target = match.group(1) == "~", match.group(2).strip()
        title = target.rsplit(".", 1)[-1] if short else target
        identifier = target if "." in target else f"{scope}.{target}"
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'

    return _fence_doctests(_LITERAL.sub(r"\1:", _ROLE.sub(link, text)))


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring once griffe has loaded the package."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is None:
            return
        # A role without a dot (":meth:`fit`") names a sibling: resolve it in the class or module.
        scope = obj.path if obj.is_class or obj.is_module else obj.parent.path if obj.parent else obj.path
        obj.docstring.value = _convert(obj.docstring.value, scope)
