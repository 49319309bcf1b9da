#!/usr/bin/env python3
"""Writes a random-weight Llama checkpoint of a real model's shape, in Hugging Face layout.

Speed does not depend on the weights' values, so these folders measure loom at sizes no machine
here can download. Needs numpy (Debian: python3-numpy).

  scripts/make_synthetic_model.py --shape tinyllama-1.1b --dtype bf16 \
      --tokenizer ../shared/fixtures/llama2-gqa-bf16/tokenizer.model --out /tmp/tinyllama-bf16
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

SHAPES = {
    "tinyllama-1.1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                           num_attention_heads=32, num_key_value_heads=4, vocab_size=32000,
                           max_position_embeddings=2048, rope_theta=10000.0),
    # Tied embeddings, a 128256-token vocabulary (pass Llama 3's tokenizer.json).
    "llama3.2-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                        num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                        max_position_embeddings=131072, rope_theta=500000.0,
                        tie_word_embeddings=True, bos_token_id=128000, eos_token_id=128001),
    "llama2-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                      max_position_embeddings=4096, rope_theta=10000.0),
}
DTYPES = {"f32": ("F32", "float32"), "f16": ("F16", "float16"), "bf16": ("BF16", "bfloat16")}


def tensors(cfg):
    h, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = h // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    yield "model.embed_tokens.weight", (v, h)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (h,)
        yield p + "self_attn.q_proj.weight", (q, h)
        yield p + "self_attn.k_proj.weight", (kv, h)
        yield p + "self_attn.v_proj.weight", (kv, h)
        yield p + "self_attn.o_proj.weight", (h, q)
        yield p + "post_attention_layernorm.weight", (h,)
        yield p + "mlp.gate_proj.weight", (f, h)
        yield p + "mlp.up_proj.weight", (f, h)
        yield p + "mlp.down_proj.weight", (h, f)
    yield "model.norm.weight", (h,)
    if not cfg["tie_word_embeddings"]:
        yield "lm_head.weight", (v, h)


def encode(a, dtype):
    if dtype == "bf16":  # round-to-nearest-even of fp32 to its top 16 bits
        u = a.astype(np.float32).view(np.uint32)
        return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16).tobytes()
    return a.astype(np.float16 if dtype == "f16" else np.float32).tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=SHAPES, required=True)
    ap.add_argument("--dtype", choices=DTYPES, default="bf16")
    ap.add_argument("--tokenizer", required=True,
                    help="a sentencepiece tokenizer.model or a tokenizer.json to copy")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    cfg = dict(architectures=["LlamaForCausalLM"], model_type="llama", rms_norm_eps=1e-5,
               hidden_act="silu", tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
               torch_dtype=DTYPES[args.dtype][1])
    cfg.update(SHAPES[args.shape])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    json_tok = args.tokenizer.endswith(".json")
    shutil.copy(args.tokenizer, os.path.join(args.out, "tokenizer.json" if json_tok else "tokenizer.model"))

    esize = 4 if args.dtype == "f32" else 2
    header, offset = {}, 0
    for name, shape in tensors(cfg):
        n = int(np.prod(shape)) * esize
        header[name] = {"dtype": DTYPES[args.dtype][0], "shape": list(shape),
                        "data_offsets": [offset, offset + n]}
        offset += n
    hjson = json.dumps(header).encode()
    hjson += b" " * (-len(hjson) % 8)
    rng = np.random.default_rng(args.seed)
    with open(os.path.join(args.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for name, shape in tensors(cfg):
            if len(shape) == 1:
                a = np.ones(shape, np.float32)
            else:  # scaled so activations stay O(1) through the layers
                a = rng.standard_normal(shape, dtype=np.float32) * (1.0 / np.sqrt(shape[1]))
            f.write(encode(a, args.dtype))


if __name__ == "__main__":
    main()
