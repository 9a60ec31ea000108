#include <lapacke.h>
/* From OpenBLAS (which provides LAPACK here): the search runs its small dense algebra on one thread. */
void openblas_set_num_threads(int num_threads);
