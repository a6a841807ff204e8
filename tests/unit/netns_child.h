/*
 * Runs a unit test's body in a forked child inside a network namespace of its
 * own, so the host's network is never touched. The namespace and every device
 * the body creates go away when the child exits. The body checks with CHECK
 * and CHECK_ERR: the first failure ends the child, and the parent fails the
 * cmocka test with the child's message. Without root the test is skipped.
 *
 * Include after <cmocka.h>, once per test executable.
 */
#ifndef NETNS_CHILD_H
#define NETNS_CHILD_H

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nd_tun.h"

/* Exit status of a child that could not create its network namespace. */
#define CHILD_SKIP 77
/* Time a child may run before the parent kills it and fails the test. */
#define CHILD_TIMEOUT_MS 20000

/* The child's end of the pipe that carries its failure message. */
static int report_fd = -1;

/* Writes the failure to the parent and ends the child. */
static inline void child_fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void child_fail(int line, const char *fmt, ...)
{
	va_list ap;

	dprintf(report_fd, "line %d: ", line);
	va_start(ap, fmt);
	vdprintf(report_fd, fmt, ap);
	va_end(ap);
	_exit(1);
}

/* Checks inside the child; a failure names the condition and err. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			child_fail(__LINE__, "%s", #cond);                                         \
	} while (0)
#define CHECK_ERR(cond, err)                                                                       \
	do {                                                                                       \
		if (!(cond))                                                                       \
			child_fail(__LINE__, "%s (err: %s)", #cond, (err));                        \
	} while (0)

/* Brings up lo in the new namespace. New links get no IPv6 link-local
 * address (addr_gen_mode 1, none). So no address appears later on its own,
 * for example when duplicate address detection ends, and the kernel sends no
 * router solicitations or MLD reports into a TUN device during a test. */
static inline void netns_prepare(void)
{
	char err[256] = "";
	int fd = open("/proc/sys/net/ipv6/conf/default/addr_gen_mode", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		CHECK(write(fd, "1", 1) == 1);
		close(fd);
	}
	CHECK_ERR(nd_tun_up("lo", 65535, err, sizeof(err)) == 0, err);
}

/* Reads the child's report until it exits or the time is up. Returns false
 * on timeout. */
static inline bool report_read(int fd, char *report, size_t size)
{
	struct timespec start, now;
	size_t used = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long elapsed_ms;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed_ms >= CHILD_TIMEOUT_MS)
			return false;
		if (poll(&pfd, 1, (int)(CHILD_TIMEOUT_MS - elapsed_ms)) <= 0)
			continue;
		n = read(fd, report + used, size - 1 - used);
		if (n <= 0)
			return true;
		used += (size_t)n;
		report[used] = '\0';
		if (used == size - 1)
			return true;
	}
}

/* Runs body in a forked child inside a new network namespace and fails the
 * test with the child's message when the body fails. */
static inline void run_in_netns(void (*body)(void))
{
	char report[1024] = "";
	int fds[2], status = 0;
	bool finished;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		report_fd = fds[1];
		if (unshare(CLONE_NEWNET) < 0)
			_exit(CHILD_SKIP);
		netns_prepare();
		body();
		/* exit, not _exit, so the leak checker of a sanitizer build runs. */
		exit(0);
	}

	close(fds[1]);
	finished = report_read(fds[0], report, sizeof(report));
	close(fds[0]);
	if (!finished)
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SKIP)
		skip();
	if (report[0] != '\0')
		print_error("child: %s\n", report);
	assert_true(finished);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

#endif
