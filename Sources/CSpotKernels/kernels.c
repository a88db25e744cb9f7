#include "spot_kernels.h"
#include <math.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define SPOT_X86 1
#include <immintrin.h>
#endif

// MARK: - Portable versions

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

// MARK: - Stride-1 convolution, portable

void spot_pack_panels16(const float *w, long depth, long cols, float *packed) {
    for (long p = 0; p < cols / 16; p++)
        for (long k = 0; k < depth; k++)
            for (long j = 0; j < 16; j++)
                packed[(p * depth + k) * 16 + j] = w[k * cols + 16 * p + j];
}

void spot_pack_flipped_panels16(const float *w, long kh, long kw, long c, long f, float *packed) {
    const long depth = kh * kw * f;
    for (long p = 0; p < c / 16; p++)
        for (long ky = 0; ky < kh; ky++)
            for (long kx = 0; kx < kw; kx++)
                for (long j = 0; j < f; j++) {
                    const float *src = w + (((kh - 1 - ky) * kw + (kw - 1 - kx)) * c + 16 * p) * f + j;
                    float *dst = packed + (p * depth + (ky * kw + kx) * f + j) * 16;
                    for (long ch = 0; ch < 16; ch++) dst[ch] = src[ch * f];
                }
}

void spot_conv_s1_forward_portable(const float *x, long x_width, long c, const float *packed, const float *bias,
                                     long kh, long kw, long f, long oh, long ow, int relu, float *out) {
    const long depth = kh * kw * c, seg = kw * c;
    for (long oy = 0; oy < oh; oy++)
        for (long ox = 0; ox < ow; ox++) {
            float *o = out + (oy * ow + ox) * f;
            for (long j = 0; j < f; j++) o[j] = bias ? bias[j] : 0;
            for (long p = 0; p < f / 16; p++) {
                const float *panel = packed + p * depth * 16;
                for (long ky = 0; ky < kh; ky++) {
                    const float *row = x + ((oy + ky) * x_width + ox) * c;
                    for (long k = 0; k < seg; k++) {
                        const float a = row[k];
                        const float *wk = panel + (ky * seg + k) * 16;
                        for (long j = 0; j < 16; j++) o[16 * p + j] += a * wk[j];
                    }
                }
            }
            if (relu)
                for (long j = 0; j < f; j++) o[j] = o[j] > 0 ? o[j] : 0;
        }
}

void spot_conv_s1_weight_gradient_portable(const float *x, long x_width, long c, const float *dy,
                                             long kh, long kw, long f, long oh, long ow, float *dw) {
    const long seg = kw * c;
    for (long oy = 0; oy < oh; oy++)
        for (long ox = 0; ox < ow; ox++) {
            const float *g = dy + (oy * ow + ox) * f;
            for (long ky = 0; ky < kh; ky++) {
                const float *row = x + ((oy + ky) * x_width + ox) * c;
                for (long k = 0; k < seg; k++) {
                    const float a = row[k];
                    float *d = dw + (ky * seg + k) * f;
                    for (long j = 0; j < f; j++) d[j] += a * g[j];
                }
            }
        }
}

// MARK: - Sparse output gradients, portable
//
// After max pooling (one pixel of each window gets a gradient), ReLU and dropout, most
// entries of a convolution's output gradient are zero. These kernels visit only the others.

long spot_sparse_compress_portable(const float *dy, long pixels, long f, int *start, int *index, float *value) {
    long k = 0;
    for (long p = 0; p < pixels; p++) {
        start[p] = (int)k;
        const float *g = dy + p * f;
        for (long j = 0; j < f; j++)
            if (g[j] != 0) { index[k] = (int)j; value[k] = g[j]; k++; }
    }
    start[pixels] = (int)k;
    return k;
}

