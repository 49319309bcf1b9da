#include "simd/quant_kernels.h"

namespace loom::simd {

const QuantKernels& quant_kernels(Isa isa) {
  switch (isa) {
    case Isa::Avx512:  // the VNNI set where the CPU has it (not Skylake-SP), else the AVX2 set
      if (avx512_vnni_supported()) return quant_avx512_kernels();
      return quant_avx2_kernels();
    case Isa::Avx2:
      return quant_avx2_kernels();
    case Isa::Scalar:
      break;
  }
  return quant_scalar_kernels();
}

}  // namespace loom::simd
