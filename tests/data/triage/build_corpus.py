"""Merge the collected failure messages into tests/data/triage/corpus.jsonl, with its fixed development/test split.

    python tests/data/triage/build_corpus.py PART.jsonl [PART.jsonl ...] [--relabel relabel.json]
    python tests/data/triage/build_corpus.py --apply-relabel sources/relabel_round3.json   # corpus.jsonl in place

The corpus as it stands is rebuilt, byte for byte, from the parts kept in sources/ (a to z, one per gathering round or helper batch):

    cd tests/data/triage && python build_corpus.py sources/part_?.jsonl && python build_corpus.py --apply-relabel \
        sources/relabel_round3.json

Each input line is {"id", "message", "category", "source"} (a message quoted from a public source, with its URL).
Messages are deduplicated by their text (whitespace collapsed); ids get the part's letter so that two parts' ids do not
collide. `--relabel` takes {"<id>": "<category>"} for the few labels that are clearly wrong by the taxonomy's
root-cause definitions (tasks/triage/catalogue.yaml); each relabel is recorded in the line (`relabelled_from`).
`--apply-relabel` applies such a file to corpus.jsonl as it stands (split and order kept); keys starting with `_` are
notes. Relabels made so far (each file says why):
  - sources/relabel_round3.json: output_invalid-04b, output_invalid-10b -> model_load_failed (transformers' "newly
    initialized" warning; model_load_failed's definition covers fresh weights that make every answer noise).

The split is fixed: a message that is already in corpus.jsonl keeps its `split` whatever is added later. A new message
goes, per category, to the half that holds fewer messages of its category (ties: a hash of its text), so each
category stays about 50/50 without any message ever moving from one half to the other. Rules may be written against
the `dev` half only; the `test` half is read by bench/bench_triage.py and tests/test_triage_corpus.py, never by people
writing rules.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from tasks.triage.catalogue import CATEGORIES  # noqa: E402

CORPUS = HERE / "corpus.jsonl"
_SPACE = re.compile(r"\s+")


def split_of(message: str) -> str:
    """`dev` or `test`, fixed by the message's text."""
    digest = hashlib.sha256(("ghostwatch-triage-split\0" + _SPACE.sub(" ", message).strip()).encode("utf-8")).digest()
    return "dev" if digest[0] % 2 == 0 else "test"


def _key(message: str) -> str:
    return _SPACE.sub(" ", message).strip()


def assign_splits(rows: list[dict], previous: dict[str, str]) -> None:
    """Give every row a `split`: the one it had before, else the smaller half of its category."""
    sizes: dict[str, dict[str, int]] = {}
    for row in rows:
        known = previous.get(_key(row["message"]))
        if known:
            row["split"] = known
            sizes.setdefault(row["category"], {"dev": 0, "test": 0})[known] += 1
    fresh = sorted((r for r in rows if "split" not in r),
                   key=lambda r: hashlib.sha256(("ghostwatch-triage-split\0" + _key(r["message"])).encode()).hexdigest())
    for row in fresh:
        size = sizes.setdefault(row["category"], {"dev": 0, "test": 0})
        half = split_of(row["message"]) if size["dev"] == size["test"] else min(size, key=size.get)
        row["split"] = half
        size[half] += 1


def merge(parts: list[Path], relabel: dict[str, str]) -> tuple[list[dict], list[str]]:
    rows: list[dict] = []
    problems: list[str] = []
    seen: set[str] = set()
    for part in parts:
        letter = re.sub(r"^part_", "", part.stem)[:1] or "x"
        for number, line in enumerate(part.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{part}:{number}: not JSON ({exc.msg})")
                continue
            if not all(isinstance(record.get(k), str) and record[k].strip() for k in ("id", "message", "category", "source")):
                problems.append(f"{part}:{number}: needs non-empty id, message, category, source")
                continue
            if not record["source"].startswith(("http://", "https://")):
                problems.append(f"{part}:{number}: source is not a URL")
                continue
            key = _key(record["message"])
            if key in seen:
                continue
            seen.add(key)
            rid = f"{record['id']}{letter}"
            category = relabel.get(rid, record["category"])
            if category not in CATEGORIES or category == "none":
                problems.append(f"{part}:{number}: category {category!r} is not a failure category")
                continue
            row = {"id": rid, "message": record["message"], "category": category, "source": record["source"]}
            if category != record["category"]:
                row["relabelled_from"] = record["category"]
            rows.append(row)
    rows.sort(key=lambda r: (r["category"], r["id"]))
    return rows, problems


def apply_relabel(corpus: Path, relabel: dict[str, str]) -> list[str]:
    """Relabel lines of `corpus` in place ({id: category}); returns what changed, one line each."""
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    wanted = {k: v for k, v in relabel.items() if not k.startswith("_")}
    unknown = set(wanted) - {r["id"] for r in rows}
    if unknown:
        raise SystemExit(f"ids not in {corpus}: {sorted(unknown)}")
    changed = []
    for row in rows:
        category = wanted.get(row["id"])
        if category and category != row["category"]:
            if category not in CATEGORIES or category == "none":
                raise SystemExit(f"{row['id']}: {category!r} is not a failure category")
            row.setdefault("relabelled_from", row["category"])
            changed.append(f"{row['id']}: {row['category']} -> {category}")
            row["category"] = category
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return changed


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--apply-relabel":
        for change in apply_relabel(CORPUS, json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))):
            print(change)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="+", type=Path)
    parser.add_argument("--relabel", type=Path, help="JSON {id: category} of clearly wrong labels")
    parser.add_argument("--output", type=Path, default=CORPUS)
    args = parser.parse_args()
    relabel = json.loads(args.relabel.read_text(encoding="utf-8")) if args.relabel else {}
    rows, problems = merge(args.parts, relabel)
    previous = {}
    if args.output.is_file():
        for line in args.output.read_text(encoding="utf-8").splitlines():
            if line.strip():
                old = json.loads(line)
                previous[_key(old["message"])] = old["split"]
    assign_splits(rows, previous)
    rows = [{k: r[k] for k in ("id", "message", "category", "source", "split", "relabelled_from") if k in r} for r in rows]
    for problem in problems:
        print(problem, file=sys.stderr)
    args.output.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    counts: dict[str, list[int]] = {}
    for row in rows:
        counts.setdefault(row["category"], [0, 0])[row["split"] == "test"] += 1
    print(f"{len(rows)} messages -> {args.output}")
    for category in CATEGORIES:
        if category in counts:
            print(f"  {category:32} dev {counts[category][0]:3}  test {counts[category][1]:3}")
    missing = [c for c in CATEGORIES if c != "none" and c not in counts]
    if missing:
        print(f"  no messages for: {missing}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