void spot_sparse_columns(const int *start, const int *index, const float *value, long oh, long ow, long f,
                         long x_width, long c, int *col_start, int *col_offset, float *col_value) {
    for (long j = 0; j <= f; j++) col_start[j] = 0;
    const long nonzeros = start[oh * ow];
    for (long e = 0; e < nonzeros; e++) col_start[index[e] + 1]++;
    for (long j = 0; j < f; j++) col_start[j + 1] += col_start[j];
    // col_start[j] is the next free slot of column j; afterwards it is the end of column j.
    for (long oy = 0; oy < oh; oy++)
        for (long ox = 0; ox < ow; ox++) {
            const long p = oy * ow + ox;
            const int offset = (int)((oy * x_width + ox) * c);
            for (long e = start[p]; e < start[p + 1]; e++) {
                const int slot = col_start[index[e]]++;
                col_offset[slot] = offset;
                col_value[slot] = value[e];
            }
        }
    for (long j = f; j > 0; j--) col_start[j] = col_start[j - 1];
    col_start[0] = 0;
}

void spot_transpose_kernel_rows(const float *w, long kh, long kw, long c, long f, float *wt) {
    const long seg = kw * c;
    for (long ky = 0; ky < kh; ky++)
        for (long j = 0; j < f; j++)
            for (long s = 0; s < seg; s++)
                wt[(ky * f + j) * seg + s] = w[(ky * seg + s) * f + j];
}

void spot_add_transposed(const float *t, long rows, long cols, float *out) {
    for (long d = 0; d < rows; d++)
        for (long j = 0; j < cols; j++)
            out[d * cols + j] += t[j * rows + d];
}

// out[0..seg) += sum_e value[e] * base[index[e] * stride + (0..seg)], over e in order.
// (The AVX2 version sums over e in registers first, then adds to out; this one adds each
// term to out in turn, which a compiler can vectorise for any instruction set.)
static void sparse_rows_sum_portable(long n, const float *value, const int *index, long stride,
                                     const float *base, long seg, float *out) {
    for (long e = 0; e < n; e++) {
        const float v = value[e];
        const float *r = base + (long)index[e] * stride;
        for (long s = 0; s < seg; s++) out[s] += v * r[s];
    }
}

// The loops of the two sparse kernels, shared by both versions: ROWS_SUM is
// sparse_rows_sum_portable or sparse_rows_sum_avx2.
#define SPOT_SPARSE_INPUT_GRADIENT(ROWS_SUM)                                                        \
    const long seg = kw * c;                                                                       \
    for (long oy = 0; oy < oh; oy++)                                                               \
        for (long ox = 0; ox < ow; ox++) {                                                         \
            const long p = oy * ow + ox, n = start[p + 1] - start[p];                              \
            if (n == 0) continue;                                                                  \
            for (long ky = 0; ky < kh; ky++)                                                       \
                ROWS_SUM(n, value + start[p], index + start[p], seg, wt + ky * f * seg, seg,       \
                         dx + ((oy + ky) * x_width + ox) * c);                                     \
        }

#define SPOT_SPARSE_WEIGHT_GRADIENT(ROWS_SUM)                                                       \
    const long seg = kw * c, depth = kh * seg;                                                     \
    for (long j = 0; j < f; j++) {                                                                 \
        const long n = col_start[j + 1] - col_start[j];                                            \
        if (n == 0) continue;                                                                      \
        for (long ky = 0; ky < kh; ky++)                                                           \
            ROWS_SUM(n, col_value + col_start[j], col_offset + col_start[j], 1,                    \
                     x + ky * x_width * c, seg, dwt + j * depth + ky * seg);                       \
    }

void spot_conv_s1_sparse_input_gradient_portable(const int *start, const int *index, const float *value,
                                                 long oh, long ow, const float *wt, long kh, long kw, long c,
                                                 long f, long x_width, float *dx) {
    SPOT_SPARSE_INPUT_GRADIENT(sparse_rows_sum_portable)
}

void spot_conv_s1_sparse_weight_gradient_portable(const int *col_start, const int *col_offset,
                                                  const float *col_value, const float *x, long x_width, long c,
                                                  long kh, long kw, long f, float *dwt) {
    SPOT_SPARSE_WEIGHT_GRADIENT(sparse_rows_sum_portable)
}

// MARK: - Winograd F(2x2, 3x3), portable
//
// A 2x2 output tile of a 3x3 convolution from a 4x4 input tile with 16 multiplications per
// (input, output) channel pair instead of 36 (Lavin & Gray 2016):
//   Y = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A
// with Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1],
// Aᵀ = [1 1 1 0; 0 1 -1 -1]. The sum over c is 16 matrix products per row of tiles.

