#!/usr/bin/env python3
"""Renders the chat template corpus with Python's jinja2 as transformers' apply_chat_template does,
for tests/test_chat_template_parity.cpp to compare loom's renderer with, byte for byte.

    scripts/chat_template_goldens.py            # writes tests/data/chat/goldens.json
    scripts/chat_template_goldens.py --extra DIR --out FILE
                                                # every DIR/*.jinja, for a local check (not committed)
    scripts/chat_template_goldens.py --extra-cases FILE --out FILE
                                                # {name: {chat_template, data, target}} (variables
                                                # and expected text of another project's tests)

Templates: tests/data/chat/templates.json (tokenizer_config.json files of the shared fixtures and of
the tokenizer cache that scripts/fetch_test_tokenizers.sh fills, and our own .jinja files).
Conversations and options: tests/data/chat/conversations.json. Every template renders every
conversation under every option that applies to it.

The environment is transformers 5's (utils/chat_template_utils.py, _cached_compile_jinja_template
and render_jinja_template; tokenization_utils_base.py, apply_chat_template):
- jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
  loopcontrols extension and a `generation` block tag that renders its body (transformers'
  AssistantTracker, which only records offsets when asked for an assistant mask);
- the tojson filter replaced by json.dumps(x, ensure_ascii=False, indent, separators, sort_keys);
- globals raise_exception(message) (raises TemplateError(message)) and strftime_now(format)
  (datetime.now().strftime(format); here a fixed local time, templates.json's "now", with TZ=UTC);
- variables: messages, tools and documents (None when not given), add_generation_prompt, then
  the named special tokens (bos, eos, unk, sep, pad, cls, mask: those set, as strings; an
  AddedToken object gives its content) overridden by the extra keyword arguments.
Not reproduced: special tokens that a tokenizer class sets by default without the
tokenizer_config.json naming them.
"""

import argparse
import copy
import datetime
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "chat"
SPECIAL_TOKEN_NAMES = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                       "mask_token"]


class RaisedByTemplate(jinja2.exceptions.TemplateError):
    """What raise_exception raises (a TemplateError, as in transformers), told apart here so the
    goldens can say the template itself rejected the conversation."""


