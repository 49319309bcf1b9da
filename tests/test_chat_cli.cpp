// The chat flags of the tools as users run them: --messages with loom-tokenize and
// loom-generate (prompt texts from Python's jinja2, tests/data/chat_cli/cases.json, made by
// scripts/chat_cli_expected.py), their errors, and loom-generate --conversation driven through a
// pseudo-terminal: several turns, Ctrl-C, Ctrl-D, /clear, /save, a full context.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/checkpoint_writer.h"
#include "support/pty_session.h"
#include "support/run_binary.h"

namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
using Result = loom::test::CommandResult;

const std::string kShared = LOOM_SHARED_DIR;
const std::string kGenerate = std::string(LOOM_BIN_DIR) + "/loom-generate";
const std::string kTokenize = std::string(LOOM_BIN_DIR) + "/loom-tokenize";
const std::string kData = std::string(LOOM_SOURCE_DIR) + "/tests/data/chat_cli";
const std::string kStories = kShared + "/models/stories260K";
const std::string kStoriesTemplate = kData + "/stories.jinja";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

json cases() {
  return json::parse(slurp(kData + "/cases.json"))["cases"];
}

std::vector<int> ids_of(const std::string& line) {
  return json::parse(line).get<std::vector<int>>();
}

// The chat flags of a case in cases.json, its messages written to DIR/messages.json.
std::string case_flags(const json& c, const fs::path& dir) {
  std::string flags = "-m " + kShared + "/" + c["folder"].get<std::string>() + " --messages " +
                      write_file(dir / "messages.json", c["messages"].dump()).string();
  if (c.contains("template_file")) {
    flags += " --chat-template " + std::string(LOOM_SOURCE_DIR) + "/" +
             c["template_file"].get<std::string>();
  }
  if (c.contains("kwargs")) flags += " --chat-template-kwargs '" + c["kwargs"].dump() + "'";
  return flags;
}

TEST(ChatCli, TokenizeMessagesRendersAsJinja2AndEncodesAsTransformers) {
  for (const json& c : cases()) {
    SCOPED_TRACE(c["name"].get<std::string>());
    loom::test::TempDir dir;
    const Result r = loom::test::run_binary(kTokenize, case_flags(c, dir.path()) + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["prompt_text"], c["prompt_text"]);
    // The text's ids with special tokens parsed and nothing added, as apply_chat_template
    // tokenizes (the tokenizer itself is checked against transformers in its own tests).
    const fs::path text = write_file(dir.path() / "prompt.txt", c["prompt_text"]);
    const Result plain = loom::test::run_binary(
        kTokenize, "-m " + kShared + "/" + c["folder"].get<std::string>() + " -f " + text.string() +
                       " --no-bos --ids --log-disable");
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    EXPECT_EQ(j["prompt_ids"].get<std::vector<int>>(), ids_of(plain.out));
    // transformers' own ids (scripts/chat_cli_prompt_ids.py), where they have been added.
    if (c.contains("prompt_ids")) {
      EXPECT_EQ(j["prompt_ids"], c["prompt_ids"]);
    }
  }
}

json stories_case() {
  for (const json& c : cases()) {
    if (c["name"] == "stories-template-file") return c;
  }
  ADD_FAILURE() << "no stories case in cases.json";
  return json::object();
}

TEST(ChatCli, GenerateMessagesAnswersTheRenderedPrompt) {
  const json c = stories_case();
  loom::test::TempDir dir;
  const std::string flags = case_flags(c, dir.path()) + " -n 12 -t 1";
  const Result r = loom::test::run_binary(kGenerate, flags + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["prompt_text"], c["prompt_text"]);
  const Result tok = loom::test::run_binary(kTokenize, case_flags(c, dir.path()) + " --json");
  ASSERT_EQ(tok.exit_code, 0) << tok.err;
  EXPECT_EQ(j["prompt_ids"], json::parse(tok.out)["prompt_ids"]);
  EXPECT_EQ(j["ids"].size(), 12u);
  // The same ids given as --prompt-ids give the same reply.
  std::string ids;
  for (const json& id : j["prompt_ids"]) {
    if (!ids.empty()) ids += ',';
    ids += id.dump();
  }
  const Result same = loom::test::run_binary(
      kGenerate, "-m " + kStories + " --prompt-ids " + ids + " -n 12 -t 1 --json");
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_EQ(json::parse(same.out)["ids"], j["ids"]);
  // As text: the reply alone (the rendered prompt is not echoed), then one newline.
  const Result text = loom::test::run_binary(kGenerate, flags);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, j["text"].get<std::string>() + "\n");
}

