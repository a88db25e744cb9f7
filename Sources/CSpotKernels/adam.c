// The optimizer kernel: one Adam step over a parameter's elements (`spot_adam_update`, used
// by `Adam`), as a portable version, an AVX2 + FMA version and the dispatch between them.
#include "spot_kernels_internal.h"

// MARK: - Portable

void spot_adam_update_portable(float *value, const float *gradient, float *m, float *v, long n,
                          float beta1, float omb1, float beta2, float omb2, float epsilon,
                          float decay, float step, float irc2) {
    for (long i = 0; i < n; i++) {
        const float g = gradient[i];
        const float mi = beta1 * m[i] + omb1 * g;
        const float vi = beta2 * v[i] + omb2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        value[i] = value[i] * decay - step * mi / (sqrtf(vi) * irc2 + epsilon);
    }
}

#ifdef SPOT_X86
// MARK: - AVX2 + FMA

SPOT_AVX2 void spot_adam_update_avx2(float *value, const float *gradient, float *m, float *v, long n,
                                float beta1, float omb1, float beta2, float omb2, float epsilon,
                                float decay, float step, float irc2) {
    const __m256 b1 = _mm256_set1_ps(beta1), o1 = _mm256_set1_ps(omb1);
    const __m256 b2 = _mm256_set1_ps(beta2), o2 = _mm256_set1_ps(omb2);
    const __m256 eps = _mm256_set1_ps(epsilon), dec = _mm256_set1_ps(decay);
    const __m256 st = _mm256_set1_ps(step), rc = _mm256_set1_ps(irc2);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gradient + i);
        const __m256 mi = _mm256_fmadd_ps(b1, _mm256_loadu_ps(m + i), _mm256_mul_ps(o1, g));
        const __m256 vi = _mm256_fmadd_ps(b2, _mm256_loadu_ps(v + i), _mm256_mul_ps(o2, _mm256_mul_ps(g, g)));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        const __m256 den = _mm256_fmadd_ps(_mm256_sqrt_ps(vi), rc, eps);
        const __m256 upd = _mm256_div_ps(_mm256_mul_ps(st, mi), den);
        _mm256_storeu_ps(value + i, _mm256_fmsub_ps(_mm256_loadu_ps(value + i), dec, upd));
    }
    if (i < n)
        spot_adam_update_portable(value + i, gradient + i, m + i, v + i, n - i, beta1, omb1, beta2, omb2, epsilon,
                      decay, step, irc2);
}
#endif

// MARK: - Dispatch

void spot_adam_update(float *value, const float *gradient, float *m, float *v, long n,
                      float beta1, float one_minus_beta1, float beta2, float one_minus_beta2,
                      float epsilon, float decay, float step_size, float inv_root_correction2) {
#ifdef SPOT_X86
    if (detect_avx2()) {
        spot_adam_update_avx2(value, gradient, m, v, n, beta1, one_minus_beta1, beta2, one_minus_beta2, epsilon,
                  decay, step_size, inv_root_correction2);
        return;
    }
#endif
    spot_adam_update_portable(value, gradient, m, v, n, beta1, one_minus_beta1, beta2, one_minus_beta2, epsilon,
                  decay, step_size, inv_root_correction2);
}
