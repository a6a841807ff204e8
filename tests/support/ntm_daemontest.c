/* Process, file and admin API helpers for the harnesses that run a daemon. */
#include "ntm_daemontest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ntm_time.h"

/* Maximum admin API response read, in bytes: far above any list the tests
 * create. */
#define HTTP_MAX_RESPONSE (1024 * 1024)
#define HTTP_TIMEOUT_S 5
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000
/* Maximum number of ports one ntm_daemontest_pick_ports call picks. */
#define MAX_PORTS 8

void ntm_daemontest_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int ntm_daemontest_path_join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int ntm_daemontest_write_file(const char *path, mode_t mode, const char *text)
{
	size_t len = strlen(text);
	int fd;
	ssize_t n;

	/* Unlinked first, so the new file gets mode even where an older one had
	 * another. */
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

int ntm_daemontest_make_dir(char *dir, size_t size, const char *prefix)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(dir, size, "%s/%s.XXXXXX", tmp && tmp[0] ? tmp : "/tmp", prefix);

	if (n < 0 || (size_t)n >= size) {
		dir[0] = '\0';
		return -ENAMETOOLONG;
	}
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		return -errno;
	}
	return 0;
}

int ntm_daemontest_write_token(const char *path, char *token, size_t size)
{
	uint8_t raw[NTM_DAEMONTEST_TOKEN_LEN / 2];
	char line[NTM_DAEMONTEST_TOKEN_LEN + 2];

	if (size <= NTM_DAEMONTEST_TOKEN_LEN)
		return -ENOSPC;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(token, size, raw, sizeof(raw));
	snprintf(line, sizeof(line), "%s\n", token);
	return ntm_daemontest_write_file(path, 0600, line);
}

/* Binds a socket of type to 127.0.0.1 port 0. Returns the descriptor, with
 * the port the kernel chose in *port, or -errno. */
static int bind_loopback(int type, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

int ntm_daemontest_pick_ports(const struct ntm_daemontest_port *ports, size_t n)
{
	int fds[MAX_PORTS];
	int rc = 0;
	size_t i;

	if (n > MAX_PORTS)
		return -EINVAL;
	for (i = 0; i < n; i++)
		fds[i] = bind_loopback(ports[i].type, ports[i].port);
	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		else
			rc = fds[i];
	}
	return rc;
}

/* The file name of exe, which is argv[0] and names the daemon in messages. */
static const char *exe_name(const char *exe)
{
	const char *slash = strrchr(exe, '/');

	return slash ? slash + 1 : exe;
}

/* Runs in the forked child: stdin from /dev/null, stdout and stderr to the
 * log, then exec. */
