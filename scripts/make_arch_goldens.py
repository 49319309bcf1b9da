#!/usr/bin/env python3
"""Golden outputs of Hugging Face transformers for the random-weight test checkpoints.

The checkpoints are those of tests/support/arch_checkpoint.h, written by the make_test_checkpoint
tool (one folder per name). For each, on a few prompts, this writes tests/data/golden/<name>.json:

- ids: the prompt as transformers' AutoTokenizer encodes it (special tokens as it adds them);
- top5_ids/top5_logits: the five largest logits at every position of one forward over the ids;
- last_ids/last_logits: the last position's logits at every STRIDE-th id and at its top 20;
- greedy_ids/greedy_margins: 24 tokens of generate() (greedy, a KV cache, one token a forward;
  EOS not a stop), and at each step the gap between the best and second-best logit;
- inv_freq/attention_scaling: the RoPE that transformers built from the config; for dynamic
  scaling also the frequencies of each prompt's forward (they depend on its length).
For a checkpoint with a sliding window it also records how far the logits move when the same
weights run without it.

Run where torch and transformers are (the device machine), in float32 with eager attention on the
CPU: a new model for every forward or generate() call, since dynamic RoPE keeps state between calls.

  make_test_checkpoint NAME ck/NAME ...   # each name of make_test_checkpoint --list
  scripts/make_arch_goldens.py --checkpoints ck --out tests/data/golden
"""
import argparse
import json
import os
import sys
import traceback

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = [
    "The capital of France is Paris, and the capital of Japan is Tokyo.",
    'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n    a, b = 0, 1\n'
    "    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "Привет, мир! Как дела? 你好，世界。東京は日本の首都です。مرحبا بالعالم",
    "Once upon a time, in a small village at the edge of a great forest, there lived an old "
    "clockmaker named Elias. Every morning he opened the shutters of his tiny shop, wound the "
    "hundred clocks that hung on its walls, and listened as they ticked together like a choir of "
    "crickets. Children came by after school to watch him work, and he would tell them stories "
    "about the mountains, the rivers, and the stars that he had once followed across the sea.",
]
GREEDY_STEPS = 24
STRIDE = 251  # last-row ids kept: every STRIDE-th, plus the top 20


def r7(x):
    """A float32 value to 7 significant digits: exact to ~1e-6 at logits of 10, a third the text."""
    return float(f"{float(x):.7g}")


def load(folder, **overrides):
    model, info = AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.float32, attn_implementation="eager", output_loading_info=True,
        **overrides)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise RuntimeError(f"{folder}: loading reported {bad}")
    return model.eval()


def rope_of(model):
    rot = model.model.rotary_emb
    return [float(v) for v in rot.inv_freq.tolist()], float(rot.attention_scaling)


def greedy(folder, ids):
    model = load(folder)
    model.generation_config.eos_token_id = None  # run all steps: EOS is not a stop here
    inp = torch.tensor([ids])
    with torch.no_grad():
        out = model.generate(inp, attention_mask=torch.ones_like(inp), max_new_tokens=GREEDY_STEPS,
                             do_sample=False, output_logits=True,
                             return_dict_in_generate=True, pad_token_id=0)
    got = out.sequences[0, len(ids):].tolist()
    if len(got) != GREEDY_STEPS:
        raise RuntimeError(f"generate() stopped after {len(got)} steps")
    margins = []
    for step, row in enumerate(out.logits):
        top2 = torch.topk(row[0].float(), 2)
        if int(top2.indices[0]) != got[step]:
            raise RuntimeError(f"generate() step {step} took {got[step]}, argmax {top2.indices[0]}")
        margins.append(r7(top2.values[0] - top2.values[1]))
    return got, margins


def golden(folder, name):
    tok = AutoTokenizer.from_pretrained(folder)
    model = load(folder)
    cfg = model.config
    inv_freq, attention_scaling = rope_of(model)
    rope_parameters = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None)
    dynamic = "dynamic" in json.dumps(rope_parameters or {})
    window = getattr(cfg, "sliding_window", None)
    out = {
        "checkpoint": name,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "vocab_size": cfg.vocab_size,
        "model_type": cfg.model_type,
        "rope_parameters": json.loads(json.dumps(rope_parameters, default=str)),
        "sliding_window": window,
        "layer_types": getattr(cfg, "layer_types", None),
        "inv_freq": inv_freq,
        "attention_scaling": attention_scaling,
        "cases": [],
    }
    for prompt in PROMPTS:
        ids = tok(prompt)["input_ids"]
        model = load(folder)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].float()
        top = torch.topk(logits, 5, dim=-1)
        last = logits[-1]
        keep = sorted(set(range(0, last.numel(), STRIDE)) | set(torch.topk(last, 20).indices.tolist()))
        case = {
            "prompt": prompt,
            "ids": ids,
            "decoded": tok.decode(ids),
            "top5_ids": top.indices.tolist(),
            "top5_logits": [[r7(v) for v in row] for row in top.values.tolist()],
            "last_ids": keep,
            "last_logits": [r7(last[i]) for i in keep],
        }
        if dynamic:
            case["prefill_inv_freq"], case["prefill_attention_scaling"] = rope_of(model)
        case["greedy_ids"], case["greedy_margins"] = greedy(folder, ids)
        case["greedy_text"] = tok.decode(case["greedy_ids"])
        if window and len(ids) > window:
            # The same weights without the window: the logits from position `window` on move.
            free = load(folder, sliding_window=None)
            with torch.no_grad():
                unbounded = free(torch.tensor([ids])).logits[0].float()
            diff = (unbounded - logits).abs().amax(dim=-1)
            case["no_window_max_diff_before"] = r7(diff[:window].max())
            case["no_window_max_diff_after"] = r7(diff[window:].max())
        out["cases"].append(case)
        print(f"{name}: {len(ids)} ids, max |logit| {logits.abs().max():.3g}, "
              f"greedy margins min {min(case['greedy_margins']):.3g}"
              + (f", no-window diff after {case.get('no_window_max_diff_after')}" if window else ""),
              flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", required=True, help="a folder of make_test_checkpoint folders")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    os.makedirs(args.out, exist_ok=True)
    failed = []
    for name in sorted(os.listdir(args.checkpoints)):
        try:
            g = golden(os.path.join(args.checkpoints, name), name)
        except Exception:  # report and go on: one broken checkpoint should not cost the others
            traceback.print_exc()
            failed.append(name)
            continue
        with open(os.path.join(args.out, name + ".json"), "w") as f:
            json.dump(g, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
    if failed:
        sys.exit("failed: " + ", ".join(failed))


if __name__ == "__main__":
    main()
