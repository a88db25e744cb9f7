// How long moving and summing the MNIST CNN's gradients (1,199,882 floats) between two ranks
// takes with plain MPI, no SpotTrain: MPI_Allgather plus a local sum, MPI_Allreduce, and a
// two-slice reduce-scatter plus allgather (what Communicator's reduce-scatter does for 2 ranks).
//
//   mpicc -O2 Benchmarks/mpi/transfer.c -o /tmp/transfer
//   mpirun --allow-run-as-root --bind-to core -np 2 /tmp/transfer
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        if (rank == 0) fprintf(stderr, "transfer: run with -np 2\n");
        MPI_Finalize();
        return 64;
    }
    const int n = 1199882, repetitions = 50, other = 1 - rank;
    float *mine = malloc(sizeof(float) * n), *all = malloc(sizeof(float) * n * 2), *sum = malloc(sizeof(float) * n);
    if (!mine || !all || !sum) return 1;
    for (int i = 0; i < n; i++) mine[i] = i * 0.001f + rank;
    for (int trial = 0; trial < 4; trial++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        for (int k = 0; k < repetitions; k++) {
            MPI_Allgather(mine, n, MPI_FLOAT, all, n, MPI_FLOAT, MPI_COMM_WORLD);
            for (int i = 0; i < n; i++) sum[i] = all[i] + all[n + i];
        }
        double allgather = (MPI_Wtime() - t) / repetitions;

        MPI_Barrier(MPI_COMM_WORLD);
        t = MPI_Wtime();
        for (int k = 0; k < repetitions; k++) MPI_Allreduce(mine, sum, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double allreduce = (MPI_Wtime() - t) / repetitions;

        // Rank 0 owns [0, n/2), rank 1 [n/2, n): send the other's half, add own half in rank order, swap sums.
        const int half = n / 2;
        const int start = rank == 0 ? 0 : half, count = rank == 0 ? half : n - half;
        const int otherStart = rank == 0 ? half : 0, otherCount = n - count;
        MPI_Barrier(MPI_COMM_WORLD);
        t = MPI_Wtime();
        for (int k = 0; k < repetitions; k++) {
            MPI_Sendrecv(mine + otherStart, otherCount, MPI_FLOAT, other, 0, all, count, MPI_FLOAT, other, 0,
                         MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            for (int i = 0; i < count; i++) sum[start + i] = rank == 0 ? mine[start + i] + all[i] : all[i] + mine[start + i];
            MPI_Sendrecv(sum + start, count, MPI_FLOAT, other, 1, sum + otherStart, otherCount, MPI_FLOAT, other, 1,
                         MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        double reduceScatter = (MPI_Wtime() - t) / repetitions;
        if (rank == 0)
            printf("trial %d: allgather+sum %.3f ms, allreduce %.3f ms, reduce-scatter+allgather %.3f ms\n", trial + 1,
                   allgather * 1e3, allreduce * 1e3, reduceScatter * 1e3);
    }
    free(mine); free(all); free(sum);
    MPI_Finalize();
    return 0;
}
