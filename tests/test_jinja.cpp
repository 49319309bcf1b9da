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

namespace {

std::string error_of(const std::string& source, const Json& context = Json::object()) {
  try {
    Template(source, "chat_template").render(context);
  } catch (const loom::Error& e) {
    return e.what();
  }
  return "no error";
}

// jinja2 names only the line; loom names the column too: where the offending token begins.
TEST(JinjaErrors, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("ab\n  {{ 1 + }}"), "chat_template:2:10: unexpected 'end of print statement'");
  EXPECT_EQ(error_of("{% for x in xs %}\n{% endif %}"),
            "chat_template:2:4: Encountered unknown tag 'endif'. The innermost block that needs "
            "to be closed is 'for'.");
  EXPECT_EQ(error_of("x\n\n   {{ 'abc' | }}"),
            "chat_template:3:15: expected token 'name', got "
            "'end of print statement'");
  EXPECT_EQ(error_of("{{ 'unterminated }}"), "chat_template:1:4: unexpected char '''");
  EXPECT_EQ(error_of("{% if true %}\n\n{% for x in y %}"),
            "chat_template:3:17: Unexpected end of template. Jinja was looking for the following "
            "tags: 'else' or 'endfor'. The innermost block that needs to be closed is 'for'.");
}

TEST(JinjaErrors, RenderErrorsNameLineColumnAndWhat) {
  EXPECT_EQ(error_of("line 1\n{{ messages[0].content + 1 }}",
                     {{"messages", {{{"role", "user"}, {"content", "hi"}}}}}),
            "chat_template:2:24: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(error_of("{{ x|nosuch }}"), "chat_template:1:6: No filter named 'nosuch'.");
  EXPECT_EQ(error_of("\n{{ missing.attr }}"), "chat_template:2:11: 'missing' is undefined");
  EXPECT_EQ(error_of("{%- if true %}\n  {{- raise_exception('Only user and assistant roles') }}\n"
                     "{%- endif %}"),
            "chat_template:2:7: Only user and assistant roles");
  EXPECT_EQ(error_of("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns }}"),
            "chat_template:1:52: a value nested too deeply to print (a namespace that holds "
            "itself?)");
}

TEST(JinjaErrors, NestingIsBounded) {
  EXPECT_NE(error_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}")
                .find("nests too deeply"),
            std::string::npos);
  std::string blocks;
  for (int k = 0; k < 5000; ++k) blocks += "{% if true %}";
  EXPECT_NE(error_of(blocks).find("nests too deeply"), std::string::npos);
  EXPECT_NE(error_of("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}").find("recursion"),
            std::string::npos);
}

// Every prefix of every case's template, and each template with one byte doubled or dropped,
// either renders or throws loom::Error: no crash, no other exception (run it under ASan too).
TEST(JinjaFuzz, TruncatedAndMutatedTemplatesFailCleanly) {
  RenderOptions options;
  options.now = 0;
  std::size_t rendered = 0, failed = 0;
  auto attempt = [&](const std::string& source, const Json& context) {
    try {
      Template(source, "fuzz").render(context, options);
      ++rendered;
    } catch (const loom::Error&) {
      ++failed;
    }
  };
  for (const auto& c : cases_file()["cases"]) {
    const std::string source = c["template"];
    for (std::size_t n = 0; n < source.size(); ++n) attempt(source.substr(0, n), c["context"]);
    for (std::size_t n = 0; n < source.size(); n += 3) {
      attempt(source.substr(0, n) + source.substr(n + 1), c["context"]);
      attempt(source.substr(0, n + 1) + source.substr(n), c["context"]);
    }
  }
  EXPECT_GT(rendered, 1000u);
  EXPECT_GT(failed, 1000u);
}

TEST(JinjaOptions, TrimAndLstripCanBeTurnedOff) {
  const std::string source = "  {% if true %}\nx\n  {% endif %}\n";
  EXPECT_EQ(Template(source, "t").render(Json::object()), "x\n");
  EXPECT_EQ(
      Template(source, "t", {.trim_blocks = false, .lstrip_blocks = false}).render(Json::object()),
      "  \nx\n  ");  // the template's last newline is dropped, as jinja2 does
}

TEST(JinjaOptions, StrftimeNowUsesTheGivenTime) {
  RenderOptions options;
  options.now = 86400 * 365;  // 1971-01-01 00:00:00 UTC
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(Template("{{ strftime_now('%d %b %Y %H:%M') }}", "t").render(Json::object(), options),
            "01 Jan 1971 00:00");
}

TEST(JinjaTemplate, ParsesOnceRendersManyAndMoves) {
  Template a("{{ x }}", "t");
  EXPECT_EQ(a.render({{"x", 1}}), "1");
  Template b = std::move(a);
  EXPECT_EQ(b.render({{"x", "two"}}), "two");
  EXPECT_EQ(b.render({{"x", nullptr}}), "None");
  // A plain nlohmann::json context converts, its keys sorted.
  EXPECT_EQ(b.render(nlohmann::json{{"x", {{"b", 1}, {"a", 2}}}}), "{'a': 2, 'b': 1}");
}

}  // namespace
