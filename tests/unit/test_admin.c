/*
 * Unit tests for the admin API (ntm_admin): a real libmicrohttpd server on
 * 127.0.0.1 with an ephemeral port, driven by ntm_loop in the test thread,
 * and a client thread that speaks HTTP/1.1 over a plain socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "ntm_admin.h"
#include "ntm_log.h"
#include "ntm_loop.h"

#define TOKEN "0123456789abcdef-test-token"
#define WATCHDOG_MS 10000
#define RESPONSE_MAX (256 * 1024)

struct fixture {
	char dir[64];
	char token_path[128];
	struct ntm_loop *loop;
	struct ntm_admin *admin;
	int notify[2];           /* the client thread writes one byte when done */
	bool watchdog_fired;
	int handler_calls;
};

/* ---- route handlers ---- */

static unsigned get_record(const struct ntm_admin_request *req, json_t **response, void *arg)
{
	struct fixture *fx = arg;
	const char *verbose = ntm_admin_query(req, "verbose");

	fx->handler_calls++;
	*response = json_pack("{s:s,s:s,s:i}", "id", req->params[0], "verbose",
			      verbose ? verbose : "", "n_params", (int)req->n_params);
	return 200;
}

static unsigned delete_record(const struct ntm_admin_request *req, json_t **response, void *arg)
{
	struct fixture *fx = arg;

	fx->handler_calls++;
	return 204;
}

static unsigned post_record(const struct ntm_admin_request *req, json_t **response, void *arg)
{
	struct fixture *fx = arg;

	fx->handler_calls++;
	*response = json_pack("{s:O?}", "received", req->body);
	return 201;
}

static unsigned get_teapot(const struct ntm_admin_request *req, json_t **response, void *arg)
{
	return ntm_admin_error(response, 418, "teapot", "no record for FQDN '%s'", "x.example");
}

static unsigned get_bad_status(const struct ntm_admin_request *req, json_t **response,
			       void *arg)
{
	return 42;
}

static unsigned get_pair(const struct ntm_admin_request *req, json_t **response, void *arg)
{
	*response = json_pack("{s:s,s:s}", "a", req->params[0], "b", req->params[1]);
	return 200;
}

static void add_health(json_t *health, void *arg)
{
	json_object_set_new(health, "nodes", json_integer(3));
}

/* ---- fixture ---- */

static void on_watchdog(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct fixture *fx = arg;

	fx->watchdog_fired = true;
	ntm_loop_stop(loop);
}

static void on_client_done(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	char c;

	if (read(fd, &c, 1) == 1)
		ntm_loop_stop(loop);
}

static int write_token_file(const char *path, const char *content, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(content, f);
	if (fclose(f) != 0)
		return -1;
	return chmod(path, mode);
}

static struct ntm_admin *start_admin(struct fixture *fx, const char *token_path, uint16_t port,
				     char *err, size_t err_size)
{
	struct ntm_admin_config cfg = { .token_file = token_path, .daemon_name = "ntm-test" };

	assert_int_equal(ntm_ip_parse(&cfg.listen.ip, "127.0.0.1"), 0);
	cfg.listen.port = port;
	return ntm_admin_start(&cfg, fx->loop, err, err_size);
}

static int teardown(void **state);

static int setup_fixture(struct fixture *fx)
{
	char err[512];

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/ntm-test-admin-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->token_path, sizeof(fx->token_path), "%s/admin.token", fx->dir);
	if (write_token_file(fx->token_path, TOKEN "\n", 0600) < 0)
		return -1;
	if (pipe(fx->notify) < 0)
		return -1;

	fx->loop = ntm_loop_new();
	fx->admin = start_admin(fx, fx->token_path, 0, err, sizeof(err));
	if (!fx->admin) {
		fprintf(stderr, "ntm_admin_start failed: %s\n", err);
		return -1;
	}
	ntm_admin_set_health(fx->admin, add_health, fx);
	if (ntm_admin_route(fx->admin, "GET", "/v1/records/{id}", get_record, fx) < 0 ||
	    ntm_admin_route(fx->admin, "DELETE", "/v1/records/{id}", delete_record, fx) < 0 ||
	    ntm_admin_route(fx->admin, "POST", "/v1/records", post_record, fx) < 0 ||
	    ntm_admin_route(fx->admin, "GET", "/v1/teapot", get_teapot, fx) < 0 ||
	    ntm_admin_route(fx->admin, "GET", "/v1/bad-status", get_bad_status, fx) < 0 ||
	    ntm_admin_route(fx->admin, "GET", "/v1/pairs/{a}/x/{b}", get_pair, fx) < 0)
		return -1;
	if (ntm_loop_add_fd(fx->loop, fx->notify[0], ZMQ_POLLIN, on_client_done, fx) < 0)
		return -1;
	if (!ntm_loop_timer_add(fx->loop, WATCHDOG_MS, 0, on_watchdog, fx))
		return -1;
	return 0;
}

