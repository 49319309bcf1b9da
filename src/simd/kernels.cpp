#include "simd/kernels.h"

namespace loom::simd {

const Kernels& kernels(Isa isa) {
  switch (isa) {
    case Isa::Avx2:
      return avx2_kernels();
    case Isa::Scalar:
      break;
  }
  return scalar_kernels();
}

}  // namespace loom::simd
