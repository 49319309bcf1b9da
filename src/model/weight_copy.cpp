#include "model/weight_copy.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/arch.h"

namespace loom::model {

namespace {

size_t bytes_of(const ops::MatRef& m) {
  return static_cast<size_t>(m.rows) * row_bytes(m.dtype, m.cols);
}

// The kernel's estimate of the memory that can be had without swapping (page cache included),
// or 0 when /proc/meminfo does not say.
size_t available_memory() {
  std::ifstream in("/proc/meminfo");
  for (std::string key; in >> key;) {
    size_t kib = 0;
    if (key == "MemAvailable:" && in >> kib) return kib * 1024;
    in.ignore(4096, '\n');
  }
  return 0;
}

}  // namespace

io::AnonymousMemory copy_mapped_matrices(LlamaWeights& w, const io::TensorStore& store,
                                         const io::MappedFile* cache) {
  std::unordered_set<const void*> mapped;
  for (const auto& [name, t] : store.tensors()) {
    if (t.mapped) mapped.insert(t.data);
  }
  auto in_place = [&](const ops::MatRef& m) {
    const auto* p = static_cast<const uint8_t*>(m.data);
    if (cache && p >= cache->data() && p < cache->data() + cache->size()) return true;
    return mapped.count(m.data) != 0;
  };

  // The views to repoint: the output head (the embedding too when they are one matrix), then
  // each layer's matrices.
  std::vector<ops::MatRef*> views{&w.lm_head};
  if (w.embed.data == w.lm_head.data) views.push_back(&w.embed);
  for (LayerWeights& l : w.layers) {
    for (const LayerTensor& t : layer_tensors(w.arch)) {
      if (t.kind == TensorKind::Matrix && (l.*t.matrix).data) views.push_back(&(l.*t.matrix));
    }
  }
  std::unordered_map<const void*, size_t> offset;  // source -> its copy's offset
  std::vector<const ops::MatRef*> sources;
  size_t total = 0;
  for (const ops::MatRef* v : views) {
    if (!in_place(*v) || offset.count(v->data)) continue;
    offset.emplace(v->data, total);
    sources.push_back(v);
    total += (bytes_of(*v) + 63) / 64 * 64;
  }
  if (total == 0) return {};
  // A copy that cannot fit beside what runs already would swap: the mapping is read in place.
  if (const size_t avail = available_memory(); avail != 0 && total > avail) return {};

  io::AnonymousMemory mem(total);
  constexpr size_t kPiece = size_t{1} << 20;  // bytes a thread copies at once
  for (const ops::MatRef* s : sources) {
    const auto* src = static_cast<const uint8_t*>(s->data);
    uint8_t* dst = mem.data() + offset.at(s->data);
    const size_t n = bytes_of(*s);
    const long pieces = static_cast<long>((n + kPiece - 1) / kPiece);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < pieces; ++i) {
      const size_t at = static_cast<size_t>(i) * kPiece;
      std::memcpy(dst + at, src + at, std::min(kPiece, n - at));
    }
    io::release_mapped_pages(src, n);  // the copy is what the model reads
  }
  for (ops::MatRef* v : views) {
    if (auto it = offset.find(v->data); it != offset.end()) v->data = mem.data() + it->second;
  }
  return mem;
}

}  // namespace loom::model
