/*
 * execve's limits on arguments and environment (execve(2), "Limits on size
 * of arguments and environment"): each string at most MAX_ARG_STRLEN (32
 * pages, 128 KiB with its NUL), all strings and their pointers at most a
 * quarter of RLIMIT_STACK (no more than 3/4 of 8 MiB, no less than 128 KiB).
 *
 * Run from its own directory as ./execargs. The parent execs ./execargs
 * (and a #! script naming it) with made-up arguments and environments and
 * prints one line per case: what execve returned, or what the child saw.
 * Boundaries are found by bisection, so a kernel that counts one byte
 * differently prints a different number. Everything printed is the same
 * on any Linux with the same rules: the test compares a guest with the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* the first environment string of a child; "=0": check quietly */
#define CHILD_MARK "EXECARGS_CHILD=1"
#define QUIET_MARK "EXECARGS_CHILD=0"
#define MAX_STRINGS 64

/* String @i of a case: a name and a pattern the child can check. */
static char *make_string(int i, size_t len)
{
	char *s = malloc(len + 1);
	size_t j;

	if (!s) {
		perror("malloc");
		exit(1);
	}
	for (j = 0; j < len; j++)
		s[j] = (char)('a' + (i * 7 + j) % 26);
	if (len >= 3) {
		s[0] = 'V';
		s[1] = (char)('A' + i % 26);
		s[2] = '=';
	}
	s[len] = 0;
	return s;
}

static int check_string(int i, const char *s)
{
	size_t j, len = strlen(s);

	for (j = 3; j < len; j++)
		if (s[j] != (char)('a' + (i * 7 + j) % 26))
			return 0;
	return len < 3 || (s[0] == 'V' && s[1] == (char)('A' + i % 26) && s[2] == '=');
}

/* The child: check every string after the mark, report, test its stack. */
static int child(int argc, char **argv, char **envp)
{
	unsigned long lo, hi, sp = (unsigned long)&argc;
	size_t bytes = 0;
	char line[512];
	int n = 0, ok = 1, in_stack = 0, covers = 0, i;
	FILE *maps;

	for (i = 1; envp[i]; i++, n++) {
		bytes += strlen(envp[i]) + 1;
		ok &= check_string(n, envp[i]);
	}
	maps = fopen("/proc/self/maps", "r");
	while (maps && fgets(line, sizeof(line), maps)) {
		if (!strstr(line, "[stack]") || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		in_stack = sp >= lo && sp < hi;
		/* Linux maps the strings' pages and 128 KiB more below them */
		covers = hi - lo >= bytes + 128 * 1024;
	}
	if (maps)
		fclose(maps);
	if (!strcmp(envp[0], QUIET_MARK))
		return ok ? 0 : 1;
	printf("  child: argc %d argv0 \"%.20s\" strings %d bytes %zu intact %d sp-in-[stack] %d [stack]-covers %d\n",
	       argc, argc > 0 ? argv[0] : "(none)", n, bytes, ok, in_stack, covers);
	return 0;
}

struct run {
	int err;	/* errno of execve, 0 if it ran */
	int status;	/* the child's wait status */
};

/* fork, exec @path with @argv and the mark plus @env, wait. */
static struct run run_exec(const char *mark, const char *path, char **argv, char **env, int nenv)
{
	char *envp[MAX_STRINGS + 2];
	struct run r = { 0, 0 };
	int pipefd[2], i, e;
	pid_t pid;

	envp[0] = (char *)mark;
	for (i = 0; i < nenv; i++)
		envp[i + 1] = env[i];
	envp[nenv + 1] = NULL;
	fflush(stdout);
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		perror("pipe2");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		close(pipefd[0]);
		execve(path, argv, envp);
		e = errno;
		if (write(pipefd[1], &e, sizeof(e)) != sizeof(e))
			_exit(126);
		_exit(127);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &r.err, sizeof(r.err)) != sizeof(r.err))
		r.err = 0;
	close(pipefd[0]);
	if (waitpid(pid, &r.status, 0) != pid) {
		perror("waitpid");
		exit(1);
	}
	return r;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "ok";
	case E2BIG: return "E2BIG";
	case EFAULT: return "EFAULT";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case ENOEXEC: return "ENOEXEC";
	default: return "other";
	}
}

static char *self_argv[] = { "./execargs", "x", NULL };

/* One case: @n strings of @len bytes, the last one @last bytes. */
static void env_case(const char *name, const char *path, char **argv, int n, size_t len, size_t last)
{
	char *env[MAX_STRINGS];
	struct run r;
	int i;

	for (i = 0; i < n; i++)
		env[i] = make_string(i, i == n - 1 ? last : len);
	printf("%s:\n", name);
	r = run_exec(CHILD_MARK, path, argv, env, n);
	printf("  execve %s, status %#x\n", errname(r.err), r.status);
	for (i = 0; i < n; i++)
		free(env[i]);
}

