// Stride-1 convolution as an implicit matrix product (no im2col matrix), for `Conv2D`'s
// implicit-GEMM algorithm (Conv2D+ImplicitGEMM.swift): weight packing into panels of 16
// (`spot_pack_panels16`, `spot_pack_flipped_panels16`), the forward product
// (`spot_conv_s1_forward`, also the input gradient with the flipped kernel) and the weight
// gradient (`spot_conv_s1_weight_gradient`); portable, AVX2 + FMA, and the dispatch.
#include "spot_kernels_internal.h"

// MARK: - Portable

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

#ifdef SPOT_X86
// MARK: - AVX2 + FMA

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
#endif

// MARK: - Dispatch

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
