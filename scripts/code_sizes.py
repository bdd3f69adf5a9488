"""The largest modules, classes and functions of a source tree, in lines (for the redesign's rule of thumb).

Usage: python scripts/code_sizes.py [ROOT ...]   (default: ganzoo)

A module's size is its line count; a class's or function's runs from its first decorator to its
last line (docstring included). Prints the five largest of each kind, and of the functions, how
many pass 60 lines.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def sizes(roots: list[Path]) -> tuple[list, list, list]:
    modules, classes, functions = [], [], []
    for root in roots:
        for file in sorted(root.rglob("*.py")):
            text = file.read_text()
            modules.append((len(text.splitlines()), str(file)))
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    entry = (node.end_lineno - first + 1, f"{file}:{node.lineno} {node.name}")
                    (classes if isinstance(node, ast.ClassDef) else functions).append(entry)
    return modules, classes, functions


def main() -> None:
    roots = [Path(a) for a in sys.argv[1:]] or [Path("ganzoo")]
    modules, classes, functions = sizes(roots)
    for kind, items in (("modules", modules), ("classes", classes), ("functions", functions)):
        print(f"largest {kind}:")
        for n, where in sorted(items, reverse=True)[:5]:
            print(f"  {n:5d}  {where}")
    print(f"functions over 60 lines: {sum(n > 60 for n, _ in functions)} of {len(functions)}")


if __name__ == "__main__":
    main()
