// Chat templates and conversations: where a folder's template is found, the variables it sees,
// bad input, the prompt ids of real tokenizers' templates, and a conversation on a real model
// whose KV cache is reused across turns.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "loom/chat.h"
#include "loom/loom.h"
#include "support/checkpoint_writer.h"
#include "support/error_of.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;  // objects keep their key order, as chat.h takes them
using loom::ChatTemplate;
using loom::test::error_of;
using loom::test::TempDir;

const std::string kShared = LOOM_SHARED_DIR;

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

const json kHello = json::array({{{"role", "user"}, {"content", "Hello"}}});

// ---- where the template comes from ----

TEST(ChatTemplateSource, TokenizerConfigString) {
  TempDir dir;
  write(dir.path() / "tokenizer_config.json",
        json{{"chat_template", "[{{ messages[0].content }}]"}}.dump());
  const ChatTemplate t = ChatTemplate::load(dir.path());
  EXPECT_EQ(t.render(kHello), "[Hello]");
  EXPECT_EQ(t.source(), "[{{ messages[0].content }}]");
  EXPECT_EQ(t.origin(), (dir.path() / "tokenizer_config.json").string() + " (chat_template)");
}

TEST(ChatTemplateSource, NamedTemplatesInTheConfig) {
  TempDir dir;
  write(dir.path() / "tokenizer_config.json",
        json{{"chat_template", json::array({{{"name", "default"}, {"template", "D"}},
                                            {{"name", "tool_use"}, {"template", "T"}}})}}
            .dump());
  EXPECT_EQ(ChatTemplate::load(dir.path()).render(kHello), "D");
  EXPECT_EQ(ChatTemplate::load(dir.path(), "tool_use").render(kHello), "T");
  const std::string e = error_of([&] { ChatTemplate::load(dir.path(), "rag"); });
  EXPECT_NE(e.find("tokenizer_config.json has no chat template named \"rag\""), std::string::npos)
      << e;
  EXPECT_NE(e.find("\"default\", \"tool_use\""), std::string::npos) << e;
  EXPECT_EQ(ChatTemplate::names(dir.path()), (std::vector<std::string>{"default", "tool_use"}));
}

TEST(ChatTemplateSource, NamesOfAFolderWithNone) {
  TempDir dir;
  write(dir.path() / "tokenizer_config.json", json{{"bos_token", "<s>"}}.dump());
  EXPECT_TRUE(ChatTemplate::names(dir.path()).empty());
  write(dir.path() / "chat_template.jinja", "J");
  EXPECT_EQ(ChatTemplate::names(dir.path()), std::vector<std::string>{"default"});
}

TEST(ChatTemplateSource, NamedTemplatesWithoutADefault) {
  TempDir dir;
  write(dir.path() / "tokenizer_config.json",
        json{{"chat_template", json::array({{{"name", "rag"}, {"template", "R"}},
                                            {{"name", "tool_use"}, {"template", "T"}}})}}
            .dump());
  EXPECT_EQ(ChatTemplate::load(dir.path(), "rag").render(kHello), "R");
  const std::string e = error_of([&] { ChatTemplate::load(dir.path()); });
  EXPECT_NE(e.find("none named \"default\""), std::string::npos) << e;
  EXPECT_NE(e.find("\"rag\", \"tool_use\""), std::string::npos) << e;
}

TEST(ChatTemplateSource, BadConfigEntriesNameTheKey) {
  TempDir dir;
  write(dir.path() / "tokenizer_config.json", R"({"chat_template": 5})");
  std::string e = error_of([&] { ChatTemplate::load(dir.path()); });
  EXPECT_NE(e.find("tokenizer_config.json: key 'chat_template' must be a string or a list"),
            std::string::npos)
      << e;
  write(dir.path() / "tokenizer_config.json", R"({"chat_template": [{"name": "default"}]})");
  e = error_of([&] { ChatTemplate::load(dir.path()); });
  EXPECT_NE(e.find("key 'chat_template'[0] must be an object with string \"name\" and "
                   "\"template\""),
            std::string::npos)
      << e;
  write(dir.path() / "tokenizer_config.json", R"({"chat_template": )");
  e = error_of([&] { ChatTemplate::load(dir.path()); });
  EXPECT_NE(e.find("tokenizer_config.json: invalid JSON"), std::string::npos) << e;
}

