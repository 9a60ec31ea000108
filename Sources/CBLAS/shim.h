#include <cblas.h>
/* OpenBLAS extensions (declared in openblas's cblas.h): thread count and kernel name. */
