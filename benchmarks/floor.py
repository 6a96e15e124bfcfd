"""The floor an indexer is measured against: the least work indexing can do.

    python -m benchmarks.floor DIR

reads every ``*.txt`` file of DIR, splits it into paragraphs and dateutil-parses its date line,
then prints the number of paragraphs and of dates parsed. ``benchmarks.run`` times it as a fresh
process beside a first ``feedsvc index``, so both pay the same start-up and read the same bytes.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

_BLANK_LINES = re.compile(r"\n\s*\n")


def floor(folder: Path) -> tuple[int, int]:
    """The least an indexer must do: read every file, split it into paragraphs, and
    dateutil-parse its date line. Returns the number of paragraphs and of dates parsed."""
    from dateutil import parser as dateutil_parser

    tzinfos = {"ET": -5 * 3600, "UTC": 0}
    parsed = paragraph_count = 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".txt"):
            continue
        text = (folder / name).read_bytes().decode("utf-8", "replace").replace("\r\n", "\n")
        paragraph_count += len([p.strip() for p in _BLANK_LINES.split(text)])
        lines = [line for line in text.split("\n", 4)[:4] if line.strip()]
        date_line = lines[1] if len(lines) > 1 else ""
        try:
            dateutil_parser.parse(date_line, tzinfos=tzinfos)
            parsed += 1
        except (ValueError, OverflowError):
            pass
    return paragraph_count, parsed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m benchmarks.floor DIR", file=sys.stderr)
        return 2
    print(floor(Path(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
