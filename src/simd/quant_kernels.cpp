#include "simd/quant_kernels.h"

namespace loom::simd {

const QuantKernels& quant_kernels(Isa isa) {
  switch (isa) {
    case Isa::Avx512:  // no AVX-512 set of its own yet: the AVX2 set runs
    case Isa::Avx2:
      return quant_avx2_kernels();
    case Isa::Scalar:
      break;
  }
  return quant_scalar_kernels();
}

}  // namespace loom::simd
