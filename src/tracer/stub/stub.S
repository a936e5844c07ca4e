/*
 * vmctl-stub: the image every fresh guest host process starts from.
 *
 * The tracer execs this once (the "zygote") under PTRACE_SEIZE and forks
 * fresh guest processes from it by injecting clone(). Its only job is to
 * own a `syscall` instruction at a known address through which the tracer
 * injects the mmap/munmap calls that build a guest image; the guest kernel
 * unmaps this text once the guest image is in place, so a running guest's
 * address space holds nothing of ours.
 */
	.globl	_start
	.text
_start:
	syscall		/* injection site: the tracer points rip here */
	ud2		/* never reached: every resume sets rip */
	.section .note.GNU-stack,"",@progbits