/* Cleans up after itself on failure, because cmocka skips the teardown then. */
static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx->notify[0] = fx->notify[1] = -1;
	*state = fx;
	if (setup_fixture(fx) < 0) {
		teardown(state);
		*state = NULL;
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char path[160];

	if (!fx)
		return 0;
	ntm_admin_stop(fx->admin);
	ntm_loop_free(fx->loop);
	if (fx->notify[0] >= 0) {
		close(fx->notify[0]);
		close(fx->notify[1]);
	}
	unlink(fx->token_path);
	snprintf(path, sizeof(path), "%s/other.token", fx->dir);
	unlink(path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* ---- the HTTP client thread ---- */

struct client_job {
	uint16_t port;
	const char *request;
	size_t request_len;
	int notify_fd;
	char *response;        /* RESPONSE_MAX bytes, NUL-terminated */
	size_t response_len;
};

static void *client_main(void *arg)
{
	struct client_job *job = arg;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(job->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t sent = 0;

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		goto out;
	while (sent < job->request_len) {
		ssize_t n = send(fd, job->request + sent, job->request_len - sent, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	for (;;) {
		ssize_t n = recv(fd, job->response + job->response_len,
				 RESPONSE_MAX - 1 - job->response_len, 0);

		if (n <= 0)
			break;
		job->response_len += (size_t)n;
	}
out:
	job->response[job->response_len] = '\0';
	if (fd >= 0)
		close(fd);
	if (write(job->notify_fd, "x", 1) != 1)
		perror("client thread: write");
	return NULL;
}

struct http_response {
	char *raw;
	int status;
	const char *body;       /* after the blank line */
	json_t *json;           /* parsed body, NULL when empty or not JSON */
};

/* Sends request from a client thread while the loop serves it. */
static void exchange(struct fixture *fx, const char *request, size_t len,
		     struct http_response *resp)
{
	struct client_job job = { .port = ntm_admin_port(fx->admin), .request = request,
				  .request_len = len, .notify_fd = fx->notify[1] };
	pthread_t thread;
	char *end;

	job.response = calloc(1, RESPONSE_MAX);
	assert_non_null(job.response);
	assert_int_equal(pthread_create(&thread, NULL, client_main, &job), 0);
	assert_int_equal(ntm_loop_run(fx->loop), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_false(fx->watchdog_fired);

	memset(resp, 0, sizeof(*resp));
	resp->raw = job.response;
	assert_true(sscanf(job.response, "HTTP/1.1 %d ", &resp->status) == 1);
	end = strstr(job.response, "\r\n\r\n");
	assert_non_null(end);
	resp->body = end + 4;
	if (resp->body[0])
		resp->json = json_loads(resp->body, 0, NULL);
}

static void exchange_text(struct fixture *fx, const char *request, struct http_response *resp)
{
	exchange(fx, request, strlen(request), resp);
}

static void free_response(struct http_response *resp)
{
	json_decref(resp->json);
	free(resp->raw);
}

/* Returns the value of header name (case-insensitive), copied into out. */
static const char *header_value(const struct http_response *resp, const char *name, char *out,
				size_t out_size)
{
	size_t name_len = strlen(name);
	const char *line = strstr(resp->raw, "\r\n");

	while (line && line + 2 < resp->body) {
		line += 2;
		if (strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
			const char *value = line + name_len + 1;
			const char *eol = strstr(value, "\r\n");

			while (*value == ' ')
				value++;
			snprintf(out, out_size, "%.*s", (int)(eol - value), value);
			return out;
		}
		line = strstr(line, "\r\n");
	}
	return NULL;
}

static const char *error_code(const struct http_response *resp)
{
	return json_string_value(json_object_get(json_object_get(resp->json, "error"), "code"));
}

static const char *error_message(const struct http_response *resp)
{
	return json_string_value(json_object_get(json_object_get(resp->json, "error"), "message"));
}

#define AUTH "Authorization: Bearer " TOKEN "\r\n"

/* ---- /healthz and authentication ---- */

static void admin_healthz_without_token(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	char value[128];

	exchange_text(fx, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(header_value(&resp, "Content-Type", value, sizeof(value)),
			    "application/json");
	assert_non_null(resp.json);
	assert_string_equal(json_string_value(json_object_get(resp.json, "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(resp.json, "daemon")), "ntm-test");
	assert_string_equal(json_string_value(json_object_get(resp.json, "version")), NTM_VERSION);
	assert_int_equal(json_integer_value(json_object_get(resp.json, "nodes")), 3);
	free_response(&resp);
}

static void admin_missing_token(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	char value[128];

	exchange_text(fx, "GET /v1/records/a.example HTTP/1.1\r\nHost: x\r\n"
			  "Connection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 401);
	assert_non_null(header_value(&resp, "WWW-Authenticate", value, sizeof(value)));
	assert_int_equal(strncmp(value, "Bearer", 6), 0);
	assert_string_equal(header_value(&resp, "Content-Type", value, sizeof(value)),
			    "application/json");
	assert_string_equal(error_code(&resp), "unauthorized");
	assert_int_equal(fx->handler_calls, 0);
	free_response(&resp);
}

static void admin_wrong_token(void **state)
{
	struct fixture *fx = *state;
	static const char *const headers[] = {
		"Authorization: Bearer 0123456789abcdef-test-tokex\r\n",
		"Authorization: Bearer 0123456789abcdef-test-token-longer\r\n",
		"Authorization: Bearer 0123456789abcdef-test-toke\r\n",
		"Authorization: Bearer \r\n",
		"Authorization: Basic " TOKEN "\r\n",
	};
	char request[512];
	char value[128];

	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		struct http_response resp;

		snprintf(request, sizeof(request), "GET /v1/records/a.example HTTP/1.1\r\n"
			 "Host: x\r\n%sConnection: close\r\n\r\n", headers[i]);
		exchange_text(fx, request, &resp);
		assert_int_equal(resp.status, 401);
		assert_non_null(header_value(&resp, "WWW-Authenticate", value, sizeof(value)));
		assert_string_equal(error_code(&resp), "unauthorized");
		free_response(&resp);
	}
	assert_int_equal(fx->handler_calls, 0);
}

/* Without a token, an unknown path gets 401 too, so routes stay hidden. */
static void admin_unknown_path_needs_token(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;

	exchange_text(fx, "GET /v1/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		      &resp);
	assert_int_equal(resp.status, 401);
	free_response(&resp);
}

static void admin_scheme_case_insensitive(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;

	exchange_text(fx, "GET /v1/records/a.example HTTP/1.1\r\nHost: x\r\n"
			  "Authorization: bearer " TOKEN "\r\nConnection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 200);
	free_response(&resp);
}

/* ---- routing ---- */

static void admin_routed_get_with_param(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	char value[128];

	exchange_text(fx, "GET /v1/records/node1.example?verbose=1 HTTP/1.1\r\nHost: x\r\n" AUTH
			  "Connection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(header_value(&resp, "Content-Type", value, sizeof(value)),
			    "application/json");
	assert_non_null(resp.json);
	assert_string_equal(json_string_value(json_object_get(resp.json, "id")), "node1.example");
	assert_string_equal(json_string_value(json_object_get(resp.json, "verbose")), "1");
	assert_int_equal(json_integer_value(json_object_get(resp.json, "n_params")), 1);
	assert_int_equal(fx->handler_calls, 1);
	free_response(&resp);
}

static void admin_two_params(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;

	exchange_text(fx, "GET /v1/pairs/left/x/right HTTP/1.1\r\nHost: x\r\n" AUTH
			  "Connection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(json_string_value(json_object_get(resp.json, "a")), "left");
	assert_string_equal(json_string_value(json_object_get(resp.json, "b")), "right");
	free_response(&resp);
}

static void admin_not_found(void **state)
{
	struct fixture *fx = *state;
	static const char *const paths[] = { "/v1/nothing", "/v1/records/", "/v1/records/a/b",
					     "/", "/healthz/x", "/v1//a" };
	char request[256];
	char value[128];

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct http_response resp;

		snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: x\r\n" AUTH
			 "Connection: close\r\n\r\n", paths[i]);
		exchange_text(fx, request, &resp);
		assert_int_equal(resp.status, 404);
		assert_string_equal(header_value(&resp, "Content-Type", value, sizeof(value)),
				    "application/json");
		assert_string_equal(error_code(&resp), "not_found");
		free_response(&resp);
	}
	assert_int_equal(fx->handler_calls, 0);
}

static void admin_method_not_allowed(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	char value[128];

	exchange_text(fx, "PUT /v1/records/a.example HTTP/1.1\r\nHost: x\r\n" AUTH
			  "Content-Length: 0\r\nConnection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 405);
	assert_string_equal(header_value(&resp, "Allow", value, sizeof(value)), "GET, DELETE");
	assert_string_equal(error_code(&resp), "method_not_allowed");
	free_response(&resp);

	exchange_text(fx, "POST /healthz HTTP/1.1\r\nHost: x\r\n" AUTH
			  "Content-Length: 0\r\nConnection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 405);
	assert_string_equal(header_value(&resp, "Allow", value, sizeof(value)), "GET");
	free_response(&resp);

	exchange_text(fx, "GET /v1/records HTTP/1.1\r\nHost: x\r\n" AUTH
			  "Connection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 405);
	assert_string_equal(header_value(&resp, "Allow", value, sizeof(value)), "POST");
	free_response(&resp);
	assert_int_equal(fx->handler_calls, 0);
}

/* Only GET /healthz is public: another method on it needs the token. */
static void admin_healthz_post_needs_token(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;

	exchange_text(fx, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
			  "Connection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 401);
	free_response(&resp);
}

/* Two pipelined requests on one kept-alive connection both get responses. */
static void admin_keep_alive_two_requests(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	const char *second;

	exchange_text(fx, "GET /v1/records/one HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"
			  "GET /v1/records/two HTTP/1.1\r\nHost: x\r\n" AUTH
			  "Connection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(resp.body, "\"id\":\"one\""));
	second = strstr(resp.body, "HTTP/1.1 200");
	assert_non_null(second);
	assert_non_null(strstr(second, "\"id\":\"two\""));
	assert_int_equal(fx->handler_calls, 2);
	free_response(&resp);
}

/* ---- handler status and bodies ---- */

static void admin_status_passed_through(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	char value[128];

	exchange_text(fx, "GET /v1/teapot HTTP/1.1\r\nHost: x\r\n" AUTH
			  "Connection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 418);
	assert_string_equal(error_code(&resp), "teapot");
	assert_string_equal(error_message(&resp), "no record for FQDN 'x.example'");
	free_response(&resp);

	exchange_text(fx, "DELETE /v1/records/a.example HTTP/1.1\r\nHost: x\r\n" AUTH
			  "Connection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 204);
	assert_string_equal(resp.body, "");
	assert_null(header_value(&resp, "Content-Type", value, sizeof(value)));
	free_response(&resp);
}

static void admin_invalid_status_is_500(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;

	exchange_text(fx, "GET /v1/bad-status HTTP/1.1\r\nHost: x\r\n" AUTH
			  "Connection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 500);
	assert_string_equal(error_code(&resp), "internal_error");
	free_response(&resp);
}

static void post_json(struct fixture *fx, const char *body, struct http_response *resp)
{
	char request[1024];

	snprintf(request, sizeof(request), "POST /v1/records HTTP/1.1\r\nHost: x\r\n" AUTH
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n%s", strlen(body), body);
	exchange_text(fx, request, resp);
}

static void admin_post_json_body(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	json_t *received;

	post_json(fx, "{\"fqdn\":\"a.example\",\"n\":2}", &resp);
	assert_int_equal(resp.status, 201);
	received = json_object_get(resp.json, "received");
	assert_string_equal(json_string_value(json_object_get(received, "fqdn")), "a.example");
	assert_int_equal(json_integer_value(json_object_get(received, "n")), 2);
	free_response(&resp);
}

static void admin_post_empty_body(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;

	post_json(fx, "", &resp);
	assert_int_equal(resp.status, 201);
	assert_true(json_is_null(json_object_get(resp.json, "received")) ||
		    !json_object_get(resp.json, "received"));
	free_response(&resp);
}

static void admin_bad_json(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;

	post_json(fx, "{\"fqdn\": ", &resp);
	assert_int_equal(resp.status, 400);
	assert_string_equal(error_code(&resp), "invalid_json");
	assert_non_null(strstr(error_message(&resp), "invalid JSON at line 1"));
	assert_non_null(strstr(error_message(&resp), "position"));
	free_response(&resp);
	assert_int_equal(fx->handler_calls, 0);
}

static void admin_non_object_json(void **state)
{
	struct fixture *fx = *state;
	static const char *const bodies[] = { "[1,2]", "\"text\"", "42", "null" };

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct http_response resp;

		post_json(fx, bodies[i], &resp);
		assert_int_equal(resp.status, 400);
		assert_string_equal(error_code(&resp), "invalid_json");
		assert_non_null(strstr(error_message(&resp), "must be a JSON object"));
		free_response(&resp);
	}
	assert_int_equal(fx->handler_calls, 0);
}

static void admin_duplicate_json_keys(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;

	post_json(fx, "{\"a\":1,\"a\":2}", &resp);
	assert_int_equal(resp.status, 400);
	assert_string_equal(error_code(&resp), "invalid_json");
	free_response(&resp);
}

/* Content-Length past the limit: 413 before any body byte is read. */
static void admin_oversize_announced(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	char request[512];

	snprintf(request, sizeof(request), "POST /v1/records HTTP/1.1\r\nHost: x\r\n" AUTH
		 "Content-Length: %d\r\nConnection: close\r\n\r\n", NTM_ADMIN_MAX_BODY + 1);
	exchange_text(fx, request, &resp);
	assert_int_equal(resp.status, 413);
	assert_string_equal(error_code(&resp), "body_too_large");
	free_response(&resp);
	assert_int_equal(fx->handler_calls, 0);
}

/* A chunked body that grows past the limit: read, dropped, then 413. */
static void admin_oversize_chunked(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	size_t chunk = 4096;
	size_t n_chunks = NTM_ADMIN_MAX_BODY / chunk + 2;
	size_t cap = 1024 + n_chunks * (chunk + 16);
	char *request = malloc(cap);
	size_t len;

	assert_non_null(request);
	len = (size_t)snprintf(request, cap, "POST /v1/records HTTP/1.1\r\nHost: x\r\n" AUTH
			       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
	for (size_t i = 0; i < n_chunks; i++) {
		len += (size_t)snprintf(request + len, cap - len, "%zx\r\n", chunk);
		memset(request + len, ' ', chunk);
		len += chunk;
		len += (size_t)snprintf(request + len, cap - len, "\r\n");
	}
	len += (size_t)snprintf(request + len, cap - len, "0\r\n\r\n");

	exchange(fx, request, len, &resp);
	assert_int_equal(resp.status, 413);
	assert_string_equal(error_code(&resp), "body_too_large");
	free_response(&resp);
	free(request);
	assert_int_equal(fx->handler_calls, 0);
}

/* A body of exactly the limit is accepted (white space around an object). */
static void admin_body_at_limit(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	size_t cap = NTM_ADMIN_MAX_BODY + 1024;
	char *request = malloc(cap);
	size_t len;

	assert_non_null(request);
	len = (size_t)snprintf(request, cap, "POST /v1/records HTTP/1.1\r\nHost: x\r\n" AUTH
			       "Content-Length: %d\r\nConnection: close\r\n\r\n",
			       NTM_ADMIN_MAX_BODY);
	memcpy(request + len, "{}", 2);
	memset(request + len + 2, ' ', NTM_ADMIN_MAX_BODY - 2);
	len += NTM_ADMIN_MAX_BODY;

	exchange(fx, request, len, &resp);
	assert_int_equal(resp.status, 201);
	free_response(&resp);
	free(request);
}

/* ---- token file handling ---- */

static void admin_reload_token(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	char path[160];
	char err[512];

	snprintf(path, sizeof(path), "%s/other.token", fx->dir);
	assert_int_equal(write_token_file(path, "fedcba9876543210-new-token\r\n", 0600), 0);
	assert_int_equal(ntm_admin_reload_token(fx->admin, path, err, sizeof(err)), 0);

	exchange_text(fx, "GET /v1/records/a HTTP/1.1\r\nHost: x\r\n" AUTH
			  "Connection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 401);
	free_response(&resp);
	exchange_text(fx, "GET /v1/records/a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
			  "fedcba9876543210-new-token\r\nConnection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 200);
	free_response(&resp);
}

static void admin_reload_keeps_old_token(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	char path[160];
	char err[512];

	snprintf(path, sizeof(path), "%s/other.token", fx->dir);
	assert_int_equal(write_token_file(path, "fedcba9876543210-new-token\n", 0640), 0);
	assert_int_equal(ntm_admin_reload_token(fx->admin, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "chmod 600"));

	exchange_text(fx, "GET /v1/records/a HTTP/1.1\r\nHost: x\r\n" AUTH
			  "Connection: close\r\n\r\n", &resp);
	assert_int_equal(resp.status, 200);
	free_response(&resp);
}

static void admin_start_rejects_token_files(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *content;
		mode_t mode;
		const char *message;
	} cases[] = {
		{ TOKEN "\n", 0644, "chmod 600" },
		{ TOKEN "\n", 0604, "chmod 600" },
		{ "short-token\n", 0600, "use at least 16" },
		{ "\n", 0600, "use at least 16" },
		{ "0123456789 abcdef\n", 0600, "contains spaces" },
	};
	char path[160];
	char err[512];

	snprintf(path, sizeof(path), "%s/other.token", fx->dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(write_token_file(path, cases[i].content, cases[i].mode), 0);
		err[0] = '\0';
		assert_null(start_admin(fx, path, 0, err, sizeof(err)));
		assert_non_null(strstr(err, path));
		assert_non_null(strstr(err, cases[i].message));
	}
	unlink(path);
	assert_null(start_admin(fx, path, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file or directory"));
}

static void admin_start_port_in_use(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	char expected[64];

	assert_null(start_admin(fx, fx->token_path, ntm_admin_port(fx->admin), err, sizeof(err)));
	snprintf(expected, sizeof(expected), "cannot listen on 127.0.0.1:%u",
		 ntm_admin_port(fx->admin));
	assert_non_null(strstr(err, expected));
}

static void admin_route_errors(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(ntm_admin_route(fx->admin, "GET", "/v1/records/{id}", get_record, fx),
			 -EEXIST);
	assert_int_equal(ntm_admin_route(fx->admin, "GET", "v1/x", get_record, fx), -EINVAL);
	assert_int_equal(ntm_admin_route(fx->admin, "GET", "/{a}/{b}/{c}/{d}/{e}", get_record, fx),
			 -EINVAL);
	assert_int_equal(ntm_admin_route(fx->admin, "GET", "/v1/x", NULL, fx), -EINVAL);
}

static void admin_port_is_bound(void **state)
{
	struct fixture *fx = *state;

	assert_true(ntm_admin_port(fx->admin) > 0);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(admin_port_is_bound),
		TEST(admin_healthz_without_token),
		TEST(admin_missing_token),
		TEST(admin_wrong_token),
		TEST(admin_unknown_path_needs_token),
		TEST(admin_scheme_case_insensitive),
		TEST(admin_routed_get_with_param),
		TEST(admin_two_params),
		TEST(admin_not_found),
		TEST(admin_keep_alive_two_requests),
		TEST(admin_method_not_allowed),
		TEST(admin_healthz_post_needs_token),
		TEST(admin_status_passed_through),
		TEST(admin_invalid_status_is_500),
		TEST(admin_post_json_body),
		TEST(admin_post_empty_body),
		TEST(admin_bad_json),
		TEST(admin_non_object_json),
		TEST(admin_duplicate_json_keys),
		TEST(admin_oversize_announced),
		TEST(admin_oversize_chunked),
		TEST(admin_body_at_limit),
		TEST(admin_reload_token),
		TEST(admin_reload_keeps_old_token),
		TEST(admin_start_rejects_token_files),
		TEST(admin_start_port_in_use),
		TEST(admin_route_errors),
	};

	ntm_log_open("test_admin", true, NTM_LOG_DEBUG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
