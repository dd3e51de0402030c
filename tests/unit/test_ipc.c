// SPDX-License-Identifier: GPL-2.0-only
/* The IPC plan step (ipc.h): two snapshots in, removals, restores and failures out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>
#include <cmocka.h>

#include "ipc.h"

static struct rw_ipc_obj sysv(int kind, int id, int key, const char *data)
{
	return (struct rw_ipc_obj){ .kind = kind, .id = id, .key = key, .uid = 0, .mode = 0600,
				    .size = data ? strlen(data) : 0, .len = data ? strlen(data) : 0,
				    .data = (unsigned char *)data };
}

static struct rw_ipc_obj posix(const char *name, uint64_t ino, const char *data, uint64_t n)
{
	struct rw_ipc_obj o = { .kind = RW_IPC_MQ, .id = -1, .ino = ino, .mode = 0600,
				.size = 32, .maxmsg = 8, .nmsgs = n,
				.len = data ? strlen(data) : 0, .data = (unsigned char *)data };

	snprintf(o.name, sizeof(o.name), "%s", name);
	return o;
}

static const struct rw_ipc_scope all = { .all = true };

/* Nothing changed: no step. */
static void unchanged(void **state)
{
	struct rw_ipc_obj a[] = { sysv(RW_IPC_SHM, 3, 0, "abc"), posix("q", 9, "m", 1) };
	struct rw_ipc_snap s = { a, 2 };
	struct rw_ipc_plan p;

	assert_int_equal(ipc_plan(&s, &s, &all, &p), 0);
	assert_int_equal(p.nops, 0);
	assert_int_equal(p.nfailures, 0);
	ipc_plan_free(&p);
}

/* New objects of every kind are removed; changed contents and modes are put back. */
static void removes_new_restores_changed(void **state)
{
	struct rw_ipc_obj c[] = { sysv(RW_IPC_SEM, 1, 5, "\3\1\7\1"), posix("q", 9, "m", 1) };
	struct rw_ipc_obj n[] = { sysv(RW_IPC_SEM, 1, 5, "\3\1\7\1"), posix("q", 9, "s", 1),
				  sysv(RW_IPC_SHM, 4, 0, "x"), sysv(RW_IPC_MSG, 8, 0, NULL),
				  posix("new", 11, NULL, 0) };
	struct rw_ipc_snap ck = { c, 2 }, now = { n, 5 };
	struct rw_ipc_plan p;
	char line[256];

	n[0].data = (unsigned char *)"\4\1\7\1";
	n[0].mode = 0666;
	assert_int_equal(ipc_plan(&ck, &now, &all, &p), 0);
	assert_int_equal(p.nfailures, 0);
	assert_int_equal(p.nops, 6);
	assert_int_equal(p.ops[0].op, RW_IPC_REMOVE);
	assert_int_equal(p.ops[0].kind, RW_IPC_SHM);
	assert_int_equal(p.ops[1].op, RW_IPC_REMOVE);
	assert_int_equal(p.ops[1].kind, RW_IPC_MSG);
	assert_int_equal(p.ops[2].op, RW_IPC_CONTENTS);
	assert_int_equal(p.ops[2].ckpt, 0);
	assert_int_equal(p.ops[3].op, RW_IPC_PERMS);
	assert_int_equal(p.ops[4].op, RW_IPC_REMOVE);
	assert_string_equal(p.ops[4].name, "new");
	assert_int_equal(p.ops[5].op, RW_IPC_CONTENTS);
	assert_int_equal(p.ops[5].ckpt, 1);
	ipc_op_describe(&p.ops[0], line, sizeof(line));
	assert_string_equal(line, "remove SysV shared memory segment id 4 (key 0), created since "
			    "the checkpoint");
	ipc_op_describe(&p.ops[2], line, sizeof(line));
	assert_string_equal(line, "restore the values of SysV semaphore set id 1 (key 0x5)");
	ipc_plan_free(&p);
}

