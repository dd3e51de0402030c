// SPDX-License-Identifier: GPL-2.0-only
/*
 * Files: every syscall that changes a file-system entry or its contents.
 *
 * Without bpf_d_path (no fentry/LSM here) the paths are rebuilt by walking
 * dentries and mounts with CO-RE reads, at syscall exit, from what the
 * kernel resolved: the fd's file, the dirfd's directory, or the cwd. Names
 * the task passed are copied as strings; user space joins the two.
 */
#include "common.bpf.h"

#define AT_FDCWD	-100
#define AT_REMOVEDIR	0x200
#define O_ACCMODE	00000003
#define O_CREAT		00000100
#define O_TRUNC		00001000
#define MAP_TYPE	0x0f
#define MAP_PRIVATE	0x02
#define MAP_ANONYMOUS	0x20
#define PROT_WRITE	0x2
#define FMODE_CREATED	(1U << 20)	/* include/linux/fs.h: open created the file */
#define S_IFMT		00170000
#define S_IFREG		0100000
#define S_IFDIR		0040000
#define S_IFLNK		0120000

/* How a syscall names the entry it changes; -1 = argument not used. */
struct file_call {
	__u32 op;
	__s8 fd;	/* argument index of an fd naming the file itself */
	__s8 dfd;	/* argument index of a dirfd for `name`; -1 with name = cwd */
	__s8 name;	/* argument index of a path string */
	__s8 dfd2;
	__s8 name2;
	__s8 lit;	/* argument index of a string copied as-is (symlink target) */
};

/*
 * A global function on purpose: the verifier checks it once and the caller
 * sees its result as unknown, instead of walking the rest of
 * rw_file_syscall (three dentry walks) once per syscall case.
 */
__noinline int rw_classify_file_call(__u32 nr, struct file_call *c)
{
	if (!c)
		return 0;
	c->fd = c->dfd = c->name = c->dfd2 = c->name2 = c->lit = -1;
	switch (nr) {
	case RW_NR_write: case RW_NR_pwrite64: case RW_NR_writev:
	case RW_NR_pwritev: case RW_NR_pwritev2:
		c->op = RW_FOP_WRITE; c->fd = 0; return true;
	case RW_NR_sendfile:
		c->op = RW_FOP_COPY; c->fd = 0; return true;
	case RW_NR_copy_file_range: case RW_NR_splice:
		c->op = RW_FOP_COPY; c->fd = 2; return true;
	case RW_NR_open: case RW_NR_creat:
		c->op = RW_FOP_OPEN; c->name = 0; return true;
	case RW_NR_openat: case RW_NR_openat2:
		c->op = RW_FOP_OPEN; c->dfd = 0; c->name = 1; return true;
	case RW_NR_truncate:
		c->op = RW_FOP_TRUNCATE; c->name = 0; return true;
	case RW_NR_ftruncate:
		c->op = RW_FOP_TRUNCATE; c->fd = 0; return true;
	case RW_NR_fallocate:
		c->op = RW_FOP_FALLOCATE; c->fd = 0; return true;
	case RW_NR_unlink:
		c->op = RW_FOP_UNLINK; c->name = 0; return true;
	case RW_NR_unlinkat:
		c->op = RW_FOP_UNLINK; c->dfd = 0; c->name = 1; return true;
	case RW_NR_rmdir:
		c->op = RW_FOP_RMDIR; c->name = 0; return true;
	case RW_NR_mkdir:
		c->op = RW_FOP_MKDIR; c->name = 0; return true;
	case RW_NR_mkdirat:
		c->op = RW_FOP_MKDIR; c->dfd = 0; c->name = 1; return true;
	case RW_NR_mknod:
		c->op = RW_FOP_MKNOD; c->name = 0; return true;
	case RW_NR_mknodat:
		c->op = RW_FOP_MKNOD; c->dfd = 0; c->name = 1; return true;
	case RW_NR_rename:
		c->op = RW_FOP_RENAME; c->name = 0; c->name2 = 1; return true;
	case RW_NR_renameat: case RW_NR_renameat2:
		c->op = RW_FOP_RENAME; c->dfd = 0; c->name = 1; c->dfd2 = 2; c->name2 = 3;
		return true;
	case RW_NR_link:
		c->op = RW_FOP_LINK; c->name = 0; c->name2 = 1; return true;
	case RW_NR_linkat:
		c->op = RW_FOP_LINK; c->dfd = 0; c->name = 1; c->dfd2 = 2; c->name2 = 3;
		return true;
	case RW_NR_symlink:
		c->op = RW_FOP_SYMLINK; c->lit = 0; c->name2 = 1; return true;
	case RW_NR_symlinkat:
		c->op = RW_FOP_SYMLINK; c->lit = 0; c->dfd2 = 1; c->name2 = 2; return true;
	case RW_NR_chmod:
		c->op = RW_FOP_CHMOD; c->name = 0; return true;
	case RW_NR_fchmod:
		c->op = RW_FOP_CHMOD; c->fd = 0; return true;
	case RW_NR_fchmodat: case RW_NR_fchmodat2:
		c->op = RW_FOP_CHMOD; c->dfd = 0; c->name = 1; return true;
	case RW_NR_chown: case RW_NR_lchown:
		c->op = RW_FOP_CHOWN; c->name = 0; return true;
	case RW_NR_fchown:
		c->op = RW_FOP_CHOWN; c->fd = 0; return true;
	case RW_NR_fchownat:
		c->op = RW_FOP_CHOWN; c->dfd = 0; c->name = 1; return true;
	case RW_NR_utime: case RW_NR_utimes:
		c->op = RW_FOP_UTIMES; c->name = 0; return true;
	case RW_NR_futimesat: case RW_NR_utimensat:
		c->op = RW_FOP_UTIMES; c->dfd = 0; c->name = 1; return true;
	case RW_NR_setxattr: case RW_NR_lsetxattr:
	case RW_NR_removexattr: case RW_NR_lremovexattr:
		c->op = RW_FOP_XATTR; c->name = 0; return true;
	case RW_NR_fsetxattr: case RW_NR_fremovexattr:
		c->op = RW_FOP_XATTR; c->fd = 0; return true;
	case RW_NR_mmap:	/* only shared writable file mappings reach here */
		c->op = RW_FOP_MMAP_WRITE; c->fd = 4; return true;
	}
	return false;
}