// --tools reaches the template as transformers' tools=, and picks the folder's "tool_use"
// template where it has one (as apply_chat_template does when tools are given).
TEST(ChatCli, ToolsPickTheToolUseTemplate) {
  loom::test::TempDir dir;
  fs::copy(kStories + "/tokenizer.model", dir.path() / "tokenizer.model");
  const json templates = json::array(
      {{{"name", "default"}, {"template", "D{{ tools is none }}"}},
       {{"name", "tool_use"},
        {"template",
         "T{{ tools | length }}:{{ tools[0].function.name }}{{ tools[0] | tojson }}"}}});
  write_file(dir.path() / "tokenizer_config.json", json{{"chat_template", templates}}.dump());
  const std::string messages =
      write_file(dir.path() / "m.json", R"([{"role": "user", "content": "hi"}])").string();
  const std::string tools = write_file(dir.path() / "tools.json",
                                       R"([{"type": "function", "function": {"name": "get_time",
                                            "parameters": {"type": "object"}}}])")
                                .string();
  const std::string flags = "-m " + dir.path().string() + " --messages " + messages + " --json";
  const Result plain = loom::test::run_binary(kTokenize, flags);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(json::parse(plain.out)["prompt_text"], "DTrue");
  const Result with_tools = loom::test::run_binary(kTokenize, flags + " --tools " + tools);
  ASSERT_EQ(with_tools.exit_code, 0) << with_tools.err;
  // tojson keeps the file's key order (type before function), as Python's json.dumps does.
  EXPECT_EQ(json::parse(with_tools.out)["prompt_text"],
            R"(T1:get_time{"type": "function", "function": {"name": "get_time", "parameters": )"
            R"({"type": "object"}}})");
  const std::string object = write_file(dir.path() / "object.json", R"({"name": "x"})").string();
  const Result bad = loom::test::run_binary(kTokenize, flags + " --tools " + object);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("object.json: --tools wants a JSON list of tool definitions, "
                                 "not a JSON object"));
  const Result alone =
      loom::test::run_binary(kTokenize, "-m " + dir.path().string() + " -p hi --tools " + tools);
  EXPECT_EQ(alone.exit_code, 1);
  EXPECT_THAT(alone.err, HasSubstr("--tools apply to --messages"));
}

