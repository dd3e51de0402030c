// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>

#include "log.h"

int rw_log_level = RW_LOG_INFO;
static bool use_syslog;

void rw_log_use_syslog(const char *ident)
{
	openlog(ident, LOG_PID, LOG_DAEMON);
	use_syslog = true;
}

void rw_log(int level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	int saved_errno = errno;
	va_list ap;

	if (level > rw_log_level)
		return;
	va_start(ap, fmt);
	if (use_syslog)
		vsyslog(prio[level], fmt, ap);
	else
		vfprintf(stderr, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}
