// SPDX-License-Identifier: GPL-2.0-only
/*
 * read(2) and write(2) of a guest on a file the kernel holds as a host fd
 * (an overlay file, a tmpfs memfd): the bytes go between the file and the
 * guest's memory through one buffer here, with no JavaScript buffer and
 * one call into the addon. As filemap_read() and generic_perform_write()
 * do, a fault in the guest's buffer ends the transfer with the count
 * moved so far, and -EFAULT only when nothing moved.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tracer.h"

#define FILE_IO_CHUNK (128 * 1024)

static char io_buf[FILE_IO_CHUNK];

/* @len bytes between @buf here and the guest's @addr: bytes moved (short at a fault) or -1 with errno. */
ssize_t guest_copy(pid_t pid, uint64_t addr, void *buf, size_t len, int to_guest)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };

	if (to_guest)
		return process_vm_writev(pid, &local, 1, &remote, 1, 0);
	return process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

/*
 * Write @len bytes at the stopped tracee @pid's @addr through page
 * protection (FOLL_FORCE), as the kernel's own loader and a debugger may:
 * PTRACE_POKEDATA a word at a time, the words at either end read first.
 * (Not /proc/PID/mem: the kernel thread writes nothing under /proc.)
 * Returns @len, or -errno with a prefix written.
 */
long guest_poke(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	const unsigned char *src = buf;
	size_t done = 0;

	while (done < len) {
		uint64_t at = (addr + done) & ~7ULL;
		size_t skip = (size_t)(addr + done - at);
		size_t take = len - done < 8 - skip ? len - done : 8 - skip;
		long word;

		if (skip || take < 8) {
			errno = 0;
			word = ptrace(PTRACE_PEEKDATA, pid, (void *)(uintptr_t)at, 0);
			if (word == -1 && errno)
				return -errno;
		}
		memcpy((unsigned char *)&word + skip, src + done, take);
		if (ptrace(PTRACE_POKEDATA, pid, (void *)(uintptr_t)at, (void *)word) < 0)
			return -errno;
		done += take;
	}
	return (long)len;
}

/* Up to @len bytes of @fd at @pos into the guest's @addr. */
long file_to_guest(int fd, uint64_t pos, pid_t pid, uint64_t addr, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t want = len - done < FILE_IO_CHUNK ? len - done : FILE_IO_CHUNK;
		ssize_t got, put;

		do
			got = pread(fd, io_buf, want, (off_t)(pos + done));
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return done ? (long)done : -errno;
		if (got == 0)
			break;
		put = guest_copy(pid, addr + done, io_buf, (size_t)got, 1);
		if (put <= 0)
			return done ? (long)done : -EFAULT;
		done += (size_t)put;
		if (put < got || (size_t)got < want)
			break;
	}
	return (long)done;
}

/* Up to @len bytes from the guest's @addr into @fd at @pos. */
long guest_to_file(int fd, uint64_t pos, pid_t pid, uint64_t addr, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t want = len - done < FILE_IO_CHUNK ? len - done : FILE_IO_CHUNK;
		ssize_t got, off = 0;

		got = guest_copy(pid, addr + done, io_buf, want, 0);
		if (got <= 0)
			return done ? (long)done : -EFAULT;
		while (off < got) {
			ssize_t w = pwrite(fd, io_buf + off, (size_t)(got - off),
					   (off_t)(pos + done + (size_t)off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				/* a full disk after some bytes: the count so far */
				if (done + (size_t)off)
					return (long)(done + (size_t)off);
				return w < 0 ? -errno : -EIO;
			}
			off += w;
		}
		done += (size_t)got;
		if ((size_t)got < want)
			break;
	}
	return (long)done;
}
