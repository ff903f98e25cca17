#include "mpi_shim.h"
#include "request.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// A note in flight: its words must outlive the MPI_Isend that reads them.
struct pending_note {
    MPI_Request handle;
    int64_t words[PGMPI_NOTE_WORDS];
    struct pending_note *next;
};

static MPI_Comm note_channel = MPI_COMM_NULL;
// pgmpi_start_packed_sum's element types, one per width (index 0 unused), and the sum that adds them.
static MPI_Datatype packed_types[9];
static MPI_Op packed_sum = MPI_OP_NULL;
static struct pending_note *notes_in_flight = NULL;
static const int note_tag = 1;

static int checked_count(size_t count, int *mpi_count) {
    if (count > INT_MAX) {
        return MPI_ERR_COUNT;
    }
    *mpi_count = (int)count;
    return MPI_SUCCESS;
}

// A signed integer of `width` bytes, sign-extended. Little-endian, as the header says: its low bytes come
// first, so memcpy of `width` bytes reads and writes exactly them.
static inline int64_t load_packed(const unsigned char *bytes, int width) {
    uint64_t bits = 0;
    memcpy(&bits, bytes, (size_t)width);
    int unused = 64 - 8 * width;
    return (int64_t)(bits << unused) >> unused;
}

// inout[i] += in[i] for `count` integers of `width` bytes. Inlined with a constant width, the copies
// become plain loads and stores.
static inline void add_packed_width(const unsigned char *addend, unsigned char *sum, int count, int width) {
    for (int i = 0; i < count; i++, addend += width, sum += width) {
        uint64_t total = (uint64_t)load_packed(sum, width) + (uint64_t)load_packed(addend, width);
        memcpy(sum, &total, (size_t)width);
    }
}

// MPI_User_function: inout[i] += in[i] for integers of the datatype's width (its size in bytes). The sums
// fit, as pgmpi_start_packed_sum's caller guarantees, so the low bytes are the whole sum.
static void add_packed(void *in, void *inout, int *count, MPI_Datatype *datatype) {
    int width = 0;
    MPI_Type_size(*datatype, &width);
    switch (width) {
    case 5:
        add_packed_width(in, inout, *count, 5);
        break;
    case 6:
        add_packed_width(in, inout, *count, 6);
        break;
    case 7:
        add_packed_width(in, inout, *count, 7);
        break;
    default:
        add_packed_width(in, inout, *count, width);
    }
}

