/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Logging in the style of CRIU's pr_*: each .c file defines LOG_PREFIX
 * ("tracker: ") before including this header. Errors carry context; use
 * pr_perror() right after a failed call to append errno's text.
 */
#ifndef RW_LOG_H
#define RW_LOG_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

#ifndef LOG_PREFIX
#define LOG_PREFIX ""
#endif

enum rw_log_level {
	RW_LOG_ERR = 0,
	RW_LOG_WARN,
	RW_LOG_INFO,
	RW_LOG_DEBUG,
};

/* Messages above this level are dropped. Default RW_LOG_INFO; -v raises it. */
extern int rw_log_level;

/* Send messages to syslog instead of stderr (rewindd in service mode). */
void rw_log_use_syslog(const char *ident);

void rw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Write "message: strerror(-err)" (or just the message when err is 0) into
 * why, for an answer to a client, log it as an error unless err is -ESRCH
 * (the target died: the caller says so), and return err (-EIO for 0).
 */
int rw_why(char *why, size_t whylen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define pr_err(fmt, ...)	rw_log(RW_LOG_ERR, "Error: " LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)	rw_log(RW_LOG_WARN, "Warn: " LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)	rw_log(RW_LOG_INFO, LOG_PREFIX fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)	rw_log(RW_LOG_DEBUG, LOG_PREFIX fmt, ##__VA_ARGS__)
/* fmt has no trailing newline; errno's text is appended. */
#define pr_perror(fmt, ...)	pr_err(fmt ": %s\n", ##__VA_ARGS__, strerror(errno))

#endif /* RW_LOG_H */
