#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "loom/error.h"
#include "tokenizer/unicode.h"

namespace loom::detail {

namespace {

// Per-thread match data and JIT stack: Tokenizer::encode is const and may run on many threads.
// One ovector pair is enough (only the whole match is used); a large JIT stack keeps patterns
// like \s+(?!\S) from failing on long runs of spaces.
struct MatchScratch {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  pcre2_match_context* ctx = pcre2_match_context_create(nullptr);
  MatchScratch() { pcre2_jit_stack_assign(ctx, nullptr, stack); }
  ~MatchScratch() {
    pcre2_match_context_free(ctx);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

}  // namespace

Regex::Regex(std::string_view pattern, const std::string& where) : pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  // UCP: \s, \w and \d (and POSIX classes) follow Unicode properties, as Oniguruma's do on UTF-8.
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw Error(where + ": regex '" + std::string(pattern) + "' does not compile: " +
                reinterpret_cast<const char*>(msg) + " at offset " + std::to_string(offset));
  }
  // Without the JIT (a PCRE2 built without it) matching still works, only slower.
  (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  code_ = code;
}

Regex Regex::literal(std::string_view s, const std::string& where) {
  return Regex(regex_escape(s), where);
}

Regex::Regex(Regex&& o) noexcept : pattern_(std::move(o.pattern_)), code_(o.code_) {
  o.code_ = nullptr;
}
Regex& Regex::operator=(Regex&& o) noexcept {
  std::swap(pattern_, o.pattern_);
  std::swap(code_, o.code_);
  return *this;
}
Regex::~Regex() {
  if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

void Regex::find_some(std::string_view text, RegexCursor& c, std::vector<Match>& out,
                      size_t max) const {
  MatchScratch& s = scratch();
  auto* code = static_cast<const pcre2_code*>(code_);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  for (size_t found = 0; found < max;) {
    if (c.pos > text.size()) {
      c.done = true;
      return;
    }
    const int rc =
        pcre2_match(code, subject, text.size(), c.pos, PCRE2_NO_UTF_CHECK, s.data, s.ctx);
    if (rc == PCRE2_ERROR_NOMATCH) {
      c.done = true;
      return;
    }
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      throw Error("regex '" + pattern_ + "' failed on a text of " + std::to_string(text.size()) +
                  " bytes: " + reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
    const size_t b = ov[0], e = ov[1];
    if (b == e && c.has_last && b == c.last_end) {
      // An empty match touching the previous one: step over one character and search again.
      if (c.pos >= text.size()) {
        c.done = true;
        return;
      }
      c.pos += char_len(static_cast<unsigned char>(text[c.pos]));
      continue;
    }
    out.push_back({b, e});
    ++found;
    c.has_last = true;
    c.last_end = e;
    // After an empty match the next search starts at the same place, where the check above
    // keeps it from matching empty again.
    c.pos = e;
  }
}

std::string regex_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}-#/ \t\n\r").find(c) != std::string_view::npos) {
      switch (c) {
        case '\t':
          out += "\\t";
          continue;
        case '\n':
          out += "\\n";
          continue;
        case '\r':
          out += "\\r";
          continue;
        case ' ':
          out += "\\x20";
          continue;
        default:
          out.push_back('\\');
      }
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace loom::detail
