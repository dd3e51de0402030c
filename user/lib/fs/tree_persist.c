// SPDX-License-Identifier: GPL-2.0-only
/*
 * A tree image's manifest on disk, so that a rewindd started after a crash
 * can finish a rollback with the dead one's content store (see
 * tree_image.h, fsimage_save and fsimage_load).
 *
 * Format, little-endian as the machine writes it (a manifest never leaves
 * the machine, nor the boot: recovery only reads those of its own boot):
 *   "RWTREE1\n", u64 nentries, u64 ninodes, u64 nobjects, u64 root_dev,
 *   str root;
 *   per inode: u64 dev, ino, object, size, hash.low64, hash.high64;
 *   per entry, breadth-first: u32 parent (UINT32_MAX for the root), str
 *   name, u32 mode, uid, gid, u64 size, rdev, i64 atime s, ns, mtime s, ns,
 *   u8 mountpoint, u32 inode, str target (len UINT32_MAX: none), u32
 *   nxattrs and per xattr str name, str value;
 *   u64 XXH3-64 of everything before it.
 * A str is a u32 length and its bytes. Every count and index is checked at
 * load: a truncated or damaged manifest is refused, never half used.
 */
#define LOG_PREFIX "fsimage: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <xxhash.h>

#include "bytebuf.h"
#include "fileio.h"
#include "log.h"
#include "tree_internal.h"

#define MAGIC		"RWTREE1\n"
#define MAGIC_LEN	8
#define NO_PARENT	UINT32_MAX
#define NO_TARGET	UINT32_MAX
#define MANIFEST_MAX	(1ull << 32)

/* ---- writing ------------------------------------------------------------- */

struct out {
	struct bytebuf b;
	bool nomem;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (!o->nomem && bytebuf_append(&o->b, p, n, 4096))
		o->nomem = true;
}

static void put_u8(struct out *o, uint8_t v) { put(o, &v, sizeof(v)); }
static void put_u32(struct out *o, uint32_t v) { put(o, &v, sizeof(v)); }
static void put_u64(struct out *o, uint64_t v) { put(o, &v, sizeof(v)); }

static void put_bytes(struct out *o, const void *p, size_t n)
{
	put_u32(o, n);
	put(o, p, n);
}

static void put_str(struct out *o, const char *s)
{
	put_bytes(o, s, strlen(s));
}

static void put_entry(struct out *o, const struct fs_entry *e)
{
	put_u32(o, e->parent ? e->parent->index : NO_PARENT);
	put_str(o, e->parent ? e->name : "");
	put_u32(o, e->mode);
	put_u32(o, e->uid);
	put_u32(o, e->gid);
	put_u64(o, e->size);
	put_u64(o, e->rdev);
	put_u64(o, e->atime.tv_sec);
	put_u64(o, e->atime.tv_nsec);
	put_u64(o, e->mtime.tv_sec);
	put_u64(o, e->mtime.tv_nsec);
	put_u8(o, e->mountpoint);
	put_u32(o, e->inode->index);
	if (e->target)
		put_str(o, e->target);
	else
		put_u32(o, NO_TARGET);
	put_u32(o, e->nxattrs);
	for (uint32_t i = 0; i < e->nxattrs; i++) {
		put_str(o, e->xattrs[i].name);
		put_bytes(o, e->xattrs[i].value, e->xattrs[i].len);
	}
}