void spot_winograd_pack_weights(const float *w, long c, long f, float *u) {
    const long panels = f / 16;
    for (long ch = 0; ch < c; ch++)
        for (long j = 0; j < f; j++) {
            float g[3][3], t[4][3];
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) g[ky][kx] = w[((ky * 3 + kx) * c + ch) * f + j];
            for (int kx = 0; kx < 3; kx++) {
                t[0][kx] = g[0][kx];
                t[1][kx] = 0.5f * (g[0][kx] + g[1][kx] + g[2][kx]);
                t[2][kx] = 0.5f * (g[0][kx] - g[1][kx] + g[2][kx]);
                t[3][kx] = g[2][kx];
            }
            for (int i = 0; i < 4; i++) {
                const float v[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]),
                                    0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
                for (int k = 0; k < 4; k++)
                    u[(((i * 4 + k) * panels + j / 16) * c + ch) * 16 + j % 16] = v[k];
            }
        }
}

long spot_winograd_scratch_count(long c, long f, long ow) {
    const long tnx = (ow + 1) / 2;
    return 16 * (tnx * c + (tnx > 6 ? tnx : 6) * f);
}

// Input transform of one row of tiles: v[xi][tx][ch] for xi < 16, tx < tnx.
static void winograd_input_row_portable(const float *x, long c, long oh, long ow, long ty, long tnx, float *v) {
    const long xw = ow + 2, xh = oh + 2;
    for (long tx = 0; tx < tnx; tx++)
        for (long ch = 0; ch < c; ch++) {
            float d[4][4], t[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                    const long y = 2 * ty + i, xx = 2 * tx + j;
                    d[i][j] = (y < xh && xx < xw) ? x[(y * xw + xx) * c + ch] : 0;
                }
            for (int j = 0; j < 4; j++) {
                t[0][j] = d[0][j] - d[2][j];
                t[1][j] = d[1][j] + d[2][j];
                t[2][j] = d[2][j] - d[1][j];
                t[3][j] = d[1][j] - d[3][j];
            }
            for (int i = 0; i < 4; i++) {
                const float r[4] = {t[i][0] - t[i][2], t[i][1] + t[i][2], t[i][2] - t[i][1], t[i][1] - t[i][3]};
                for (int k = 0; k < 4; k++) v[((i * 4 + k) * tnx + tx) * c + ch] = r[k];
            }
        }
}

// Output transform of one row of tiles from m[xi][tx][j], with bias and ReLU.
static void winograd_output_row_portable(const float *m, const float *bias, long f, long oh, long ow, long ty,
                                         long tnx, int relu, float *out) {
    for (long tx = 0; tx < tnx; tx++)
        for (long j = 0; j < f; j++) {
            float a[4][4], s[2][4];
            for (int xi = 0; xi < 16; xi++) a[xi / 4][xi % 4] = m[(xi * tnx + tx) * f + j];
            for (int k = 0; k < 4; k++) {
                s[0][k] = a[0][k] + a[1][k] + a[2][k];
                s[1][k] = a[1][k] - a[2][k] - a[3][k];
            }
            for (int i = 0; i < 2; i++) {
                const float y[2] = {s[i][0] + s[i][1] + s[i][2], s[i][1] - s[i][2] - s[i][3]};
                for (int k = 0; k < 2; k++) {
                    const long oy = 2 * ty + i, ox = 2 * tx + k;
                    if (oy >= oh || ox >= ow) continue;
                    float r = y[k] + (bias ? bias[j] : 0);
                    if (relu && !(r > 0)) r = 0;
                    out[(oy * ow + ox) * f + j] = r;
                }
            }
        }
}

