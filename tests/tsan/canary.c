/* canary.c — a deliberate data race in an OpenMP loop. scripts/tsan.sh
 * builds it like the kernels and requires ThreadSanitizer to REPORT it:
 * proof that the TSan + libomp + Archer set-up can see races at all, so a
 * clean kernel run means something. */
#include <stdio.h>

int main(void)
{
    double sum = 0.0;
#pragma omp parallel for num_threads(4)
    for (int i = 0; i < 100000; i++) sum += (double)i; /* racy on purpose */
    printf("%f\n", sum);
    return 0;
}