// transformers 5 reads chat_template.jinja (and additional_chat_templates/NAME.jinja) in
// preference to tokenizer_config.json's chat_template.
TEST(ChatTemplateSource, JinjaFileWinsOverTheConfig) {
  TempDir dir;
  write(dir.path() / "tokenizer_config.json", json{{"chat_template", "config"}}.dump());
  write(dir.path() / "chat_template.jinja", "file {{ messages | length }}\n");
  write(dir.path() / "additional_chat_templates" / "tool_use.jinja", "extra");
  const ChatTemplate t = ChatTemplate::load(dir.path());
  EXPECT_EQ(t.render(kHello), "file 1");  // jinja2 drops one trailing newline
  EXPECT_EQ(t.origin(), (dir.path() / "chat_template.jinja").string());
  EXPECT_EQ(ChatTemplate::load(dir.path(), "tool_use").render(kHello), "extra");
}

TEST(ChatTemplateSource, JinjaFileAlone) {
  TempDir dir;
  write(dir.path() / "chat_template.jinja", "only the file");
  EXPECT_EQ(ChatTemplate::load(dir.path()).render(kHello), "only the file");
}

TEST(ChatTemplateSource, ChatTemplateJson) {
  TempDir dir;
  write(dir.path() / "chat_template.json", json{{"chat_template", "from json"}}.dump());
  EXPECT_EQ(ChatTemplate::load(dir.path()).render(kHello), "from json");
  write(dir.path() / "chat_template.json", json{{"template", "x"}}.dump());
  const std::string e = error_of([&] { ChatTemplate::load(dir.path()); });
  EXPECT_NE(e.find("chat_template.json: key 'chat_template' must be a string"), std::string::npos)
      << e;
}

TEST(ChatTemplateSource, MissingTemplateSaysHowToGiveOne) {
  TempDir dir;
  write(dir.path() / "tokenizer_config.json", R"({"bos_token": "<s>"})");
  EXPECT_EQ(error_of([&] { ChatTemplate::load(dir.path()); }),
            dir.path().string() +
                " has no chat template (tokenizer_config.json chat_template, chat_template.jinja);"
                " give one with --chat-template FILE");
}

TEST(ChatTemplateSource, FromFileTakesTheFoldersTokens) {
  TempDir dir;
  write(dir.path() / "tokenizer_config.json", R"({"bos_token": "<s>", "chat_template": "x"})");
  write(dir.path() / "my.jinja", "{{ bos_token }}{{ messages[0].content }}");
  const ChatTemplate t = ChatTemplate::from_file(dir.path() / "my.jinja", dir.path());
  EXPECT_EQ(t.render(kHello), "<s>Hello");
  EXPECT_EQ(t.origin(), (dir.path() / "my.jinja").string());
  const std::string e =
      error_of([&] { ChatTemplate::from_file(dir.path() / "absent.jinja", dir.path()); });
  EXPECT_NE(e.find("absent.jinja"), std::string::npos) << e;
}

// ---- the variables ----

// transformers passes tokenizer.special_tokens_map: the named tokens that are set, as strings
// (an AddedToken object's content), special_tokens_map.json filling in for the config; not the
// extra (additional) special tokens.
TEST(ChatTemplateVariables, SpecialTokens) {
  TempDir dir;
  write(dir.path() / "tokenizer_config.json",
        json{
            {"bos_token", {{"__type", "AddedToken"}, {"content", "<bos>"}}},
            {"eos_token", "<eos>"},
            {"unk_token", nullptr},
            {"additional_special_tokens", {"<x>"}},
        }
            .dump());
  write(dir.path() / "special_tokens_map.json", R"({"pad_token": "<pad>"})");
  write(dir.path() / "chat_template.jinja",
        "{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{{ unk_token is defined }}|"
        "{{ sep_token is defined }}|{{ additional_special_tokens is defined }}");
  EXPECT_EQ(ChatTemplate::load(dir.path()).render(kHello), "<bos>|<eos>|<pad>|False|False|False");
}

