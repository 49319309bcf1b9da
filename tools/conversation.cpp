// The interactive chat of loom-generate --conversation: reading the user's lines, the slash
// commands, Ctrl-C and Ctrl-D, and streaming the replies of a loom::Chat.
#include "conversation.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "cli_habits.h"
#include "loom/error.h"

namespace loom::tools {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_sigint(int) {
  g_interrupted = 1;
}

// While it lives, SIGINT (Ctrl-C) raises a flag instead of ending the program. Without
// SA_RESTART a read() waiting at the prompt returns EINTR, so the prompt sees the flag at once.
class InterruptFlag {
 public:
  InterruptFlag() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, &previous_);
  }
  ~InterruptFlag() { sigaction(SIGINT, &previous_, nullptr); }
  InterruptFlag(const InterruptFlag&) = delete;
  InterruptFlag& operator=(const InterruptFlag&) = delete;

  bool raised() const { return g_interrupted != 0; }
  void clear() { g_interrupted = 0; }

 private:
  struct sigaction previous_ {};
};

enum class Input { Text, End, Interrupted };

// Standard input's lines, read with read(2) (not iostreams) so that Ctrl-C interrupts the wait.
class LineReader {
 public:
  Input next(std::string& line) {
    for (;;) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return Input::Text;
      }
      if (end_) {
        if (buffer_.empty()) return Input::End;
        line = std::exchange(buffer_, {});  // the last line, without a newline
        return Input::Text;
      }
      if (g_interrupted) return Input::Interrupted;
      char chunk[4096];
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n > 0) {
        buffer_.append(chunk, static_cast<size_t>(n));
      } else if (n == 0) {
        end_ = true;
      } else if (errno != EINTR) {
        throw Error(std::string("cannot read standard input: ") + std::strerror(errno));
      }
    }
  }

 private:
  std::string buffer_;
  bool end_ = false;
};

// One message of the user: a line, or several where each but the last ends with '\'.
Input read_message(LineReader& in, std::string& text) {
  text.clear();
  for (std::string line;;) {
    const Input got = in.next(line);
    if (got != Input::Text) return got == Input::End && !text.empty() ? Input::Text : got;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line.back() == '\\') {
      line.back() = '\n';
      text += line;
      continue;
    }
    text += line;
    return Input::Text;
  }
}

const char* const kHelp =
    "  /clear       forget the conversation and start over (the system message stays)\n"
    "  /save FILE   write the conversation to FILE as JSON messages (--messages reads them)\n"
    "  /help        this list\n"
    "  a line ending with \\ goes on to the next; Ctrl-C stops a reply, or at the prompt ends\n"
    "  the program; Ctrl-D ends it\n";

class Conversation {
 public:
  Conversation(const Model& model, ChatTemplate tmpl, const ConversationOptions& options)
      : chat_(model, std::move(tmpl), options.chat), options_(options), reply_(options.reply) {
    if (reply_.max_tokens < 0) reply_.max_tokens = chat_.session().ctx_size();
  }

  int run() {
    note("chatting; /help lists the commands, Ctrl-C stops a reply, Ctrl-D ends");
    LineReader in;
    for (std::string text;;) {
      interrupt_.clear();
      std::fputs("> ", stderr);
      const Input got = read_message(in, text);
      if (got != Input::Text) {
        std::fputc('\n', stderr);
        return got == Input::End ? 0 : 130;  // 130: ended by SIGINT, as llama-cli exits
      }
      if (text.find_first_not_of(" \t\n") == std::string::npos) continue;
      if (text[0] == '/') {
        command(text);
      } else {
        reply(text);
      }
    }
  }

 private:
  void note(const std::string& s) { std::fprintf(stderr, "%s: %s\n", options_.name, s.c_str()); }

  void command(const std::string& line) {
    const size_t space = line.find_first_of(" \t");
    const std::string name = line.substr(0, space);
    const size_t arg_at = space == std::string::npos ? space : line.find_first_not_of(" \t", space);
    const std::string arg = arg_at == std::string::npos ? "" : line.substr(arg_at);
    if (name == "/clear") {
      chat_.clear();
      turn_ = 0;
      note("conversation cleared");
    } else if (name == "/save") {
      if (arg.empty()) return note("/save needs a file: /save FILE");
      std::ofstream f(arg, std::ios::binary);
      f << chat_.messages().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      f.close();
      if (!f) return note("/save: cannot write " + arg + ": " + std::strerror(errno));
      note("saved " + std::to_string(chat_.messages().size()) + " messages to " + arg);
    } else if (name == "/help") {
      std::fputs(kHelp, stderr);
    } else {
      note("unknown command " + name + "; /help lists the commands");
    }
  }

  void reply(const std::string& text) {
    TextOut out;
    try {
      const ChatTurn t = chat_.send(text, reply_, [&](const TokenEvent& e) {
        out.write(e.text);
        return !interrupt_.raised();
      });
      out.end_line();
      ++turn_;
      const GenerateResult& r = t.result;
      if (r.stop == StopReason::Callback) note("reply stopped");
      if (r.stop == StopReason::ContextFull) {
        note("the context of " + std::to_string(chat_.session().ctx_size()) +
             " tokens is full and the reply stopped; /clear starts over (-c sets the size)");
      }
      if (options_.verbose) {
        const int evaluated = t.prompt_tokens - t.reused_tokens;
        std::fprintf(stderr,
                     "turn %d: prompt %d tokens, %d reused, %d evaluated in %.2f ms (%.1f tok/s) "
                     "| reply %zu tokens, %.1f tok/s\n",
                     turn_, t.prompt_tokens, t.reused_tokens, evaluated, r.prefill_seconds * 1e3,
                     r.prefill_seconds > 0 ? evaluated / r.prefill_seconds : 0.0, r.ids.size(),
                     r.n_decoded > 0 ? r.n_decoded / r.decode_seconds : 0.0);
      }
    } catch (const Error& e) {
      out.end_line();
      note(std::string("error: ") + e.what());
    }
  }

  Chat chat_;
  const ConversationOptions& options_;
  GenerateOptions reply_;  // max_tokens -1 made the context size
  InterruptFlag interrupt_;
  int turn_ = 0;
};

}  // namespace

int run_conversation(const Model& model, ChatTemplate tmpl, const ConversationOptions& options) {
  Conversation c(model, std::move(tmpl), options);
  return c.run();
}

}  // namespace loom::tools