/*
 * Rebuild a path leaf first into buf (RW_DIR_BUF bytes), crossing mount
 * points up to the task's root mount. Returns the bytes used.
 */
static __noinline __u32 walk_path(char *buf, struct dentry *dentry, struct vfsmount *vfsmnt,
				  __u32 *flags)
{
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	struct dentry *parent, *mnt_root;
	struct mount *mnt_parent;
	const unsigned char *name;
	__u32 off = 0;
	long n;

	for (int i = 0; i < RW_PATH_DEPTH; i++) {
		mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
		parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == mnt_root || dentry == parent) {
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (mnt_parent == mnt)
				return off;	/* the root of the mount tree */
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			continue;
		}
		if (off > RW_PATH_MAX) {
			*flags |= RW_F_TRUNCATED;
			return off;
		}
		/* A name cut short would name another file: say the path is incomplete. */
		if (BPF_CORE_READ(dentry, d_name.len) >= RW_COMPONENT_MAX) {
			*flags |= RW_F_TRUNCATED;
			return off;
		}
		name = BPF_CORE_READ(dentry, d_name.name);
		n = bpf_probe_read_kernel_str(buf + off, RW_COMPONENT_MAX, name);
		if (n <= 0)
			return off;
		off += n;
		dentry = parent;
	}
	*flags |= RW_F_TRUNCATED;
	return off;
}

/* A directory to resolve `name` against: the dirfd's, or the cwd for AT_FDCWD / no dirfd. */
static __always_inline __u16 walk_dir(char *buf, struct task_struct *task, __s64 dfd, __u32 *flags)
{
	struct file *f;

	if (dfd == AT_FDCWD) {
		struct path pwd = BPF_CORE_READ(task, fs, pwd);

		return walk_path(buf, pwd.dentry, pwd.mnt, flags);
	}
	f = fd_file(task, dfd);
	if (!f)
		return 0;
	return walk_path(buf, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), flags);
}

static __always_inline bool open_wants_write(const struct rw_sys_args *a)
{
	__u64 flags;

	switch (a->nr) {
	case RW_NR_creat:
		return true;
	case RW_NR_open:
		flags = a->args[1];
		break;
	case RW_NR_openat:
		flags = a->args[2];
		break;
	default:	/* openat2: struct open_how starts with the u64 flags */
		if (bpf_probe_read_user(&flags, sizeof(flags), (void *)a->args[2]))
			return false;
	}
	return (flags & O_ACCMODE) || (flags & (O_CREAT | O_TRUNC));
}

static __always_inline void read_name(char *dst, __u64 uptr, __u32 *flags)
{
	long n = bpf_probe_read_user_str(dst, RW_NAME_MAX, (void *)uptr);

	if (n <= 0)
		dst[0] = 0;
	else if (n == RW_NAME_MAX)
		*flags |= RW_F_TRUNCATED;
}