int tree_manifest_format(const struct rw_fsimage *img, uint64_t nobjects, char **buf, size_t *len)
{
	struct out o = { 0 };

	put(&o, MAGIC, MAGIC_LEN);
	put_u64(&o, img->nentries);
	put_u64(&o, img->ninodes);
	put_u64(&o, nobjects);
	put_u64(&o, img->root_dev);
	put_str(&o, img->root);
	for (size_t i = 0; i < img->ninodes; i++) {
		const struct fs_inode *ino = img->inodes[i];

		put_u64(&o, ino->dev);
		put_u64(&o, ino->ino);
		put_u64(&o, ino->object);
		put_u64(&o, ino->size);
		put_u64(&o, ino->hash.low64);
		put_u64(&o, ino->hash.high64);
	}
	for (size_t i = 0; i < img->nentries; i++)
		put_entry(&o, img->entries[i]);
	if (!o.nomem)
		put_u64(&o, XXH3_64bits(o.b.p, o.b.len));
	if (o.nomem) {
		free(o.b.p);
		return -ENOMEM;
	}
	*buf = o.b.p;
	*len = o.b.len;
	return 0;
}

int fsimage_save(const struct rw_fsimage *img, const char *path, char *why, size_t whylen)
{
	char *buf;
	size_t len;
	int err = tree_manifest_format(img, img->store.nobjects, &buf, &len);

	/* A crash leaves no manifest or a whole one. */
	if (!err) {
		err = write_file_atomically(path, buf, len, 0600);
		free(buf);
	}
	return err ? rw_why(why, whylen, err, "saving the manifest of %s to %s", img->root, path) : 0;
}

/* ---- reading ------------------------------------------------------------- */

struct in {
	const char *p, *end;
	bool bad;
};

static bool get(struct in *in, void *v, size_t n)
{
	if (in->bad || (size_t)(in->end - in->p) < n) {
		in->bad = true;
		memset(v, 0, n);
		return false;
	}
	memcpy(v, in->p, n);
	in->p += n;
	return true;
}

static uint8_t get_u8(struct in *in) { uint8_t v; get(in, &v, sizeof(v)); return v; }
static uint32_t get_u32(struct in *in) { uint32_t v; get(in, &v, sizeof(v)); return v; }
static uint64_t get_u64(struct in *in) { uint64_t v; get(in, &v, sizeof(v)); return v; }

/* A malloc'd copy of the next str, NUL-terminated; *len its length. NULL: bad, or no memory. */
static char *get_bytes(struct in *in, uint32_t n, size_t *len)
{
	char *s;

	if (in->bad || (size_t)(in->end - in->p) < n) {
		in->bad = true;
		return NULL;
	}
	s = malloc((size_t)n + 1);
	if (s) {
		memcpy(s, in->p, n);
		s[n] = '\0';
	}
	in->p += n;
	if (len)
		*len = n;
	return s;
}

