// loom-batched-bench: throughput of many sequences decoded together (BatchEngine), measured as
// llama.cpp's llama-batched-bench measures it and printed in its table, so the two compare row
// for row: for each prompt length PP, generation length TG and number of sequences B, B prompts
// of PP tokens are evaluated (one pass set), then TG steps of B tokens each.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bf16_flags.h"
#include "cli_habits.h"
#include "load_flags.h"
#include "loom/loom.h"
#include "model/synthetic.h"
#include "simd/cpu.h"

namespace {

struct Args {
  std::string model;
  std::string synthetic, dtype = "bf16", quantize, kv_type = "f32";
  std::vector<std::string> npp{"128"}, ntg{"128"}, npl{"1,2,4,8"};
  int ctx = 0, batch = 2048, threads = 0;
  bool shared_prompt = false, invariant = false;
  loom::tools::Bf16Flags bf16;
  std::string output = "md";
};

std::vector<int> ints(const char* flag, const std::vector<std::string>& lists) {
  std::vector<int> out;
  for (const std::string& list : lists) {
    std::stringstream ss(list);
    for (std::string v; std::getline(ss, v, ',');) {
      size_t used = 0;
      int n = -1;
      try {
        n = std::stoi(v, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != v.size() || n < 1) {
        throw loom::Error(std::string(flag) + ": '" + v + "' is not an integer >= 1");
      }
      out.push_back(n);
    }
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Result {
  int pp, tg, pl, n_kv;
  double t_pp, t_tg;
};

// One row of the table: B sequences of PP prompt tokens (or one prompt shared by forks), then TG
// steps of B tokens. Random token ids, fixed per run.
Result run(loom::BatchEngine& engine, int pp, int tg, int pl, bool shared, std::mt19937& rng) {
  const int vocab = engine.model().config().vocab_size;
  std::uniform_int_distribution<int> token(0, vocab - 1);
  std::vector<int> seqs;
  std::vector<loom::BatchRow> rows;
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < (shared ? 1 : pl); ++s) {
    seqs.push_back(engine.add_sequence());
    for (int i = 0; i < pp; ++i) rows.push_back({seqs.back(), token(rng), i + 1 == pp});
  }
  engine.eval(rows);
  while (static_cast<int>(seqs.size()) < pl) seqs.push_back(engine.fork(seqs[0]));
  const double t_pp = seconds_since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  for (int step = 0; step < tg; ++step) {
    rows.clear();
    for (int s : seqs) rows.push_back({s, token(rng), true});
    engine.eval(rows);
  }
  const double t_tg = seconds_since(t1);
  for (int s : seqs) engine.remove(s);
  return {pp, tg, pl, shared ? pp + tg * pl : (pp + tg) * pl, t_pp, t_tg};
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{
      "loom-batched-bench: tokens per second of many sequences evaluated together, in "
      "llama-batched-bench's table"};
  loom::tools::take_last_value(app);
  auto* m = app.add_option("-m,--model", a.model, "a model folder");
  app.add_option("--synthetic", a.synthetic,
                 "a random-weight model of a known shape instead (loom-bench --synthetic)")
      ->excludes(m);
  app.add_option("--dtype", a.dtype, "weights of a --synthetic model: f32, f16 or bf16");
  app.add_option("--quantize", a.quantize,
                 "quantize the products' weights at load: q8_0, q4_0, q4_k");
  app.add_option("-c,--ctx-size", a.ctx, "the KV pool's tokens (0: enough for the largest row)");
  app.add_option("-b,--batch-size", a.batch, "rows per forward pass");
  app.add_option("-t,--threads", a.threads, "threads (0: all cores)");
  loom::tools::repeatable(app.add_option("--npp", a.npp, "prompt lengths (comma list)"));
  loom::tools::repeatable(app.add_option("--ntg", a.ntg, "tokens generated per sequence"));
  loom::tools::repeatable(app.add_option("--npl", a.npl, "sequences decoded together"));
  app.add_flag("--pps", a.shared_prompt,
               "one prompt shared by all sequences (evaluated once, the others fork it)");
  app.add_option("--kv-type", a.kv_type, "KV pool element type: f32, f16 or bf16");
  app.add_flag("--batch-invariant", a.invariant,
               "every row summed as a decode step: a sequence's logits do not depend on its batch "
               "(slower prompts)");
  a.bf16.add(app);
  app.add_option("-o,--output", a.output, "md or jsonl")->check(CLI::IsMember({"md", "jsonl"}));
  // llama-batched-bench spells its flags with one dash (-npp 128,256 -ntg 128 -npl 1,2,4 -pps).
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::string& arg : args) {
    if (arg == "-npp" || arg == "-ntg" || arg == "-npl" || arg == "-pps") arg = "-" + arg;
  }
  std::reverse(args.begin(), args.end());  // (CLI11 takes a vector in reverse order)
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    const std::vector<int> npp = ints("--npp", a.npp), ntg = ints("--ntg", a.ntg),
                           npl = ints("--npl", a.npl);
    const loom::DType kv = loom::tools::kv_type_flag(a.kv_type);
    loom::LoadOptions lo = loom::tools::quantize_flag(a.quantize);
    std::string name;
    loom::Model model = [&] {
      if (!a.synthetic.empty()) {
        const std::optional<loom::DType> d = loom::dtype_from_name(a.dtype);
        if (!d || loom::is_quantized(*d)) {
          throw loom::Error("--dtype: '" + a.dtype + "' is not f32, f16 or bf16");
        }
        name = "synthetic:" + a.synthetic;
        return loom::model::synthetic_model(loom::model::known_shape(a.synthetic), *d, 1, lo);
      }
      name = a.model.empty() ? std::string("models/stories260K") : a.model;
      return loom::Model::load(name, lo);
    }();
    int need = 0;
    for (int pp : npp) {
      for (int tg : ntg) {
        for (int pl : npl) need = std::max(need, a.shared_prompt ? pp + tg * pl : (pp + tg) * pl);
      }
    }
    // Whole blocks per sequence: each sequence may leave one partly used.
    int most_pl = 0;
    for (int pl : npl) most_pl = std::max(most_pl, pl);
    const int pool = a.ctx ? a.ctx : need + most_pl * loom::BatchEngine::kBlockTokens;
    loom::BatchEngine engine(model, {.pool_tokens = pool,
                                     .kv_type = kv,
                                     .threads = a.threads,
                                     .batch_size = a.batch,
                                     .batch_invariant = a.invariant,
                                     .bf16_prompts = a.bf16.value()});
    std::mt19937 rng(1234);
    run(engine, std::min(npp[0], 32), 4, 1, false, rng);  // warm-up: pages, caches, threads

    if (a.output == "md") {
      std::printf("\nmodel: %s, %s, %d threads, KV pool %d tokens (%s), batch %d, %s, %s\n",
                  name.c_str(), a.quantize.empty() ? a.dtype.c_str() : a.quantize.c_str(),
                  engine.threads(), pool, a.kv_type.c_str(), a.batch,
                  a.invariant ? "batch-invariant" : "batch-variant", loom::simd::cpu_summary());
      if (engine.bf16_activations()) {
        std::printf("bf16-weight prompt products round activations to bf16 (--exact: fp32)\n");
      }
      std::printf("\n");
      std::printf(
          "|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |"
          "      T s |    S t/s |\n");
      std::printf(
          "|-------|--------|------|--------|----------|----------|----------|----------|"
          "----------|----------|\n");
    }
    for (int pp : npp) {
      for (int tg : ntg) {
        for (int pl : npl) {
          const Result r = run(engine, pp, tg, pl, a.shared_prompt, rng);
          const double s_pp = (a.shared_prompt ? pp : static_cast<double>(pp) * pl) / r.t_pp;
          const double s_tg = static_cast<double>(pl) * tg / r.t_tg;
          const double t = r.t_pp + r.t_tg;
          if (a.output == "md") {
            std::printf(
                "| %5d | %6d | %4d | %6d | %8.3f | %8.2f | %8.3f | %8.2f | %8.3f | %8.2f |\n", pp,
                tg, pl, r.n_kv, r.t_pp, s_pp, r.t_tg, s_tg, t, r.n_kv / t);
          } else {
            std::printf(
                "{\"n_kv_max\": %d, \"n_batch\": %d, \"n_threads\": %d, \"is_pp_shared\": %d, "
                "\"pp\": %d, \"tg\": %d, \"pl\": %d, \"n_kv\": %d, \"t_pp\": %f, \"speed_pp\": %f, "
                "\"t_tg\": %f, \"speed_tg\": %f, \"t\": %f, \"speed\": %f}\n",
                pool, a.batch, engine.threads(), a.shared_prompt, pp, tg, pl, r.n_kv, r.t_pp, s_pp,
                r.t_tg, s_tg, t, r.n_kv / t);
          }
          std::fflush(stdout);
        }
      }
    }
  } catch (const loom::Error& e) {
    std::fprintf(stderr, "loom-batched-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
