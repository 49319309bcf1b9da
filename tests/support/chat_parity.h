// Rendering a chat template corpus case with loom::jinja::Template and comparing it with what
// jinja2 gave (scripts/chat_template_goldens.py): shared by tests/test_chat_template_parity.cpp
// and the local checker tests/chat_template_check.cpp.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "jinja/template.h"
#include "loom/error.h"

namespace loom::test::chat {

using json = nlohmann::ordered_json;  // keys in the order of the file, as Python dicts keep them
namespace fs = std::filesystem;

inline json read_json(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  return json::parse(in);
}

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// strftime_now() formats local time, as Python's datetime.now() does; the goldens were made
// with TZ=UTC.
inline void use_utc() {
  setenv("TZ", "UTC", 1);
  tzset();
}

// The special tokens apply_chat_template gives the template (transformers 5's
// special_tokens_map): the named ones tokenizer_config.json sets, as strings (an AddedToken
// object gives its content).
inline json special_tokens_of(const json& config) {
  json tokens = json::object();
  for (const char* name : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                           "cls_token", "mask_token"}) {
    auto it = config.find(name);
    if (it == config.end()) continue;
    if (it->is_string()) tokens[name] = *it;
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      tokens[name] = (*it)["content"];
    }
  }
  return tokens;
}

struct TemplateSource {
  std::string source;
  std::string origin;
  json special_tokens;
};

// The template a templates.json entry names: a tokenizer_config.json of the shared fixtures or
// of the tokenizer cache (its chat_template, or the named one of a list), or a file of the repo.
// Throws std::runtime_error naming the missing file.
inline TemplateSource load_source(const json& entry, const fs::path& shared_dir,
                                  const fs::path& cache_dir, const fs::path& source_dir) {
  const std::string where = entry.at("where");
  if (where == "repo") {
    const fs::path file = source_dir / entry.at("file").get<std::string>();
    return {read_text(file), file.string(), entry.value("special_tokens", json::object())};
  }
  const fs::path base = where == "fixtures" ? shared_dir / "fixtures" / "tokenizers" : cache_dir;
  const fs::path file = base / entry.at("dir").get<std::string>() / "tokenizer_config.json";
  if (!fs::exists(file)) {
    throw std::runtime_error(file.string() + " is missing" +
                             (where == "cache"
                                  ? "; run scripts/fetch_test_tokenizers.sh " + cache_dir.string()
                                  : std::string()));
  }
  const json config = read_json(file);
  const json& tmpl = config.at("chat_template");
  TemplateSource s{"", file.string(), special_tokens_of(config)};
  if (tmpl.is_string()) {
    s.source = tmpl;
    return s;
  }
  const std::string wanted = entry.value("template", "default");
  for (const json& t : tmpl) {
    if (t.at("name") == wanted) {
      s.source = t.at("template");
      s.origin += " (" + wanted + ")";
      return s;
    }
  }
  throw std::runtime_error(file.string() + " has no chat template named " + wanted);
}

// The (conversation, option) pairs of a template, in the order of the goldens: every option
// that applies to each conversation, of those the template entry lists (all when none).
inline std::vector<std::pair<const json*, const json*>> cases_for(const json& corpus,
                                                                  const json& entry) {
  std::vector<std::pair<const json*, const json*>> out;
  auto listed = [](const json& list, const json& name) {
    for (const json& n : list) {
      if (n == name) return true;
    }
    return false;
  };
  for (const json& conv : corpus.at("conversations")) {
    if (entry.contains("conversations") && !listed(entry["conversations"], conv.at("name"))) {
      continue;
    }
    for (const json& opt : corpus.at("options")) {
      if (opt.contains("conversations") && !listed(opt["conversations"], conv.at("name"))) {
        continue;
      }
      out.emplace_back(&conv, &opt);
    }
  }
  return out;
}

// The variables apply_chat_template renders with: messages, tools and documents (null when not
// given; ENTRY may name defaults), add_generation_prompt, the special tokens, and the option's
// keyword arguments over them.
inline json context_for(const json& corpus, const json& conv, const json& opt,
                        const json& special_tokens, const json& entry = json::object()) {
  json ctx = special_tokens;
  auto named = [&](const char* key) -> json {
    const json* name = conv.contains(key)    ? &conv[key]
                       : entry.contains(key) ? &entry[key]
                                             : nullptr;
    return name ? corpus.at(key).at(name->get<std::string>()) : json();
  };
  ctx["messages"] = conv.at("messages");
  ctx["tools"] = named("tools");
  ctx["documents"] = named("documents");
  ctx["add_generation_prompt"] = opt.at("add_generation_prompt");
  if (opt.contains("kwargs")) {
    for (const auto& [k, v] : opt["kwargs"].items()) ctx[k] = v;
  }
  return ctx;
}

// TEXT with control characters escaped, for failure messages.
inline std::string escaped(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Where GOT first differs from WANT, with 60 bytes of context before and after.
inline std::string first_difference(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  const size_t from = i > 60 ? i - 60 : 0;
  std::ostringstream s;
  s << "first difference at byte " << i << " (jinja2 gave " << want.size() << " bytes, loom "
    << got.size() << ")\n  jinja2: ..." << escaped(want.substr(from, i - from)) << " >>>"
    << escaped(want.substr(i, 60)) << "\n  loom:   ..." << escaped(got.substr(from, i - from))
    << " >>>" << escaped(got.substr(i, 60));
  return s.str();
}

// Renders one case and compares it with its golden (an "output", a "raises" message of the
// template's raise_exception, or an "error" jinja2 hit on this input). Empty when loom agrees,
// else what differs.
inline std::string check_case(const loom::jinja::Template& tmpl, const json& context,
                              const json& golden, std::time_t now) {
  loom::jinja::RenderOptions options;
  options.now = now;
  std::string got;
  try {
    got = tmpl.render(context, options);
  } catch (const loom::Error& e) {
    if (golden.contains("output")) return std::string("loom threw: ") + e.what();
    if (golden.contains("raises")) {
      const std::string want = golden["raises"];
      if (std::string(e.what()).find(want) == std::string::npos) {
        return "loom threw \"" + std::string(e.what()) + "\", not the template's message \"" +
               want + "\"";
      }
    }
    return "";  // "error": jinja2 failed too; loom says so with a loom::Error
  } catch (const std::exception& e) {
    return std::string("loom threw something other than loom::Error: ") + e.what();
  }
  if (golden.contains("output")) {
    const std::string want = golden["output"];
    return got == want ? "" : first_difference(want, got);
  }
  if (golden.contains("raises")) {
    return "loom rendered " + std::to_string(got.size()) +
           " bytes where the template calls raise_exception(\"" +
           golden["raises"].get<std::string>() + "\")";
  }
  return "loom rendered " + std::to_string(got.size()) + " bytes where jinja2 failed with " +
         golden.value("error", std::string("?"));
}

}  // namespace loom::test::chat
