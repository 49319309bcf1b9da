#!/usr/bin/python3
"""Random-weight GGUFs of the TinyLlama-1.1B, Llama-3.2-1B and Qwen2.5-0.5B shapes, for llama.cpp beside loom-bench --synthetic.

Speed only: N(0, 0.02) weights, unit norms, a placeholder sentencepiece-style vocabulary of the
right size, tied embeddings (no output.weight) except for TinyLlama, q/k/v biases for qwen2. Types f32, f16, bf16 and
q4_0 (every matrix, as llama-quantize --pure), written by gguf-py (PYTHONPATH=<llama.cpp>/gguf-py).

  PYTHONPATH=/tmp/llama.cpp/gguf-py python3 scripts/make_random_gguf_shapes.py llama3.2-1b bf16 /tmp/l1b-bf16.gguf
"""
import sys, numpy as np, gguf
from gguf import GGMLQuantizationType as Q
SHAPES = {
 "tinyllama-1.1b": dict(arch="llama", V=32000, D=2048, F=5632, L=22, H=32, KV=4, hd=64, theta=10000.0, eps=1e-5, bias=False, tied=False),
 "llama3.2-1b": dict(arch="llama", V=128256, D=2048, F=8192, L=16, H=32, KV=8, hd=64, theta=500000.0, eps=1e-5, bias=False),
 "qwen2.5-0.5b": dict(arch="qwen2", V=151936, D=896, F=4864, L=24, H=14, KV=2, hd=64, theta=1000000.0, eps=1e-6, bias=True),
}
shape, ty, out = sys.argv[1:4]
c = SHAPES[shape]; V,D,F,L,H,KV,hd = (c[k] for k in "V D F L H KV hd".split())
qt = {"f16": Q.F16, "bf16": Q.BF16, "q4_0": Q.Q4_0, "f32": Q.F32}[ty]
T = [("token_embd.weight", (V, D), "w")]
for l in range(L):
    p = f"blk.{l}."
    T += [(p+"attn_norm.weight",(D,),"n"),(p+"attn_q.weight",(H*hd,D),"w"),(p+"attn_k.weight",(KV*hd,D),"w"),(p+"attn_v.weight",(KV*hd,D),"w")]
    if c["bias"]: T += [(p+"attn_q.bias",(H*hd,),"b"),(p+"attn_k.bias",(KV*hd,),"b"),(p+"attn_v.bias",(KV*hd,),"b")]
    T += [(p+"attn_output.weight",(D,H*hd),"w"),(p+"ffn_norm.weight",(D,),"n"),(p+"ffn_gate.weight",(F,D),"w"),(p+"ffn_up.weight",(F,D),"w"),(p+"ffn_down.weight",(D,F),"w")]
T += [("output_norm.weight",(D,),"n")]
if not c.get("tied", True): T += [("output.weight",(V,D),"w")]
w = gguf.GGUFWriter(out, c["arch"])
w.add_name("random-"+shape)
w.add_vocab_size(V); w.add_context_length(32768); w.add_embedding_length(D); w.add_block_count(L)
w.add_feed_forward_length(F); w.add_head_count(H); w.add_head_count_kv(KV); w.add_rope_dimension_count(hd)
w.add_layer_norm_rms_eps(c["eps"]); w.add_rope_freq_base(c["theta"])
toks = [b"<unk>", b"<s>", b"</s>"] + [("<0x%02X>" % i).encode() for i in range(256)]
types = [2, 3, 3] + [6]*256
toks += [("t%d" % i).encode() for i in range(V - len(toks))]; types += [1]*(V-len(types))
w.add_tokenizer_model("llama"); w.add_tokenizer_pre("default")
w.add_token_list(toks); w.add_token_scores([0.0]*V); w.add_token_types(types)
w.add_bos_token_id(1); w.add_eos_token_id(2); w.add_unk_token_id(0); w.add_add_bos_token(True)
def enc(arr, kind):
    if kind != "w": return arr.astype(np.float32)
    if qt == Q.F16: return arr.astype(np.float16)
    if qt == Q.F32: return arr
    return gguf.quants.quantize(arr, qt)
for name, s, kind in T:
    if kind == "w":
        if qt in (Q.F16, Q.F32):
            dt = np.float16 if qt == Q.F16 else np.float32
            w.add_tensor_info(name, s, np.dtype(dt), int(np.prod(s))*np.dtype(dt).itemsize)
        else:
            bs, ts = gguf.GGML_QUANT_SIZES[qt]
            bshape = (s[0], s[1]//bs*ts)
            w.add_tensor_info(name, bshape, np.dtype(np.uint8), bshape[0]*bshape[1], raw_dtype=qt)
    else:
        w.add_tensor_info(name, s, np.dtype(np.float32), int(np.prod(s))*4)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_ti_data_to_file()
rng = np.random.default_rng(1)
for name, s, kind in T:
    if kind == "n": a = np.ones(s, np.float32)
    else: a = (rng.standard_normal(s, dtype=np.float32) * np.float32(0.02))
    w.write_tensor_data(enc(a, kind))
w.close(); print("wrote", out)
