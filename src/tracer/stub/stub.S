/*
 * vmctl-stub: the image every fresh guest host process starts from.
 *
 * The tracer execs this once (the "zygote") under PTRACE_SEIZE and forks
 * fresh guest processes from it by injecting clone(). It owns the code
 * the guest kernel needs to build a guest image in that process: a
 * `syscall` instruction to inject single calls through, and a batch
 * runner that makes a whole list of calls in one tracer round trip. The
 * guest kernel unmaps this text once the guest image is in place, so a
 * running guest's address space holds nothing of ours.
 */
	.globl	_start
	.text
_start:
	syscall		/* injection site: the tracer points rip here */
	ud2		/* never reached: every resume sets rip */

/*
 * batch (at _start + 16): rdi = table, rsi = count. Each 64-byte entry is
 * nr, six arguments, and the result slot the runner fills in. Ends with
 * int3, the tracer's signal that the batch is done.
 */
	.org	16
batch:
	movq	%rdi, %rbx
	movq	%rsi, %r12
1:	testq	%r12, %r12
	jz	2f
	movq	0(%rbx), %rax
	movq	8(%rbx), %rdi
	movq	16(%rbx), %rsi
	movq	24(%rbx), %rdx
	movq	32(%rbx), %r10
	movq	40(%rbx), %r8
	movq	48(%rbx), %r9
	syscall
	movq	%rax, 56(%rbx)
	addq	$64, %rbx
	decq	%r12
	jmp	1b
2:	int3
	ud2
	.section .note.GNU-stack,"",@progbits