int pgmpi_init(void) {
    int initialized = 0;
    int status = MPI_Initialized(&initialized);
    if (status != MPI_SUCCESS || initialized) {
        return status;
    }
    // SERIALIZED rather than FUNNELED: Swift code (async mains, test runners)
    // may call MPI from different threads, though never concurrently. No
    // progress thread is needed: waiting ranks poll with MPI_Test.
    int provided = MPI_THREAD_SINGLE;
    status = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (status != MPI_SUCCESS) {
        return status;
    }
    if (provided < MPI_THREAD_SERIALIZED) {
        return MPI_ERR_OTHER;
    }
    status = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (status != MPI_SUCCESS) {
        return status;
    }
    for (int width = 1; width <= 8 && status == MPI_SUCCESS; width++) {
        status = MPI_Type_contiguous(width, MPI_BYTE, &packed_types[width]);
        if (status == MPI_SUCCESS) {
            status = MPI_Type_commit(&packed_types[width]);
        }
    }
    if (status == MPI_SUCCESS) {
        status = MPI_Op_create(add_packed, 1, &packed_sum);
    }
    if (status == MPI_SUCCESS) {
        status = two_level_init();
    }
    if (status != MPI_SUCCESS) {
        return status;
    }
    // The duplicate inherits the error handler.
    return MPI_Comm_dup(MPI_COMM_WORLD, &note_channel);
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
    if (note_channel != MPI_COMM_NULL) {
        status = MPI_Comm_free(&note_channel);
        if (status != MPI_SUCCESS) {
            return status;
        }
    }
    if ((status = two_level_finalize()) != MPI_SUCCESS) {
        return status;
    }
    // pgmpi_init made the operation last, after all the types.
    if (packed_sum != MPI_OP_NULL) {
        status = MPI_Op_free(&packed_sum);
        for (int width = 1; width <= 8 && status == MPI_SUCCESS; width++) {
            status = MPI_Type_free(&packed_types[width]);
        }
        if (status != MPI_SUCCESS) {
            return status;
        }
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

static size_t element_size(pgmpi_element element) {
    return element == PGMPI_FLOAT ? sizeof(float) : sizeof(int64_t);
}

static int new_request(pgmpi_request **request) {
    *request = calloc(1, sizeof **request);
    return *request != NULL ? MPI_SUCCESS : MPI_ERR_NO_MEM;
}

// Frees a request whose start failed and passes the failure on.
static int discarded(int status, pgmpi_request **request) {
    if (status != MPI_SUCCESS) {
        free((*request)->send_buffer);
        free(*request);
        *request = NULL;
    }
    return status;
}

// Starts an out-of-place allreduce of `count` elements of `size` bytes, through a send buffer of the
// request's own; in two levels (two_level.c) if `two_level`.
static int start_allreduce(void *values, size_t count, size_t size, MPI_Datatype datatype, MPI_Op op,
                           int two_level, pgmpi_request **request) {
    *request = NULL;
    int mpi_count = 0;
    int status = checked_count(count, &mpi_count);
    if (status != MPI_SUCCESS || (status = new_request(request)) != MPI_SUCCESS) {
        return status;
    }
    size_t bytes = count * size;
    (*request)->send_buffer = malloc(bytes > 0 ? bytes : 1);
    if ((*request)->send_buffer == NULL) {
        return discarded(MPI_ERR_NO_MEM, request);
    }
    memcpy((*request)->send_buffer, values, bytes);
    if (two_level) {
        status = two_level_start(*request, values, mpi_count, bytes, datatype, op);
    } else {
        status = MPI_Iallreduce((*request)->send_buffer, values, mpi_count, datatype, op, MPI_COMM_WORLD,
                                &(*request)->handle);
    }
    return discarded(status, request);
}

int pgmpi_start_allreduce(void *values, size_t count, pgmpi_element element, pgmpi_operation operation,
                          pgmpi_request **request) {
    MPI_Op op = operation == PGMPI_MAX ? MPI_MAX : MPI_SUM;
    return start_allreduce(values, count, element_size(element), datatype(element), op, 0, request);
}

int pgmpi_start_packed_sum(void *values, size_t count, int width, pgmpi_request **request) {
    *request = NULL;
    if (width < 1 || width > 8) {
        return MPI_ERR_TYPE;
    }
    int two_level = two_level_enabled();
    if (width == 4 || width == 8) {
        return start_allreduce(values, count, (size_t)width, width == 4 ? MPI_INT32_T : MPI_INT64_T, MPI_SUM,
                               two_level, request);
    }
    return start_allreduce(values, count, (size_t)width, packed_types[width], packed_sum, two_level, request);
}

int pgmpi_start_broadcast(void *bytes, size_t count, int root, pgmpi_request **request) {
    *request = NULL;
    int mpi_count = 0;
    int status = checked_count(count, &mpi_count);
    if (status != MPI_SUCCESS || (status = new_request(request)) != MPI_SUCCESS) {
        return status;
    }
    status = MPI_Ibcast(bytes, mpi_count, MPI_BYTE, root, MPI_COMM_WORLD, &(*request)->handle);
    return discarded(status, request);
}

int pgmpi_start_allgather(const void *block, size_t block_size, void *gathered, pgmpi_request **request) {
    *request = NULL;
    int mpi_count = 0;
    int status = checked_count(block_size, &mpi_count);
    if (status != MPI_SUCCESS || (status = new_request(request)) != MPI_SUCCESS) {
        return status;
    }
    status = MPI_Iallgather(block, mpi_count, MPI_BYTE, gathered, mpi_count, MPI_BYTE, MPI_COMM_WORLD,
                            &(*request)->handle);
    return discarded(status, request);
}

int pgmpi_start_barrier(pgmpi_request **request) {
    *request = NULL;
    int status = new_request(request);
    if (status != MPI_SUCCESS) {
        return status;
    }
    return discarded(MPI_Ibarrier(MPI_COMM_WORLD, &(*request)->handle), request);
}

int pgmpi_test(pgmpi_request *request, int *done) {
    *done = 0;
    // Every test moves the two-level sums on: their stages start only here.
    int status = two_level_advance();
    if (status == MPI_SUCCESS && request->two_level) {
        *done = request->stage == STAGE_DONE;
    } else if (status == MPI_SUCCESS) {
        status = MPI_Test(&request->handle, done, MPI_STATUS_IGNORE);
    }
    if (status != MPI_SUCCESS || *done) {
        if (request->two_level) {
            two_level_remove(request);
        }
        free(request->send_buffer);
        free(request);
    }
    return status;
}

int pgmpi_note_send(int destination, const int64_t note[PGMPI_NOTE_WORDS]) {
    struct pending_note *pending = malloc(sizeof *pending);
    if (pending == NULL) {
        return MPI_ERR_NO_MEM;
    }
    memcpy(pending->words, note, sizeof pending->words);
    int status = MPI_Isend(pending->words, PGMPI_NOTE_WORDS, MPI_INT64_T, destination, note_tag, note_channel,
                           &pending->handle);
    if (status != MPI_SUCCESS) {
        free(pending);
        return status;
    }
    pending->next = notes_in_flight;
    notes_in_flight = pending;
    return MPI_SUCCESS;
}

int pgmpi_note_receive(int64_t note[PGMPI_NOTE_WORDS], int *source, int *received) {
    MPI_Status probed;
    *received = 0;
    int status = MPI_Iprobe(MPI_ANY_SOURCE, note_tag, note_channel, received, &probed);
    if (status != MPI_SUCCESS || !*received) {
        return status;
    }
    *source = probed.MPI_SOURCE;
    return MPI_Recv(note, PGMPI_NOTE_WORDS, MPI_INT64_T, probed.MPI_SOURCE, note_tag, note_channel,
                    MPI_STATUS_IGNORE);
}

int pgmpi_notes_in_flight(int *count) {
    *count = 0;
    struct pending_note **link = &notes_in_flight;
    while (*link != NULL) {
        int done = 0;
        int status = MPI_Test(&(*link)->handle, &done, MPI_STATUS_IGNORE);
        if (status != MPI_SUCCESS) {
            return status;
        }
        if (done) {
            struct pending_note *sent = *link;
            *link = sent->next;
            free(sent);
        } else {
            *count += 1;
            link = &(*link)->next;
        }
    }
    return MPI_SUCCESS;
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
