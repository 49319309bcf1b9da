// Not a test: renders a JSON list of {"template", "context"} with loom::jinja and prints the
// outputs as a JSON list ("ERROR: ..." for a loom::Error), for scripts/jinja_differential.py.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "jinja/template.h"
#include "loom/error.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: jinja_render CASES.json\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  const auto cases = nlohmann::ordered_json::parse(in);
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  loom::jinja::RenderOptions options;
  options.now = 1733400000;  // scripts/jinja_reference.py's NOW
  for (const auto& c : cases) {
    try {
      const loom::jinja::Template t(c["template"].get<std::string>(), "t");
      out.push_back(t.render(c["context"], options));
    } catch (const loom::Error& e) {
      out.push_back(std::string("ERROR: ") + e.what());
    }
  }
  std::cout << out.dump() << "\n";
}
