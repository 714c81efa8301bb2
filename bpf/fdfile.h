/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/* Helpers shared by the probe (saker.bpf.c) and the response guard
 * (guard.bpf.c). Include after vmlinux.h and bpf_core_read.h. */
#ifndef SAKER_FDFILE_H
#define SAKER_FDFILE_H

/* fd_file returns the open file of descriptor fd of task, or NULL. */
static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	if (fd < 0)
		return 0;
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	if (!fds || fd >= max)
		return 0;
	struct file *f = 0;
	bpf_core_read(&f, sizeof(f), &fds[fd]);
	return f;
}

#endif
