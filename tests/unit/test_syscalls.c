// SPDX-License-Identifier: GPL-2.0-only
/* The tracker's syscall numbers must be the kernel's (checked against the host header). */
#include <asm/unistd_64.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rewind/syscalls.h"
#include "sysnames.h"

#define CHECK(name) assert_int_equal(RW_NR_##name, __NR_##name)

static void numbers_match_host(void **state)
{
	CHECK(write); CHECK(open); CHECK(close); CHECK(mmap); CHECK(mprotect); CHECK(munmap);
	CHECK(brk); CHECK(rt_sigaction); CHECK(pwrite64); CHECK(writev); CHECK(mremap);
	CHECK(madvise); CHECK(dup); CHECK(dup2); CHECK(alarm); CHECK(setitimer); CHECK(sendfile);
	CHECK(fcntl); CHECK(ioctl); CHECK(truncate); CHECK(ftruncate); CHECK(chdir); CHECK(fchdir); CHECK(rename);
	CHECK(mkdir); CHECK(rmdir); CHECK(creat); CHECK(link); CHECK(unlink); CHECK(symlink);
	CHECK(chmod); CHECK(fchmod); CHECK(chown); CHECK(fchown); CHECK(lchown); CHECK(umask);
	CHECK(utime); CHECK(mknod); CHECK(setxattr); CHECK(lsetxattr); CHECK(fsetxattr);
	CHECK(removexattr); CHECK(lremovexattr); CHECK(fremovexattr); CHECK(timer_create);
	CHECK(timer_settime); CHECK(timer_delete); CHECK(futex);
	CHECK(shmat); CHECK(shmdt); CHECK(remap_file_pages);
	CHECK(utimes); CHECK(openat); CHECK(mkdirat); CHECK(mknodat); CHECK(fchownat);
	CHECK(futimesat); CHECK(unlinkat); CHECK(renameat); CHECK(linkat); CHECK(symlinkat);
	CHECK(fchmodat); CHECK(splice); CHECK(utimensat); CHECK(fallocate); CHECK(dup3);
	CHECK(pwritev); CHECK(renameat2); CHECK(copy_file_range); CHECK(pwritev2);
	CHECK(pkey_mprotect);
	CHECK(setuid); CHECK(setgid); CHECK(setreuid); CHECK(setregid); CHECK(setgroups);
	CHECK(setresuid); CHECK(setresgid); CHECK(setfsuid); CHECK(setfsgid); CHECK(capset);
	CHECK(unshare); CHECK(setns); CHECK(seccomp); CHECK(ptrace);
	CHECK(mount); CHECK(umount2); CHECK(move_mount); CHECK(mount_setattr); CHECK(pivot_root);
	CHECK(chroot);
	CHECK(setrlimit); CHECK(prlimit64); CHECK(setpriority);
	CHECK(sched_setparam); CHECK(sched_setscheduler); CHECK(sched_setattr);
	CHECK(sched_setaffinity); CHECK(ioprio_set);
	CHECK(flock); CHECK(epoll_ctl); CHECK(inotify_add_watch); CHECK(inotify_rm_watch);
	CHECK(timerfd_settime);
	CHECK(shmget); CHECK(shmctl); CHECK(semget); CHECK(semop); CHECK(semctl);
	CHECK(semtimedop); CHECK(msgget); CHECK(msgsnd); CHECK(msgrcv); CHECK(msgctl);
	CHECK(mq_open); CHECK(mq_unlink); CHECK(mq_timedsend); CHECK(mq_timedreceive);
	CHECK(mq_notify); CHECK(mq_getsetattr);
	CHECK(personality); CHECK(sigaltstack); CHECK(add_key); CHECK(request_key); CHECK(keyctl);
	/* injected into targets */
	CHECK(getitimer); CHECK(recvmsg); CHECK(socketpair); CHECK(exit); CHECK(wait4);
	CHECK(rt_sigtimedwait); CHECK(prctl); CHECK(timer_gettime); CHECK(pidfd_open);
	CHECK(pidfd_getfd); CHECK(pidfd_send_signal);
#ifdef __NR_openat2
	CHECK(openat2);
#endif
#ifdef __NR_fchmodat2
	CHECK(fchmodat2);
#endif
}

