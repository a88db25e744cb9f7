// SpotTrain's hand-vectorised kernels for the few loops where plain Swift (compiled for
// the baseline x86-64 without AVX2/FMA, since a package must not set `unsafeFlags`) is far
// from the hardware: small-inner-dimension products and the Adam update.
//
// On x86-64 each kernel has an AVX2+FMA version selected at run time (cpuid) and a portable
// version otherwise; on other architectures only the portable one. Results are identical
// for any thread count on one machine; between a machine with AVX2+FMA and one without
// they can differ in the last bits (fused multiply-add rounding).
//
// The kernels live by family, each file with its portable version, its AVX2 + FMA version
// and the dispatch: small_depth.c (the direct convolution's products), adam.c (the Adam
// step), conv_s1.c (the stride-1 implicit-GEMM convolution), sparse.c (sparse output
// gradients), winograd.c (Winograd F(2x2, 3x3)); cpu.c decides which version runs, and
// spot_kernels_internal.h holds what they share.
#ifndef SPOT_KERNELS_H
#define SPOT_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// out[p][j] = act(bias[j] + sum_d a[p][d] * w[d][j]) for p < rows, j < cols.
/// a is rows x depth, w is depth x cols, out is rows x cols, all row-major and dense.
/// relu != 0 applies max(x, 0). Meant for small depth (<= 32).
void spot_small_depth_product(const float *a, const float *w, const float *bias,
                              long rows, long depth, long cols, int relu, float *out);

/// acc[d][j] += sum_p a[p][d] * g[p][j] (acc is depth x cols; a rows x depth; g rows x cols):
/// the weight gradient of ``spot_small_depth_product``. Sums over p in order.
void spot_small_depth_weight_gradient(const float *a, const float *g, long rows, long depth,
                                      long cols, float *acc);

/// One Adam step over n elements:
///   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
///   value = value * decay - step_size * m / (sqrt(v) * inv_root_correction2 + epsilon)
void spot_adam_update(float *value, const float *gradient, float *m, float *v, long n,
                      float beta1, float one_minus_beta1, float beta2, float one_minus_beta2,
                      float epsilon, float decay, float step_size, float inv_root_correction2);

/// 1 when the AVX2+FMA versions are in use, else 0.
int spot_kernels_use_avx2(void);

// MARK: Stride-1 convolution as an implicit matrix product (no im2col matrix)

/// Packs a weight matrix `w` [depth][cols] (cols a multiple of 16) into panels of 16
/// columns: `packed[(p * depth + k) * 16 + j] = w[k * cols + 16 p + j]`.
void spot_pack_panels16(const float *w, long depth, long cols, float *packed);

/// Packs the kernel of the input-gradient convolution: for `w` [kh][kw][c][f], the matrix
/// `w'[(ky' * kw + kx') * f + j][ch] = w[kh-1-ky'][kw-1-kx'][ch][j]` ([kh*kw*f][c], c a
/// multiple of 16) in panels of 16 as `spot_pack_panels16` does.
void spot_pack_flipped_panels16(const float *w, long kh, long kw, long c, long f, float *packed);

/// One image of a stride-1 convolution: for oy < oh, ox < ow, j < f,
///   out[oy][ox][j] = act(bias[j] + sum_{ky,kx,ch} x[oy+ky][ox+kx][ch] * W[ky][kx][ch][j])
/// with x [oh+kh-1 rows][x_width][c] (x_width >= ow+kw-1) and W packed by
/// `spot_pack_panels16` from [kh*kw*c][f]; f a multiple of 16. `bias` may be NULL (zero).
void spot_conv_s1_forward(const float *x, long x_width, long c, const float *packed, const float *bias,
                          long kh, long kw, long f, long oh, long ow, int relu, float *out);

