/*
 * REST admin API on libmicrohttpd in external epoll mode. MHD's epoll
 * descriptor sits in the daemon's ntm_loop and MHD_run() is called from the
 * loop, so handlers run on the loop's thread and may touch daemon state.
 *
 * Request flow: the first access handler call (headers complete) checks the
 * bearer token, the route and Content-Length, and responds at once on a
 * failure, so no body is read from an unauthenticated client. Later calls
 * collect the body up to NTM_ADMIN_MAX_BODY, and the last one parses it and
 * runs the route's handler.
 *
 * GET /healthz (public) and GET /metrics (bearer token, Prometheus text) are
 * the library's own routes; the daemon adds the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "ntm_admin.h"
#include "ntm_log.h"
#include "ntm_ratelimit.h"
#include "ntm_time.h"

#define TOKEN_MIN_LEN 16
#define TOKEN_MAX_LEN 256
#define MAX_SEGMENTS 16
#define CONNECTION_LIMIT 64u
#define CONNECTION_TIMEOUT_S 10u
/* Request headers plus a whole body of NTM_ADMIN_MAX_BODY in one connection's
 * memory pool, so that MHD can buffer a full body before the handler runs. */
#define CONNECTION_MEMORY_LIMIT ((size_t)NTM_ADMIN_MAX_BODY + 16 * 1024)
/* Characters of a peer's method or path shown in logs and error messages. */
#define PEER_TEXT_MAX 128
/* Size of the Allow header value of a 405 response. */
#define ALLOW_MAX 128
/* Largest PEM certificate chain or private key file read for HTTPS. */
#define PEM_MAX (64 * 1024)
/* Status codes counted in ntm_admin_http_responses_total. */
#define STATUS_MIN 100
#define STATUS_MAX 599
/* The media type of the Prometheus text format, version 0.0.4. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum route_kind {
	ROUTE_JSON,                  /* the handler returns a JSON value */
	ROUTE_METRICS,               /* the library's GET /metrics */
};

struct route {
	char *method;
	char *pattern;
	char *segment_storage;
	char *segments[MAX_SEGMENTS];
	size_t n_segments;
	bool public;                 /* served without a bearer token */
	enum route_kind kind;
	ntm_admin_handler handler;
	void *arg;
};

struct ntm_admin {
	struct MHD_Daemon *mhd;
	struct ntm_loop *loop;
	int epoll_fd;
	uint16_t port;
	char daemon_name[64];

	char token[TOKEN_MAX_LEN + 1];
	size_t token_len;

	struct route *routes;
	size_t n_routes;

	ntm_admin_health_cb health_cb;
	void *health_arg;
	ntm_admin_metrics_cb metrics_cb;
	void *metrics_arg;

	/* HTTPS: the PEM texts stay allocated while MHD runs, then are wiped. */
	char *cert_pem, *key_pem;
	size_t key_pem_size;
	bool tls;

	uint64_t started_wall_ms;
	uint64_t responses[STATUS_MAX - STATUS_MIN + 1];   /* by HTTP status */

	struct ntm_ratelimit auth_log;
	struct ntm_ratelimit mhd_log;
	bool running;                /* MHD started: its messages are about clients now */
	char mhd_error[256];         /* last message MHD logged, for start-up errors */
};

/* State of one request, kept in MHD's per-request con_cls. */
struct request_state {
	struct ntm_admin *admin;
	struct ntm_admin_request req;
	char *path_storage;          /* the path split into segments */
	char *segments[MAX_SEGMENTS];
	size_t n_segments;           /* SIZE_MAX when the path has too many segments */
	const struct route *route;
	bool answered;               /* a response was queued in the first call */
	char *body;
	size_t body_len, body_cap;
	bool body_too_large;
	char peer[NTM_ENDPOINT_STRLEN];
};

/* ---- responses ---- */

