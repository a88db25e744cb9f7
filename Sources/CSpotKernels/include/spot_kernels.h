// SpotTrain's hand-vectorised kernels for the few loops where plain Swift (compiled for
// the baseline x86-64 without AVX2/FMA, since a package must not set `unsafeFlags`) is far
// from the hardware: small-inner-dimension products and the Adam update.
//
// On x86-64 each kernel has an AVX2+FMA version selected at run time (cpuid) and a portable
// version otherwise; on other architectures only the portable one. Results are identical
// for any thread count on one machine; between a machine with AVX2+FMA and one without
// they can differ in the last bits (fused multiply-add rounding).
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
#if defined(__x86_64__)
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