void spot_winograd_forward_portable(const float *x, long c, const float *u, const float *bias, long f, long oh,
                                    long ow, int relu, float *out, float *scratch) {
    const long tnx = (ow + 1) / 2, tny = (oh + 1) / 2, panels = f / 16;
    float *v = scratch, *m = scratch + 16 * tnx * c;
    for (long ty = 0; ty < tny; ty++) {
        winograd_input_row_portable(x, c, oh, ow, ty, tnx, v);
        for (long xi = 0; xi < 16; xi++)
            for (long tx = 0; tx < tnx; tx++) {
                const float *vr = v + (xi * tnx + tx) * c;
                float *mr = m + (xi * tnx + tx) * f;
                for (long j = 0; j < f; j++) mr[j] = 0;
                for (long p = 0; p < panels; p++) {
                    const float *panel = u + (xi * panels + p) * c * 16;
                    for (long k = 0; k < c; k++)
                        for (long l = 0; l < 16; l++) mr[16 * p + l] += vr[k] * panel[k * 16 + l];
                }
            }
        winograd_output_row_portable(m, bias, f, oh, ow, ty, tnx, relu, out);
    }
}

#ifdef SPOT_X86
// MARK: - AVX2 + FMA versions

#define SPOT_AVX2 __attribute__((target("avx2,fma")))

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


// MARK: - Stride-1 convolution, AVX2 + FMA

#define SPOT_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

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

// mr (1...6) output pixels of one row × 16 output channels (one panel), in 12 registers.
SPOT_INLINE void conv_forward_tile(const int mr, const float *x, long x_width, long c, const float *panel,
                                   const float *bias16, long kh, long seg, long oy, long ox, int relu,
                                   float *out, long f) {
    __m256 a0[6], a1[6];
    const __m256 b0 = bias16 ? _mm256_loadu_ps(bias16) : _mm256_setzero_ps();
    const __m256 b1 = bias16 ? _mm256_loadu_ps(bias16 + 8) : _mm256_setzero_ps();
    for (int i = 0; i < mr; i++) { a0[i] = b0; a1[i] = b1; }
    for (long ky = 0; ky < kh; ky++)
        tile_accumulate(mr, x + ((oy + ky) * x_width + ox) * c, c, panel + ky * seg * 16, seg, a0, a1);
    const __m256 zero = _mm256_setzero_ps();
    for (int i = 0; i < mr; i++) {
        __m256 v0 = a0[i], v1 = a1[i];
        if (relu) { v0 = _mm256_max_ps(v0, zero); v1 = _mm256_max_ps(v1, zero); }
        _mm256_storeu_ps(out + i * f, v0);
        _mm256_storeu_ps(out + i * f + 8, v1);
    }
}

SPOT_AVX2 void spot_conv_s1_forward_avx2(const float *x, long x_width, long c, const float *packed,
                                           const float *bias, long kh, long kw, long f, long oh, long ow,
                                           int relu, float *out) {
    const long depth = kh * kw * c, seg = kw * c, panels = f / 16;
    for (long oy = 0; oy < oh; oy++)
        for (long ox = 0; ox < ow; ox += 6) {
            const long mr = ow - ox < 6 ? ow - ox : 6;
            for (long p = 0; p < panels; p++) {
                const float *panel = packed + p * depth * 16;
                const float *b = bias ? bias + 16 * p : 0;
                float *o = out + (oy * ow + ox) * f + 16 * p;
                switch (mr) {
                case 6: conv_forward_tile(6, x, x_width, c, panel, b, kh, seg, oy, ox, relu, o, f); break;
                case 5: conv_forward_tile(5, x, x_width, c, panel, b, kh, seg, oy, ox, relu, o, f); break;
                case 4: conv_forward_tile(4, x, x_width, c, panel, b, kh, seg, oy, ox, relu, o, f); break;
                case 3: conv_forward_tile(3, x, x_width, c, panel, b, kh, seg, oy, ox, relu, o, f); break;
                case 2: conv_forward_tile(2, x, x_width, c, panel, b, kh, seg, oy, ox, relu, o, f); break;
                default: conv_forward_tile(1, x, x_width, c, panel, b, kh, seg, oy, ox, relu, o, f); break;
                }
            }
        }
}

