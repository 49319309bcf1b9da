// The template engine against Python's jinja2: every case in tests/data/jinja_cases.json was
// rendered by scripts/jinja_reference.py with the environment transformers' apply_chat_template
// uses; loom must give the same text, or an error that says what jinja2's says.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "jinja/template.h"
#include "loom/error.h"

namespace {

using loom::jinja::RenderOptions;
using loom::jinja::Template;

using Json = nlohmann::ordered_json;  // the cases' dicts keep their key order, as Python's

const Json& cases_file() {
  static const Json data = [] {
    std::ifstream in(std::string(LOOM_SOURCE_DIR) + "/tests/data/jinja_cases.json");
    return Json::parse(in);
  }();
  return data;
}

struct Case {
  const Json* json;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << (*c.json)["name"].get<std::string>();
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const auto& c : cases_file()["cases"]) out.push_back({&c});
  return out;
}

class JinjaCase : public testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    // strftime_now formats local time, as Python's datetime.now(); the goldens are in UTC.
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

TEST_P(JinjaCase, MatchesJinja2) {
  const Json& c = *GetParam().json;
  const std::string name = c["name"];
  RenderOptions options;
  options.now = static_cast<std::time_t>(cases_file()["now"].get<long long>());
  if (c.contains("expected")) {
    const Template t(c["template"].get<std::string>(), name);
    EXPECT_EQ(t.render(c["context"], options), c["expected"].get<std::string>());
    return;
  }
  const std::string error = c["error"];
  try {
    const Template t(c["template"].get<std::string>(), name);
    const std::string out = t.render(c["context"], options);
    FAIL() << "rendered " << out << " instead of an error containing " << error;
  } catch (const loom::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(error), std::string::npos) << what;
    EXPECT_EQ(what.rfind(name + ":", 0), 0u) << what;
    if (c.contains("error_line")) {
      EXPECT_EQ(what.rfind(name + ":" + std::to_string(c["error_line"].get<int>()) + ":", 0), 0u)
          << what;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Jinja2, JinjaCase, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) {
                           return (*info.param.json)["name"].get<std::string>();
                         });

}  // namespace
