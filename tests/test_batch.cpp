// BatchEngine: many sequences in one pass over a shared KV pool. Its logits against
// transformers' goldens, batch invariance bit for bit (alone or beside fifteen others, however
// the prompt is chunked, whatever the pass size or thread count), forks sharing a prefix, prefix
// reuse across sequences, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "loom/loom.h"
#include "support/checkpoint_writer.h"
#include "support/error_of.h"

namespace {

using nlohmann::json;
const std::string kShared = LOOM_SHARED_DIR;

const loom::Model& gqa_model() {
  static const loom::Model m = loom::Model::load(kShared + "/fixtures/llama2-gqa-bf16");
  return m;
}

std::vector<int> some_ids(int n, int vocab, int salt = 0) {
  std::vector<int> ids{1};
  for (int i = 1; i < n; ++i) ids.push_back((i * 7919 + 13 + salt * 104729) % vocab);
  return ids;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Every golden prompt of a checkpoint as one sequence each, all in the same passes (rows of the
// cases interleaved, 7 rows a pass), every row's logits wanted: within 1e-3 of transformers, as
// a Session is (test_golden).
void check_golden(const std::string& golden, const std::string& dir) {
  std::ifstream in(kShared + "/fixtures/golden/" + golden);
  const json g = json::parse(in);
  const loom::Model model = loom::Model::load(dir);
  const int vocab = model.config().vocab_size;
  loom::BatchEngine engine(model, {.pool_tokens = 4096,
                                   .threads = 2,
                                   .batch_size = 7,
                                   .bf16_prompts = loom::Bf16Prompts::Exact});
  std::vector<std::vector<int>> prompts;
  std::vector<int> seqs;
  for (const json& c : g["cases"]) {
    prompts.push_back(c["ids"].get<std::vector<int>>());
    seqs.push_back(engine.add_sequence());
  }
  // Round robin: row p of every case that has one, for p = 0, 1, ...
  std::vector<loom::BatchRow> rows;
  std::vector<std::pair<size_t, size_t>> where;  // (case, position) of each row
  for (size_t p = 0;; ++p) {
    const size_t before = rows.size();
    for (size_t c = 0; c < prompts.size(); ++c) {
      if (p < prompts[c].size()) {
        rows.push_back({seqs[c], prompts[c][p], true});
        where.emplace_back(c, p);
      }
    }
    if (rows.size() == before) break;
  }
  const std::span<const float> logits = engine.eval(rows);
  ASSERT_EQ(logits.size(), rows.size() * vocab);
  double err = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto [c, p] = where[r];
    const json& gc = g["cases"][c];
    const float* row = logits.data() + r * vocab;
    for (int k = 0; k < 5; ++k) {
      const int id = gc["top5_ids"][p][k].get<int>();
      err = std::max(err, std::abs(row[id] - gc["top5_logits"][p][k].get<double>()));
    }
    if (p + 1 == prompts[c].size()) {
      const auto last = gc["last_logits"].get<std::vector<double>>();
      for (int v = 0; v < vocab; ++v) err = std::max(err, std::abs(row[v] - last[v]));
    }
  }
  std::printf("[ batch ] %s: max |logit - transformers| = %.3g over %zu rows\n", golden.c_str(),
              err, rows.size());
  EXPECT_LT(err, 1e-3);
}

TEST(Batch, InterleavedSequencesMatchTransformers) {
  check_golden("llama2-gqa-bf16.json", kShared + "/fixtures/llama2-gqa-bf16");
  check_golden("llama3-rope-f16.json", kShared + "/fixtures/llama3-rope-f16");
  check_golden("stories260K.json", kShared + "/models/stories260K");
}

// One sequence's prompt, then greedy steps: the logits of its prompt's last token and of each
// step, concatenated.
struct Trace {
  std::vector<float> logits;
  std::vector<int> tokens;
};

int argmax(std::span<const float> row) {
  return static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin());
}

Trace alone(const loom::Model& model, const std::vector<int>& prompt, int steps, int threads) {
  loom::BatchEngine engine(model,
                           {.pool_tokens = 1024, .threads = threads, .batch_invariant = true});
  const int s = engine.add_sequence();
  std::vector<loom::BatchRow> rows;
  for (size_t i = 0; i < prompt.size(); ++i) rows.push_back({s, prompt[i], i + 1 == prompt.size()});
  Trace t;
  std::span<const float> l = engine.eval(rows);
  for (int i = 0; i < steps; ++i) {
    t.logits.insert(t.logits.end(), l.begin(), l.end());
    t.tokens.push_back(argmax(l));
    const loom::BatchRow r{s, t.tokens.back(), true};
    l = engine.eval(std::span(&r, 1));
  }
  t.logits.insert(t.logits.end(), l.begin(), l.end());
  return t;
}

// The same sequence beside fifteen others: its prompt in chunks of 7 rows mixed with the others'
// prompts and steps, passes of 5 rows (so a pass splits chunks), 1 thread: every logit it gets
// has the bits it got alone on 2 threads.
TEST(Batch, LogitsDoNotDependOnTheBatch) {
  const loom::Model& model = gqa_model();
  const int vocab = model.config().vocab_size;
  const std::vector<int> prompt = some_ids(45, vocab);
  const int steps = 10;
  const Trace want = alone(model, prompt, steps, 2);

  loom::BatchEngine engine(
      model, {.pool_tokens = 8192, .threads = 1, .batch_size = 5, .batch_invariant = true});
  struct Other {
    int seq;
    std::vector<int> prompt;
    size_t fed = 0;
  };
  std::vector<Other> others;
  for (int i = 0; i < 15; ++i) {
    others.push_back({engine.add_sequence(), some_ids(3 + 11 * i % 60, vocab, i + 1)});
  }
  const int s = engine.add_sequence();
  size_t fed = 0;
  Trace got;
  while (static_cast<int>(got.tokens.size()) < steps + 1) {
    std::vector<loom::BatchRow> rows;
    std::vector<int> other_row(others.size(), -1);
    for (size_t o = 0; o < others.size(); o += 2) {  // half of them before
      Other& x = others[o];
      const bool prompt_left = x.fed < x.prompt.size();
      const int tok = prompt_left ? x.prompt[x.fed] : (x.fed * 31) % vocab;
      rows.push_back({x.seq, tok, !prompt_left});
      ++x.fed;
    }
    const size_t first = rows.size();
    if (fed < prompt.size()) {
      const size_t n = std::min<size_t>(7, prompt.size() - fed);
      for (size_t i = 0; i < n; ++i) {
        rows.push_back({s, prompt[fed + i], fed + i + 1 == prompt.size()});
      }
      fed += n;
    } else {
      rows.push_back({s, got.tokens.back(), true});
    }
    const size_t last = rows.size();
    for (size_t o = 1; o < others.size(); o += 2) {  // and half after
      Other& x = others[o];
      rows.push_back({x.seq, x.prompt[x.fed % x.prompt.size()], o % 3 == 0});
      ++x.fed;
    }
    const std::span<const float> l = engine.eval(rows);
    // Its logits sit after the wanted rows before it.
    size_t at = 0;
    for (size_t r = 0; r < first; ++r) at += rows[r].logits;
    for (size_t r = first; r < last; ++r) {
      if (!rows[r].logits) continue;
      const std::span<const float> mine = l.subspan(at * vocab, vocab);
      got.logits.insert(got.logits.end(), mine.begin(), mine.end());
      got.tokens.push_back(argmax(mine));
      ++at;
    }
  }
  got.tokens.pop_back();
  EXPECT_EQ(got.tokens, want.tokens);
  EXPECT_TRUE(same_bits(got.logits, want.logits));
}

// Batch invariant, every row is summed as a decode step: a sequence's logits are a Session's
// decode() bits, position for position, with the weights as stored and quantized.
void expect_decode_bits(const loom::Model& model) {
  const int vocab = model.config().vocab_size;
  const std::vector<int> ids = some_ids(300, vocab);
  loom::Session session(model, {.ctx_size = 512, .threads = 2});
  std::vector<float> want;
  for (int id : ids) {
    const std::span<const float> l = session.decode(id);
    want.insert(want.end(), l.begin(), l.end());
  }
  loom::BatchEngine engine(
      model, {.pool_tokens = 1024, .threads = 2, .batch_size = 64, .batch_invariant = true});
  const int s = engine.add_sequence();
  std::vector<loom::BatchRow> rows;
  for (int id : ids) rows.push_back({s, id, true});
  EXPECT_TRUE(same_bits(engine.eval(rows), want));
}

TEST(Batch, RowsEqualASessionsDecodeSteps) {
  expect_decode_bits(gqa_model());
  for (loom::DType q : {loom::DType::Q8_0, loom::DType::Q4_0, loom::DType::Q4_K}) {
    SCOPED_TRACE(loom::dtype_name(q));
    expect_decode_bits(loom::Model::load(kShared + "/fixtures/llama2-gqa-bf16", {.quantize = q}));
  }
}

// Without batch invariance a pass of more than 2 rows (float weights) takes the prompt kernels (a
// Session's prefill bits), and a smaller one the decode kernels (a Session's decode bits).
TEST(Batch, VariantModeTakesPromptKernelsForLargePasses) {
  const loom::Model& model = gqa_model();
  const int vocab = model.config().vocab_size;
  const std::vector<int> ids = some_ids(40, vocab);
  loom::Session session(model, {.ctx_size = 64, .threads = 2});
  const std::vector<float> prefill = session.prefill_all_logits(std::span(ids).first(39));
  const std::span<const float> step = session.decode(ids[39]);
  loom::BatchEngine engine(
      model, {.pool_tokens = 256, .threads = 2, .batch_size = 39, .batch_invariant = false});
  const int s = engine.add_sequence();
  std::vector<loom::BatchRow> rows;
  for (int i = 0; i < 39; ++i) rows.push_back({s, ids[i], true});
  EXPECT_TRUE(same_bits(engine.eval(rows), prefill));
  const loom::BatchRow last{s, ids[39], true};
  EXPECT_TRUE(same_bits(engine.eval(std::span(&last, 1)), step));
}

// Logits of TOKENS evaluated from scratch in a fresh engine: [tokens, vocab].
std::vector<float> fresh(const loom::Model& model, const std::vector<int>& tokens) {
  loom::BatchEngine engine(model, {.pool_tokens = 2048, .threads = 2, .batch_invariant = true});
  const int s = engine.add_sequence();
  std::vector<loom::BatchRow> rows;
  for (int t : tokens) rows.push_back({s, t, true});
  const std::span<const float> l = engine.eval(rows);
  return {l.begin(), l.end()};
}

// Three forks of a 300-token prompt (two blocks, the second partial) share its first block and
// each copies the second as it writes into it; each continues as a sequence of its own tokens
// would from scratch.
TEST(Batch, ForksShareThePromptAndCopyOnWrite) {
  const loom::Model& model = gqa_model();
  const int vocab = model.config().vocab_size;
  const std::vector<int> prompt = some_ids(300, vocab);
  loom::BatchEngine engine(model, {.pool_tokens = 2048, .threads = 2, .batch_invariant = true});
  const int parent = engine.add_sequence();
  std::vector<loom::BatchRow> rows;
  for (int t : prompt) rows.push_back({parent, t, false});
  engine.eval(rows);
  EXPECT_EQ(engine.usage().used_blocks, 2);

  std::vector<int> kids;
  for (int i = 0; i < 3; ++i) kids.push_back(engine.fork(parent));
  EXPECT_EQ(engine.usage().used_blocks, 2);  // nothing copied yet
  EXPECT_EQ(engine.usage().sequence_tokens, 4 * 300);
  rows.clear();
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) rows.push_back({kids[i], 100 + 10 * i + j, true});
  }
  const std::span<const float> got = engine.eval(rows);
  // The parent's two blocks, and a copy of the second for each fork.
  EXPECT_EQ(engine.usage().used_blocks, 5);
  for (int i = 0; i < 3; ++i) {
    std::vector<int> all = prompt;
    for (int j = 0; j < 4; ++j) all.push_back(100 + 10 * i + j);
    const std::vector<float> want = fresh(model, all);
    EXPECT_TRUE(same_bits(got.subspan(static_cast<size_t>(i) * 4 * vocab, 4 * vocab),
                          std::span(want).subspan(300 * static_cast<size_t>(vocab))))
        << "fork " << i;
  }
  // The parent's own next token still sees its own second block.
  const loom::BatchRow next{parent, 7, true};
  std::vector<int> all = prompt;
  all.push_back(7);
  const std::vector<float> want = fresh(model, all);
  EXPECT_TRUE(same_bits(engine.eval(std::span(&next, 1)),
                        std::span(want).subspan(300 * static_cast<size_t>(vocab))));
}

