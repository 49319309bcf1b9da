#!/usr/bin/env python3
"""Renders the template engine's test cases with Python's jinja2 in the environment transformers'
apply_chat_template uses, and writes tests/data/jinja_cases.json for tests/test_jinja.cpp.

The environment, as transformers 5.x builds it (chat_template_utils._compile_jinja_template):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]),
its own tojson filter (json.dumps without ASCII escaping), and the globals raise_exception and
strftime_now. strftime_now formats a fixed time here (NOW, local time in TZ=UTC) so that the C++
test can pass the same time through RenderOptions::now.

Each case is (name, template, context, error): error None records the output; otherwise jinja2
must raise and its message must contain ERROR, and the C++ engine's message must contain it too.
A syntax error also records jinja2's line, which loom's "origin:LINE:COLUMN" must name.

Usage: python3 scripts/jinja_reference.py > tests/data/jinja_cases.json
"""
import copy
import datetime
import json
import os
import sys
import time

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

NOW = 1733400000  # 2024-12-05 12:00:00 UTC
os.environ["TZ"] = "UTC"
time.tzset()


class TemplateError(Exception):
    pass


def raise_exception(message):
    raise TemplateError(message)


def strftime_now(fmt):
    return datetime.datetime.fromtimestamp(NOW).strftime(fmt)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


