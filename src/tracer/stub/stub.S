/*
 * vmctl-stub: the image every fresh guest host process starts from.
 *
 * The tracer execs this once (the "zygote") under PTRACE_SEIZE and forks
 * fresh guest processes from it with a batch of one clone(). It owns what
 * the guest kernel needs to build a guest image in that process: a
 * `syscall` instruction to inject single calls through, a batch runner
 * that makes a whole list of calls in one tracer round trip, and scratch
 * memory for the runner's table and the data its calls point to. The
 * last call of an image's batch unmaps all of it, so a running guest's
 * address space holds nothing of ours.
 */
	.globl	_start
	.text
_start:
	syscall		/* injection site: the tracer points rip here */
	ud2		/* never reached: every resume sets rip */

/*
 * batch (at _start + 16): rdi = table, rsi = count. Each 64-byte entry is
 * nr, six arguments, and the result the call must give; 1 << 63 stands
 * for any success (not -4095..-1). The runner stops at int3 once every
 * call gave what it should (r12 = 0), or at the first that did not (r12 =
 * the calls left, that one included; rax = its result). A call that
 * unmaps the runner itself ends the batch with a fault on the fetch of
 * the next instruction: nothing after it runs.
 */
	.org	16
batch:
	movq	%rdi, %rbx
	movq	%rsi, %r12
1:	testq	%r12, %r12
	jz	3f
	movq	0(%rbx), %rax
	movq	8(%rbx), %rdi
	movq	16(%rbx), %rsi
	movq	24(%rbx), %rdx
	movq	32(%rbx), %r10
	movq	40(%rbx), %r8
	movq	48(%rbx), %r9
	syscall
	movq	56(%rbx), %rcx
	cmpq	%rcx, %rax
	je	2f
	movabsq	$0x8000000000000000, %rdx
	cmpq	%rdx, %rcx
	jne	3f		/* another result was expected */
	cmpq	$-4095, %rax
	jae	3f		/* unsigned: -4095..-1, an error */
2:	addq	$64, %rbx
	decq	%r12
	jmp	1b
3:	int3
	ud2

/* The batch's table and data: zero pages until a batch writes them. */
	.bss
	.balign	4096
scratch:
	.space	8 * 4096
	.section .note.GNU-stack,"",@progbits
