"""document.PARSER_VERSION changes whenever the parser reads a document otherwise.

An index made by an earlier parser is built again only when that number changed (store.py's
OTHER_PARSER, renewal.py): a fix that left it alone would reach only the documents edited after
the upgrade. tests/data/parser_outputs.json records, under the version it names, a digest of
what parse() makes of every test document (tests/data/documents and tests/data/bad): a digest
that changes under the same number fails here. After raising the number, or adding documents,
record them again with

    python -m tests.test_parser_version
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from feedsvc.document import PARSER_VERSION, DocumentError, ParseOptions, parse

DATA = Path(__file__).parent / "data"
RECORD = DATA / "parser_outputs.json"
RECORD_COMMAND = "python -m tests.test_parser_version"


def outputs() -> dict[str, str]:
    """Each test document's path (relative to tests/data) -> a digest of its Article, or of its
    skip reason, with the options its expectation file gives."""
    found = {}
    for path in sorted([*(DATA / "documents").rglob("*.txt"), *(DATA / "bad").glob("*.txt")]):
        expect = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        options = ParseOptions(**expect.get("options", {}))
        try:
            article = parse(path.read_bytes(), path.name, options)
            made = json.dumps(dataclasses.asdict(article), default=str, sort_keys=True)
        except DocumentError as exc:
            made = f"skipped: {exc}"
        found[path.relative_to(DATA).as_posix()] = hashlib.sha256(made.encode()).hexdigest()
    return found


def test_the_parser_version_changes_with_what_the_parser_makes() -> None:
    record = json.loads(RECORD.read_text(encoding="utf-8"))
    now = outputs()
    if record["parser_version"] != PARSER_VERSION:
        raise AssertionError(
            f"PARSER_VERSION is {PARSER_VERSION}, the record's {record['parser_version']}: "
            f"record the outputs of this version with `{RECORD_COMMAND}`"
        )
    changed = sorted(name for name, digest in record["outputs"].items() if now.get(name) != digest)
    assert not changed, (
        f"the parser reads {len(changed)} document(s) otherwise ({', '.join(changed[:5])}) under "
        f"the same PARSER_VERSION: raise it in feedsvc/document.py (indexes made before are then "
        f"built again), then `{RECORD_COMMAND}`; if they were renamed or removed, just record"
    )
    added = sorted(set(now) - set(record["outputs"]))
    assert not added, f"new test documents {added[:5]}: record them with `{RECORD_COMMAND}`"


if __name__ == "__main__":
    made = outputs()
    RECORD.write_text(
        json.dumps({"parser_version": PARSER_VERSION, "outputs": made}, indent=1) + "\n",
        encoding="utf-8",
    )
    print(f"recorded {len(made)} outputs of parser version {PARSER_VERSION} in {RECORD}")
