// SPDX-License-Identifier: GPL-2.0-only
/*
 * fpregs: a secret left in a vector register. A thread runs only code of
 * its own (below: no libc call may touch its SSE registers between two
 * commands) and sleeps in read(2) with a known pattern in xmm15 at the
 * checkpoint. The invocation has it load a secret into xmm15 and sleep
 * again in the same read. After the rewind, asked to report xmm15, it must
 * give the pattern: its XSAVE area is the checkpoint's again, though the
 * thread sleeps in the very syscall it slept in at the checkpoint (rewindd
 * puts the area back only where it reads back differently).
 */
#include <pthread.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtm.h"

/*
 * worker(cmd_fd, answer_fd, pattern, secret, out): xmm15 = *pattern, then
 * per byte read from cmd_fd: 'S' loads *secret into xmm15, 'R' stores
 * xmm15 to *out; either is answered with the same byte on answer_fd.
 * Never returns. Raw syscalls clobber only rcx and r11.
 */
__attribute__((noreturn)) void zdtm_fp_worker(long cmd, long answer, const void *pattern,
					      const void *secret, void *out);
__asm__("	.text\n"
	"	.globl zdtm_fp_worker\n"
	"	.type zdtm_fp_worker, @function\n"
	"zdtm_fp_worker:\n"
	"	mov %rdi, %r12\n"
	"	mov %rsi, %r13\n"
	"	mov %rcx, %r14\n"
	"	mov %r8, %r15\n"
	"	movdqu (%rdx), %xmm15\n"
	"	sub $24, %rsp\n"
	"1:	xor %eax, %eax\n"		/* read(cmd, rsp, 1) */
	"	mov %r12, %rdi\n"
	"	mov %rsp, %rsi\n"
	"	mov $1, %edx\n"
	"	syscall\n"
	"	cmp $1, %rax\n"
	"	jne 1b\n"			/* -EINTR after a rewind: read again */
	"	movzbl (%rsp), %eax\n"
	"	cmp $0x53, %eax\n"		/* 'S' */
	"	jne 2f\n"
	"	movdqu (%r14), %xmm15\n"
	"	jmp 3f\n"
	"2:	cmp $0x52, %eax\n"		/* 'R' */
	"	jne 1b\n"
	"	movdqu %xmm15, (%r15)\n"
	"3:	mov $1, %eax\n"			/* write(answer, rsp, 1) */
	"	mov %r13, %rdi\n"
	"	mov %rsp, %rsi\n"
	"	mov $1, %edx\n"
	"	syscall\n"
	"	jmp 1b\n"
	"	.size zdtm_fp_worker, . - zdtm_fp_worker\n");

static const unsigned char fp_pattern[16] = "checkpoint-xmm15";
static const unsigned char fp_secret[16] = "SECRET-of-user-A";
static unsigned char fp_out[16];
static int fp_cmd[2], fp_answer[2];
static volatile pid_t fp_tid;
static const long fp_asleep[] = { SYS_read };

static void *fp_thread(void *arg)
{
	(void)arg;
	fp_tid = gettid_();
	zdtm_fp_worker(fp_cmd[0], fp_answer[1], fp_pattern, fp_secret, fp_out);
}

/* Sends c and waits for the thread's answer: 0, or -1 with the difference recorded. */
static int fp_ask(char c)
{
	struct pollfd pfd = { .fd = fp_answer[0], .events = POLLIN };
	char got;

	if (write(fp_cmd[1], &c, 1) != 1)
		die("write");
	if (poll(&pfd, 1, ANSWER_TIMEOUT_MS) != 1 || read(fp_answer[0], &got, 1) != 1 ||
	    got != c) {
		differ("thread %d did not answer '%c'", fp_tid, c);
		return -1;
	}
	return 0;
}

static void fpregs_setup(void)
{
	pthread_t t;

	if (pipe(fp_cmd) || pipe(fp_answer))
		die("pipe");
	if (pthread_create(&t, NULL, fp_thread, NULL))
		die("pthread_create");
	while (!fp_tid)
		sched_yield();
	if (wait_blocked(fp_tid, fp_asleep, 1))
		die("the thread never read its commands");
}

static void fpregs_go(void)
{
	if (fp_ask('S') || wait_blocked(fp_tid, fp_asleep, 1))
		die(why[0] ? why : "the thread did not go back to its read");
	done("%d", fp_tid);
}

static void fpregs_check(void)
{
	if (fp_ask('R'))
		return;
	if (memcmp(fp_out, fp_pattern, sizeof(fp_out)))
		differ("thread %d: xmm15 holds \"%.16s\", want \"%.16s\"", fp_tid,
		       (const char *)fp_out, (const char *)fp_pattern);
}

ZDTM_SCENARIO(fpregs, fpregs_setup, fpregs_go, fpregs_check);
