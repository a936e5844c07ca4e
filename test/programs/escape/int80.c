// SPDX-License-Identifier: GPL-2.0-only
/*
 * Escape class 3 of issue 11: the i386 entry points of a 64-bit guest.
 *
 * With --strict every syscall stops (PTRACE_SYSEMU), int $0x80 too, and the
 * old kernel serves it as if its number were an x86-64 syscall. When that
 * syscall is one it runs by injection, the injection re-executes the
 * instruction at rip - 2, the int $0x80 itself: the host runs the i386
 * syscall of that number, with the i386 argument registers (ebx, ecx, ...)
 * the guest chose and the injection does not set.
 *
 *   int80 unlink PATH	eax 10: x86-64 mprotect, i386 unlink(ebx)
 *   int80 link SRC DST	eax 9: x86-64 mmap, i386 link(ebx, ecx)
 *   int80 signal		eax 20 (i386 getpid): how the process ends. A
 *			Linux built without IA32 emulation kills it with
 *			SIGSEGV, which is what the guest must get.
 *   int80 sysenter PATH	sysenter with eax 10, ebx PATH
 *   int80 far-int80 PATH	32-bit code (a far return to cs 0x23) doing
 *			int $0x80 with eax 10, ebx PATH
 *   int80 far-syscall PATH	the same with syscall
 *
 * Each runs in a child process (it may well die of it); the parent prints
 *
 *     ESCAPE int80-<what> <won|held> status=<exit:N|signal:N> ret=<eax>
 *
 * "won" when the call returned 0, which only the host's i386 call gives
 * here; the test judges by the host paths and, for "signal", the status.
 */
#include "escape.h"
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE		4096UL
#define USER32_CS	0x23
#define USER_CS		0x33
#define USER_DS		0x2b	/* a null %ds faults in 32-bit code */

/* Below 4 GiB (MAP_32BIT): paths, the 32-bit code and its stack. */
static unsigned char *low;
static unsigned char *low_data;	/* a page an x86-64 mprotect may name */
static char *path0, *path1;
static volatile int32_t result = -1;

static void setup_low(const char *a0, const char *a1)
{
	void *m;

	m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (m == MAP_FAILED)
		die("mmap MAP_32BIT: %s", strerror(errno));
	if ((uintptr_t)m + 4 * PAGE > 0x80000000UL)
		die("MAP_32BIT mapping above 2 GiB: %p", m);
	low = m;
	low_data = low + 3 * PAGE;
	path0 = (char *)low + PAGE;
	path1 = (char *)low + PAGE + PAGE / 2;
	if (a0 && strlen(a0) >= PAGE / 2)
		die("path too long");
	if (a1 && strlen(a1) >= PAGE / 2)
		die("path too long");
	strcpy(path0, a0 ? a0 : "");
	strcpy(path1, a1 ? a1 : "");
}

/* int $0x80 from 64-bit code, x86-64 argument registers set for @nr too. */
static long int80(long nr, unsigned long rdi, unsigned long rsi,
		  unsigned long rdx, unsigned long rbx, unsigned long rcx)
{
	register unsigned long r10 asm("r10") = MAP_PRIVATE | MAP_ANONYMOUS;
	register long r8 asm("r8") = -1;
	register unsigned long r9 asm("r9") = 0;
	long ret = nr;

	asm volatile("int $0x80"
		     : "+a"(ret), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+b"(rbx),
		       "+c"(rcx), "+r"(r10), "+r"(r8), "+r"(r9)
		     :
		     : "r11", "memory");
	return ret;
}

static long do_sysenter(long nr, unsigned long rdi, unsigned long rsi,
			unsigned long rdx, unsigned long rbx)
{
	long ret = nr;

	asm volatile("push %%rbp\n\t"
		     "sysenter\n\t"
		     "pop %%rbp"
		     : "+a"(ret), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+b"(rbx)
		     :
		     : "rcx", "r8", "r9", "r10", "r11", "memory");
	return ret;
}

static void put(unsigned char **p, const void *bytes, size_t n)
{
	memcpy(*p, bytes, n);
	*p += n;
}

static void put8(unsigned char **p, unsigned char b)
{
	put(p, &b, 1);
}

static void put32(unsigned char **p, uint32_t v)
{
	put(p, &v, 4);
}

/*
 * 32-bit code at @low: a usable %ds, eax 10, ebx PATH, then int $0x80 or syscall, eax to
 * `result`, and a far return to 64-bit code at @back (in this program's
 * text, below 4 GiB: a static binary that is not PIE). The x86-64
 * arguments of mprotect (rdi, rsi, rdx) are set before the switch.
 */
