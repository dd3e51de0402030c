// SPDX-License-Identifier: GPL-2.0-only
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *armed;
static bool stop_only, fired;

static void read_env(void)
{
	const char *v = getenv("REWINDD_FAULT"), *action = getenv("REWINDD_FAULT_ACTION");

	armed = v && *v ? v : NULL;
	stop_only = action && !strcmp(action, "stop");
}

void fault_point(const char *name)
{
	pthread_once(&once, read_env);
	if (!armed || fired || strcmp(armed, name))
		return;
	fired = true;
	if (stop_only) {
		pr_err("REWINDD_FAULT=%s: stopping myself here until SIGCONT\n", name);
		raise(SIGSTOP);
		return;
	}
	pr_err("REWINDD_FAULT=%s: killing myself here, as a crash would\n", name);
	kill(getpid(), SIGKILL);
	for (;;)
		pause();	/* SIGKILL is delivered before kill() returns to us */
}
