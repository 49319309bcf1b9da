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

// The result of a span (or a merge) for ROWS query heads: o [rows][hd], then m and l [rows].
struct Partial {
  float *o, *m, *l;
  Partial(float* o, float* m, float* l) : o(o), m(m), l(l) {}
  Partial(float* at, int rows, int hd)
      : o(at), m(at + static_cast<size_t>(rows) * hd), l(m + rows) {}
  // The rows from ROW on.
  Partial from(int row, int hd) const {
    return {o + static_cast<size_t>(row) * hd, m + row, l + row};
  }
};
size_t partial_floats(int rows, int hd) {
  return static_cast<size_t>(rows) * (hd + 2);
}

// S takes in the span after it, row by row (GROUP rows): both rescaled to the larger maximum, as
// the kernel does between its blocks.
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

// Per thread: the kernel's scratch for a chunk of queries, their running state and the next
// span's partial.
size_t per_thread_floats(int group, int hd) {
  const int rows = simd::kAttentionQueries * group;
  return simd::attention_partial_scratch(rows, hd) + 2 * partial_floats(rows, hd);
}

size_t attention_scratch_floats(const AttentionShape& s, int threads) {
  const int group = s.n_heads / s.n_kv_heads;
  // Split jobs: fewer than THREADS of them, each keeping every span's partial. A query's keys
  // number at most ctx; unaligned to the cuts, they may touch one span more.
  const size_t split =
      static_cast<size_t>(threads - 1) * (spans(s.ctx) + 1) * partial_floats(group, s.head_dim);
  return static_cast<size_t>(threads) * per_thread_floats(group, s.head_dim) + split;
}

// A query's job is its position and a KV head with all the query heads that share it (GQA):
// each key and value row is read once for the whole group. Its keys are cut into spans of
// kAttentionSpan, each attended to by one kernel call and merged in order; when there are fewer
// jobs than threads the spans run in parallel and are merged after, in the same order, so the
// result does not depend on the thread count. Otherwise a job is a chunk of up to
// kAttentionQueries rows and a KV head, and consecutive positions of one sequence in it (a
// prompt's) share each span's kernel call, which gives each row the bits it gets alone.
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
  const size_t q_stride = static_cast<size_t>(s.n_heads) * hd;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const size_t per_thread = per_thread_floats(group, hd);
  const size_t pf = partial_floats(group, hd);
  auto first_of = [&](int i) { return s.window > 0 ? std::max(0, pos[i] - s.window + 1) : 0; };
  auto job_at = [&](int job) {
    const int i = job / s.n_kv_heads, g = job % s.n_kv_heads;
    const size_t first_head = static_cast<size_t>(i) * s.n_heads + static_cast<size_t>(g) * group;
    return Job{q + first_head * hd, views + seq[i], g, first_of(i), pos[i], out + first_head * hd};
  };
  // The SPAN-th span of a job's keys: positions within one cut, so contiguous rows of one block
  // (a ring wraps, and a pool's blocks end, only at a cut).
  auto run_span = [&](const Job& j, int span, float* kernel_scratch, const Partial& dst) {
    const int cut = (j.first / kAttentionSpan + span) * kAttentionSpan;
    const int from = std::max(j.first, cut);
    const int n = std::min(j.last + 1, cut + kAttentionSpan) - from;
    const size_t at = j.view->offset(j.head, from);
    kernel(j.q, q_stride, 1, group, hd, j.view->k + at, j.view->v + at, &n, scale, kernel_scratch,
           dst.o, dst.m, dst.l);
  };

  const int work = m * s.n_kv_heads;
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

  // Rows I0 .. I0+NQ-1 (consecutive positions of one sequence, the same first key) on KV head G.
  auto run_queries = [&](int i0, int nq, int g, float* ts) {
    const int rows = nq * group;
    const Partial state(ts, rows, hd), next(ts + partial_floats(rows, hd), rows, hd);
    float* kernel_scratch = ts + 2 * partial_floats(simd::kAttentionQueries * group, hd);
    const KvView& view = views[seq[i0]];
    const int first = first_of(i0);
    const int n_spans = spans(first, pos[i0 + nq - 1]);
    int n[simd::kAttentionQueries];
    for (int span = 0; span < n_spans; ++span) {
      const int cut = (first / kAttentionSpan + span) * kAttentionSpan;
      const int from = std::max(first, cut);
      int a0 = 0;  // the first query whose keys reach this span
      while (pos[i0 + a0] < cut) ++a0;
      for (int a = a0; a < nq; ++a)
        n[a - a0] = std::min(pos[i0 + a] + 1, cut + kAttentionSpan) - from;
      const size_t at = view.offset(g, from);
      const float* qa = q + (static_cast<size_t>(i0 + a0) * s.n_heads + g * group) * hd;
      const Partial dst = (span == 0 ? state : next).from(a0 * group, hd);
      kernel(qa, q_stride, nq - a0, group, hd, view.k + at, view.v + at, n, scale, kernel_scratch,
             dst.o, dst.m, dst.l);
      if (span > 0) merge(state.from(a0 * group, hd), dst, (nq - a0) * group, hd);
    }
    for (int a = 0; a < nq; ++a) {
      finish(state.from(a * group, hd), group, hd,
             out + (static_cast<size_t>(i0 + a) * s.n_heads + g * group) * hd);
    }
  };
  // Chunks of kAttentionQueries rows, smaller where that leaves too few jobs for the threads (a
  // batch's decode step, whose rows are of different sequences anyway). Which rows share a call
  // does not change their bits.
  int per_chunk = simd::kAttentionQueries;
  while (per_chunk > 1 && (m + per_chunk - 1) / per_chunk * s.n_kv_heads < 2 * threads) {
    per_chunk /= 2;
  }
  const int chunks = (m + per_chunk - 1) / per_chunk;
  collective(std::min(threads, chunks * s.n_kv_heads), [&] {
    float* ts = scratch + static_cast<size_t>(omp_get_thread_num()) * per_thread;
#pragma omp for schedule(dynamic)
    for (int job = 0; job < chunks * s.n_kv_heads; ++job) {
      // A KV head's chunks one after another: its keys stay in the caches between them.
      const int g = job / chunks, chunk = job % chunks;
      const int end = std::min(m, (chunk + 1) * per_chunk);
      for (int i0 = chunk * per_chunk; i0 < end;) {
        int nq = 1;
        while (i0 + nq < end && seq[i0 + nq] == seq[i0] && pos[i0 + nq] == pos[i0] + nq &&
               first_of(i0 + nq) == first_of(i0)) {
          ++nq;
        }
        run_queries(i0, nq, g, ts);
        i0 += nq;
      }
    }
  });
}

void kv_store(DType t, const float* src, void* dst, size_t n) {
  simd::attention_kernels().store[static_cast<int>(t)](src, dst, n);
}

}  // namespace loom::ops
