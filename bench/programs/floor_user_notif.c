/*
 * The seccomp user-notification floor: a filter with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER turns the child's getppid into a
 * notification; per getppid the parent does SECCOMP_IOCTL_NOTIF_RECV and
 * SECCOMP_IOCTL_NOTIF_SEND. The parent installs the filter before forking
 * (it never calls getppid itself), so the listener fd needs no passing.
 */
#include "floor.h"
#include <sys/ioctl.h>
#include <sys/wait.h>

static int listener;

static void serve(long result)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;

	memset(&req, 0, sizeof(req));
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		bench_die("SECCOMP_IOCTL_NOTIF_RECV");
	memset(&resp, 0, sizeof(resp));
	resp.id = req.id;
	resp.val = req.data.nr == SYS_getppid ? result : 0;
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0)
		bench_die("SECCOMP_IOCTL_NOTIF_SEND");
}

static void op(long n)
{
	for (long i = 0; i < n; i++)
		serve(1);
}

int main(int argc, char **argv)
{
	pid_t child;
	long fd = floor_install_filter(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);

	if (fd < 0)
		bench_die("seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER)");
	listener = (int)fd;
	child = fork();
	if (child < 0)
		bench_die("fork");
	if (child == 0)
		floor_tracee_loop();
	bench_report("floor_user_notif", op, bench_target_s(argc, argv));
	serve(0);
	waitpid(child, NULL, 0);
	return 0;
}
