"""``python -m ganzoo.cli`` (the same as ``ganzoo`` and ``python -m ganzoo``)."""

from ganzoo.cli import main

main()
