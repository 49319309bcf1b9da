// loom-generate: text from a Hugging Face Llama folder. Argument parsing and printing only; the
// work is the library's.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bf16_flags.h"
#include "chat_flags.h"
#include "cli_habits.h"
#include "conversation.h"
#include "default_model.h"
#include "load_flags.h"
#include "loom/chat.h"
#include "loom/loom.h"
#include "tokenizer_flag.h"

namespace {

struct Args {
  std::string model = loom::tools::default_model();
  std::string prompt;
  std::string prompt_ids;
  int max_tokens = 256;
  int threads = 0;
  int ctx_size = 0;
  int batch_size = 512;
  std::string quantize;
  std::string quant_cache = "auto";
  std::string kv_type = "f32";
  loom::tools::Bf16Flags bf16;
  std::string tokenizer = "auto";
  bool no_parse_special = false;
  std::string dump_logits;
  bool json = false;
  int logprobs = -1;
  int n_samples = 1;
  int best_of = 0;
  bool ignore_eos = false;
  std::vector<std::string> stop;
  // Sampling: applied over the model's defaults only when given.
  float temperature = 0, top_p = 0, min_p = 0, typical_p = 0, repeat_penalty = 0;
  float presence_penalty = 0, frequency_penalty = 0;
  int top_k = 0, repeat_last_n = 0;
  int64_t seed = -1;
  std::string sampler_order;
  std::vector<std::string> logit_bias;
  loom::tools::ChatFlags chat;
  bool conversation = false;
  std::string system;
  bool verbose = false;
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

// "15043+1.5", "15043-2", "15043-inf" (llama.cpp's --logit-bias syntax).
std::pair<int, float> parse_logit_bias(const std::string& s) {
  const size_t sign = s.find_first_of("+-", 1);
  auto bad = [&]() -> std::pair<int, float> {
    throw loom::Error("--logit-bias: '" + s + "' is not TOKEN_ID+BIAS or TOKEN_ID-BIAS");
  };
  if (sign == std::string::npos) return bad();
  size_t used = 0;
  int id = 0;
  float bias = 0;
  try {
    id = std::stoi(s.substr(0, sign), &used);
    if (used != sign) return bad();
    const std::string b = s.substr(sign);
    if (b == "-inf") {
      bias = -std::numeric_limits<float>::infinity();
    } else {
      bias = std::stof(b, &used);
      if (used != b.size()) return bad();
    }
  } catch (const std::exception&) {
    return bad();
  }
  return {id, bias};
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

nlohmann::json logprobs_json(const loom::Tokenizer& tok, const loom::GenerateResult& r) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < r.logprobs.size(); ++i) {
    nlohmann::json top = nlohmann::json::array();
    for (const loom::TokenLogprob& t : r.logprobs[i].top) {
      top.push_back({{"id", t.id}, {"token", tok.token_bytes(t.id)}, {"logprob", t.logprob}});
    }
    out.push_back({{"id", r.ids[i]},
                   {"token", tok.token_bytes(r.ids[i])},
                   {"logprob", r.logprobs[i].logprob},
                   {"top", top}});
  }
  return out;
}

// The sampling flags over the model's defaults, and the stopping flags. max_tokens -1: until
// the context is full.
loom::GenerateOptions generate_options(const Args& a, const CLI::App& app,
                                       const loom::Model& model) {
  loom::GenerateOptions go;
  go.max_tokens = a.max_tokens;
  go.ignore_eos = a.ignore_eos;
  go.stop = a.stop;
  go.top_logprobs = a.logprobs;
  loom::SamplerParams& sp = go.sampling;
  sp = loom::sampler_defaults(model.config());
  auto given = [&](const char* name) { return app.get_option(name)->count() > 0; };
  if (given("--temperature")) sp.temperature = a.temperature;
  if (given("--top-k")) sp.top_k = a.top_k;
  if (given("--top-p")) sp.top_p = a.top_p;
  if (given("--min-p")) sp.min_p = a.min_p;
  if (given("--typical")) sp.typical_p = a.typical_p;
  if (given("--repeat-penalty")) sp.repeat_penalty = a.repeat_penalty;
  if (given("--repeat-last-n")) sp.repeat_last_n = a.repeat_last_n;
  if (given("--presence-penalty")) sp.presence_penalty = a.presence_penalty;
  if (given("--frequency-penalty")) sp.frequency_penalty = a.frequency_penalty;
  if (given("--samplers")) sp.chain = loom::parse_sampler_chain(a.sampler_order);
  for (const std::string& b : a.logit_bias) sp.logit_bias.push_back(parse_logit_bias(b));
  sp.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();
  return go;
}

// Which flags go together, checked before anything is read.
void check_flag_combinations(const Args& a, const CLI::App& app) {
  auto given = [&](const char* name) { return app.get_option(name)->count() > 0; };
  const bool prompt = given("--prompt") || given("--prompt-ids");
  if (!a.chat.messages.empty() && prompt) {
    throw loom::Error("--messages is the prompt: leave out --prompt and --prompt-ids");
  }
  if (a.conversation) {
    if (prompt || !a.chat.messages.empty()) {
      throw loom::Error(
          "--conversation reads the user's messages from the terminal: leave out --prompt, "
          "--prompt-ids and --messages (--system gives a system message)");
    }
    if (a.json || !a.dump_logits.empty() || a.logprobs >= 0 || given("--n-samples") ||
        given("--best-of")) {
      throw loom::Error(
          "--json, --logprobs, --dump-logits, --n-samples and --best-of do not apply to "
          "--conversation");
    }
  } else {
    if (given("--system")) throw loom::Error("--system applies to --conversation");
    if (a.chat.messages.empty() &&
        (given("--chat-template") || given("--chat-template-kwargs") || given("--tools"))) {
      throw loom::Error(
          "--chat-template, --chat-template-kwargs and --tools apply to --messages and "
          "--conversation");
    }
  }
}

// The samples' lines of --json: each with its seed and log-probabilities.
nlohmann::json samples_json(const loom::Tokenizer& tok, const std::vector<loom::GenerateResult>& rs,
                            uint64_t seed, bool with_logprobs) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < rs.size(); ++i) {
    const loom::GenerateResult& r = rs[i];
    nlohmann::json j = {{"index", i},
                        {"seed", seed + i},
                        {"ids", r.ids},
                        {"text", r.text},
                        {"stop_reason", loom::stop_reason_name(r.stop)},
                        {"sum_logprob", 0.0},
                        {"mean_logprob", nullptr}};
    double sum = 0;
    for (const loom::StepLogprobs& l : r.logprobs) sum += l.logprob;
    j["sum_logprob"] = sum;
    if (!r.logprobs.empty()) j["mean_logprob"] = sum / static_cast<double>(r.logprobs.size());
    if (with_logprobs) j["logprobs"] = logprobs_json(tok, r);
    out.push_back(std::move(j));
  }
  return out;
}

