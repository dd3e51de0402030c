/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Crash points for the tests that kill rewindd half way through a
 * checkpoint or a rewind: REWINDD_FAULT=NAME in its environment makes the
 * process kill itself with SIGKILL (no handler, no cleanup: a crash) the
 * first time it passes the point named NAME. With REWINDD_FAULT_ACTION=stop
 * it stops itself there instead (SIGSTOP), once, and goes on at SIGCONT:
 * for tests of what its clients do meanwhile. Unset, a point costs a
 * pthread_once() and a test of a cached pointer.
 */
#ifndef RW_FAULT_H
#define RW_FAULT_H

void fault_point(const char *name);

#endif /* RW_FAULT_H */
