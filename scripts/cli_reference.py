"""Refresh the ``--help`` blocks of docs/reference/cli.md from the real command line.

    python scripts/cli_reference.py          # rewrite the blocks in place
    python scripts/cli_reference.py --check  # exit 1 if a block is out of date

tests/test_docs.py checks the same blocks; this writes what it expects.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from click.testing import CliRunner

from ganzoo.cli import cli

PAGE = Path(__file__).resolve().parent.parent / "docs" / "reference" / "cli.md"
BLOCK = re.compile(r"^```text\n\$ (ganzoo[\w -]*?) --help\n(.*?)^```$", flags=re.MULTILINE | re.DOTALL)


def refreshed(text: str) -> str:
    def help_of(match: re.Match[str]) -> str:
        command = match.group(1)
        result = CliRunner().invoke(cli, [*command.split()[1:], "--help"], prog_name="ganzoo", terminal_width=80)
        if result.exit_code != 0:
            raise SystemExit(f"`{command} --help` failed: {result.output}")
        return f"```text\n$ {command} --help\n{result.output.rstrip()}\n```"

    return BLOCK.sub(help_of, text)


def main() -> int:
    text = PAGE.read_text()
    new = refreshed(text)
    if "--check" in sys.argv[1:]:
        print("up to date" if new == text else f"{PAGE} is out of date: run python scripts/cli_reference.py")
        return int(new != text)
    PAGE.write_text(new)
    print(f"{'rewrote' if new != text else 'unchanged:'} {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
