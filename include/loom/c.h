/* loom's C API: the library from C and from any language with a C foreign-function interface
 * (python/loom uses it through ctypes).
 *
 * Objects are opaque handles, made by a *_create or *_load function and released by its *_free
 * (free(NULL) does nothing). Every function that can fail returns a loom_status: LOOM_OK, or a code
 * whose message loom_last_error() gives until the calling thread's next failing call. No C++
 * exception crosses this boundary, and no string handed out needs freeing by the caller: text comes
 * back in buffers the caller owns (with the size it needs when the buffer is too small), or as
 * views valid for the stated time.
 *
 * A model is immutable and may be shared by threads; a session, sampler or chat template is used
 * by one thread at a time. */
#ifndef LOOM_C_H
#define LOOM_C_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define LOOM_C_API __declspec(dllexport)
#else
#define LOOM_C_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum loom_status {
  LOOM_OK = 0,
  LOOM_ERR_INVALID_ARGUMENT = 1, /* a null handle or pointer, a value out of range */
  LOOM_ERR_BUFFER_TOO_SMALL = 2, /* *n_out holds the size needed; nothing else changed */
  LOOM_ERR_LOAD = 3,             /* a model, tokenizer or template that cannot be read */
  LOOM_ERR_CONTEXT_FULL = 4,     /* the session's KV cache has no room for the tokens */
  LOOM_ERR_RUNTIME = 5,          /* any other failure; the message says what */
  LOOM_ERR_OUT_OF_MEMORY = 6
} loom_status;

typedef struct loom_model loom_model;
typedef struct loom_session loom_session;
typedef struct loom_sampler loom_sampler;
typedef struct loom_chat_template loom_chat_template;

/* The library's version, "MAJOR.MINOR.PATCH" (include/loom/version.h has it as macros). */
LOOM_C_API const char* loom_version(void);
/* The message of the calling thread's last failure ("" if none); valid until its next call. */
LOOM_C_API const char* loom_last_error(void);

/* ---- Models ---------------------------------------------------------------------------------- */

typedef struct loom_model_options {
  const char* quantize; /* NULL: as stored; else a type ("q8_0", "q4_0", "q4_k") or a GGUF mix
                           ("q4_k_m", "q5_k_m", "q6_k", ...), as loom-generate --quantize */
  int quant_cache;      /* nonzero: keep the quantized weights in a cache file (--quant-cache) */
} loom_model_options;

LOOM_C_API loom_model_options loom_model_default_options(void);
/* PATH: a Hugging Face folder or a GGUF file (the first shard of a split one). OPTIONS may be
 * NULL (the defaults). */
LOOM_C_API loom_status loom_model_load(const char* path, const loom_model_options* options,
                                       loom_model** out);
LOOM_C_API void loom_model_free(loom_model* model);
LOOM_C_API int32_t loom_model_n_vocab(const loom_model* model);
LOOM_C_API int32_t loom_model_n_ctx_train(const loom_model* model);
LOOM_C_API int32_t loom_model_bos(const loom_model* model); /* -1: none */
/* Whether ID ends generation (one of the model's EOS ids). */
LOOM_C_API int loom_model_is_eos(const loom_model* model, int32_t id);

/* ---- Tokens ---------------------------------------------------------------------------------- */

/* TEXT (LEN bytes) as token ids into TOKENS (room for CAPACITY); *N_OUT: how many. ADD_SPECIAL:
 * the BOS (and whatever the tokenizer adds) as the model's tokenizer config says; special tokens
 * written in the text are parsed as such. */
LOOM_C_API loom_status loom_tokenize(const loom_model* model, const char* text, size_t len,
                                     int add_special, int32_t* tokens, size_t capacity,
                                     size_t* n_out);
/* The text of N ids into BUF (CAPACITY bytes, NUL-terminated; *N_OUT: its length without the
 * NUL). SKIP_SPECIAL: leave out special tokens' text. */
LOOM_C_API loom_status loom_detokenize(const loom_model* model, const int32_t* tokens, size_t n,
                                       int skip_special, char* buf, size_t capacity, size_t* n_out);

/* ---- Chat templates -------------------------------------------------------------------------- */

typedef struct loom_chat_message {
  const char* role; /* "system", "user", "assistant", ... */
  const char* content;
} loom_chat_message;

/* The model's own template (tokenizer_config.json, chat_template.jinja or the GGUF file's). */
LOOM_C_API loom_status loom_chat_template_from_model(const loom_model* model,
                                                     loom_chat_template** out);