// A removed sequence's whole blocks stay cached; a new sequence with the same first 600 tokens
// takes two of them (512 tokens) and evaluates the rest, with the bits of a fresh evaluation.
TEST(Batch, ReusesAPrefixAcrossSequences) {
  const loom::Model& model = gqa_model();
  const int vocab = model.config().vocab_size;
  const std::vector<int> first = some_ids(600, vocab);
  loom::BatchEngine engine(model, {.pool_tokens = 1024, .threads = 2, .batch_invariant = true});
  const int a = engine.add_sequence();
  std::vector<loom::BatchRow> rows;
  for (int t : first) rows.push_back({a, t, false});
  engine.eval(rows);
  engine.remove(a);
  EXPECT_EQ(engine.usage().used_blocks, 0);
  EXPECT_EQ(engine.usage().cached_blocks, 2);

  std::vector<int> second(first.begin(), first.begin() + 520);
  for (int i = 0; i < 10; ++i) second.push_back(3 + i);
  const int b = engine.add_sequence();
  EXPECT_EQ(engine.reuse_prefix(b, second), 512);
  EXPECT_EQ(engine.position(b), 512);
  EXPECT_EQ(engine.usage().cached_blocks, 0);
  rows.clear();
  for (size_t i = 512; i < second.size(); ++i) rows.push_back({b, second[i], true});
  const std::span<const float> got = engine.eval(rows);
  const std::vector<float> want = fresh(model, second);
  EXPECT_TRUE(same_bits(got, std::span(want).subspan(512 * static_cast<size_t>(vocab))));

  // A prompt differing inside the first block reuses nothing.
  std::vector<int> other = second;
  other[100] = 5;
  const int c = engine.add_sequence();
  EXPECT_EQ(engine.reuse_prefix(c, other), 0);
  EXPECT_EQ(engine.position(c), 0);
  EXPECT_EQ(engine.usage().used_blocks, 3);  // b's
}

