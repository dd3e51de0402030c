// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the rewind reads from a thread's saved registers without stopping
 * it: XSAVE areas compared by their registers (not by XSTATE_BV), which
 * checkpoint registers restart their call on release, and whether entry
 * registers are that call again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <cmocka.h>

#include "threadstate.h"

#define AREA	2688	/* x87, SSE, AVX, AVX-512: what this machine kind's kernel gives */

static void xstate_bv_alone_is_no_difference(void **state)
{
	static uint8_t a[AREA], b[AREA];

	(void)state;
	memset(a, 0x11, sizeof(a));
	memcpy(b, a, sizeof(b));
	a[512] = 0xa2;	/* x87 in its initial state */
	b[512] = 0xa3;	/* x87 counted in use, with the same (initial) values */
	assert_true(thread_xstate_same(a, b, sizeof(a)));
	b[160] ^= 1;	/* a bit of xmm0 */
	assert_false(thread_xstate_same(a, b, sizeof(a)));
	b[160] ^= 1;
	b[519] ^= 1;	/* XSTATE_BV's last byte: still the header field */
	assert_true(thread_xstate_same(a, b, sizeof(a)));
	b[520] ^= 1;	/* XCOMP_BV: compared */
	assert_false(thread_xstate_same(a, b, sizeof(a)));
	/* Shorter than a header: every byte is compared. */
	b[520] ^= 1;
	b[0] ^= 1;
	assert_false(thread_xstate_same(a, b, 100));
}

static struct rw_thread_state asleep_in(long nr, long rax)
{
	struct rw_thread_state ts = { .tid = 42 };

	ts.regs.orig_rax = nr;
	ts.regs.rax = rax;
	ts.regs.rip = 0x7f0000001234;
	ts.regs.rcx = ts.regs.rip;
	ts.regs.rdi = 0x5000;
	ts.regs.rsp = 0x7ffc00001000;
	ts.regs.eflags = 0x246;
	return ts;
}

static void restarting_sleeps(void **state)
{
	(void)state;
	assert_true(thread_state_restarts(&(struct rw_thread_state){
		.regs = asleep_in(SYS_futex, -RW_ERESTARTSYS).regs }));
	assert_true(thread_state_restarts(&(struct rw_thread_state){
		.regs = asleep_in(SYS_read, -RW_ERESTARTNOHAND).regs }));
	assert_true(thread_state_restarts(&(struct rw_thread_state){
		.regs = asleep_in(SYS_wait4, -RW_ERESTARTNOINTR).regs }));
	/* A timed sleep may be let go as EINTR; an EINTR runs user code; user mode is no sleep. */
	assert_false(thread_state_restarts(&(struct rw_thread_state){
		.regs = asleep_in(SYS_nanosleep, -RW_ERESTART_RESTARTBLOCK).regs }));
	assert_false(thread_state_restarts(&(struct rw_thread_state){
		.regs = asleep_in(SYS_epoll_wait, -EINTR).regs }));
	assert_false(thread_state_restarts(&(struct rw_thread_state){
		.regs = asleep_in(-1, 0).regs }));
}

static void entered_again(void **state)
{
	struct rw_thread_state ts = asleep_in(SYS_futex, -RW_ERESTARTSYS);
	struct user_regs_struct entry = ts.regs;
	size_t n = offsetof(struct user_regs_struct, fs_base) / sizeof(uint64_t);

	(void)state;
	entry.rax = -ENOSYS;	/* what entry sets */
	assert_true(thread_state_reentered(&ts, &entry, n));
	entry.rsp -= 128;	/* a signal handler's frame */
	assert_false(thread_state_reentered(&ts, &entry, n));
	entry.rsp += 128;
	entry.orig_rax = SYS_pause;
	assert_false(thread_state_reentered(&ts, &entry, n));
	entry.orig_rax = SYS_futex;
	entry.rdi += 4;		/* another word */
	assert_false(thread_state_reentered(&ts, &entry, n));
	/* Fewer words than pt_regs has: not enough to tell. */
	entry.rdi -= 4;
	assert_false(thread_state_reentered(&ts, &entry, n - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(xstate_bv_alone_is_no_difference),
		cmocka_unit_test(restarting_sleeps),
		cmocka_unit_test(entered_again),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
