"""Functions over 60 lines in non-test code: `python scripts/long_functions.py [root] [--with-bench]`.

The issue-33 measure (tests, migrations and the virtualenv never count; the benches only when asked).
"""

import ast
import sys
from pathlib import Path

LIMIT = 60
SKIPPED = {"tests", ".venv", "node_modules", "migrations", "var", ".git"}


def long_functions(root: Path, *, with_bench: bool) -> list[tuple[int, str]]:
    skipped = SKIPPED if with_bench else SKIPPED | {"bench"}
    found = []
    for path in sorted(root.rglob("*.py")):
        if skipped & set(path.relative_to(root).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > LIMIT:
                    found.append((lines, f"{path.relative_to(root)}:{node.lineno} {node.name}"))
    return sorted(found, reverse=True)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    found = long_functions(Path(args[0] if args else "."), with_bench="--with-bench" in sys.argv)
    for lines, where in found:
        sys.stdout.write(f"{lines} {where}\n")
    sys.stdout.write(f"functions over {LIMIT} lines: {len(found)}\n")
