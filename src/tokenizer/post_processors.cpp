#include "tokenizer/post_processors.h"

#include <map>

namespace loom::detail {

namespace {

void parse_into(const JsonValue& v, PostProcessor& pp) {
  const JsonValue type_v = v.at("type");
  const std::string_view type = type_v.str();
  if (type == "ByteLevel") return;  // only adjusts offsets
  if (type == "Sequence") {
    for (const JsonValue& c : v.at("processors").items()) parse_into(c, pp);
    return;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    // {"cls": ["<s>", 0], "sep": ["</s>", 2]}: cls A sep.
    const auto id_of = [&](const char* key) {
      const JsonValue t = v.at(key);
      const auto items = t.items();
      if (items.size() != 2) t.fail("must be [token, id], got " + t.dump());
      return static_cast<int>(items[1].integer());
    };
    pp.before = {id_of("cls")};
    pp.after = {id_of("sep")};
    return;
  }
  if (type != "TemplateProcessing") {
    type_v.fail("names post-processor type '" + std::string(type) +
                "', which loom does not support (supported: TemplateProcessing, ByteLevel, "
                "RobertaProcessing, BertProcessing, Sequence)");
  }
  std::map<std::string, std::vector<int>, std::less<>> specials;
  if (auto s = v.get("special_tokens")) {
    simdjson::dom::object obj;
    if (s->raw().get_object().get(obj)) s->fail("must be an object");
    for (auto [name, value] : obj) {
      const JsonValue entry(value, &v.file(), s->path() + "." + std::string(name));
      std::vector<int> ids;
      for (const JsonValue& id : entry.at("ids").items()) {
        const int64_t x = id.integer();
        if (x < 0 || x >= (int64_t{1} << 30)) id.fail("is not a token id");
        ids.push_back(static_cast<int>(x));
      }
      specials.emplace(std::string(name), std::move(ids));
    }
  }
  // Pieces are {"SpecialToken": {"id": name, ...}} or {"Sequence": {"id": "A", ...}}, or the
  // short strings "$A" and "name" ("name:1" with a type id).
  std::vector<int> before, after;
  bool seen_a = false;
  for (const JsonValue& piece : v.at("single").items()) {
    std::string name;
    bool is_seq = false;
    if (piece.is_string()) {
      std::string_view s = piece.str();
      if (auto colon = s.rfind(':'); colon != std::string_view::npos && colon > 0) {
        s = s.substr(0, colon);
      }
      is_seq = s.starts_with('$');
      name = is_seq ? std::string(s.substr(1)) : std::string(s);
    } else if (auto st = piece.get("SpecialToken")) {
      name = std::string(st->at("id").str());
    } else if (auto sq = piece.get("Sequence")) {
      is_seq = true;
      name = std::string(sq->at("id").str());
    } else {
      piece.fail("must be a SpecialToken or a Sequence, got " + piece.dump());
    }
    if (is_seq) {
      if (name != "A" && name != "" && name != "0") {
        piece.fail("uses sequence '" + name + "' in the single template (want A)");
      }
      seen_a = true;
      continue;
    }
    auto it = specials.find(name);
    if (it == specials.end()) {
      piece.fail("names special token '" + name + "', which special_tokens does not define");
    }
    auto& dst = seen_a ? after : before;
    dst.insert(dst.end(), it->second.begin(), it->second.end());
  }
  // Processors in a Sequence each add their tokens around what the earlier ones produced.
  pp.before.insert(pp.before.begin(), before.begin(), before.end());
  pp.after.insert(pp.after.end(), after.begin(), after.end());
}

}  // namespace

PostProcessor parse_post_processor(const JsonValue& v) {
  PostProcessor pp;
  if (!v.is_null()) parse_into(v, pp);
  return pp;
}

}  // namespace loom::detail