__noinline int rw_file_syscall(struct rw_sys_args *a)
{
	struct task_struct *task;
	struct rw_file_event *e;
	struct file_call c;
	struct file *f = NULL;
	struct inode *inode;
	__u32 flags = 0;
	__u32 mode;
	__s64 fd;

	if (!a || RW_IS_ERR(a->ret) || !rw_classify_file_call(a->nr, &c))
		return 0;
	if (c.op == RW_FOP_OPEN && !open_wants_write(a))
		return 0;
	/* Stores through a shared writable mapping reach the file without a syscall. */
	if (c.op == RW_FOP_MMAP_WRITE &&
	    ((a->args[3] & MAP_TYPE) == MAP_PRIVATE || (a->args[3] & MAP_ANONYMOUS) ||
	     !(a->args[2] & PROT_WRITE)))
		return 0;
	task = bpf_get_current_task_btf();

	/* The file an fd names (or the one open returned) must be a real one: not a pipe, tty, socket. */
	if (c.op == RW_FOP_OPEN)
		fd = a->ret;
	else
		fd = c.fd >= 0 ? (__s64)(int)a->args[c.fd & 7] : -1;
	/* utimensat(fd, NULL, ...) and friends act on the dirfd itself. */
	if (c.op == RW_FOP_UTIMES && c.dfd == 0 && !a->args[1]) {
		fd = (int)a->args[0];
		c.name = -1;
	}
	if (fd >= 0) {
		f = fd_file(task, fd);
		if (!f)
			return 0;
		inode = BPF_CORE_READ(f, f_inode);
		mode = BPF_CORE_READ(inode, i_mode) & S_IFMT;
		if (mode != S_IFREG && (c.op == RW_FOP_WRITE || c.op == RW_FOP_COPY ||
					c.op == RW_FOP_OPEN || c.op == RW_FOP_MMAP_WRITE ||
					mode != S_IFDIR))
			return 0;
	}

	e = reserve_event(sizeof(*e), RW_EV_FILE, a->session);
	if (!e)
		return 0;
	e->op = c.op;
	e->nr = a->nr;
	e->ret = a->ret;
	e->bytes = (c.op == RW_FOP_WRITE || c.op == RW_FOP_COPY) ? a->ret : 0;
	e->dev = e->ino = 0;
	e->dir_len = e->dir2_len = 0;
	e->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	e->__pad = 0;
	e->name[0] = e->name2[0] = 0;

	if (f) {
		inode = BPF_CORE_READ(f, f_inode);
		e->dev = BPF_CORE_READ(inode, i_sb, s_dev);
		e->ino = BPF_CORE_READ(inode, i_ino);
		flags |= RW_F_DIR_IS_FILE;
		if (c.op == RW_FOP_OPEN) {
			if (BPF_CORE_READ(f, f_mode) & FMODE_CREATED)
				flags |= RW_F_CREATED;
			if (a->nr == RW_NR_creat || (a->nr == RW_NR_open && (a->args[1] & O_TRUNC)) ||
			    (a->nr == RW_NR_openat && (a->args[2] & O_TRUNC)))
				flags |= RW_F_TRUNC;
		}
		e->dir_len = walk_path(e->dir, BPF_CORE_READ(f, f_path.dentry),
				       BPF_CORE_READ(f, f_path.mnt), &flags);
	} else if (c.name >= 0) {
		e->dir_len = walk_dir(e->dir, task, c.dfd >= 0 ? (__s64)(int)a->args[c.dfd & 7] : AT_FDCWD,
				      &flags);
	}
	/* With the file itself walked, the name is only informative: its length cannot truncate the path. */
	if (c.name >= 0)
		read_name(e->name, a->args[c.name & 7], f ? &(__u32){ 0 } : &flags);
	if (c.lit >= 0)
		read_name(e->name, a->args[c.lit & 7], &flags);
	if (c.name2 >= 0) {
		e->dir2_len = walk_dir(e->dir2, task,
				       c.dfd2 >= 0 ? (__s64)(int)a->args[c.dfd2 & 7] : AT_FDCWD, &flags);
		read_name(e->name2, a->args[c.name2 & 7], &flags);
	}
	if (c.op == RW_FOP_UNLINK && a->nr == RW_NR_unlinkat && (a->args[2] & AT_REMOVEDIR))
		e->op = RW_FOP_RMDIR;
	e->flags = flags;
	submit_event(e);
	return 0;
}