// The sample with the highest mean log-probability a token (the first of equals; a sample of no
// tokens only if all are).
size_t best_sample(const std::vector<loom::GenerateResult>& rs) {
  size_t best = 0;
  double best_mean = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < rs.size(); ++i) {
    if (rs[i].logprobs.empty()) continue;
    double sum = 0;
    for (const loom::StepLogprobs& l : rs[i].logprobs) sum += l.logprob;
    const double mean = sum / static_cast<double>(rs[i].logprobs.size());
    if (mean > best_mean) best = i, best_mean = mean;
  }
  return best;
}

// --n-samples / --best-of: N continuations of PROMPT decoded together on a batch-invariant
// engine, the prompt evaluated once and its keys shared; sample i has seed + i, and is the
// sample a run of any N with seed + i as its first gets.
int run_samples(const Args& a, const loom::Model& model, const std::vector<int>& prompt,
                loom::GenerateOptions go, const loom::SessionOptions& so, bool echo_prompt) {
  const int n = a.best_of > 0 ? a.best_of : a.n_samples;
  if (go.sampling.temperature == 0) {
    throw loom::Error("--n-samples and --best-of need sampling: " + std::to_string(n) +
                      " greedy continuations would be the same (give --temp above 0)");
  }
  const loom::Tokenizer& tok = model.tokenizer();
  const int ctx = so.ctx_size > 0 ? so.ctx_size : model.config().max_position_embeddings;
  if (go.max_tokens < 0) go.max_tokens = ctx - static_cast<int>(prompt.size());
  if (static_cast<int>(prompt.size()) + go.max_tokens > ctx) {
    go.max_tokens = std::max(0, ctx - static_cast<int>(prompt.size()));
  }
  go.top_logprobs = std::max(a.logprobs, 0);  // the chosen tokens' log-probabilities at least
  loom::BatchOptions bo;
  bo.pool_tokens = static_cast<int>(prompt.size()) + n * (go.max_tokens + 1) +
                   n * loom::BatchEngine::kBlockTokens;
  bo.threads = so.threads;
  bo.kv_type = so.kv_type;
  bo.batch_size = so.batch_size;
  bo.batch_invariant = true;
  bo.bf16_prompts = so.bf16_prompts;
  loom::BatchEngine engine(model, bo);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<loom::GenerateResult> rs = loom::generate_samples(engine, prompt, n, go);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const size_t best = best_sample(rs);
  const uint64_t seed = go.sampling.seed;
  if (a.json) {
    nlohmann::json j = {{"prompt_ids", prompt},
                        {"seed", seed},
                        {"samples", samples_json(tok, rs, seed, a.logprobs >= 0)}};
    if (a.best_of > 0) j["best"] = best;
    std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    loom::tools::TextOut out;
    for (size_t i = 0; i < rs.size(); ++i) {
      if (a.best_of > 0 && i != best) continue;
      if (a.best_of == 0) {
        std::printf("%s--- sample %zu (seed %llu) ---\n", i == 0 ? "" : "\n", i,
                    static_cast<unsigned long long>(seed + i));
      }
      if (echo_prompt) out.write(a.prompt);
      out.write(rs[i].text);
      out.end_line();
    }
  }
  size_t tokens = 0;
  for (const loom::GenerateResult& r : rs) tokens += r.ids.size();
  const loom::PoolUsage u = engine.usage();
  std::fprintf(stderr,
               "prompt: %zu tokens | %d samples: %zu tokens in %.2f s, %.2f tok/s | "
               "threads: %d | kv pool: %s, %d blocks, %.2f MiB | seed: %llu%s\n",
               prompt.size(), n, tokens, secs, tokens / secs, engine.threads(),
               loom::dtype_name(so.kv_type), u.blocks, u.bytes / 1048576.0,
               static_cast<unsigned long long>(seed),
               a.best_of > 0 ? (" | best: sample " + std::to_string(best)).c_str() : "");
  return 0;
}