unsigned ntm_admin_error(json_t **response, unsigned status, const char *code, const char *fmt,
			 ...)
{
	char message[512];
	char ascii[sizeof(message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	*response = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
	/* jansson rejects strings that are not UTF-8, and a message may quote
	 * request bytes. */
	if (!*response) {
		ntm_log_sanitize(ascii, sizeof(ascii), message, sizeof(message));
		*response = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", ascii);
	}
	return status;
}

/* Serializes body followed by a newline and releases body. NULL gives "{}". */
static char *serialize(json_t *body, unsigned status, size_t *len)
{
	char *text = NULL;
	char *out;

	if (status == MHD_HTTP_NO_CONTENT) {
		json_decref(body);
		*len = 0;
		return strdup("");
	}
	text = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
	json_decref(body);
	if (!text)
		return NULL;

	*len = strlen(text) + 1;
	out = malloc(*len + 1);
	if (out) {
		memcpy(out, text, *len - 1);
		out[*len - 1] = '\n';
		out[*len] = '\0';
	}
	free(text);
	return out;
}

static void log_request(const struct request_state *rs, unsigned status)
{
	char method_text[PEER_TEXT_MAX + 4];
	char path_text[PEER_TEXT_MAX * 4 + 4];

	if (!ntm_log_enabled(NTM_LOG_DEBUG))
		return;
	ntm_log_sanitize(method_text, sizeof(method_text), rs->req.method, PEER_TEXT_MAX);
	ntm_log_sanitize(path_text, sizeof(path_text), rs->req.path, PEER_TEXT_MAX);
	log_debug("%s: admin request %s %s: status %u", rs->peer, method_text, path_text, status);
}

/*
 * Queues status with text (len bytes, freed by MHD) of content_type.
 * header_name/header_value add one more header when not NULL.
 */
static enum MHD_Result respond_text(struct MHD_Connection *conn, const struct request_state *rs,
				    unsigned status, char *text, size_t len,
				    const char *content_type, const char *header_name,
				    const char *header_value)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, text,
								    MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!resp) {
		log_warn("%s: admin response %u not sent: out of memory", rs->peer, status);
		free(text);
		return MHD_NO;
	}
	if (status != MHD_HTTP_NO_CONTENT)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (header_name)
		MHD_add_response_header(resp, header_name, header_value);

	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	if (ret != MHD_YES)
		log_warn("%s: admin response %u not sent: libmicrohttpd rejected it", rs->peer,
			 status);
	else if (status >= STATUS_MIN && status <= STATUS_MAX)
		rs->admin->responses[status - STATUS_MIN]++;
	log_request(rs, status);
	return ret;
}

/* Queues status with body (consumed) as JSON. */
static enum MHD_Result respond(struct MHD_Connection *conn, const struct request_state *rs,
			       unsigned status, json_t *body, const char *header_name,
			       const char *header_value)
{
	size_t len;
	char *text = serialize(body, status, &len);

	if (!text) {
		log_warn("%s: admin response %u not sent: out of memory", rs->peer, status);
		return MHD_NO;
	}
	return respond_text(conn, rs, status, text, len, "application/json", header_name,
			    header_value);
}

static enum MHD_Result respond_error(struct MHD_Connection *conn, const struct request_state *rs,
				     unsigned status, const char *code, const char *message,
				     const char *header_name, const char *header_value)
{
	json_t *body;

	ntm_admin_error(&body, status, code, "%s", message);
	return respond(conn, rs, status, body, header_name, header_value);
}

/* ---- the bearer token ---- */

static bool token_chars_valid(const char *token, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		/* RFC 6750 tokens are visible ASCII without spaces. */
		if (token[i] <= 0x20 || token[i] >= 0x7f)
			return false;
	}
	return true;
}

/* Rejects a secret file (what names it in messages) that group or others
 * may access. */