TEST(ChatTemplateVariables, RealTokenizerFolders) {
  const auto probe = [](const std::string& name) {
    TempDir dir;  // the folder's config with a probe template beside it
    fs::copy_file(kShared + "/fixtures/tokenizers/" + name + "/tokenizer_config.json",
                  dir.path() / "tokenizer_config.json");
    write(dir.path() / "probe.jinja",
          "{{ bos_token is defined and bos_token }}|{{ eos_token }}|"
          "{{ pad_token is defined and pad_token }}|{{ unk_token is defined }}");
    return ChatTemplate::from_file(dir.path() / "probe.jinja", dir.path()).render(kHello);
  };
  // qwen3: bos_token and unk_token are null.
  EXPECT_EQ(probe("qwen3"), "False|<|im_end|>|<|endoftext|>|False");
  EXPECT_EQ(probe("llama3"), "<|begin_of_text|>|<|end_of_text|>|False|False");
}

TEST(ChatTemplateVariables, GenerationPromptToolsAndKwargs) {
  const ChatTemplate t = ChatTemplate::from_source(
      "{{ bos_token }}{{ messages[0].role }}{% if add_generation_prompt %}+{% endif %}"
      "|{{ tools is defined }}{{ tools is none }}{% if tools %}{{ tools[0].function.name }}"
      "{% endif %}|{{ documents is none }}|{{ enable_thinking is defined and enable_thinking }}",
      "t", {{"bos_token", "<s>"}});
  EXPECT_EQ(t.render(kHello), "<s>user+|TrueTrue|True|False");
  EXPECT_EQ(t.render(kHello, {.add_generation_prompt = false}), "<s>user|TrueTrue|True|False");
  const json tools = json::parse(
      R"([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}])");
  EXPECT_EQ(t.render(kHello, {.tools = tools}), "<s>user+|TrueFalseget_weather|True|False");
  // The kwargs override the special tokens, as transformers' {**special_tokens_map, **kwargs}.
  EXPECT_EQ(t.render(kHello, {.extra = {{"bos_token", "[BOS]"}, {"enable_thinking", true}}}),
            "[BOS]user+|TrueTrue|True|True");
  std::string e = error_of([&] { t.render(kHello, {.extra = {{"messages", json::array()}}}); });
  EXPECT_NE(e.find("cannot set \"messages\""), std::string::npos) << e;
  e = error_of([&] { t.render(kHello, {.extra = json::array()}); });
  EXPECT_NE(e.find("must be a JSON object"), std::string::npos) << e;
  e = error_of([&] { t.render(kHello, {.tools = json::object()}); });
  EXPECT_NE(e.find("tools must be a JSON list"), std::string::npos) << e;
}

// tojson writes an object's keys in the order given, as Python's json.dumps of a dict does.
TEST(ChatTemplateVariables, ToolsKeepTheirKeyOrder) {
  const ChatTemplate t = ChatTemplate::from_source("{{ tools[0] | tojson }}", "t");
  const json tools = json::parse(
      R"([{"type": "function", "function": {"name": "f", "parameters": {"b": 1, "a": 2}}}])");
  EXPECT_EQ(t.render(kHello, {.tools = tools}),
            R"({"type": "function", "function": {"name": "f", "parameters": {"b": 1, "a": 2}}})");
}

TEST(ChatTemplateVariables, StrftimeNowUsesTheGivenTime) {
  const ChatTemplate t = ChatTemplate::from_source("{{ strftime_now('%d %b %Y') }}", "t");
  // 1 March 2024, 12:00 UTC: the same date in every time zone within 12 hours of UTC.
  EXPECT_EQ(t.render(kHello, {.now = std::time_t{1709294400}}), "01 Mar 2024");
}

