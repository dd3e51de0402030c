/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The function behind the proxy: the code /init gave (kept, so that a
 * restart starts the same function), its environment, and its life: started
 * from scratch (fresh dir, new process, ack, warm-up, then the isolation's
 * checkpoint), stopped (session detached, every process killed).
 */
#ifndef RP_FUNCTION_H
#define RP_FUNCTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "action.h"
#include "isolation.h"
#include "proxy.h"

struct env {
	char **v;		/* "NAME=value", NULL-terminated */
	size_t n, cap;
};

struct function {
	const struct proxy_config *cfg;
	struct action act;
	struct isolation iso;
	struct action_code code;
	struct env init_env;		/* /init's "env" */
	struct env proxy_env;		/* our own __OW_* variables (__OW_API_HOST), NODE_PATH */
	bool running;			/* a process is up and fit for an activation */
	bool code_failed;		/* the last start failed for the code's sake */
};

/* Its work dir and cgroup (action_setup), our __OW_* variables. 0 or -errno with err. */
int function_setup(struct function *f, const struct proxy_config *cfg, char *err, size_t errlen);

/*
 * /init's env: strings as they are, null as "", other values as their JSON
 * text (as OpenWhisk's proxies export them). Names that cannot be exported
 * are left out with a warning. 0 or -ENOMEM.
 */
int function_set_env(struct function *f, json_object *env);

/* Forget the code and /init's env. */
void function_clear_code(struct function *f);

/*
 * From scratch, with f->code. 0, or -errno with the action interface's
 * message in err; f->code_failed if the code could not be started (an
 * archive without its entry, an error or an exit while loading): /init
 * then answers with function_init_failed().
 */
int function_start(struct function *f, char *err, size_t errlen);
/*
 * For /init, after function_start failed with f->code_failed: why (err) goes
 * to the function's log, where an invoker shows it to the action's owner,
 * and err becomes the answer in the runtime's words.
 */
void function_init_failed(struct function *f, int ret, char *err, size_t errlen);
/* One line to the function's stderr, where an invoker collects its logs. */
void function_log(const struct function *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Detach the session and kill every process; running becomes false. */
void function_stop(struct function *f);

/* From any thread: kill what runs now, so that the owner's wait ends. */
void function_interrupt(const struct function *f);

/*
 * function_stop, forget the code, remove the cgroup and the function's dir.
 * 0, or -errno if a process, the cgroup or the dir is left.
 */
int function_teardown(struct function *f);

/* A CLOCK_MONOTONIC deadline ms from now, for action_exchange(). */
uint64_t deadline_in(unsigned ms);

#endif /* RP_FUNCTION_H */
