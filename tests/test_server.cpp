// loom-server as clients see it: started on a free loopback port, driven over HTTP (cpp-httplib's
// client), stopped by SIGTERM. OpenAI's shapes, streaming, n, the shared prompt cache, batch
// invariance from outside, and each fault case with its status and error object.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

const std::string kBin = std::string(LOOM_BIN_DIR) + "/loom-server";
const std::string kTemplate = std::string(LOOM_SOURCE_DIR) + "/tests/data/chat_cli/stories.jinja";

// A loom-server child process on a port of its choosing (--port 0), ready once constructed.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> args) {
    int err[2];
    if (pipe(err) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // the test ending any way ends the server too
      dup2(err[1], 2);
      close(err[0]);
      std::vector<std::string> all = {kBin, "--port", "0", "-t", "2"};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (std::string& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(kBin.c_str(), argv.data());
      _exit(127);
    }
    close(err[1]);
    err_ = fdopen(err[0], "r");
    char line[4096];
    while (std::fgets(line, sizeof line, err_)) {
      log_ += line;
      const std::string l = line;
      if (const size_t at = l.find("listening on http://127.0.0.1:"); at != std::string::npos) {
        port_ = std::stoi(l.substr(at + 30));
      }
      if (l.find("model loaded") != std::string::npos || l.find("error") != std::string::npos) {
        break;
      }
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) stop();
    if (err_) std::fclose(err_);
  }
  // SIGTERM, then the exit status.
  int stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  int port() const { return port_; }
  const std::string& log() const { return log_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }

 private:
  pid_t pid_ = -1;
  FILE* err_ = nullptr;
  int port_ = 0;
  std::string log_;
};

ServerProcess& stories() {
  static ServerProcess s({"--chat-template", kTemplate, "--parallel", "4", "--max-body", "65536"});
  return s;
}

json post(const ServerProcess& s, const std::string& path, const json& body, int* status = nullptr,
          const httplib::Headers& headers = {}) {
  httplib::Client c = s.client();
  auto res = c.Post(path.c_str(), headers, body.dump(), "application/json");
  if (!res) throw std::runtime_error("no response from " + path);
  if (status) *status = res->status;
  return json::parse(res->body);
}

// The data lines of an SSE body, [DONE] last.
std::vector<std::string> events(const std::string& body) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t end; (end = body.find("\n\n", at)) != std::string::npos; at = end + 2) {
    const std::string e = body.substr(at, end - at);
    EXPECT_EQ(e.rfind("data: ", 0), 0u) << e;
    out.push_back(e.substr(6));
  }
  EXPECT_EQ(at, body.size()) << "a partial event at the end";
  return out;
}

TEST(Server, HealthModelsAndTheChatPage) {
  ServerProcess& s = stories();
  ASSERT_GT(s.port(), 0) << s.log();
  httplib::Client c = s.client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["status"], "ok");
  auto m = c.Get("/v1/models");
  ASSERT_TRUE(m);
  const json models = json::parse(m->body);
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "stories260K");
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("/v1/chat/completions"));
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
}

// Greedy: the text loom-generate and transformers give for the prompt (stories260K's golden).
TEST(Server, CompletionGreedyIsTheGoldenText) {
  int status = 0;
  const json r =
      post(stories(), "/v1/completions",
           {{"prompt", "Once upon a time"}, {"max_tokens", 20}, {"temperature", 0}}, &status);
  ASSERT_EQ(status, 200) << r.dump();
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["choices"][0]["text"],
            ", there was a little girl named Lily. She loved to play outsid");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(r["usage"]["completion_tokens"], 20);
  EXPECT_EQ(r["usage"]["total_tokens"], 25);
  EXPECT_EQ(r["model"], "stories260K");
  EXPECT_THAT(r["id"].get<std::string>(), ::testing::StartsWith("cmpl-"));
}