class GenerationTag(jinja2.ext.Extension):
    """{% generation %}...{% endgeneration %}: renders the body unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def make_environment(now):
    def raise_exception(message):
        raise RaisedByTemplate(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def special_tokens_of(config):
    tokens = {}
    for name in SPECIAL_TOKEN_NAMES:
        value = config.get(name)
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str):
            tokens[name] = value
    return tokens


def shared_dir():
    return Path(os.environ.get("LOOM_SHARED_DIR", ROOT.parent / "shared"))


def cache_dir():
    env = os.environ.get("LOOM_TOKENIZER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "loom-test-tokenizers"


def load_template(entry):
    """(source, special tokens, origin) of a templates.json entry."""
    if entry["where"] == "repo":
        path = ROOT / entry["file"]
        return path.read_text(encoding="utf-8"), entry.get("special_tokens", {}), entry["file"]
    base = shared_dir() / "fixtures" / "tokenizers" if entry["where"] == "fixtures" else cache_dir()
    path = base / entry["dir"] / "tokenizer_config.json"
    if not path.exists():
        sys.exit(f"chat_template_goldens: {path} is missing (run scripts/fetch_test_tokenizers.sh)")
    config = json.loads(path.read_text(encoding="utf-8"))
    template = config["chat_template"]
    if isinstance(template, list):
        wanted = entry.get("template", "default")
        named = {t["name"]: t["template"] for t in template}
        template = named[wanted]
    return template, special_tokens_of(config), str(path)


def cases_for(corpus, only=None):
    """(conversation, option) pairs: every option that applies to each conversation."""
    for conv in corpus["conversations"]:
        if only is not None and conv["name"] not in only:
            continue
        for opt in corpus["options"]:
            if "conversations" in opt and conv["name"] not in opt["conversations"]:
                continue
            yield conv, opt


def render_case(compiled, special_tokens, corpus, conv, opt, defaults):
    tools_name = conv.get("tools", defaults.get("tools"))
    documents_name = conv.get("documents", defaults.get("documents"))
    tools = corpus["tools"][tools_name] if tools_name else None
    documents = corpus["documents"][documents_name] if documents_name else None
    kwargs = {**special_tokens, **opt.get("kwargs", {})}
    case = {"conversation": conv["name"], "options": opt["name"]}
    try:
        case["output"] = compiled.render(messages=copy.deepcopy(conv["messages"]),
                                         tools=copy.deepcopy(tools),
                                         documents=copy.deepcopy(documents),
                                         add_generation_prompt=opt["add_generation_prompt"],
                                         **kwargs)
    except RaisedByTemplate as e:
        case["raises"] = e.message
    except Exception as e:  # the template fails on this input: loom must fail too
        case["error"] = f"{type(e).__name__}: {e}"
    return case


def render_all(env, source, special_tokens, corpus, only=None, defaults={}):
    entry = {"sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
             "special_tokens": special_tokens}
    try:
        compiled = env.from_string(source)
    except jinja2.exceptions.TemplateSyntaxError as e:
        entry["syntax_error"] = f"line {e.lineno}: {e.message}"
        entry["cases"] = []
        return entry
    entry["cases"] = [render_case(compiled, special_tokens, corpus, conv, opt, defaults)
                      for conv, opt in cases_for(corpus, only)]
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extra", type=Path, help="render every .jinja file of this folder instead")
    parser.add_argument("--out", type=Path, help="where to write (default tests/data/chat/goldens.json)")
    parser.add_argument("--extra-cases", type=Path,
                        help="a JSON object {name: {chat_template, data, target}} instead")
    parser.add_argument("--bos", default="<s>", help="bos_token for --extra templates")
    parser.add_argument("--eos", default="</s>", help="eos_token for --extra templates")
    args = parser.parse_args()

    os.environ["TZ"] = "UTC"
    time.tzset()
    listing = json.loads((DATA / "templates.json").read_text(encoding="utf-8"))
    corpus = json.loads((DATA / "conversations.json").read_text(encoding="utf-8"))
    now = datetime.datetime.fromtimestamp(listing["now"]["epoch"])
    env = make_environment(now)

    out = {"generator": "scripts/chat_template_goldens.py", "jinja2": jinja2.__version__,
           "now_epoch": listing["now"]["epoch"], "templates": {}}
    if args.extra:
        for path in sorted(args.extra.glob("*.jinja")):
            source = path.read_text(encoding="utf-8")
            entry = render_all(env, source, {"bos_token": args.bos, "eos_token": args.eos}, corpus)
            entry["source"] = source
            out["templates"][path.stem] = entry
        target = args.out or Path("chat_template_extra_goldens.json")
    elif args.extra_cases:
        # Each case renders with its own variables; "target" is what the other project expects,
        # kept to count where jinja2 agrees with it.
        cases = json.loads(args.extra_cases.read_text(encoding="utf-8"))
        for name, c in cases.items():
            entry = {"sha256": hashlib.sha256(c["chat_template"].encode("utf-8")).hexdigest(),
                     "special_tokens": {}, "source": c["chat_template"]}
            case = {"conversation": "own", "options": "own", "context": c["data"],
                    "target": c["target"]}
            try:
                case["output"] = env.from_string(c["chat_template"]).render(**copy.deepcopy(c["data"]))
            except RaisedByTemplate as e:
                case["raises"] = e.message
            except Exception as e:
                case["error"] = f"{type(e).__name__}: {e}"
            entry["cases"] = [case]
            out["templates"][name] = entry
        agree = sum(e["cases"][0].get("output") == e["cases"][0]["target"]
                    for e in out["templates"].values())
        print(f"jinja2 gives the expected text for {agree} of {len(cases)} cases")
        for name, e in out["templates"].items():
            if e["cases"][0].get("output") != e["cases"][0]["target"]:
                print(f"  differs: {name}")
        target = args.out or Path("chat_template_extra_goldens.json")
    else:
        seen = {}
        for t in listing["templates"]:
            source, special_tokens, origin = load_template(t)
            entry = render_all(env, source, special_tokens, corpus, t.get("conversations"), t)
            if entry["sha256"] in seen:
                sys.exit(f"chat_template_goldens: {t['name']} is the same template as {seen[entry['sha256']]}")
            seen[entry["sha256"]] = t["name"]
            out["templates"][t["name"]] = entry
        target = args.out or DATA / "goldens.json"

    target.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    n = sum(len(e["cases"]) for e in out["templates"].values())
    kinds = {"output": 0, "raises": 0, "error": 0}
    for e in out["templates"].values():
        for c in e["cases"]:
            kinds[next(k for k in kinds if k in c)] += 1
    print(f"{target}: {len(out['templates'])} templates, {n} cases ({kinds['output']} outputs, "
          f"{kinds['raises']} raise_exception, {kinds['error']} other errors), "
          f"{target.stat().st_size} bytes")


if __name__ == "__main__":
    main()
