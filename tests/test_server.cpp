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

#include <atomic>
#include <chrono>
#include <cstdio>
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

// A streamed completion's text, joined from its events ("" and FAILED saying why when it did
// not end with [DONE]).
std::string streamed_text(const ServerProcess& s, const json& req, std::string* failed = nullptr) {
  httplib::Client c = s.client();
  json r = req;
  r["stream"] = true;
  auto res = c.Post("/v1/completions", r.dump(), "application/json");
  std::string text;
  if (!res || res->status != 200) {
    if (failed) {
      *failed = res ? std::to_string(res->status) + " " + res->body
                    : "no response: " + httplib::to_string(res.error());
    }
    return text;
  }
  const std::vector<std::string> ev = events(res->body);
  if (ev.empty() || ev.back() != "[DONE]") {
    if (failed) *failed = "no [DONE]: " + res->body;
    return text;
  }
  for (const std::string& e : ev) {
    if (e != "[DONE]") text += json::parse(e)["choices"][0]["text"].get<std::string>();
  }
  return text;
}

// The pool's and scheduler's gauges once nothing runs (waits up to 5 s for that).
std::string idle_metrics(const ServerProcess& s) {
  httplib::Client c = s.client();
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    auto m = c.Get("/metrics");
    if (!m) break;
    metrics = m->body;
    if (metrics.find("loom:requests_running 0\n") != std::string::npos &&
        metrics.find("loom:requests_queued 0\n") != std::string::npos &&
        metrics.find("loom:kv_pool_used_blocks 0\n") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return metrics;
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

  e = post(stories(), "/detokenize", {{"tokens", {1, -4}}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(e["error"]["param"], "tokens[1]");
  e = post(stories(), "/tokenize", {{"content", 7}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(e["error"]["param"], "content");

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
  const std::string metrics = idle_metrics(s);
  EXPECT_THAT(metrics, HasSubstr("loom:requests_running 0\n"));
  EXPECT_THAT(metrics, HasSubstr("loom:kv_pool_used_blocks 0\n"));
  EXPECT_THAT(metrics, HasSubstr("loom:requests_total 1\n"));
  EXPECT_EQ(s.stop(), 0);
}

// 32 streaming clients at once on 8 slots (the rest queued): each greedy output byte-equal to
// the same request made alone, and the pool back to no sequence afterwards.
TEST(Server, ThirtyTwoConcurrentStreamsEqualLoneRequests) {
  ServerProcess s({"--parallel", "8", "--queue", "64"});
  ASSERT_GT(s.port(), 0) << s.log();
  const std::vector<std::string> starts = {"Once upon a time", "The cat",     "Lily and Tom",
                                           "One day",          "The sun was", "A big dog",
                                           "Mom said",         "The bird"};
  std::vector<json> reqs;
  for (int i = 0; i < 32; ++i) {
    // Different lengths, so sequences start and end at different steps.
    reqs.push_back({{"prompt", starts[i % 8] + std::string(i / 8, '!')},
                    {"max_tokens", 20 + 3 * i},
                    {"temperature", 0}});
  }
  std::vector<std::string> alone;
  for (const json& r : reqs) alone.push_back(post(s, "/v1/completions", r)["choices"][0]["text"]);
  std::vector<std::string> together(reqs.size());
  std::vector<std::string> failed(reqs.size());
  std::vector<std::thread> clients;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < reqs.size(); ++i) {
    clients.emplace_back([&, i] { together[i] = streamed_text(s, reqs[i], &failed[i]); });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(failed[i], "") << "client " << i;
    EXPECT_EQ(together[i], alone[i]) << "client " << i;
  }
  const std::string metrics = idle_metrics(s);
  EXPECT_THAT(metrics, HasSubstr("loom:kv_pool_used_blocks 0\n"));
  EXPECT_THAT(metrics, HasSubstr("loom:requests_total 64\n"));
  EXPECT_EQ(s.stop(), 0);
}

// One slot and one place in the queue: of 12 requests sent at once, those that find both taken
// get 503 with Retry-After and OpenAI's error object; the others complete normally.
TEST(Server, FullQueueAnswers503WithRetryAfter) {
  ServerProcess s({"--parallel", "1", "--queue", "1"});
  ASSERT_GT(s.port(), 0) << s.log();
  const json req = {{"prompt", "Once upon a time"}, {"max_tokens", 300}, {"temperature", 0}};
  const std::string expected = post(s, "/v1/completions", req)["choices"][0]["text"];
  std::atomic<int> ok{0}, busy{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 12; ++i) {
    clients.emplace_back([&] {
      httplib::Client c = s.client();
      auto res = c.Post("/v1/completions", req.dump(), "application/json");
      if (!res) {
        ++other;
      } else if (res->status == 200 && json::parse(res->body)["choices"][0]["text"] == expected) {
        ++ok;
      } else if (res->status == 503 && res->get_header_value("Retry-After") == "1" &&
                 json::parse(res->body)["error"]["code"] == "server_busy") {
        ++busy;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_GE(ok.load(), 2);  // the one running and the one waiting at least
  EXPECT_GE(busy.load(), 1);
  EXPECT_EQ(other.load(), 0);
  // All or nothing: a request of 2 prompts with 1 place never half-queues.
  int status = 0;
  const json two =
      post(s, "/v1/completions",
           {{"prompt", {"Once", "The cat"}}, {"max_tokens", 4}, {"temperature", 0}}, &status);
  EXPECT_EQ(status, 503) << two.dump();
  EXPECT_EQ(post(s, "/v1/completions", req, &status)["choices"][0]["text"], expected);
  EXPECT_EQ(s.stop(), 0);
}

// Half of eight streaming clients leave after a few chunks: the others' outputs are unchanged,
// and the pool holds no sequence afterwards.
TEST(Server, DisconnectsUnderLoadDisturbNoOne) {
  ServerProcess s({"--parallel", "4"});
  ASSERT_GT(s.port(), 0) << s.log();
  std::vector<json> reqs;
  std::vector<std::string> alone;
  for (int i = 0; i < 8; ++i) {
    reqs.push_back({{"prompt", "Once upon a time" + std::string(i, '.')},
                    {"max_tokens", 200},
                    {"temperature", 0}});
    alone.push_back(post(s, "/v1/completions", reqs.back())["choices"][0]["text"]);
  }
  std::vector<std::string> together(reqs.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < reqs.size(); ++i) {
    clients.emplace_back([&, i] {
      if (i % 2 == 0) {
        together[i] = streamed_text(s, reqs[i]);
        return;
      }
      httplib::Client c = s.client();
      httplib::Request req;
      req.method = "POST";
      req.path = "/v1/completions";
      json r = reqs[i];
      r["stream"] = true;
      req.body = r.dump();
      req.set_header("Content-Type", "application/json");
      int chunks = 0;
      req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
      c.send(req);
    });
  }
  for (std::thread& t : clients) t.join();
  for (size_t i = 0; i < reqs.size(); i += 2) EXPECT_EQ(together[i], alone[i]) << "client " << i;
  const std::string metrics = idle_metrics(s);
  EXPECT_THAT(metrics, HasSubstr("loom:requests_running 0\n"));
  EXPECT_THAT(metrics, HasSubstr("loom:kv_pool_used_blocks 0\n"));
  EXPECT_EQ(s.stop(), 0);
}

// The raw bytes a plain HTTP client sees (curl, as people try a server first): the event-stream
// header, "data: {json}\n\n" events and the closing "data: [DONE]\n\n".
TEST(Server, CurlSeesServerSentEventFraming) {
  ServerProcess& s = stories();
  const std::string body =
      json({{"prompt", "Once"}, {"max_tokens", 5}, {"temperature", 0}, {"stream", true}}).dump();
  const std::string cmd = "curl -sS -N -i -H 'Content-Type: application/json' -d '" + body +
                          "' http://127.0.0.1:" + std::to_string(s.port()) + "/v1/completions";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t got; (got = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, got);
  ASSERT_EQ(pclose(p), 0) << out;
  const size_t head_end = out.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << out;
  const std::string head = out.substr(0, head_end);
  EXPECT_THAT(head, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(head, HasSubstr("Content-Type: text/event-stream"));
  EXPECT_THAT(head, HasSubstr("Cache-Control: no-cache"));
  const std::string sse = out.substr(head_end + 4);
  const std::vector<std::string> ev = events(sse);
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev.back(), "[DONE]");
  EXPECT_TRUE(sse.ends_with("\n\ndata: [DONE]\n\n"));
  for (size_t i = 0; i + 1 < ev.size(); ++i) {
    EXPECT_EQ(ev[i].rfind("{\"id\":\"cmpl-", 0), 0u) << ev[i];  // OpenAI's key order
    EXPECT_EQ(json::parse(ev[i])["object"], "text_completion");
  }
}

// More choices than --parallel cannot decode together: refused by name, not failed mid-way.
TEST(Server, MoreChoicesThanParallelIsA400) {
  int status = 0;
  const json e = post(stories(), "/v1/completions",
                      {{"prompt", "Once"}, {"max_tokens", 2}, {"n", 5}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(e["error"]["param"], "n");
}

}  // namespace