// mr (1...6) consecutive weight rows (inside one kernel row's run of kw*c) × 16 output
// channels, accumulated in registers over every output pixel.
SPOT_INLINE void conv_weight_tile(const int mr, const float *x, long x_width, long c, const float *dy, long f,
                                  long oh, long ow, long ky, long kk, long f0, float *dw) {
    __m256 a0[6], a1[6];
    for (int i = 0; i < mr; i++) {
        a0[i] = _mm256_loadu_ps(dw + i * f);
        a1[i] = _mm256_loadu_ps(dw + i * f + 8);
    }
    for (long oy = 0; oy < oh; oy++) {
        const float *xr = x + (oy + ky) * x_width * c + kk;
        const float *gr = dy + oy * ow * f + f0;
        for (long ox = 0; ox < ow; ox++) {
            const __m256 g0 = _mm256_loadu_ps(gr + ox * f), g1 = _mm256_loadu_ps(gr + ox * f + 8);
            const float *xa = xr + ox * c;
            for (int i = 0; i < mr; i++) {
                const __m256 a = _mm256_broadcast_ss(xa + i);
                a0[i] = _mm256_fmadd_ps(a, g0, a0[i]);
                a1[i] = _mm256_fmadd_ps(a, g1, a1[i]);
            }
        }
    }
    for (int i = 0; i < mr; i++) {
        _mm256_storeu_ps(dw + i * f, a0[i]);
        _mm256_storeu_ps(dw + i * f + 8, a1[i]);
    }
}

SPOT_AVX2 void spot_conv_s1_weight_gradient_avx2(const float *x, long x_width, long c, const float *dy,
                                                   long kh, long kw, long f, long oh, long ow, float *dw) {
    const long seg = kw * c;
    for (long ky = 0; ky < kh; ky++)
        for (long kk = 0; kk < seg; kk += 6) {
            const long mr = seg - kk < 6 ? seg - kk : 6;
            for (long f0 = 0; f0 < f; f0 += 16) {
                float *d = dw + (ky * seg + kk) * f + f0;
                switch (mr) {
                case 6: conv_weight_tile(6, x, x_width, c, dy, f, oh, ow, ky, kk, f0, d); break;
                case 5: conv_weight_tile(5, x, x_width, c, dy, f, oh, ow, ky, kk, f0, d); break;
                case 4: conv_weight_tile(4, x, x_width, c, dy, f, oh, ow, ky, kk, f0, d); break;
                case 3: conv_weight_tile(3, x, x_width, c, dy, f, oh, ow, ky, kk, f0, d); break;
                case 2: conv_weight_tile(2, x, x_width, c, dy, f, oh, ow, ky, kk, f0, d); break;
                default: conv_weight_tile(1, x, x_width, c, dy, f, oh, ow, ky, kk, f0, d); break;
                }
            }
        }
}

// MARK: - Sparse output gradients, AVX2 + FMA

// For each 8-bit mask: the lanes whose bit is set, in order (then zeros), and how many.
// Filled by detect_cpu() when the library loads.
static int pack_lanes[256][8] __attribute__((aligned(32)));
static unsigned char pack_count[256];

static void fill_pack_tables(void) {
    for (int m = 0; m < 256; m++) {
        int n = 0;
        for (int lane = 0; lane < 8; lane++)
            if (m & (1 << lane)) pack_lanes[m][n++] = lane;
        pack_count[m] = (unsigned char)n;
        while (n < 8) pack_lanes[m][n++] = 0;
    }
}

// Branch-free: every block of 8 stores 8 (index, value) pairs at k, of which the first
// popcount(mask) are kept. It never writes past pixels * f: k is at most the number of
// entries before the block, so k + 8 <= p * f + j + 8 <= (p + 1) * f.
SPOT_AVX2 long spot_sparse_compress_avx2(const float *dy, long pixels, long f, int *start, int *index, float *value) {
    const __m256 zero = _mm256_setzero_ps();
    long k = 0;
    for (long p = 0; p < pixels; p++) {
        start[p] = (int)k;
        const float *g = dy + p * f;
        long j = 0;
        for (; j + 8 <= f; j += 8) {
            const __m256 v = _mm256_loadu_ps(g + j);
            const int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ));
            const __m256i lanes = _mm256_load_si256((const __m256i *)pack_lanes[mask]);
            _mm256_storeu_ps(value + k, _mm256_permutevar8x32_ps(v, lanes));
            _mm256_storeu_si256((__m256i *)(index + k), _mm256_add_epi32(lanes, _mm256_set1_epi32((int)j)));
            k += pack_count[mask];
        }
        for (; j < f; j++)
            if (g[j] != 0) { index[k] = (int)j; value[k] = g[j]; k++; }
    }
    start[pixels] = (int)k;
    return k;
}

