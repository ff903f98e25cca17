#include <cblas.h>
#include <stddef.h>

/* LAPACK's divide-and-conquer symmetric eigensolver, which OpenBLAS ships but declares in no header of
   Debian's libopenblas-dev: FID's matrix square root. Fortran calling convention, with the lengths of the
   two character arguments last. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t jobzLength,
             size_t uploLength);
