// Finds stop strings in streamed text, and holds back text that could still become one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace loom {

class StopStringFilter {
 public:
  explicit StopStringFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Appends TEXT; returns the text that is now final (valid until the next call): everything
  // before a stop string once one appears, else all but the longest tail that begins a stop
  // string.
  std::string_view push(std::string_view text);
  // Appends TEXT and releases everything held back (the end of generation).
  std::string_view finish(std::string_view text);
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  std::string out_;
  bool stopped_ = false;
};

}  // namespace loom
