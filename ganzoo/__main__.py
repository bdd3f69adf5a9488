"""``python -m ganzoo`` (what ``torchrun -m ganzoo train ...`` runs)."""

from ganzoo.cli import main

main()
