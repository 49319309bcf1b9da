// loom-server: an OpenAI-compatible HTTP server (llama-server's flags and extra endpoints) over
// one BatchEngine: requests join the running batch as they arrive, and the engine's KV pool is
// one prompt cache for all of them.
//
// HTTP: cpp-httplib (Debian's libcpp-httplib), as llama-server uses: a blocking thread a
// connection from a pool sized for --parallel streams and the --queue behind them; a stream
// is a chunked response whose provider waits on its request's channel, so a slow or gone client
// holds only its own thread.
#include <httplib.h>

#include <sys/socket.h>
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli_habits.h"
#include "default_model.h"
#include "load_flags.h"
#include "loom/chat.h"
#include "loom/loom.h"
#include "server/chat_page.h"
#include "server/request.h"
#include "server/response.h"
#include "server/scheduler.h"

namespace {

using json = nlohmann::json;
using loom::server::ApiError;
using loom::server::Endpoint;

struct Args {
  std::string model = loom::tools::default_model();
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 0;
  int ctx_size = 0;
  int parallel = 4;
  int queue = 64;
  std::string quantize;
  std::string quant_cache = "auto";
  std::string kv_type = "f32";
  std::vector<std::string> api_keys;
  std::string api_key_file;
  std::string chat_template;
  std::string alias;
  size_t max_body = 8 << 20;
};

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
  g_stop = true;
}

// Equal in time that depends only on the lengths: a wrong key's prefix is not measurable.
bool same_key(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i % std::max<size_t>(b.size(), 1)];
  return diff == 0;
}

std::string random_id(const char* prefix) {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(prefix) + buf;
}

long long now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.status == 503) res.set_header("Retry-After", "1");
  send_json(res, e.status, loom::server::error_body(e));
}

// Streams between the scheduler's thread (push) and a connection's (the chunked provider).
struct Channel {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> events;  // SSE "data: ...\n\n" lines
  int open_tasks = 0;
  std::atomic<bool> gone{false};
  void push(std::string s) {
    {
      std::lock_guard<std::mutex> lock(mu);
      events.push_back(std::move(s));
    }
    cv.notify_one();
  }
};

class Server {
 public:
  Server(const Args& a, std::vector<std::string> keys) : args_(a), keys_(std::move(keys)) {}

  void load() {
    loom::LoadOptions load = loom::tools::quantize_flag(args_.quantize);
    loom::tools::set_quant_cache_flag(load, args_.quant_cache);
    model_.emplace(loom::Model::load(args_.model, load));
    const int max_pos = model_->config().max_position_embeddings;
    ctx_ =
        args_.ctx_size > 0 ? std::max(1, args_.ctx_size / args_.parallel) : std::min(max_pos, 4096);
    loom::BatchOptions bo;
    // Whole blocks a sequence: --parallel choices of ctx_ tokens each (forks copy their last,
    // partial block) always fit, so a pass never finds the pool full; cached prefixes give
    // their blocks back as needed.
    constexpr int kBlock = loom::BatchEngine::kBlockTokens;
    bo.pool_tokens = (ctx_ + kBlock - 1) / kBlock * kBlock * args_.parallel;
    bo.threads = args_.threads;
    bo.kv_type = loom::tools::kv_type_flag(args_.kv_type);
    bo.batch_invariant = true;
    engine_.emplace(*model_, bo);
    sched_ = std::make_unique<loom::server::Scheduler>(
        *engine_, loom::server::SchedulerOptions{.parallel = args_.parallel,
                                                 .queue = args_.queue,
                                                 .pass_rows = std::max(64, args_.parallel)});
    try {
      tmpl_.emplace(args_.chat_template.empty()
                        ? loom::ChatTemplate::load(args_.model)
                        : loom::ChatTemplate::from_file(args_.chat_template, args_.model));
    } catch (const loom::Error& e) {
      template_error_ = e.what();  // completions still work; chat says why it cannot
    }
    name_ =
        !args_.alias.empty() ? args_.alias : std::filesystem::path(args_.model).filename().string();
    ready_ = true;
    std::fprintf(stderr,
                 "loom-server: %s model loaded: %d sequences of %d tokens (pool %.1f MiB), "
                 "%d threads%s\n",
                 loom::arch_name(model_->config().arch), args_.parallel, ctx_,
                 engine_->usage().bytes / 1048576.0, engine_->threads(),
                 tmpl_ ? "" : (", no chat template: " + template_error_).c_str());
  }

