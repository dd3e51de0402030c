// SPDX-License-Identifier: GPL-2.0-only
/* alarm, setitimer, timer_create: timers armed by the invocation. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/time.h>

#include "zdtm.h"

static void alarm_go(void)
{
	alarm(1000);
	done("");
}

static const int itimers[] = { ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF };
static const char *const itimer_names[] = { "ITIMER_REAL (alarm)", "ITIMER_VIRTUAL", "ITIMER_PROF" };

static void itimers_check(void)
{
	struct itimerval it;

	for (int i = 0; i < 3; i++) {
		if (getitimer(itimers[i], &it))
			die("getitimer");
		if (it.it_value.tv_sec || it.it_value.tv_usec || it.it_interval.tv_sec ||
		    it.it_interval.tv_usec)
			differ("%s armed: %lds left, interval %lds", itimer_names[i],
			       (long)it.it_value.tv_sec, (long)it.it_interval.tv_sec);
	}
}

static void setitimer_go(void)
{
	struct itimerval it = { .it_value = { 1000, 0 }, .it_interval = { 1000, 0 } };

	for (int i = 0; i < 3; i++)
		if (setitimer(itimers[i], &it, NULL))
			die("setitimer");
	done("");
}

static char timers_want[4096];

static void timer_create_setup(void)
{
	if (read_file("/proc/self/timers", timers_want, sizeof(timers_want)) < 0)
		die("/proc/self/timers");
}

static void timer_create_go(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };
	struct itimerspec its = { .it_value = { 1000, 0 }, .it_interval = { 1000, 0 } };
	timer_t a, b;

	if (timer_create(CLOCK_MONOTONIC, &sev, &a) || timer_settime(a, 0, &its, NULL))
		die("timer_create");
	sev.sigev_notify = SIGEV_NONE;
	if (timer_create(CLOCK_REALTIME, &sev, &b) || timer_settime(b, 0, &its, NULL))
		die("timer_create");
	done("%ld %ld", (long)(intptr_t)a, (long)(intptr_t)b);
}

static void timer_create_check(void)
{
	char now[4096];

	if (read_file("/proc/self/timers", now, sizeof(now)) < 0)
		differ("/proc/self/timers: %s", strerror(errno));
	else
		compare_lines("POSIX timers (/proc/self/timers)", timers_want, now);
}

ZDTM_SCENARIO(alarm, NULL, alarm_go, itimers_check);
ZDTM_SCENARIO(setitimer, NULL, setitimer_go, itimers_check);
ZDTM_SCENARIO(timer_create, timer_create_setup, timer_create_go, timer_create_check);