/*
 * The longest last string (of @n, the others @len bytes) that still
 * execs, by bisection over [0, 128 KiB): the kernel's exact total limit.
 */
static void boundary(const char *name, const char *path, char **argv, int n, size_t len)
{
	char *env[MAX_STRINGS];
	size_t lo = 0, hi = 128 * 1024, mid;
	struct run r;
	int i;

	for (i = 0; i < n - 1; i++)
		env[i] = make_string(i, len);
	env[n - 1] = NULL;
	/* invariant: lo execs, hi does not */
	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		env[n - 1] = make_string(n - 1, mid);
		r = run_exec(QUIET_MARK, path, argv, env, n);
		free(env[n - 1]);
		if (r.err == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)
			lo = mid;
		else if (r.err == E2BIG)
			hi = mid;
		else {
			printf("%s: unexpected %s (errno %d) status %#x at %zu\n", name, errname(r.err), r.err, r.status, mid);
			break;
		}
	}
	printf("%s: longest last string %zu\n", name, lo);
	for (i = 0; i < n - 1; i++)
		free(env[i]);
}

static void with_stack_limit(rlim_t cur)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_STACK, &rl) < 0) {
		perror("getrlimit");
		exit(1);
	}
	rl.rlim_cur = cur;
	if (setrlimit(RLIMIT_STACK, &rl) < 0) {
		perror("setrlimit");
		exit(1);
	}
}

int main(int argc, char **argv, char **envp)
{
	static char *no_args[] = { NULL };
	char *one_big[2], *script_argv[] = { "script-arg0", "y", NULL };
	int fd;

	if (envp[0] && !strncmp(envp[0], CHILD_MARK, strlen(CHILD_MARK) - 1))
		return child(argc, argv, envp);
	with_stack_limit(8 << 20);

	/* about 1 MiB of environment reaches the child intact */
	env_case("env_1mib", "./execargs", self_argv, 10, 110000, 110000);
	env_case("env_2mib_over", "./execargs", self_argv, 20, 110000, 110000);
	/* one string: MAX_ARG_STRLEN counts the NUL */
	env_case("env_string_longest", "./execargs", self_argv, 1, 0, 128 * 1024 - 1);
	env_case("env_string_too_long", "./execargs", self_argv, 1, 0, 128 * 1024);
	one_big[0] = make_string(0, 128 * 1024);
	one_big[1] = NULL;
	env_case("arg_string_too_long", "./execargs", one_big, 0, 0, 0);
	free(one_big[0]);
	one_big[0] = make_string(0, 128 * 1024 - 1);
	env_case("arg_string_longest", "./execargs", one_big, 0, 0, 0);
	free(one_big[0]);
	/* no argv at all: Linux makes it {""} and counts one pointer */
	env_case("argc_zero", "./execargs", no_args, 1, 0, 100);
	boundary("boundary_argc_zero", "./execargs", no_args, 18, 120000);

	/* the total, pointers and file name included */
	boundary("boundary_8mib", "./execargs", self_argv, 18, 120000);
	boundary("boundary_8mib_many", "./execargs", self_argv, 60, 34000);
	/* errors of the file come before the size */
	env_case("missing_file_over", "./no-such-program", self_argv, 20, 110000, 110000);

	/* #!: the interpreter's strings count too */
	fd = open("execargs.sh", O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0 || write(fd, "#!./execargs an-arg\n", 20) != 20 || close(fd) < 0) {
		perror("execargs.sh");
		return 1;
	}
	env_case("script_env_1mib", "./execargs.sh", script_argv, 10, 110000, 110000);
	boundary("boundary_script", "./execargs.sh", script_argv, 18, 120000);

	/* a quarter of RLIMIT_STACK ... */
	with_stack_limit(1 << 20);
	boundary("boundary_1mib_rlimit", "./execargs", self_argv, 3, 100000);
	/* ... but never below 128 KiB (ARG_MAX) ... */
	with_stack_limit(256 << 10);
	boundary("boundary_256kib_rlimit", "./execargs", self_argv, 1, 0);
	/* ... nor above 3/4 of 8 MiB */
	with_stack_limit(RLIM_INFINITY);
	boundary("boundary_unlimited", "./execargs", self_argv, 53, 120000);
	env_case("env_6mib", "./execargs", self_argv, 52, 120000, 100);
	return 0;
}
