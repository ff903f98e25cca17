// Two-level sums (PROGAN_TWO_LEVEL_SUMS=1): reduce to one leader per node over shared memory, sum across the
// leaders, broadcast within the node. Only for integer sums, which are exact in any order, so the result
// is the same bits as the one-level allreduce.
//
// MPI matches the collectives of a communicator by the order each rank calls them. A stage starts when the
// rank sees the previous one complete, which happens at different moments on different ranks, so with
// several sums in flight the stages could start in different orders. Hence a communicator per stage, and a
// queue: a sum never starts a stage before every sum started earlier has started it.

#include "request.h"

#include <stdlib.h>
#include <string.h>

static int enabled = 0;
static MPI_Comm node = MPI_COMM_NULL;       // the ranks of this node, for the reductions
static MPI_Comm broadcasts = MPI_COMM_NULL; // the same ranks, for the broadcasts
static MPI_Comm leaders = MPI_COMM_NULL;    // rank 0 of every node; MPI_COMM_NULL elsewhere
static int leaders_size = 0;
static pgmpi_request *queue = NULL;

int two_level_init(void) {
    // Only if every rank asks: a rank without the variable (not passed on by mpirun -x) would otherwise
    // call other collectives than the rest here.
    const char *setting = getenv("PROGAN_TWO_LEVEL_SUMS");
    int wanted = setting != NULL && strcmp(setting, "1") == 0;
    int everywhere = 0;
    int status = MPI_Allreduce(&wanted, &everywhere, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (status != MPI_SUCCESS || !everywhere) {
        return status;
    }
    int rank = 0;
    int node_rank = 0;
    status = MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (status == MPI_SUCCESS) {
        status = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    }
    if (status == MPI_SUCCESS) {
        status = MPI_Comm_dup(node, &broadcasts);
    }
    if (status == MPI_SUCCESS) {
        status = MPI_Comm_rank(node, &node_rank);
    }
    if (status == MPI_SUCCESS) {
        status = MPI_Comm_split(MPI_COMM_WORLD, node_rank == 0 ? 0 : MPI_UNDEFINED, rank, &leaders);
    }
    if (status == MPI_SUCCESS && leaders != MPI_COMM_NULL) {
        status = MPI_Comm_size(leaders, &leaders_size);
    }
    enabled = status == MPI_SUCCESS;
    return status;
}

int two_level_finalize(void) {
    int status = MPI_SUCCESS;
    MPI_Comm *communicators[] = {&node, &broadcasts, &leaders};
    for (size_t i = 0; i < sizeof communicators / sizeof *communicators && status == MPI_SUCCESS; i++) {
        if (*communicators[i] != MPI_COMM_NULL) {
            status = MPI_Comm_free(communicators[i]);
        }
    }
    enabled = 0;
    return status;
}

int two_level_enabled(void) {
    return enabled;
}

// The stage after `stage` on this rank: only leaders sum across nodes, and only when there are others.
static enum two_level_stage following(enum two_level_stage stage) {
    if (stage == STAGE_NODE_REDUCE && (leaders == MPI_COMM_NULL || leaders_size < 2)) {
        return STAGE_NODE_BROADCAST;
    }
    return stage == STAGE_DONE ? STAGE_DONE : stage + 1;
}

static int start_stage(pgmpi_request *request, enum two_level_stage stage) {
    request->stage = stage;
    request->handle = MPI_REQUEST_NULL;
    switch (stage) {
    case STAGE_NODE_REDUCE:
        return MPI_Ireduce(request->send_buffer, request->values, request->count, request->datatype, request->op,
                           0, node, &request->handle);
    case STAGE_LEADERS:
        // Out of place, as every allreduce here (see pgmpi_start_allreduce).
        memcpy(request->send_buffer, request->values, request->bytes);
        return MPI_Iallreduce(request->send_buffer, request->values, request->count, request->datatype,
                              request->op, leaders, &request->handle);
    case STAGE_NODE_BROADCAST:
        return MPI_Ibcast(request->values, request->count, request->datatype, 0, broadcasts, &request->handle);
    case STAGE_DONE:
        return MPI_SUCCESS;
    }
    return MPI_ERR_INTERN;
}

int two_level_start(pgmpi_request *request, void *values, int count, size_t bytes, MPI_Datatype datatype,
                    MPI_Op op) {
    request->two_level = 1;
    request->values = values;
    request->count = count;
    request->bytes = bytes;
    request->datatype = datatype;
    request->op = op;
    int status = start_stage(request, STAGE_NODE_REDUCE);
    if (status != MPI_SUCCESS) {
        return status;
    }
    pgmpi_request **last = &queue;
    while (*last != NULL) {
        last = &(*last)->next;
    }
    *last = request;
    return MPI_SUCCESS;
}

int two_level_advance(void) {
    // The furthest stage the sum before this one has started: the first in the queue is free to go on.
    enum two_level_stage earlier = STAGE_DONE;
    for (pgmpi_request *request = queue; request != NULL; request = request->next) {
        while (request->stage != STAGE_DONE) {
            int done = 0;
            int status = MPI_Test(&request->handle, &done, MPI_STATUS_IGNORE);
            if (status != MPI_SUCCESS) {
                return status;
            }
            enum two_level_stage next = following(request->stage);
            if (!done || (next != STAGE_DONE && next > earlier)) {
                break;
            }
            status = start_stage(request, next);
            if (status != MPI_SUCCESS) {
                return status;
            }
        }
        earlier = request->stage;
    }
    return MPI_SUCCESS;
}

void two_level_remove(pgmpi_request *request) {
    for (pgmpi_request **link = &queue; *link != NULL; link = &(*link)->next) {
        if (*link == request) {
            *link = request->next;
            return;
        }
    }
}