/* Removed, or replaced under the same id or name: fails closed, named. */
static void removed_fails_closed(void **state)
{
	struct rw_ipc_obj c[] = { sysv(RW_IPC_MSG, 2, 0, NULL), sysv(RW_IPC_SHM, 6, 7, "ab"),
				  posix("q", 9, NULL, 0), sysv(RW_IPC_SHM, 12, 0, "cd") };
	struct rw_ipc_obj n[] = { sysv(RW_IPC_SHM, 6, 8, "ab"), posix("q", 10, NULL, 0),
				  sysv(RW_IPC_SHM, 12, 0, "cd") };
	struct rw_ipc_snap ck = { c, 4 }, now = { n, 3 };
	struct rw_ipc_plan p;

	n[2].mode |= SHM_DEST;	/* IPC_RMID while attached */
	assert_int_equal(ipc_plan(&ck, &now, &all, &p), 0);
	assert_int_equal(p.nops, 0);
	assert_int_equal(p.nfailures, 4);
	assert_string_equal(p.failures[0], "SysV message queue id 2 (key 0): removed since the "
			    "checkpoint (a new object cannot take its id): cannot be restored");
	assert_non_null(strstr(p.failures[1], "SysV shared memory segment id 6 (key 0x7): removed"));
	/* SysV objects first, then the POSIX queues. */
	assert_non_null(strstr(p.failures[2], "id 12"));
	assert_non_null(strstr(p.failures[3], "POSIX message queue /q: removed"));
	ipc_plan_free(&p);
}

/* A changed mq_notify registration cannot be put back from outside. */
static void notify_fails_closed(void **state)
{
	struct rw_ipc_obj c[] = { posix("q", 9, NULL, 0) }, n[] = { posix("q", 9, NULL, 0) };
	struct rw_ipc_snap ck = { c, 1 }, now = { n, 1 };
	struct rw_ipc_plan p;

	n[0].notify_pid = 42;
	assert_int_equal(ipc_plan(&ck, &now, &all, &p), 0);
	assert_int_equal(p.nfailures, 1);
	assert_non_null(strstr(p.failures[0], "mq_notify registration changed"));
	ipc_plan_free(&p);
}

/* rewindd's own namespace: only the ids the session named; queues fail closed if it used them. */
static void shared_namespace_scope(void **state)
{
	static const int ids[] = { 4 };
	struct rw_ipc_obj c[] = { sysv(RW_IPC_SHM, 3, 0, "abc"), posix("q", 9, NULL, 0) };
	struct rw_ipc_obj n[] = { sysv(RW_IPC_SHM, 3, 0, "xyz"), sysv(RW_IPC_SHM, 4, 0, "s"),
				  sysv(RW_IPC_SEM, 5, 0, NULL), posix("q", 9, "m", 1) };
	struct rw_ipc_snap ck = { c, 2 }, now = { n, 4 };
	struct rw_ipc_scope sc = { .ids = ids, .nids = 1 };
	struct rw_ipc_plan p;

	/* The outsiders' segment 3, semaphore 5 and queue q are left alone. */
	assert_int_equal(ipc_plan(&ck, &now, &sc, &p), 0);
	assert_int_equal(p.nfailures, 0);
	assert_int_equal(p.nops, 1);
	assert_int_equal(p.ops[0].op, RW_IPC_REMOVE);
	assert_int_equal(p.ops[0].id, 4);
	ipc_plan_free(&p);
	sc.mq_called = true;
	assert_int_equal(ipc_plan(&ck, &now, &sc, &p), 0);
	assert_int_equal(p.nfailures, 1);
	assert_non_null(strstr(p.failures[0], "POSIX message queue /q: changed in rewindd's own "
			       "IPC namespace"));
	ipc_plan_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unchanged),
		cmocka_unit_test(removes_new_restores_changed),
		cmocka_unit_test(removed_fails_closed),
		cmocka_unit_test(notify_fails_closed),
		cmocka_unit_test(shared_namespace_scope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
