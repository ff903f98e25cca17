#ifndef PROGAN_BLAS_SHIM_H
#define PROGAN_BLAS_SHIM_H

/* The OpenBLAS kernels in use ("SkylakeX", "Haswell", ...). */
const char *progan_blas_core(void);

/* The kernels OpenBLAS's own detection picked when progan replaced them at load (see blas_core.c), or
   NULL when it kept them. */
const char *progan_blas_replaced_core(void);

#endif