  void stop() {
    if (sched_) sched_->stop();
  }

  void routes(httplib::Server& svr) {
    svr.set_payload_max_length(args_.max_body);
    svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413) {
        send_error(res, ApiError(413, "The request body is larger than the server accepts.",
                                 "invalid_request_error", "", "request_too_large"));
      } else if (res.status == 404) {
        send_error(res, ApiError(404, "Unknown endpoint: " + req.method + " " + req.path,
                                 "invalid_request_error", "", "not_found"));
      } else {
        send_error(res, ApiError(res.status, "HTTP status " + std::to_string(res.status),
                                 "invalid_request_error"));
      }
    });
    svr.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          try {
            std::rethrow_exception(ep);
          } catch (const ApiError& e) {
            send_error(res, e);
          } catch (const std::exception& e) {
            send_error(res, ApiError(500, e.what(), "server_error"));
          }
        });
    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.path == "/health" || req.path == "/" || req.method == "OPTIONS") {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      if (!authorized(req)) {
        send_error(res, ApiError(401, "Invalid API key: pass it as 'Authorization: Bearer KEY'.",
                                 "invalid_request_error", "", "invalid_api_key"));
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!ready_) {
        send_error(res, ApiError(503, "Loading model", "unavailable_error", "", "loading"));
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });

    svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      if (!ready_) {
        send_error(res, ApiError(503, "Loading model", "unavailable_error", "", "loading"));
      } else {
        send_json(res, 200, {{"status", "ok"}});
      }
    });
    svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(loom::server::kChatPage, "text/html; charset=utf-8");
    });
    svr.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200,
                {{"object", "list"},
                 {"data",
                  {{{"id", name_},
                    {"object", "model"},
                    {"created", started_},
                    {"owned_by", "loom"},
                    {"meta",
                     {{"n_ctx", ctx_},
                      {"n_vocab", model_->config().vocab_size},
                      {"arch", loom::arch_name(model_->config().arch)}}}}}}});
    });
    svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics(), "text/plain; version=0.0.4");
    });
    svr.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
      const json j = loom::server::parse_body(req.body);
      const std::string content = loom::server::string_field(j, "content", true);
      const bool special = loom::server::bool_field(j, "add_special", false);
      const bool pieces = loom::server::bool_field(j, "with_pieces", false);
      const std::vector<int> ids = model_->tokenizer().encode(content, special, true);
      json tokens = json::array();
      for (int id : ids) {
        if (pieces) {
          tokens.push_back({{"id", id}, {"piece", model_->tokenizer().token_bytes(id)}});
        } else {
          tokens.push_back(id);
        }
      }
      send_json(res, 200, {{"tokens", tokens}});
    });
    svr.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
      const std::vector<int> ids = loom::server::token_ids_field(
          loom::server::parse_body(req.body), "tokens", model_->config().vocab_size);
      send_json(res, 200, {{"content", model_->tokenizer().decode(ids)}});
    });
    svr.Post("/apply-template", [this](const httplib::Request& req, httplib::Response& res) {
      const loom::server::Request r = loom::server::parse_request(
          Endpoint::Chat, req.body, loom::sampler_defaults(model_->config()),
          model_->config().vocab_size);
      send_json(res, 200, {{"prompt", render(r)}});
    });
    svr.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(Endpoint::Chat, req, res);
    });
    svr.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(Endpoint::Completion, req, res);
    });
    // Without the /v1 prefix too, as llama-server answers.
    svr.Post("/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(Endpoint::Chat, req, res);
    });
    svr.Post("/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(Endpoint::Completion, req, res);
    });
  }

 private:
  bool authorized(const httplib::Request& req) const {
    if (keys_.empty()) return true;
    const std::string h = req.get_header_value("Authorization");
    const std::string bearer = "Bearer ";
    const std::string key = h.rfind(bearer, 0) == 0 ? h.substr(bearer.size()) : "";
    bool ok = false;
    for (const std::string& k : keys_) ok |= same_key(key, k);
    return ok;
  }

  std::string render(const loom::server::Request& r) const {
    if (!tmpl_) {
      throw ApiError(400,
                     "This model has no chat template (" + template_error_ +
                         "); start the server with --chat-template FILE, or use "
                         "/v1/completions.",
                     "invalid_request_error", "messages", "no_chat_template");
    }
    try {
      return tmpl_->render(r.messages);
    } catch (const loom::Error& e) {
      throw ApiError(400, std::string("The chat template refused the messages: ") + e.what(),
                     "invalid_request_error", "messages", "invalid_value");
    }
  }

  // One task a prompt, each with the request's choices.
  struct Job {
    std::vector<std::shared_ptr<loom::server::Task>> tasks;
    std::vector<std::future<loom::server::TaskResult>> results;
    std::vector<loom::server::TaskResult> collect() {
      std::vector<loom::server::TaskResult> out;
      for (auto& f : results) out.push_back(f.get());
      return out;
    }
  };

  void complete(Endpoint endpoint, const httplib::Request& req, httplib::Response& res) {
    const loom::Tokenizer& tok = model_->tokenizer();
    auto r = std::make_shared<loom::server::Request>(loom::server::parse_request(
        endpoint, req.body, loom::sampler_defaults(model_->config()), model_->config().vocab_size));
    r->options.sampling.seed = r->seed.value_or(std::random_device{}());
    const char* prompt_param = endpoint == Endpoint::Chat ? "messages" : "prompt";
    if (r->n > args_.parallel) {
      // Choices decode together: more than --parallel could not fit the pool.
      throw ApiError(400,
                     "Invalid 'n': this server decodes at most " + std::to_string(args_.parallel) +
                         " choices together (--parallel).",
                     "invalid_request_error", "n", "invalid_value");
    }
    std::vector<std::vector<int>> prompts;
    std::vector<bool> has_text;
    std::vector<std::string> echo;
    if (endpoint == Endpoint::Chat) {
      const std::string text = render(*r);
      prompts.push_back(loom::encode_chat_prompt(tok, text));
      has_text.push_back(!text.empty());
    } else {
      for (const loom::server::Prompt& p : r->prompts) {
        if (const auto* text = std::get_if<std::string>(&p)) {
          prompts.push_back(tok.encode(*text, true, true));
          has_text.push_back(!text->empty());
          echo.push_back(*text);
        } else {
          const auto& ids = std::get<std::vector<int>>(p);
          prompts.push_back(ids);
          bool any = false;
          for (int id : ids) any |= !tok.token_bytes(id).empty();
          has_text.push_back(any);
          echo.push_back(tok.decode(ids));
        }
      }
    }
    for (const std::vector<int>& p : prompts) {
      const int n = static_cast<int>(p.size());
      if (n == 0) {
        throw ApiError(400, "The prompt is empty.", "invalid_request_error", prompt_param,
                       "invalid_value");
      }
      if (n >= ctx_) {
        throw ApiError(400,
                       "This model's context is " + std::to_string(ctx_) +
                           " tokens a sequence; the prompt is " + std::to_string(n) + " tokens.",
                       "invalid_request_error", prompt_param, "context_length_exceeded");
      }
    }
    auto replies = std::make_shared<const loom::server::Replies>(
        tok, *r, std::move(echo), random_id(endpoint == Endpoint::Chat ? "chatcmpl-" : "cmpl-"),
        now_seconds(), name_);
    auto channel = std::make_shared<Channel>();
    auto job = std::make_shared<Job>();
    for (size_t p = 0; p < prompts.size(); ++p) {
      auto t = std::make_shared<loom::server::Task>();
      t->prompt = prompts[p];
      t->n = r->n;
      t->options = r->options;
      const int room = ctx_ - static_cast<int>(prompts[p].size());
      t->options.max_tokens = std::min(r->max_tokens.value_or(room), room);
      t->has_text = has_text[p];
      auto promise = std::make_shared<std::promise<loom::server::TaskResult>>();
      job->results.push_back(promise->get_future());
      const int base = static_cast<int>(p) * r->n;
      if (!r->stream) {
        t->on_token = [channel](int, const loom::TokenEvent&) { return !channel->gone.load(); };
      } else {
        // Runs on the scheduler's thread; replies and r outlive it through the captures.
        t->on_token = [channel, replies, r, base](int choice, const loom::TokenEvent& e) {
          if (channel->gone) return false;
          if (!e.text.empty() || e.logprobs) channel->push(replies->token_event(base + choice, e));
          return true;
        };
      }
      t->on_done = [promise, channel](loom::server::TaskResult&& tr) {
        promise->set_value(std::move(tr));
        {
          std::lock_guard<std::mutex> lock(channel->mu);
          --channel->open_tasks;
        }
        channel->cv.notify_one();
      };
      job->tasks.push_back(t);
    }
    channel->open_tasks = static_cast<int>(job->tasks.size());
    if (!sched_->submit(job->tasks)) {
      throw ApiError(503,
                     "The server is busy: " + std::to_string(args_.queue) +
                         " requests are waiting. Retry shortly.",
                     "server_error", "", "server_busy");
    }
    requests_++;

    if (!r->stream) {
      const std::vector<loom::server::TaskResult> results = job->collect();
      for (const loom::server::TaskResult& t : results) {
        if (!t.error.empty()) throw ApiError(500, t.error, "server_error");
      }
      send_json(res, 200, replies->response(results));
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [channel, job, r, replies, started = false](size_t, httplib::DataSink& sink) mutable {
          auto write = [&](const std::string& s) {
            if (s.empty() || sink.write(s.data(), s.size())) return true;
            channel->gone = true;
            return false;
          };
          if (!started) {
            started = true;
            const int choices = r->n * static_cast<int>(job->tasks.size());
            for (int c = 0; c < choices; ++c) {
              if (!write(replies->first_event(c))) return false;
            }
          }
          std::deque<std::string> out;
          bool finished;
          {
            std::unique_lock<std::mutex> lock(channel->mu);
            channel->cv.wait_for(lock, std::chrono::milliseconds(100), [&] {
              return !channel->events.empty() || channel->open_tasks == 0;
            });
            out.swap(channel->events);
            finished = channel->open_tasks == 0;
          }
          for (const std::string& s : out) {
            if (!write(s)) return false;
          }
          if (!sink.is_writable()) {
            channel->gone = true;
            return false;
          }
          if (finished) {
            const std::vector<loom::server::TaskResult> results = job->collect();
            std::string tail;
            for (size_t p = 0; p < results.size(); ++p) {
              if (!results[p].error.empty()) {
                // OpenAI's streams report a failure as an error event.
                tail += "data: " +
                        loom::server::error_body(ApiError(500, results[p].error, "server_error"))
                            .dump() +
                        "\n\n";
                continue;
              }
              for (size_t c = 0; c < results[p].choices.size(); ++c) {
                tail += replies->last_event(static_cast<int>(p) * r->n + static_cast<int>(c),
                                            results[p].choices[c].stop);
              }
            }
            if (r->include_usage) tail += replies->usage_event(results);
            tail += "data: [DONE]\n\n";
            write(tail);
            sink.done();
          }
          return true;
        },
        [channel](bool success) {
          if (!success) channel->gone = true;
        });
  }

  static std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }

  std::string metrics() const {
    const loom::server::SchedulerStats s = sched_->stats();
    std::string out;
    auto line = [&](const char* name, const char* type, const char* help, double v) {
      out += std::string("# HELP loom:") + name + " " + help + "\n# TYPE loom:" + name + " " +
             type + "\nloom:" + name + " " + number(v) + "\n";
    };
    line("requests_total", "counter", "Completion requests accepted.",
         static_cast<double>(requests_.load()));
    line("prompt_tokens_total", "counter", "Prompt tokens of ended tasks.",
         static_cast<double>(s.prompt_tokens));
    line("prompt_tokens_cached_total", "counter",
         "Prompt tokens found in the KV pool instead of evaluated.",
         static_cast<double>(s.cached_tokens));
    line("tokens_predicted_total", "counter", "Tokens generated.",
         static_cast<double>(s.generated_tokens));
    line("requests_queued", "gauge", "Tasks waiting for a slot.", s.queued);
    line("requests_running", "gauge", "Tasks being evaluated.", s.running);
    line("kv_pool_blocks", "gauge", "Blocks of the KV pool.", s.pool.blocks);
    line("kv_pool_used_blocks", "gauge", "Blocks held by sequences.", s.pool.used_blocks);
    line("kv_pool_cached_blocks", "gauge", "Blocks kept as reusable prefixes.",
         s.pool.cached_blocks);
    return out;
  }

  const Args& args_;
  const std::vector<std::string> keys_;  // empty: no key needed
  std::optional<loom::Model> model_;
  std::optional<loom::BatchEngine> engine_;
  std::unique_ptr<loom::server::Scheduler> sched_;
  std::optional<loom::ChatTemplate> tmpl_;
  std::string template_error_;
  std::string name_;
  int ctx_ = 0;
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> requests_{0};
  long long started_ = now_seconds();
};

