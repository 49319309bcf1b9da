#!/usr/bin/env python3
"""Recomputes the expected ids in tests/data/tokenizers/pieces/cases.json with Hugging Face
tokenizers (the library transformers' fast tokenizers run): each case puts its pre_tokenizer and
normalizer into tests/data/tokenizers/pieces/tokenizer.json and encodes its texts without
special tokens. Run where `tokenizers` is installed (the device machine):

    python3 scripts/tokenizer_piece_cases.py [--check]

--check compares instead of rewriting and exits 1 on any difference.
"""
import json
import pathlib
import sys

import tokenizers

root = pathlib.Path(__file__).resolve().parent.parent / "tests/data/tokenizers/pieces"
base = json.loads((root / "tokenizer.json").read_text(encoding="utf-8"))
cases_file = root / "cases.json"
cases = json.loads(cases_file.read_text(encoding="utf-8"))
bad = 0
for case in cases:
    spec = dict(base, pre_tokenizer=case["pre_tokenizer"], normalizer=case["normalizer"])
    tok = tokenizers.Tokenizer.from_str(json.dumps(spec))
    for row in case["texts"]:
        ids = tok.encode(row[0], add_special_tokens=False).ids
        if ids != row[1]:
            bad += 1
            print(f"{case['name']}: {row[0]!r}: file {row[1]}, tokenizers {tokenizers.__version__} {ids}")
        row[1] = ids
if "--check" in sys.argv:
    print(f"{bad} differences")
    sys.exit(1 if bad else 0)
cases_file.write_text(
    "[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]\n", encoding="utf-8"
)
