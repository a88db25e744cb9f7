// How long ranks wait for each other when they do exactly the same work: each of 100 steps is
// a fixed loop (about 50 ms on a 2-vCPU Xeon VM) and a barrier. With no jitter nobody waits;
// what the slower rank costs the other shows as "wait". No SpotTrain, no data.
//
//   mpicc -O2 Benchmarks/mpi/jitter.c -o /tmp/jitter
//   mpirun --allow-run-as-root --bind-to core -np 2 /tmp/jitter
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static volatile float sink;

static double work(float *a, int n) {
    double t = MPI_Wtime();
    float s = 0;
    for (int k = 0; k < 60; k++)
        for (int i = 0; i < n; i++) { a[i] = a[i] * 0.999f + 1.0f; s += a[i]; }
    sink = s;
    return MPI_Wtime() - t;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const int n = 1 << 20, steps = 100;
    float *a = calloc(n, sizeof(float));
    if (!a) return 1;
    double compute = 0, wait = 0, slowest = 0;
    for (int s = 0; s < steps; s++) {
        double c = work(a, n);
        compute += c;
        if (c > slowest) slowest = c;
        double t = MPI_Wtime();
        MPI_Barrier(MPI_COMM_WORLD);
        wait += MPI_Wtime() - t;
    }
    printf("rank %d: compute %.2f ms/step (slowest step %.2f ms), wait %.2f ms/step\n", rank, compute / steps * 1e3,
           slowest * 1e3, wait / steps * 1e3);
    free(a);
    MPI_Finalize();
    return 0;
}
