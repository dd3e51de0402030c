// SPDX-License-Identifier: GPL-2.0-only
/*
 * proc_mem_write: the invocation writes a secret into its own read-only
 * memory through /proc/self/mem, which goes past the protection (FOLL_FORCE)
 * as a ptrace poke does. Read-only mappings are not write-protected, so no
 * fault tells: the logged write must make the rewind restore them whole.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtm.h"

#define PM_PAGES 4

static char *pm_region;

static void pm_setup(void)
{
	pm_region = map_anon(PM_PAGES * 4096);
	fill(pm_region, PM_PAGES * 4096, 7);
	if (mprotect(pm_region, PM_PAGES * 4096, PROT_READ))
		die("mprotect");
}

static void pm_go(void)
{
	int fd = open("/proc/self/mem", O_RDWR);

	if (fd < 0 || pwrite(fd, "SECRET", 6, (off_t)(uintptr_t)(pm_region + 4096 + 100)) != 6)
		die("writing /proc/self/mem");
	close(fd);
	done("");
}

static void pm_check(void)
{
	check_fill("read-only region", pm_region, PM_PAGES * 4096, 7);
}

ZDTM_SCENARIO(proc_mem_write, pm_setup, pm_go, pm_check);
