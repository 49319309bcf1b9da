// The message of the loom::Error a callable throws, for tests of bad input.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <string>

#include "loom/error.h"

namespace loom::test {

// The message of the loom::Error that F throws. Anything else (no error, another exception type)
// fails the test: a std::out_of_range from deep inside says nothing useful to the user.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const loom::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-loom exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no error was thrown";
  return {};
}

}  // namespace loom::test