// The accumulator of `w` vectors (w ≤ 12) stays in registers over all e.
SPOT_INLINE void sparse_rows_block(const int w, long n, const float *value, const int *index, long stride,
                                   const float *base, float *out) {
    __m256 a[12];
    for (int i = 0; i < w; i++) a[i] = _mm256_setzero_ps();
    for (long e = 0; e < n; e++) {
        const __m256 v = _mm256_broadcast_ss(value + e);
        const float *r = base + (long)index[e] * stride;
        for (int i = 0; i < w; i++) a[i] = _mm256_fmadd_ps(v, _mm256_loadu_ps(r + 8 * i), a[i]);
    }
    for (int i = 0; i < w; i++) _mm256_storeu_ps(out + 8 * i, _mm256_add_ps(_mm256_loadu_ps(out + 8 * i), a[i]));
}

SPOT_INLINE void sparse_rows_sum_avx2(long n, const float *value, const int *index, long stride,
                                      const float *base, long seg, float *out) {
    long s = 0;
    for (; s + 96 <= seg; s += 96) sparse_rows_block(12, n, value, index, stride, base + s, out + s);
    for (; s + 32 <= seg; s += 32) sparse_rows_block(4, n, value, index, stride, base + s, out + s);
    for (; s + 8 <= seg; s += 8) sparse_rows_block(1, n, value, index, stride, base + s, out + s);
    for (; s < seg; s++) {
        float acc = 0;
        for (long e = 0; e < n; e++) acc = fmaf(value[e], base[(long)index[e] * stride + s], acc);
        out[s] += acc;
    }
}

SPOT_AVX2 void spot_conv_s1_sparse_input_gradient_avx2(const int *start, const int *index, const float *value,
                                                       long oh, long ow, const float *wt, long kh, long kw, long c,
                                                       long f, long x_width, float *dx) {
    SPOT_SPARSE_INPUT_GRADIENT(sparse_rows_sum_avx2)
}

SPOT_AVX2 void spot_conv_s1_sparse_weight_gradient_avx2(const int *col_start, const int *col_offset,
                                                        const float *col_value, const float *x, long x_width, long c,
                                                        long kh, long kw, long f, float *dwt) {
    SPOT_SPARSE_WEIGHT_GRADIENT(sparse_rows_sum_avx2)
}

// MARK: - Winograd F(2x2, 3x3), AVX2 + FMA (c a multiple of 8, f of 16)

// One column k of the transformed tile at a time (8 loads, 8 vectors live), so nothing
// spills. Pixels past the image (partial tiles at the bottom and right) read as 0.
SPOT_INLINE void winograd_input_row_avx2(const float *x, long c, long oh, long ow, long ty, long tnx, float *v) {
    const long xw = ow + 2, step = tnx * c, rows_left = oh + 2 - 2 * ty;
    // Column pairs combined by B: k=0: d0 - d2, 1: d1 + d2, 2: d2 - d1, 3: d1 - d3.
    static const int first[4] = {0, 1, 2, 1}, second[4] = {2, 2, 1, 3};
    static const float sign[4] = {-1, 1, -1, -1};
    const __m256 zero = _mm256_setzero_ps();
    for (long tx = 0; tx < tnx; tx++) {
        const long cols_left = xw - 2 * tx;
        const float *tile = x + ((2 * ty) * xw + 2 * tx) * c;
        for (long ch = 0; ch < c; ch += 8) {
            float *o = v + tx * c + ch;
            for (int k = 0; k < 4; k++) {
                const __m256 sg = _mm256_set1_ps(sign[k]);
                const int fa = first[k], fb = second[k];
                __m256 r[4];
                for (int i = 0; i < 4; i++) {
                    const __m256 a = i < rows_left && fa < cols_left ? _mm256_loadu_ps(tile + (i * xw + fa) * c + ch) : zero;
                    const __m256 b = i < rows_left && fb < cols_left ? _mm256_loadu_ps(tile + (i * xw + fb) * c + ch) : zero;
                    r[i] = _mm256_fmadd_ps(sg, b, a);
                }
                _mm256_storeu_ps(o + (0 * 4 + k) * step, _mm256_sub_ps(r[0], r[2]));
                _mm256_storeu_ps(o + (1 * 4 + k) * step, _mm256_add_ps(r[1], r[2]));
                _mm256_storeu_ps(o + (2 * 4 + k) * step, _mm256_sub_ps(r[2], r[1]));
                _mm256_storeu_ps(o + (3 * 4 + k) * step, _mm256_sub_ps(r[1], r[3]));
            }
        }
    }
}