TEST(ChatCli, BadInputIsAClearError) {
  loom::test::TempDir dir;
  const fs::path ok = write_file(dir.path() / "ok.json", R"([{"role": "user", "content": "hi"}])");
  const fs::path truncated = write_file(dir.path() / "truncated.json", R"([{"role": "user", )");
  const fs::path object =
      write_file(dir.path() / "object.json", R"({"role": "user", "content": "hi"})");
  const fs::path no_content = write_file(dir.path() / "no_content.json",
                                         R"([{"role": "user", "content": "hi"}, {"role": "x"}])");
  const fs::path tool_role =
      write_file(dir.path() / "tool_role.json", R"([{"role": "tool", "content": "42"}])");
  const std::string qwen = " -m " + kShared + "/fixtures/tokenizers/qwen3";
  const std::string stories = " -m " + kStories + " --chat-template " + kStoriesTemplate;
  struct Case {
    std::string tool, args;
    std::vector<std::string> want;
  };
  const std::vector<Case> bad = {
      {kTokenize,
       qwen + " --messages " + (dir.path() / "none.json").string(),
       {"--messages: cannot open " + (dir.path() / "none.json").string()}},
      {kTokenize,
       qwen + " --messages " + truncated.string(),
       {truncated.string() + ": not valid JSON"}},
      {kTokenize, qwen + " --messages " + object.string(), {object.string()}},
      {kTokenize, qwen + " --messages " + no_content.string(), {no_content.string(), "message 1"}},
      {kTokenize,
       qwen + " --messages " + ok.string() + " --chat-template-kwargs '{\"a\": }'",
       {"--chat-template-kwargs", "not valid JSON"}},
      {kTokenize,
       qwen + " --messages " + ok.string() + " --chat-template-kwargs '[true]'",
       {"--chat-template-kwargs", "not an object"}},
      // A folder without a template: the library's error, which names --chat-template.
      {kTokenize,
       " -m " + kShared + "/fixtures/tokenizers/llama2-json --messages " + ok.string(),
       {"llama2-json", "--chat-template"}},
      {kTokenize, qwen + " -p hi --messages " + ok.string(), {"give one of"}},
      {kGenerate, stories + " -p hi --messages " + ok.string(), {"--messages is the prompt"}},
      {kTokenize,
       qwen + " --messages " + ok.string() + " --chat-template " + kData + "/none.jinja",
       {kData + "/none.jinja"}},
      // Template errors name the file, line and column; raise_exception's message is shown.
      {kTokenize,
       qwen + " --messages " + ok.string() + " --chat-template " + kData + "/broken.jinja",
       {kData + "/broken.jinja:3:22: unexpected 'end of print statement'"}},
      {kGenerate,
       stories + " --messages " + tool_role.string(),
       {"stories.jinja knows the roles system, user and assistant, not tool"}},
      {kGenerate, stories + " --messages " + no_content.string(), {"message 1"}},
      {kGenerate, stories + " -cnv -p hi", {"--conversation"}},
      {kGenerate, " -m " + kStories + " -sys hi -p hi", {"--system applies to --conversation"}},
  };
  for (const Case& c : bad) {
    const Result r = loom::test::run_binary(c.tool, c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.err;
    for (const std::string& w : c.want) EXPECT_THAT(r.err, HasSubstr(w)) << c.args;
    EXPECT_TRUE(r.out.empty()) << c.args;
    // Found before any model is read: the error is the only line.
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

// One turn of a conversation on the terminal: types TEXT and returns what came back before the
// next prompt (the reply, notes, statistics), from the line after the echo of TEXT.
std::string turn(loom::test::PtySession& p, const std::string& text, size_t& pos) {
  p.type(text + "\n");
  const size_t echo = p.wait_for(text + "\n", pos);
  if (echo == std::string::npos) {
    ADD_FAILURE() << "no echo of " << text << " in:\n" << p.text();
    return "";
  }
  const size_t start = echo + text.size() + 1;
  const size_t prompt = p.wait_for("\n> ", start - 1);
  if (prompt == std::string::npos) {
    ADD_FAILURE() << "no prompt after " << text << " in:\n" << p.text();
    return "";
  }
  pos = prompt + 3;
  return p.text().substr(start, prompt + 1 - start);
}

// A turn's reply, and its statistics line (--verbose) where there is one.
struct Reply {
  std::string text, stats;
};
Reply split_reply(const std::string& block) {
  Reply r{block, ""};
  if (!r.text.empty() && r.text.back() == '\n') r.text.pop_back();
  const size_t last = r.text.rfind('\n');
  const size_t line = last == std::string::npos ? 0 : last + 1;
  if (r.text.compare(line, 5, "turn ") == 0) {
    r.stats = r.text.substr(line);
    r.text.erase(line == 0 ? 0 : line - 1);
  }
  return r;
}

// "turn 2: prompt 40 tokens, 31 reused, 9 evaluated in ..." -> {40, 31, 9}.
std::vector<int> turn_counts(const std::string& stats) {
  std::smatch m;
  const std::regex re("prompt (\\d+) tokens, (\\d+) reused, (\\d+) evaluated");
  if (!std::regex_search(stats, m, re)) {
    ADD_FAILURE() << "no token counts in: " << stats;
    return {0, 0, 0};
  }
  return {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])};
}

// Greedy turns on stories260K: each reply is the one loom-generate --messages gives for the
// conversation so far (saved with /save), later turns evaluate only the tokens they add, /clear
// starts over, Ctrl-D ends with status 0.
TEST(ChatCli, ConversationTurnsAnswerAsGenerateMessages) {
  loom::test::TempDir dir;
  const std::string common = " -n 24 -t 1 --temp 0";
  loom::test::PtySession p({kGenerate, "-m", kStories, "--chat-template", kStoriesTemplate, "-cnv",
                            "-sys", "Tell a story.", "-n", "24", "-t", "1", "--temp", "0", "-v"});
  ASSERT_TRUE(p.started());
  size_t pos = p.wait_for("> ");
  ASSERT_NE(pos, std::string::npos) << p.text();
  pos += 2;
  const std::vector<std::string> questions = {"Once upon a time", "What did she see?",
                                              "Was the dog happy?"};
  std::vector<Reply> replies;
  for (const std::string& q : questions) replies.push_back(split_reply(turn(p, q, pos)));
  for (size_t i = 0; i < replies.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_FALSE(replies[i].text.empty());
    const std::vector<int> n = turn_counts(replies[i].stats);
    EXPECT_EQ(n[0], n[1] + n[2]);
    if (i > 0) {
      // The history is in the KV cache: only the new turn is evaluated.
      EXPECT_GT(n[1], 0);
      EXPECT_LT(n[2], n[0] / 2);
    }
  }
  const fs::path saved = dir.path() / "conversation.json";
  EXPECT_THAT(turn(p, "/save " + saved.string(), pos), HasSubstr("saved 7 messages"));
  EXPECT_THAT(turn(p, "/clear", pos), HasSubstr("conversation cleared"));
  // Started over: the first question gets the first answer again.
  EXPECT_EQ(split_reply(turn(p, questions[0], pos)).text, replies[0].text);
  p.type("\x04");
  EXPECT_EQ(p.wait_exit(), 0) << p.text();

  const json conversation = json::parse(slurp(saved));
  ASSERT_EQ(conversation.size(), 7u) << conversation.dump();
  EXPECT_EQ(conversation[0], json({{"role", "system"}, {"content", "Tell a story."}}));
  for (size_t t = 0; t < questions.size(); ++t) {
    SCOPED_TRACE(t);
    EXPECT_EQ(conversation[1 + 2 * t], json({{"role", "user"}, {"content", questions[t]}}));
    const json& answer = conversation[2 + 2 * t];
    EXPECT_EQ(answer["role"], "assistant");
    EXPECT_EQ(answer["content"], replies[t].text);
    // loom-generate --messages on the conversation up to this answer gives the same reply.
    const json before(conversation.begin(), conversation.begin() + 2 + 2 * t);
    const fs::path f = write_file(dir.path() / "before.json", before.dump());
    const Result r = loom::test::run_binary(kGenerate, "-m " + kStories + " --chat-template " +
                                                           kStoriesTemplate + " --messages " +
                                                           f.string() + common + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["text"], replies[t].text);
  }
}

// Ctrl-C in the middle of a long reply stops that reply, and the conversation goes on; a reply
// that fills the context says so. llama2-gqa-bf16's random weights talk until stopped.
TEST(ChatCli, CtrlCStopsTheReplyAndTheNextTurnWorks) {
  loom::test::TempDir dir;
  loom::test::PtySession p({kGenerate, "-m", kShared + "/fixtures/llama2-gqa-bf16",
                            "--chat-template", kStoriesTemplate, "-cnv", "-c", "2048", "-n", "-1",
                            "--ignore-eos", "-t", "1", "--seed", "7"});
  ASSERT_TRUE(p.started());
  size_t pos = p.wait_for("> ");
  ASSERT_NE(pos, std::string::npos) << p.text();
  pos += 2;
  p.type("Once upon a time\n");
  const size_t echo = p.wait_for("Once upon a time\n", pos);
  ASSERT_NE(echo, std::string::npos) << p.text();
  const size_t start = echo + 17;
  ASSERT_TRUE(p.wait_for_size(start + 40)) << p.text();
  const std::string seen = p.text().substr(start, 40);
  p.type("\x03");
  const size_t stopped = p.wait_for("reply stopped", start);
  ASSERT_NE(stopped, std::string::npos) << p.text();
  EXPECT_EQ(p.text().find("context of 2048 tokens is full", start), std::string::npos);
  pos = p.wait_for("\n> ", stopped);
  ASSERT_NE(pos, std::string::npos) << p.text();
  pos += 3;
  // The next turn runs until the context is full, which is reported; the program goes on.
  const std::string second = turn(p, "Go on", pos);
  EXPECT_THAT(second, HasSubstr("the context of 2048 tokens is full"));
  const fs::path saved = dir.path() / "conversation.json";
  EXPECT_THAT(turn(p, "/save " + saved.string(), pos), HasSubstr("saved 4 messages"));
  p.type("\x04");
  EXPECT_EQ(p.wait_exit(), 0) << p.text();
  const json conversation = json::parse(slurp(saved));
  ASSERT_EQ(conversation.size(), 4u);
  // The stopped reply is kept as far as it went; the terminal may drop what it had not shown
  // when Ctrl-C came, so only the part seen before it is compared.
  EXPECT_EQ(conversation[1]["role"], "assistant");
  EXPECT_EQ(conversation[1]["content"].get<std::string>().substr(0, seen.size()), seen);
  EXPECT_EQ(conversation[2], json({{"role", "user"}, {"content", "Go on"}}));
}

// Ctrl-C at the prompt ends the program, as in llama-cli (status 130, 128 + SIGINT); /help and
// unknown commands answer on the terminal.
TEST(ChatCli, CommandsAndCtrlCAtThePrompt) {
  loom::test::PtySession p(
      {kGenerate, "-m", kStories, "--chat-template", kStoriesTemplate, "-cnv", "-t", "1"});
  ASSERT_TRUE(p.started());
  size_t pos = p.wait_for("> ");
  ASSERT_NE(pos, std::string::npos) << p.text();
  pos += 2;
  EXPECT_THAT(turn(p, "/help", pos), HasSubstr("/save FILE"));
  EXPECT_THAT(turn(p, "/bogus", pos), HasSubstr("unknown command /bogus"));
  p.type("\x03");
  EXPECT_EQ(p.wait_exit(), 130) << p.text();
}

// A reply that fills the context is reported; the next message does not fit and says so;
// /clear starts over.
TEST(ChatCli, FullContextIsReportedAndClearStartsOver) {
  loom::test::PtySession p({kGenerate, "-m", kStories, "--chat-template", kStoriesTemplate, "-cnv",
                            "-c", "64", "-n", "-1", "--ignore-eos", "-t", "1"});
  ASSERT_TRUE(p.started());
  size_t pos = p.wait_for("> ");
  ASSERT_NE(pos, std::string::npos) << p.text();
  pos += 2;
  const std::string first = turn(p, "Once upon a time", pos);
  EXPECT_THAT(first, HasSubstr("the context of 64 tokens is full"));
  EXPECT_THAT(turn(p, "And then?", pos), HasSubstr("loom-generate: "));
  EXPECT_THAT(turn(p, "/clear", pos), HasSubstr("conversation cleared"));
  EXPECT_EQ(turn(p, "Once upon a time", pos), first);
  p.type("\x04");
  EXPECT_EQ(p.wait_exit(), 0) << p.text();
}

// Messages from a pipe: standard output carries the replies alone, a line ending with '\'
// continues the message, and the end of the input ends the program with status 0.
TEST(ChatCli, ConversationFromAPipeKeepsStdoutForReplies) {
  loom::test::TempDir dir;
  const fs::path in = write_file(dir.path() / "in.txt", "Once upon a\\\ntime\n");
  const std::string flags = "-m " + kStories + " --chat-template " + kStoriesTemplate;
  const Result r = loom::test::run_binary(kGenerate, flags + " -cnv -n 16 -t 1 < " + in.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path messages =
      write_file(dir.path() / "m.json", R"([{"role": "user", "content": "Once upon a\ntime"}])");
  const Result one = loom::test::run_binary(
      kGenerate, flags + " --messages " + messages.string() + " -n 16 -t 1 --json");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(r.out, json::parse(one.out)["text"].get<std::string>() + "\n");
  EXPECT_THAT(r.err, HasSubstr("> "));
}

}  // namespace

namespace {

// The tools read --messages and --chat-template-kwargs keeping objects' key order, so tojson
// writes them as transformers' json.dumps of the user's dicts does (expected text: Python's
// json.dumps({"role": "user", "content": "hi", "zeta": 1, "alpha": 2}) and of {"z": 1, "a": 2}).
TEST(ChatCli, ObjectsKeepTheirKeyOrder) {
  loom::test::TempDir dir;
  const fs::path tmpl =
      write_file(dir.path() / "order.jinja", "{{ messages[0] | tojson }}|{{ cfg | tojson }}");
  const fs::path messages =
      write_file(dir.path() / "messages.json",
                 R"([{"role": "user", "content": "hi", "zeta": 1, "alpha": 2}])");
  const Result r = loom::test::run_binary(
      kTokenize, "-m " + kStories + " --chat-template " + tmpl.string() + " --messages " +
                     messages.string() + R"( --chat-template-kwargs '{"cfg": {"z": 1, "a": 2}}')" +
                     " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["prompt_text"],
            R"({"role": "user", "content": "hi", "zeta": 1, "alpha": 2}|{"z": 1, "a": 2})");
}

}  // namespace