static int check_private_mode(int fd, const char *path, const char *what, char *err,
			      size_t err_size)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		snprintf(err, err_size, "%s: cannot read the %s: %s", path, what, strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, err_size, "%s: the %s is accessible by group or others (mode %04o); "
			 "run 'chmod 600 %s'", path, what, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

/* Reads the first line of path into line. Returns its length or -1 with err set. */
static ssize_t read_first_line(const char *path, char *line, size_t line_size, char *err,
			       size_t err_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	FILE *f;
	ssize_t len = -1;

	if (fd < 0) {
		snprintf(err, err_size, "%s: cannot open the admin token file: %s", path,
			 strerror(errno));
		return -1;
	}
	if (check_private_mode(fd, path, "admin token file", err, err_size) < 0) {
		close(fd);
		return -1;
	}
	f = fdopen(fd, "r");
	if (!f) {
		snprintf(err, err_size, "%s: cannot read the admin token file: %s", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	if (!fgets(line, (int)line_size, f))
		line[0] = '\0';
	len = (ssize_t)strlen(line);
	if (len > 0 && line[len - 1] != '\n' && !feof(f) && fgetc(f) != EOF) {
		snprintf(err, err_size, "%s: the admin token is longer than %d characters", path,
			 TOKEN_MAX_LEN);
		len = -1;
	}
	fclose(f);
	return len;
}

/* Loads the token of path into token (TOKEN_MAX_LEN + 1 bytes). */
static int load_token(const char *path, char *token, size_t *token_len, char *err,
		      size_t err_size)
{
	char line[TOKEN_MAX_LEN + 3];
	ssize_t len = read_first_line(path, line, sizeof(line), err, err_size);
	int rc = -1;

	if (len < 0)
		goto out;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
			   line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len > TOKEN_MAX_LEN) {
		snprintf(err, err_size, "%s: the admin token is longer than %d characters", path,
			 TOKEN_MAX_LEN);
		goto out;
	}
	if (len < TOKEN_MIN_LEN) {
		snprintf(err, err_size, "%s: the admin token on the first line has %zd characters; "
			 "use at least %d, for example the output of 'head -c 32 /dev/urandom | "
			 "base64'", path, len, TOKEN_MIN_LEN);
		goto out;
	}
	if (!token_chars_valid(line, (size_t)len)) {
		snprintf(err, err_size, "%s: the admin token contains spaces or characters "
			 "outside visible ASCII; use letters, digits and '-._~+/='", path);
		goto out;
	}
	memcpy(token, line, (size_t)len);
	token[len] = '\0';
	*token_len = (size_t)len;
	rc = 0;
out:
	sodium_memzero(line, sizeof(line));
	return rc;
}

int ntm_admin_reload_token(struct ntm_admin *admin, const char *token_file, char *err,
			   size_t err_size)
{
	char token[TOKEN_MAX_LEN + 1];
	size_t len;

	if (load_token(token_file, token, &len, err, err_size) < 0)
		return -1;
	sodium_memzero(admin->token, sizeof(admin->token));
	memcpy(admin->token, token, len + 1);
	admin->token_len = len;
	sodium_memzero(token, sizeof(token));
	return 0;
}

/* Returns NULL when the request carries the right token, else why not. */
static const char *check_bearer(const struct ntm_admin *admin, struct MHD_Connection *conn)
{
	const char *value = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_AUTHORIZATION);
	size_t len;

	if (!value)
		return "missing bearer token";
	/* The scheme name is case-insensitive (RFC 7235, section 2.1). */
	if (strncasecmp(value, "Bearer ", 7) != 0)
		return "Authorization header is not 'Bearer TOKEN'";
	value += 7;
	while (*value == ' ')
		value++;
	len = strlen(value);
	while (len > 0 && value[len - 1] == ' ')
		len--;

	if (len != admin->token_len || sodium_memcmp(value, admin->token, len) != 0)
		return "wrong bearer token";
	return NULL;
}

/* ---- routes ---- */

/* Splits path ("/a/b") into segments inside storage. Returns the count, or
 * SIZE_MAX for a path without a leading '/' or with too many segments. */
static size_t split_path(char *storage, char **segments)
{
	size_t n = 0;
	char *p = storage;

	if (*p != '/')
		return SIZE_MAX;
	while (p) {
		if (n == MAX_SEGMENTS)
			return SIZE_MAX;
		segments[n++] = ++p;
		p = strchr(p, '/');
		if (p)
			*p = '\0';
	}
	return n;
}

static bool is_param(const char *segment)
{
	size_t len = strlen(segment);

	return len >= 3 && segment[0] == '{' && segment[len - 1] == '}';
}

/* Matches the request's segments against route and fills params on success. */
static bool route_matches(const struct route *route, char *const *segments, size_t n_segments,
			  const char **params, size_t *n_params)
{
	size_t n = 0;

	if (route->n_segments != n_segments)
		return false;
	for (size_t i = 0; i < n_segments; i++) {
		if (is_param(route->segments[i])) {
			if (segments[i][0] == '\0')
				return false;
			if (params)
				params[n] = segments[i];
			n++;
		} else if (strcmp(route->segments[i], segments[i]) != 0) {
			return false;
		}
	}
	if (n_params)
		*n_params = n;
	return true;
}

/* True when an earlier route than idx with the same method matches the path. */
static bool method_listed(const struct ntm_admin *admin, size_t idx,
			  const struct request_state *rs)
{
	for (size_t i = 0; i < idx; i++) {
		const struct route *r = &admin->routes[i];

		if (strcmp(r->method, admin->routes[idx].method) == 0 &&
		    route_matches(r, rs->segments, rs->n_segments, NULL, NULL))
			return true;
	}
	return false;
}

/*
 * Finds the route for the request. When none matches, writes into allow the
 * methods of the routes whose pattern matches the path ("" when none).
 */
static const struct route *find_route(const struct ntm_admin *admin, struct request_state *rs,
				      char *allow, size_t allow_size)
{
	size_t pos = 0;

	allow[0] = '\0';
	if (rs->n_segments == SIZE_MAX)
		return NULL;
	for (size_t i = 0; i < admin->n_routes; i++) {
		const struct route *r = &admin->routes[i];

		if (!route_matches(r, rs->segments, rs->n_segments, NULL, NULL))
			continue;
		if (strcmp(r->method, rs->req.method) == 0) {
			route_matches(r, rs->segments, rs->n_segments, rs->req.params,
				      &rs->req.n_params);
			return r;
		}
		if (method_listed(admin, i, rs) || pos >= allow_size)
			continue;
		int n = snprintf(allow + pos, allow_size - pos, "%s%s", pos ? ", " : "", r->method);

		if (n > 0)
			pos += (size_t)n;
	}
	return NULL;
}

static int add_route(struct ntm_admin *admin, const char *method, const char *pattern,
		     ntm_admin_handler handler, void *arg, bool public, enum route_kind kind)
{
	struct route r = { .handler = handler, .arg = arg, .public = public, .kind = kind };
	size_t n_params = 0;
	struct route *routes;

	if (!method || !pattern || (!handler && kind == ROUTE_JSON))
		return -EINVAL;
	for (size_t i = 0; i < admin->n_routes; i++) {
		if (strcmp(admin->routes[i].method, method) == 0 &&
		    strcmp(admin->routes[i].pattern, pattern) == 0)
			return -EEXIST;
	}

	r.method = strdup(method);
	r.pattern = strdup(pattern);
	r.segment_storage = strdup(pattern);
	if (!r.method || !r.pattern || !r.segment_storage)
		goto nomem;
	r.n_segments = split_path(r.segment_storage, r.segments);
	for (size_t i = 0; r.n_segments != SIZE_MAX && i < r.n_segments; i++)
		n_params += is_param(r.segments[i]);
	if (r.n_segments == SIZE_MAX || n_params > NTM_ADMIN_MAX_PARAMS) {
		free(r.method);
		free(r.pattern);
		free(r.segment_storage);
		return -EINVAL;
	}

	routes = reallocarray(admin->routes, admin->n_routes + 1, sizeof(*routes));
	if (!routes)
		goto nomem;
	admin->routes = routes;
	routes[admin->n_routes++] = r;
	return 0;

nomem:
	free(r.method);
	free(r.pattern);
	free(r.segment_storage);
	return -ENOMEM;
}

int ntm_admin_route(struct ntm_admin *admin, const char *method, const char *pattern,
		    ntm_admin_handler handler, void *arg)
{
	return add_route(admin, method, pattern, handler, arg, false, ROUTE_JSON);
}

void ntm_admin_set_health(struct ntm_admin *admin, ntm_admin_health_cb cb, void *arg)
{
	admin->health_cb = cb;
	admin->health_arg = arg;
}

void ntm_admin_set_metrics(struct ntm_admin *admin, ntm_admin_metrics_cb cb, void *arg)
{
	admin->metrics_cb = cb;
	admin->metrics_arg = arg;
}

const char *ntm_admin_query(const struct ntm_admin_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, key);
}

