#!/usr/bin/env python3
"""Turn latency of loom-generate --conversation across ten turns: each turn's prompt tokens (the
whole rendered conversation), how many of them the KV cache already held, how many were
evaluated and how long that took, from the --verbose statistics. With the cache kept across
turns the evaluated tokens, and so the prompt time, stay flat while the conversation grows.

    python3 scripts/chat_turn_latency.py [--bin build/bin/loom-generate] [--model DIR]
        [--template FILE] [--turns 10] [-n 48] [--threads 1]

Prints a markdown table (docs/chat.md has one), then, for contrast, the time a stateless
prefill of the last turn's whole prompt takes (loom-generate --messages on the saved history).
Greedy, so the replies are the same each run.
"""
import argparse
import os
import re
import json
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUESTIONS = [
    "Once upon a time", "What did she see?", "Was the dog happy?", "Where did they go?",
    "Who came to the park?", "What did mom say?", "Did they play a game?", "Was it fun?",
    "What happened at night?", "How did the story end?", "Tell me more.", "And then?",
]
STATS = re.compile(r"turn (\d+): prompt (\d+) tokens, (\d+) reused, (\d+) evaluated in "
                   r"([\d.]+) ms \(([\d.]+) tok/s\) \| reply (\d+) tokens, ([\d.]+) tok/s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin", "loom-generate"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "stories260K"))
    ap.add_argument("--template", default=os.path.join(ROOT, "tests", "data", "chat_cli",
                                                       "stories.jinja"))
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("-n", type=int, default=48, help="reply tokens at most per turn")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--extra", default="", help="more loom-generate flags, space-separated")
    a = ap.parse_args()
    cmd = [a.bin, "-m", a.model, "-cnv", "-v", "--temp", "0", "-n", str(a.n), "-t",
           str(a.threads)] + (["--chat-template", a.template] if a.template else [])
    cmd += a.extra.split()
    tmp = tempfile.mkdtemp()
    saved = os.path.join(tmp, "conversation.json")
    lines = "".join(QUESTIONS[i % len(QUESTIONS)] + "\n" for i in range(a.turns))
    p = subprocess.run(cmd, input=lines + "/save " + saved + "\n", capture_output=True,
                       encoding="utf-8", errors="replace")
    if p.returncode != 0:
        sys.exit(p.stderr)
    rows = [m.groups() for m in STATS.finditer(p.stderr)]
    print(f"`{' '.join(os.path.relpath(c, ROOT) if os.path.exists(c) else c for c in cmd)}`\n")
    print("| turn | prompt tokens | reused | evaluated | prompt eval ms | eval tok/s "
          "| reply tokens | reply tok/s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    # The last turn's prompt evaluated whole, as without the kept cache.
    with open(saved) as f:
        history = json.load(f)[:-1]
    before = os.path.join(tmp, "before.json")
    with open(before, "w") as f:
        json.dump(history, f)
    full = [c for c in cmd if c not in ("-cnv", "-v")] + ["--messages", before, "-n", "1"]
    q = subprocess.run(full, capture_output=True, encoding="utf-8", errors="replace")
    m = re.search(r"prompt: (\d+) tokens, ([\d.]+) tok/s", q.stderr)
    if m:
        n, rate = int(m.group(1)), float(m.group(2))
        print(f"\nThe last prompt evaluated whole (no cache kept): {n} tokens in "
              f"{n / rate * 1e3:.2f} ms ({rate:.1f} tok/s).")


if __name__ == "__main__":
    main()
