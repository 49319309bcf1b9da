#include "simd/kernels.h"

namespace loom::simd {

const Kernels& kernels(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return avx512_kernels();
    case Isa::Avx2:
      return avx2_kernels();
    case Isa::Scalar:
      break;
  }
  return scalar_kernels();
}

}  // namespace loom::simd