// ---- bad input ----

TEST(ChatTemplateErrors, SyntaxErrorNamesTheFileAndLine) {
  TempDir dir;
  write(dir.path() / "chat_template.jinja", "line one\n{% if %}\n");
  const std::string e = error_of([&] { ChatTemplate::load(dir.path()); });
  EXPECT_EQ(e.rfind((dir.path() / "chat_template.jinja").string() + ":2:", 0), 0u) << e;
}

TEST(ChatTemplateErrors, RaiseExceptionMessageIsShown) {
  const ChatTemplate t = ChatTemplate::from_source(
      "{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}"
      "{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
      "{{ m.content }}{% endfor %}",
      "t");
  EXPECT_EQ(t.render(kHello), "Hello");
  const std::string e = error_of([&] {
    t.render(json::array({{{"role", "system"}, {"content", "x"}}}));
  });
  EXPECT_NE(e.find("Only user and assistant roles are supported!"), std::string::npos) << e;
}

TEST(CheckMessages, AcceptsOpenAIShapes) {
  loom::check_messages(json::parse(R"([
    {"role": "system", "content": "s"},
    {"role": "user", "content": [{"type": "text", "text": "hi"}]},
    {"role": "assistant", "content": null, "tool_calls": [{"type": "function"}]},
    {"role": "assistant", "tool_calls": []},
    {"role": "tool", "content": "42", "tool_call_id": "a"}
  ])"),
                       "m.json");
  loom::check_messages(json::array(), "m.json");
}

TEST(CheckMessages, ErrorsNameTheOriginAndIndex) {
  const auto error = [](const char* text) {
    return error_of([&] { loom::check_messages(json::parse(text), "messages.json"); });
  };
  EXPECT_EQ(error(R"({"role": "user"})"),
            "messages.json: the messages must be a JSON list of {\"role\", \"content\"} objects, "
            "got {\"role\":\"user\"}");
  EXPECT_EQ(
      error(R"([{"role": "user", "content": "a"}, "hi"])"),
      "messages.json: message 1: must be an object with \"role\" and \"content\", got \"hi\"");
  EXPECT_EQ(error(R"([{"content": "a"}])"), "messages.json: message 0: has no \"role\"");
  EXPECT_EQ(error(R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                      {"role": 5, "content": "c"}])"),
            "messages.json: message 2: \"role\" must be a string, got 5");
  EXPECT_EQ(error(R"([{"role": "user"}])"), "messages.json: message 0: has no \"content\"");
  EXPECT_EQ(error(R"([{"role": "user", "content": 7}])"),
            "messages.json: message 0: \"content\" must be a string, null or a list of content "
            "parts, got 7");
  EXPECT_EQ(error(R"([{"role": "user", "content": [{"text": "x"}]}])"),
            "messages.json: message 0: content part 0 must be an object with a string \"type\", "
            "got {\"text\":\"x\"}");
}

TEST(CheckMessages, RenderChecksTheShape) {
  const ChatTemplate t = ChatTemplate::from_source("x", "t");
  const std::string e = error_of([&] { t.render(json::array({{{"role", 1}}})); });
  EXPECT_EQ(e, "messages: message 0: \"role\" must be a string, got 1");
}

// ---- prompt ids of real templates ----

// The ids of a rendered prompt are the special tokens the template wrote, each one id, and the
// text between them encoded without special tokens: no BOS is added to the template's own.
std::vector<int> pieces(const loom::Tokenizer& tok, const std::vector<std::string>& parts) {
  std::vector<int> ids;
  for (const std::string& p : parts) {
    if (auto id = tok.token_id(p); id && tok.is_special(*id)) {
      ids.push_back(*id);
    } else {
      const std::vector<int> more = tok.encode(p, /*add_special=*/false, /*parse_special=*/false);
      ids.insert(ids.end(), more.begin(), more.end());
    }
  }
  return ids;
}

