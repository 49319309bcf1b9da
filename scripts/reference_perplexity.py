#!/usr/bin/env python3
"""Perplexity of a text under a Hugging Face Llama folder, computed with transformers in fp32.

Writes the reference that tests/test_perplexity.cpp checks loom against. The method is the one
loom-perplexity uses: the text's token ids (sentencepiece, no BOS) are cut into chunks of CTX - 1
ids; each chunk is evaluated on its own after a BOS, and every id of the chunk is predicted
(the first from the BOS alone). Perplexity = exp(total negative log-likelihood / predictions).

usage: reference_perplexity.py MODEL_DIR TEXT_FILE OUT_JSON [CTX ...]
"""
import json
import math
import sys

import sentencepiece
import torch
from transformers import LlamaForCausalLM


def main():
    model_dir, text_file, out_json = sys.argv[1:4]
    ctxs = [int(c) for c in sys.argv[4:]] or [128]
    sp = sentencepiece.SentencePieceProcessor(model_file=f"{model_dir}/tokenizer.model")
    text = open(text_file, encoding="utf-8").read()
    ids = sp.encode(text)
    model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    model.eval()
    bos = model.config.bos_token_id
    out = {"model": model_dir.rstrip("/").split("/")[-1], "text": text_file.split("/")[-1],
           "ids": ids, "runs": []}
    for ctx in ctxs:
        nll, count = 0.0, 0
        for start in range(0, len(ids), ctx - 1):
            chunk = ids[start:start + ctx - 1]
            x = torch.tensor([[bos] + chunk])
            with torch.no_grad():
                logits = model(x).logits[0, :-1].double()
            logp = torch.log_softmax(logits, dim=-1)
            nll -= logp[torch.arange(len(chunk)), torch.tensor(chunk)].sum().item()
            count += len(chunk)
        out["runs"].append({"ctx": ctx, "predictions": count, "nll": nll,
                            "perplexity": math.exp(nll / count)})
        print(f"ctx {ctx}: {count} predictions, perplexity {math.exp(nll / count):.6f}")
    with open(out_json, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
