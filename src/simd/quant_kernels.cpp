#include "simd/quant_kernels.h"

namespace loom::simd {

namespace {

bool has_vnni() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
}

}  // namespace

const QuantKernels& quant_kernels(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      if (has_vnni()) {
        // Decode keeps the AVX2 set's gemv; prompts take the VNNI gemm.
        static const QuantKernels k = [] {
          QuantKernels s = quant_avx2_kernels();
          s.gemm[quant_slot(DType::Q8_0)] = quant_avx512_gemm(DType::Q8_0);
          s.gemm[quant_slot(DType::Q4_0)] = quant_avx512_gemm(DType::Q4_0);
          return s;
        }();
        return k;
      }
      return quant_avx2_kernels();
    case Isa::Avx2:
      return quant_avx2_kernels();
    case Isa::Scalar:
      break;
  }
  return quant_scalar_kernels();
}

}  // namespace loom::simd
