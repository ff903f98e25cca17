#ifndef PGMPI_SHIM_H
#define PGMPI_SHIM_H

// Plain-C face of MPI for Swift. OpenMPI's handles (MPI_COMM_WORLD, MPI_FLOAT,
// MPI_SUM, ...) are cast macros over incomplete structs that Swift cannot
// import, so this header names no MPI type: everything goes through
// MPI_COMM_WORLD inside mpi_shim.c.
//
// Every int-returning function returns an MPI error code (0 = MPI_SUCCESS);
// pgmpi_init switches MPI_COMM_WORLD to MPI_ERRORS_RETURN, so failures come
// back as codes the caller can report in context (then abort), instead of MPI
// ending the job from inside the failing call.
// Element counts are size_t for Swift's convenience, but MPI counts are int:
// larger counts fail with MPI_ERR_COUNT rather than being truncated.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// Safe to call more than once; only the first call initialises MPI.
int pgmpi_init(void);
// Safe to call more than once or before pgmpi_init. Collective: every rank
// must reach it, so never call it on an error path (use pgmpi_abort).
int pgmpi_finalize(void);

int pgmpi_rank(int *rank);
int pgmpi_size(int *size);
// Writes a NUL-terminated name, truncated to fit `capacity` bytes.
int pgmpi_processor_name(char *buffer, size_t capacity);
int pgmpi_barrier(void);

// Prints "[rank N] message" to stderr and ends every rank of the job.
void pgmpi_abort(int code, const char *message) __attribute__((noreturn));

int pgmpi_broadcast_bytes(void *bytes, size_t count, int root);

// The element types and operations of the reductions below: one tag per C
// type, so that one entry point serves them all.
typedef enum { PGMPI_FLOAT, PGMPI_DOUBLE, PGMPI_INT64 } pgmpi_element;
typedef enum { PGMPI_SUM, PGMPI_MAX } pgmpi_operation;

// Replaces each of `count` elements of type `element` by its sum or maximum
// over all ranks.
int pgmpi_allreduce(void *values, size_t count, pgmpi_element element, pgmpi_operation operation);

// A non-blocking reduction in flight. The buffer must stay alive and untouched
// until pgmpi_wait returns.
typedef struct pgmpi_request pgmpi_request;

// On success *request must be passed to pgmpi_wait exactly once; on failure
// *request is NULL.
int pgmpi_start_allreduce_sum(void *values, size_t count, pgmpi_element element, pgmpi_request **request);
// Completes the reduction and frees `request`, whether or not it succeeded.
int pgmpi_wait(pgmpi_request *request);

// Every rank contributes `block_size` bytes; `gathered` receives
// size * block_size bytes, rank r's block at offset r * block_size.
int pgmpi_allgather_bytes(const void *block, size_t block_size, void *gathered);

// Writes MPI's NUL-terminated description of `code`, truncated to fit.
void pgmpi_error_string(int code, char *buffer, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
