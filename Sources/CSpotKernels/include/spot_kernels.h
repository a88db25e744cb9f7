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

// The two versions behind each kernel, for tests that compare them. The `_avx2` ones exist
// only on x86-64 and must only be called when spot_kernels_use_avx2() returns 1.
void spot_small_depth_product_portable(const float *a, const float *w, const float *bias,
                                       long rows, long depth, long cols, int relu, float *out);
void spot_small_depth_weight_gradient_portable(const float *a, const float *g, long rows, long depth,
                                               long cols, float *acc);
void spot_adam_update_portable(float *value, const float *gradient, float *m, float *v, long n,
                               float beta1, float one_minus_beta1, float beta2, float one_minus_beta2,
                               float epsilon, float decay, float step_size, float inv_root_correction2);
#if defined(__x86_64__)
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
