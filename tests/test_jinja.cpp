#include <gtest/gtest.h>

#include "jinja/template.h"

TEST(Jinja, Smoke) {
  loom::jinja::Template t("{% for m in messages %}{{ m.role }}: {{ m['content'] }}\n{% endfor %}", "t");
  EXPECT_EQ(t.render({{"messages", {{{"role", "user"}, {"content", "hi"}}}}}), "user: hi\n");
}