int run(Args& a) {
  if (!a.api_key_file.empty()) {
    std::ifstream in(a.api_key_file);
    if (!in) throw loom::Error("--api-key-file: cannot read " + a.api_key_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) a.api_keys.push_back(line);
    }
    if (a.api_keys.empty()) throw loom::Error("--api-key-file: no key in " + a.api_key_file);
  }
  loom::tools::check_model_path(a.model);
  Server server(a, a.api_keys);
  httplib::Server svr;
  const int pool = a.parallel + a.queue + 4;
  svr.new_task_queue = [pool] { return new httplib::ThreadPool(pool); };
  server.routes(svr);
  int listen_fd = -1;
  svr.set_socket_options([&listen_fd](socket_t fd) {
    httplib::default_socket_options(fd);
    listen_fd = fd;
  });
  const int port = a.port == 0 ? svr.bind_to_any_port(a.host) : a.port;
  if (port < 0 || (a.port != 0 && !svr.bind_to_port(a.host, a.port))) {
    throw loom::Error("cannot listen on " + a.host + ":" + std::to_string(a.port));
  }
  // Debian's cpp-httplib (compiled, 0.11) listens with a backlog of 5: clients connecting at
  // once beyond that wait out SYN retransmissions (seconds) before their request is read. The
  // same socket listened on again takes the system's limit instead.
  if (listen_fd >= 0) ::listen(listen_fd, SOMAXCONN);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  std::thread listener([&] { svr.listen_after_bind(); });
  std::fprintf(stderr, "loom-server: listening on http://%s:%d\n", a.host.c_str(), port);
  std::string load_error;
  try {
    server.load();
  } catch (const std::exception& e) {
    load_error = e.what();
    g_stop = true;
  }
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server.stop();  // running requests end, cancelled, and hear so
  svr.stop();
  listener.join();
  if (!load_error.empty()) throw loom::Error(load_error);
  std::fprintf(stderr, "loom-server: stopped\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loom-server: an OpenAI-compatible HTTP server with continuous batching"};
  Args a;
  loom::tools::take_last_value(app);
  app.add_option("-m,--model", a.model, "model folder")->capture_default_str();
  app.add_option("--host", a.host, "address to listen on")->capture_default_str();
  app.add_option("--port", a.port, "port (0: any free one, printed on stderr)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("-t,--threads", a.threads, "threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-c,--ctx-size", a.ctx_size,
                 "the KV pool's tokens, shared by the --parallel sequences (0: 4096 a sequence, "
                 "at most the model's max_position_embeddings)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--parallel", a.parallel, "sequences decoded together (-np)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--queue", a.queue, "requests waiting at most (more: 503)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--quantize", a.quantize, "quantize the weights at load: q8_0, q4_0 or q4_k");
  app.add_option("--quant-cache", a.quant_cache, "with --quantize: auto, off or a cache file");
  app.add_option("--kv-type", a.kv_type, "KV pool element type: f32, f16 or bf16")
      ->capture_default_str();
  loom::tools::repeatable(
      app.add_option("--api-key", a.api_keys, "a key clients must send (repeatable)"));
  app.add_option("--api-key-file", a.api_key_file, "a file of keys, one a line");
  app.add_option("--chat-template", a.chat_template,
                 "a Jinja chat template file instead of the model folder's");
  app.add_option("--max-body", a.max_body, "largest request body in bytes (more: 413)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30))
      ->capture_default_str();
  app.add_option("-a,--alias", a.alias, "the model's name in responses (default: the folder's)");
  // llama-server's -np, which CLI11 would read as -n p.
  std::vector<char*> args(argv, argv + argc);
  for (char*& arg : args) {
    if (std::strcmp(arg, "-np") == 0) arg = const_cast<char*>("--parallel");
  }
  CLI11_PARSE(app, argc, args.data());
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loom-server: error: %s\n", e.what());
    return 1;
  }
}
