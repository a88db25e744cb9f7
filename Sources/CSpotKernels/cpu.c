// CPU detection: whether the AVX2 + FMA versions of the kernels run, decided once when the
// library loads (`spot_kernels_use_avx2`).
#include "spot_kernels_internal.h"

#ifdef SPOT_X86
// Decided once when the library loads, before any thread can call a kernel.
int spot_avx2_in_use __attribute__((visibility("hidden"))) = 0;

__attribute__((constructor)) static void detect_cpu(void) {
    __builtin_cpu_init();
    spot_avx2_in_use = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

int spot_kernels_use_avx2(void) {
#ifdef SPOT_X86
    return detect_avx2();
#else
    return 0;
#endif
}
