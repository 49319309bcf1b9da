#include "simd/attention_kernels.h"

namespace loom::simd {

const AttentionKernels& attention_kernels(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return avx512_attention_kernels();
    case Isa::Avx2:
      return avx2_attention_kernels();
    case Isa::Scalar:
      break;
  }
  return scalar_attention_kernels();
}

}  // namespace loom::simd