// Output transform of `count` tiles starting at tile tx0, from m[xi][i][j] (row stride
// `rows` tiles), with bias and ReLU: one column k of the 4x4 at a time.
SPOT_INLINE void winograd_output_tiles_avx2(const float *m, long rows, const float *bias, long f, long oh, long ow,
                                            long ty, long tx0, long count, int relu, float *out) {
    const __m256 zero = _mm256_setzero_ps();
    const long step = rows * f;
    for (long t = 0; t < count; t++) {
        const long tx = tx0 + t;
        for (long j = 0; j < f; j += 8) {
            const float *a = m + t * f + j;
            __m256 s0[4], s1[4];
            for (int k = 0; k < 4; k++) {
                const __m256 a0 = _mm256_loadu_ps(a + (0 * 4 + k) * step), a1 = _mm256_loadu_ps(a + (1 * 4 + k) * step);
                const __m256 a2 = _mm256_loadu_ps(a + (2 * 4 + k) * step), a3 = _mm256_loadu_ps(a + (3 * 4 + k) * step);
                s0[k] = _mm256_add_ps(_mm256_add_ps(a0, a1), a2);
                s1[k] = _mm256_sub_ps(_mm256_sub_ps(a1, a2), a3);
            }
            const __m256 b = bias ? _mm256_loadu_ps(bias + j) : zero;
            for (int i = 0; i < 2; i++) {
                const long oy = 2 * ty + i;
                if (oy >= oh) continue;
                const __m256 *s = i == 0 ? s0 : s1;
                __m256 y0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s[0], s[1]), s[2]), b);
                __m256 y1 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s[1], s[2]), s[3]), b);
                if (relu) { y0 = _mm256_max_ps(y0, zero); y1 = _mm256_max_ps(y1, zero); }
                float *o = out + (oy * ow + 2 * tx) * f + j;
                _mm256_storeu_ps(o, y0);
                if (2 * tx + 1 < ow) _mm256_storeu_ps(o + f, y1);
            }
        }
    }
}

// mr (1...6) tiles × 16 output channels of one of the 16 products, summed over c in registers.
SPOT_INLINE void winograd_gemm_tile(const int mr, const float *v, long c, const float *panel, float *m, long f) {
    __m256 a0[6], a1[6];
    for (int i = 0; i < mr; i++) { a0[i] = _mm256_setzero_ps(); a1[i] = _mm256_setzero_ps(); }
    tile_accumulate(mr, v, c, panel, c, a0, a1);
    for (int i = 0; i < mr; i++) {
        _mm256_storeu_ps(m + i * f, a0[i]);
        _mm256_storeu_ps(m + i * f + 8, a1[i]);
    }
}

// Per row of tiles: the input transform, then blocks of up to 6 tiles: the 16 products
// for the block (m holds 16 x 6 x f floats, in L1/L2) and its output transform.
SPOT_AVX2 void spot_winograd_forward_avx2(const float *x, long c, const float *u, const float *bias, long f, long oh,
                                          long ow, int relu, float *out, float *scratch) {
    const long tnx = (ow + 1) / 2, tny = (oh + 1) / 2, panels = f / 16;
    float *v = scratch, *m = scratch + 16 * tnx * c;
    for (long ty = 0; ty < tny; ty++) {
        winograd_input_row_avx2(x, c, oh, ow, ty, tnx, v);
        for (long tx = 0; tx < tnx; tx += 6) {
            const long mr = tnx - tx < 6 ? tnx - tx : 6;
            for (long xi = 0; xi < 16; xi++) {
                const float *vr = v + (xi * tnx + tx) * c;
                for (long p = 0; p < panels; p++) {
                    const float *panel = u + (xi * panels + p) * c * 16;
                    float *mo = m + (xi * 6) * f + 16 * p;
                    switch (mr) {
                    case 6: winograd_gemm_tile(6, vr, c, panel, mo, f); break;
                    case 5: winograd_gemm_tile(5, vr, c, panel, mo, f); break;
                    case 4: winograd_gemm_tile(4, vr, c, panel, mo, f); break;
                    case 3: winograd_gemm_tile(3, vr, c, panel, mo, f); break;
                    case 2: winograd_gemm_tile(2, vr, c, panel, mo, f); break;
                    default: winograd_gemm_tile(1, vr, c, panel, mo, f); break;
                    }
                }
            }
            winograd_output_tiles_avx2(m, 6, bias, f, oh, ow, ty, tx, mr, relu, out);
        }
    }
}

