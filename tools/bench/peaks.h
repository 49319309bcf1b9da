// The peak rates of the instructions loom's prompt products are built on, measured on this
// machine as loom-bench starts (as it measures bandwidth), so that a prompt test's GFLOP/s can be
// read as a share of what the CPU's multipliers deliver: the roofline of compute-bound tests.
#pragma once

#include <string>

namespace loom::bench {

// An instruction's measured rate with the given threads: GFLOP/s, counting each multiply and each
// add (2 a multiply-accumulate, for the integer dot products too).
struct Peak {
  double gflops = 0;  // 0: the CPU lacks the instruction
  std::string insn;   // "vfmadd231ps zmm", "vdpbf16ps zmm", "vpdpbusd zmm", "vpmaddubsw ymm"
};

struct Peaks {
  Peak fp32;  // fp32 FMA: the float gemm (f32, f16, exact bf16, and ggml's K-quant prompts)
  Peak bf16;  // bf16 pair dot product: bf16 weights with bf16 activations
  Peak int8;  // u8 x s8 dot product: the int8 prompt gemm of q8_0, q4_0 and q4_k
  int threads = 0;
};

// Each of THREADS OpenMP threads runs twelve independent chains of the instruction (more than its
// latency times its issue rate), best of five passes of ~20 ms each.
Peaks probe_peaks(int threads);

}  // namespace loom::bench
