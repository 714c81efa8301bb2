/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* The walk up from a dentry to the root of the task's mount namespace,
 * shared by the probe (saker.bpf.c: a path's names) and the response guard
 * (guard.bpf.c: a path for its prefix trie). Include after vmlinux.h and
 * bpf_core_read.h. Each runs it one step per bpf_loop call and takes the
 * name of every DWALK_NAME step its own way. */
#ifndef SAKER_DWALK_H
#define SAKER_DWALK_H

struct dwalk {
	struct dentry *d, *root; /* where the walk is; its mount's root */
	struct mount *mnt;
};

/* dwalk_start starts a walk at dentry d on mount vm. */
static __always_inline struct dwalk dwalk_start(struct dentry *d, struct vfsmount *vm)
{
	return (struct dwalk){
		.d = d,
		.root = BPF_CORE_READ(vm, mnt_root),
		.mnt = container_of(vm, struct mount, mnt),
	};
}

enum {
	DWALK_TOP,     /* w->d is the root: the walk is over */
	DWALK_CROSSED, /* w->d was its mount's root: now at the mount point */
	DWALK_NAME,    /* w->d has a name to take; its parent is in *parent */
};

/* dwalk_step takes one step up from w->d (see the DWALK_ values). After a
 * DWALK_NAME step the caller takes w->d's name, then sets w->d = *parent. */
static __always_inline int dwalk_step(struct dwalk *w, struct dentry **parent)
{
	/* Locals, not w->…: BPF_CORE_READ would relocate the walk's own
	 * fields against kernel types too. */
	struct dentry *d = w->d;
	if (d == w->root) {
		struct mount *mnt = w->mnt;
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt)
			return DWALK_TOP;
		w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->root = BPF_CORE_READ(up, mnt.mnt_root);
		return DWALK_CROSSED;
	}
	struct dentry *p = BPF_CORE_READ(d, d_parent);
	if (d == p)
		return DWALK_TOP;
	*parent = p;
	return DWALK_NAME;
}

#endif
