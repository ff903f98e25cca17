#ifndef PROGAN_STOP_SIGNAL_H
#define PROGAN_STOP_SIGNAL_H

/// Installs handlers that only record a stop request for the given signals, so a long computation can
/// reach a safe point, save, and exit cleanly (what a scheduler's warning or preemption needs). Signals
/// not listed keep their default action. Returns 0, or -1 with errno set when `sigaction` refuses one.
int pgstop_install(const int *signals, int count);

/// Whether one of the installed signals has arrived since `pgstop_install`.
int pgstop_requested(void);

/// The number of the first signal that requested the stop (0 when none has).
int pgstop_signal(void);

#endif
