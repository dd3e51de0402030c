// SPDX-License-Identifier: GPL-2.0-only
/*
 * SysV IPC and POSIX message queues: objects of the IPC namespace, not of
 * the process. Each scenario but ipc_host_shm first moves into an IPC
 * namespace of its own (unshare), so tests running alongside cannot
 * disturb what it counts, and rewindd must enter that namespace to read it.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "zdtm.h"

#ifndef MSG_COPY
#define MSG_COPY	040000
#endif
#define SHM_LEN		(3 * PAGE)
#define HOST_KEY_BASE	0x7a000000	/* tests/integ/test_rewind.sh removes what leaks */

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static void private_ipc(void)
{
	if (unshare(CLONE_NEWIPC))
		die("unshare(CLONE_NEWIPC)");
}

/* Objects listed in /proc/sysvipc/NAME (this namespace's). */
static int count_sysv(const char *name)
{
	char path[64], buf[8192];
	int lines = 0;

	snprintf(path, sizeof(path), "/proc/sysvipc/%s", name);
	if (read_file(path, buf, sizeof(buf)) < 0)
		die("read /proc/sysvipc");
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	return lines - 1;	/* the header */
}

/* ---- a segment created by the invocation ---- */

static void shm_new_setup(void)
{
	private_ipc();
}

static void shm_new_go(void)
{
	int id = shmget(IPC_PRIVATE, SHM_LEN, IPC_CREAT | 0600);
	char *p;

	if (id < 0 || (p = shmat(id, NULL, 0)) == (void *)-1)
		die("shmget/shmat");
	strcpy(p, "secret");
	if (shmdt(p))
		die("shmdt");
	done("shm %d", id);
}

static void shm_new_check(void)
{
	if (count_sysv("shm"))
		differ("%d SysV shared memory segment(s), want none", count_sysv("shm"));
}

/* ---- a segment of the checkpoint written through a new attachment ---- */

static int shm_id;

static void shm_fill_new(void)
{
	char *p;

	shm_id = shmget(IPC_PRIVATE, SHM_LEN, IPC_CREAT | 0600);
	if (shm_id < 0 || (p = shmat(shm_id, NULL, 0)) == (void *)-1)
		die("shmget/shmat");
	fill(p, SHM_LEN, 7);
	if (shmdt(p))
		die("shmdt");
}

static void shm_written_setup(void)
{
	private_ipc();
	shm_fill_new();
}

static void shm_written_go(void)
{
	char *p = shmat(shm_id, NULL, 0);
	struct shmid_ds ds;

	if (p == (void *)-1)
		die("shmat");
	memcpy(p + PAGE + 5, "secret", 6);
	if (shmdt(p) || shmctl(shm_id, IPC_STAT, &ds))
		die("shmdt");
	ds.shm_perm.mode = 0666;
	if (shmctl(shm_id, IPC_SET, &ds))
		die("shmctl(IPC_SET)");
	done("");
}

static void shm_written_check(void)
{
	char *p = shmat(shm_id, NULL, SHM_RDONLY);
	struct shmid_ds ds;

	if (p == (void *)-1)
		die("shmat");
	check_fill("segment", p, SHM_LEN, 7);
	shmdt(p);
	if (shmctl(shm_id, IPC_STAT, &ds))
		die("shmctl");
	if ((ds.shm_perm.mode & 0777) != 0600)
		differ("segment mode %o, want 600", ds.shm_perm.mode & 0777);
}

/* ---- a segment attached at the checkpoint, written by plain stores ---- */

static char *shm_attached;

static void shm_attached_setup(void)
{
	private_ipc();
	shm_fill_new();
	shm_attached = shmat(shm_id, NULL, 0);
	if (shm_attached == (void *)-1)
		die("shmat");
}

static void shm_attached_go(void)
{
	memcpy(shm_attached + 2 * PAGE + 9, "secret", 6);
	done("");
}

static void shm_attached_check(void)
{
	check_fill("attached segment", shm_attached, SHM_LEN, 7);
}

/* ---- semaphore values ---- */

static int sem_id;

static void sem_setup(void)
{
	unsigned short v[2] = { 3, 7 };
	union semun a = { .array = v };

	private_ipc();
	sem_id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	if (sem_id < 0 || semctl(sem_id, 0, SETALL, a))
		die("semget/SETALL");
}

static void sem_go(void)
{
	struct sembuf op = { .sem_num = 0, .sem_op = 5 };
	union semun a = { .val = 42 };

	if (semop(sem_id, &op, 1) || semctl(sem_id, 1, SETVAL, a))
		die("semop/SETVAL");
	done("");
}

static void sem_check(void)
{
	unsigned short v[2];
	union semun a = { .array = v };

	if (semctl(sem_id, 0, GETALL, a))
		die("GETALL");
	if (v[0] != 3 || v[1] != 7)
		differ("semaphores %u %u, want 3 7", v[0], v[1]);
}

/* ---- a message queue: a secret sent, a checkpoint message received ---- */

static int msg_id;
struct zmsg {
	long type;
	char text[32];
};

static void msg_setup(void)
{
	struct zmsg a = { 1, "alpha" }, b = { 2, "beta" };

	private_ipc();
	msg_id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (msg_id < 0 || msgsnd(msg_id, &a, 6, 0) || msgsnd(msg_id, &b, 5, 0))
		die("msgget/msgsnd");
}

static void msg_go(void)
{
	struct zmsg s = { 3, "secret" }, r;

	if (msgsnd(msg_id, &s, 7, 0) || msgrcv(msg_id, &r, sizeof(r.text), 0, 0) < 0)
		die("msgsnd/msgrcv");
	done("");
}

