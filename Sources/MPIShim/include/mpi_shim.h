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
//
// Collectives are only started here, never waited for: the caller polls them
// with pgmpi_test, so that a collective a rank never joins can end in a
// message (the watchdog in Distributed) instead of a hang.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Safe to call more than once; only the first call initialises MPI and opens
// the watchdog's channel (a duplicate of MPI_COMM_WORLD).
int pgmpi_init(void);
// Safe to call more than once or before pgmpi_init. Collective: every rank
// must reach it, so never call it on an error path (use pgmpi_abort).
int pgmpi_finalize(void);

int pgmpi_rank(int *rank);
int pgmpi_size(int *size);
// Writes a NUL-terminated name, truncated to fit `capacity` bytes.
int pgmpi_processor_name(char *buffer, size_t capacity);

// Prints "[rank N] message" to stderr and ends every rank of the job.
void pgmpi_abort(int code, const char *message) __attribute__((noreturn));

// A collective in flight. Its buffers must stay alive and untouched until
// pgmpi_test reports it done.
typedef struct pgmpi_request pgmpi_request;

// The element types and operations of the reductions below: one tag per C
// type, so that one entry point serves them all.
typedef enum { PGMPI_FLOAT, PGMPI_DOUBLE, PGMPI_INT64 } pgmpi_element;
typedef enum { PGMPI_SUM, PGMPI_MAX } pgmpi_operation;

// Each start function, on success, stores a request that must be passed to
// pgmpi_test until it reports done; on failure it stores NULL.

// Replaces each of `count` elements of type `element` by its sum or maximum
// over all ranks. The values are first copied to a send buffer of the
// request's own: OpenMPI's non-blocking allreduce falls back to a binomial
// reduce-then-broadcast whenever it runs in place.
int pgmpi_start_allreduce(void *values, size_t count, pgmpi_element element, pgmpi_operation operation,
                          pgmpi_request **request);
// Sums `count` signed integers of `width` bytes each (1 to 8, little-endian, the byte order of x86-64
// and arm64) over all ranks, in place as above: the narrow transports of exact fixed-point sums. Widths
// 4 and 8 travel as MPI's own int32 and int64; the others as `width` bytes added by an operation of the
// shim's own. The caller makes sure no sum can wrap. With PROGAN_TWO_LEVEL_SUMS=1 in the environment at
// pgmpi_init, in two levels: within each node, across one leader per node, back within the node.
int pgmpi_start_packed_sum(void *values, size_t count, int width, pgmpi_request **request);
int pgmpi_start_broadcast(void *bytes, size_t count, int root, pgmpi_request **request);
// Every rank contributes `block_size` bytes; `gathered` receives
// size * block_size bytes, rank r's block at offset r * block_size.
int pgmpi_start_allgather(const void *block, size_t block_size, void *gathered, pgmpi_request **request);
int pgmpi_start_barrier(pgmpi_request **request);

// Progresses MPI and sets *done when the collective has completed; the
// request is then freed, as it is when the test fails.
int pgmpi_test(pgmpi_request *request, int *done);

// The watchdog's channel: small fixed-size notes between ranks on a
// communicator of their own, so they never match a collective's messages.
enum { PGMPI_NOTE_WORDS = 4 };

// Sends a note without blocking; the shim keeps it until MPI is done with it.
int pgmpi_note_send(int destination, const int64_t note[PGMPI_NOTE_WORDS]);
// Receives one waiting note, if any: *received tells, *source names its sender.
int pgmpi_note_receive(int64_t note[PGMPI_NOTE_WORDS], int *source, int *received);
// Progresses the notes sent so far and stores how many are still in flight.
int pgmpi_notes_in_flight(int *count);

// Writes MPI's NUL-terminated description of `code`, truncated to fit.
void pgmpi_error_string(int code, char *buffer, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
