// A local check, not a test: renders the templates of a goldens file that
// scripts/chat_template_goldens.py --extra DIR wrote (each with its text) with loom, and counts
// how many cases agree with jinja2. scripts/chat_template_extra_check.sh runs both.
//
// Usage: chat_template_check GOLDENS.json [--verbose]
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <optional>
#include <string>

#include "support/chat_parity.h"

namespace chat = loom::test::chat;
using json = nlohmann::ordered_json;  // keys in the order of the file, as Python dicts keep them

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s GOLDENS.json [--verbose]\n", argv[0]);
    return 2;
  }
  const bool verbose = argc > 2 && std::strcmp(argv[2], "--verbose") == 0;
  chat::use_utc();
  const json goldens = chat::read_json(argv[1]);
  const json corpus =
      chat::read_json(std::string(LOOM_SOURCE_DIR) + "/tests/data/chat/conversations.json");
  const std::time_t now = goldens["now_epoch"].get<std::time_t>();
  size_t total = 0, agree = 0, templates_ok = 0, parse_fail = 0;
  for (const auto& [name, g] : goldens["templates"].items()) {
    std::optional<loom::jinja::Template> tmpl;
    if (g.contains("syntax_error")) {  // jinja2 rejects the template: loom must too
      bool threw = false;
      try {
        tmpl.emplace(g["source"].get<std::string>(), name);
      } catch (const loom::Error&) {
        threw = true;
      }
      ++total;
      agree += threw;
      templates_ok += threw;
      std::printf("%-50s jinja2: syntax error; loom: %s\n", name.c_str(),
                  threw ? "syntax error" : "parses it");
      continue;
    }
    try {
      tmpl.emplace(g["source"].get<std::string>(), name);
    } catch (const std::exception& e) {
      ++parse_fail;
      total += g["cases"].size();
      std::printf("%-50s parse error: %s\n", name.c_str(), e.what());
      continue;
    }
    // A case with its own "context" (--extra-cases) renders with it; the others are the corpus'.
    const bool own = !g["cases"].empty() && g["cases"][0].contains("context");
    const auto cases = own ? decltype(chat::cases_for(corpus, json::object()))(
                                 g["cases"].size(), {&g["cases"][0], &g["cases"][0]})
                           : chat::cases_for(corpus, json::object());
    if (cases.size() != g["cases"].size()) {
      std::fprintf(stderr, "%s: the goldens are of another corpus\n", name.c_str());
      return 2;
    }
    size_t ok = 0;
    std::string first;
    for (size_t i = 0; i < cases.size(); ++i) {
      const json ctx =
          own ? g["cases"][i]["context"]
              : chat::context_for(corpus, *cases[i].first, *cases[i].second, g["special_tokens"]);
      const std::string diff = chat::check_case(*tmpl, ctx, g["cases"][i], now);
      if (diff.empty()) {
        ++ok;
      } else if (first.empty() || verbose) {
        first = own ? diff
                    : (*cases[i].first)["name"].get<std::string>() + "/" +
                          (*cases[i].second)["name"].get<std::string>() + ": " + diff;
        if (verbose) std::printf("  %s %s\n", name.c_str(), first.c_str());
      }
    }
    total += cases.size();
    agree += ok;
    templates_ok += ok == cases.size();
    std::printf("%-50s %3zu/%3zu%s%s\n", name.c_str(), ok, cases.size(), first.empty() ? "" : "  ",
                verbose ? "" : first.substr(0, 300).c_str());
  }
  std::printf(
      "%zu of %zu cases agree; %zu of %zu templates agree on every case; %zu do not parse\n", agree,
      total, templates_ok, goldens["templates"].size(), parse_fail);
  return agree == total ? 0 : 1;
}