int run(const Args& a, const CLI::App& app) {
  check_flag_combinations(a, app);
  const loom::DType kv = loom::tools::kv_type_flag(a.kv_type);
  loom::LoadOptions load = loom::tools::quantize_flag(a.quantize);
  loom::tools::set_quant_cache_flag(load, a.quant_cache);
  load.tokenizer.source = loom::tools::tokenizer_source(a.tokenizer);
  // The conversation and its template are read before the model, so that a mistake in them
  // costs no loading time.
  const bool chat = a.conversation || !a.chat.messages.empty();
  const loom::ChatRenderOptions render = loom::tools::render_options(a.chat);
  const nlohmann::ordered_json messages = a.chat.messages.empty()
                                              ? nlohmann::ordered_json()
                                              : loom::tools::read_messages(a.chat.messages);
  std::optional<loom::ChatTemplate> tmpl;
  if (chat) {
    loom::tools::check_model_path(a.model);
    tmpl = loom::tools::load_chat_template(a.chat, a.model);
  }
  // The rendered conversation of --messages (a raise_exception shows here, before the load).
  const std::string prompt_text = messages.is_null() ? "" : tmpl->render(messages, render);
  const loom::Model model = loom::Model::load(a.model, load);
  const loom::Tokenizer& tok = model.tokenizer();
  std::fprintf(stderr, "loom-generate: %s model, %s\n", loom::arch_name(model.config().arch),
               tok.describe().c_str());
  if (const loom::Quantization& q = model.quantization(); q.type || q.mix) {
    std::fprintf(stderr, "loom-generate: quantized %d matrices to %s\n", q.quantized,
                 q.type ? loom::dtype_name(*q.type) : loom::gguf_file_type_name(*q.mix));
    for (const std::string& k : q.kept) std::fprintf(stderr, "  kept %s\n", k.c_str());
    for (const std::string& l : q.cache_log) {
      std::fprintf(stderr, "loom-generate: quant cache: %s\n", l.c_str());
    }
  }

  std::vector<int> prompt;
  if (!messages.is_null()) {
    prompt = loom::encode_chat_prompt(tok, prompt_text);
  } else if (!a.prompt_ids.empty()) {
    prompt = parse_ids(a.prompt_ids);
  } else if (!a.conversation) {
    prompt = tok.encode(a.prompt, /*add_special=*/true, /*parse_special=*/!a.no_parse_special);
  }
  if (prompt.empty() && !a.conversation) {
    throw loom::Error(messages.is_null() ? "empty prompt: pass --prompt TEXT or --prompt-ids"
                                         : a.chat.messages + ": the rendered prompt is empty");
  }

  loom::SessionOptions so;
  so.ctx_size = a.ctx_size;
  so.threads = a.threads;
  so.batch_size = a.batch_size;
  so.kv_type = kv;
  so.bf16_prompts = a.bf16.value();
  // A context of 0 is the model's max_position_embeddings at most: only -c goes beyond it.
  if (a.ctx_size > model.config().max_position_embeddings) {
    std::fprintf(stderr,
                 "loom-generate: warning: context of %d tokens exceeds the %d the model was "
                 "trained for\n",
                 a.ctx_size, model.config().max_position_embeddings);
  }
  loom::GenerateOptions go = generate_options(a, app, model);

  if (a.conversation) {
    loom::tools::ConversationOptions co;
    co.chat.system = a.system;
    co.chat.render = render;
    co.chat.session = so;
    co.reply = go;
    co.verbose = a.verbose;
    co.name = "loom-generate";
    return loom::tools::run_conversation(model, std::move(*tmpl), co);
  }

  if (a.n_samples > 1 || a.best_of > 0) {
    if (!a.dump_logits.empty()) throw loom::Error("--dump-logits does not apply to --n-samples");
    return run_samples(a, model, prompt, go, so,
                       !a.json && a.prompt_ids.empty() && messages.is_null());
  }

  loom::Session session(model, so);
  if (!a.dump_logits.empty()) {
    const std::vector<float> all = session.prefill_all_logits(prompt);
    write_logits(a.dump_logits, prompt, all, model.config().vocab_size);
    if (a.max_tokens == 0) return 0;
    session.reset();
  }
  if (go.max_tokens < 0) go.max_tokens = session.ctx_size();
  const loom::SamplerParams& sp = go.sampling;

  loom::tools::TextOut out;
  if (!a.json && a.prompt_ids.empty() && messages.is_null()) out.write(a.prompt);
  const loom::GenerateResult r =
      loom::generate(session, prompt, go, [&](const loom::TokenEvent& e) {
        if (!a.json) out.write(e.text);
        return true;
      });
  if (a.json) {
    nlohmann::json j = {{"prompt_ids", prompt},
                        {"ids", r.ids},
                        {"text", r.text},
                        {"stop_reason", loom::stop_reason_name(r.stop)},
                        {"seed", sp.seed}};
    if (a.logprobs >= 0) j["logprobs"] = logprobs_json(tok, r);
    if (!messages.is_null()) j["prompt_text"] = prompt_text;
    std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    out.end_line();
  }
  if (r.stop == loom::StopReason::ContextFull) {
    std::fprintf(stderr, "loom-generate: the context of %d tokens is full; generation stopped\n",
                 session.ctx_size());
  }
  std::fprintf(stderr,
               "prompt: %d tokens, %.2f tok/s | generated: %zu tokens, %.2f tok/s | "
               "threads: %d | kv cache: %s, %.2f MiB | seed: %llu | sampler: %s\n",
               r.n_prompt, r.n_prompt / r.prefill_seconds, r.ids.size(),
               r.n_decoded > 0 ? r.n_decoded / r.decode_seconds : 0.0, session.threads(),
               loom::dtype_name(session.kv_type()), session.kv_cache_bytes() / 1048576.0,
               static_cast<unsigned long long>(sp.seed),
               sp.temperature == 0 ? "greedy" : loom::sampler_chain_name(sp.chain).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"loom-generate: generate text with a Llama-style model from a Hugging Face folder"};
  app.get_formatter()->column_width(40);
  loom::tools::take_last_value(app);
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
      ->check(CLI::Range(0, 4096));
  app.add_option("-c,--ctx-size", a.ctx_size,
                 "context size in tokens (0: the model's max_position_embeddings, at most 4096)")
      ->capture_default_str()
      ->check(CLI::Range(0, INT32_MAX));
  app.add_option("-b,--batch-size", a.batch_size, "prompt tokens per batch")
      ->capture_default_str()
      ->check(CLI::Range(1, INT32_MAX));
  app.add_option("--quantize", a.quantize,
                 "quantize the weights at load: q8_0 (8.5 bits a weight), q4_0 or q4_k "
                 "(4.5; q4_k: a scale and minimum a block)")
      ->type_name("TYPE");
  app.add_option("--quant-cache", a.quant_cache,
                 "with --quantize: auto (map the quantized weights from a cache file beside them, "
                 "written on first use), off, or the cache file's path")
      ->type_name("auto|off|PATH")
      ->capture_default_str();
  app.add_option("--kv-type", a.kv_type,
                 "KV cache element type: f32, or f16 / bf16 (half the memory, rounded keys and "
                 "values)")
      ->type_name("TYPE")
      ->capture_default_str();
  loom::tools::add_tokenizer_flag(app, a.tokenizer);
  app.add_flag("--no-parse-special", a.no_parse_special,
               "read special-token text in the prompt (<|eot_id|>, </s>) as plain text instead of "
               "as the special tokens (transformers' split_special_tokens)");
  a.bf16.add(app);

  const char* from_model = " [default: generation_config.json as transformers reads it, else ";
  auto sampling = [&](const char* names, auto& var, const std::string& what, const char* dflt) {
    return app.add_option(names, var, what + from_model + dflt + "]")->group("Sampling");
  };
  sampling("--temperature,--temp", a.temperature, "temperature; 0: greedy", "0.8");
  sampling("--top-k", a.top_k, "keep the k most likely tokens; 0: off", "40");
  sampling("--top-p", a.top_p, "keep the smallest set with this probability mass; 1: off", "0.95");
  sampling("--min-p", a.min_p, "drop tokens below min-p times the top probability; 0: off", "0.05");
  sampling("--typical,--typical-p", a.typical_p, "locally typical sampling mass; 1: off", "1");
  sampling("--repeat-penalty", a.repeat_penalty, "penalty for repeated tokens; 1: off", "1");
  sampling("--repeat-last-n", a.repeat_last_n,
           "tokens the penalties look back over; -1: all, 0: off", "64");
  sampling("--presence-penalty", a.presence_penalty, "subtracted once per token seen", "0");
  sampling("--frequency-penalty", a.frequency_penalty, "subtracted per occurrence", "0");
  sampling("--samplers,--sampler-order", a.sampler_order,
           "sampler order: hf, llamacpp, or a chain such as "
           "'penalties;top_k;typ_p;top_p;min_p;temperature'",
           "llamacpp");
  loom::tools::repeatable(
      app.add_option("-l,--logit-bias", a.logit_bias,
                     "TOKEN_ID+BIAS or TOKEN_ID-BIAS added to a logit (-inf bans); repeatable"))
      ->group("Sampling");
  app.add_option("-s,--seed", a.seed, "random seed (-1: a random one, printed at the end)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{-1}, std::numeric_limits<int64_t>::max()))
      ->group("Sampling");

  loom::tools::repeatable(
      app.add_option("--stop", a.stop,
                     "stop when the text contains STRING (not printed); repeatable"))
      ->group("Stopping");
  app.add_flag("--ignore-eos", a.ignore_eos, "keep generating past end-of-sequence tokens")
      ->group("Stopping");

  loom::tools::add_chat_flags(app, a.chat);
  app.add_flag("--conversation", a.conversation,
               "chat: read the user's messages from the terminal, a line each, and stream the "
               "replies (-cnv, as llama-cli); /help lists the commands")
      ->group("Chat");
  app.add_option("--system", a.system, "with --conversation: a system message first (-sys)")
      ->type_name("TEXT")
      ->group("Chat");
  app.add_flag("-v,--verbose", a.verbose,
               "with --conversation: each turn's prompt tokens (reused and evaluated) and speeds "
               "on standard error")
      ->group("Chat");

  app.add_option("--dump-logits", a.dump_logits,
                 "write the prompt's logits, one row per position, as JSON to FILE")
      ->group("Output");
  app.add_flag("--json", a.json,
               "print one JSON object (prompt_ids, ids, text, stop_reason, seed; prompt_text with "
               "--messages; with --n-samples or --best-of: prompt_ids, seed, samples of index, "
               "seed, ids, text, stop_reason, sum_logprob, mean_logprob, and best) instead of text")
      ->group("Output");
  app.add_option("--n-samples,--parallel", a.n_samples,
                 "continuations of the prompt decoded together, sharing its cache (sample i: "
                 "seed + i; with --json, every sample and its log-probability)")
      ->check(CLI::Range(1, 256))
      ->group("Sampling");
  app.add_option("--best-of", a.best_of,
                 "decode N samples together, print the one with the best mean log-probability")
      ->check(CLI::Range(1, 256))
      ->group("Sampling");
  app.add_option("--logprobs", a.logprobs,
                 "with --json: each token's log-probability and the N most likely alternatives")
      ->check(CLI::Range(0, 100))
      ->group("Output");
  // llama.cpp's -cnv and -sys, which CLI11 would read as -c nv and -s ys.
  std::vector<char*> args(argv, argv + argc);
  for (char*& arg : args) {
    if (std::strcmp(arg, "-cnv") == 0) arg = const_cast<char*>("--conversation");
    if (std::strcmp(arg, "-sys") == 0) arg = const_cast<char*>("--system");
  }
  CLI11_PARSE(app, argc, args.data());

  try {
    return run(a, app);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "loom-generate: error: %s\n", e.what());
    return 1;
  }
}
