// What the CPU can do, read once with cpuid, and which kernel set that selects.
#pragma once

namespace loom::simd {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false;
  bool avx512bf16 = false, avx512vnni = false;
  bool amd = false;  // the vendor: AuthenticAMD
};

const CpuFeatures& cpu_features();

// Kernel sets, each a translation unit compiled for its instruction set.
enum class Isa { Scalar, Avx2, Avx512 };

// AVX-512 F, BW, VL and VNNI, besides Isa::Avx2's features: what the quantized decode products'
// AVX-512 set (simd/quant_avx512.cpp) needs; without them Isa::Avx512 runs the AVX2 set there.
bool avx512_vnni_supported();
// Whether vdpbf16ps pays for rounding a prompt's activations to bf16 here: the AVX-512 set runs
// and has AVX-512 BF16 (BW, VL), on an AMD CPU (Zen 4, Zen 5), which issues it as fast as an fp32
// FMA with twice the products. Sapphire Rapids measured slower with it (docs/performance.md).
bool bf16_dot_pays();
// The best set this CPU runs; LOOM_ISA=scalar|avx2 in the environment caps it (for tests and
// comparisons).
bool isa_supported(Isa isa);
Isa best_isa();
const char* isa_name(Isa isa);
// A line naming the SIMD features found and the kernel set in use.
const char* cpu_summary();

}  // namespace loom::simd
