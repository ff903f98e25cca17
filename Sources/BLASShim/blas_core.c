/* Which OpenBLAS kernels run the engine's GEMMs.

   OpenBLAS (DYNAMIC_ARCH, as Debian builds it) picks its kernels at load from the CPU's family and model
   numbers. A CPU newer than the library, or a virtual machine that reports a generic model (such as
   "Intel(R) Xeon(R) Processor", family 6 model 207, on this project's machines), is not in its table,
   and OpenBLAS 0.3.21 then falls back to its Prescott kernels: SSE3, about a third of the speed the
   AVX-512 ones reach on the same core. The CPU's feature flags are what decides which kernels can run, so
   when OpenBLAS kept a core older than they allow, this file asks it again for the best core they
   support, through OPENBLAS_CORETYPE, the variable OpenBLAS documents for choosing kernels by hand. A
   user who sets that variable keeps their choice.

   This runs as a load-time constructor: after OpenBLAS's own (a library's initializers run before those
   of what links it) and before any code of ours, so every BLAS call of the process, in the CLI and in
   the tests, uses the same kernels, and the same seed gives the same bits in both. */
#include "blas_shim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char *openblas_get_corename(void);
/* Not in OpenBLAS's headers but exported by its DYNAMIC_ARCH builds: forget the chosen kernels, and choose
   again (reading OPENBLAS_CORETYPE). Weak, so a build without them links and keeps its kernels. */
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
extern void gotoblas_dynamic_init(void) __attribute__((weak));

static char replaced[32];

const char *progan_blas_core(void) { return openblas_get_corename(); }

const char *progan_blas_replaced_core(void) { return replaced[0] ? replaced : NULL; }

static int named_in(const char *core, const char *const *names) {
    for (; *names; names++) {
        if (strcasecmp(core, *names) == 0) return 1;
    }
    return 0;
}

__attribute__((constructor)) static void choose_blas_core(void) {
#if defined(__x86_64__)
    if (getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_quit || !gotoblas_dynamic_init) return;
    const char *core = openblas_get_corename();
    if (!core) return;
    /* The cores whose SGEMM kernels use AVX-512, and those using at least AVX2 with FMA. */
    static const char *const avx512_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    static const char *const avx2_cores[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    __builtin_cpu_init();
    /* __builtin_cpu_supports also checks that the operating system saves the wider registers. */
    const char *wanted = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        if (!named_in(core, avx512_cores)) wanted = "SkylakeX";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        if (!named_in(core, avx2_cores)) wanted = "Haswell";
    }
    if (!wanted) return;
    snprintf(replaced, sizeof replaced, "%s", core);
    setenv("OPENBLAS_CORETYPE", wanted, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    /* Child processes (mpirun's, Python's) make their own choice. */
    unsetenv("OPENBLAS_CORETYPE");
#endif
}
