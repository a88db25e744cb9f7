// Small-inner-dimension products for `Conv2D`'s direct algorithm (Conv2D+Direct.swift):
// `spot_small_depth_product` (the forward product of a shallow window matrix with the
// weight, bias and ReLU fused) and `spot_small_depth_weight_gradient` (its weight gradient),
// each as a portable version, an AVX2 + FMA version and the dispatch between them.
#include "spot_kernels_internal.h"

// MARK: - Portable

void spot_small_depth_product_portable(const float *a, const float *w, const float *bias,
                                         long rows, long depth, long cols, int relu, float *out) {
    for (long p = 0; p < rows; p++) {
        const float *ap = a + p * depth;
        float *o = out + p * cols;
        for (long j = 0; j < cols; j++) o[j] = bias[j];
        for (long d = 0; d < depth; d++) {
            const float x = ap[d];
            const float *wr = w + d * cols;
            for (long j = 0; j < cols; j++) o[j] += x * wr[j];
        }
        if (relu) {
            for (long j = 0; j < cols; j++) o[j] = o[j] > 0 ? o[j] : 0;
        }
    }
}

void spot_small_depth_weight_gradient_portable(const float *a, const float *g, long rows, long depth,
                                                 long cols, float *acc) {
    for (long p = 0; p < rows; p++) {
        const float *ap = a + p * depth, *gp = g + p * cols;
        for (long d = 0; d < depth; d++) {
            const float x = ap[d];
            float *row = acc + d * cols;
            for (long j = 0; j < cols; j++) row[j] += x * gp[j];
        }
    }
}

#ifdef SPOT_X86
// MARK: - AVX2 + FMA

SPOT_AVX2 void spot_small_depth_product_avx2(const float *a, const float *w, const float *bias,
                                               long rows, long depth, long cols, int relu, float *out) {
    const __m256 zero = _mm256_setzero_ps();
    for (long p = 0; p < rows; p++) {
        const float *ap = a + p * depth;
        float *o = out + p * cols;
        long j = 0;
        for (; j + 32 <= cols; j += 32) {
            __m256 c0 = _mm256_loadu_ps(bias + j), c1 = _mm256_loadu_ps(bias + j + 8);
            __m256 c2 = _mm256_loadu_ps(bias + j + 16), c3 = _mm256_loadu_ps(bias + j + 24);
            for (long d = 0; d < depth; d++) {
                const __m256 x = _mm256_broadcast_ss(ap + d);
                const float *wr = w + d * cols + j;
                c0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(wr), c0);
                c1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(wr + 8), c1);
                c2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(wr + 16), c2);
                c3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(wr + 24), c3);
            }
            if (relu) {
                c0 = _mm256_max_ps(c0, zero); c1 = _mm256_max_ps(c1, zero);
                c2 = _mm256_max_ps(c2, zero); c3 = _mm256_max_ps(c3, zero);
            }
            _mm256_storeu_ps(o + j, c0); _mm256_storeu_ps(o + j + 8, c1);
            _mm256_storeu_ps(o + j + 16, c2); _mm256_storeu_ps(o + j + 24, c3);
        }
        for (; j + 8 <= cols; j += 8) {
            __m256 c = _mm256_loadu_ps(bias + j);
            for (long d = 0; d < depth; d++)
                c = _mm256_fmadd_ps(_mm256_broadcast_ss(ap + d), _mm256_loadu_ps(w + d * cols + j), c);
            if (relu) c = _mm256_max_ps(c, zero);
            _mm256_storeu_ps(o + j, c);
        }
        for (; j < cols; j++) {
            float s = bias[j];
            for (long d = 0; d < depth; d++) s = fmaf(ap[d], w[d * cols + j], s);
            o[j] = relu && !(s > 0) ? 0 : s;
        }
    }
}

