#!/usr/bin/env python3
"""Differential testing of loom's template engine against Python's jinja2: generates random
templates of three kinds (expressions with filters, tests and methods over the reference cases'
variables; whitespace control with -, + and trim/lstrip around every kind of tag; statements with
set, namespace, for, if, macro, call, with, block set and loop controls), renders each with jinja2
in transformers' environment (scripts/jinja_reference.py) and with build/bin/jinja_render, and
prints the templates whose output differs (an error on both sides counts as agreement).

Known differences it reports: jinja2's reverse/map/select return iterators and generators whose
printed form (<list_reverseiterator object at 0x...>) loom does not reproduce (it prints the
list), and a slice of a literal that is not a sequence inside an expression jinja2 folds at
compile time (0[1:] as part of a constant expression).

Usage: scripts/jinja_differential.py [--kind expr|whitespace|statements] [--seed N] [--count N]
       [--render build/bin/jinja_render]
"""
import argparse
import copy
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jinja_reference as R  # noqa: E402


def expression_templates(rng, count):
    atoms = ["1", "0", "-2", "3.5", "0.1", "'a'", "'Hello World'", "''", "' x '", "none", "true", "false", "xs", "d", "s", "n", "f", "empty", "missing", "words", "users", "[1, 2]", "(1, 'a')", "{'k': 1}", "messages", "messages[0]", "uni", "'a,b,,c'", "'%s'"]
    binops = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">", "<=", ">=", "in", "not in", "and", "or"]
    filters = ["length", "upper", "lower", "trim", "first", "last", "list", "sort", "reverse", "unique|list", "join(',')", "tojson", "string", "int", "float", "abs", "round", "default('D')", "d('x', true)", "title", "capitalize", "sum", "min", "max", "items|list", "dictsort", "map('string')|list", "select|list", "reject('odd')|list", "batch(2)|list", "replace('a', 'b')", "wordcount", "center(9)", "indent(2)", "tojson(indent=1)", "count", "e", "truncate(5)", "selectattr('name')|list", "map(attribute='name')|list", "groupby('age')|list", "slice(2)|list", "format(1)"]
    tests = ["defined", "none", "string", "number", "mapping", "iterable", "sequence", "odd", "even", "integer", "float", "boolean", "true", "false", "lower", "upper", "divisibleby(2)", "eq(1)", "in([1, 'a'])", "callable", "undefined"]
    methods = [".upper()", ".split()", ".split(',')", ".strip()", ".startswith('H')", ".endswith('d')", ".replace('l', 'L')", ".title()", ".count('l')", ".find('o')", ".keys()|list", ".values()|list", ".get('k')", ".items()|list", "[0]", "[-1]", "[1:]", "[::-1]", "[:2]", ".role", "['content']", ".lstrip('H')", ".format(1)", ".index(1)", ".rsplit(' ', 1)", ".isdigit()", ".zfill(4)"]
    def expr(depth=0):
        r = rng.random()
        if depth > 2 or r < 0.3:
            e = rng.choice(atoms)
        elif r < 0.5:
            e = "(%s %s %s)" % (expr(depth+1), rng.choice(binops), expr(depth+1))
        elif r < 0.65:
            e = "%s|%s" % (expr(depth+1), rng.choice(filters))
        elif r < 0.75:
            e = "(%s is %s%s)" % (expr(depth+1), rng.choice(["", "not "]), rng.choice(tests))
        elif r < 0.9:
            e = "%s%s" % (rng.choice(atoms), rng.choice(methods))
        elif r < 0.95:
            e = "(%s if %s else %s)" % (expr(depth+1), expr(depth+1), expr(depth+1))
        else:
            e = "(not %s)" % expr(depth+1)
        return e
    out = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.7:
            t = "{{ %s }}" % expr()
        elif kind < 0.85:
            t = "{%% for v in %s %%}[{{ v }}|{{ loop.index }}]{%% else %%}E{%% endfor %%}" % expr()
        else:
            t = "{%% if %s %%}Y{%% else %%}N{%% endif %%}" % expr()
        out.append({"template": t, "context": R.CTX})
    return out