static unsigned handle_health(const struct ntm_admin_request *req, json_t **response, void *arg)
{
	struct ntm_admin *admin = arg;
	json_t *health = json_pack("{s:s,s:s,s:s}", "status", "ok", "daemon", admin->daemon_name,
				   "version", NTM_VERSION);

	if (!health)
		return ntm_admin_error(response, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
				       "cannot build the health object: out of memory");
	if (admin->health_cb)
		admin->health_cb(health, admin->health_arg);
	*response = health;
	return MHD_HTTP_OK;
}

/* ---- the request flow ---- */

static void format_peer(struct MHD_Connection *conn, char *out, size_t out_size)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct ntm_endpoint ep;
	socklen_t len;

	snprintf(out, out_size, "unknown client");
	if (!info || !info->client_addr)
		return;
	len = info->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						       : sizeof(struct sockaddr_in);
	if (ntm_endpoint_from_sockaddr(&ep, info->client_addr, len) == 0)
		ntm_endpoint_str(&ep, out, out_size);
}

static struct request_state *new_request(struct ntm_admin *admin, struct MHD_Connection *conn,
					 const char *url, const char *method)
{
	struct request_state *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->admin = admin;
	rs->path_storage = strdup(url);
	if (!rs->path_storage) {
		free(rs);
		return NULL;
	}
	rs->n_segments = split_path(rs->path_storage, rs->segments);
	rs->req.method = method;
	rs->req.path = url;
	rs->req.connection = conn;
	format_peer(conn, rs->peer, sizeof(rs->peer));
	rs->req.peer = rs->peer;
	return rs;
}

static void free_request(struct request_state *rs)
{
	json_decref(rs->req.body);
	free(rs->body);
	free(rs->path_storage);
	free(rs);
}

static void log_auth_failure(struct ntm_admin *admin, const struct request_state *rs,
			     const char *reason)
{
	char method_text[PEER_TEXT_MAX + 4];
	char path_text[PEER_TEXT_MAX * 4 + 4];
	uint64_t suppressed = admin->auth_log.suppressed;

	if (!ntm_ratelimit_allow(&admin->auth_log, ntm_now_ms()))
		return;
	ntm_log_sanitize(method_text, sizeof(method_text), rs->req.method, PEER_TEXT_MAX);
	ntm_log_sanitize(path_text, sizeof(path_text), rs->req.path, PEER_TEXT_MAX);
	if (suppressed == 0)
		log_info("%s: admin request %s %s rejected: %s", rs->peer, method_text, path_text,
			 reason);
	else
		log_info("%s: admin request %s %s rejected: %s (%llu similar messages suppressed)",
			 rs->peer, method_text, path_text, reason, (unsigned long long)suppressed);
}