const json kConversation = json::parse(R"([
  {"role": "system", "content": "You are terse."},
  {"role": "user", "content": "What is 2+2?"},
  {"role": "assistant", "content": "4"},
  {"role": "user", "content": "And 3+3? "}
])");

TEST(ChatPromptIds, Llama3) {
  const fs::path dir = kShared + "/fixtures/tokenizers/llama3";
  const loom::Tokenizer tok = loom::Tokenizer::load(dir, -1);
  const std::string text = ChatTemplate::load(dir).render(kConversation);
  EXPECT_EQ(
      text,
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n");
  const std::vector<int> ids = loom::encode_chat_prompt(tok, text);
  EXPECT_EQ(ids, pieces(tok, {"<|begin_of_text|>",
                              "<|start_header_id|>",
                              "system",
                              "<|end_header_id|>",
                              "\n\nYou are terse.",
                              "<|eot_id|>",
                              "<|start_header_id|>",
                              "user",
                              "<|end_header_id|>",
                              "\n\nWhat is 2+2?",
                              "<|eot_id|>",
                              "<|start_header_id|>",
                              "assistant",
                              "<|end_header_id|>",
                              "\n\n4",
                              "<|eot_id|>",
                              "<|start_header_id|>",
                              "user",
                              "<|end_header_id|>",
                              "\n\nAnd 3+3?",
                              "<|eot_id|>",
                              "<|start_header_id|>",
                              "assistant",
                              "<|end_header_id|>",
                              "\n\n"}));
  EXPECT_EQ(ids.front(), 128000);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 128000), 1);  // no second BOS
}

TEST(ChatPromptIds, Qwen3WithoutThinking) {
  const fs::path dir = kShared + "/fixtures/tokenizers/qwen3";
  const loom::Tokenizer tok = loom::Tokenizer::load(dir, -1);
  const std::string text =
      ChatTemplate::load(dir).render(kConversation, {.extra = {{"enable_thinking", false}}});
  EXPECT_EQ(text,
            "<|im_start|>system\nYou are terse.<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n4<|im_end|>\n"
            "<|im_start|>user\nAnd 3+3? <|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(
      loom::encode_chat_prompt(tok, text),
      pieces(tok, {"<|im_start|>", "system\nYou are terse.", "<|im_end|>", "\n", "<|im_start|>",
                   "user\nWhat is 2+2?", "<|im_end|>", "\n", "<|im_start|>", "assistant\n4",
                   "<|im_end|>", "\n", "<|im_start|>", "user\nAnd 3+3? ", "<|im_end|>", "\n",
                   "<|im_start|>", "assistant\n<think>\n\n</think>\n\n"}));
}

// ---- a conversation on a real model ----

const loom::Model& stories() {
  static const loom::Model m = loom::Model::load(kShared + "/models/stories260K");
  return m;
}

// A plain template: each turn appends to the previous prompt. A reply follows "assistant:" as
// the generation prompt left it (the model wrote its own leading space), so the reply's text
// encodes again to the tokens generated, as real templates' replies do.
const char* kAppendTemplate =
    "{% for m in messages %}{% if m.role == 'assistant' %}assistant:{{ m.content }}"
    "{% else %}{{ m.role }}: {{ m.content }}{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}";

loom::GenerateOptions greedy(int max_tokens) {
  loom::GenerateOptions o;
  o.max_tokens = max_tokens;
  o.sampling = loom::SamplerParams::greedy();
  o.top_logprobs = 0;
  return o;
}

// What a fresh session generates from the whole rendered conversation.
loom::GenerateResult fresh(const ChatTemplate& t, const json& messages,
                           const loom::GenerateOptions& o, const loom::Model& model) {
  const std::vector<int> ids = loom::encode_chat_prompt(model.tokenizer(), t.render(messages));
  loom::Session s(model, {.ctx_size = 512, .threads = 2});
  return loom::generate(s, ids, o);
}

json without_last(json messages) {
  messages.erase(messages.end() - 1);
  return messages;
}