TEST(Batch, BadInputIsAnErrorAndChangesNothing) {
  const loom::Model& model = gqa_model();
  const int vocab = model.config().vocab_size;
  loom::BatchEngine engine(model, {.pool_tokens = 512, .threads = 2, .batch_invariant = true});
  const int s = engine.add_sequence();
  const loom::BatchRow unknown{s + 5, 1, true};
  EXPECT_NE(loom::test::error_of([&] {
              engine.eval(std::span(&unknown, 1));
            }).find("no sequence 5 in this batch engine"),
            std::string::npos);
  std::vector<loom::BatchRow> rows{{s, 1, false}, {s, vocab, true}};
  EXPECT_NE(loom::test::error_of([&] {
              engine.eval(rows);
            }).find("token id " + std::to_string(vocab) + " in row 1 is outside the vocabulary"),
            std::string::npos);
  EXPECT_EQ(engine.position(s), 0);
  EXPECT_NE(loom::test::error_of([&] { engine.eval({}); }).find("no rows"), std::string::npos);

  // 513 tokens need three blocks of a pool of two: refused whole, nothing written.
  rows.clear();
  for (int i = 0; i < 513; ++i) rows.push_back({s, 1 + i % 50, i == 512});
  const std::string full = loom::test::error_of([&] { engine.eval(rows); });
  EXPECT_NE(full.find("the KV pool is full: these 513 rows need 3 more blocks of 256 tokens, 2 of "
                      "2 are free"),
            std::string::npos)
      << full;
  EXPECT_EQ(engine.position(s), 0);
  rows.resize(512);
  rows.back().logits = true;
  EXPECT_EQ(engine.eval(rows).size(), static_cast<size_t>(vocab));
  EXPECT_EQ(engine.position(s), 512);

  EXPECT_NE(loom::test::error_of([&] {
              engine.truncate(s, 513);
            }).find("cannot truncate sequence 0 to 513 tokens: it holds 512"),
            std::string::npos);
  EXPECT_NE(loom::test::error_of([&] {
              engine.reuse_prefix(s, std::vector<int>{1, 2});
            }).find("already holds 512 tokens"),
            std::string::npos);
  engine.remove(s);
  EXPECT_NE(loom::test::error_of([&] { engine.position(s); }).find("no sequence 0"),
            std::string::npos);
  EXPECT_NE(loom::test::error_of([&] {
              loom::BatchEngine(model, {.pool_tokens = -1});
            }).find("pool_tokens must be >= 0"),
            std::string::npos);
}

