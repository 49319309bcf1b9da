#!/usr/bin/env python3
"""Reference ids for a folder with only a sentencepiece tokenizer.model (tests/test_tokenizer_parity.cpp,
SentencePieceParity), from transformers 5, which reads such a folder as LlamaTokenizer: the
model's pieces behind a Metaspace pre-tokenizer whose prepend scheme follows the config's
legacy/add_prefix_space, with <unk>, <s> and </s> as special added tokens split out of the text.

For each variant of the folder's tokenizer_config.json (legacy true, false and absent;
add_prefix_space false) and each text of tests/data/tokenizer_corpus.json plus texts with the
special tokens' text in them, it records tok(text, add_special_tokens=False)["input_ids"] and
tok(text)["input_ids"] where that is not [bos] + plain.

Run where transformers is installed:
  python3 scripts/sentencepiece_goldens.py MODEL_DIR tests/data/tokenizer_corpus.json OUT.json
"""
import json
import os
import shutil
import sys
import tempfile

import transformers
from transformers import AutoTokenizer

SPECIAL_TEXTS = [
    "<s>Hello</s> world", "Hello<s>world", "<s> [INST] Hi [/INST]", "a</s>\n<s>b", "<unk>x",
    " <s>  y", "x <s> y", "<s>", "</s></s>", " hello", "  hello", "hello  ", "\nhi", " ",
    "Hello <s>.", "<s>\u2581a", "\u2581a", "<s >", "<S>x", "</s> ",
]

VARIANTS = [
    ("legacy-true", {"legacy": True}),
    ("legacy-false", {"legacy": False}),
    ("legacy-absent", {}),
    ("no-prefix-space", {"legacy": False, "add_prefix_space": False}),
]


def main():
    model_dir, corpus_path, out_path = sys.argv[1:4]
    with open(corpus_path, encoding="utf-8") as f:
        texts = json.load(f) + SPECIAL_TEXTS
    with open(os.path.join(model_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        base = json.load(f)
    base.pop("legacy", None)
    out = {"made_by": "scripts/sentencepiece_goldens.py, transformers " + transformers.__version__,
           "model": os.path.basename(os.path.normpath(model_dir)), "variants": []}
    for name, extra in VARIANTS:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(os.path.join(model_dir, "tokenizer.model"), tmp)
            with open(os.path.join(tmp, "tokenizer_config.json"), "w", encoding="utf-8") as f:
                json.dump({**base, **extra}, f)
            tok = AutoTokenizer.from_pretrained(tmp)
            entries = []
            for text in texts:
                plain = tok(text, add_special_tokens=False)["input_ids"]
                e = {"text": text, "plain": plain}
                ids = tok(text)["input_ids"]
                if ids != [tok.bos_token_id] + plain:
                    e["ids"] = ids
                entries.append(e)
            out["variants"].append({"name": name, "config": {**base, **extra},
                                    "class": type(tok).__name__, "entries": entries})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
