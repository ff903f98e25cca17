#ifndef PROGAN_STOP_SIGNAL_H
#define PROGAN_STOP_SIGNAL_H

/// Installs handlers for SIGTERM and SIGINT that only record the request, so a long computation can
/// finish its step, save, and exit cleanly (what a cluster scheduler's preemption needs).
void pgstop_install(void);

/// Whether SIGTERM or SIGINT has arrived since `pgstop_install`.
int pgstop_requested(void);

#endif
