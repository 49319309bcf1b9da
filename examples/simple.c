/* loom from C: load a model, tokenize a prompt, and stream a greedy continuation token by token,
 * stopping after two sentences or 48 tokens.
 * Usage: loom-example-c MODEL [PROMPT] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/c.h"

/* The callback: print each piece as it comes; stop once a sentence ends. */
static int on_token(int32_t token, const char* text, size_t len, void* user_data) {
  int* sentences = (int*)user_data;
  (void)token;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  if (len > 0 && text[len - 1] == '.') ++*sentences;
  return *sentences >= 2; /* nonzero: stop */
}

static int fail(const char* what) {
  fprintf(stderr, "error: %s: %s\n", what, loom_last_error());
  return 1;
}

int main(int argc, char** argv) {
  const char* prompt = argc > 2 ? argv[2] : "Once upon a time";
  loom_model* model = NULL;
  loom_session* session = NULL;
  int32_t* tokens = NULL;
  size_t n = 0;
  int sentences = 0, rc = 1;
  int32_t generated = 0;
  loom_generate_options options = loom_generate_default_options();

  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL [PROMPT]\n", argv[0]);
    return 2;
  }
  printf("loom %s\n", loom_version());
  if (loom_model_load(argv[1], NULL, &model) != LOOM_OK) return fail("loading the model");

  /* Ask for the size first, then tokenize into a buffer of that size. */
  if (loom_tokenize(model, prompt, strlen(prompt), 1, NULL, 0, &n) != LOOM_ERR_BUFFER_TOO_SMALL) {
    rc = fail("tokenizing");
    goto done;
  }
  tokens = malloc(n * sizeof *tokens);
  if (!tokens || loom_tokenize(model, prompt, strlen(prompt), 1, tokens, n, &n) != LOOM_OK) {
    rc = fail("tokenizing");
    goto done;
  }

  if (loom_session_create(model, NULL, &session) != LOOM_OK) {
    rc = fail("making a session");
    goto done;
  }
  options.max_tokens = 48;
  options.sampling.temperature = 0; /* greedy */
  printf("%s", prompt);
  if (loom_generate(session, tokens, n, &options, on_token, &sentences, &generated) != LOOM_OK) {
    rc = fail("generating");
    goto done;
  }
  printf("\n[%d tokens generated, %d in the cache]\n", (int)generated,
         (int)loom_session_position(session));
  rc = 0;

done:
  free(tokens);
  loom_session_free(session);
  loom_model_free(model);
  return rc;
}
