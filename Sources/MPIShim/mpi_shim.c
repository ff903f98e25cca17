#include "mpi_shim.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct pgmpi_request {
    MPI_Request handle;
};

static int checked_count(size_t count, int *mpi_count) {
    if (count > INT_MAX) {
        return MPI_ERR_COUNT;
    }
    *mpi_count = (int)count;
    return MPI_SUCCESS;
}

int pgmpi_init(void) {
    int initialized = 0;
    int status = MPI_Initialized(&initialized);
    if (status != MPI_SUCCESS || initialized) {
        return status;
    }
    // SERIALIZED rather than FUNNELED: Swift code (async mains, test runners)
    // may call MPI from different threads, though never concurrently.
    int provided = MPI_THREAD_SINGLE;
    status = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (status != MPI_SUCCESS) {
        return status;
    }
    if (provided < MPI_THREAD_SERIALIZED) {
        return MPI_ERR_OTHER;
    }
    return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

int pgmpi_finalize(void) {
    int initialized = 0;
    int finalized = 0;
    int status = MPI_Initialized(&initialized);
    if (status == MPI_SUCCESS) {
        status = MPI_Finalized(&finalized);
    }
    if (status != MPI_SUCCESS || !initialized || finalized) {
        return status;
    }
    return MPI_Finalize();
}

int pgmpi_rank(int *rank) {
    return MPI_Comm_rank(MPI_COMM_WORLD, rank);
}

int pgmpi_size(int *size) {
    return MPI_Comm_size(MPI_COMM_WORLD, size);
}

int pgmpi_processor_name(char *buffer, size_t capacity) {
    char name[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    int status = MPI_Get_processor_name(name, &length);
    if (status == MPI_SUCCESS) {
        snprintf(buffer, capacity, "%.*s", length, name);
    }
    return status;
}

int pgmpi_barrier(void) {
    return MPI_Barrier(MPI_COMM_WORLD);
}

void pgmpi_abort(int code, const char *message) {
    // A zero code would let mpirun report the aborted job as successful.
    int exit_code = code != 0 ? code : 1;
    int initialized = 0;
    int finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    int mpi_is_live = initialized && !finalized;
    int rank = -1;
    if (mpi_is_live) {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    }
    // Flush stdout too, so progress lines printed before the failure are not
    // lost when MPI_Abort kills the process with its stdio buffers unflushed.
    fflush(stdout);
    if (rank >= 0) {
        fprintf(stderr, "[rank %d] %s\n", rank, message);
    } else {
        fprintf(stderr, "[rank ?] %s\n", message);
    }
    fflush(stderr);
    if (mpi_is_live) {
        MPI_Abort(MPI_COMM_WORLD, exit_code);
    }
    // Reached without a live MPI (no job to end), or if MPI_Abort returns,
    // which the standard permits.
    _exit(exit_code);
}

int pgmpi_broadcast_bytes(void *bytes, size_t count, int root) {
    int mpi_count = 0;
    int status = checked_count(count, &mpi_count);
    if (status != MPI_SUCCESS) {
        return status;
    }
    return MPI_Bcast(bytes, mpi_count, MPI_BYTE, root, MPI_COMM_WORLD);
}

static MPI_Datatype datatype(pgmpi_element element) {
    switch (element) {
    case PGMPI_FLOAT:
        return MPI_FLOAT;
    case PGMPI_DOUBLE:
        return MPI_DOUBLE;
    case PGMPI_INT64:
        return MPI_INT64_T;
    }
    // MPI rejects it with MPI_ERR_TYPE.
    return MPI_DATATYPE_NULL;
}

int pgmpi_allreduce(void *values, size_t count, pgmpi_element element, pgmpi_operation operation) {
    int mpi_count = 0;
    int status = checked_count(count, &mpi_count);
    if (status != MPI_SUCCESS) {
        return status;
    }
    MPI_Op op = operation == PGMPI_MAX ? MPI_MAX : MPI_SUM;
    return MPI_Allreduce(MPI_IN_PLACE, values, mpi_count, datatype(element), op, MPI_COMM_WORLD);
}

int pgmpi_start_allreduce_sum(void *values, size_t count, pgmpi_element element,
                              pgmpi_request **request) {
    *request = NULL;
    int mpi_count = 0;
    int status = checked_count(count, &mpi_count);
    if (status != MPI_SUCCESS) {
        return status;
    }
    pgmpi_request *pending = malloc(sizeof *pending);
    if (pending == NULL) {
        return MPI_ERR_NO_MEM;
    }
    status = MPI_Iallreduce(MPI_IN_PLACE, values, mpi_count, datatype(element), MPI_SUM,
                            MPI_COMM_WORLD, &pending->handle);
    if (status != MPI_SUCCESS) {
        free(pending);
        return status;
    }
    *request = pending;
    return MPI_SUCCESS;
}

int pgmpi_wait(pgmpi_request *request) {
    int status = MPI_Wait(&request->handle, MPI_STATUS_IGNORE);
    free(request);
    return status;
}

int pgmpi_allgather_bytes(const void *block, size_t block_size, void *gathered) {
    int mpi_count = 0;
    int status = checked_count(block_size, &mpi_count);
    if (status != MPI_SUCCESS) {
        return status;
    }
    return MPI_Allgather(block, mpi_count, MPI_BYTE, gathered, mpi_count, MPI_BYTE,
                         MPI_COMM_WORLD);
}

void pgmpi_error_string(int code, char *buffer, size_t capacity) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) == MPI_SUCCESS) {
        snprintf(buffer, capacity, "%.*s", length, text);
    } else {
        snprintf(buffer, capacity, "unknown MPI error code %d", code);
    }
}
