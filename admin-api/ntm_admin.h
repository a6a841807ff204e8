/*
 * REST admin API embedded in every daemon: HTTP/JSON on libmicrohttpd, run
 * from the daemon's own event loop (no threads), so handlers may touch daemon
 * state directly. Every route but GET /healthz needs
 * "Authorization: Bearer TOKEN" with the token read from a file.
 */
#ifndef NTM_ADMIN_H
#define NTM_ADMIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ntm_addr.h"
#include "ntm_loop.h"

#define NTM_ADMIN_MAX_BODY (64 * 1024)
#define NTM_ADMIN_MAX_PARAMS 4

struct ntm_admin;

struct ntm_admin_config {
	struct ntm_endpoint listen;   /* loopback by default in every daemon */
	const char *token_file;       /* first line is the token, at least 16 characters */
	const char *daemon_name;      /* shown by /healthz */
};

struct ntm_admin_request {
	const char *method;
	const char *path;                         /* without the query string */
	const char *params[NTM_ADMIN_MAX_PARAMS]; /* values of {name} segments, in order */
	size_t n_params;
	json_t *body;                             /* parsed JSON body, NULL when empty */
	void *connection;                         /* struct MHD_Connection, for ntm_admin_query */
	const char *peer;                         /* client address as text, for logs */
};

/*
 * A route handler. Sets *response to a JSON value (ownership passes to the
 * admin API) and returns the HTTP status. For errors use ntm_admin_error.
 */
typedef unsigned (*ntm_admin_handler)(const struct ntm_admin_request *req, json_t **response,
				      void *arg);

/* Adds details to GET /healthz's JSON object (called with it on each request). */
typedef void (*ntm_admin_health_cb)(json_t *health, void *arg);

/* Starts listening and hooks into loop. Returns NULL with err set on failure
 * (token file missing or too short, address in use). */
struct ntm_admin *ntm_admin_start(const struct ntm_admin_config *cfg, struct ntm_loop *loop,
				  char *err, size_t err_size);
void ntm_admin_stop(struct ntm_admin *admin);
/* Returns the TCP port the API listens on, also when the configured port was 0. */
uint16_t ntm_admin_port(const struct ntm_admin *admin);

/* Re-reads the token file (on SIGHUP). Keeps the old token on failure and
 * returns -1 with err set. */
int ntm_admin_reload_token(struct ntm_admin *admin, const char *token_file, char *err,
			   size_t err_size);

/*
 * Registers a route. pattern is a path whose segments may be "{name}", for
 * example "/v1/records/{id}"; a request matches when every literal segment is
 * equal and the segment counts agree. A path that matches a pattern with
 * another method gets 405.
 */
int ntm_admin_route(struct ntm_admin *admin, const char *method, const char *pattern,
		    ntm_admin_handler handler, void *arg);
void ntm_admin_set_health(struct ntm_admin *admin, ntm_admin_health_cb cb, void *arg);

/* Value of query argument key, or NULL. */
const char *ntm_admin_query(const struct ntm_admin_request *req, const char *key);

/*
 * Builds the JSON error body {"error": {"code": code, "message": ...}} into
 * *response and returns status, so a handler can "return ntm_admin_error(...)".
 */
unsigned ntm_admin_error(json_t **response, unsigned status, const char *code, const char *fmt,
			 ...) __attribute__((format(printf, 4, 5)));

#endif
