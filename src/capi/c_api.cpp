// loom/c.h over the C++ API. Each entry point runs its body in guarded(), which turns every
// exception into a status and the thread's last-error message, so none crosses into C.
#include "loom/c.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "loom/chat.h"
#include "loom/loom.h"
#include "loom/version.h"

struct loom_model {
  loom::Model model;
};
struct loom_session {
  loom::Session session;
};
struct loom_sampler {
  loom::Sampler sampler;
  int n_vocab;
};
struct loom_chat_template {
  loom::ChatTemplate tmpl;
};

namespace {

thread_local std::string last_error;

loom_status fail(loom_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

// Raised inside an entry point for a failure with a status of its own.
struct Failure {
  loom_status status;
  std::string message;
};

template <class Fn>
loom_status guarded(Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const Failure& f) {
    return fail(f.status, f.message);
  } catch (const std::bad_alloc&) {
    return fail(LOOM_ERR_OUT_OF_MEMORY, "out of memory");
  } catch (const loom::Error& e) {
    return fail(LOOM_ERR_RUNTIME, e.what());
  } catch (const std::exception& e) {
    return fail(LOOM_ERR_RUNTIME, e.what());
  } catch (...) {
    return fail(LOOM_ERR_RUNTIME, "unknown error");
  }
}

template <class T>
void need(const T* p, const char* what) {
  if (!p) throw Failure{LOOM_ERR_INVALID_ARGUMENT, std::string(what) + " is NULL"};
}

// FN's result, with a loom::Error it throws reported as STATUS rather than LOOM_ERR_RUNTIME.
template <class Fn>
auto or_status(loom_status status, Fn&& fn) {
  try {
    return fn();
  } catch (const loom::Error& e) {
    throw Failure{status, e.what()};
  }
}

// TEXT into BUF (CAPACITY bytes with the NUL), its length in *N_OUT either way.
loom_status copy_out(const std::string& text, char* buf, size_t capacity, size_t* n_out) {
  need(n_out, "n_out");
  *n_out = text.size();
  if (!buf || capacity < text.size() + 1) {
    return fail(LOOM_ERR_BUFFER_TOO_SMALL, "the text needs " + std::to_string(text.size() + 1) +
                                               " bytes with its NUL; the buffer has " +
                                               std::to_string(buf ? capacity : 0));
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return LOOM_OK;
}

const loom::Tokenizer& tokenizer_of(const loom_model* m) {
  if (!m->model.has_tokenizer()) {
    throw Failure{LOOM_ERR_INVALID_ARGUMENT, m->model.dir().string() + " has no tokenizer"};
  }
  return m->model.tokenizer();
}

loom::SamplerParams sampler_params(const loom_sampler_params& p) {
  loom::SamplerParams s;
  s.temperature = p.temperature;
  s.top_k = p.top_k;
  s.top_p = p.top_p;
  s.min_p = p.min_p;
  s.repeat_penalty = p.repeat_penalty;
  s.repeat_last_n = p.repeat_last_n;
  s.seed = p.seed;
  return s;
}

// Throws for room the session lacks, before anything is evaluated.
void check_room(const loom::Session& s, size_t n) {
  if (static_cast<size_t>(s.position()) + n > static_cast<size_t>(s.ctx_size())) {
    throw Failure{LOOM_ERR_CONTEXT_FULL,
                  std::to_string(n) + " tokens do not fit: the session holds " +
                      std::to_string(s.position()) + " of " + std::to_string(s.ctx_size())};
  }
}

}  // namespace

extern "C" {

const char* loom_version(void) {
  return LOOM_VERSION_STRING;
}

const char* loom_last_error(void) {
  return last_error.c_str();
}

loom_model_options loom_model_default_options(void) {
  return loom_model_options{nullptr, 0};
}

loom_status loom_model_load(const char* path, const loom_model_options* options, loom_model** out) {
  return guarded([&] {
    need(out, "out");
    *out = nullptr;
    need(path, "path");
    const loom_model_options o = options ? *options : loom_model_default_options();
    loom::LoadOptions load = loom::quantize_options(o.quantize ? o.quantize : "");
    if (o.quant_cache) load.quant_cache = loom::QuantCache::Auto;
    *out = or_status(LOOM_ERR_LOAD, [&] { return new loom_model{loom::Model::load(path, load)}; });
    return LOOM_OK;
  });
}

void loom_model_free(loom_model* model) {
  delete model;
}

int32_t loom_model_n_vocab(const loom_model* model) {
  return model ? model->model.config().vocab_size : 0;
}

int32_t loom_model_n_ctx_train(const loom_model* model) {
  return model ? model->model.config().max_position_embeddings : 0;
}

int32_t loom_model_bos(const loom_model* model) {
  return model ? model->model.config().bos_token_id : -1;
}

int loom_model_is_eos(const loom_model* model, int32_t id) {
  if (!model) return 0;
  const std::vector<int>& eos = model->model.config().eos_token_ids;
  return std::find(eos.begin(), eos.end(), id) != eos.end();
}

loom_status loom_tokenize(const loom_model* model, const char* text, size_t len, int add_special,
                          int32_t* tokens, size_t capacity, size_t* n_out) {
  return guarded([&] {
    need(model, "model");
    need(n_out, "n_out");
    if (!text && len) need(text, "text");
    const std::vector<int> ids =
        tokenizer_of(model).encode(std::string_view(text ? text : "", len), add_special != 0);
    *n_out = ids.size();
    if (ids.size() > capacity || (!tokens && !ids.empty())) {
      return fail(LOOM_ERR_BUFFER_TOO_SMALL, "the text is " + std::to_string(ids.size()) +
                                                 " tokens; the buffer holds " +
                                                 std::to_string(tokens ? capacity : 0));
    }
    std::copy(ids.begin(), ids.end(), tokens);
    return LOOM_OK;
  });
}

loom_status loom_detokenize(const loom_model* model, const int32_t* tokens, size_t n,
                            int skip_special, char* buf, size_t capacity, size_t* n_out) {
  return guarded([&] {
    need(model, "model");
    if (n) need(tokens, "tokens");
    const loom::Tokenizer& tok = tokenizer_of(model);
    for (size_t i = 0; i < n; ++i) {
      if (tokens[i] < 0 || tokens[i] >= tok.vocab_size()) {
        throw Failure{LOOM_ERR_INVALID_ARGUMENT,
                      "token " + std::to_string(tokens[i]) + " (at " + std::to_string(i) +
                          ") is outside the vocabulary of " + std::to_string(tok.vocab_size())};
      }
    }
    const std::vector<int> ids(tokens, tokens + n);
    return copy_out(tok.decode(ids, skip_special != 0), buf, capacity, n_out);
  });
}

loom_status loom_chat_template_from_model(const loom_model* model, loom_chat_template** out) {
  return guarded([&] {
    need(out, "out");
    *out = nullptr;
    need(model, "model");
    *out = or_status(LOOM_ERR_LOAD, [&] {
      return new loom_chat_template{loom::ChatTemplate::load(model->model.dir())};
    });
    return LOOM_OK;
  });
}

loom_status loom_chat_template_create(const loom_model* model, const char* source,
                                      loom_chat_template** out) {
  return guarded([&] {
    need(out, "out");
    *out = nullptr;
    need(model, "model");
    need(source, "source");
    *out = or_status(LOOM_ERR_LOAD, [&] {
      return new loom_chat_template{loom::ChatTemplate::from_source(
          source, "the chat template", loom::ChatTemplate::special_tokens(model->model.dir()))};
    });
    return LOOM_OK;
  });
}

void loom_chat_template_free(loom_chat_template* tmpl) {
  delete tmpl;
}

loom_status loom_chat_apply(const loom_chat_template* tmpl, const loom_chat_message* messages,
                            size_t n, int add_generation_prompt, char* buf, size_t capacity,
                            size_t* n_out) {
  return guarded([&] {
    need(tmpl, "tmpl");
    if (n) need(messages, "messages");
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (size_t i = 0; i < n; ++i) {
      if (!messages[i].role || !messages[i].content) {
        throw Failure{LOOM_ERR_INVALID_ARGUMENT,
                      "message " + std::to_string(i) + " has a NULL role or content"};
      }
      list.push_back({{"role", messages[i].role}, {"content", messages[i].content}});
    }
    loom::ChatRenderOptions o;
    o.add_generation_prompt = add_generation_prompt != 0;
    return copy_out(tmpl->tmpl.render(list, o), buf, capacity, n_out);
  });
}

loom_session_options loom_session_default_options(void) {
  return loom_session_options{0, 0};
}

loom_status loom_session_create(const loom_model* model, const loom_session_options* options,
                                loom_session** out) {
  return guarded([&] {
    need(out, "out");
    *out = nullptr;
    need(model, "model");
    const loom_session_options o = options ? *options : loom_session_default_options();
    if (o.ctx_size < 0 || o.threads < 0) {
      throw Failure{LOOM_ERR_INVALID_ARGUMENT, "ctx_size " + std::to_string(o.ctx_size) +
                                                   " and threads " + std::to_string(o.threads) +
                                                   " must not be negative"};
    }
    *out = new loom_session{
        loom::Session(model->model, {.ctx_size = o.ctx_size, .threads = o.threads})};
    return LOOM_OK;
  });
}

void loom_session_free(loom_session* session) {
  delete session;
}

loom_status loom_session_prefill(loom_session* session, const int32_t* tokens, size_t n,
                                 const float** logits) {
  return guarded([&] {
    need(session, "session");
    if (n == 0) throw Failure{LOOM_ERR_INVALID_ARGUMENT, "no tokens to prefill"};
    need(tokens, "tokens");
    check_room(session->session, n);
    const std::span<const float> l =
        session->session.prefill(std::span<const int>(tokens, tokens + n));
    if (logits) *logits = l.data();
    return LOOM_OK;
  });
}

loom_status loom_session_decode(loom_session* session, int32_t token, const float** logits) {
  return guarded([&] {
    need(session, "session");
    check_room(session->session, 1);
    const std::span<const float> l = session->session.decode(token);
    if (logits) *logits = l.data();
    return LOOM_OK;
  });
}

int32_t loom_session_position(const loom_session* session) {
  return session ? session->session.position() : 0;
}

int32_t loom_session_ctx_size(const loom_session* session) {
  return session ? session->session.ctx_size() : 0;
}

loom_status loom_session_truncate(loom_session* session, int32_t n) {
  return guarded([&] {
    need(session, "session");
    if (n < 0 || n > session->session.position()) {
      throw Failure{LOOM_ERR_INVALID_ARGUMENT, "cannot keep " + std::to_string(n) +
                                                   " tokens of the session's " +
                                                   std::to_string(session->session.position())};
    }
    session->session.truncate(n);
    return LOOM_OK;
  });
}

loom_sampler_params loom_sampler_default_params(void) {
  const loom::SamplerParams d;
  return loom_sampler_params{d.temperature,    d.top_k,         d.top_p, d.min_p,
                             d.repeat_penalty, d.repeat_last_n, d.seed};
}

loom_status loom_sampler_create(const loom_model* model, const loom_sampler_params* params,
                                loom_sampler** out) {
  return guarded([&] {
    need(out, "out");
    *out = nullptr;
    need(model, "model");
    const loom_sampler_params p = params ? *params : loom_sampler_default_params();
    const int n_vocab = model->model.config().vocab_size;
    *out = or_status(LOOM_ERR_INVALID_ARGUMENT, [&] {
      return new loom_sampler{loom::Sampler(sampler_params(p), n_vocab), n_vocab};
    });
    return LOOM_OK;
  });
}

void loom_sampler_free(loom_sampler* sampler) {
  delete sampler;
}

loom_status loom_sampler_sample(loom_sampler* sampler, const float* logits, int32_t n_vocab,
                                int32_t* token) {
  return guarded([&] {
    need(sampler, "sampler");
    need(logits, "logits");
    need(token, "token");
    if (n_vocab != sampler->n_vocab) {
      throw Failure{LOOM_ERR_INVALID_ARGUMENT, "n_vocab " + std::to_string(n_vocab) +
                                                   " is not the model's " +
                                                   std::to_string(sampler->n_vocab)};
    }
    *token = sampler->sampler.sample(std::span<const float>(logits, logits + n_vocab));
    sampler->sampler.accept(*token);
    return LOOM_OK;
  });
}

loom_generate_options loom_generate_default_options(void) {
  return loom_generate_options{128, 0, loom_sampler_default_params()};
}

loom_status loom_generate(loom_session* session, const int32_t* prompt, size_t n,
                          const loom_generate_options* options, loom_token_callback on_token,
                          void* user_data, int32_t* n_generated) {
  return guarded([&] {
    if (n_generated) *n_generated = 0;
    need(session, "session");
    if (n == 0) throw Failure{LOOM_ERR_INVALID_ARGUMENT, "the prompt is empty"};
    need(prompt, "prompt");
    check_room(session->session, n);
    const loom_generate_options o = options ? *options : loom_generate_default_options();
    if (o.max_tokens < 0) {
      throw Failure{LOOM_ERR_INVALID_ARGUMENT,
                    "max_tokens " + std::to_string(o.max_tokens) + " is negative"};
    }
    loom::GenerateOptions g;
    g.max_tokens = o.max_tokens;
    g.ignore_eos = o.ignore_eos != 0;
    g.sampling = sampler_params(o.sampling);
    loom::TokenCallback cb;
    if (on_token) {
      cb = [&](const loom::TokenEvent& e) {
        return on_token(e.id, e.text.data(), e.text.size(), user_data) == 0;
      };
    }
    const loom::GenerateResult r =
        loom::generate(session->session, std::span<const int>(prompt, prompt + n), g, cb);
    if (n_generated) *n_generated = static_cast<int32_t>(r.ids.size());
    return LOOM_OK;
  });
}

}  // extern "C"