/// One image's weight gradient of that convolution, accumulated:
///   dw[(ky*kw+kx)*c+ch][j] += sum_{oy,ox} x[oy+ky][ox+kx][ch] * dy[oy][ox][j]
/// dw is [kh*kw*c][f] row-major; f a multiple of 16; sums over (oy, ox) in order.
void spot_conv_s1_weight_gradient(const float *x, long x_width, long c, const float *dy,
                                  long kh, long kw, long f, long oh, long ow, float *dw);

// MARK: Sparse output gradients of a stride-1 convolution
//
// After max pooling (one pixel per window gets a gradient), ReLU and dropout, most entries
// of a convolution's output gradient are zero; these kernels visit only the others.

/// Lists the nonzero entries of `dy` [pixels][f] by pixel: pixel p's are
/// (index[e], value[e]) for start[p] <= e < start[p+1], in channel order. `start` has room
/// for pixels + 1 entries, `index` and `value` for pixels * f. Returns the count. NaN counts
/// as nonzero.
long spot_sparse_compress(const float *dy, long pixels, long f, int *start, int *index, float *value);

/// The same entries by channel, for an output of oh × ow pixels and an input of rows of
/// `x_width` pixels of `c` channels: channel j's are (col_offset[e], col_value[e]) for
/// col_start[j] <= e < col_start[j+1], in pixel order, where col_offset is the offset
/// (oy * x_width + ox) * c of the window's first input value. col_start has f + 1 entries.
void spot_sparse_columns(const int *start, const int *index, const float *value, long oh, long ow, long f,
                         long x_width, long c, int *col_start, int *col_offset, float *col_value);

/// Rearranges a kernel w [kh][kw][c][f] into wt [kh][f][kw*c]: for each kernel row and
/// output channel, the weights of the kw*c input values it reads, contiguous.
void spot_transpose_kernel_rows(const float *w, long kh, long kw, long c, long f, float *wt);

/// out[d][j] += t[j][d] for d < rows, j < cols (out is rows x cols, t is cols x rows).
void spot_add_transposed(const float *t, long rows, long cols, float *out);

/// One image's input gradient from a sparse output gradient (by pixel, see
/// `spot_sparse_compress`), added to dx [oh+kh-1][x_width][c]:
///   dx[oy+ky][ox+kx][ch] += sum_{(j, v) at (oy, ox)} v * W[ky][kx][ch][j]
/// with wt = W rearranged by `spot_transpose_kernel_rows`.
void spot_conv_s1_sparse_input_gradient(const int *start, const int *index, const float *value, long oh, long ow,
                                        const float *wt, long kh, long kw, long c, long f, long x_width, float *dx);

/// One image's weight gradient from a sparse output gradient (by channel, see
/// `spot_sparse_columns`), added to dwt [f][kh*kw*c] (the transpose of the [kh*kw*c][f]
/// weight gradient; `spot_add_transposed` adds it back):
///   dwt[j][(ky*kw+kx)*c+ch] += sum_{(offset, v) in channel j} v * x[offset + (ky*x_width + kx)*c + ch]
void spot_conv_s1_sparse_weight_gradient(const int *col_start, const int *col_offset, const float *col_value,
                                         const float *x, long x_width, long c, long kh, long kw, long f, float *dwt);

// MARK: Winograd F(2x2, 3x3) for stride-1 3x3 convolutions

/// Transforms a 3x3 kernel w [3][3][c][f] (f a multiple of 16) into the 16 matrices
/// U[xi] = (G g Gᵀ)[xi] of Winograd's F(2x2, 3x3), each [c][f] in panels of 16 columns:
/// u[((xi * (f/16) + p) * c + ch) * 16 + l] for the output channel 16 p + l.
void spot_winograd_pack_weights(const float *w, long c, long f, float *u);

/// Floats of scratch space `spot_winograd_forward` needs: 16 * (t * c + max(t, 6) * f)
/// with t = ceil(ow / 2) tiles per row.
long spot_winograd_scratch_count(long c, long f, long ow);

