/*
 * Runs a real ntm-dcd for integration tests: a temporary directory with the
 * DC's key, admin token, configuration and database, free loopback ports,
 * the process itself (killed with the test process through PR_SET_PDEATHSIG)
 * and a small HTTP/1.0 client for its admin API.
 *
 * The daemon's stderr goes to dcd.log in the directory; set NTM_ITEST_LOG=1
 * to have ntm_dctest_cleanup copy it to the test's stderr.
 */
#ifndef NTM_DCTEST_H
#define NTM_DCTEST_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ntm_addr.h"
#include "ntm_key.h"
#include "ntm_testnode.h"

#define NTM_DCTEST_MAX_PEERS 4
#define NTM_DCTEST_DOMAIN_MAX 64

struct ntm_dctest_options {
	const char *domain;           /* default "a.example" */
	const char *vip_prefix;       /* default "198.51.100.0/25" */
	unsigned keepalive_interval;  /* seconds; default 15 */
	unsigned offline_after;       /* seconds; default 60 */
	bool federation;              /* listen for federation on a loopback port */
};

struct ntm_dctest_peer {
	char domain[NTM_DCTEST_DOMAIN_MAX];
	uint16_t fed_port;
	uint8_t pub[NTM_KEY_LEN];
};

struct ntm_dctest {
	char dir[PATH_MAX];
	char conf_path[PATH_MAX];
	char key_path[PATH_MAX];
	char token_path[PATH_MAX];
	char db_path[PATH_MAX];
	char log_path[PATH_MAX];
	char token[65];

	char domain[NTM_DCTEST_DOMAIN_MAX];
	char vip_prefix[64];
	unsigned keepalive_interval;
	unsigned offline_after;
	bool federation;
	struct ntm_dctest_peer peers[NTM_DCTEST_MAX_PEERS];
	size_t n_peers;

	struct ntm_keypair kp;            /* the DC's key pair */
	struct ntm_endpoint control;      /* 127.0.0.1 and the UDP control port */
	uint16_t admin_port;
	uint16_t fed_port;                /* 0 without federation */
	pid_t pid;                        /* 0 when not running */
	uint64_t started_ms;              /* ntm_now_ms() when the last start began */
};

/*
 * Creates the temporary directory, the DC's key and the admin token, and
 * picks free ports. opt may be NULL for the defaults. Returns 0 or -errno;
 * call ntm_dctest_cleanup in either case.
 */
int ntm_dctest_init(struct ntm_dctest *dc, const struct ntm_dctest_options *opt);
/* Lists peer as a federated DC ([peer DOMAIN] section). Call before start. */
int ntm_dctest_add_peer(struct ntm_dctest *dc, const struct ntm_dctest *peer);

/* Writes the configuration, starts `ntm-dcd -f -c CONF` and waits up to
 * 10 s for GET /healthz to return 200. Returns 0 or -errno. */
int ntm_dctest_start(struct ntm_dctest *dc);
/* Sends sig (SIGTERM or SIGKILL) and waits up to 10 s for the process.
 * Returns its wait status, or -errno (-ETIMEDOUT after a SIGKILL fallback). */
int ntm_dctest_stop(struct ntm_dctest *dc, int sig);
/* Stops with sig and starts again on the same configuration and database. */
int ntm_dctest_restart(struct ntm_dctest *dc, int sig);
/* Stops the daemon if it runs and removes the temporary directory. */
void ntm_dctest_cleanup(struct ntm_dctest *dc);

/*
 * Sends an HTTP request to the admin API. body is JSON text or NULL; with
 * token false no Authorization header is sent. *response (when not NULL)
 * gets the parsed JSON body or NULL. Returns the HTTP status or -errno.
 */
int ntm_dctest_http(struct ntm_dctest *dc, const char *method, const char *path,
		    const char *body, bool token, json_t **response);

/* POST /v1/nodes with fqdn and the base64 of pub. Returns the HTTP status. */
int ntm_dctest_enrol(struct ntm_dctest *dc, const char *fqdn, const uint8_t pub[NTM_KEY_LEN]);
/* GET /v1/records/{id}: the record JSON, or NULL unless 200. */
json_t *ntm_dctest_record(struct ntm_dctest *dc, const char *id);

/* Opens node on bind_ip (ephemeral port) towards dc with a new key pair and,
 * unless fqdn is NULL, enrols the key under fqdn. Returns 0, -errno, or
 * -EPROTO when the enrolment did not return 201. */
int ntm_dctest_node(struct ntm_dctest *dc, struct ntm_testnode *node, const char *bind_ip,
		    const char *fqdn);

#endif
