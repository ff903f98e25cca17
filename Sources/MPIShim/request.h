#ifndef PGMPI_REQUEST_H
#define PGMPI_REQUEST_H

// Inside the shim only: a collective in flight, and the two-level sums (two_level.c).

#include "mpi_shim.h"

#include <mpi.h>
#include <stddef.h>

// The stages of a two-level sum, in the order a rank starts them.
enum two_level_stage { STAGE_NODE_REDUCE, STAGE_LEADERS, STAGE_NODE_BROADCAST, STAGE_DONE };

struct pgmpi_request {
    MPI_Request handle;
    // The allreduce's copy of its input; NULL for the other collectives.
    void *send_buffer;
    // Two-level sums only (two_level is 0 otherwise): the stage `handle` belongs to, and what each stage
    // needs. The queue links them in the order they were started.
    int two_level;
    enum two_level_stage stage;
    void *values;
    int count;
    size_t bytes;
    MPI_Datatype datatype;
    MPI_Op op;
    struct pgmpi_request *next;
};

// Reads PROGAN_TWO_LEVEL_SUMS and, when it is 1 on every rank, makes the node and leader communicators.
// Collective.
int two_level_init(void);
int two_level_finalize(void);
int two_level_enabled(void);
// Starts the first stage of a two-level sum of `count` elements of `bytes / count` bytes into `values`,
// for a request whose send buffer holds a copy of them.
int two_level_start(pgmpi_request *request, void *values, int count, size_t bytes, MPI_Datatype datatype,
                    MPI_Op op);
// Moves every two-level sum in flight on as far as the order of stages allows.
int two_level_advance(void);
// Takes a finished two-level sum out of the queue.
void two_level_remove(pgmpi_request *request);

#endif
