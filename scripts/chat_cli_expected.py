#!/usr/bin/env python3
"""Expected prompt texts for the chat flags of loom-tokenize and loom-generate
(tests/test_chat_cli.cpp): each case's messages rendered by Python's jinja2 the way transformers'
apply_chat_template renders them (ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks
and loop controls; tojson without ASCII escapes; raise_exception; the tokenizer_config.json's
special tokens as variables; add_generation_prompt=True; the kwargs on top).

    python3 scripts/chat_cli_expected.py [SHARED_DIR] > tests/data/chat_cli/cases.json

SHARED_DIR (default ../shared) holds fixtures/tokenizers/{qwen3,llama3} and
models/stories260K. transformers' prompt_ids for these cases come from
scripts/chat_cli_prompt_ids.py, run where transformers is installed.
"""
import json
import os
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CASES = [
    {
        "name": "qwen3-system-user",
        "folder": "fixtures/tokenizers/qwen3",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
    },
    {
        "name": "qwen3-multi-turn-no-thinking",
        "folder": "fixtures/tokenizers/qwen3",
        "kwargs": {"enable_thinking": False},
        "messages": [
            {"role": "user", "content": "Hi!"},
            {"role": "assistant", "content": "<think>\nThe user greets.\n</think>\n\nHello! How can I help?"},
            {"role": "user", "content": "Write «naïve» café in 中文, with  two spaces\tand a tab."},
        ],
    },
    {
        "name": "llama3-system-user",
        "folder": "fixtures/tokenizers/llama3",
        "messages": [
            {"role": "system", "content": "  Answer briefly.  "},
            {"role": "user", "content": "Name three colours.\n"},
        ],
    },
    {
        "name": "stories-template-file",
        "folder": "models/stories260K",
        "template_file": "tests/data/chat_cli/stories.jinja",
        "messages": [
            {"role": "system", "content": "Tell a story."},
            {"role": "user", "content": "Once upon a time"},
            {"role": "assistant", "content": " there was a cat."},
            {"role": "user", "content": "What next?"},
        ],
    },
]


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def special_tokens(config):
    # transformers' special_tokens_map: the named special tokens that are set, as strings.
    out = {}
    for key in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                "mask_token"):
        value = config.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        if value is not None:
            out[key] = value
    return out


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared")
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    out = []
    for case in CASES:
        folder = os.path.join(shared, case["folder"])
        with open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        if "template_file" in case:
            with open(os.path.join(ROOT, case["template_file"]), encoding="utf-8") as f:
                source = f.read()
        else:
            source = config["chat_template"]
        variables = dict(special_tokens(config))
        variables.update(case.get("kwargs", {}))
        text = env.from_string(source).render(messages=case["messages"],
                                              add_generation_prompt=True, **variables)
        out.append(dict(case, prompt_text=text))
    json.dump({"generator": "scripts/chat_cli_expected.py, jinja2 " + jinja2.__version__,
               "cases": out}, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
