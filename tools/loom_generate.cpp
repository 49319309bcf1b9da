// loom-generate: text from a Hugging Face Llama folder. Argument parsing and printing only; the
// work is the library's.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "loom/loom.h"

namespace {

struct Args {
  std::string model = LOOM_DEFAULT_MODEL;
  std::string prompt;
  std::string prompt_ids;
  int max_tokens = 256;
  int threads = 0;
  int ctx_size = 0;
  int batch_size = 512;
  std::string dump_logits;
  bool json = false;
};

std::vector<int> parse_ids(const std::string& s) {
  std::vector<int> ids;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    const std::string item = s.substr(i, j - i);
    size_t used = 0;
    long v = 0;
    try {
      v = std::stol(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 0 || v > INT32_MAX) {
      throw loom::Error("--prompt-ids: '" + item + "' is not a token id (want e.g. 1,450,4996)");
    }
    ids.push_back(static_cast<int>(v));
    i = j + 1;
  }
  return ids;
}

void write_logits(const std::string& path, const std::vector<int>& ids,
                  const std::vector<float>& logits, int vocab) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw loom::Error("--dump-logits: cannot write " + path);
  std::fputs("{\"ids\": [", f);
  for (size_t i = 0; i < ids.size(); ++i) std::fprintf(f, "%s%d", i ? ", " : "", ids[i]);
  std::fputs("], \"logits\": [", f);
  for (size_t r = 0; r < ids.size(); ++r) {
    std::fputs(r ? ",\n[" : "\n[", f);
    const float* row = logits.data() + r * vocab;
    for (int v = 0; v < vocab; ++v) std::fprintf(f, "%s%.9g", v ? ", " : "", row[v]);
    std::fputs("]", f);
  }
  std::fputs("]}\n", f);
  if (std::fclose(f) != 0) throw loom::Error("--dump-logits: cannot write " + path);
}

int run(const Args& a) {
  const loom::Model model = loom::Model::load(a.model);
  const loom::Tokenizer& tok = model.tokenizer();

  std::vector<int> prompt;
  if (!a.prompt_ids.empty()) {
    prompt = parse_ids(a.prompt_ids);
  } else {
    prompt = tok.encode(a.prompt, tok.add_bos());
  }
  if (prompt.empty()) throw loom::Error("empty prompt: pass --prompt TEXT or --prompt-ids");

  loom::SessionOptions so;
  so.ctx_size = a.ctx_size;
  so.threads = a.threads;
  so.batch_size = a.batch_size;
  loom::Session session(model, so);

  if (!a.dump_logits.empty()) {
    const std::vector<float> all = session.prefill_all_logits(prompt);
    write_logits(a.dump_logits, prompt, all, model.config().vocab_size);
    if (a.max_tokens == 0) return 0;
    session.reset();
  }

  // The continuation starts a text only if the prompt holds nothing but control tokens.
  bool prompt_has_text = false;
  for (int id : prompt) prompt_has_text |= !tok.token_bytes(id).empty();
  loom::TextStream stream(tok, !prompt_has_text);
  std::string text;
  if (!a.json && a.prompt_ids.empty()) {
    std::fputs(a.prompt.c_str(), stdout);
    std::fflush(stdout);
  }

  loom::GenerateOptions go;
  go.max_tokens = a.max_tokens < 0 ? session.ctx_size() : a.max_tokens;
  const loom::GenerateResult r = loom::generate(session, prompt, go, [&](int id) {
    std::string_view piece = stream.push(id);
    if (a.json) {
      text.append(piece);
    } else {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  });
  std::string_view rest = stream.flush();
  if (a.json) {
    text.append(rest);
    nlohmann::json j = {{"prompt_ids", prompt},
                        {"ids", r.ids},
                        {"text", text},
                        {"stop_reason", loom::stop_reason_name(r.stop)}};
    std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::fputc('\n', stdout);
  }
  if (r.stop == loom::StopReason::ContextFull) {
    std::fprintf(stderr, "loom-generate: the context of %d tokens is full; generation stopped\n",
                 session.ctx_size());
  }
  std::fprintf(stderr,
               "prompt: %d tokens, %.2f tok/s | generated: %zu tokens, %.2f tok/s | "
               "threads: %d\n",
               r.n_prompt, r.n_prompt / r.prefill_seconds, r.ids.size(),
               r.n_decoded > 0 ? r.n_decoded / r.decode_seconds : 0.0, session.threads());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"loom-generate: generate text with a Llama-style model from a Hugging Face folder"};
  app.add_option("-m,--model", a.model,
                 "model folder (config.json, *.safetensors, tokenizer.model)")
      ->capture_default_str();
  auto* prompt =
      app.add_option("-p,--prompt", a.prompt, "prompt text (BOS added as the tokenizer says)");
  app.add_option("--prompt-ids", a.prompt_ids, "prompt as comma-separated token ids, no BOS added")
      ->excludes(prompt);
  app.add_option("-n,--max-tokens,--n-predict", a.max_tokens,
                 "tokens to generate at most (-1: until EOS or a full context)")
      ->capture_default_str()
      ->check(CLI::Range(-1, INT32_MAX));
  app.add_option("-t,--threads", a.threads, "threads (0: all cores)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  app.add_option("-c,--ctx-size", a.ctx_size,
                 "context size in tokens (0: the model's max_position_embeddings, at most 4096)")
      ->capture_default_str()
      ->check(CLI::Range(0, INT32_MAX));
  app.add_option("-b,--batch-size", a.batch_size, "prompt tokens per batch")
      ->capture_default_str()
      ->check(CLI::Range(1, INT32_MAX));
  app.add_option("--dump-logits", a.dump_logits,
                 "write the prompt's logits, one row per position, as JSON to FILE");
  app.add_flag("--json", a.json, "print one JSON object (prompt_ids, ids, text) instead of text");
  CLI11_PARSE(app, argc, argv);

  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "loom-generate: error: %s\n", e.what());
    return 1;
  }
}
