// loom-generate --conversation: an interactive chat on the terminal, as llama-cli -cnv.
#pragma once

#include "loom/chat.h"
#include "loom/generate.h"
#include "loom/model.h"

namespace loom::tools {

struct ConversationOptions {
  ChatOptions chat;       // the system message, template variables and session
  GenerateOptions reply;  // each reply's sampling and limits
  bool verbose = false;   // each turn's token counts and speeds on standard error
  const char* name = "";  // the tool's name, before its notes on standard error
};

// Reads the user's messages from standard input, a line each (a line ending with '\' goes on
// to the next), and streams each reply to standard output; notes, the "> " prompt and
// statistics go to standard error. /clear, /save FILE and /help are commands. Ctrl-C during a
// reply stops that reply; Ctrl-C at the prompt ends the program with status 130, as llama-cli
// does; end of input (Ctrl-D) ends it with status 0. Returns the exit status.
int run_conversation(const Model& model, ChatTemplate tmpl, const ConversationOptions& options);

}  // namespace loom::tools
