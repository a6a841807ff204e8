/*
 * REST admin API embedded in every daemon: HTTP/JSON on libmicrohttpd, run
 * from the daemon's own event loop (no threads), so handlers may touch daemon
 * state directly. Every route but GET /healthz needs
 * "Authorization: Bearer TOKEN" with the token read from a file. With a
 * certificate configured the API speaks HTTPS only (GnuTLS through
 * libmicrohttpd). GET /metrics serves Prometheus text (format 0.0.4): the
 * library's own metrics, then whatever the daemon's metrics callback writes.
 */
#ifndef NTM_ADMIN_H
#define NTM_ADMIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntm_addr.h"
#include "ntm_loop.h"

#define NTM_ADMIN_MAX_BODY (64 * 1024)
#define NTM_ADMIN_MAX_PARAMS 4
/* Paging of list endpoints: ?limit=0..NTM_ADMIN_MAX_LIMIT&offset=N. */
#define NTM_ADMIN_DEFAULT_LIMIT 100
#define NTM_ADMIN_MAX_LIMIT 1000

struct ntm_admin;

struct ntm_admin_config {
	struct ntm_endpoint listen;   /* loopback by default in every daemon */
	const char *token_file;       /* first line is the token, at least 16 characters */
	const char *daemon_name;      /* shown by /healthz */
	/* PEM certificate chain and private key for HTTPS; NULL or "" for plain
	 * HTTP. Both or neither. The key file must not be readable by group or
	 * others. */
	const char *cert_file;
	const char *key_file;
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

/* An endpoint or address as a JSON string ("192.0.2.1:47830"), or null when
 * unset (length 0). */
json_t *ntm_admin_json_endpoint(const struct ntm_endpoint *ep);
json_t *ntm_admin_json_ip(const struct ntm_ip *ip);

/* Value of query argument key, or NULL. */
const char *ntm_admin_query(const struct ntm_admin_request *req, const char *key);

/*
 * Builds the JSON error body {"error": {"code": code, "message": ...}} into
 * *response and returns status, so a handler can "return ntm_admin_error(...)".
 */
unsigned ntm_admin_error(json_t **response, unsigned status, const char *code, const char *fmt,
			 ...) __attribute__((format(printf, 4, 5)));

/* ---- request checks for handlers: each returns 0, or an HTTP status with
 * *response set to the error, for "return" from the handler ---- */

/* Rejects query arguments whose name is not in allowed (NULL-terminated;
 * allowed itself may be NULL for none) with 400. */
unsigned ntm_admin_check_query(const struct ntm_admin_request *req, const char *const *allowed,
			       json_t **response);

/* Reads the boolean query argument name ("true" or "false") into *value:
 * -1 when absent, 0 or 1. Anything else gets 400. */
unsigned ntm_admin_query_bool(const struct ntm_admin_request *req, const char *name, int *value,
			      json_t **response);

struct ntm_admin_page {
	size_t offset;
	size_t limit;
};

/* Reads ?limit= (0 to NTM_ADMIN_MAX_LIMIT, default NTM_ADMIN_DEFAULT_LIMIT)
 * and ?offset= (default 0). Anything else gets 400. */
unsigned ntm_admin_page_args(const struct ntm_admin_request *req, struct ntm_admin_page *page,
			     json_t **response);

/* Builds {key: the page of items, "total": N, "offset": O, "limit": L} from
 * the array of all items (consumed). NULL when out of memory. */
json_t *ntm_admin_page_json(const char *key, json_t *items, const struct ntm_admin_page *page);

/* One member of a JSON request body: its name, JSON type and whether it must
 * be present. */
struct ntm_admin_field {
	const char *name;
	json_type type;               /* JSON_TRUE stands for either boolean */
	bool required;
};

/* Checks the request body against fields. A body is required when a field
 * is. A missing required member, a member of another type and a member not
 * listed each get 400 with a message that names the member. */
unsigned ntm_admin_check_body(const struct ntm_admin_request *req,
			      const struct ntm_admin_field *fields, size_t n_fields,
			      json_t **response);

/* ---- Prometheus metrics ---- */

enum ntm_metric_type {
	NTM_METRIC_COUNTER,
	NTM_METRIC_GAUGE,
	NTM_METRIC_HISTOGRAM,
};

/* The text of one scrape being built. Writes after an error (a name that is
 * not a valid Prometheus name, out of memory, NTM_METRICS_MAX_TEXT reached)
 * are ignored, and the scrape fails with 500. */
struct ntm_metrics;

#define NTM_METRICS_MAX_TEXT (4 * 1024 * 1024)

/* Writes the daemon's metric families into m; called on each GET /metrics. */
typedef void (*ntm_admin_metrics_cb)(struct ntm_metrics *m, void *arg);
void ntm_admin_set_metrics(struct ntm_admin *admin, ntm_admin_metrics_cb cb, void *arg);

struct ntm_metrics *ntm_metrics_new(void);
void ntm_metrics_free(struct ntm_metrics *m);
/* The text so far, NUL-terminated, or NULL after an error (see
 * ntm_metrics_error). */
const char *ntm_metrics_text(const struct ntm_metrics *m, size_t *len);
/* Why the scrape failed, or NULL. */
const char *ntm_metrics_error(const struct ntm_metrics *m);

/* Starts a metric family: its # HELP and # TYPE lines. Counter names end in
 * "_total" by convention; units are base units (seconds, bytes). */
void ntm_metrics_family(struct ntm_metrics *m, const char *name, enum ntm_metric_type type,
			const char *help);
/*
 * Writes one sample "name{labels} value". The variable arguments are label
 * name and value strings in pairs, ended by NULL; label values are escaped
 * as the text format needs.
 */
void ntm_metrics_sample(struct ntm_metrics *m, const char *name, double value, ...)
	__attribute__((sentinel));
/* A family with one unlabelled sample, for the common case. */
void ntm_metrics_counter(struct ntm_metrics *m, const char *name, const char *help,
			 uint64_t value);
void ntm_metrics_gauge(struct ntm_metrics *m, const char *name, const char *help, double value);

#define NTM_HISTOGRAM_MAX_BOUNDS 16

/* A histogram with fixed upper bounds, owned by the daemon's state. */
struct ntm_histogram {
	size_t n_bounds;
	double bounds[NTM_HISTOGRAM_MAX_BOUNDS];     /* ascending upper bounds */
	/* Observations with bounds[i-1] < v <= bounds[i], not cumulative. */
	uint64_t buckets[NTM_HISTOGRAM_MAX_BOUNDS];
	uint64_t count;
	double sum;
};

/* Sets the bounds (1 to NTM_HISTOGRAM_MAX_BOUNDS, strictly ascending, finite)
 * and clears the counts. Returns 0 or -EINVAL. */
int ntm_histogram_init(struct ntm_histogram *h, const double *bounds, size_t n_bounds);
void ntm_histogram_observe(struct ntm_histogram *h, double value);
/* Writes the histogram's name_bucket (cumulative, with le="+Inf"), name_sum
 * and name_count samples; label pairs as in ntm_metrics_sample. Start the
 * family with ntm_metrics_family(..., NTM_METRIC_HISTOGRAM, ...) first. */
void ntm_metrics_histogram(struct ntm_metrics *m, const char *name,
			   const struct ntm_histogram *h, ...) __attribute__((sentinel));

#endif
