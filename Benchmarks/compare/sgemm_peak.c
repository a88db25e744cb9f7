/* sgemm GFLOP/s of the system OpenBLAS (the library SpotTrain links), for a square
 * 2048^3 product and the GEMM shapes of the mnist_cnn's conv2 at batch 128 (im2col).
 *
 *   gcc -O2 sgemm_peak.c -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas -o sgemm_peak
 *   ./sgemm_peak [threads=2] [seconds-per-shape=2]
 *
 * One line per shape: `sgemm shape=... M= K= N= threads= gflops_best= gflops_median= reps=`.
 * Each repetition times one cblas_sgemm call; repetitions run until the time budget is spent
 * (at least 3). The best repetition is the ceiling; the median shows the noise. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* C[M,N] = op(A) op(B), row-major; transA/transB say whether the stored operand is the
 * transpose (as in the backward pass: dW = X^T dY, dX = dY W^T). */
static void run(const char *name, int m, int k, int n, int transA, int transB, int threads, double budget) {
    float *a = malloc(sizeof(float) * (size_t)m * k);
    float *b = malloc(sizeof(float) * (size_t)k * n);
    float *c = malloc(sizeof(float) * (size_t)m * n);
    if (!a || !b || !c) { fprintf(stderr, "sgemm_peak: out of memory\n"); exit(1); }
    for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
    int lda = transA ? m : k, ldb = transB ? k : n;
    enum CBLAS_TRANSPOSE ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans;
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n); /* warm-up */
    double samples[1000];
    int reps = 0;
    double start = now();
    while (reps < 1000 && (reps < 3 || now() - start < budget)) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
        samples[reps++] = 2.0 * m * k * n / (now() - t0) / 1e9;
    }
    qsort(samples, reps, sizeof(double), compare_doubles);
    printf("sgemm shape=%s M=%d K=%d N=%d threads=%d gflops_best=%.1f gflops_median=%.1f reps=%d\n",
           name, m, k, n, threads, samples[reps - 1], samples[reps / 2], reps);
    fflush(stdout);
    free(a); free(b); free(c);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    double budget = argc > 2 ? atof(argv[2]) : 2.0;
    if (threads < 1 || !(budget > 0)) {
        fprintf(stderr, "usage: %s [threads>=1] [seconds-per-shape>0]\n", argv[0]);
        return 64;
    }
    openblas_set_num_threads(threads);
    printf("openblas config=\"%s\" core=%s threads=%d\n", openblas_get_config(), openblas_get_corename(),
           openblas_get_num_threads());
    run("square_2048", 2048, 2048, 2048, 0, 0, threads, budget);
    run("conv2_fwd", 128 * 24 * 24, 32 * 9, 64, 0, 0, threads, budget);
    run("conv2_dW", 32 * 9, 128 * 24 * 24, 64, 1, 0, threads, budget);
    run("conv2_dX", 128 * 24 * 24, 64, 32 * 9, 0, 1, threads, budget);
    return 0;
}