class Generation(Extension):
    """transformers' {% generation %} block (its AssistantTracker extension), which renders its
    body and, when asked for an assistant mask, records where it went."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


MSGS = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hi there"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "Tell me a joke."},
]
CTX = {
    "messages": MSGS,
    "xs": [3, 1, 2],
    "words": ["banana", "Apple", "cherry"],
    "d": {"b": 2, "a": 1, "c": [1, 2]},
    "s": "  Hello, World!  ",
    "n": 7,
    "f": 2.5,
    "t": True,
    "nothing": None,
    "empty": [],
    "users": [{"name": "ann", "age": 30, "admin": True}, {"name": "Bob", "age": 25, "admin": False},
              {"name": "cy", "age": 35}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                              "required": ["city"]}}}],
    "uni": "héllo wörld ß 日本",
    "bos_token": "<s>",
    "eos_token": "</s>",
    "add_generation_prompt": True,
}

CASES = [
    # --- text and whitespace control ---
    ("text", "plain text", {}, None),
    ("trailing_newline_dropped", "a\n", {}, None),
    ("two_trailing_newlines", "a\n\n", {}, None),
    ("crlf_normalized", "a\r\nb\rc", {}, None),
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter", {}, None),
    ("lstrip_blocks", "  {% if true %}\n  x\n  {% endif %}\n", {}, None),
    ("lstrip_not_variables", "  {{ 1 }}\n", {}, None),
    ("lstrip_text_before", "ab  {% if true %}x{% endif %}", {}, None),
    ("minus_left", "a  \n  {%- if true %}x{% endif %}", {}, None),
    ("minus_right", "{% if true -%}  \n  x{% endif %}", {}, None),
    ("minus_variable", "a  {{- 1 -}}  b", {}, None),
    ("plus_left", "  {%+ if true %}x{% endif %}", {}, None),
    ("plus_right", "{% if true +%}\nx{% endif %}", {}, None),
    ("comment", "a{# comment #}b", {}, None),
    ("comment_trim", "a\n{# c #}\nb", {}, None),
    ("comment_minus", "a   {#- c -#}   b", {}, None),
    ("comment_lstrip", "a\n    {# c #}\nb", {}, None),
    ("raw", "{% raw %}{{ not rendered }}{% endraw %}", {}, None),
    ("raw_whitespace", "a\n  {%- raw -%}  {{ x }}  {%- endraw -%}  \nb", {}, None),
    ("raw_trim", "{% raw %}\nx\n{% endraw %}\ny", {}, None),
    ("newline_after_variable_kept", "{{ 1 }}\n{{ 2 }}", {}, None),
    ("lstrip_after_block_line", "{% for x in xs %}\n    {% if x %}{{ x }}{% endif %}\n{% endfor %}", None, None),
    ("lstrip_tab", "\t{% if true %}x{% endif %}", {}, None),
    ("block_on_line_with_text", "x {% if true %}y{% endif %} z\n", {}, None),
    ("minus_strips_unicode_space", "a {{- 'x' -}}\u3000\u00a0 b\n{%- if true -%}\u2003\nc{% endif %}", {}, None),
    ("unicode_space_in_tag", "{{\u3000'x'\u00a0}}{%\u2003if true %}y{% endif %}", {}, None),
    ("lstrip_unicode_space", "a\n\u3000\u00a0{% if true %}b{% endif %}", {}, None),
    ("whitespace_only_template", "   \n  ", {}, None),
    # --- literals and printing ---
    ("print_int", "{{ 42 }}", {}, None),
    ("print_float", "{{ 2.50 }} {{ 1e3 }} {{ 1.5e-7 }} {{ 1_000 }}", {}, None),
    ("print_float_repr", "{{ 0.1 + 0.2 }} {{ 10 / 3 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }}", {}, None),
    ("print_bool_none", "{{ true }} {{ False }} {{ none }} {{ None }}", {}, None),
    ("print_list", "{{ [1, 'a', \"b'c\", none, true, 1.0] }}", {}, None),
    ("print_dict", "{{ {'a': 1, 'b': [2, 3], 'c': {'d': none}} }}", {}, None),
    ("print_tuple", "{{ (1, 2) }} {{ (1,) }} {{ () }}", {}, None),
    ("print_context_list", "{{ words }}", None, None),
    ("print_context_dict", "{{ d }}", None, None),
    ("print_string_repr_escapes", "{{ ['a\\nb', 'tab\\t', 'q\"', \"it's\", 'both\\'\"', 'back\\\\'] }}", {}, None),
    ("print_unicode_in_list", "{{ [uni] }}", None, None),
    ("string_escapes", "{{ 'a\\tb\\\\c\\'d\\x41\\u00e9' }}", {}, None),
    ("string_unknown_escape", "{{ 'a\\db' }}", {}, None),
    ("string_concat_literals", "{{ 'a' 'b' \"c\" }}", {}, None),
    ("hex_octal_binary", "{{ 0x1F }} {{ 0o17 }} {{ 0b101 }}", {}, None),
    ("undefined_prints_empty", "[{{ missing }}]", {}, None),
    ("float_context", "{{ f }} {{ f * 2 }}", None, None),
    # --- arithmetic ---
    ("add", "{{ 1 + 2 }} {{ 1 + 2.0 }} {{ 'a' + 'b' }} {{ [1] + [2] }}", {}, None),
    ("sub_mul", "{{ 5 - 7 }} {{ 3 * 4 }} {{ 'ab' * 3 }} {{ 2 * 'x' }} {{ [0] * 3 }}", {}, None),
    ("div", "{{ 7 / 2 }} {{ 4 / 2 }} {{ -7 / 2 }}", {}, None),
    ("floordiv", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 // -2 }} {{ 7.5 // 2 }} {{ -7.5 // 2 }}", {}, None),
    ("mod", "{{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 % 2 }} {{ -7.5 % 2 }}", {}, None),
    ("pow", "{{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} {{ 2.0 ** 2 }}", {}, None),
    ("unary", "{{ -n }} {{ +n }} {{ - -n }} {{ -f }}", None, None),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 * 3 ** 2 }} {{ -2 ** 2 }}", {}, None),
    ("neg_filter_precedence", "{{ -1|abs }} {{ -n|string }}", None, None),
    ("neg_list_error", "{{ -xs|length }}", None, "bad operand type for unary -: 'list'"),
    ("tilde", "{{ 'a' ~ 1 ~ none ~ true ~ missing ~ [1] }}", {}, None),
    ("tilde_vs_mul", "{{ 1 ~ 2 * 3 }}", {}, None),
    ("tilde_binds_tighter_than_plus", "{{ 1 + 2 ~ 3 }}", {}, "unsupported operand type(s) for +: 'int' and 'str'"),
    ("bool_arithmetic", "{{ true + 1 }} {{ true * 3 }}", {}, None),
    ("div_zero", "{{ 1 / 0 }}", {}, "division by zero"),
    ("floordiv_zero", "{{ 1 // 0 }}", {}, "division or modulo by zero"),
    ("mod_zero", "{{ 1 % 0 }}", {}, "modulo by zero"),
    ("str_plus_int", "{{ 'a' + 1 }}", {}, "can only concatenate str"),
    ("int_plus_str", "{{ 1 + 'a' }}", {}, "unsupported operand type(s) for +: 'int' and 'str'"),
    ("undefined_plus", "{{ missing + 1 }}", {}, "'missing' is undefined"),
    ("percent_format", "{{ '%s and %s' % ('a', 1) }} {{ '%d%%' % 50 }} {{ '%05.2f' % 3.14159 }} {{ '%-4s|' % 'x' }}", {}, None),
    ("percent_single", "{{ 'Hello %s!' % 'you' }} {{ '%r' % 'q' }} {{ '%x' % 255 }}", {}, None),
    ("percent_dict", "{{ '%(a)s-%(b)d' % {'a': 'x', 'b': 2} }}", {}, None),
    # --- comparisons and logic ---
    ("compare", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 3 > 4 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 'abc' < 'abd' }}", {}, None),
    ("compare_chain", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }}", {}, None),
    ("compare_lists", "{{ [1, 2] < [1, 3] }} {{ [1, 2] == [1, 2] }} {{ (1, 2) == [1, 2] }}", {}, None),
    ("compare_mixed_error", "{{ 'a' < 1 }}", {}, "'<' not supported between instances of 'str' and 'int'"),
    ("compare_none_error", "{{ none > 1 }}", {}, "not supported between instances of 'NoneType' and 'int'"),
    ("eq_mixed", "{{ 1 == '1' }} {{ none == none }} {{ missing == missing }} {{ true == 1 }}", {}, None),
    ("in", "{{ 'ell' in 'hello' }} {{ 2 in xs }} {{ 'a' in d }} {{ 'z' not in d }} {{ 5 not in xs }}", None, None),
    ("in_undefined", "{{ 'a' in missing }}", {}, None),
    ("in_str_int_error", "{{ 1 in 'abc' }}", {}, "requires string as left operand"),
    ("and_or_values", "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ '' or [] }} {{ none and 1 }} {{ 'a' or b }}", {}, None),
    ("not", "{{ not 0 }} {{ not 'a' }} {{ not missing }} {{ not empty }}", None, None),
    ("not_precedence", "{{ not 1 == 2 }} {{ not true and false }}", {}, None),
    ("truthiness", "{% for v in [0, 1, '', 'a', [], [0], {}, none, 0.0] %}{{ 'T' if v else 'F' }}{% endfor %}", {}, None),
    ("condexpr", "{{ 'yes' if t else 'no' }} {{ 'yes' if nothing else 'no' }}", None, None),
    ("condexpr_no_else", "[{{ 'yes' if false }}]", {}, None),
    ("condexpr_nested", "{{ 'a' if n > 10 else 'b' if n > 5 else 'c' }}", None, None),
    # --- variables, attributes, items ---
    ("attr_and_item", "{{ messages[0].role }} {{ messages[0]['content'] }} {{ d.a }} {{ d['b'] }}", None, None),
    ("missing_attr", "[{{ d.zz }}][{{ d['zz'] }}][{{ messages[9] }}]", None, None),
    ("missing_attr_chain", "{{ d.zz.yy }}", None, "'dict object' has no attribute 'zz'"),
    ("undefined_attr", "{{ missing.x }}", {}, "'missing' is undefined"),
    ("undefined_item", "{{ missing['x'] }}", {}, "'missing' is undefined"),
    ("dict_method_vs_key", "{{ {'items': 1}.items()|list }} {{ {'items': 1}['items'] }}", {}, None),
    ("attr_dot_number", "{{ xs.0 }} {{ messages.1.role }}", None, None),
    ("negative_index", "{{ xs[-1] }} {{ 'abc'[-1] }} {{ messages[-1].content }}", None, None),
    ("slice", "{{ xs[1:] }} {{ xs[:2] }} {{ xs[::-1] }} {{ xs[::2] }} {{ xs[-2:] }} {{ xs[5:] }}", None, None),
    ("slice_string", "{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ uni[::-1] }} {{ uni[1] }}", None, None),
    ("slice_messages", "{% for m in messages[1:][::-1] %}{{ m.role }},{% endfor %}", None, None),
    ("slice_negative_step_bounds", "{{ xs[2:0:-1] }} {{ xs[-1:-4:-1] }} {{ xs[:-1] }}", None, None),
    ("string_index", "{{ s[2] }}", None, None),
    ("tuple_index", "{{ (1, 2, 3)[1] }}", {}, None),
    # --- if ---
    ("if_elif_else", "{% for v in [1, 5, 10] %}{% if v < 3 %}a{% elif v < 7 %}b{% else %}c{% endif %}{% endfor %}", {}, None),
    ("if_undefined", "{% if missing %}y{% else %}n{% endif %}", {}, None),
    ("if_nested", "{% if true %}{% if false %}x{% else %}y{% endif %}{% endif %}", {}, None),
    # --- for ---
    ("for_basic", "{% for x in xs %}{{ x }},{% endfor %}", None, None),
    ("for_else", "{% for x in empty %}x{% else %}none{% endfor %}", None, None),
    ("for_loop_vars", "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", None, None),
    ("for_previtem_nextitem", "{% for x in xs %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %}", None, None),
    ("for_dict", "{% for k in d %}{{ k }}{% endfor %}", None, None),
    ("for_items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", None, None),
    ("for_items_filter", "{% for k, v in d|items %}{{ k }}={{ v }};{% endfor %}", None, None),
    ("for_unpack_lists", "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}", {}, None),
    ("for_unpack_error", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}, "too many values to unpack"),
    ("for_string", "{% for c in 'abc' %}{{ c }}-{% endfor %}", {}, None),
    ("for_filter", "{% for x in xs if x > 1 %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}", None, None),
    ("for_break", "{% for x in [1, 2, 3, 4] %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}, None),
    ("for_continue", "{% for x in [1, 2, 3, 4] %}{% if x is even %}{% continue %}{% endif %}{{ x }}{% endfor %}", {}, None),
    ("for_nested_loop", "{% for a in [1, 2] %}{% for b in [1, 2] %}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}", {}, None),
    ("for_scope", "{% set c = 0 %}{% for x in xs %}{% set c = c + 1 %}{{ c }}{% endfor %}{{ c }}", None, None),
    ("for_scope_iteration", "{% for x in xs %}[{{ c }}]{% set c = x %}{% endfor %}", None, None),
    ("for_loop_var_shadow", "{% set x = 'outer' %}{% for x in xs %}{% endfor %}{{ x }}", None, None),
    ("for_recursive", "{% for item in tree recursive %}{{ item.name }}{% if item.children %}({{ loop(item.children) }}){% endif %}{% endfor %}",
     {"tree": [{"name": "a", "children": [{"name": "b"}, {"name": "c", "children": [{"name": "d"}]}]}, {"name": "e"}]}, None),
    ("for_recursive_depth", "{% for item in tree recursive %}{{ loop.depth }}{% if item.c %}{{ loop(item.c) }}{% endif %}{% endfor %}",
     {"tree": [{"c": [{"c": [{}]}]}]}, None),
    ("for_range", "{% for i in range(3) %}{{ i }}{% endfor %}|{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}|{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}", {}, None),
    ("for_undefined", "{% for x in missing %}x{% else %}empty{% endfor %}", {}, None),
    ("for_not_iterable", "{% for x in 5 %}{% endfor %}", {}, "object is not iterable"),
    ("loop_cycle", "{% for x in xs %}{{ loop.cycle('odd', 'even') }} {% endfor %}", None, None),
    ("loop_outside", "[{{ loop }}]", {}, None),
    # --- set and namespace ---
    ("set", "{% set x = 5 %}{% set y = x * 2 %}{{ y }}", {}, None),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}", {}, None),
    ("set_tuple_literal", "{% set t = 1, 2 %}{{ t }}", {}, None),
    ("set_block", "{% set x %}Hello {{ 'World' }}{% endset %}[{{ x }}]", {}, None),
    ("set_block_filter", "{% set x | upper %}hello{% endset %}{{ x }}", {}, None),
    ("set_in_if", "{% if true %}{% set x = 1 %}{% endif %}{{ x }}", {}, None),
    ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for x in xs %}{% set ns.count = ns.count + x %}{% if x == 1 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}", None, None),
    ("namespace_print", "{% set ns = namespace(a=1) %}{{ ns }}", {}, None),
    ("namespace_missing_attr", "{% set ns = namespace() %}[{{ ns.x }}]", {}, None),
    ("namespace_from_dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}", {}, None),
    ("set_attr_non_namespace", "{% set d.x = 1 %}", None, "non-namespace object"),
    # --- macros and call ---
    ("macro", "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet(greeting='Yo', name='Cy') }}", {}, None),
    ("macro_missing_arg", "{% macro m(a, b) %}[{{ a }}|{{ b }}]{% endmacro %}{{ m(1) }}", {}, None),
    ("macro_sees_later_globals", "{% macro m() %}{{ c }}{% endmacro %}{% set c = 5 %}{{ m() }}", {}, None),
    ("macro_recursive", "{% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * fact(k - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}, None),
    ("macro_whitespace", "{% macro m(x) %}\n  <{{ x }}>\n{% endmacro %}\n{{ m(1) }}{{ m(2) }}", {}, None),
    ("macro_varargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}", {}, None),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", {}, None),
    ("call_block_args", "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}[{{ x }}]{% endcall %}", {}, None),
    ("filter_block", "{% filter upper %}hello {{ 'you' }}{% endfilter %}", {}, None),
    ("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}, None),
    ("generation_block", "{% generation %}reply{% endgeneration %}", {}, None),
    # --- filters ---
    ("filter_trim", "[{{ s|trim }}] [{{ 'xxhixx'|trim('x') }}] [{{ '\\n\\t a \\u3000'|trim }}]", None, None),
    ("filter_case", "{{ 'hELLO wORLD'|upper }} {{ 'HeLLo'|lower }} {{ 'hello wORLD'|capitalize }} {{ 'hello-world foo(bar) o\\'neil'|title }}", {}, None),
    ("filter_case_unicode", "{{ uni|upper }} {{ uni|title }} {{ 'ÉCOLE'|lower }}", None, None),
    ("filter_length", "{{ xs|length }} {{ 'héllo'|length }} {{ d|count }} {{ missing|length }}", None, None),
    ("filter_join", "{{ xs|join }} {{ xs|join(', ') }} {{ users|join('/', attribute='name') }}", None, None),
    ("filter_default", "{{ missing|default('dflt') }} {{ none|default('x') }} {{ ''|default('e', true) }} {{ 0|d('z', boolean=true) }} {{ 'v'|d('w') }} [{{ missing|default }}]", {}, None),
    ("filter_first_last", "{{ xs|first }} {{ xs|last }} {{ 'abc'|first }} {{ 'abc'|last }} [{{ empty|first }}]", None, None),
    ("filter_list", "{{ 'ab'|list }} {{ d|list }} {{ (1, 2)|list }}", None, None),
    ("filter_items_dictsort", "{{ d|items|list }} {{ d|dictsort }} {{ d|dictsort(reverse=true) }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }}", None, None),
    ("filter_dictsort_case", "{{ {'b': 1, 'A': 2, 'a': 3}|dictsort }} {{ {'b': 1, 'A': 2, 'a': 3}|dictsort(true) }}", {}, None),
    ("filter_sort", "{{ xs|sort }} {{ xs|sort(reverse=true) }} {{ words|sort }} {{ words|sort(case_sensitive=true) }}", None, None),
    ("filter_sort_attribute", "{{ users|sort(attribute='age')|map(attribute='name')|join(',') }} {{ users|sort(attribute='name')|map(attribute='name')|join(',') }}", None, None),
    ("filter_unique", "{{ [1, 2, 1, 3, 2]|unique|list }} {{ ['a', 'A', 'b']|unique|list }} {{ ['a', 'A']|unique(true)|list }}", {}, None),
    ("filter_reverse", "{{ xs|reverse|list }} {{ 'abc'|reverse }}", None, None),
    ("filter_sum_min_max", "{{ xs|sum }} {{ xs|sum(start=10) }} {{ users|sum(attribute='age') }} {{ xs|min }} {{ xs|max }} {{ words|min }} {{ words|max }} {{ users|max(attribute='age') }}", None, None),
    ("filter_map", "{{ users|map(attribute='name')|list }} {{ xs|map('string')|list }} {{ words|map('upper')|join(',') }} {{ users|map(attribute='admin', default='?')|list }}", None, None),
    ("filter_select_reject", "{{ [0, 1, 2, 3, 4]|select('odd')|list }} {{ [0, 1, 2]|reject('odd')|list }} {{ [0, 1, '', 'a']|select|list }} {{ xs|select('gt', 1)|list }}", {}, None),
    ("filter_selectattr", "{{ users|selectattr('admin')|map(attribute='name')|list }} {{ users|rejectattr('admin')|map(attribute='name')|list }} {{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }}", None, None),
    ("filter_selectattr_defined", "{{ users|selectattr('admin', 'defined')|list|length }} {{ users|selectattr('admin', 'undefined')|map(attribute='name')|first }}", None, None),
    ("filter_selectattr_in", "{{ messages|selectattr('role', 'in', ['system', 'assistant'])|list|length }}", None, None),
    ("filter_tojson", "{{ d|tojson }} {{ 'a\"b\\nc'|tojson }} {{ uni|tojson }} {{ none|tojson }} {{ [1.0, true, 2]|tojson }}", None, None),
    ("filter_tojson_indent", "{{ tools|tojson(indent=4) }}", None, None),
    ("filter_tojson_indent_nested_empty", "{{ {'a': [], 'b': {}, 'c': [1]}|tojson(indent=2) }}", {}, None),
    ("filter_tojson_args", "{{ d|tojson(sort_keys=true) }} {{ d|tojson(separators=(',', ':')) }} {{ uni|tojson(ensure_ascii=true) }}", None, None),
    ("filter_tojson_undefined", "{{ missing|tojson }}", {}, "is not JSON serializable"),
    ("filter_string", "{{ 1|string }} {{ none|string }} {{ [1, 'a']|string }} [{{ missing|string }}]", {}, None),
    ("filter_int_float", "{{ '42'|int }} {{ '3.7'|int }} {{ 'x'|int }} {{ 'x'|int(5) }} {{ 3.9|int }} {{ '0x1A'|int(0, 16) }} {{ '2.5'|float }} {{ 'x'|float }} {{ 3|float }} {{ true|int }}", {}, None),
    ("filter_abs_round", "{{ -3|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 3|round }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }}", {}, None),
    ("filter_replace", "{{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'ab'|replace('', '-') }}", {}, None),
    ("filter_indent", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent('> ', blank=true) }}", {}, None),
    ("filter_center_wordcount", "[{{ 'ab'|center(7) }}] [{{ 'abc'|center(6) }}] {{ 'Hello, big world! 2x'|wordcount }}", {}, None),
    ("filter_batch_slice", "{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 0)|list }} {{ [1, 2, 3, 4, 5]|slice(2)|list }}", {}, None),
    ("filter_safe_escape", "{{ '<b>'|safe }} {{ '<a href=\"x\">&\\''|e }} {{ '<i>'|escape }}", {}, None),
    ("filter_truncate", "{{ 'hello world foo bar'|truncate(9) }} {{ 'hello world foo bar'|truncate(9, true) }} {{ 'short'|truncate(9) }} {{ 'a very long sentence indeed here'|truncate(12, false, '..', 0) }}", {}, None),
    ("filter_groupby", "{% for g in users|groupby('admin', default=false) %}{{ g.grouper }}:{{ g.list|map(attribute='name')|join(',') }};{% endfor %}", None, None),
    ("filter_attr", "{{ (d|attr('items'))()|list }} [{{ d|attr('a') }}]", None, None),
    ("filter_format", "{{ '%s-%s'|format('a', 'b') }} {{ '%(x)s'|format(x=1) }}", {}, None),
    ("filter_chain", "{{ messages|map(attribute='role')|unique|join(', ')|upper }}", None, None),
    ("filter_unknown", "{{ 1|nosuchfilter }}", {}, "No filter named 'nosuchfilter'"),
    ("filter_unknown_untaken", "{% if false %}{{ 1|nosuchfilter }}{% endif %}ok", {}, None),
    ("markup_escape_once", "{{ '<a>'|e|e }} {{ '<a>'|forceescape|forceescape }} {{ '<b>'|safe + '<i>' }} {{ '<i>' + '<b>'|e }} {{ '<b>'|safe ~ '<i>' }}", {}, None),
    ("filter_pprint", "{{ [1, 'a']|pprint }}", {}, None),
    ("filter_striptags", "{{ '<p>Hello <b>you</b></p>'|striptags }}", {}, None),
    # --- tests ---
    ("test_defined", "{{ missing is defined }} {{ xs is defined }} {{ missing is undefined }} {{ nothing is defined }}", None, None),
    ("test_none", "{{ nothing is none }} {{ 0 is none }} {{ missing is none }}", None, None),
    ("test_types", "{{ 'a' is string }} {{ 1 is string }} {{ d is mapping }} {{ xs is mapping }} {{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ 'x' is number }}", None, None),
    ("test_int_float_bool", "{{ 1 is integer }} {{ 1.0 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ 1 is boolean }} {{ true is true }} {{ 1 is true }} {{ false is false }}", {}, None),
    ("test_iterable_sequence", "{{ xs is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ d is iterable }} {{ xs is sequence }} {{ 5 is sequence }} {{ missing is iterable }}", None, None),
    ("test_numbers", "{{ 3 is odd }} {{ 3 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }}", {}, None),
    ("test_compare", "{{ 1 is eq 1 }} {{ 1 is equalto 2 }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 1 is gt 2 }} {{ 2 is ge 2 }} {{ 2 is le 1 }} {{ xs|select('==', 1)|list }} {{ xs|reject('<', 2)|list }} {{ 1 is greaterthan 0 }} {{ 1 is lessthan 0 }}", {}, None),
    ("test_in", "{{ 2 is in xs }} {{ 'x' is in 'xyz' }} {{ 9 is in xs }}", None, None),
    ("test_not", "{{ missing is not defined }} {{ 1 is not string }} {{ not 1 is string }}", {}, None),
    ("test_case", "{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 'Abc' is lower }}", {}, None),
    ("test_callable_sameas", "{{ range is callable }} {{ 1 is callable }} {{ none is sameas none }} {{ true is sameas true }}", {}, None),
    ("test_filter_test", "{{ 'upper' is filter }} {{ 'nope' is filter }} {{ 'odd' is test }}", {}, None),
    ("test_unknown", "{{ 1 is nosuchtest }}", {}, "No test named 'nosuchtest'"),
    ("test_in_condition", "{% if messages[0].role == 'system' and messages[0].content is string %}sys{% endif %}", None, None),
    # --- string methods ---
    ("str_startswith_endswith", "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }} {{ 'hello'.startswith('l', 2) }}", {}, None),
    ("str_split", "{{ 'a b  c '.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a b c'.split(' ', 1) }} {{ '  '.split() }} {{ 'a\\nb\\tc'.split() }} {{ 'a,b,c'.rsplit(',', 1) }}", {}, None),
    ("str_split_maxsplit_ws", "{{ '  a b  c  '.split(maxsplit=1) }} {{ '  a b  c  '.rsplit(None, 1) }}", {}, None),
    ("str_strip", "[{{ s.strip() }}] [{{ s.lstrip() }}] [{{ s.rstrip() }}] [{{ 'xxaxx'.strip('x') }}] [{{ '<|a|>'.rstrip('|>') }}]", None, None),
    ("str_case", "{{ 'Hello'.upper() }} {{ 'Hello'.lower() }} {{ 'hello world'.title() }} {{ 'hello WORLD'.capitalize() }} {{ \"they're bill's\".title() }} {{ 'Hi'.swapcase() }}", {}, None),
    ("str_replace_find_count", "{{ 'banana'.replace('a', 'o') }} {{ 'banana'.replace('a', 'o', 1) }} {{ 'banana'.find('n') }} {{ 'banana'.rfind('n') }} {{ 'banana'.find('z') }} {{ 'banana'.count('a') }} {{ 'héllo'.find('l') }}", {}, None),
    ("str_index_error", "{{ 'abc'.index('z') }}", {}, "substring not found"),
    ("str_format", "{{ '{} and {}'.format('a', 'b') }} {{ '{0}{1}{0}'.format('x', 'y') }} {{ '{name}!'.format(name='Ann') }} {{ '{:>5}|{:<5}|{:^5}'.format('a', 'b', 'c') }} {{ '{:.2f}'.format(3.14159) }} {{ '{{}}'.format() }}", {}, None),
    ("str_format_numbers", "{{ '{:05d}'.format(42) }} {{ '{:,}'.format(1234567) }} {{ '{:x}'.format(255) }} {{ '{!r}'.format('a') }} {{ '{:.1%}'.format(0.25) }}", {}, None),
    ("str_join", "{{ ', '.join(words) }} {{ '-'.join('abc') }}", None, None),
    ("str_join_error", "{{ ', '.join(xs) }}", None, "expected str instance, int found"),
    ("str_misc", "{{ 'abc'.center(7, '*') }} {{ '5'.zfill(3) }} {{ 'ab'.ljust(4, '.') }}| {{ 'ab'.rjust(4) }} {{ 'Prefix-x'.removeprefix('Prefix-') }} {{ 'a.b.c'.partition('.') }} {{ 'a\\nb\\r\\nc'.splitlines() }}", {}, None),
    ("str_is", "{{ '123'.isdigit() }} {{ 'abc'.isalpha() }} {{ 'ab1'.isalnum() }} {{ '  '.isspace() }} {{ 'ABC'.isupper() }} {{ 'abc'.islower() }} {{ ''.isdigit() }}", {}, None),
    ("str_method_on_content", "{{ messages[1].content.strip().lower().split(' ')|join('_') }}", None, None),
    ("str_attr_missing", "[{{ 'abc'.nosuch }}]", {}, None),
    # --- list and dict methods ---
    ("dict_methods", "{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 9) }}", None, None),
    ("dict_get_on_message", "{% for m in messages %}{{ m.get('name', 'anon') }}{% endfor %}", None, None),
    ("list_methods", "{{ xs.index(1) }} {{ xs.count(3) }} {{ [1, 1, 2].count(1) }}", None, None),
    ("list_append_refused", "{% set _ = xs.append(4) %}", None, "access to attribute 'append' of 'list' object is unsafe"),
    ("dict_update_refused", "{{ d.update({'x': 1}) }}", None, "access to attribute 'update' of 'dict' object is unsafe"),
    ("list_append_print", "[{{ xs.append }}]", None, None),
    ("dict_literal", "{% set m = {'role': 'user', 'content': 'x'} %}{{ m.role }}{{ m|length }}", {}, None),
    ("dict_global", "{{ dict(a=1, b='x') }} {{ dict({'c': 3}) }}", {}, None),
    ("list_of_tuples", "{% for a, b in [('x', 1), ('y', 2)] %}{{ a }}{{ b }}{% endfor %}", {}, None),
    # --- globals ---
    ("raise_exception", "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}", None, "Conversation roles must alternate"),
    ("strftime_now", "{{ strftime_now('%Y-%m-%d %H:%M:%S') }} {{ strftime_now('%d %B %Y') }} {{ strftime_now('%b %a %A %j') }}", {}, None),
    ("range_errors", "{{ range(1, 2, 0) }}", {}, "must not be zero"),
    ("joiner", "{% set j = joiner(', ') %}{% for x in xs %}{{ j() }}{{ x }}{% endfor %}", None, None),
    ("call_undefined", "{{ nosuch() }}", {}, "'nosuch' is undefined"),
    ("call_non_callable", "{{ n() }}", None, "object is not callable"),
    # --- chat-template shapes ---
    ("chatml", "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}", None, None),
    ("llama3_like", "{{- bos_token }}\n{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content']|trim %}\n    {%- set messages = messages[1:] %}\n{%- else %}\n    {%- set system_message = '' %}\n{%- endif %}\n{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}\n{{- system_message }}\n{{- '<|eot_id|>' }}\n{%- for message in messages %}\n    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n", None, None),
    ("qwen3_like_reverse_scan", "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}\n{%- for message in messages[::-1] %}\n    {%- set index = (messages|length - 1) - loop.index0 %}\n    {%- if ns.multi_step_tool and message.role == \"user\" and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}\n        {%- set ns.multi_step_tool = false %}\n        {%- set ns.last_query_index = index %}\n    {%- endif %}\n{%- endfor %}\n{{- ns.last_query_index }}", None, None),
    ("think_split", "{%- set content = '<think>\\nhmm\\n</think>\\n\\nAnswer' %}{%- if '</think>' in content %}{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}[{{ reasoning }}][{{ content }}]", {}, None),
    ("tools_json_lines", "{%- for tool in tools %}\n{{- '\\n' }}{{- tool | tojson }}\n{%- endfor %}", None, None),
    ("alternation_check", "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% endfor %}", {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}, "Conversation roles must alternate"),
    ("content_list_parts", "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}{% if p.type == 'text' %}{{ p.text }}{% elif p.type == 'image' %}<img>{% endif %}{% endfor %}{% endif %}|{% endfor %}",
     {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]}, {"role": "assistant", "content": "A cat."}]}, None),
    ("tool_calls", "{% for m in messages %}{% if m.tool_calls is defined %}{% for tc in m.tool_calls %}{{ tc.function.name }}({{ tc.function.arguments|tojson }}){% endfor %}{% endif %}{% endfor %}",
     {"messages": [{"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 1, "y": "é"}}}]}]}, None),
    ("message_content_none", "[{{ messages[0].content }}] {{ messages[0].content is none }}", {"messages": [{"role": "assistant", "content": None}]}, None),
    ("enable_thinking_kwarg", "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}x", {"enable_thinking": False}, None),
    ("unicode_passthrough", "{{ uni }}|{{ uni|length }}|{{ uni[0:3] }}", None, None),
    ("emoji", "{{ '😀x'|length }} {{ '😀x'[0] }} {{ ['😀'] }}", {}, None),
    ("control_chars_repr", "{{ ['\\x01', '\\x7f', '\\u200b', '\\u00a0'] }}", {}, None),
    # --- more Python edge semantics ---
    ("loop_changed", "{% for x in [1, 1, 2, 2, 1] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}", {}, None),
    ("cycler", "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}", {}, None),
    ("int_dict_keys", "{{ {1: 'a', 2: 'b'}[1] }} {{ {1: 'a'} }} {{ {1: 'a', 1.0: 'b'} }} {{ {true: 1} }}", {}, None),
    ("none_attribute", "[{{ nothing.x }}]", None, None),
    ("none_attribute_chain", "{{ nothing.x.y }}", None, "'None' has no attribute 'x'"),
    ("str_repeat_edge", "[{{ 'ab' * 0 }}][{{ 'ab' * -1 }}][{{ 'a' * true }}]", {}, None),
    ("float_overflow", "{{ 1e300 * 1e10 }} {{ -1e300 * 1e10 }}", {}, None),
    ("percent_none", "{{ '%s|%s' % (none, true) }} {{ '%5.1f|%-6d|%+d' % (3.14159, 42, 5) }}", {}, None),
    ("unpack_strings", "{% for a, b in ['ab', 'cd'] %}{{ b }}{{ a }}{% endfor %}", {}, None),
    ("select_in", "{{ [1, 2, 3]|select('in', [1, 3])|list }} {{ users|selectattr('name', 'in', 'ann bob')|map(attribute='age')|list }}", None, None),
    ("default_chain", "{% set x = x | default(1) %}{{ x }} {{ (missing or 'b') }} {{ missing|default(none) is none }}", {}, None),
    ("length_minus", "{{ (messages | length) - 1 }} {{ messages|length - 1 }}", None, None),
    ("curly_literals", "{{ '{{' }} {{ '}}' }} {{ '{%' ~ '%}' }}", {}, None),
    ("string_compare_unicode", "{{ 'é' > 'z' }} {{ 'Z' < 'a' }} {{ ['b'] > ['a', 'z'] }}", {}, None),
    ("nbsp_split", "{{ 'a\u00a0b\u2003c'.split() }} {{ '\u00a0x\u00a0'.strip() }}", {}, None),
    ("divisibleby_zero", "{{ 3 is divisibleby 0 }}", {}, "modulo by zero"),
    ("both_side_trim", "a\n  {{- 'x' -}}  \nb", {}, None),
    ("messages_join", "{{ messages | map(attribute='content') | join('\n') }}", None, None),
    ("nested_namespace_in_macro", "{% macro m(ns) %}{% set ns.v = ns.v + 1 %}{% endmacro %}{% set ns = namespace(v=0) %}{{ m(ns) }}{{ m(ns) }}{{ ns.v }}", {}, None),
    ("set_in_macro_is_local", "{% set x = 1 %}{% macro m() %}{% set x = 2 %}{{ x }}{% endmacro %}{{ m() }}{{ x }}", {}, None),
    ("loop_in_macro_not_visible", "{% macro m() %}[{{ loop }}]{% endmacro %}{% for i in [1] %}{{ m() }}{% endfor %}", {}, None),
    ("if_expression_tuple", "{% if 1, 2 %}t{% endif %}", {}, None),
    ("output_tuple", "{{ 1, 'a' }}", {}, None),
    ("getitem_tuple_key", "{{ {(1, 2): 'x'}[(1, 2)] }} {{ {(1, 2): 'x'}[1, 2] }}", {}, None),
    ("list_compare_types", "{{ [1] == (1,) }} {{ [1, [2]] == [1, [2]] }} {{ {'a': [1]} == {'a': [1]} }}", {}, None),
    ("capitalize_unicode", "{{ 'élan VITAL'|capitalize }} {{ 'ǆemal'|title }}", {}, None),
    ("sum_floats", "{{ [0.1, 0.2, 0.3]|sum }} {{ [1, 2.5]|sum }}", {}, None),
    ("round_negative_precision", "{{ 1234.5|round(-2) }} {{ 15|round(-1) }}", {}, None),
    ("tojson_float_int_keys", "{{ {1: 2.0, 'x': 1e20, 'y': -0.0}|tojson }}", {}, None),
    ("tojson_nested_indent_string", "{{ {'a': [1, {'b': none}]}|tojson(indent='\t') }}", {}, None),
    ("tojson_control_chars", "{{ 'a\x01b\x7fc\u2028d'|tojson }}", {}, None),
    ("index_float_error", "{{ xs[1.0] }}", None, None),
    ("attr_on_int", "[{{ n.real }}]", None, None),
    ("call_macro_too_many_kw", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(a=1) }}", {}, None),
    ("macro_default_references_param", "{% macro m(a, b=a * 2) %}{{ a }}{{ b }}{% endmacro %}{{ m(3) }}", {}, None),
    ("macro_caller_undefined", "{% macro m() %}{{ caller is defined }}{% endmacro %}{{ m() }}", {}, None),
    # --- found by differential testing against jinja2 ---
    ("undefined_is_callable_and_sequence", "{{ missing is callable }} {{ missing is sequence }} {{ missing|max is callable }}", {}, None),
    ("string_odd_divisible", "{{ '%s' is odd }} {{ '%d' is even }} {{ '%d' is divisibleby 3 }}", {}, None),
    ("string_even_error", "{{ 'x' is even }}", {}, "not all arguments converted"),
    ("truncate_list", "{{ words|truncate(5) }}", None, None),
    ("truncate_int_error", "{{ 5|truncate }}", {}, "has no len()"),
    ("unique_unhashable", "{{ users|unique|list }}", None, "unhashable type: 'dict'"),
    ("float_of_undefined", "{{ d.zz|float }}", None, "'dict object' has no attribute 'zz'"),
    ("in_dict_unhashable", "{{ xs in d }}", None, "unhashable type: 'list'"),
    ("percent_list_arg", "{{ 'abc' % [] }} {{ 'abc' % {} }}", {}, None),
    ("map_on_false", "{{ false|map('string')|list }} {{ none|select|list }} {{ 0|reject|list }}", {}, None),
    ("slice_of_int_variable", "{{ n[1:] }}", None, "'int' object is not subscriptable"),
    ("slice_of_dict_variable", "{{ d[::-1] }}", None, "unhashable type: 'slice'"),
    ("slice_of_literal_folded", "[{{ 1[1:] }}]", {}, None),
    ("title_sharp_s", "{{ 'ßa'.title() }} {{ 'ßa'.capitalize() }} {{ 'ßa'|title }} {{ 'ßa'|capitalize }}", {}, None),
    # --- syntax errors ---
    ("syntax_unclosed_if", "{% if x %}\nabc", {}, "Unexpected end of template"),
    ("syntax_unclosed_variable", "line1\n{{ x", {}, "unexpected end of template"),
    ("syntax_bad_expression", "{{ 1 + }}", {}, "unexpected 'end of print statement'"),
    ("syntax_unknown_tag", "a\nb\n{% do x %}", {}, "Encountered unknown tag 'do'"),
    ("syntax_unexpected_endfor", "{% if true %}{% endfor %}", {}, "Encountered unknown tag 'endfor'"),
    ("syntax_missing_comment_end", "{# abc", {}, "Missing end of comment tag"),
    ("syntax_unbalanced", "{{ (1 }}", {}, "unexpected '}'"),
    ("syntax_bad_close", "{{ [1) }}", {}, "unexpected ')'"),
    ("syntax_for_without_in", "{% for x xs %}{% endfor %}", {}, "expected token 'in', got 'xs'"),
    ("syntax_set_const", "{% set true = 1 %}", {}, "can't assign to"),
    ("syntax_missing_raw_end", "{% raw %}abc", {}, "Missing end of raw directive"),
    ("syntax_default_order", "{% macro m(a=1, b) %}{% endmacro %}", {}, "non-default argument follows default argument"),
    ("syntax_chained_is", "{{ 1 is odd is even }}", {}, "You cannot chain multiple tests with is"),
    ("syntax_unexpected_char", "{{ 1 ? 2 }}", {}, "unexpected char '?'"),
]


def main():
    env = environment()
    out = []
    problems = []
    for name, template, context, error in CASES:
        # A copy: a filter may change its argument in place (indent appends to a list).
        ctx = copy.deepcopy(CTX if context is None else context)
        case = {"name": name, "template": template, "context": ctx}
        try:
            tmpl = env.from_string(template)
            result = tmpl.render(**ctx)
        except jinja2.TemplateSyntaxError as e:
            if error is None or error not in str(e):
                problems.append(f"{name}: jinja2 raised {type(e).__name__}: {e}")
                continue
            case["error"] = error
            case["error_line"] = e.lineno
            out.append(case)
            continue
        except Exception as e:  # the render errors jinja2 and Python raise
            if error is None or error not in str(e):
                problems.append(f"{name}: jinja2 raised {type(e).__name__}: {e}")
                continue
            case["error"] = error
            out.append(case)
            continue
        if error is not None:
            problems.append(f"{name}: jinja2 rendered {result!r}, expected an error {error!r}")
            continue
        case["expected"] = result
        out.append(case)
    if problems:
        sys.exit("\n".join(problems))
    json.dump({"generator": "scripts/jinja_reference.py", "jinja2": jinja2.__version__,
               "now": NOW, "timezone": "UTC", "cases": out}, sys.stdout, ensure_ascii=False,
              indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