/// One image of a stride-1 `valid` 3x3 convolution with Winograd's F(2x2, 3x3): x is
/// [oh+2][ow+2][c], u from `spot_winograd_pack_weights`, out [oh][ow][f] =
/// act(bias + conv); `bias` may be NULL. 16 multiplications per 2x2 output tile and channel
/// pair instead of 36; agrees with the direct sum up to float rounding (the transforms add
/// a few ulps). f a multiple of 16; the AVX2 version needs c a multiple of 8 (else the
/// portable one runs).
void spot_winograd_forward(const float *x, long c, const float *u, const float *bias, long f, long oh, long ow,
                           int relu, float *out, float *scratch);

// The two versions behind each kernel, for tests that compare them. The `_avx2` ones exist
// only on x86-64 and must only be called when spot_kernels_use_avx2() returns 1.
void spot_small_depth_product_portable(const float *a, const float *w, const float *bias,
                                       long rows, long depth, long cols, int relu, float *out);
void spot_small_depth_weight_gradient_portable(const float *a, const float *g, long rows, long depth,
                                               long cols, float *acc);
void spot_adam_update_portable(float *value, const float *gradient, float *m, float *v, long n,
                               float beta1, float one_minus_beta1, float beta2, float one_minus_beta2,
                               float epsilon, float decay, float step_size, float inv_root_correction2);
void spot_conv_s1_forward_portable(const float *x, long x_width, long c, const float *packed, const float *bias,
                                   long kh, long kw, long f, long oh, long ow, int relu, float *out);
void spot_conv_s1_weight_gradient_portable(const float *x, long x_width, long c, const float *dy,
                                           long kh, long kw, long f, long oh, long ow, float *dw);
long spot_sparse_compress_portable(const float *dy, long pixels, long f, int *start, int *index, float *value);
void spot_conv_s1_sparse_input_gradient_portable(const int *start, const int *index, const float *value,
                                                 long oh, long ow, const float *wt, long kh, long kw, long c,
                                                 long f, long x_width, float *dx);
void spot_conv_s1_sparse_weight_gradient_portable(const int *col_start, const int *col_offset,
                                                  const float *col_value, const float *x, long x_width, long c,
                                                  long kh, long kw, long f, float *dwt);
void spot_winograd_forward_portable(const float *x, long c, const float *u, const float *bias, long f, long oh,
                                    long ow, int relu, float *out, float *scratch);
#if defined(__x86_64__)
void spot_winograd_forward_avx2(const float *x, long c, const float *u, const float *bias, long f, long oh,
                                long ow, int relu, float *out, float *scratch);
long spot_sparse_compress_avx2(const float *dy, long pixels, long f, int *start, int *index, float *value);
void spot_conv_s1_sparse_input_gradient_avx2(const int *start, const int *index, const float *value,
                                             long oh, long ow, const float *wt, long kh, long kw, long c,
                                             long f, long x_width, float *dx);
void spot_conv_s1_sparse_weight_gradient_avx2(const int *col_start, const int *col_offset,
                                              const float *col_value, const float *x, long x_width, long c,
                                              long kh, long kw, long f, float *dwt);
void spot_conv_s1_forward_avx2(const float *x, long x_width, long c, const float *packed, const float *bias,
                               long kh, long kw, long f, long oh, long ow, int relu, float *out);
void spot_conv_s1_weight_gradient_avx2(const float *x, long x_width, long c, const float *dy,
                                       long kh, long kw, long f, long oh, long ow, float *dw);
void spot_small_depth_product_avx2(const float *a, const float *w, const float *bias,
                                   long rows, long depth, long cols, int relu, float *out);
void spot_small_depth_weight_gradient_avx2(const float *a, const float *g, long rows, long depth,
                                           long cols, float *acc);
void spot_adam_update_avx2(float *value, const float *gradient, float *m, float *v, long n,
                           float beta1, float one_minus_beta1, float beta2, float one_minus_beta2,
                           float epsilon, float decay, float step_size, float inv_root_correction2);
#endif

#ifdef __cplusplus
}
#endif

#endif
