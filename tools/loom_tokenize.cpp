// loom-tokenize: the token ids of a text, or the text of token ids, with llama.cpp's
// llama-tokenize flags. Works on a folder that holds nothing but tokenizer files.
#include <CLI/CLI.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "chat_flags.h"
#include "cli_habits.h"
#include "loom/chat.h"
#include "loom/error.h"
#include "loom/tokenizer.h"
#include "tokenizer_flag.h"

namespace {

namespace fs = std::filesystem;

struct Args {
  std::string model, prompt, file, decode;
  bool has_prompt = false;  // -p given, perhaps empty
  bool from_stdin = false, ids = false, show_count = false, no_bos = false;
  bool no_parse_special = false, no_escape = false, log_disable = false, json = false;
  std::string tokenizer = "auto";
  loom::tools::ChatFlags chat;
};

std::string read_bytes(std::istream& in) {
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw loom::Error("cannot open " + path + ": " + std::strerror(errno));
  return read_bytes(in);
}

// llama-tokenize reads -p with C escapes, so a shell user can write "a\nb": \n \r \t \\ \' \"
// and \xHH. Anything else after a backslash stays as written.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[i + 1];
    const char* simple = nullptr;
    switch (c) {
      case 'n':
        simple = "\n";
        break;
      case 'r':
        simple = "\r";
        break;
      case 't':
        simple = "\t";
        break;
      case '\\':
        simple = "\\";
        break;
      case '\'':
        simple = "'";
        break;
      case '"':
        simple = "\"";
        break;
    }
    if (simple) {
      out += simple;
      ++i;
    } else if (c == 'x' && i + 3 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 3]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 2, 2), nullptr, 16));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "1,2, 3" -> ids, each within the vocabulary.
std::vector<int> parse_ids(const std::string& list, int vocab_size) {
  std::vector<int> ids;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    const size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    const std::string v = a == std::string::npos ? "" : item.substr(a, b - a + 1);
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (v.empty() || used != v.size()) {
      throw loom::Error("--decode: '" + v + "' is not a token id (want a list such as 1,2,3)");
    }
    if (id < 0 || id >= vocab_size) {
      throw loom::Error("--decode: token id " + v + " is outside the vocabulary (ids 0 to " +
                        std::to_string(vocab_size - 1) + ")");
    }
    ids.push_back(static_cast<int>(id));
  }
  if (ids.empty()) throw loom::Error("--decode: empty list of token ids");
  return ids;
}

// config.json's bos_token_id where the folder has one (as Model::load passes it); else the
// tokenizer's own.
int config_bos_id(const fs::path& dir) {
  const fs::path cfg = dir / "config.json";
  if (!fs::exists(cfg)) return -1;
  std::ifstream in(cfg);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw loom::Error(cfg.string() + ": invalid JSON");
  const auto it = j.find("bos_token_id");
  return it != j.end() && it->is_number_integer() ? it->get<int>() : -1;
}

void write(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
}

