#!/usr/bin/python3
"""Reference values for ggml's block types, from gguf-py (llama.cpp's own Python package, an
implementation independent of loom's): random blocks of each type and their dequantized weights.
tests/test_gguf_model.cpp holds loom's readings of the same bytes to these.

  PYTHONPATH=/tmp/llama.cpp/gguf-py python3 scripts/make_ggml_block_goldens.py tests/data/ggml/blocks.json
"""
import json, sys
import numpy as np
from gguf import quants, GGMLQuantizationType as Q

rng = np.random.default_rng(20261206)
# (type, block bytes, weights a block, where the fp16 scales lie: byte offsets in the block)
TYPES = [("Q8_0", Q.Q8_0, 34, 32, [0]), ("Q4_0", Q.Q4_0, 18, 32, [0]),
         ("Q5_0", Q.Q5_0, 22, 32, [0]), ("Q4_K", Q.Q4_K, 144, 256, [0, 2]),
         ("Q5_K", Q.Q5_K, 176, 256, [0, 2]), ("Q6_K", Q.Q6_K, 210, 256, [208]),
         ("Q5_1", Q.Q5_1, 24, 32, [0, 2])]
out = {}
for name, qt, size, per, halves in TYPES:
    blocks = 2 if per == 256 else 8
    raw = bytearray(rng.integers(0, 256, size=size * blocks, dtype=np.uint8).tobytes())
    for b in range(blocks):
        for off in halves:  # finite, modest scales: fp16 of +-(1e-3 .. 1e-1)
            v = np.float16(rng.uniform(1e-3, 1e-1) * rng.choice([-1, 1]))
            raw[b * size + off: b * size + off + 2] = v.tobytes()
    data = np.frombuffer(bytes(raw), dtype=np.uint8)
    w = quants.dequantize(data, qt).astype(np.float32).reshape(-1)
    out[name] = {"bytes": bytes(raw).hex(), "weights": [float(x) for x in w]}
json.dump(out, open(sys.argv[1], "w"), indent=0)