static void msg_check(void)
{
	static const struct zmsg want[] = { { 1, "alpha" }, { 2, "beta" } };
	struct msqid_ds ds;
	struct zmsg m;

	if (msgctl(msg_id, IPC_STAT, &ds))
		die("msgctl");
	if (ds.msg_qnum != 2) {
		differ("%lu message(s) queued, want 2", (unsigned long)ds.msg_qnum);
		return;
	}
	for (int i = 0; i < 2; i++) {
		ssize_t n = msgrcv(msg_id, &m, sizeof(m.text), i, IPC_NOWAIT | MSG_COPY);

		if (n < 0)
			die("msgrcv(MSG_COPY)");
		if (m.type != want[i].type || strcmp(m.text, want[i].text))
			differ("message %d: type %ld '%.*s', want %ld '%s'", i, m.type, (int)n,
			       m.text, want[i].type, want[i].text);
	}
}

/* ---- a POSIX queue created by the invocation ---- */

static void mq_new_go(void)
{
	struct mq_attr at = { .mq_maxmsg = 4, .mq_msgsize = 32 };
	mqd_t q = mq_open("/zdtm_new", O_CREAT | O_RDWR, 0600, &at);

	if (q == (mqd_t)-1 || mq_send(q, "secret", 7, 1))
		die("mq_open/mq_send");
	mq_close(q);
	done("");
}

static void mq_new_check(void)
{
	mqd_t q = mq_open("/zdtm_new", O_RDONLY);

	if (q != (mqd_t)-1) {
		mq_close(q);
		differ("POSIX queue /zdtm_new exists, want none");
	} else if (errno != ENOENT) {
		die("mq_open");
	}
}

/* ---- a POSIX queue of the checkpoint: a secret sent, a message received ---- */

static mqd_t mq;

static void mq_secret_setup(void)
{
	struct mq_attr at = { .mq_maxmsg = 8, .mq_msgsize = 32 };

	private_ipc();
	mq = mq_open("/zdtm_q", O_CREAT | O_RDWR | O_NONBLOCK, 0600, &at);
	if (mq == (mqd_t)-1 || mq_send(mq, "one", 4, 1) || mq_send(mq, "five", 5, 5) ||
	    mq_send(mq, "uno", 4, 1))
		die("mq_open/mq_send");
}

static void mq_secret_go(void)
{
	char buf[32];

	if (mq_receive(mq, buf, sizeof(buf), NULL) < 0 || mq_send(mq, "secret", 7, 9))
		die("mq_send/mq_receive");
	done("");
}

/* Receives every message and sends them back: a check changes nothing. */
static void mq_secret_check(void)
{
	static const struct { const char *text; unsigned int prio; } want[] = {
		{ "five", 5 }, { "one", 1 }, { "uno", 1 },
	};
	char got[8][32];
	unsigned int prio[8];
	int n = 0;

	while (n < 8 && mq_receive(mq, got[n], sizeof(got[n]), &prio[n]) >= 0)
		n++;
	for (int i = 0; i < n; i++)
		if (mq_send(mq, got[i], strlen(got[i]) + 1, prio[i]))
			die("mq_send");
	if (n != 3) {
		differ("%d message(s) queued, want 3 (first '%s' prio %u)", n, n ? got[0] : "",
		       n ? prio[0] : 0);
		return;
	}
	for (int i = 0; i < 3; i++)
		if (strcmp(got[i], want[i].text) || prio[i] != want[i].prio)
			differ("message %d: '%s' prio %u, want '%s' prio %u", i, got[i], prio[i],
			       want[i].text, want[i].prio);
}

/* ---- rewindd's own (the host's) namespace: only the session's objects ---- */

static void host_shm_setup(void)
{
	shm_fill_new();
	shm_attached = shmat(shm_id, NULL, 0);
	/* Marked for removal: it goes with the last detach, at the latest our exit. */
	if (shm_attached == (void *)-1 || shmctl(shm_id, IPC_RMID, NULL))
		die("shmat/IPC_RMID");
}

static void host_shm_go(void)
{
	int id = shmget(HOST_KEY_BASE | (getpid() & 0xffffff), PAGE, IPC_CREAT | IPC_EXCL | 0600);

	if (id < 0)
		die("shmget");
	memcpy(shm_attached + 11, "secret", 6);
	done("shm %d", id);
}

static void host_shm_check(void)
{
	int id = shmget(HOST_KEY_BASE | (getpid() & 0xffffff), 0, 0);

	if (id >= 0)
		differ("segment %d created by the invocation exists", id);
	check_fill("attached segment", shm_attached, SHM_LEN, 7);
}

/* ---- a queue of the checkpoint removed: the rewind fails closed ---- */

static void msg_removed_go(void)
{
	if (msgctl(msg_id, IPC_RMID, NULL))
		die("msgctl(IPC_RMID)");
	done("");
}

ZDTM_SCENARIO(ipc_shm_new, shm_new_setup, shm_new_go, shm_new_check);
ZDTM_SCENARIO(ipc_shm_written, shm_written_setup, shm_written_go, shm_written_check);
ZDTM_SCENARIO(ipc_shm_attached, shm_attached_setup, shm_attached_go, shm_attached_check);
ZDTM_SCENARIO(ipc_sem, sem_setup, sem_go, sem_check);
ZDTM_SCENARIO(ipc_msg, msg_setup, msg_go, msg_check);
ZDTM_SCENARIO(ipc_mq_new, shm_new_setup, mq_new_go, mq_new_check);
ZDTM_SCENARIO(ipc_mq_secret, mq_secret_setup, mq_secret_go, mq_secret_check);
ZDTM_SCENARIO(ipc_host_shm, host_shm_setup, host_shm_go, host_shm_check);
ZDTM_HELPER(ipc_msg_removed, msg_setup, msg_removed_go, msg_check);
