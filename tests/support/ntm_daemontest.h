/*
 * Helpers shared by the integration harnesses that run a real daemon
 * (ntm_dctest for ntm-dcd, test_rsd for ntm-rsd). They make a temporary
 * directory with an admin token and pick free loopback ports. They start the
 * daemon as `NAME -f -c CONF` with its output in a log file, and
 * PR_SET_PDEATHSIG kills it with the test process. A small HTTP/1.0 client
 * talks to its admin API.
 *
 * Set NTM_ITEST_LOG=1 to have ntm_daemontest_remove_dir copy the daemon's
 * log to the test's stderr.
 */
#ifndef NTM_DAEMONTEST_H
#define NTM_DAEMONTEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Length of the hex admin token ntm_daemontest_write_token makes. */
#define NTM_DAEMONTEST_TOKEN_LEN 32

/* A port to pick: the socket type (SOCK_DGRAM or SOCK_STREAM) and where the
 * port number goes. */
struct ntm_daemontest_port {
	int type;
	uint16_t *port;
};

void ntm_daemontest_sleep_ms(unsigned ms);

/* Writes "dir/name" into out. Returns 0 or -ENAMETOOLONG. */
int ntm_daemontest_path_join(char *out, size_t size, const char *dir, const char *name);
/* Replaces path with a new file of the given mode containing text. Returns
 * 0 or -errno. */
int ntm_daemontest_write_file(const char *path, mode_t mode, const char *text);

/* Creates the directory "$TMPDIR/prefix.XXXXXX" (TMPDIR defaults to /tmp)
 * into dir, which is "" on failure. Returns 0 or -errno. */
int ntm_daemontest_make_dir(char *dir, size_t size, const char *prefix);
/* Makes a random token of NTM_DAEMONTEST_TOKEN_LEN hex digits into token
 * (size > NTM_DAEMONTEST_TOKEN_LEN) and writes it as one line to path, mode
 * 0600. Call sodium_init first. Returns 0 or -errno. */
int ntm_daemontest_write_token(const char *path, char *token, size_t size);

/*
 * Picks n free loopback ports by binding port 0. The sockets stay open until
 * all ports are known, so two ports of one type differ. Another process may
 * still take a port before the daemon binds it, and the start then fails
 * loudly. Returns 0 or -errno.
 */
int ntm_daemontest_pick_ports(const struct ntm_daemontest_port *ports, size_t n);

/* Starts `exe -f -c conf_path` with stdout and stderr appended to log_path
 * and waits up to 10 s for GET /healthz on 127.0.0.1:admin_port to return
 * 200. Sets *pid, 0 again when the daemon exits during start-up. Returns 0
 * or -errno (-EBUSY when *pid is not 0). */
int ntm_daemontest_start(pid_t *pid, const char *exe, const char *conf_path, const char *log_path,
			 uint16_t admin_port);
/* Sends sig to *pid, clears *pid and waits up to 10 s for the exit. Returns
 * the wait status, or -errno (-ETIMEDOUT after a SIGKILL fallback, -ESRCH
 * when *pid is 0). */
int ntm_daemontest_stop(pid_t *pid, int sig);
/* Copies log_path to stderr when NTM_ITEST_LOG=1, then removes dir and all
 * it contains and sets it to "". Does nothing when dir is "". */
void ntm_daemontest_remove_dir(char *dir, const char *log_path);

/*
 * Sends an HTTP/1.0 request to the admin API on 127.0.0.1:port. body is
 * JSON text or NULL. token is the bearer token, or NULL to send no
 * Authorization header. *response (when not NULL) gets the parsed JSON body
 * or NULL. Returns the HTTP status or -errno.
 */
int ntm_daemontest_http(uint16_t port, const char *token, const char *method, const char *path,
			const char *body, json_t **response);

#endif