// Truncating into a block and writing again: the logits of a fresh evaluation of the new tokens.
TEST(Batch, TruncateThenContinue) {
  const loom::Model& model = gqa_model();
  const int vocab = model.config().vocab_size;
  std::vector<int> ids = some_ids(280, vocab);
  loom::BatchEngine engine(model, {.pool_tokens = 1024, .threads = 2, .batch_invariant = true});
  const int s = engine.add_sequence();
  std::vector<loom::BatchRow> rows;
  for (int t : ids) rows.push_back({s, t, false});
  engine.eval(rows);
  engine.truncate(s, 200);
  EXPECT_EQ(engine.position(s), 200);
  EXPECT_EQ(engine.usage().used_blocks, 1);
  ids.resize(200);
  rows.clear();
  for (int i = 0; i < 70; ++i) {
    ids.push_back(40 + i);
    rows.push_back({s, 40 + i, true});
  }
  const std::vector<float> want = fresh(model, ids);
  EXPECT_TRUE(
      same_bits(engine.eval(rows), std::span(want).subspan(200 * static_cast<size_t>(vocab))));
}

}  // namespace

namespace {

const loom::Model& stories() {
  static const loom::Model m =
      loom::Model::load(std::string(LOOM_SOURCE_DIR) + "/models/stories260K");
  return m;
}

// Eight samples of one prompt decoded together: sample i is, token for token and logprob for
// logprob, what a lone request with seed + i gets.
TEST(BatchGenerate, SamplesEqualLoneRequestsWithTheirSeeds) {
  const loom::Model& model = stories();
  const std::vector<int> prompt = model.tokenizer().encode("Once upon a time, a little", true);
  loom::GenerateOptions o{.max_tokens = 40, .top_logprobs = 2};
  o.sampling.temperature = 1.0f;
  o.sampling.seed = 77;
  loom::BatchEngine engine(model, {.pool_tokens = 4096, .threads = 2, .batch_invariant = true});
  const std::vector<loom::GenerateResult> got = loom::generate_samples(engine, prompt, 8, o);
  ASSERT_EQ(got.size(), 8u);
  EXPECT_EQ(engine.usage().used_blocks, 0);  // all removed
  std::set<std::vector<int>> distinct;
  for (int i = 0; i < 8; ++i) {
    loom::GenerateOptions lone = o;
    lone.sampling.seed = 77 + i;
    loom::BatchEngine alone(model, {.pool_tokens = 1024, .threads = 1, .batch_invariant = true});
    const loom::GenerateResult want = loom::generate_samples(alone, prompt, 1, lone)[0];
    EXPECT_EQ(got[i].ids, want.ids) << "sample " << i;
    EXPECT_EQ(got[i].text, want.text) << "sample " << i;
    ASSERT_EQ(got[i].logprobs.size(), want.logprobs.size());
    for (size_t t = 0; t < want.logprobs.size(); ++t) {
      EXPECT_EQ(got[i].logprobs[t].logprob, want.logprobs[t].logprob) << "sample " << i;
    }
    distinct.insert(got[i].ids);
  }
  EXPECT_GT(distinct.size(), 4u);  // the seeds do differ
}

// Greedy samples on the engine give the text a Session's greedy generate() gives for stories260K
// (the two sum products in different orders; this model's greedy text has no near-ties early).
TEST(BatchGenerate, GreedyMatchesASession) {
  const loom::Model& model = stories();
  const std::vector<int> prompt = model.tokenizer().encode("Once upon a time", true);
  loom::GenerateOptions o{.max_tokens = 30, .sampling = loom::SamplerParams::greedy()};
  loom::Session session(model, {.threads = 2});
  const loom::GenerateResult want = loom::generate(session, prompt, o);
  loom::BatchEngine engine(model, {.pool_tokens = 1024, .threads = 2, .batch_invariant = true});
  for (const loom::GenerateResult& r : loom::generate_samples(engine, prompt, 3, o)) {
    EXPECT_EQ(r.ids, want.ids);
    EXPECT_EQ(r.text, want.text);
  }
}

// The logits processor runs before sampling, sees the tokens generated so far, and what it
// bans never comes.
TEST(BatchGenerate, LogitsProcessorShapesTheChoice) {
  const loom::Model& model = stories();
  const std::vector<int> prompt = model.tokenizer().encode("Once upon a time", true);
  loom::GenerateOptions o{.max_tokens = 20, .sampling = loom::SamplerParams::greedy()};
  loom::Session session(model, {.threads = 2});
  const loom::GenerateResult plain = loom::generate(session, prompt, o);
  ASSERT_GE(plain.ids.size(), 5u);
  const int banned = plain.ids[2];
  std::vector<size_t> seen;
  o.logits_processor = [&](std::span<float> logits, std::span<const int> generated) {
    seen.push_back(generated.size());
    logits[banned] = -INFINITY;
  };
  session.reset();
  const loom::GenerateResult r = loom::generate(session, prompt, o);
  EXPECT_EQ(std::count(r.ids.begin(), r.ids.end(), banned), 0);
  EXPECT_EQ(std::vector<int>(r.ids.begin(), r.ids.begin() + 2),
            std::vector<int>(plain.ids.begin(), plain.ids.begin() + 2));
  ASSERT_EQ(seen.size(), r.ids.size());
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i);
}

