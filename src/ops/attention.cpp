#include "ops/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/team.h"
#include "simd/attention_kernels.h"

namespace loom::ops {
namespace {

int spans(int n_keys) {
  return (n_keys + kAttentionSpan - 1) / kAttentionSpan;
}

// Spans of the keys first .. last (positions, inclusive), cut at multiples of kAttentionSpan.
int spans(int first, int last) {
  return last / kAttentionSpan - first / kAttentionSpan + 1;
}

// A span's (or a merge's) result for the heads of a group: o [group][hd], then m and l [group].
struct Partial {
  float *o, *m, *l;
  Partial(float* at, int group, int hd)
      : o(at), m(at + static_cast<size_t>(group) * hd), l(m + group) {}
};
size_t partial_floats(int group, int hd) {
  return static_cast<size_t>(group) * (hd + 2);
}

// S takes in the span after it: both rescaled to the larger maximum, as the kernel does between
// its blocks.
void merge(const Partial& s, const Partial& p, int group, int hd) {
  for (int h = 0; h < group; ++h) {
    const float mx = std::max(s.m[h], p.m[h]);
    const float a = std::exp(s.m[h] - mx), b = std::exp(p.m[h] - mx);
    s.l[h] = s.l[h] * a + p.l[h] * b;
    float* so = s.o + static_cast<size_t>(h) * hd;
    const float* po = p.o + static_cast<size_t>(h) * hd;
    for (int d = 0; d < hd; ++d) so[d] = so[d] * a + po[d] * b;
    s.m[h] = mx;
  }
}

void finish(const Partial& s, int group, int hd, float* out) {
  for (int h = 0; h < group; ++h) {
    const float inv = 1.0f / s.l[h];
    for (int d = 0; d < hd; ++d) out[h * hd + d] = s.o[h * hd + d] * inv;
  }
}

// Where one (query, KV head) job reads and writes.
struct Job {
  const float* q;  // the group's query heads, [group][hd]
  const KvView* view;
  int head;         // the KV head
  int first, last;  // the positions of its first and last key
  float* out;
  int n_spans() const { return spans(first, last); }
};

}  // namespace

size_t attention_scratch_floats(const AttentionShape& s, int threads) {
  const int group = s.n_heads / s.n_kv_heads;
  const size_t per_thread =
      static_cast<size_t>(group) * simd::kAttentionBlock + 2 * partial_floats(group, s.head_dim);
  // Split jobs: fewer than THREADS of them, each keeping every span's partial. A query's keys
  // number at most ctx; unaligned to the cuts, they may touch one span more.
  const size_t split =
      static_cast<size_t>(threads - 1) * (spans(s.ctx) + 1) * partial_floats(group, s.head_dim);
  return static_cast<size_t>(threads) * per_thread + split;
}

// One job is a query position and a KV head with all the query heads that share it (GQA): each
// key and value row is read once for the whole group. Its keys are cut into spans of
// kAttentionSpan, each attended to by one kernel call and merged in order; when there are fewer
// jobs than threads the spans run in parallel and are merged after, in the same order, so the
// result does not depend on the thread count.
KvView dense_kv_view(void* k, void* v, const AttentionShape& s) {
  const size_t row_bytes = dtype_size(s.kv_type) * s.head_dim;
  return KvView{static_cast<std::byte*>(k),
                static_cast<std::byte*>(v),
                nullptr,
                std::max(1, spans(s.ctx)),
                kAttentionSpan * row_bytes,
                static_cast<size_t>(s.ctx) * row_bytes,
                row_bytes};
}

void attention(const float* q, int m, int pos0, const void* k, const void* v,
               const AttentionShape& s, float* out, float* scratch, int threads) {
  std::vector<int> pos(m);
  for (int i = 0; i < m; ++i) pos[i] = pos0 + i;
  const std::vector<int> seq(m, 0);
  // (only read: the view is writable for the forward pass's stores)
  const KvView view = dense_kv_view(const_cast<void*>(k), const_cast<void*>(v), s);
  attention(q, m, pos.data(), seq.data(), &view, s, out, scratch, threads);
}

void attention(const float* q, int m, const int* pos, const int* seq, const KvView* views,
               const AttentionShape& s, float* out, float* scratch, int threads) {
  const simd::AttentionKernels::Partial kernel =
      simd::attention_kernels().partial[static_cast<int>(s.kv_type)];
  const int hd = s.head_dim;
  const int group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int work = m * s.n_kv_heads;
  const size_t per_thread =
      static_cast<size_t>(group) * simd::kAttentionBlock + 2 * partial_floats(group, hd);
  const size_t pf = partial_floats(group, hd);
  auto job_at = [&](int job) {
    const int i = job / s.n_kv_heads, g = job % s.n_kv_heads;
    const size_t first_head = static_cast<size_t>(i) * s.n_heads + static_cast<size_t>(g) * group;
    const int last = pos[i];
    const int first = s.window > 0 ? std::max(0, last - s.window + 1) : 0;
    return Job{q + first_head * hd, views + seq[i], g, first, last, out + first_head * hd};
  };
  // The SPAN-th span of a job's keys: positions within one cut, so contiguous rows of one block
  // (a ring wraps, and a pool's blocks end, only at a cut).
  auto run_span = [&](const Job& j, int span, float* thread_scratch, const Partial& dst) {
    const int cut = (j.first / kAttentionSpan + span) * kAttentionSpan;
    const int from = std::max(j.first, cut);
    const int n = std::min(j.last + 1, cut + kAttentionSpan) - from;
    const size_t at = j.view->offset(j.head, from);
    kernel(j.q, group, hd, j.view->k + at, j.view->v + at, n, scale, thread_scratch, dst.o, dst.m,
           dst.l);
  };

  int max_spans = 0;
  for (int i = 0; i < m; ++i) max_spans = std::max(max_spans, job_at(i * s.n_kv_heads).n_spans());
  if (work < threads && max_spans > 1) {
    float* parts = scratch + static_cast<size_t>(threads) * per_thread;
    collective(threads, [&] {
      float* ts = scratch + static_cast<size_t>(omp_get_thread_num()) * per_thread;
#pragma omp for schedule(dynamic)
      for (int t = 0; t < work * max_spans; ++t) {
        const int job = t / max_spans, span = t % max_spans;
        const Job j = job_at(job);
        if (span < j.n_spans()) run_span(j, span, ts, Partial(parts + t * pf, group, hd));
      }
#pragma omp for schedule(static)
      for (int job = 0; job < work; ++job) {
        const Job j = job_at(job);
        const Partial state(parts + static_cast<size_t>(job) * max_spans * pf, group, hd);
        for (int span = 1; span < j.n_spans(); ++span) {
          merge(state, Partial(state.o + span * pf, group, hd), group, hd);
        }
        finish(state, group, hd, j.out);
      }
    });
    return;
  }

  collective(std::min(threads, work), [&] {
#pragma omp for schedule(dynamic)
    for (int job = 0; job < work; ++job) {
      const Job j = job_at(job);
      float* ts = scratch + static_cast<size_t>(omp_get_thread_num()) * per_thread;
      float* scores = ts + 2 * pf;
      const Partial state(ts, group, hd), next(ts + pf, group, hd);
      run_span(j, 0, scores, state);
      for (int span = 1; span < j.n_spans(); ++span) {
        run_span(j, span, scores, next);
        merge(state, next, group, hd);
      }
      finish(state, group, hd, j.out);
    }
  });
}

void kv_store(DType t, const float* src, void* dst, size_t n) {
  simd::attention_kernels().store[static_cast<int>(t)](src, dst, n);
}

}  // namespace loom::ops
