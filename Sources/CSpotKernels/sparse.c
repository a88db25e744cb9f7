// Sparse output gradients of a stride-1 convolution (Conv2D+Sparse.swift): listing the
// nonzero entries by pixel and by channel (`spot_sparse_compress`, `spot_sparse_columns`),
// the kernel rearrangements (`spot_transpose_kernel_rows`, `spot_add_transposed`) and the
// input and weight gradients that visit only the nonzero entries
// (`spot_conv_s1_sparse_input_gradient`, `spot_conv_s1_sparse_weight_gradient`);
// portable, AVX2 + FMA, and the dispatch.
#include "spot_kernels_internal.h"

// MARK: - Portable

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

#ifdef SPOT_X86
// MARK: - AVX2 + FMA

// For each 8-bit mask: the lanes whose bit is set, in order (then zeros), and how many.
// Filled by fill_pack_tables() when the library loads.
static int pack_lanes[256][8] __attribute__((aligned(32)));
static unsigned char pack_count[256];

__attribute__((constructor)) static void fill_pack_tables(void) {
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
#endif

// MARK: - Dispatch

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
