/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Rewind tests in the shape of CRIU's zdtm: one program (zdtm.c holds its
 * main and the helpers below), one scenario per run (zdtm SCENARIO). A
 * scenario sets up its state, records what it must find after a rewind and
 * writes "ready ...". Then, per line on the command channel:
 *   go     performs the invocation's mutations, writes "done ..."
 *   check  compares the state with the record: "pass" or "fail WHY"
 *   exit   ends
 * After go + rewind, check must pass; after go alone it must fail.
 *
 * Every check first compares what every scenario shares (the layout in
 * /proc/self/maps, the open fds and the thread ids), then the scenario's own
 * state, so a check never reads memory that is no longer mapped.
 *
 * Each scenario file registers its scenarios with ZDTM_SCENARIO (run by
 * test_rewind.sh, which asks `zdtm --list` for them, with and without a
 * rewind) or ZDTM_HELPER (a target of a test of its own in that script).
 */
#ifndef ZDTM_H
#define ZDTM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PAGE 4096UL
#define MIB (1024UL * 1024UL)
/* How long a check waits for a thread before it calls it dead. */
#define ANSWER_TIMEOUT_MS 10000

struct zdtm_scenario {
	const char *name;
	void (*setup)(void);	/* before the "ready" line; NULL: nothing */
	void (*go)(void);	/* one invocation */
	void (*check)(void);	/* the scenario's own state; NULL: only the common part */
	int helper;		/* not in --list: a script test of its own starts it */
};

/*
 * One pointer per scenario in the section zdtm_scenarios: the linker's
 * __start_/__stop_ symbols bound the table, so the list is kept only here.
 * Pointers, not the structs: nothing pads between them.
 */
#define ZDTM_REGISTER(id, is_helper, setup_fn, go_fn, check_fn)				\
	static const struct zdtm_scenario zdtm_scenario_##id = {			\
		.name = #id, .setup = setup_fn, .go = go_fn, .check = check_fn,		\
		.helper = is_helper,							\
	};										\
	static const struct zdtm_scenario *const zdtm_entry_##id			\
		__attribute__((used, section("zdtm_scenarios"))) = &zdtm_scenario_##id

#define ZDTM_SCENARIO(id, setup, go, check) ZDTM_REGISTER(id, 0, setup, go, check)
#define ZDTM_HELPER(id, setup, go, check) ZDTM_REGISTER(id, 1, setup, go, check)

/* ---- state the library shares with the scenarios ---- */
extern int cmd_fd;		/* where commands come from (dup2_stdin moves it) */
extern char ready_info[128];	/* what "ready" says besides the name and pid */
extern char why[512];		/* the first difference a check found */
extern int failed;		/* a check found a difference */
extern char maps_now[];		/* /proc/self/maps as the running check read it */

/* ---- helpers ---- */
__attribute__((noreturn)) void die(const char *what);
/* Records the first difference only: that is the one worth reading. */
__attribute__((format(printf, 1, 2))) void differ(const char *fmt, ...);
/* What the "done" line says after this invocation (done(""): nothing). */
void done(const char *fmt, ...);
pid_t gettid_(void);
long now_ms(void);
/* A whole (small) file into buf, NUL-terminated; its length or -1. */
ssize_t read_file(const char *path, char *buf, size_t size);
char *map_anon(size_t len);
/* A pattern of len bytes, a different one per seed; check_fill names the first wrong byte. */
void fill(char *p, size_t len, unsigned int seed);
void check_fill(const char *what, const char *p, size_t len, unsigned int seed);
/* Two line-oriented snapshots: names a line that is gone and one that is new. */
void compare_lines(const char *what, const char *want, const char *now);
/* The syscall a thread is blocked in (/proc/self/task/TID/syscall), -1 if running. */
long blocked_in(pid_t tid);
/* Waits (yielding, bounded) until tid blocks in one of the syscalls nr[0..n). */
int wait_blocked(pid_t tid, const long *nr, int n);
long futex(volatile uint32_t *uaddr, int op, uint32_t val);
extern const long nr_futex[1];
/*
 * fork(), the child bound to the test: killed with its parent, holding none
 * of the harness's pipes (stdin, stdout, the command fd). 0 in the child.
 */
pid_t fork_bound(void);
/* A signal handler that does nothing (a signal that only interrupts). */
void on_signal(int sig);

#endif /* ZDTM_H */