/* A name: one path component, no NUL inside. */
static bool component(const char *s, size_t len)
{
	return len && strlen(s) == len && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* A sibling of that name is in the manifest already. */
static bool named_already(const struct rw_fsimage *img, const struct fs_entry *parent,
			  const char *name, size_t len)
{
	char rel[PATH_MAX];
	int n = snprintf(rel, sizeof(rel), "%s%s%s", parent->rel, parent->rlen ? "/" : "", name);

	/* Too long to be a path: refused as well. */
	return n < 0 || (size_t)n >= sizeof(rel) || len > NAME_MAX || tree_lookup(img, rel, n);
}

/* What capture records: the seven types of a directory's entries. */
static bool known_type(mode_t mode)
{
	switch (TYPE(mode)) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFIFO: case S_IFCHR: case S_IFBLK:
	case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

static int load_entry(struct rw_fsimage *img, struct in *in, size_t i)
{
	uint32_t parent = get_u32(in), nlen = get_u32(in), tlen, ix, nx;
	uint8_t mountpoint;
	struct fs_entry *e = NULL, *p = NULL;
	char *name;
	size_t len;
	int err = 0;

	name = get_bytes(in, nlen, &len);
	if (in->bad || !name) {
		free(name);
		return in->bad ? -EBADMSG : -ENOMEM;
	}
	if (i == 0 ? parent != NO_PARENT || len : parent >= i || !component(name, len))
		err = -EBADMSG;
	else if (i && (p = img->entries[parent], !S_ISDIR(p->mode) || p->mountpoint))
		err = -EBADMSG;
	else if (i && named_already(img, p, name, len))
		err = -EBADMSG;
	else if (!(e = tree_new_entry(img, p, name)))
		err = -ENOMEM;
	free(name);
	if (err)
		return err;
	e->mode = get_u32(in);
	e->uid = get_u32(in);
	e->gid = get_u32(in);
	e->size = get_u64(in);
	e->rdev = get_u64(in);
	e->atime.tv_sec = get_u64(in);
	e->atime.tv_nsec = get_u64(in);
	e->mtime.tv_sec = get_u64(in);
	e->mtime.tv_nsec = get_u64(in);
	mountpoint = get_u8(in);
	e->mountpoint = mountpoint;
	ix = get_u32(in);
	if (in->bad || mountpoint > 1 || ix >= img->ninodes || !known_type(e->mode) ||
	    (i == 0 && !S_ISDIR(e->mode)))
		return -EBADMSG;
	e->inode = img->inodes[ix];
	if (PUSH(e->inode->names, e->inode->nnames, e->inode->cap, e))
		return -ENOMEM;
	tlen = get_u32(in);
	if (tlen != NO_TARGET) {
		e->target = get_bytes(in, tlen, &len);
		if (!e->target)
			return in->bad ? -EBADMSG : -ENOMEM;
		if (!S_ISLNK(e->mode) || strlen(e->target) != len)
			return -EBADMSG;
	} else if (S_ISLNK(e->mode) && !e->mountpoint) {
		return -EBADMSG;
	}
	nx = get_u32(in);
	/* Each takes at least its two lengths. */
	if (in->bad || nx > (size_t)(in->end - in->p) / 8)
		return -EBADMSG;
	e->xattrs = nx ? calloc(nx, sizeof(*e->xattrs)) : NULL;
	if (nx && !e->xattrs)
		return -ENOMEM;
	e->nxattrs = nx;
	for (uint32_t k = 0; k < e->nxattrs; k++) {
		struct fs_xattr *x = &e->xattrs[k];

		x->name = get_bytes(in, get_u32(in), &len);
		if (x->name && strlen(x->name) != len)
			return -EBADMSG;
		x->value = get_bytes(in, get_u32(in), &x->len);
		if (!x->name || !x->value)
			return in->bad ? -EBADMSG : -ENOMEM;
	}
	return 0;
}

/*
 * What capture guarantees and restores rely on: every inode is named, its
 * names are of one type, a directory has one name, and a regular file's
 * object is one the store holds.
 */
static bool inodes_consistent(const struct rw_fsimage *img, uint64_t nobjects)
{
	for (size_t i = 0; i < img->ninodes; i++) {
		const struct fs_inode *ino = img->inodes[i];
		const struct fs_entry *first = ino->nnames ? ino->names[0] : NULL;

		if (!first || (S_ISDIR(first->mode) && ino->nnames > 1))
			return false;
		for (uint32_t k = 1; k < ino->nnames; k++)
			if (TYPE(ino->names[k]->mode) != TYPE(first->mode) ||
			    ino->names[k]->mountpoint || first->mountpoint)
				return false;
		if (S_ISREG(first->mode) && !first->mountpoint && ino->object >= nobjects)
			return false;
	}
	return true;
}

static int parse(struct rw_fsimage *img, const char *text, size_t len, uint64_t *nobjects)
{
	struct in in = { .p = text, .end = text + len };
	uint64_t nentries, ninodes, sum;
	char magic[MAGIC_LEN];
	size_t rlen;
	int err;

	if (len < MAGIC_LEN + sizeof(sum))
		return -EBADMSG;
	memcpy(&sum, text + len - sizeof(sum), sizeof(sum));
	in.end -= sizeof(sum);
	if (sum != XXH3_64bits(text, len - sizeof(sum)))
		return -EBADMSG;
	get(&in, magic, MAGIC_LEN);
	if (memcmp(magic, MAGIC, MAGIC_LEN))
		return -EBADMSG;
	nentries = get_u64(&in);
	ninodes = get_u64(&in);
	*nobjects = get_u64(&in);
	img->root_dev = get_u64(&in);
	img->root = get_bytes(&in, get_u32(&in), &rlen);
	/* Bounded by what the file can hold: an entry takes more than 64 bytes, an inode 48. */
	if (in.bad || !img->root || rlen != strlen(img->root) ||
	    img->root[0] != '/' || !nentries || nentries > len / 64 || !ninodes ||
	    ninodes > nentries || *nobjects > ninodes)
		return img->root || in.bad ? -EBADMSG : -ENOMEM;
	img->rootlen = rlen;
	for (uint64_t i = 0; i < ninodes; i++) {
		uint64_t dev = get_u64(&in), ino = get_u64(&in);
		struct fs_inode *x = tree_new_inode(img, dev, ino);

		if (!x)
			return -ENOMEM;
		x->object = get_u64(&in);
		x->size = get_u64(&in);
		x->hash.low64 = get_u64(&in);
		x->hash.high64 = get_u64(&in);
	}
	for (uint64_t i = 0; i < nentries; i++) {
		err = load_entry(img, &in, i);
		if (err)
			return err;
	}
	if (in.bad || in.p != in.end || !inodes_consistent(img, *nobjects))
		return -EBADMSG;
	return 0;
}

int tree_manifest_parse(const char *text, size_t len, struct rw_fsimage **out, uint64_t *nobjects)
{
	struct rw_fsimage *img = calloc(1, sizeof(*img));
	int err;

	*out = NULL;
	if (!img)
		return -ENOMEM;
	img->heldfd = -1;
	img->store.dirfd = -1;
	img->tmask = 1023;
	img->table = calloc(img->tmask + 1, sizeof(*img->table));
	err = img->table ? parse(img, text, len, nobjects) : -ENOMEM;
	if (err) {
		fsimage_free(img);
		return err;
	}
	*out = img;
	return 0;
}

int fsimage_load(const char *path, int rootfd, const char *store_dir, struct rw_fsimage **out,
		 char *why, size_t whylen)
{
	struct rw_fsimage *img = NULL;
	uint64_t nobjects = 0;
	struct statx sx;
	char *text = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	err = read_whole_file(AT_FDCWD, path, MANIFEST_MAX, &text, &len);
	if (err) {
		err = rw_why(why, whylen, err, "reading the manifest %s", path);
		goto fail;
	}
	err = tree_manifest_parse(text, len, &img, &nobjects);
	if (err) {
		err = rw_why(why, whylen, err, "manifest %s%s", path,
			     err == -EBADMSG ? " is damaged" : "");
		goto fail;
	}
	/* The tree must be the one captured: same filesystem, same root directory. */
	if ((img->heldfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) < 0 ||
	    statx(rootfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, &sx)) {
		err = rw_why(why, whylen, -errno, "manifest %s: its tree %s", path, img->root);
		goto fail;
	}
	if (makedev(sx.stx_dev_major, sx.stx_dev_minor) != img->root_dev ||
	    sx.stx_ino != img->entries[0]->inode->ino) {
		err = rw_why(why, whylen, -ESTALE, "manifest %s: the directory given is not the "
			     "tree %s it was captured from", path, img->root);
		goto fail;
	}
	/*
	 * Possibly through another mount of it (the capture's went with its
	 * namespace): entries on other mounts are told from this one's.
	 */
	img->have_mnt_id = sx.stx_mask & STATX_MNT_ID;
	img->root_mnt_id = sx.stx_mnt_id;
	err = fsstore_adopt(&img->store, store_dir, nobjects, why, whylen);
	if (err)
		goto fail;
	free(text);
	*out = img;
	return 0;
fail:
	free(text);
	fsimage_free(img);
	return err;
}