/* A Jinja template given as text, with the model's special tokens (bos_token, eos_token). */
LOOM_C_API loom_status loom_chat_template_create(const loom_model* model, const char* source,
                                                 loom_chat_template** out);
LOOM_C_API void loom_chat_template_free(loom_chat_template* tmpl);
/* The N messages rendered into BUF, as loom_detokenize fills it. ADD_GENERATION_PROMPT: end
 * with the opening of the assistant's reply. */
LOOM_C_API loom_status loom_chat_apply(const loom_chat_template* tmpl,
                                       const loom_chat_message* messages, size_t n,
                                       int add_generation_prompt, char* buf, size_t capacity,
                                       size_t* n_out);

/* ---- Sessions: one sequence's KV cache ------------------------------------------------------- */

typedef struct loom_session_options {
  int32_t ctx_size; /* tokens the KV cache holds; 0: the model's context, at most 4096 */
  int32_t threads;  /* 0: all cores */
} loom_session_options;

LOOM_C_API loom_session_options loom_session_default_options(void);
LOOM_C_API loom_status loom_session_create(const loom_model* model,
                                           const loom_session_options* options, loom_session** out);
LOOM_C_API void loom_session_free(loom_session* session);
/* Appends N tokens to the sequence (the whole prompt as matrix products). *LOGITS (may be NULL):
 * the last token's n_vocab logits, valid until the session's next call. */
LOOM_C_API loom_status loom_session_prefill(loom_session* session, const int32_t* tokens, size_t n,
                                            const float** logits);
/* Appends one token; *LOGITS as above. */
LOOM_C_API loom_status loom_session_decode(loom_session* session, int32_t token,
                                           const float** logits);
LOOM_C_API int32_t loom_session_position(const loom_session* session); /* tokens in the cache */
LOOM_C_API int32_t loom_session_ctx_size(const loom_session* session);
/* Keeps the first N tokens of the cache (0: empties it). */
LOOM_C_API loom_status loom_session_truncate(loom_session* session, int32_t n);

/* ---- Samplers -------------------------------------------------------------------------------- */

typedef struct loom_sampler_params {
  float temperature; /* 0: greedy */
  int32_t top_k;     /* 0: off */
  float top_p;       /* 1: off */
  float min_p;       /* 0: off */
  float repeat_penalty;
  int32_t repeat_last_n;
  uint64_t seed;
} loom_sampler_params;

/* llama.cpp's defaults (temperature 0.8, top_k 40, top_p 0.95, min_p 0.05), in its order. */
LOOM_C_API loom_sampler_params loom_sampler_default_params(void);
LOOM_C_API loom_status loom_sampler_create(const loom_model* model,
                                           const loom_sampler_params* params, loom_sampler** out);
LOOM_C_API void loom_sampler_free(loom_sampler* sampler);
/* A token from N_VOCAB LOGITS; it is also accepted (counted by the penalties). */
LOOM_C_API loom_status loom_sampler_sample(loom_sampler* sampler, const float* logits,
                                           int32_t n_vocab, int32_t* token);

/* ---- Generation ------------------------------------------------------------------------------ */

/* Called with each generated token and the text that became final with it (complete UTF-8, not
 * NUL-terminated, LEN bytes; may be empty while a character or a possible stop is held back).
 * TOKEN -1: a last call with text held back to the end. Return nonzero to stop. */
typedef int (*loom_token_callback)(int32_t token, const char* text, size_t len, void* user_data);

typedef struct loom_generate_options {
  int32_t max_tokens; /* default 128 */
  int ignore_eos;     /* keep going past EOS */
  loom_sampler_params sampling;
} loom_generate_options;

LOOM_C_API loom_generate_options loom_generate_default_options(void);
/* Prefills PROMPT (N tokens, appended to what the session holds) and samples up to max_tokens,
 * calling ON_TOKEN (may be NULL) for each. Ends at EOS, max_tokens, a full context or the
 * callback's stop; *N_GENERATED (may be NULL): tokens generated. */
LOOM_C_API loom_status loom_generate(loom_session* session, const int32_t* prompt, size_t n,
                                     const loom_generate_options* options,
                                     loom_token_callback on_token, void* user_data,
                                     int32_t* n_generated);

#ifdef __cplusplus
}
#endif

#endif /* LOOM_C_H */