// The reply of each turn is what a fresh session fed the whole rendered conversation generates
// (the logits agree up to summation order: decode steps sum in another order than a prompt's).
void expect_same_as_fresh(const ChatTemplate& t, const loom::Chat& chat, const loom::ChatTurn& turn,
                          const loom::GenerateOptions& o, const loom::Model& model = stories()) {
  const loom::GenerateResult want = fresh(t, without_last(chat.messages()), o, model);
  EXPECT_EQ(turn.result.ids, want.ids);
  EXPECT_EQ(turn.result.text, want.text);
  ASSERT_EQ(turn.result.logprobs.size(), want.logprobs.size());
  for (size_t i = 0; i < want.logprobs.size(); ++i) {
    EXPECT_NEAR(turn.result.logprobs[i].logprob, want.logprobs[i].logprob, 1e-4) << "token " << i;
  }
}

// The cache holds the prompt and every generated token but the last sampled one (or all of them
// when an EOS, which is not among the ids, ended the reply).
int expected_position(const loom::ChatTurn& turn) {
  const int n = static_cast<int>(turn.result.ids.size());
  return turn.prompt_tokens + (turn.result.stop == loom::StopReason::Eos ? n : n - 1);
}

TEST(Chat, TurnsReuseTheCacheAndMatchAFreshSession) {
  const ChatTemplate t = ChatTemplate::from_source(kAppendTemplate, "append");
  loom::Chat chat(stories(), ChatTemplate::from_source(kAppendTemplate, "append"),
                  {.system = "Once upon a time", .session = {.ctx_size = 512, .threads = 2}});
  const loom::GenerateOptions o = greedy(12);
  int previous_position = 0;
  for (const char* text : {"There was a little girl.", "She liked to play.", "The sun was hot."}) {
    const loom::ChatTurn turn = chat.send(text, o);
    SCOPED_TRACE(text);
    ASSERT_FALSE(turn.result.ids.empty());
    expect_same_as_fresh(t, chat, turn, o);
    EXPECT_EQ(turn.reused_tokens, previous_position);
    EXPECT_EQ(turn.result.n_prompt, turn.prompt_tokens - turn.reused_tokens);
    EXPECT_EQ(chat.session().position(), expected_position(turn));
    EXPECT_EQ(chat.messages().back(), (json{{"role", "assistant"}, {"content", turn.result.text}}));
    previous_position = chat.session().position();
  }
  EXPECT_EQ(chat.messages().size(), 7u);
  EXPECT_EQ(chat.messages()[0], (json{{"role", "system"}, {"content", "Once upon a time"}}));
}

// GenerateOptions::history: tokens the session already holds count in the penalties as if they
// had been part of the prompt.
TEST(GenerateHistory, PenaltiesSeeTheTokensBeforeThePrompt) {
  const std::vector<int> ids = loom::encode_chat_prompt(
      stories().tokenizer(), "Once upon a time there was a little girl named Lily. She");
  const std::span<const int> all(ids);
  loom::GenerateOptions o = greedy(16);
  o.sampling.repeat_penalty = 1.5f;
  o.sampling.repeat_last_n = -1;
  loom::Session whole(stories(), {.ctx_size = 128, .threads = 2});
  const loom::GenerateResult want = loom::generate(whole, all, o);

  const auto split_run = [&](bool with_history) {
    loom::Session s(stories(), {.ctx_size = 128, .threads = 2});
    s.prefill(all.first(8));
    loom::GenerateOptions so = o;
    if (with_history) so.history = all.first(8);
    return loom::generate(s, all.subspan(8), so);
  };
  EXPECT_EQ(split_run(true).ids, want.ids);
  // Without it the first eight tokens go unpenalized, and the text differs: the test can fail.
  EXPECT_NE(split_run(false).ids, want.ids);
}

