/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rewind-proxy: an OpenWhisk action container that runs the function as an
 * actionloop process and, in rewind mode, rewinds it through rewindd after
 * every activation. The options every part reads.
 */
#ifndef RP_PROXY_H
#define RP_PROXY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum proxy_mode {
	MODE_REWIND = 0,	/* one process, checkpointed once, rewound after every /run */
	MODE_INSECURE,		/* one process reused as is: what platforms do today */
	MODE_RESTART,		/* a fresh process for every /run: the baseline */
	MODE_FORK,		/* a child of the initialised process for every /run (python) */
};

enum proxy_runtime {
	RUNTIME_PYTHON = 0,
	RUNTIME_NODE,
};

#define PROXY_MAX_WATCH 8
#define PROXY_MAX_GROUPS 64

struct proxy_config {
	int port;			/* the bound port (resolved when --port 0) */
	const char *bind;		/* an IPv4 address */
	enum proxy_mode mode;
	enum proxy_runtime runtime;
	char work_dir[PATH_MAX];	/* the function's dir is work_dir/action */
	char launcher_dir[PATH_MAX];
	char node_addon[PATH_MAX];	/* launcher_native.node in the build dir, or empty */
	const char *rewindd_socket;
	unsigned timeout_ms;		/* per activation, and for init (ack, warmup) */
	size_t max_body;		/* request bodies and one result line */
	unsigned warmup;		/* invocations before the checkpoint */
	char *warmup_line;		/* each one's request: {"value":...} and a newline */
	bool verify;			/* rewind --verify */
	const char *watch[PROXY_MAX_WATCH];	/* watched besides the function's dir */
	size_t nwatch;
	/* --user: the function's credentials; without it, the proxy's (root) */
	const char *user;
	uid_t uid;
	gid_t gid;
	gid_t groups[PROXY_MAX_GROUPS];
	int ngroups;
	/*
	 * --in-container: the container is the sandbox and no cgroup is ours;
	 * the function's processes are the proxy's descendants, attached to
	 * rewindd by pidfd, and its /tmp is the container's.
	 */
	bool in_container;
	/*
	 * --shared-images: the function starts with the layout and seeds every
	 * instance of the same code gets (ASLR off, hash and V8 seeds from the
	 * code, V8 without background threads), so that rewindd stores the pages
	 * its checkpoint has in common with other instances' once.
	 */
	bool shared_images;
	/*
	 * --heap-release: bytes of the free top of malloc's heap the final settle
	 * gives back (rewind and insecure modes). By default half of what rewindd
	 * zero-fills in a rewind (16 MiB a process), so that a request writing
	 * there again takes no fault after the rewind.
	 */
	size_t heap_release;
	/* Where the function's stdout and stderr go (ours, unless --log-file moved our messages). */
	int out_fd, err_fd;
};

const char *proxy_mode_name(enum proxy_mode m);
const char *proxy_runtime_name(enum proxy_runtime r);

#endif /* RP_PROXY_H */
