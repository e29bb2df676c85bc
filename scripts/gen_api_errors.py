"""Regenerate the error table of docs/api.md from the code's own table (dylive.serve.errors).

    .venv/bin/python scripts/gen_api_errors.py          # rewrite the table in place
    .venv/bin/python scripts/gen_api_errors.py --check  # exit 1 if it is out of date

The table sits between the markers ``<!-- errors:begin -->`` and ``<!-- errors:end -->``;
tests/test_api_docs.py fails when it differs from what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dylive.serve.errors import error_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
BEGIN, END = "<!-- errors:begin -->\n", "<!-- errors:end -->\n"


def render(text: str) -> str:
    """``text`` (docs/api.md) with the generated table between the markers."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"{DOC}: the markers {BEGIN.strip()} / {END.strip()} are missing")
    return f"{head}{BEGIN}{error_table()}{END}{tail}"


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    new = render(text)
    if "--check" in argv:
        if new != text:
            sys.stderr.write(f"{DOC} is out of date: run python scripts/gen_api_errors.py\n")
            return 1
        return 0
    if new != text:
        DOC.write_text(new, encoding="utf-8")
        sys.stdout.write(f"rewrote the error table of {DOC}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