// With penalties over the whole sequence, each turn penalizes the whole conversation, as a
// fresh session given the whole prompt does.
TEST(Chat, PenaltiesCoverTheWholeConversation) {
  const ChatTemplate t = ChatTemplate::from_source(kAppendTemplate, "append");
  loom::Chat chat(stories(), ChatTemplate::from_source(kAppendTemplate, "append"),
                  {.session = {.ctx_size = 512, .threads = 2}});
  loom::GenerateOptions o = greedy(10);
  o.sampling.repeat_penalty = 1.3f;
  o.sampling.repeat_last_n = -1;
  for (const char* text : {"Tom and Sue went to the park.", "They saw a big dog."}) {
    const loom::ChatTurn turn = chat.send(text, o);
    SCOPED_TRACE(text);
    expect_same_as_fresh(t, chat, turn, o);
  }
}

// Replaces every assistant reply but the last with "...", as Qwen3 drops old thinking.
const char* kRewriteTemplate =
    "{% for m in messages %}{% if m.role == 'assistant' and loop.index0 < messages|length - 2 %}"
    "assistant: ...{% elif m.role == 'assistant' %}assistant:{{ m.content }}"
    "{% else %}{{ m.role }}: {{ m.content }}{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}";

// A template that rewrites an earlier turn (as Qwen3 drops old thinking): the turn re-evaluates
// only from the first token that changed.
TEST(Chat, RewrittenHistoryIsReevaluatedFromTheFirstChange) {
  const char* source = kRewriteTemplate;
  const ChatTemplate t = ChatTemplate::from_source(source, "rewrite");
  loom::Chat chat(stories(), ChatTemplate::from_source(source, "rewrite"),
                  {.session = {.ctx_size = 512, .threads = 2}});
  const loom::GenerateOptions o = greedy(8);
  const loom::ChatTurn first = chat.send("Tom had a red ball.", o);
  const std::vector<int> first_prompt =
      loom::encode_chat_prompt(stories().tokenizer(), "user: Tom had a red ball.\nassistant:");
  EXPECT_EQ(first.prompt_tokens, static_cast<int>(first_prompt.size()));
  EXPECT_EQ(first.reused_tokens, 0);
  const loom::ChatTurn second = chat.send("He threw it.", o);  // appends
  EXPECT_EQ(second.reused_tokens, expected_position(first));
  const int before_third = chat.session().position();
  const loom::ChatTurn third = chat.send("It went far.", o);  // the first reply becomes "..."
  SCOPED_TRACE(chat.messages().dump());
  // The first reply's text is replaced by "...": the cache is kept as far as the tokens of the
  // first turn (its prompt, then its reply) agree with the new prompt's.
  std::vector<int> first_turn = first_prompt;
  first_turn.insert(first_turn.end(), first.result.ids.begin(), first.result.ids.end());
  const std::vector<int> third_prompt =
      loom::encode_chat_prompt(stories().tokenizer(), t.render(without_last(chat.messages())));
  const auto common =
      std::mismatch(first_turn.begin(), first_turn.end(), third_prompt.begin(), third_prompt.end());
  EXPECT_EQ(third.reused_tokens, common.first - first_turn.begin());
  EXPECT_GE(third.reused_tokens, static_cast<int>(first_prompt.size()));
  EXPECT_LT(third.reused_tokens, before_third);
  EXPECT_EQ(third.result.n_prompt, third.prompt_tokens - third.reused_tokens);
  expect_same_as_fresh(t, chat, third, o);
}

