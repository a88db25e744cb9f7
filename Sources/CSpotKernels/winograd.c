// Winograd F(2x2, 3x3) for stride-1 `valid` 3x3 convolutions (Conv2D+Winograd.swift): the
// weight transform (`spot_winograd_pack_weights`), the scratch size
// (`spot_winograd_scratch_count`) and the forward pass (`spot_winograd_forward`); portable,
// AVX2 + FMA (c a multiple of 8, f of 16), and the dispatch.
#include "spot_kernels_internal.h"

// MARK: - Portable

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
// MARK: - AVX2 + FMA

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
#endif

// MARK: - Dispatch

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
