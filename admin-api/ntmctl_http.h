/*
 * ntmctl's HTTP client for one daemon's admin API (libcurl). Every failure
 * is printed to stderr naming the daemon, its URL and the reason, so the
 * commands only decide what to show on success.
 */
#ifndef NTMCTL_HTTP_H
#define NTMCTL_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Largest response body read, in bytes. */
#define NTMCTL_MAX_RESPONSE (16 * 1024 * 1024)

struct ntmctl_client {
	char url[512];            /* base URL without a trailing '/' */
	const char *daemon;       /* expected daemon, for messages ("ntm-dcd") */
	const char *token_file;
	const char *cacert;       /* CA file for https, or NULL for the system's */
	long timeout_ms;
	char token[260];          /* loaded on the first request that needs it */
	bool have_token;
};

/* The outcome of one request. */
struct ntmctl_response {
	long status;              /* HTTP status; 0 when no response arrived */
	char *body;               /* NUL-terminated, may be empty */
	size_t body_len;
	json_t *json;             /* body parsed as JSON, or NULL */
};

/*
 * Sends method path (with query string) with body (JSON text or NULL). With
 * auth the bearer token is read from client->token_file and sent. Returns 0
 * with resp filled when a 2xx response arrived. Otherwise prints why to
 * stderr (connection error, or the daemon's JSON error) and returns -1;
 * resp is then released.
 */
int ntmctl_request(struct ntmctl_client *client, const char *method, const char *path,
		   const char *body, bool auth, struct ntmctl_response *resp);
void ntmctl_response_free(struct ntmctl_response *resp);

/* GETs path (with the token) and returns its JSON object, or NULL after
 * printing why. */
json_t *ntmctl_get_json(struct ntmctl_client *client, const char *path);

/* Appends the path-escaped segment to out ("/v1/records/" + segment).
 * Returns 0, or -1 when out is too small. */
int ntmctl_path(char *out, size_t out_size, const char *prefix, const char *segment);

#endif