// A Generator stepped by hand over a Session is what generate() returns.
TEST(BatchGenerate, GeneratorSteppedByHand) {
  const loom::Model& model = stories();
  const std::vector<int> prompt = model.tokenizer().encode("The cat", true);
  loom::GenerateOptions o{.max_tokens = 25, .stop = {"."}};
  o.sampling.seed = 5;
  loom::Session a(model, {.threads = 1});
  const loom::GenerateResult want = loom::generate(a, prompt, o);
  loom::Session b(model, {.threads = 1});
  loom::Generator g(model, o, prompt, true);
  std::span<const float> l = b.prefill(prompt);
  std::string text;
  while (true) {
    text += g.step(l).text;
    if (g.done()) break;
    l = b.decode(g.last_token());
  }
  text += g.finish();
  EXPECT_EQ(g.result().ids, want.ids);
  EXPECT_EQ(text, want.text);
  EXPECT_EQ(g.result().stop, want.stop);
  EXPECT_NE(loom::test::error_of([&] { g.step(l); }).find("after generation ended"),
            std::string::npos);
  EXPECT_NE(loom::test::error_of([&] {
              loom::BatchEngine e(model, {.pool_tokens = 256, .batch_invariant = true});
              loom::generate_samples(e, prompt, 0, o);
            }).find("n must be >= 1"),
            std::string::npos);
}

}  // namespace

