#!/usr/bin/env python3
"""Writes tests/data/ggml/mix_types.json: the type llama-quantize gives each tensor of the
llama-mix checkpoints (tests/support/arch_checkpoint.h) for each file type loom-quantize writes,
so that test_gguf_model can hold loom-quantize's per-tensor rules to llama.cpp's.

  cmake --build build --target make_test_checkpoint loom-quantize
  python3 scripts/make_mix_goldens.py --build build --llama /tmp/llama.cpp/build/bin \\
      --gguf-py /tmp/llama.cpp/gguf-py

llama.cpp (b10573, built under /tmp from github:ngxson/llama.cpp) is a peer used for
measurement only: nothing of it is committed. Each checkpoint goes to F16 GGUF by loom-quantize
(which llama.cpp reads), then through llama-quantize; gguf-py lists the result's tensor types.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

TYPES = {"q8_0": "Q8_0", "q4_0": "Q4_0", "q4_k_s": "Q4_K_S", "q4_k_m": "Q4_K_M",
         "q5_k_s": "Q5_K_S", "q5_k_m": "Q5_K_M", "q6_k": "Q6_K"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--llama", required=True, help="folder of llama-quantize")
    ap.add_argument("--gguf-py", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                                  "ggml", "mix_types.json"))
    a = ap.parse_args()
    sys.path.insert(0, a.gguf_py)
    import gguf  # noqa: E402

    env = dict(os.environ, LD_LIBRARY_PATH=a.llama)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ck in ["llama-mix", "llama-mix-tied"]:
            folder = os.path.join(tmp, ck)
            subprocess.run([os.path.join(a.build, "bin", "make_test_checkpoint"), ck, folder], check=True)
            f16 = os.path.join(tmp, ck + "-f16.gguf")
            subprocess.run([os.path.join(a.build, "bin", "loom-quantize"), folder, f16, "f16"], check=True)
            out[ck] = {}
            for name, llama_name in TYPES.items():
                q = os.path.join(tmp, ck + "-" + name + ".gguf")
                subprocess.run([os.path.join(a.llama, "llama-quantize"), f16, q, llama_name], check=True,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                r = gguf.GGUFReader(q)
                out[ck][name] = {t.name: t.tensor_type.name for t in r.tensors}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