def whitespace_templates(rng, count):
    texts = ["", " ", "  ", "\n", "\n\n", " \n ", "\t", "a", "b c", "\n  x", "y \n", "\r\n", " \r\n\t", "\u00a0", "\u3000\n"]
    def sign(): return rng.choice(["", "", "-", "+"])
    def tag():
        r = rng.random()
        if r < 0.25: return "{{%s 'v' %s}}" % (rng.choice(["", "-"]), rng.choice(["", "-"]))
        if r < 0.4: return "{#%s c %s#}" % (sign(), sign())
        if r < 0.55: return "{%%%s if true %s%%}" % (sign(), sign()) + body(1) + "{%%%s endif %s%%}" % (sign(), sign())
        if r < 0.7: return "{%%%s for i in [1, 2] %s%%}" % (sign(), sign()) + body(1) + "{%%%s endfor %s%%}" % (sign(), sign())
        if r < 0.8: return "{%%%s set x = 1 %s%%}" % (sign(), sign())
        if r < 0.9: return "{%%%s raw %s%%}" % (rng.choice(["", "-"]), rng.choice(["", "-"])) + rng.choice(texts) + "{{ r }}" + rng.choice(texts) + "{%%%s endraw %s%%}" % (sign(), sign())
        return "{%%%s macro m() %s%%}" % (sign(), sign()) + body(1) + "{%%%s endmacro %s%%}{{ m() }}" % (sign(), sign())
    def body(d=0):
        out = ""
        for _ in range(rng.randint(1, 4)):
            out += rng.choice(texts)
            if d < 2 and rng.random() < 0.7: out += tag()
        return out + rng.choice(texts)
    return [{"template": body(), "context": {}} for _ in range(count)]


def statement_templates(rng, count):
    names = ["a", "b", "c", "x"]
    def val():
        return rng.choice(["1", "2", "'s'", "[1, 2]", "a", "b", "c", "x", "ns.v", "loop.index", "loop.first", "a ~ b", "(a or 0) + 1", "m(1)", "m()", "m(b=2)", "caller is defined", "varargs", "kwargs", "loop.length", "loop.previtem", "ns.v + 1"])
    def stmt(d):
        r = rng.random()
        if d > 3 or r < 0.25: return "{{ %s }}" % val()
        if r < 0.4: return "{%% set %s = %s %%}" % (rng.choice(names), val())
        if r < 0.5: return "{%% set ns.v = %s %%}" % val()
        if r < 0.62: return "{%% for %s in %s %%}%s{%% endfor %%}" % (rng.choice(names), rng.choice(["[1, 2]", "[3]", "[]", "a", "'ab'"]), block(d+1))
        if r < 0.72: return "{%% if %s %%}%s{%% else %%}%s{%% endif %%}" % (val(), block(d+1), block(d+1))
        if r < 0.8: return "{%% macro m(a=0, b=1) %%}%s{%% endmacro %%}" % block(d+1)
        if r < 0.85: return "{%% set %s %%}%s{%% endset %%}" % (rng.choice(names), block(d+1))
        if r < 0.9: return "{%% with %s = %s %%}%s{%% endwith %%}" % (rng.choice(names), val(), block(d+1))
        if r < 0.95: return "{% call m(1) %}" + block(d+1) + "{% endcall %}"
        return rng.choice(["{% break %}", "{% continue %}"]) if d > 0 else "|"
    def block(d):
        return "|".join(stmt(d) for _ in range(rng.randint(1, 3)))
    prefix = ("{% set ns = namespace(v=0) %}"
              "{% macro m(a=0, b=1) %}[{{ a }}{{ b }}]{% endmacro %}")
    return [{"template": prefix + block(0), "context": {}} for _ in range(count)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["expr", "whitespace", "statements"], default="expr")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--render", default="build/bin/jinja_render")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    make = {"expr": expression_templates, "whitespace": whitespace_templates,
            "statements": statement_templates}[args.kind]
    cases = make(rng, args.count)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cases, f)
    try:
        got = json.loads(subprocess.run([args.render, f.name], capture_output=True, text=True,
                                        check=True).stdout)
    finally:
        os.unlink(f.name)
    env = R.environment()
    bad = 0
    for case, mine in zip(cases, got):
        try:
            theirs = env.from_string(case["template"]).render(**copy.deepcopy(case["context"]))
        except Exception as e:  # noqa: BLE001 (any error jinja2 or Python raises)
            theirs = "ERROR: %s: %s" % (type(e).__name__, e)
        if theirs == mine or (theirs.startswith("ERROR") and mine.startswith("ERROR")):
            continue
        bad += 1
        print(repr(case["template"]))
        print("   jinja2:", repr(theirs[:400]))
        print("   loom:  ", repr(mine[:400]))
    print(f"{bad} of {len(cases)} {args.kind} templates differ")


if __name__ == "__main__":
    main()
