#!/usr/bin/env python3
"""Hugging Face tokenizers' speed on the texts loom-bench --tokenize times, measured the same way:
load time of Tokenizer.from_file, and encode MB/s (10^6 bytes of UTF-8 a second) of the whole text
in one call and line by line, no special tokens added, one thread, median of the repetitions after
one untimed pass. Run with RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false.

Usage: hf_tokenizer_speed.py [-r REPS] --texts FILE... --dirs DIR...
"""
import argparse
import json
import os
import statistics
import time

import tokenizers


def lines_of(text):
    return text.splitlines(keepends=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-r", type=int, default=5)
    ap.add_argument("--texts", nargs="+", required=True)
    ap.add_argument("--dirs", nargs="+", required=True)
    args = ap.parse_args()
    texts = []
    for p in args.texts:
        with open(p, "rb") as f:
            texts.append((os.path.basename(p), f.read().decode("utf-8")))
    rows = []
    for d in args.dirs:
        path = os.path.join(d, "tokenizer.json")
        load = []
        for r in range(args.r + 1):
            t0 = time.perf_counter()
            tok = tokenizers.Tokenizer.from_file(path)
            if r:
                load.append(time.perf_counter() - t0)
        for name, text in texts:
            size = len(text.encode("utf-8"))
            lines = lines_of(text)
            whole, by_line = [], []
            for r in range(args.r + 1):
                t0 = time.perf_counter()
                n = len(tok.encode(text, add_special_tokens=False).ids)
                if r:
                    whole.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                for line in lines:
                    tok.encode(line, add_special_tokens=False)
                if r:
                    by_line.append(time.perf_counter() - t0)
            rows.append({"tokenizer": os.path.basename(os.path.normpath(d)), "text": name,
                         "bytes": size, "lines": len(lines), "tokens": n,
                         "load_ms": statistics.median(load) * 1e3,
                         "encode_mb_s": size / statistics.median(whole) / 1e6,
                         "encode_lines_mb_s": size / statistics.median(by_line) / 1e6,
                         "repetitions": args.r, "tokenizers": tokenizers.__version__})
    print("HF tokenizers %s; RAYON_NUM_THREADS=%s TOKENIZERS_PARALLELISM=%s; median of %d\n" %
          (tokenizers.__version__, os.environ.get("RAYON_NUM_THREADS"),
           os.environ.get("TOKENIZERS_PARALLELISM"), args.r))
    print("| tokenizer | text | bytes | tokens | load ms | encode MB/s | by line MB/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print("| %s | %s | %d | %d | %.1f | %.2f | %.2f |" % (
            r["tokenizer"], r["text"], r["bytes"], r["tokens"], r["load_ms"], r["encode_mb_s"],
            r["encode_lines_mb_s"]))
    print("JSON " + json.dumps(rows))


if __name__ == "__main__":
    main()
