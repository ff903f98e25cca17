#include "stop_signal.h"

#include <signal.h>
#include <string.h>

// Written by the handler and read by the training loop: sig_atomic_t is the one type C guarantees a
// handler may store to safely.
static volatile sig_atomic_t stop_requested = 0;
static volatile sig_atomic_t first_signal = 0;

static void record_stop(int signal_number) {
    if (!stop_requested) first_signal = signal_number;
    stop_requested = 1;
}

int pgstop_install(const int *signals, int count) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = record_stop;
    sigemptyset(&action.sa_mask);
    // Restarting interrupted system calls keeps a signal from failing a read or write in progress.
    action.sa_flags = SA_RESTART;
    for (int index = 0; index < count; index++) {
        if (sigaction(signals[index], &action, NULL) != 0) return -1;
    }
    return 0;
}

int pgstop_requested(void) { return stop_requested; }

int pgstop_signal(void) { return first_signal; }
