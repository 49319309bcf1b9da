#!/usr/bin/env python3
"""RoPE references for yarn and dynamic scaling, from Hugging Face transformers itself.

For each case: a config.json as a checkpoint would carry it, and a sequence of forward calls
(first position, count) run through transformers' LlamaRotaryEmbedding (Qwen2's for qwen2
configs). After each call it records the module's inv_freq, its attention_scaling and the cos/sin
rows (first half, the halves are equal) of the call's last position: dynamic scaling changes
inv_freq between calls, as transformers does within one generate().

Run: python3 scripts/rope_reference.py OUT.json   (CPU, a few seconds; commit the JSON as
tests/data/rope_reference.json)
"""
import json
import sys

import torch
import transformers
from transformers import AutoConfig


def case(name, config, calls):
    return {"name": name, "config": config, "calls": calls}


def llama(head_dim, theta, max_pos, scaling, key="rope_scaling", model_type="llama"):
    heads = 2
    c = {
        "model_type": model_type,
        "hidden_size": head_dim * heads,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": heads,
        "num_key_value_heads": 1,
        "vocab_size": 32,
        "max_position_embeddings": max_pos,
        "rope_theta": theta,
        key: scaling,
    }
    if key == "rope_parameters":
        del c["rope_theta"]
    return c


CASES = [
    # Qwen2.5's long-context recipe: factor 4 over an original 32768.
    case("yarn_qwen25", llama(128, 1000000.0, 32768, {"type": "yarn", "factor": 4.0,
         "original_max_position_embeddings": 32768}, model_type="qwen2"),
         [[0, 8], [40000, 1]]),
    # max_position_embeddings differs from the original: which ratio is the factor.
    case("yarn_small", llama(64, 10000.0, 256, {"rope_type": "yarn", "factor": 8.0,
         "original_max_position_embeddings": 64, "beta_fast": 16, "beta_slow": 2}),
         [[0, 300]]),
    case("yarn_mscale_notruncate", llama(64, 10000.0, 2048, {"rope_type": "yarn", "factor": 16.0,
         "original_max_position_embeddings": 128, "mscale": 1.0, "mscale_all_dim": 0.8,
         "truncate": False}), [[0, 40]]),
    case("yarn_attention_factor", llama(32, 10000.0, 512, {"rope_type": "yarn", "factor": 2.0,
         "attention_factor": 1.25}), [[0, 600]]),
    case("yarn_rope_parameters", llama(64, None, 4096, {"rope_type": "yarn", "rope_theta": 500000.0,
         "factor": 4.0, "original_max_position_embeddings": 1024}, key="rope_parameters"),
         [[0, 5000]]),
    # Dynamic NTK: inside, then beyond max_position_embeddings, growing by decode steps, then a
    # short call (transformers resets to the original frequencies), then beyond again.
    case("dynamic_small", llama(64, 10000.0, 128, {"type": "dynamic", "factor": 2.0}),
         [[0, 100], [0, 150], [150, 1], [151, 1], [152, 1], [0, 50], [0, 129], [140, 3]]),
    case("dynamic_original_max", llama(64, 10000.0, 256, {"rope_type": "dynamic", "factor": 4.0,
         "original_max_position_embeddings": 64}), [[0, 50], [0, 100], [0, 300], [300, 1]]),
    case("dynamic_hd128", llama(128, 1000000.0, 4096, {"type": "dynamic", "factor": 2.0}),
         [[0, 8], [5000, 1], [9000, 1]]),
]


def rotary_class(model_type):
    if model_type == "qwen2":
        from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding
        return Qwen2RotaryEmbedding
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    return LlamaRotaryEmbedding


def run(c):
    cfg = dict(c["config"])
    model_type = cfg.pop("model_type")
    if cfg.get("rope_theta", 0) is None:
        del cfg["rope_theta"]
    config = AutoConfig.for_model(model_type, **cfg)
    rope = rotary_class(model_type)(config=config)
    out = []
    for pos0, n in c["calls"]:
        pos = torch.arange(pos0, pos0 + n, dtype=torch.int64)[None, :]
        x = torch.zeros(1, n, 8, dtype=torch.float32)
        with torch.no_grad():
            cos, sin = rope(x, pos)
        half = rope.inv_freq.numel()
        out.append({
            "pos0": pos0,
            "n": n,
            "inv_freq": [float(v) for v in rope.inv_freq.float()],
            "attention_scaling": float(rope.attention_scaling),
            "cos_last": [float(v) for v in cos[0, -1, :half]],
            "sin_last": [float(v) for v in sin[0, -1, :half]],
        })
    return {"name": c["name"], "config": c["config"], "calls": out}


def main():
    torch.manual_seed(0)
    result = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "cases": [run(c) for c in CASES],
    }
    with open(sys.argv[1], "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
