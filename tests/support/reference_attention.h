// Causal attention in double precision, the reference both the ops test and the kernel test check
// against.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace loom::test {

struct AttentionReference {
  std::vector<double> out;  // [m][n_heads][hd], as ops::attention writes it
  std::vector<double> mag;  // the same sums over |v|: the scale an element's rounding error has
};

// Query i (at position pos0 + i) attends to keys 0..pos0 + i, or with a WINDOW > 0 to the keys j
// with pos0 + i - window < j <= pos0 + i (transformers' sliding_window_overlay). K and V are
// [n_kv_heads][ctx][hd], position j at row j; query heads share KV heads in groups of
// n_heads / n_kv_heads.
inline AttentionReference reference_attention(const float* q, const float* k, const float* v, int m,
                                              int pos0, int n_heads, int n_kv_heads, int hd,
                                              int ctx, int window = 0) {
  AttentionReference r;
  r.out.resize(static_cast<size_t>(m) * n_heads * hd);
  r.mag.resize(r.out.size());
  const int group = n_heads / n_kv_heads;
  const double scale = 1 / std::sqrt(static_cast<double>(hd));
  for (int i = 0; i < m; ++i) {
    for (int h = 0; h < n_heads; ++h) {
      const float* qi = q + (static_cast<size_t>(i) * n_heads + h) * hd;
      const float* kg = k + static_cast<size_t>(h / group) * ctx * hd;
      const float* vg = v + static_cast<size_t>(h / group) * ctx * hd;
      const int n_keys = pos0 + i + 1;
      const int first = window > 0 ? std::max(0, n_keys - window) : 0;
      std::vector<double> p(n_keys, -INFINITY);  // exp gives 0 before the window
      double max_s = -INFINITY;
      for (int j = first; j < n_keys; ++j) {
        double s = 0;
        for (int d = 0; d < hd; ++d) s += static_cast<double>(qi[d]) * kg[j * hd + d];
        p[j] = s * scale;
        max_s = std::max(max_s, p[j]);
      }
      double sum = 0;
      for (double& pj : p) sum += pj = std::exp(pj - max_s);
      const size_t at = (static_cast<size_t>(i) * n_heads + h) * hd;
      for (int d = 0; d < hd; ++d) {
        double want = 0, mag = 0;
        for (int j = first; j < n_keys; ++j) {
          want += p[j] / sum * vg[j * hd + d];
          mag += p[j] / sum * std::fabs(vg[j * hd + d]);
        }
        r.out[at + d] = want;
        r.mag[at + d] = mag;
      }
    }
  }
  return r;
}

}  // namespace loom::test
