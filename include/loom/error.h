// Errors raised by loom. Every error that comes from user input (files, config values, token ids,
// options) is a loom::Error whose message names what was wrong and where.
#pragma once

#include <stdexcept>
#include <string>

#pragma GCC visibility push(default)  // the public API: what libloom.so exports
namespace loom {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace loom
#pragma GCC visibility pop
