/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Crash points for the tests that kill rewindd half way through a
 * checkpoint or a rewind: REWINDD_FAULT=NAME in its environment makes the
 * process kill itself with SIGKILL (no handler, no cleanup: a crash) the
 * first time it passes the point named NAME. Unset, a point costs a
 * pthread_once() and a test of a cached pointer.
 */
#ifndef RW_FAULT_H
#define RW_FAULT_H

void fault_point(const char *name);

#endif /* RW_FAULT_H */
