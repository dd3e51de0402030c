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

int rw_why(char *why, size_t whylen, int err, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err)
		snprintf(why, whylen, "%s: %s", msg, strerror(err < 0 ? -err : err));
	else
		snprintf(why, whylen, "%s", msg);
	if (err != -ESRCH)
		rw_log(RW_LOG_ERR, "Error: %s\n", why);
	return err > 0 ? -err : err ? err : -EIO;
}