namespace {

// Two engines on one team: a pass waits while the team is taken, and passes run from two threads
// at once give the bits each gives alone.
TEST(ThreadTeam, PassesTakeTurns) {
  const loom::Model& model = gqa_model();
  const int vocab = model.config().vocab_size;
  auto team = std::make_shared<loom::ThreadTeam>(2);
  EXPECT_EQ(team->size(), 2);
  const std::vector<int> a_ids = some_ids(60, vocab, 1), b_ids = some_ids(70, vocab, 2);
  const std::vector<float> a_want = fresh(model, a_ids), b_want = fresh(model, b_ids);

  loom::BatchEngine a(model, {.pool_tokens = 512, .team = team, .batch_invariant = true});
  loom::BatchEngine b(model, {.pool_tokens = 512, .team = team, .batch_invariant = true});
  EXPECT_EQ(a.threads(), 2);
  auto rows_of = [](int seq, const std::vector<int>& ids) {
    std::vector<loom::BatchRow> rows;
    for (int t : ids) rows.push_back({seq, t, true});
    return rows;
  };
  const int sa = a.add_sequence(), sb = b.add_sequence();
  std::vector<float> a_got, b_got;
  std::atomic<bool> a_done = false;
  std::thread ta;
  {
    const std::unique_lock<std::mutex> held = team->acquire();
    ta = std::thread([&] {
      const std::span<const float> l = a.eval(rows_of(sa, a_ids));
      a_got.assign(l.begin(), l.end());
      a_done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_FALSE(a_done);  // waiting for the team
  }
  std::thread tb([&] {
    const std::span<const float> l = b.eval(rows_of(sb, b_ids));
    b_got.assign(l.begin(), l.end());
  });
  ta.join();
  tb.join();
  EXPECT_TRUE(same_bits(a_got, a_want));
  EXPECT_TRUE(same_bits(b_got, b_want));

  EXPECT_NE(loom::test::error_of([&] {
              loom::Session(model, {.threads = 3, .team = team});
            }).find("threads (3) differs from the size of the thread team given (2)"),
            std::string::npos);
  EXPECT_NE(loom::test::error_of([] { loom::ThreadTeam(-1); }).find("got -1"), std::string::npos);
}

}  // namespace

namespace {

// A sliding window in every layer (stories260K as Mistral, window 100): blocks wholly before the
// window go back to the pool as a sequence grows, and its logits stay a Session's decode bits
// (whose cache is a ring of the window).
TEST(Batch, SlidingWindowBoundsThePool) {
  loom::test::TempDir dir;
  const std::filesystem::path stories = kShared + "/models/stories260K";
  for (const auto& e : std::filesystem::directory_iterator(stories)) {
    if (e.path().filename() != "config.json") {
      std::filesystem::create_symlink(e.path(), dir.path() / e.path().filename());
    }
  }
  loom::test::json c = loom::test::read_json(stories / "config.json");
  c["model_type"] = "mistral";
  c["architectures"] = {"MistralForCausalLM"};
  c["sliding_window"] = 100;
  c["max_position_embeddings"] = 2048;
  loom::test::write_json(dir.path() / "config.json", c);
  const loom::Model model = loom::Model::load(dir.path());
  const int vocab = model.config().vocab_size;
  const std::vector<int> ids = some_ids(900, vocab);

  loom::Session session(model, {.ctx_size = 1024, .threads = 2});
  std::vector<float> want;
  for (int id : ids) {
    const std::span<const float> l = session.decode(id);
    want.insert(want.end(), l.begin(), l.end());
  }
  loom::BatchEngine engine(model, {.pool_tokens = 1024, .threads = 2, .batch_invariant = true});
  const int s = engine.add_sequence();
  std::vector<float> got;
  int most = 0;
  for (size_t at = 0; at < ids.size(); at += 50) {  // in chunks, watching the pool
    std::vector<loom::BatchRow> rows;
    for (size_t i = at; i < at + 50; ++i) rows.push_back({s, ids[i], true});
    const std::span<const float> l = engine.eval(rows);
    got.insert(got.end(), l.begin(), l.end());
    most = std::max(most, engine.usage().used_blocks);
  }
  EXPECT_TRUE(same_bits(got, want));
  // Positions 801..899 attend back to 801 at most: blocks 3 (768..) on.
  EXPECT_EQ(engine.usage().used_blocks, 1);
  EXPECT_LE(most, 2);
  EXPECT_NE(loom::test::error_of([&] { engine.truncate(s, 700); })
                .find("position 601, which the next token attends to in its sliding window, is "
                      "no longer held"),
            std::string::npos);
  engine.truncate(s, 880);  // needs 781 on: still held
  EXPECT_EQ(engine.position(s), 880);
}

}  // namespace
