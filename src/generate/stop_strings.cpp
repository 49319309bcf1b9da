#include "generate/stop_strings.h"

#include <algorithm>

namespace loom {

std::string_view StopStringFilter::push(std::string_view text) {
  out_.clear();
  if (stopped_) return out_;
  pending_.append(text);
  if (stops_.empty()) {
    out_.swap(pending_);
    return out_;
  }
  // Earliest occurrence of any stop string. A stop string never straddles released text: its
  // beginning would have been held back.
  size_t first = std::string::npos;
  for (const std::string& s : stops_) first = std::min(first, pending_.find(s));
  if (first != std::string::npos) {
    out_.assign(pending_, 0, first);
    pending_.clear();
    stopped_ = true;
    return out_;
  }
  size_t hold = 0;
  for (const std::string& s : stops_) {
    for (size_t len = std::min(s.size() - 1, pending_.size()); len > hold; --len) {
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  out_.assign(pending_, 0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out_;
}

std::string_view StopStringFilter::finish(std::string_view text) {
  push(text);
  if (!stopped_) {
    out_.append(pending_);
    pending_.clear();
  }
  return out_;
}

}  // namespace loom
