// The CBLAS interface of OpenBLAS (Debian: libopenblas-dev), plus OpenBLAS's thread control
// (`openblas_set_num_threads`, `openblas_get_num_threads`), which its cblas.h declares.
#include <cblas.h>
