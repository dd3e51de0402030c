/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Canary scanner: every place a planted byte string (a token such as
 * "tok_5f2a9c") persists, in the memory of a process and in files.
 *
 * Occurrences are reported one by one, overlapping ones included ("aa" is
 * found twice in "aaa"), also where they straddle two read chunks or two
 * adjacent mappings. Reads go in chunks of RW_CANARY_CHUNK that end on
 * multiples of RW_CANARY_CHUNK (addresses, file offsets), carrying the last
 * len - 1 bytes over to the next chunk when it follows without a gap.
 *
 * The scan functions append to out, so one rw_canary_hits can collect a
 * process and a few trees: out must be zeroed or hold earlier results. They
 * return 0 or -errno; on error a message is in why (why may be NULL when
 * whylen is 0) and out stays valid (free it) with what was found so far.
 * A needle must be 1..RW_CANARY_MAX_NEEDLE bytes, else -EINVAL.
 */
#ifndef RW_CANARY_H
#define RW_CANARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

#define RW_CANARY_MAX_NEEDLE	256
#define RW_CANARY_MAX_HITS	1024		/* kept in v; total counts them all */
#define RW_CANARY_CHUNK		(1UL << 20)

enum rw_canary_where {
	RW_CANARY_MEMORY,
	RW_CANARY_FILE,
};

struct rw_canary_hit {
	enum rw_canary_where where;
	/* RW_CANARY_MEMORY */
	pid_t pid;			/* as passed to canary_scan_process */
	uint64_t addr;			/* address of the first byte */
	uint64_t map_start, map_end;	/* the mapping holding that byte */
	char perms[5];			/* as maps shows them: "rw-p" */
	/* The maps name: "[heap]", "[stack]", a path ("/memfd:x (deleted)"),
	 * "[anon]" for an anonymous mapping (empty name in maps). */
	char mapping[256];
	bool file_backed;		/* the mapping has an inode (file, memfd, shm) */
	/*
	 * file_offset: memory, file_backed: where the byte is in that file
	 * (the mapping's file offset + offset); 0 otherwise.
	 */
	uint64_t file_offset;
	/* RW_CANARY_FILE */
	char *path;			/* malloc'd; a tree's hits: root "/" relative path */
	/* memory: addr - map_start (always relative to the mapping);
	 * file: byte offset in the file */
	uint64_t offset;
};

struct rw_canary_hits {
	struct rw_canary_hit *v;	/* the first RW_CANARY_MAX_HITS occurrences */
	size_t n, cap;			/* cap: allocated in v */
	uint64_t total;			/* every occurrence: may exceed n */
	uint64_t bytes_scanned;		/* read and searched */
	/*
	 * Could not be read: mappings without read permission (PROT_NONE,
	 * guard areas), pages whose read failed with EFAULT/EIO (a truncated
	 * file's pages, guard pages, unmapped during the scan), the rest of a
	 * file after a read error, files that could not be opened (their size).
	 */
	uint64_t unreadable_bytes;
	/*
	 * Not read on purpose: [vvar], [vvar_vclock], [vsyscall], mappings of
	 * files under /dev (but /dev/zero and /dev/shm/), pages of private
	 * anonymous mappings never populated (neither present nor swapped, per
	 * PAGEMAP_SCAN; reading them would fill page tables for every reserved
	 * byte: ASan's terabytes of shadow), and the holes (SEEK_DATA) of files
	 * mapped shared (reading a memfd's hole through the mapping allocates
	 * it). All read as zeros: a needle of zeros is not looked for there.
	 */
	uint64_t skipped_bytes;
	uint64_t files_scanned;
	uint64_t files_skipped;		/* not regular (symlink, fifo, ...) or another mount */
	uint64_t files_unreadable;	/* files or directories that could not be opened or read */
};

/*
 * Search every readable mapping of process pid with process_vm_readv (as the
 * process sees it: a guard page or a page past a mapped file's end is
 * unreadable). The process is neither stopped nor resumed: stop it first for
 * a consistent view. Pages that cannot be read are skipped page by page
 * (unreadable_bytes). Swapped-out pages are read, so swapped in; private
 * file mappings are read whole (their never-touched pages come from the
 * file). A pid whose main thread exited while others live is read through
 * one of those. Without CAP_SYS_ADMIN (for /proc/PID/map_files) shared
 * file mappings are read whole, holes included.
 * -ESRCH when pid does not exist, is a zombie, or exits during the scan;
 * -EPERM/-EACCES without access; a kernel thread has no memory: 0, no hits.
 */
int canary_scan_process(pid_t pid, const void *needle, size_t len, struct rw_canary_hits *out,
			char *why, size_t whylen);

/*
 * Search one file (symlinks in path are followed). Not a regular file:
 * skipped (files_skipped), 0. Cannot be opened or read: -errno.
 */
int canary_scan_file(const char *path, const void *needle, size_t len, struct rw_canary_hits *out,
		     char *why, size_t whylen);

/*
 * Search every regular file below the directory root (root itself may be
 * reached through symlinks). Below it no symlink is followed, and no mount
 * point is crossed (a directory or file on another mount is skipped).
 * Files and directories that cannot be opened or read are counted
 * (files_unreadable), not errors. Files are opened with O_NOATIME when
 * allowed. Errors: root cannot be opened (-ENOENT, -ENOTDIR, ...), -ENOMEM.
 */
int canary_scan_tree(const char *root, const void *needle, size_t len, struct rw_canary_hits *out,
		     char *why, size_t whylen);

/*
 * The same, through fds rewindd holds (a target's files in its mount
 * namespace, which rewindd's own paths would not reach), reported under
 * name: the file pathfd (an O_PATH fd is enough) or the tree dirfd.
 */
int canary_scan_file_at(int pathfd, const char *name, const void *needle, size_t len,
			struct rw_canary_hits *out, char *why, size_t whylen);
int canary_scan_tree_at(int dirfd, const char *name, const void *needle, size_t len,
			struct rw_canary_hits *out, char *why, size_t whylen);

/* Frees the hits and zeroes *h. NULL is fine. */
void canary_hits_free(struct rw_canary_hits *h);

/*
 * The kept hits (h->v) as a JSON array (NULL on -ENOMEM) of objects:
 * memory: "where": "memory", "pid", "mapping", "perms", "address" (hex
 *   string "0x7f..."), "offset" (addr - map_start), and for file_backed
 *   mappings "file_offset";
 * file: "where": "file", "path", "offset".
 */
json_object *canary_hits_to_json(const struct rw_canary_hits *h);

#endif /* RW_CANARY_H */