static void exec_daemon(const char *exe, const char *conf_path, const char *log_path,
			pid_t parent)
{
	int logfd, nullfd;
	sigset_t none;

	/* Dies with the test process, so a crashed test leaves no daemon. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	nullfd = open("/dev/null", O_RDONLY);
	if (logfd < 0 || nullfd < 0)
		_exit(126);
	dup2(nullfd, STDIN_FILENO);
	dup2(logfd, STDOUT_FILENO);
	dup2(logfd, STDERR_FILENO);
	execl(exe, exe_name(exe), "-f", "-c", conf_path, (char *)NULL);
	_exit(127);
}

static int wait_healthy(pid_t *pid, const char *exe, const char *log_path, uint16_t admin_port)
{
	uint64_t deadline = ntm_now_ms() + START_TIMEOUT_MS;
	int status;

	while (ntm_now_ms() < deadline) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			fprintf(stderr, "%s exited during start-up (status 0x%x), see %s\n",
				exe_name(exe), status, log_path);
			*pid = 0;
			return -ECHILD;
		}
		if (ntm_daemontest_http(admin_port, NULL, "GET", "/healthz", NULL, NULL) == 200)
			return 0;
		ntm_daemontest_sleep_ms(20);
	}
	fprintf(stderr, "%s: GET /healthz did not return 200 within %d ms, see %s\n",
		exe_name(exe), START_TIMEOUT_MS, log_path);
	return -ETIMEDOUT;
}

int ntm_daemontest_start(pid_t *pid, const char *exe, const char *conf_path, const char *log_path,
			 uint16_t admin_port)
{
	pid_t parent = getpid();

	if (*pid)
		return -EBUSY;
	*pid = fork();
	if (*pid < 0) {
		*pid = 0;
		return -errno;
	}
	if (*pid == 0)
		exec_daemon(exe, conf_path, log_path, parent);
	return wait_healthy(pid, exe, log_path, admin_port);
}

int ntm_daemontest_stop(pid_t *pid, int sig)
{
	uint64_t deadline = ntm_now_ms() + STOP_TIMEOUT_MS;
	pid_t child = *pid;
	int status;

	if (!child)
		return -ESRCH;
	*pid = 0;
	kill(child, sig);
	while (ntm_now_ms() < deadline) {
		if (waitpid(child, &status, WNOHANG) == child)
			return status;
		ntm_daemontest_sleep_ms(10);
	}
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	return -ETIMEDOUT;
}

static void print_log(const char *log_path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(log_path, "r");

	if (!f)
		return;
	fprintf(stderr, "---- %s ----\n", log_path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fprintf(stderr, "---- end of %s ----\n", log_path);
	fclose(f);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void ntm_daemontest_remove_dir(char *dir, const char *log_path)
{
	const char *show = getenv("NTM_ITEST_LOG");

	if (!dir[0])
		return;
	if (show && show[0] == '1')
		print_log(log_path);
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}

/* ---- admin API client ---- */

static int http_connect(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = HTTP_TIMEOUT_S };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads until the server closes (HTTP/1.0). Returns the length or -errno.
 * The caller frees *out, which is NUL-terminated. */
static ssize_t recv_all(int fd, char **out)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap), *grown;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (cap - len < 1024 && cap < HTTP_MAX_RESPONSE) {
			grown = realloc(buf, cap * 2);
			if (!grown)
				break;
			buf = grown;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	return (ssize_t)len;
}

/* Parses "HTTP/1.x NNN ..." and the JSON body after the blank line. */
static int parse_response(const char *resp, size_t len, json_t **response)
{
	const char *body;
	char *end;
	unsigned long status;

	if (len < 12 || strncmp(resp, "HTTP/1.", 7) != 0)
		return -EPROTO;
	errno = 0;
	status = strtoul(resp + 9, &end, 10);
	if (errno != 0 || end != resp + 12 || status < 100 || status > 599)
		return -EPROTO;
	body = strstr(resp, "\r\n\r\n");
	if (response && body && body[4] != '\0')
		*response = json_loadb(body + 4, len - (size_t)(body + 4 - resp), 0, NULL);
	return (int)status;
}

int ntm_daemontest_http(uint16_t port, const char *token, const char *method, const char *path,
			const char *body, json_t **response)
{
	char head[1024], auth[128] = "";
	char *resp = NULL;
	size_t body_len = body ? strlen(body) : 0;
	ssize_t resp_len;
	int fd, n, rc;

	if (response)
		*response = NULL;
	if (token)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", token);
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.0\r\nHost: 127.0.0.1:%u\r\n%sContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     method, path, port, auth, body_len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -ENAMETOOLONG;

	fd = http_connect(port);
	if (fd < 0)
		return fd;
	rc = send_all(fd, head, (size_t)n);
	if (rc == 0 && body_len > 0)
		rc = send_all(fd, body, body_len);
	if (rc != 0)
		goto out;
	resp_len = recv_all(fd, &resp);
	if (resp_len < 0) {
		rc = (int)resp_len;
		goto out;
	}
	rc = parse_response(resp, (size_t)resp_len, response);
out:
	free(resp);
	close(fd);
	return rc;
}