// Decided once when the library loads, before any thread can call a kernel.
static int use_avx2 = 0;

__attribute__((constructor)) static void detect_cpu(void) {
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    fill_pack_tables();
}

static inline int detect_avx2(void) { return use_avx2; }
#endif

// MARK: - Dispatch

int spot_kernels_use_avx2(void) {
#ifdef SPOT_X86
    return detect_avx2();
#else
    return 0;
#endif
}

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

void spot_conv_s1_forward(const float *x, long x_width, long c, const float *packed, const float *bias,
                          long kh, long kw, long f, long oh, long ow, int relu, float *out) {
#ifdef SPOT_X86
    if (detect_avx2()) { spot_conv_s1_forward_avx2(x, x_width, c, packed, bias, kh, kw, f, oh, ow, relu, out); return; }
#endif
    spot_conv_s1_forward_portable(x, x_width, c, packed, bias, kh, kw, f, oh, ow, relu, out);
}

void spot_conv_s1_weight_gradient(const float *x, long x_width, long c, const float *dy,
                                  long kh, long kw, long f, long oh, long ow, float *dw) {
#ifdef SPOT_X86
    if (detect_avx2()) { spot_conv_s1_weight_gradient_avx2(x, x_width, c, dy, kh, kw, f, oh, ow, dw); return; }
#endif
    spot_conv_s1_weight_gradient_portable(x, x_width, c, dy, kh, kw, f, oh, ow, dw);
}


long spot_sparse_compress(const float *dy, long pixels, long f, int *start, int *index, float *value) {
#ifdef SPOT_X86
    if (detect_avx2()) return spot_sparse_compress_avx2(dy, pixels, f, start, index, value);
#endif
    return spot_sparse_compress_portable(dy, pixels, f, start, index, value);
}

void spot_conv_s1_sparse_input_gradient(const int *start, const int *index, const float *value, long oh, long ow,
                                        const float *wt, long kh, long kw, long c, long f, long x_width, float *dx) {
#ifdef SPOT_X86
    if (detect_avx2()) {
        spot_conv_s1_sparse_input_gradient_avx2(start, index, value, oh, ow, wt, kh, kw, c, f, x_width, dx);
        return;
    }
#endif
    spot_conv_s1_sparse_input_gradient_portable(start, index, value, oh, ow, wt, kh, kw, c, f, x_width, dx);
}

void spot_conv_s1_sparse_weight_gradient(const int *col_start, const int *col_offset, const float *col_value,
                                         const float *x, long x_width, long c, long kh, long kw, long f, float *dwt) {
#ifdef SPOT_X86
    if (detect_avx2()) {
        spot_conv_s1_sparse_weight_gradient_avx2(col_start, col_offset, col_value, x, x_width, c, kh, kw, f, dwt);
        return;
    }
#endif
    spot_conv_s1_sparse_weight_gradient_portable(col_start, col_offset, col_value, x, x_width, c, kh, kw, f, dwt);
}

void spot_winograd_forward(const float *x, long c, const float *u, const float *bias, long f, long oh, long ow,
                           int relu, float *out, float *scratch) {
#ifdef SPOT_X86
    if (detect_avx2() && c % 8 == 0) {
        spot_winograd_forward_avx2(x, c, u, bias, f, oh, ow, relu, out, scratch);
        return;
    }
#endif
    spot_winograd_forward_portable(x, c, u, bias, f, oh, ow, relu, out, scratch);
}