// Three rows of acc (3 x 32 floats = 12 registers) stay in registers over all p.
SPOT_AVX2 void spot_small_depth_weight_gradient_avx2(const float *a, const float *g, long rows, long depth,
                                                       long cols, float *acc) {
    long j = 0;
    for (; j + 32 <= cols; j += 32) {
        long d = 0;
        for (; d + 3 <= depth; d += 3) {
            float *r0 = acc + d * cols + j, *r1 = r0 + cols, *r2 = r1 + cols;
            __m256 a00 = _mm256_loadu_ps(r0), a01 = _mm256_loadu_ps(r0 + 8);
            __m256 a02 = _mm256_loadu_ps(r0 + 16), a03 = _mm256_loadu_ps(r0 + 24);
            __m256 a10 = _mm256_loadu_ps(r1), a11 = _mm256_loadu_ps(r1 + 8);
            __m256 a12 = _mm256_loadu_ps(r1 + 16), a13 = _mm256_loadu_ps(r1 + 24);
            __m256 a20 = _mm256_loadu_ps(r2), a21 = _mm256_loadu_ps(r2 + 8);
            __m256 a22 = _mm256_loadu_ps(r2 + 16), a23 = _mm256_loadu_ps(r2 + 24);
            for (long p = 0; p < rows; p++) {
                const float *gp = g + p * cols + j, *ap = a + p * depth + d;
                const __m256 g0 = _mm256_loadu_ps(gp), g1 = _mm256_loadu_ps(gp + 8);
                const __m256 g2 = _mm256_loadu_ps(gp + 16), g3 = _mm256_loadu_ps(gp + 24);
                __m256 x = _mm256_broadcast_ss(ap);
                a00 = _mm256_fmadd_ps(x, g0, a00); a01 = _mm256_fmadd_ps(x, g1, a01);
                a02 = _mm256_fmadd_ps(x, g2, a02); a03 = _mm256_fmadd_ps(x, g3, a03);
                x = _mm256_broadcast_ss(ap + 1);
                a10 = _mm256_fmadd_ps(x, g0, a10); a11 = _mm256_fmadd_ps(x, g1, a11);
                a12 = _mm256_fmadd_ps(x, g2, a12); a13 = _mm256_fmadd_ps(x, g3, a13);
                x = _mm256_broadcast_ss(ap + 2);
                a20 = _mm256_fmadd_ps(x, g0, a20); a21 = _mm256_fmadd_ps(x, g1, a21);
                a22 = _mm256_fmadd_ps(x, g2, a22); a23 = _mm256_fmadd_ps(x, g3, a23);
            }
            _mm256_storeu_ps(r0, a00); _mm256_storeu_ps(r0 + 8, a01);
            _mm256_storeu_ps(r0 + 16, a02); _mm256_storeu_ps(r0 + 24, a03);
            _mm256_storeu_ps(r1, a10); _mm256_storeu_ps(r1 + 8, a11);
            _mm256_storeu_ps(r1 + 16, a12); _mm256_storeu_ps(r1 + 24, a13);
            _mm256_storeu_ps(r2, a20); _mm256_storeu_ps(r2 + 8, a21);
            _mm256_storeu_ps(r2 + 16, a22); _mm256_storeu_ps(r2 + 24, a23);
        }
        for (; d < depth; d++) {
            float *r0 = acc + d * cols + j;
            __m256 a00 = _mm256_loadu_ps(r0), a01 = _mm256_loadu_ps(r0 + 8);
            __m256 a02 = _mm256_loadu_ps(r0 + 16), a03 = _mm256_loadu_ps(r0 + 24);
            for (long p = 0; p < rows; p++) {
                const float *gp = g + p * cols + j;
                const __m256 x = _mm256_broadcast_ss(a + p * depth + d);
                a00 = _mm256_fmadd_ps(x, _mm256_loadu_ps(gp), a00);
                a01 = _mm256_fmadd_ps(x, _mm256_loadu_ps(gp + 8), a01);
                a02 = _mm256_fmadd_ps(x, _mm256_loadu_ps(gp + 16), a02);
                a03 = _mm256_fmadd_ps(x, _mm256_loadu_ps(gp + 24), a03);
            }
            _mm256_storeu_ps(r0, a00); _mm256_storeu_ps(r0 + 8, a01);
            _mm256_storeu_ps(r0 + 16, a02); _mm256_storeu_ps(r0 + 24, a03);
        }
    }
    for (; j + 8 <= cols; j += 8) {
        for (long d = 0; d < depth; d++) {
            float *r = acc + d * cols + j;
            __m256 s = _mm256_loadu_ps(r);
            for (long p = 0; p < rows; p++)
                s = _mm256_fmadd_ps(_mm256_broadcast_ss(a + p * depth + d), _mm256_loadu_ps(g + p * cols + j), s);
            _mm256_storeu_ps(r, s);
        }
    }
    for (; j < cols; j++) {
        for (long d = 0; d < depth; d++) {
            float s = acc[d * cols + j];
            for (long p = 0; p < rows; p++) s = fmaf(a[p * depth + d], g[p * cols + j], s);
            acc[d * cols + j] = s;
        }
    }
}
#endif

// MARK: - Dispatch

void spot_small_depth_product(const float *a, const float *w, const float *bias,
                              long rows, long depth, long cols, int relu, float *out) {
#ifdef SPOT_X86
    if (detect_avx2()) { spot_small_depth_product_avx2(a, w, bias, rows, depth, cols, relu, out); return; }
#endif
    spot_small_depth_product_portable(a, w, bias, rows, depth, cols, relu, out);
}

void spot_small_depth_weight_gradient(const float *a, const float *g, long rows, long depth,
                                      long cols, float *acc) {
#ifdef SPOT_X86
    if (detect_avx2()) { spot_small_depth_weight_gradient_avx2(a, g, rows, depth, cols, acc); return; }
#endif
    spot_small_depth_weight_gradient_portable(a, g, rows, depth, cols, acc);
}
