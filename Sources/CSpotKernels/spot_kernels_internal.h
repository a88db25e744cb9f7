// Private to CSpotKernels: what the kernel families (small_depth.c, adam.c, conv_s1.c,
// sparse.c, winograd.c) share: the x86-64 switch, the AVX2 + FMA attributes, the CPU flag
// set by cpu.c, and the register tile used by both the implicit-GEMM and the Winograd
// products.
#ifndef SPOT_KERNELS_INTERNAL_H
#define SPOT_KERNELS_INTERNAL_H

#include "spot_kernels.h"
#include <math.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define SPOT_X86 1
#include <immintrin.h>
#endif

#ifdef SPOT_X86
#define SPOT_AVX2 __attribute__((target("avx2,fma")))
#define SPOT_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

// 1 when the CPU has AVX2 and FMA; set by cpu.c when the library loads.
extern int spot_avx2_in_use __attribute__((visibility("hidden")));

static inline int detect_avx2(void) { return spot_avx2_in_use; }

// The register tile shared by the implicit-GEMM and Winograd products: for k < len,
// a0[i]/a1[i] += a[i * a_stride + k] * panel[k][0..<16] for i < mr (mr ≤ 6).
SPOT_INLINE void tile_accumulate(const int mr, const float *a, long a_stride, const float *panel, long len,
                                 __m256 *a0, __m256 *a1) {
    for (long k = 0; k < len; k++) {
        const __m256 w0 = _mm256_loadu_ps(panel + k * 16), w1 = _mm256_loadu_ps(panel + k * 16 + 8);
        for (int i = 0; i < mr; i++) {
            const __m256 x = _mm256_broadcast_ss(a + i * a_stride + k);
            a0[i] = _mm256_fmadd_ps(x, w0, a0[i]);
            a1[i] = _mm256_fmadd_ps(x, w1, a1[i]);
        }
    }
}
#endif

#endif