static void build_code32(int use_syscall, uintptr_t back)
{
	unsigned char *p = low;

	put8(&p, 0x6a);					/* push $USER_DS */
	put8(&p, USER_DS);
	put8(&p, 0x1f);					/* pop %ds */
	put8(&p, 0xb8);					/* mov $10, %eax */
	put32(&p, 10);
	put8(&p, 0xbb);					/* mov $path0, %ebx */
	put32(&p, (uint32_t)(uintptr_t)path0);
	if (use_syscall) {
		put8(&p, 0x0f);				/* syscall */
		put8(&p, 0x05);
	} else {
		put8(&p, 0xcd);				/* int $0x80 */
		put8(&p, 0x80);
	}
	put8(&p, 0xa3);					/* mov %eax, result */
	put32(&p, (uint32_t)(uintptr_t)&result);
	put8(&p, 0x6a);					/* push $USER_CS */
	put8(&p, USER_CS);
	put8(&p, 0x68);					/* push $back */
	put32(&p, (uint32_t)back);
	put8(&p, 0xcb);					/* lret */
}

extern const char back64[];

static __attribute__((noinline)) void far_call_32(void)
{
	static unsigned long saved_rsp;
	unsigned long stack_top = (uintptr_t)low + 3 * PAGE - 64;

	asm volatile("mov %%rsp, %[saved]\n\t"
		     "mov %[stack], %%rsp\n\t"
		     "pushq %[cs]\n\t"
		     "pushq %[code]\n\t"
		     "lretq\n"
		     ".globl back64\n"
		     "back64:\n\t"
		     "mov %[saved], %%rsp"
		     : [saved] "+m"(saved_rsp)
		     : [stack] "r"(stack_top), [cs] "i"(USER32_CS),
		       [code] "r"((uintptr_t)low),
		       "D"((uintptr_t)low_data), "S"(PAGE),
		       "d"(PROT_READ | PROT_WRITE)
		     : "rax", "rbx", "rcx", "r8", "r9", "r10", "r11",
		       "memory");
}

static long run_child(const char *what)
{
	if (strcmp(what, "unlink") == 0)
		return int80(10, (uintptr_t)low_data, PAGE,
			     PROT_READ | PROT_WRITE, (uintptr_t)path0, 0);
	if (strcmp(what, "link") == 0)
		return int80(9, 0, PAGE, PROT_READ | PROT_WRITE,
			     (uintptr_t)path0, (uintptr_t)path1);
	if (strcmp(what, "signal") == 0)
		return int80(20, (unsigned long)-1, 0, 0, 0, 0);
	if (strcmp(what, "sysenter") == 0)
		return do_sysenter(10, (uintptr_t)low_data, PAGE,
				   PROT_READ | PROT_WRITE, (uintptr_t)path0);
	if (strcmp(what, "far-int80") == 0 || strcmp(what, "far-syscall") == 0) {
		if ((uintptr_t)back64 > 0x7fffffffUL)
			die("not a non-PIE static binary: back64 at %p", back64);
		build_code32(strcmp(what, "far-syscall") == 0, (uintptr_t)back64);
		far_call_32();
		return result;
	}
	die("unknown attack %s", what);
}

int main(int argc, char **argv)
{
	char status[64];
	int pipefd[2], wstatus;
	long ret = 0;
	ssize_t n;
	pid_t pid;

	if (argc < 2 || argc > 4)
		die("usage: int80 unlink PATH | link SRC DST | signal | sysenter PATH | far-int80 PATH | far-syscall PATH");
	setup_low(argc > 2 ? argv[2] : NULL, argc > 3 ? argv[3] : NULL);
	if (pipe(pipefd) != 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (close(pipefd[0]) != 0)
			_exit(3);
		ret = run_child(argv[1]);
		if (write(pipefd[1], &ret, sizeof(ret)) != sizeof(ret))
			_exit(3);
		_exit(0);
	}
	if (close(pipefd[1]) != 0)
		die("close: %s", strerror(errno));
	n = read(pipefd[0], &ret, sizeof(ret));
	if (n < 0)
		die("read: %s", strerror(errno));
	if (close(pipefd[0]) != 0)
		die("close: %s", strerror(errno));
	if (waitpid(pid, &wstatus, 0) != pid)
		die("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(wstatus))
		xsnprintf(status, sizeof(status), "signal:%d", WTERMSIG(wstatus));
	else
		xsnprintf(status, sizeof(status), "exit:%d", WEXITSTATUS(wstatus));
	if (n == sizeof(ret))
		say("ESCAPE int80-%s %s status=%s ret=%ld", argv[1],
		    ret == 0 ? "won" : "held", status, ret);
	else
		say("ESCAPE int80-%s held status=%s ret=none", argv[1], status);
	return 0;
}
