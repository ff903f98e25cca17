#include "stop_signal.h"

#include <signal.h>
#include <string.h>

// Written by the handler and read by the training loop: sig_atomic_t is the one type C guarantees a
// handler may store to safely.
static volatile sig_atomic_t stop_requested = 0;

static void record_stop(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

void pgstop_install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = record_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
}

int pgstop_requested(void) { return stop_requested; }
