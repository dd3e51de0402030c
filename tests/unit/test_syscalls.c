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
	CHECK(timer_settime); CHECK(timer_delete);
	CHECK(shmat); CHECK(shmdt); CHECK(remap_file_pages);
	CHECK(utimes); CHECK(openat); CHECK(mkdirat); CHECK(mknodat); CHECK(fchownat);
	CHECK(futimesat); CHECK(unlinkat); CHECK(renameat); CHECK(linkat); CHECK(symlinkat);
	CHECK(fchmodat); CHECK(splice); CHECK(utimensat); CHECK(fallocate); CHECK(dup3);
	CHECK(pwritev); CHECK(renameat2); CHECK(copy_file_range); CHECK(pwritev2);
	CHECK(pkey_mprotect);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers_match_host),
		cmocka_unit_test(names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