int run(const Args& a) {
  const bool chat = !a.chat.messages.empty();
  const int sources = a.has_prompt + !a.file.empty() + a.from_stdin + chat;
  if (sources > 1) throw loom::Error("give one of -p, -f, --stdin and --messages");
  if (a.decode.empty() && sources == 0) {
    throw loom::Error(
        "nothing to tokenize: give -p TEXT, -f FILE, --stdin, --messages FILE or --decode IDS");
  }
  if (!a.decode.empty() && sources > 0) {
    throw loom::Error("--decode takes ids, not text: leave out -p, -f, --stdin and --messages");
  }
  if (!a.decode.empty() && a.json) throw loom::Error("--json prints token ids: not with --decode");
  if (!chat && (!a.chat.chat_template.empty() || !a.chat.kwargs.empty() || !a.chat.tools.empty())) {
    throw loom::Error("--chat-template, --chat-template-kwargs and --tools apply to --messages");
  }
  loom::tools::check_model_path(a.model);
  // Everything that can fail is done before the first line on stderr, so an error is one line.
  std::string text;
  if (chat) {
    // As apply_chat_template: the generation prompt added, special tokens in the text parsed,
    // nothing added around it (the template writes its own BOS).
    const loom::ChatRenderOptions render = loom::tools::render_options(a.chat);
    const nlohmann::ordered_json messages = loom::tools::read_messages(a.chat.messages);
    text = loom::tools::load_chat_template(a.chat, a.model).render(messages, render);
  } else if (!a.file.empty()) {
    text = read_file(a.file);
  } else if (a.from_stdin) {
    text = read_bytes(std::cin);
  } else {
    text = a.no_escape ? a.prompt : unescape(a.prompt);
  }
  const loom::Tokenizer tok = loom::Tokenizer::load(
      a.model, config_bos_id(a.model), {.source = loom::tools::tokenizer_source(a.tokenizer)});
  std::string decoded;
  std::vector<int> ids;
  if (!a.decode.empty()) {
    decoded = tok.decode(parse_ids(a.decode, tok.vocab_size()));
  } else if (chat) {
    ids = loom::encode_chat_prompt(tok, text);
  } else {
    ids = tok.encode(text, !a.no_bos, !a.no_parse_special);
  }
  if (!a.log_disable) std::fprintf(stderr, "loom-tokenize: %s\n", tok.describe().c_str());

  if (!a.decode.empty()) {
    write(decoded);
    return 0;
  }
  if (a.json) {
    const nlohmann::ordered_json j = {{"prompt_text", text}, {"prompt_ids", ids}};
    write(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  } else if (a.ids) {
    std::printf("[");
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? ", %d" : "%d", ids[i]);
    std::printf("]\n");
  } else {
    for (int id : ids) {
      // A special token shows its text, as llama-tokenize shows it; any other token the bytes it
      // adds to the text (a piece of a character shows as its bytes).
      const int one[] = {id};
      const std::string piece =
          tok.is_special(id) ? tok.decode(one) : std::string(tok.token_bytes(id));
      std::printf("%6d -> '", id);
      write(piece);
      std::printf("'\n");
    }
  }
  if (a.show_count) std::printf("Total number of tokens: %zu\n", ids.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"loom-tokenize: the token ids of a text (or the text of ids), as llama-tokenize"};
  app.get_formatter()->column_width(36);
  loom::tools::take_last_value(app);
  app.add_option("-m,--model", a.model, "folder with tokenizer.json or tokenizer.model")
      ->type_name("DIR")
      ->required();
  CLI::Option* prompt = app.add_option("-p,--prompt", a.prompt,
                                       "text to tokenize (\\n, \\t, \\xHH... read as escapes)")
                            ->type_name("TEXT");
  app.add_option("-f,--file", a.file, "tokenize this file's bytes as they are")->type_name("FILE");
  loom::tools::add_tokenizer_flag(app, a.tokenizer);
  app.add_flag("--stdin", a.from_stdin, "tokenize standard input's bytes as they are");
  app.add_flag("--ids", a.ids, "print only the ids, as [1, 2, 3]");
  app.add_flag("--json", a.json,
               "print {\"prompt_text\": the text tokenized, \"prompt_ids\": its ids} (with "
               "--messages: the rendered conversation)");
  app.add_flag("--show-count", a.show_count, "print the number of tokens at the end");
  app.add_flag("--no-bos", a.no_bos,
               "add no special tokens (BOS...) around the text, as add_special_tokens=False");
  app.add_flag("--no-parse-special", a.no_parse_special,
               "read special tokens' text (<|eot_id|>) as text");
  app.add_flag("--no-escape", a.no_escape, "read -p as written, backslashes included");
  app.add_flag("--log-disable", a.log_disable, "print nothing on standard error but errors");
  app.add_option("--decode", a.decode,
                 "print the exact text of these ids (special tokens kept, nothing added)")
      ->type_name("ID,...");
  loom::tools::add_chat_flags(app, a.chat);
  try {
    app.parse(argc, argv);
    a.has_prompt = prompt->count() > 0;
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "loom-tokenize: error: %s (see --help)\n", e.what());
    return 1;
  }
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "loom-tokenize: error: %s\n", e.what());
    return 1;
  }
}
