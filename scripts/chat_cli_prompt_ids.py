#!/usr/bin/env python3
"""Adds transformers' prompt_ids (and checks its prompt_text) to tests/data/chat_cli/cases.json:
apply_chat_template(messages, add_generation_prompt=True, **kwargs) on each case's folder, with
its template file where it has one. Run where transformers is installed:

    python3 scripts/chat_cli_prompt_ids.py SHARED_DIR tests/data/chat_cli/cases.json
"""
import json
import os
import sys

from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    shared, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    for case in data["cases"]:
        tok = AutoTokenizer.from_pretrained(os.path.join(shared, case["folder"]))
        extra = dict(case.get("kwargs", {}))
        if "template_file" in case:
            with open(os.path.join(ROOT, case["template_file"]), encoding="utf-8") as f:
                extra["chat_template"] = f.read()
        text = tok.apply_chat_template(case["messages"], tokenize=False,
                                       add_generation_prompt=True, **extra)
        if text != case["prompt_text"]:
            sys.exit(f"{case['name']}: transformers renders {text!r}, jinja2 gave "
                     f"{case['prompt_text']!r}")
        ids = tok.apply_chat_template(case["messages"], tokenize=True,
                                      add_generation_prompt=True, return_dict=True,
                                      **extra)["input_ids"]
        case["prompt_ids"] = list(ids)
    data["prompt_ids"] = "transformers " + __import__("transformers").__version__
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
