// Portable attention loops: any CPU. The same blocking and online softmax as the AVX2 set, one
// element at a time.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "simd/attention_kernels.h"
#include "simd/exp_poly.h"
#include "simd/half.h"

namespace loom::simd {
namespace {

struct F32 {
  using Elem = float;
  static float load(const Elem* p) { return *p; }
  static Elem store(float x) { return x; }
};
struct F16 {
  using Elem = uint16_t;
  static float load(const Elem* p) { return f16_to_f32(*p); }
  static Elem store(float x) { return f32_to_f16(x); }
};
struct BF16 {
  using Elem = uint16_t;
  static float load(const Elem* p) { return bf16_to_f32(*p); }
  static Elem store(float x) { return f32_to_bf16(x); }
};

// One block of keys at a time: score it, fold its maximum into the running one (rescaling what
// was summed so far), then add its exponentials and weighted values.
template <class T>
void partial(const float* q, int group, int hd, const void* kp, const void* vp, int n, float scale,
             float* scores, float* o, float* m, float* l) {
  const auto* k = static_cast<const typename T::Elem*>(kp);
  const auto* v = static_cast<const typename T::Elem*>(vp);
  std::fill(o, o + static_cast<size_t>(group) * hd, 0.0f);
  std::fill(m, m + group, -INFINITY);
  std::fill(l, l + group, 0.0f);
  for (int j0 = 0; j0 < n; j0 += kAttentionBlock) {
    const int nb = std::min(kAttentionBlock, n - j0);
    for (int h = 0; h < group; ++h) {
      const float* qh = q + static_cast<size_t>(h) * hd;
      float* s = scores + h * kAttentionBlock;
      for (int j = 0; j < nb; ++j) {
        const typename T::Elem* kj = k + static_cast<size_t>(j0 + j) * hd;
        float dot = 0;
        for (int d = 0; d < hd; ++d) dot += qh[d] * T::load(kj + d);
        s[j] = dot * scale;
      }
      const float block_max = *std::max_element(s, s + nb);
      const float new_max = std::max(m[h], block_max);
      float* oh = o + static_cast<size_t>(h) * hd;
      if (new_max > m[h]) {
        const float c = exp_poly::exp(m[h] - new_max);
        l[h] *= c;
        for (int d = 0; d < hd; ++d) oh[d] *= c;
        m[h] = new_max;
      }
      float sum = 0;
      for (int j = 0; j < nb; ++j) sum += s[j] = exp_poly::exp(s[j] - new_max);
      l[h] += sum;
      for (int j = 0; j < nb; ++j) {
        const typename T::Elem* vj = v + static_cast<size_t>(j0 + j) * hd;
        for (int d = 0; d < hd; ++d) oh[d] += s[j] * T::load(vj + d);
      }
    }
  }
}

template <class T>
void store(const float* src, void* dst, size_t n) {
  auto* out = static_cast<typename T::Elem*>(dst);
  for (size_t i = 0; i < n; ++i) out[i] = T::store(src[i]);
}

void exp_array(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = exp_poly::exp(x[i]);
}

}  // namespace

const AttentionKernels& scalar_attention_kernels() {
  static const AttentionKernels k = {
      {query_by_query<partial<F32>>, query_by_query<partial<F16>>, query_by_query<partial<BF16>>},
      {store<F32>, store<F16>, store<BF16>},
      exp_array,
  };
  return k;
}

}  // namespace loom::simd
