#include "simd/cpu.h"

#include <cstdlib>
#include <cstring>
#include <string>

namespace loom::simd {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.f16c = __builtin_cpu_supports("f16c");
    c.avx512f = __builtin_cpu_supports("avx512f");
    c.avx512bw = __builtin_cpu_supports("avx512bw");
    c.avx512vl = __builtin_cpu_supports("avx512vl");
    c.avx512bf16 = __builtin_cpu_supports("avx512bf16");
    c.avx512vnni = __builtin_cpu_supports("avx512vnni");
    c.amd = __builtin_cpu_is("amd");
    return c;
  }();
  return f;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Scalar:
      return true;
    case Isa::Avx2:
      return f.avx2 && f.fma && f.f16c;
    case Isa::Avx512:
      return f.avx512f && f.avx2 && f.fma && f.f16c;
  }
  return false;
}

bool avx512_vnni_supported() {
  const CpuFeatures& f = cpu_features();
  return isa_supported(Isa::Avx512) && f.avx512bw && f.avx512vl && f.avx512vnni;
}

bool bf16_dot_pays() {
  const CpuFeatures& f = cpu_features();
  return best_isa() == Isa::Avx512 && f.avx512bf16 && f.avx512bw && f.avx512vl && f.amd;
}

Isa best_isa() {
  static const Isa isa = [] {
    Isa best = isa_supported(Isa::Avx512) ? Isa::Avx512
               : isa_supported(Isa::Avx2) ? Isa::Avx2
                                          : Isa::Scalar;
    if (const char* env = std::getenv("LOOM_ISA")) {
      if (std::strcmp(env, "scalar") == 0) best = Isa::Scalar;
      if (std::strcmp(env, "avx2") == 0 && best == Isa::Avx512) best = Isa::Avx2;
    }
    return best;
  }();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return "scalar";
    case Isa::Avx2:
      return "AVX2+FMA+F16C";
    case Isa::Avx512:
      return "AVX-512F (prompt products), AVX2+FMA+F16C";
  }
  return "?";
}

const char* cpu_summary() {
  static const std::string s = [] {
    const CpuFeatures& f = cpu_features();
    std::string out = "cpu:";
    if (f.avx2) out += " AVX2";
    if (f.fma) out += " FMA";
    if (f.f16c) out += " F16C";
    if (f.avx512f) out += " AVX512F";
    if (f.avx512bw) out += " AVX512BW";
    if (f.avx512vl) out += " AVX512VL";
    if (f.avx512bf16) out += " AVX512_BF16";
    if (f.avx512vnni) out += " AVX512_VNNI";
    out += std::string("; kernels: ") + isa_name(best_isa());
    if (best_isa() == Isa::Avx512 && avx512_vnni_supported()) {
      out += "; quantized decode: AVX-512 VNNI";
    }
    return out;
  }();
  return s.c_str();
}

}  // namespace loom::simd