/* True when Content-Length announces more than NTM_ADMIN_MAX_BODY bytes. */
static bool body_announced_too_large(struct MHD_Connection *conn)
{
	const char *value = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long len;

	if (!value || value[0] < '0' || value[0] > '9')
		return false;
	errno = 0;
	len = strtoull(value, &end, 10);
	return errno == ERANGE || len > NTM_ADMIN_MAX_BODY;
}

static enum MHD_Result respond_too_large(struct MHD_Connection *conn, struct request_state *rs)
{
	char message[128];

	snprintf(message, sizeof(message), "request body is larger than %d bytes",
		 NTM_ADMIN_MAX_BODY);
	return respond_error(conn, rs, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large", message,
			     NULL, NULL);
}

/* Responds 401 with a Bearer challenge (RFC 6750, section 3). */
static enum MHD_Result respond_unauthorized(const struct ntm_admin *admin,
					    struct MHD_Connection *conn,
					    const struct request_state *rs, const char *why)
{
	char challenge[96];
	char message[256];

	snprintf(challenge, sizeof(challenge), "Bearer realm=\"%s\"", admin->daemon_name);
	snprintf(message, sizeof(message), "%s; send 'Authorization: Bearer TOKEN' with the "
		 "token from the admin token file", why);
	return respond_error(conn, rs, MHD_HTTP_UNAUTHORIZED, "unauthorized", message,
			     MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
}

/* Responds 404, or 405 when the path has routes for other methods (allow). */
static enum MHD_Result respond_no_route(struct MHD_Connection *conn,
					const struct request_state *rs, const char *allow)
{
	char path_text[PEER_TEXT_MAX * 4 + 4];
	char message[sizeof(path_text) + ALLOW_MAX + 64];

	ntm_log_sanitize(path_text, sizeof(path_text), rs->req.path, PEER_TEXT_MAX);
	if (allow[0] == '\0') {
		snprintf(message, sizeof(message), "no resource at path '%s'", path_text);
		return respond_error(conn, rs, MHD_HTTP_NOT_FOUND, "not_found", message, NULL,
				     NULL);
	}
	snprintf(message, sizeof(message), "method not allowed on '%s'; allowed: %s", path_text,
		 allow);
	return respond_error(conn, rs, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
			     message, MHD_HTTP_HEADER_ALLOW, allow);
}

/* Checks token, route and size once the headers are in, and responds on a
 * failure. */
static enum MHD_Result begin_request(struct ntm_admin *admin, struct MHD_Connection *conn,
				     struct request_state *rs)
{
	char allow[ALLOW_MAX];
	const char *why;

	rs->route = find_route(admin, rs, allow, sizeof(allow));
	if (!rs->route || !rs->route->public) {
		why = check_bearer(admin, conn);
		if (why) {
			log_auth_failure(admin, rs, why);
			rs->answered = true;
			return respond_unauthorized(admin, conn, rs, why);
		}
	}
	if (!rs->route) {
		rs->answered = true;
		return respond_no_route(conn, rs, allow);
	}
	if (body_announced_too_large(conn)) {
		rs->answered = true;
		return respond_too_large(conn, rs);
	}
	return MHD_YES;
}

/* Appends upload data to the body, or drops it once the body would pass
 * NTM_ADMIN_MAX_BODY. */
static int collect_body(struct request_state *rs, const char *data, size_t len)
{
	size_t need;

	if (rs->body_too_large)
		return 0;
	if (len > NTM_ADMIN_MAX_BODY - rs->body_len) {
		rs->body_too_large = true;
		return 0;
	}
	need = rs->body_len + len;
	if (need > rs->body_cap) {
		size_t cap = rs->body_cap ? rs->body_cap : 1024;

		while (cap < need)
			cap *= 2;
		if (cap > NTM_ADMIN_MAX_BODY)
			cap = NTM_ADMIN_MAX_BODY;
		char *body = realloc(rs->body, cap);

		if (!body)
			return -ENOMEM;
		rs->body = body;
		rs->body_cap = cap;
	}
	memcpy(rs->body + rs->body_len, data, len);
	rs->body_len = need;
	return 0;
}

static const char *json_type_name(const json_t *value)
{
	switch (json_typeof(value)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "not an object";
}

/* Parses the collected body into rs->req.body. Returns 0, or -1 with message set. */
static int parse_body(struct request_state *rs, char *message, size_t message_size)
{
	json_error_t error;
	json_t *body;

	if (rs->body_len == 0)
		return 0;
	/* JSON_DECODE_ANY lets a scalar body get the clearer "must be an object". */
	body = json_loadb(rs->body, rs->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
	if (!body) {
		snprintf(message, message_size, "invalid JSON at line %d, column %d (position %d): %s",
			 error.line, error.column, error.position, error.text);
		return -1;
	}
	if (!json_is_object(body)) {
		snprintf(message, message_size, "request body must be a JSON object, not %s",
			 json_type_name(body));
		json_decref(body);
		return -1;
	}
	rs->req.body = body;
	return 0;
}

/* The library's own metrics, present on every daemon. */
static void library_metrics(struct ntm_admin *admin, struct ntm_metrics *m)
{
	char code[8];

	ntm_metrics_family(m, "ntm_build_info", NTM_METRIC_GAUGE,
			   "Always 1; the labels name the daemon and its version.");
	ntm_metrics_sample(m, "ntm_build_info", 1, "daemon", admin->daemon_name, "version",
			   NTM_VERSION, NULL);
	ntm_metrics_gauge(m, "ntm_admin_start_time_seconds",
			  "Unix time at which the admin API started, in seconds.",
			  (double)admin->started_wall_ms / 1000.0);
	ntm_metrics_family(m, "ntm_admin_http_responses_total", NTM_METRIC_COUNTER,
			   "Admin API responses sent, by HTTP status code.");
	for (unsigned i = 0; i <= STATUS_MAX - STATUS_MIN; i++) {
		if (admin->responses[i] == 0)
			continue;
		snprintf(code, sizeof(code), "%u", i + STATUS_MIN);
		ntm_metrics_sample(m, "ntm_admin_http_responses_total",
				   (double)admin->responses[i], "code", code, NULL);
	}
}

/* GET /metrics: the Prometheus text of the library and the daemon. */
static enum MHD_Result respond_metrics(struct MHD_Connection *conn, struct request_state *rs)
{
	struct ntm_admin *admin = rs->admin;
	struct ntm_metrics *m = ntm_metrics_new();
	const char *text;
	char *copy = NULL;
	size_t len = 0;

	if (m) {
		library_metrics(admin, m);
		if (admin->metrics_cb)
			admin->metrics_cb(m, admin->metrics_arg);
	}
	text = m ? ntm_metrics_text(m, &len) : NULL;
	if (text)
		copy = malloc(len + 1);
	if (!copy) {
		char message[256];

		snprintf(message, sizeof(message), "cannot build the metrics: %s",
			 m && ntm_metrics_error(m) ? ntm_metrics_error(m) : "out of memory");
		ntm_metrics_free(m);
		return respond_error(conn, rs, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
				     message, NULL, NULL);
	}
	memcpy(copy, text, len + 1);
	ntm_metrics_free(m);
	return respond_text(conn, rs, MHD_HTTP_OK, copy, len, METRICS_CONTENT_TYPE, NULL, NULL);
}

/* Runs the handler once the whole request is in. */
static enum MHD_Result finish_request(struct MHD_Connection *conn, struct request_state *rs)
{
	char message[JSON_ERROR_TEXT_LENGTH + 96];
	json_t *response = NULL;
	unsigned status;

	if (rs->body_too_large)
		return respond_too_large(conn, rs);
	if (rs->route->kind == ROUTE_METRICS)
		return respond_metrics(conn, rs);
	if (parse_body(rs, message, sizeof(message)) < 0)
		return respond_error(conn, rs, MHD_HTTP_BAD_REQUEST, "invalid_json", message, NULL,
				     NULL);

	status = rs->route->handler(&rs->req, &response, rs->route->arg);
	if (status < 100 || status > 599) {
		log_err("%s: admin handler for %s %s returned HTTP status %u, which is invalid",
			rs->peer, rs->route->method, rs->route->pattern, status);
		json_decref(response);
		return respond_error(conn, rs, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error",
				     "the handler failed", NULL, NULL);
	}
	return respond(conn, rs, status, response, NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct ntm_admin *admin = cls;
	struct request_state *rs = *con_cls;

	if (!rs) {
		rs = new_request(admin, conn, url, method);
		if (!rs) {
			log_warn("admin API: request dropped: out of memory");
			return MHD_NO;
		}
		*con_cls = rs;
		return begin_request(admin, conn, rs);
	}
	if (rs->answered)
		return MHD_YES;
	if (*upload_data_size > 0) {
		if (collect_body(rs, upload_data, *upload_data_size) < 0) {
			log_warn("%s: admin request dropped: out of memory for its body", rs->peer);
			return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return finish_request(conn, rs);
}

static void on_request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
			    enum MHD_RequestTerminationCode toe)
{
	if (*con_cls)
		free_request(*con_cls);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct ntm_admin *admin = cls;
	size_t len;

	vsnprintf(admin->mhd_error, sizeof(admin->mhd_error), fmt, ap);
	len = strlen(admin->mhd_error);
	while (len > 0 && admin->mhd_error[len - 1] == '\n')
		admin->mhd_error[--len] = '\0';
	/* After start-up MHD reports mostly what clients did (a plain HTTP
	 * request to the HTTPS port, a failed handshake, a dropped connection),
	 * which any client can repeat: rate-limited at info. */
	if (!admin->running)
		log_warn("admin API: libmicrohttpd: %s", admin->mhd_error);
	else if (ntm_ratelimit_allow(&admin->mhd_log, ntm_now_ms()))
		log_info("admin API: libmicrohttpd: %s", admin->mhd_error);
}

/* ---- the event loop glue ---- */

static void on_epoll_ready(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct ntm_admin *admin = arg;

	MHD_run(admin->mhd);
}

/*
 * Bounds the poll by MHD's timeout. MHD_run() must also run when MHD has
 * buffered data or an expired connection timeout (timeout 0), whether or not
 * its epoll descriptor is readable, so that happens here.
 */
static long admin_prepare(struct ntm_loop *loop, void *arg)
{
	struct ntm_admin *admin = arg;
	MHD_UNSIGNED_LONG_LONG timeout;

	for (int i = 0; i < 4; i++) {
		if (MHD_get_timeout(admin->mhd, &timeout) != MHD_YES)
			return -1;
		if (timeout > 0)
			return timeout > LONG_MAX ? LONG_MAX : (long)timeout;
		MHD_run(admin->mhd);
	}
	return 0;
}

/* ---- HTTPS ---- */

/*
 * Reads a whole PEM file into *out (NUL-terminated, as MHD expects), at most
 * PEM_MAX bytes. A private file must not be accessible by group or others.
 */
static int read_pem(const char *path, const char *what, bool private, char **out, size_t *size,
		    char *err, size_t err_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;

	if (fd < 0) {
		snprintf(err, err_size, "%s: cannot open the %s: %s", path, what, strerror(errno));
		return -1;
	}
	if (private && check_private_mode(fd, path, what, err, err_size) < 0)
		goto fail;
	buf = calloc(1, PEM_MAX + 1);
	if (!buf) {
		snprintf(err, err_size, "%s: cannot read the %s: out of memory", path, what);
		goto fail;
	}
	while ((n = read(fd, buf + len, PEM_MAX + 1 - len)) > 0 && len + (size_t)n <= PEM_MAX)
		len += (size_t)n;
	if (n != 0 || len == 0) {
		snprintf(err, err_size, "%s: cannot read the %s: %s", path, what,
			 n < 0 ? strerror(errno) : n > 0 ? "the file is larger than 64 KiB"
							 : "the file is empty");
		goto fail;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*size = PEM_MAX + 1;
	return 0;
fail:
	if (buf) {
		sodium_memzero(buf, PEM_MAX + 1);
		free(buf);
	}
	close(fd);
	return -1;
}

static bool option_set(const char *value)
{
	return value && value[0] != '\0';
}

/* Loads the certificate and key when both are configured. */
static int load_tls(struct ntm_admin *admin, const struct ntm_admin_config *cfg, char *err,
		    size_t err_size)
{
	size_t cert_size;

	if (!option_set(cfg->cert_file) && !option_set(cfg->key_file))
		return 0;
	if (!option_set(cfg->cert_file) || !option_set(cfg->key_file)) {
		snprintf(err, err_size, "admin API: HTTPS needs both [admin] cert_file and "
			 "key_file; set both, or neither for plain HTTP");
		return -1;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, err_size, "admin API: this libmicrohttpd was built without TLS; "
			 "remove [admin] cert_file and key_file, or install a build with GnuTLS");
		return -1;
	}
	if (read_pem(cfg->cert_file, "admin API certificate file", false, &admin->cert_pem,
		     &cert_size, err, err_size) < 0 ||
	    read_pem(cfg->key_file, "admin API private key file", true, &admin->key_pem,
		     &admin->key_pem_size, err, err_size) < 0)
		return -1;
	admin->tls = true;
	return 0;
}

/* ---- start and stop ---- */

static struct MHD_Daemon *start_mhd(struct ntm_admin *admin, const struct ntm_endpoint *listen)
{
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem tls_options[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, admin->cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, admin->key_pem },
		{ MHD_OPTION_END, 0, NULL },
	};

	ntm_endpoint_to_sockaddr(listen, &ss);
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (admin->tls)
		flags |= MHD_USE_TLS;

	/* The port argument is ignored because MHD_OPTION_SOCK_ADDR is given. */
	/* The logger comes first so that MHD reports option errors through it. */
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, admin,
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, admin,
				MHD_OPTION_ARRAY, admin->tls ? tls_options : &tls_options[2],
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
				MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY_LIMIT,
				MHD_OPTION_NOTIFY_COMPLETED, on_request_done, admin,
				MHD_OPTION_END);
}

static int hook_into_loop(struct ntm_admin *admin, char *err, size_t err_size)
{
	const union MHD_DaemonInfo *info;
	int rc;

	info = MHD_get_daemon_info(admin->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		snprintf(err, err_size, "admin API: libmicrohttpd has no epoll descriptor");
		return -1;
	}
	admin->epoll_fd = info->epoll_fd;
	info = MHD_get_daemon_info(admin->mhd, MHD_DAEMON_INFO_BIND_PORT);
	admin->port = info ? info->port : 0;

	rc = ntm_loop_add_fd(admin->loop, admin->epoll_fd, ZMQ_POLLIN, on_epoll_ready, admin);
	if (rc < 0) {
		snprintf(err, err_size, "admin API: cannot watch the epoll descriptor: %s",
			 strerror(-rc));
		return -1;
	}
	rc = ntm_loop_add_prepare(admin->loop, admin_prepare, admin);
	if (rc < 0) {
		ntm_loop_del_fd(admin->loop, admin->epoll_fd);
		snprintf(err, err_size, "admin API: cannot add the timeout hook: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

static void free_admin(struct ntm_admin *admin)
{
	for (size_t i = 0; i < admin->n_routes; i++) {
		free(admin->routes[i].method);
		free(admin->routes[i].pattern);
		free(admin->routes[i].segment_storage);
	}
	free(admin->routes);
	sodium_memzero(admin->token, sizeof(admin->token));
	if (admin->key_pem) {
		sodium_memzero(admin->key_pem, admin->key_pem_size);
		free(admin->key_pem);
	}
	free(admin->cert_pem);
	free(admin);
}

struct ntm_admin *ntm_admin_start(const struct ntm_admin_config *cfg, struct ntm_loop *loop,
				  char *err, size_t err_size)
{
	struct ntm_admin *admin = calloc(1, sizeof(*admin));
	char where[NTM_ENDPOINT_STRLEN];
	struct ntm_endpoint where_port;

	if (!admin) {
		snprintf(err, err_size, "admin API: out of memory");
		return NULL;
	}
	admin->loop = loop;
	admin->epoll_fd = -1;
	admin->auth_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(5, 1);
	admin->mhd_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(5, 1);
	admin->started_wall_ms = ntm_wall_ms();
	snprintf(admin->daemon_name, sizeof(admin->daemon_name), "%s",
		 cfg->daemon_name ? cfg->daemon_name : "ntm");

	if (!cfg->token_file) {
		snprintf(err, err_size, "admin API: no token file is configured");
		goto fail;
	}
	if (load_token(cfg->token_file, admin->token, &admin->token_len, err, err_size) < 0 ||
	    load_tls(admin, cfg, err, err_size) < 0)
		goto fail;
	if (add_route(admin, "GET", "/healthz", handle_health, admin, true, ROUTE_JSON) < 0 ||
	    add_route(admin, "GET", "/metrics", NULL, admin, false, ROUTE_METRICS) < 0) {
		snprintf(err, err_size, "admin API: out of memory");
		goto fail;
	}

	ntm_endpoint_str(&cfg->listen, where, sizeof(where));
	admin->mhd = start_mhd(admin, &cfg->listen);
	if (!admin->mhd) {
		snprintf(err, err_size, "admin API: cannot listen on %s: %s", where,
			 admin->mhd_error[0] ? admin->mhd_error : "libmicrohttpd failed to start");
		goto fail;
	}
	if (hook_into_loop(admin, err, err_size) < 0) {
		MHD_stop_daemon(admin->mhd);
		goto fail;
	}
	admin->running = true;
	where_port = cfg->listen;
	where_port.port = admin->port;
	log_info("admin API listening on %s://%s", admin->tls ? "https" : "http",
		 ntm_endpoint_str(&where_port, where, sizeof(where)));
	return admin;

fail:
	free_admin(admin);
	return NULL;
}

uint16_t ntm_admin_port(const struct ntm_admin *admin)
{
	return admin->port;
}

void ntm_admin_stop(struct ntm_admin *admin)
{
	if (!admin)
		return;
	ntm_loop_del_fd(admin->loop, admin->epoll_fd);
	ntm_loop_del_prepare(admin->loop, admin_prepare, admin);
	/* Completes the open requests through on_request_done. */
	MHD_stop_daemon(admin->mhd);
	free_admin(admin);
}
