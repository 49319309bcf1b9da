#!/usr/bin/env python3
"""Reference token ids for tests/test_tokenizer_parity.cpp, from Hugging Face transformers.

For every tokenizer folder and every text of the corpus (tests/data/tokenizer_corpus.json) this
records what `AutoTokenizer.from_pretrained(DIR)` gives:

  plain      tok(text, add_special_tokens=False)["input_ids"]
  ids        tok(text)["input_ids"] (transformers' default, add_special_tokens=True); stored only
             where it is not prefix + plain + suffix, the special ids the tokenizer adds around
             every text (found from the empty text and checked on every entry)
  roundtrip  tok.decode(plain) == text (skip_special_tokens=False)
  decoded    tok.decode(plain), only where roundtrip is false
  decoded_skip  tok.decode(plain, skip_special_tokens=True), only where it differs from the text
                decoded with special tokens kept

and, from the `tokenizers` library on the same tokenizer.json (no transformers layer):

  raw_plain    Tokenizer.encode(text, add_special_tokens=False).ids, only where it differs
  decoded_raw  Tokenizer.decode(plain, skip_special_tokens=False), only where it differs from
               transformers' decode (transformers may clean up spaces afterwards)
  plain_split  the ids with special tokens' text read as text (encode_special_tokens = True, what
               transformers' split_special_tokens=True sets), only where they differ from plain

Run on the machine with transformers (5.17) and tokenizers (0.23):
  python3 scripts/tokenizer_goldens.py --corpus tests/data/tokenizer_corpus.json \
      --out tests/data/tokenizer_goldens DIR [DIR ...]
Each DIR holds tokenizer.json and tokenizer_config.json; the output is OUT/<basename of DIR>.json.
The DIRs of the committed goldens: ../shared/fixtures/tokenizers/{llama3,qwen3,llama2-json} and the
folders scripts/fetch_test_tokenizers.sh fetches.
"""
import argparse
import json
import os
import sys

import tokenizers
import transformers
from transformers import AutoTokenizer


def find_affixes(tok):
    """The ids add_special_tokens puts before and after a text, read off the empty text."""
    with_special = tok("")["input_ids"]
    plain = tok("", add_special_tokens=False)["input_ids"]
    if plain:
        sys.exit("the empty text encodes to %r without special tokens" % plain)
    # For the empty text everything added is special; split it at the post-processor's template:
    # a text "x" shows where the sequence goes.
    x_with = tok("x")["input_ids"]
    x_plain = tok("x", add_special_tokens=False)["input_ids"]
    for i in range(len(x_with) - len(x_plain) + 1):
        if x_with[i:i + len(x_plain)] == x_plain:
            prefix, suffix = x_with[:i], x_with[i + len(x_plain):]
            if prefix + suffix == with_special:
                return prefix, suffix
    sys.exit("cannot find where the text goes in %r (plain %r)" % (x_with, x_plain))


def goldens_for(path, corpus):
    tok = AutoTokenizer.from_pretrained(path)
    raw = tokenizers.Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
    split = tokenizers.Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
    split.encode_special_tokens = True
    prefix, suffix = find_affixes(tok)
    entries = []
    counts = {"raw_differs": 0, "not_roundtrip": 0, "explicit_ids": 0, "raw_decode_differs": 0}
    for text in corpus:
        plain = tok(text, add_special_tokens=False)["input_ids"]
        ids = tok(text)["input_ids"]
        e = {"text": text, "plain": plain}
        if ids != prefix + plain + suffix:
            e["ids"] = ids
            counts["explicit_ids"] += 1
        decoded = tok.decode(plain, skip_special_tokens=False)
        e["roundtrip"] = decoded == text
        if decoded != text:
            e["decoded"] = decoded
            counts["not_roundtrip"] += 1
        decoded_skip = tok.decode(plain, skip_special_tokens=True)
        if decoded_skip != decoded:
            e["decoded_skip"] = decoded_skip
        raw_plain = raw.encode(text, add_special_tokens=False).ids
        if raw_plain != plain:
            e["raw_plain"] = raw_plain
            counts["raw_differs"] += 1
        plain_split = split.encode(text, add_special_tokens=False).ids
        if plain_split != plain:
            e["plain_split"] = plain_split
        decoded_raw = raw.decode(plain, skip_special_tokens=False)
        if decoded_raw != decoded:
            e["decoded_raw"] = decoded_raw
            counts["raw_decode_differs"] += 1
        entries.append(e)
    return {
        "tokenizer": os.path.basename(os.path.normpath(path)),
        "made_by": "scripts/tokenizer_goldens.py, transformers %s, tokenizers %s" %
                   (transformers.__version__, tokenizers.__version__),
        "class": type(tok).__name__,
        "vocab_size": len(tok),
        "prefix": prefix,
        "suffix": suffix,
        "entries": entries,
    }, counts


def write_compact(obj, path):
    """One entry per line, so a diff shows which texts changed."""
    entries = obj["entries"]
    head = {k: v for k, v in obj.items() if k != "entries"}
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "entries": [\n')
        for i, e in enumerate(entries):
            f.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")))
            f.write(",\n" if i + 1 < len(entries) else "\n")
        f.write("]}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    with open(args.corpus, encoding="utf-8") as f:
        corpus = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    for d in args.dirs:
        name = os.path.basename(os.path.normpath(d))
        try:
            obj, counts = goldens_for(d, corpus)
        except Exception as ex:  # report and go on: one odd tokenizer must not cost the others
            print("%s: FAILED %s: %s" % (name, type(ex).__name__, ex), flush=True)
            continue
        write_compact(obj, os.path.join(args.out, name + ".json"))
        print("%s: %s vocab %d prefix %s suffix %s %s" %
              (name, obj["class"], obj["vocab_size"], obj["prefix"], obj["suffix"], counts),
              flush=True)


if __name__ == "__main__":
    main()
