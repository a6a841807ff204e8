/* Harness that runs a real ntm-dcd for the integration tests. */
#include "ntm_dctest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
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

#ifndef NTM_DCD_PATH
#error "NTM_DCD_PATH must name the ntm-dcd executable"
#endif

/* Maximum admin API response read, in bytes: far above any record list the
 * tests create. */
#define HTTP_MAX_RESPONSE (1024 * 1024)
#define HTTP_TIMEOUT_S 5
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int path_join(char *out, size_t out_size, const char *dir, const char *name)
{
	int n = snprintf(out, out_size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= out_size ? -ENAMETOOLONG : 0;
}

/* Writes text to a new file of the given mode. Returns 0 or -errno. */
static int write_file(const char *path, mode_t mode, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

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
		close(fd);
		return -errno;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Picks free loopback ports by binding port 0. The sockets stay open until
 * all ports are known, so the two TCP ports differ. Another process may
 * still take a port before the DC binds it: the start then fails loudly. */
static int pick_ports(struct ntm_dctest *dc)
{
	int fds[3] = { -1, -1, -1 };
	int rc = 0;
	size_t i;

	fds[0] = bind_loopback(SOCK_DGRAM, &dc->control.port);
	fds[1] = bind_loopback(SOCK_STREAM, &dc->admin_port);
	if (dc->federation)
		fds[2] = bind_loopback(SOCK_STREAM, &dc->fed_port);
	for (i = 0; i < 3; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		else if (i < 2 || dc->federation)
			rc = fds[i];
	}
	return rc;
}

static int make_paths(struct ntm_dctest *dc)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(dc->dir, sizeof(dc->dir), "%s/ntm-dctest.XXXXXX",
			 tmp && tmp[0] ? tmp : "/tmp");

	if (n < 0 || (size_t)n >= sizeof(dc->dir))
		return -ENAMETOOLONG;
	if (!mkdtemp(dc->dir)) {
		dc->dir[0] = '\0';
		return -errno;
	}
	if (path_join(dc->conf_path, sizeof(dc->conf_path), dc->dir, "dcd.conf") ||
	    path_join(dc->key_path, sizeof(dc->key_path), dc->dir, "dc.key") ||
	    path_join(dc->token_path, sizeof(dc->token_path), dc->dir, "admin.token") ||
	    path_join(dc->db_path, sizeof(dc->db_path), dc->dir, "dcd.sqlite") ||
	    path_join(dc->log_path, sizeof(dc->log_path), dc->dir, "dcd.log"))
		return -ENAMETOOLONG;
	return 0;
}

static int write_token(struct ntm_dctest *dc)
{
	uint8_t raw[16];
	char line[sizeof(dc->token) + 1];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(dc->token, sizeof(dc->token), raw, sizeof(raw));
	snprintf(line, sizeof(line), "%s\n", dc->token);
	return write_file(dc->token_path, 0600, line);
}

int ntm_dctest_init(struct ntm_dctest *dc, const struct ntm_dctest_options *opt)
{
	static const struct ntm_dctest_options defaults = { 0 };
	int rc;

	memset(dc, 0, sizeof(*dc));
	if (!opt)
		opt = &defaults;
	if (sodium_init() < 0)
		return -EIO;
	snprintf(dc->domain, sizeof(dc->domain), "%s", opt->domain ? opt->domain : "a.example");
	snprintf(dc->vip_prefix, sizeof(dc->vip_prefix), "%s",
		 opt->vip_prefix ? opt->vip_prefix : "198.51.100.0/25");
	dc->keepalive_interval = opt->keepalive_interval ? opt->keepalive_interval : 15;
	dc->offline_after = opt->offline_after ? opt->offline_after : 60;
	dc->federation = opt->federation;
	if (ntm_ip_parse(&dc->control.ip, "127.0.0.1") != 0)
		return -EINVAL;

	rc = make_paths(dc);
	if (rc != 0)
		return rc;
	ntm_keypair_generate(&dc->kp);
	rc = ntm_key_save(&dc->kp, dc->key_path, 0);
	if (rc != 0)
		return rc < 0 ? rc : -EIO;
	rc = write_token(dc);
	if (rc != 0)
		return rc;
	return pick_ports(dc);
}

int ntm_dctest_add_peer(struct ntm_dctest *dc, const struct ntm_dctest *peer)
{
	struct ntm_dctest_peer *p;

	if (dc->n_peers == NTM_DCTEST_MAX_PEERS || !peer->federation)
		return -EINVAL;
	p = &dc->peers[dc->n_peers++];
	snprintf(p->domain, sizeof(p->domain), "%s", peer->domain);
	p->fed_port = peer->fed_port;
	memcpy(p->pub, peer->kp.pub, NTM_KEY_LEN);
	return 0;
}

/* Appends printf output to the configuration text. Returns 0, or -ENOSPC
 * when the buffer is full. */
static int conf_addf(char *buf, size_t size, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int conf_addf(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *used, size - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *used)
		return -ENOSPC;
	*used += (size_t)n;
	return 0;
}

static int write_conf(const struct ntm_dctest *dc)
{
	char buf[8192], b64[NTM_KEY_B64_LEN];
	size_t used = 0;
	size_t i;
	int rc;

	rc = conf_addf(buf, sizeof(buf), &used,
		       "[dc]\ndomain = %s\nlisten = 127.0.0.1:%u\nprivate_key_file = %s\n"
		       "database = %s\nvip_prefix = %s\nkeepalive_interval = %u\n"
		       "offline_after = %u\nlog_level = debug\n"
		       "[admin]\nlisten = 127.0.0.1:%u\ntoken_file = %s\n",
		       dc->domain, dc->control.port, dc->key_path, dc->db_path, dc->vip_prefix,
		       dc->keepalive_interval, dc->offline_after, dc->admin_port, dc->token_path);
	if (rc == 0 && dc->federation)
		rc = conf_addf(buf, sizeof(buf), &used, "[federation]\nlisten = 127.0.0.1:%u\n",
			       dc->fed_port);
	else if (rc == 0)
		rc = conf_addf(buf, sizeof(buf), &used, "[federation]\nlisten =\n");
	for (i = 0; rc == 0 && i < dc->n_peers; i++) {
		ntm_key_to_base64(b64, dc->peers[i].pub);
		rc = conf_addf(buf, sizeof(buf), &used,
			       "[peer %s]\nendpoint = 127.0.0.1:%u\npublic_key = %s\n",
			       dc->peers[i].domain, dc->peers[i].fed_port, b64);
	}
	if (rc != 0)
		return rc;
	unlink(dc->conf_path);
	return write_file(dc->conf_path, 0600, buf);
}

/* Runs in the forked child: stderr and stdout to the log, then exec. */
static void exec_dcd(const struct ntm_dctest *dc, pid_t parent)
{
	int logfd, nullfd;
	sigset_t none;

	/* Dies with the test process, so a crashed test leaves no daemon. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	logfd = open(dc->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	nullfd = open("/dev/null", O_RDONLY);
	if (logfd < 0 || nullfd < 0)
		_exit(126);
	dup2(nullfd, STDIN_FILENO);
	dup2(logfd, STDOUT_FILENO);
	dup2(logfd, STDERR_FILENO);
	execl(NTM_DCD_PATH, "ntm-dcd", "-f", "-c", dc->conf_path, (char *)NULL);
	_exit(127);
}

static int wait_healthy(struct ntm_dctest *dc)
{
	uint64_t deadline = ntm_now_ms() + START_TIMEOUT_MS;
	int status;

	while (ntm_now_ms() < deadline) {
		if (waitpid(dc->pid, &status, WNOHANG) == dc->pid) {
			fprintf(stderr, "ntm-dcd exited during start-up (status 0x%x), see %s\n",
				status, dc->log_path);
			dc->pid = 0;
			return -ECHILD;
		}
		if (ntm_dctest_http(dc, "GET", "/healthz", NULL, false, NULL) == 200)
			return 0;
		sleep_ms(20);
	}
	fprintf(stderr, "ntm-dcd: no response to GET /healthz within %d ms\n", START_TIMEOUT_MS);
	return -ETIMEDOUT;
}

int ntm_dctest_start(struct ntm_dctest *dc)
{
	pid_t parent = getpid();
	int rc;

	if (dc->pid)
		return -EBUSY;
	rc = write_conf(dc);
	if (rc != 0)
		return rc;
	dc->started_ms = ntm_now_ms();
	dc->pid = fork();
	if (dc->pid < 0) {
		dc->pid = 0;
		return -errno;
	}
	if (dc->pid == 0)
		exec_dcd(dc, parent);
	return wait_healthy(dc);
}

int ntm_dctest_stop(struct ntm_dctest *dc, int sig)
{
	uint64_t deadline = ntm_now_ms() + STOP_TIMEOUT_MS;
	int status;
	pid_t pid = dc->pid;

	if (!pid)
		return -ESRCH;
	dc->pid = 0;
	kill(pid, sig);
	while (ntm_now_ms() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -ETIMEDOUT;
}

int ntm_dctest_restart(struct ntm_dctest *dc, int sig)
{
	int rc = ntm_dctest_stop(dc, sig);

	if (rc < 0)
		return rc;
	return ntm_dctest_start(dc);
}

static void print_log(const struct ntm_dctest *dc)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(dc->log_path, "r");

	if (!f)
		return;
	fprintf(stderr, "---- %s ----\n", dc->log_path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fprintf(stderr, "---- end of %s ----\n", dc->log_path);
	fclose(f);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void ntm_dctest_cleanup(struct ntm_dctest *dc)
{
	const char *show = getenv("NTM_ITEST_LOG");

	if (dc->pid)
		ntm_dctest_stop(dc, SIGKILL);
	if (dc->dir[0] && show && show[0] == '1')
		print_log(dc);
	if (dc->dir[0])
		nftw(dc->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	dc->dir[0] = '\0';
	ntm_keypair_wipe(&dc->kp);
}

static int http_connect(const struct ntm_dctest *dc)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(dc->admin_port) };
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

int ntm_dctest_http(struct ntm_dctest *dc, const char *method, const char *path,
		    const char *body, bool token, json_t **response)
{
	char head[1024], auth[128] = "";
	char *resp = NULL;
	size_t body_len = body ? strlen(body) : 0;
	ssize_t resp_len;
	int fd, n, rc;

	if (response)
		*response = NULL;
	if (token)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", dc->token);
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.0\r\nHost: 127.0.0.1:%u\r\n%sContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     method, path, dc->admin_port, auth, body_len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -ENAMETOOLONG;

	fd = http_connect(dc);
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

int ntm_dctest_enrol(struct ntm_dctest *dc, const char *fqdn, const uint8_t pub[NTM_KEY_LEN])
{
	char b64[NTM_KEY_B64_LEN];
	json_t *req;
	char *text;
	int status;

	ntm_key_to_base64(b64, pub);
	req = json_pack("{s:s, s:s}", "fqdn", fqdn, "public_key", b64);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		return -ENOMEM;
	status = ntm_dctest_http(dc, "POST", "/v1/nodes", text, true, NULL);
	free(text);
	return status;
}

json_t *ntm_dctest_record(struct ntm_dctest *dc, const char *id)
{
	char path[512];
	json_t *rec = NULL;
	int n = snprintf(path, sizeof(path), "/v1/records/%s", id);

	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	if (ntm_dctest_http(dc, "GET", path, NULL, true, &rec) != 200) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

int ntm_dctest_node(struct ntm_dctest *dc, struct ntm_testnode *node, const char *bind_ip,
		    const char *fqdn)
{
	int rc = ntm_testnode_open(node, bind_ip, 0, &dc->control, dc->kp.pub, NULL);

	if (rc != 0)
		return rc;
	if (!fqdn)
		return 0;
	rc = ntm_dctest_enrol(dc, fqdn, node->kp.pub);
	return rc == 201 ? 0 : -EPROTO;
}