// A stream's deltas add up to the reply the same request gets whole; role first, finish_reason
// last, then usage and [DONE].
TEST(Server, ChatStreamEqualsTheWholeReply) {
  const json req = {{"messages", {{{"role", "user"}, {"content", "Who is Lily?"}}}},
                    {"max_tokens", 24},
                    {"temperature", 0}};
  int status = 0;
  const json whole = post(stories(), "/v1/chat/completions", req, &status);
  ASSERT_EQ(status, 200) << whole.dump();
  EXPECT_EQ(whole["object"], "chat.completion");
  EXPECT_EQ(whole["choices"][0]["message"]["role"], "assistant");
  const std::string reply = whole["choices"][0]["message"]["content"];
  EXPECT_FALSE(reply.empty());

  json sreq = req;
  sreq["stream"] = true;
  sreq["stream_options"] = {{"include_usage", true}};
  httplib::Client c = stories().client();
  auto res = c.Post("/v1/chat/completions", sreq.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("text/event-stream"));
  const std::vector<std::string> ev = events(res->body);
  ASSERT_GE(ev.size(), 4u);
  EXPECT_EQ(ev.back(), "[DONE]");
  const json first = json::parse(ev[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  std::string streamed;
  for (size_t i = 1; i + 3 < ev.size(); ++i) {
    const json e = json::parse(ev[i]);
    EXPECT_TRUE(e["choices"][0]["finish_reason"].is_null());
    streamed += e["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(streamed, reply);
  const json last = json::parse(ev[ev.size() - 3]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], whole["choices"][0]["finish_reason"]);
  const json usage = json::parse(ev[ev.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], whole["usage"]["completion_tokens"]);
  EXPECT_EQ(usage["usage"]["prompt_tokens"], whole["usage"]["prompt_tokens"]);
}

// n choices: choice i is what the same request with seed + i and n = 1 gets.
TEST(Server, NChoicesAreTheirSeedsCompletions) {
  const json req = {
      {"prompt", "The dog"}, {"max_tokens", 12}, {"temperature", 1.0}, {"seed", 70}, {"n", 3}};
  int status = 0;
  const json r = post(stories(), "/v1/completions", req, &status);
  ASSERT_EQ(status, 200) << r.dump();
  ASSERT_EQ(r["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    json one = req;
    one["n"] = 1;
    one["seed"] = 70 + i;
    const json alone = post(stories(), "/v1/completions", one);
    EXPECT_EQ(r["choices"][i]["index"], i);
    EXPECT_EQ(r["choices"][i]["text"], alone["choices"][0]["text"]) << "choice " << i;
  }
  EXPECT_NE(r["choices"][0]["text"], r["choices"][1]["text"]);
  const json one = post(stories(), "/v1/completions", {{"prompt", "The dog"}, {"max_tokens", 1}});
  EXPECT_EQ(r["usage"]["prompt_tokens"], one["usage"]["prompt_tokens"]);  // counted once
}

// A prompt whose first block another request left in the pool: cached_tokens says so.
TEST(Server, SharedPrefixIsReusedAcrossRequests) {
  std::string story;
  for (int i = 0; i < 30; ++i) story += "Once upon a time there was a cat. ";
  const json a = post(stories(), "/v1/completions",
                      {{"prompt", story + "The end."}, {"max_tokens", 2}, {"temperature", 0}});
  const json b =
      post(stories(), "/v1/completions",
           {{"prompt", story + "Then Tom came."}, {"max_tokens", 2}, {"temperature", 0}});
  ASSERT_TRUE(a.contains("usage")) << a.dump();
  ASSERT_GT(a["usage"]["prompt_tokens"].get<int>(), 256);
  EXPECT_EQ(b["usage"]["prompt_tokens_details"]["cached_tokens"], 256);
}

// Eight streams at once, each equal to the same request made alone.
TEST(Server, ConcurrentStreamsEqualLoneRequests) {
  const std::vector<std::string> prompts = {"Once upon a time", "The cat",        "Lily and Tom",
                                            "One day",          "The sun was",    "A big dog",
                                            "Mom said",         "The little bird"};
  std::vector<std::string> alone;
  for (const std::string& p : prompts) {
    const json r =
        post(stories(), "/v1/completions", {{"prompt", p}, {"max_tokens", 30}, {"temperature", 0}});
    alone.push_back(r["choices"][0]["text"]);
  }
  std::vector<std::string> together(prompts.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < prompts.size(); ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c = stories().client();
      const json req = {
          {"prompt", prompts[i]}, {"max_tokens", 30}, {"temperature", 0}, {"stream", true}};
      auto res = c.Post("/v1/completions", req.dump(), "application/json");
      if (!res) return;
      for (const std::string& e : events(res->body)) {
        if (e == "[DONE]") continue;
        together[i] += json::parse(e)["choices"][0]["text"].get<std::string>();
      }
    });
  }
  for (std::thread& t : clients) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(together[i], alone[i]) << prompts[i];
}

// Each fault its status, and OpenAI's error object naming the field.
TEST(Server, FaultsGetTheirStatusAndErrorObject) {
  httplib::Client c = stories().client();
  auto bad_json = c.Post("/v1/chat/completions", "{\"messages\": [", "application/json");
  ASSERT_TRUE(bad_json);
  EXPECT_EQ(bad_json->status, 400);
  EXPECT_EQ(json::parse(bad_json->body)["error"]["code"], "invalid_json");

  int status = 0;
  json e = post(stories(), "/v1/completions", {{"prompt", "x"}, {"temprature", 1}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(e["error"]["param"], "temprature");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");

  e = post(stories(), "/v1/completions", {{"prompt", std::string(3000, 'a')}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(e["error"]["code"], "context_length_exceeded");

  auto big = c.Post("/v1/completions", std::string(70000, ' '), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(json::parse(big->body)["error"]["code"], "request_too_large");

  auto missing = c.Get("/v1/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["error"]["code"], "not_found");

  // The server goes on serving.
  e = post(stories(), "/v1/completions", {{"prompt", "Once"}, {"max_tokens", 3}}, &status);
  EXPECT_EQ(status, 200);
}

TEST(Server, TokenizeDetokenizeAndApplyTemplate) {
  const json t = post(stories(), "/tokenize", {{"content", "Once upon a time"}});
  ASSERT_TRUE(t["tokens"].is_array());
  const json d = post(stories(), "/detokenize", {{"tokens", t["tokens"]}});
  EXPECT_EQ(d["content"], "Once upon a time");
  const json p =
      post(stories(), "/apply-template", {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}});
  EXPECT_EQ(p["prompt"], "Question: Hi\nAnswer:");
}

TEST(Server, ApiKeysAreChecked) {
  ServerProcess s({"--api-key", "k1", "--api-key", "second-key"});
  ASSERT_GT(s.port(), 0) << s.log();
  const json body = {{"prompt", "Once"}, {"max_tokens", 2}};
  int status = 0;
  json e = post(s, "/v1/completions", body, &status);
  EXPECT_EQ(status, 401);
  EXPECT_EQ(e["error"]["code"], "invalid_api_key");
  post(s, "/v1/completions", body, &status, {{"Authorization", "Bearer k2"}});
  EXPECT_EQ(status, 401);
  post(s, "/v1/completions", body, &status, {{"Authorization", "Bearer second-key"}});
  EXPECT_EQ(status, 200);
  httplib::Client c = s.client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(s.stop(), 0);
}

// A client gone mid-stream: its sequence is cancelled and its blocks given back; SIGTERM ends
// the server with status 0.
TEST(Server, DisconnectFreesTheSequenceAndSigtermExitsZero) {
  ServerProcess s({"--parallel", "2"});
  ASSERT_GT(s.port(), 0) << s.log();
  {
    httplib::Client c = s.client();
    int chunks = 0;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = json({{"prompt", "Once upon a time"}, {"max_tokens", 400}, {"stream", true}}).dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
    c.send(req);
    EXPECT_GE(chunks, 3);
  }
  httplib::Client c = s.client();
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    auto m = c.Get("/metrics");
    ASSERT_TRUE(m);
    metrics = m->body;
    if (metrics.find("loom:requests_running 0\n") != std::string::npos &&
        metrics.find("loom:kv_pool_used_blocks 0\n") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(metrics, HasSubstr("loom:requests_running 0\n"));
  EXPECT_THAT(metrics, HasSubstr("loom:kv_pool_used_blocks 0\n"));
  EXPECT_THAT(metrics, HasSubstr("loom:requests_total 1\n"));
  EXPECT_EQ(s.stop(), 0);
}

}  // namespace
