// The globals of transformers' environment: jinja2's range, dict, namespace, joiner and cycler,
// and transformers' raise_exception and strftime_now.
#include <chrono>
#include <ctime>

#include "jinja/builtins.h"
#include "jinja/evaluator.h"
#include "jinja/text.h"
#include "loom/error.h"

namespace loom::jinja {

std::shared_ptr<Scope> Evaluator::make_globals() {
  auto globals = std::make_shared<Scope>();
  globals->set(
      "range", Value::function("range", [](Args& a) {
        std::int64_t start = 0, stop = 0, step = 1;
        auto num = [](const Value& v) {
          if (!v.is_int())
            throw RenderError{"'" + type_short(v) + "' object cannot be interpreted as an integer"};
          return v.as_int();
        };
        if (a.positional.size() == 1) {
          stop = num(a.positional[0]);
        } else if (a.positional.size() >= 2) {
          start = num(a.positional[0]);
          stop = num(a.positional[1]);
          if (a.positional.size() >= 3) step = num(a.positional[2]);
        } else {
          throw RenderError{"range expected at least 1 argument, got 0"};
        }
        if (step == 0) throw RenderError{"range() arg 3 must not be zero"};
        List items;
        for (std::int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
          if (items.size() >= 100000) throw RenderError{"range too big, maximum length is 100000"};
          items.push_back(Value::integer(k));
        }
        return Value::make_list(std::move(items));
      }));
  auto kw_dict = [](Args& a, Value d) {
    for (const auto& p : a.positional) {
      if (p.is_dict() || p.type == Value::Type::Namespace)
        for (const auto& kv : p.dict->items) d.dict->set(kv.first, kv.second);
      else if (p.is_list())
        for (const auto& item : *p.list) {
          const List kv = iterate(item);
          if (kv.size() != 2)
            throw RenderError{"dictionary update sequence element has wrong length"};
          d.dict->set(kv[0], kv[1]);
        }
    }
    for (auto& [k, v] : a.keyword) d.dict->set(Value::string(k), v);
    return d;
  };
  globals->set("namespace", Value::function("namespace", [this, kw_dict](Args& a) {
                 Value ns = kw_dict(a, Value::make_namespace());
                 namespaces_.push_back(ns.dict);
                 return ns;
               }));
  globals->set("dict", Value::function(
                           "dict", [kw_dict](Args& a) { return kw_dict(a, Value::make_dict()); }));
  globals->set("raise_exception", Value::function("raise_exception", [](Args& a) -> Value {
                 throw RenderError{a.positional.empty() ? std::string() : to_str(a.positional[0])};
               }));
  globals->set("strftime_now", Value::function("strftime_now", [this](Args& a) {
                 const std::string fmt = a.positional.empty() ? "" : to_str(a.positional[0]);
                 const std::time_t t = now();
                 std::tm tm{};
                 localtime_r(&t, &tm);
                 std::string buf(256, '\0');
                 std::size_t n = 0;
                 if (!fmt.empty()) {
                   for (int tries = 0; tries < 8 && (n = std::strftime(buf.data(), buf.size(),
                                                                       fmt.c_str(), &tm)) == 0;
                        ++tries)
                     buf.resize(buf.size() * 4);
                 }
                 buf.resize(n);
                 return Value::string(buf);
               }));
  globals->set("cycler", Value::function("cycler", [](Args& a) {
                 if (a.positional.empty()) throw RenderError{"cycler needs at least one item"};
                 auto items = std::make_shared<List>(a.positional);
                 auto pos = std::make_shared<std::size_t>(0);
                 Value c = Value::make_namespace();  // .next() and .reset()
                 c.dict->set(Value::string("next"), Value::function("next", [items, pos](Args&) {
                               const Value v = (*items)[*pos];
                               *pos = (*pos + 1) % items->size();
                               return v;
                             }));
                 c.dict->set(Value::string("reset"), Value::function("reset", [pos](Args&) {
                               *pos = 0;
                               return Value::none();
                             }));
                 return c;
               }));
  globals->set("joiner", Value::function("joiner", [](Args& a) {
                 const std::string sep = a.positional.empty() ? ", " : to_str(a.positional[0]);
                 auto used = std::make_shared<bool>(false);
                 return Value::function("joiner", [sep, used](Args&) {
                   if (!*used) {
                     *used = true;
                     return Value::string("");
                   }
                   return Value::string(sep);
                 });
               }));
  return globals;
}

}  // namespace loom::jinja