// A sliding-window cache cannot go back to a prefix whose window it has overwritten: the turn
// starts over and evaluates the whole conversation again.
TEST(Chat, SlidingWindowStartsOverWhenThePrefixIsGone) {
  TempDir dir;
  for (const auto& e : fs::directory_iterator(kShared + "/models/stories260K")) {
    if (e.path().filename() != "config.json") {
      fs::create_symlink(e.path(), dir.path() / e.path().filename());
    }
  }
  json config = json::parse(std::ifstream(kShared + "/models/stories260K/config.json"));
  config["model_type"] = "mistral";
  config["architectures"] = {"MistralForCausalLM"};
  config["sliding_window"] = 8;
  write(dir.path() / "config.json", config.dump());
  const loom::Model model = loom::Model::load(dir.path());
  ASSERT_EQ(model.config().sliding_window, 8);

  const ChatTemplate t = ChatTemplate::from_source(kRewriteTemplate, "rewrite");
  // With batches of 4 the windowed layers' ring keeps the last 256 positions (window + batch
  // rounded up to the attention kernels' span): a long second reply pushes the first turn out.
  loom::Chat chat(model, ChatTemplate::from_source(kRewriteTemplate, "rewrite"),
                  {.session = {.ctx_size = 512, .threads = 2, .batch_size = 4}});
  const loom::GenerateOptions o = greedy(8);
  loom::GenerateOptions long_reply = greedy(280);
  long_reply.ignore_eos = true;
  chat.send("Tom had a red ball.", o);
  const int after_first = chat.session().position();
  const loom::ChatTurn second = chat.send("He threw it.", long_reply);  // appends
  EXPECT_EQ(second.reused_tokens, after_first);
  expect_same_as_fresh(t, chat, second, long_reply, model);
  const loom::ChatTurn third = chat.send("It went far.", o);  // rewrites the first reply
  EXPECT_EQ(third.reused_tokens, 0);
  EXPECT_EQ(third.result.n_prompt, third.prompt_tokens);
  expect_same_as_fresh(t, chat, third, o, model);
}

TEST(Chat, StoppedReplyIsKeptAndClearKeepsTheSystemPrefix) {
  loom::Chat chat(stories(), ChatTemplate::from_source(kAppendTemplate, "append"),
                  {.system = "Lily and Ben", .session = {.ctx_size = 512, .threads = 2}});
  int seen = 0;
  const loom::ChatTurn turn = chat.send("Once upon a time", greedy(20), [&](const auto&) {
    return ++seen < 3;  // Ctrl-C after the third token
  });
  EXPECT_EQ(turn.result.stop, loom::StopReason::Callback);
  EXPECT_EQ(turn.result.ids.size(), 3u);
  EXPECT_EQ(chat.messages().back()["content"], turn.result.text);
  EXPECT_EQ(chat.session().position(), turn.prompt_tokens + 2);

  chat.clear();
  ASSERT_EQ(chat.messages().size(), 1u);
  EXPECT_EQ(chat.messages()[0]["content"], "Lily and Ben");
  const loom::ChatTurn again = chat.send("There was a dog", greedy(4));
  // "system: Lily and Ben\nuser: " is shared with the cleared conversation.
  const int system_tokens = static_cast<int>(
      loom::encode_chat_prompt(stories().tokenizer(), "system: Lily and Ben\nuser:").size());
  EXPECT_GE(again.reused_tokens, system_tokens - 1);
  EXPECT_EQ(chat.messages().size(), 3u);
}

TEST(Chat, FailedTurnLeavesTheConversationAsItWas) {
  loom::Chat chat(
      stories(),
      ChatTemplate::from_source("{% for m in messages %}{% if m.content == 'bad' %}"
                                "{{ raise_exception('no bad words') }}{% endif %}{{ m.content }}\n"
                                "{% endfor %}",
                                "t"),
      {.session = {.ctx_size = 32, .threads = 2}});
  chat.send("Once", greedy(2));
  const json before = chat.messages();
  EXPECT_NE(error_of([&] { chat.send("bad", greedy(2)); }).find("no bad words"), std::string::npos);
  EXPECT_EQ(chat.messages(), before);
  const std::string e = error_of([&] {
    chat.send("Once upon a time there was a little girl named Lily who liked to play outside",
              greedy(2));
  });
  EXPECT_NE(e.find("does not fit the context of 32 tokens"), std::string::npos) << e;
  EXPECT_EQ(chat.messages(), before);
  EXPECT_NE(error_of([&] { chat.send("Once", greedy(-1)); }).find("max_tokens"), std::string::npos);
  EXPECT_EQ(chat.messages(), before);
  chat.send("Once", greedy(2));  // and it goes on
  EXPECT_EQ(chat.messages().size(), before.size() + 2);
}

}  // namespace