static void names(void **state)
{
	assert_string_equal(syscall_name(__NR_mremap), "mremap");
	assert_string_equal(syscall_name(__NR_openat2), "openat2");
	assert_null(syscall_name(__NR_getpid));
	assert_null(syscall_name(100000));
	assert_true(syscall_is_layout(__NR_brk));
	assert_false(syscall_is_layout(__NR_close));
}

/* The one classification the BPF dispatcher and user space share. */
static void classes(void **state)
{
	static const unsigned int layout[] = {
		__NR_mmap, __NR_munmap, __NR_mremap, __NR_mprotect, __NR_pkey_mprotect, __NR_brk,
		__NR_madvise, __NR_shmat, __NR_shmdt, __NR_remap_file_pages,
		/* Newer than the build host's headers may know. */
		RW_NR_map_shadow_stack, RW_NR_mseal,
	};
	unsigned int nrecorded = 0;

	for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		assert_int_equal(rw_syscall_class(layout[i]), RW_SC_LAYOUT);
		assert_true(syscall_is_layout(layout[i]));
	}
	assert_int_equal(rw_syscall_class(__NR_close), RW_SC_FD);
	assert_int_equal(rw_syscall_class(__NR_ioctl), RW_SC_FD);
	assert_int_equal(rw_syscall_class(__NR_rt_sigaction), RW_SC_SIGNAL);
	assert_int_equal(rw_syscall_class(__NR_timer_settime), RW_SC_TIMER);
	assert_int_equal(rw_syscall_class(__NR_umask), RW_SC_CWD);
	assert_int_equal(rw_syscall_class(__NR_setresuid), RW_SC_CRED);
	assert_int_equal(rw_syscall_class(__NR_capset), RW_SC_CRED);
	assert_int_equal(rw_syscall_class(__NR_unshare), RW_SC_CRED);
	assert_true(rw_syscall_class_is_state(RW_SC_CRED));
	assert_int_equal(rw_syscall_class(__NR_openat), RW_SC_FILE);
	assert_int_equal(rw_syscall_class(__NR_mknodat), RW_SC_FILE);
	assert_int_equal(rw_syscall_class(__NR_getpid), RW_SC_NONE);
	assert_int_equal(rw_syscall_class(__NR_timer_gettime), RW_SC_NONE);
	assert_true(rw_syscall_class_is_state(rw_syscall_class(__NR_fchdir)));
	assert_int_equal(rw_syscall_class(__NR_prlimit64), RW_SC_ATTR);
	assert_int_equal(rw_syscall_class(__NR_ioprio_set), RW_SC_ATTR);
	assert_true(rw_syscall_class_is_state(rw_syscall_class(__NR_sched_setaffinity)));
	assert_int_equal(rw_syscall_class(__NR_getpriority), RW_SC_NONE);
	assert_int_equal(rw_syscall_class(__NR_flock), RW_SC_FD);
	assert_int_equal(rw_syscall_class(__NR_epoll_ctl), RW_SC_FD);
	assert_false(rw_syscall_class_is_state(rw_syscall_class(__NR_mmap)));
	assert_int_equal(rw_syscall_class(__NR_semop), RW_SC_IPC);
	assert_int_equal(rw_syscall_class(__NR_mq_timedsend), RW_SC_IPC);
	assert_true(rw_syscall_class_is_state(RW_SC_IPC));
	assert_false(rw_syscall_class_is_state(rw_syscall_class(__NR_write)));
	assert_int_equal(rw_syscall_class(__NR_rseq), RW_SC_PROC);
	/* Reports name exactly the recorded syscalls. */
	for (unsigned int nr = 0; nr < 1024; nr++) {
		assert_int_equal(syscall_name(nr) != NULL, rw_syscall_class(nr) != RW_SC_NONE);
		nrecorded += rw_syscall_class(nr) != RW_SC_NONE;
	}
	assert_int_equal(nrecorded, 130);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers_match_host),
		cmocka_unit_test(names),
		cmocka_unit_test(classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
