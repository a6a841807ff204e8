/*
 * Integration test of ntm-rsd, the Relay Server. It starts the real daemon
 * on loopback with a generated configuration and plays the other roles
 * itself: two DCs allocating sessions over ZeroMQ with CURVE, a DC with an
 * unconfigured key, and nodes on 127.0.0.2 to 127.0.0.5 that bind with
 * their derived credentials and relay packets through the daemon.
 *
 * The daemon's stderr goes to rsd.log in a temporary directory. Set
 * NTM_ITEST_LOG=1 to have it copied to the test's stderr at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "ntm_addr.h"
#include "ntm_daemontest.h"
#include "ntm_key.h"
#include "ntm_msg.h"
#include "ntm_relay.h"
#include "ntm_time.h"
#include "relay.pb-c.h"

#ifndef NTM_RSD_PATH
#error "NTM_RSD_PATH must name the ntm-rsd executable"
#endif

/* How long a test waits for a message the relay must send. The first
 * message of a DC also waits for the CURVE handshake. */
#define ANSWER_MS 3000
/* How long a test listens to conclude that nothing arrives. Loopback
 * delivery takes well under a millisecond, so this is generous. */
#define SILENCE_MS 300
/* Limits of the generated configuration. */
#define MAX_SESSIONS 4
#define MAX_SESSIONS_PER_DC 3

/* ---- the daemon ---- */

struct rsd {
	char dir[PATH_MAX];
	char conf_path[PATH_MAX];
	char key_path[PATH_MAX];
	char token_path[PATH_MAX];
	char log_path[PATH_MAX];
	char token[NTM_DAEMONTEST_TOKEN_LEN + 1];
	struct ntm_keypair kp;                   /* the relay's key pair */
	struct ntm_keypair dc1, dc2, rogue;      /* rogue is in no [dc] section */
	uint16_t udp_port, alloc_port, admin_port;
	pid_t pid;
};

static struct rsd R;

static int make_files(struct rsd *r)
{
	int rc = ntm_daemontest_make_dir(r->dir, sizeof(r->dir), "ntm-rsdtest");

	if (rc != 0)
		return rc;
	if (ntm_daemontest_path_join(r->conf_path, sizeof(r->conf_path), r->dir, "rsd.conf") ||
	    ntm_daemontest_path_join(r->key_path, sizeof(r->key_path), r->dir, "rs.key") ||
	    ntm_daemontest_path_join(r->token_path, sizeof(r->token_path), r->dir,
				     "admin.token") ||
	    ntm_daemontest_path_join(r->log_path, sizeof(r->log_path), r->dir, "rsd.log"))
		return -ENAMETOOLONG;
	ntm_keypair_generate(&r->kp);
	if (ntm_key_save(&r->kp, r->key_path, 0) != 0)
		return -EIO;
	return ntm_daemontest_write_token(r->token_path, r->token, sizeof(r->token));
}

static int pick_ports(struct rsd *r)
{
	const struct ntm_daemontest_port ports[] = {
		{ SOCK_DGRAM, &r->udp_port },
		{ SOCK_STREAM, &r->alloc_port },
		{ SOCK_STREAM, &r->admin_port },
	};

	return ntm_daemontest_pick_ports(ports, sizeof(ports) / sizeof(ports[0]));
}

/* Writes the configuration with the given session limits. */
static int write_conf(const struct rsd *r, unsigned max_sessions, unsigned per_dc)
{
	char buf[4096], k1[NTM_KEY_B64_LEN], k2[NTM_KEY_B64_LEN];
	int n;

	ntm_key_to_base64(k1, r->dc1.pub);
	ntm_key_to_base64(k2, r->dc2.pub);
	n = snprintf(buf, sizeof(buf),
		     "[rs]\nlisten = 127.0.0.1:%u\npublic_endpoint = 127.0.0.1:%u\n"
		     "private_key_file = %s\nlog_level = debug\nmax_sessions = %u\n"
		     "max_sessions_per_dc = %u\nmax_pps_per_session = 100000\n"
		     "idle_timeout = 60\n"
		     "[alloc]\nlisten = 127.0.0.1:%u\n"
		     "[admin]\nlisten = 127.0.0.1:%u\ntoken_file = %s\n"
		     "[dc dc1]\npublic_key = %s\n[dc dc2]\npublic_key = %s\n",
		     r->udp_port, r->udp_port, r->key_path, max_sessions, per_dc, r->alloc_port,
		     r->admin_port, r->token_path, k1, k2);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENOSPC;
	return ntm_daemontest_write_file(r->conf_path, 0600, buf);
}

static int rsd_start(struct rsd *r)
{
	return ntm_daemontest_start(&r->pid, NTM_RSD_PATH, r->conf_path, r->log_path,
				    r->admin_port);
}

static void rsd_cleanup(struct rsd *r)
{
	if (r->pid)
		ntm_daemontest_stop(&r->pid, SIGKILL);
	ntm_daemontest_remove_dir(r->dir, r->log_path);
	ntm_keypair_wipe(&r->kp);
}

/* ---- admin API client (HTTP/1.0) ---- */

/* Sends a request without a body. Returns the HTTP status or -errno, and
 * the parsed JSON body in *response when not NULL. */
static int http(const char *method, const char *path, bool token, json_t **response)
{
	return ntm_daemontest_http(R.admin_port, token ? R.token : NULL, method, path, NULL,
				   response);
}

/* Sends GET path with the token, and fails the test unless it returns 200
 * and JSON. */
static json_t *get_json(const char *path)
{
	json_t *j = NULL;
	int status = http("GET", path, true, &j);

	if (status != 200 || !j)
		fail_msg("GET %s: expected 200 with a JSON body, got status %d", path, status);
	return j;
}

/* A number inside /v1/counters, named by up to two keys. */
static json_int_t counter(const char *key, const char *sub)
{
	json_t *c = get_json("/v1/counters");
	json_t *v = json_object_get(c, key);
	json_int_t n;

	if (sub)
		v = json_object_get(v, sub);
	if (!json_is_integer(v))
		fail_msg("/v1/counters has no integer %s%s%s", key, sub ? "." : "", sub ? sub : "");
	n = json_integer_value(v);
	json_decref(c);
	return n;
}

static json_int_t drops(const char *reason)
{
	return counter("drops", reason);
}

/* ---- a DC on ZeroMQ with CURVE ---- */

static void *zctx;

struct dc {
	void *dealer;
	const char *name;
	uint64_t boot_id;      /* from the last RelayStatus, 0 before one */
	unsigned statuses;     /* RelayStatus messages received */
	uint32_t last_status_sessions;
};

static void dc_open(struct dc *dc, const char *name, const struct ntm_keypair *kp)
{
	char url[64];
	int zero = 0;

	memset(dc, 0, sizeof(*dc));
	dc->name = name;
	dc->dealer = zmq_socket(zctx, ZMQ_DEALER);
	assert_non_null(dc->dealer);
	zmq_setsockopt(dc->dealer, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(dc->dealer, ZMQ_CURVE_SERVERKEY, R.kp.pub, NTM_KEY_LEN);
	zmq_setsockopt(dc->dealer, ZMQ_CURVE_PUBLICKEY, kp->pub, NTM_KEY_LEN);
	zmq_setsockopt(dc->dealer, ZMQ_CURVE_SECRETKEY, kp->priv, NTM_KEY_LEN);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", R.alloc_port);
	assert_int_equal(zmq_connect(dc->dealer, url), 0);
}

static void dc_close(struct dc *dc)
{
	if (dc->dealer)
		zmq_close(dc->dealer);
	dc->dealer = NULL;
}

static void dc_send(struct dc *dc, Ntm__RelayMessage *m)
{
	uint8_t buf[512];
	size_t len;

	m->protocol_version = NTM_PROTOCOL_VERSION;
	len = ntm__relay_message__get_packed_size(m);
	assert_true(len <= sizeof(buf));
	ntm__relay_message__pack(m, buf);
	if (zmq_send(dc->dealer, buf, len, 0) != (int)len)
		fail_msg("DC %s: zmq_send failed: %s", dc->name, zmq_strerror(errno));
}

/* Receives one RelayMessage within timeout_ms, or NULL. A RelayStatus is
 * recorded in dc and returned like any other message. */
static Ntm__RelayMessage *dc_recv(struct dc *dc, unsigned timeout_ms)
{
	zmq_pollitem_t item = { .socket = dc->dealer, .events = ZMQ_POLLIN };
	uint8_t buf[4096];
	Ntm__RelayMessage *m;
	int n;

	if (zmq_poll(&item, 1, timeout_ms) <= 0)
		return NULL;
	n = zmq_recv(dc->dealer, buf, sizeof(buf), ZMQ_DONTWAIT);
	if (n < 0 || n > (int)sizeof(buf))
		fail_msg("DC %s: bad message from the relay (%d bytes)", dc->name, n);
	m = ntm__relay_message__unpack(NULL, (size_t)n, buf);
	if (!m)
		fail_msg("DC %s: the relay sent something that is not a RelayMessage", dc->name);
	if (m->body_case == NTM__RELAY_MESSAGE__BODY_STATUS) {
		dc->boot_id = m->status->boot_id;
		dc->last_status_sessions = m->status->sessions;
		dc->statuses++;
	}
	return m;
}

/* Waits for the RelayAllocated with request_id, skipping statuses. */
static Ntm__RelayMessage *dc_wait_allocated(struct dc *dc, uint64_t request_id,
					    unsigned timeout_ms)
{
	uint64_t deadline = ntm_now_ms() + timeout_ms;

	while (ntm_now_ms() < deadline) {
		Ntm__RelayMessage *m = dc_recv(dc, (unsigned)(deadline - ntm_now_ms()));

		if (!m)
			return NULL;
		if (m->body_case == NTM__RELAY_MESSAGE__BODY_ALLOCATED &&
		    m->allocated->request_id == request_id)
			return m;
		ntm__relay_message__free_unpacked(m, NULL);
	}
	return NULL;
}

/* Sends RelayAllocate and returns the relay's response, or NULL. */
static Ntm__RelayMessage *dc_allocate_raw(struct dc *dc, const uint8_t *key_a,
					  const uint8_t *key_b, uint32_t idle_s,
					  unsigned timeout_ms)
{
	Ntm__RelayMessage m = NTM__RELAY_MESSAGE__INIT;
	Ntm__RelayAllocate a = NTM__RELAY_ALLOCATE__INIT;

	randombytes_buf(&a.request_id, sizeof(a.request_id));
	a.node_a_key = (ProtobufCBinaryData){ NTM_KEY_LEN, (uint8_t *)key_a };
	a.node_b_key = (ProtobufCBinaryData){ NTM_KEY_LEN, (uint8_t *)key_b };
	a.idle_timeout_s = idle_s;
	m.body_case = NTM__RELAY_MESSAGE__BODY_ALLOCATE;
	m.allocate = &a;
	dc_send(dc, &m);
	return dc_wait_allocated(dc, a.request_id, timeout_ms);
}

static void dc_release(struct dc *dc, uint64_t session_id, const uint8_t *node_key)
{
	Ntm__RelayMessage m = NTM__RELAY_MESSAGE__INIT;
	Ntm__RelayRelease rel = NTM__RELAY_RELEASE__INIT;

	rel.session_id = session_id;
	if (node_key)
		rel.node_key = (ProtobufCBinaryData){ NTM_KEY_LEN, (uint8_t *)node_key };
	m.body_case = NTM__RELAY_MESSAGE__BODY_RELEASE;
	m.release = &rel;
	dc_send(dc, &m);
}

/* ---- nodes ---- */

struct node {
	int fd;
	struct ntm_endpoint local;
	uint8_t key[NTM_KEY_LEN];
	uint8_t cred[NTM_RELAY_CREDENTIAL_LEN];
	uint64_t last_ts;
};

static void node_open(struct node *n, const char *ip)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	memset(n, 0, sizeof(*n));
	assert_int_equal(ntm_endpoint_parse(&n->local, ip, 1), 0);
	n->local.port = 0;
	sl = ntm_endpoint_to_sockaddr(&n->local, &ss);
	n->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(n->fd >= 0);
	if (bind(n->fd, (struct sockaddr *)&ss, sl) != 0)
		fail_msg("cannot bind a node socket to %s: %s", ip, strerror(errno));
	sl = sizeof(ss);
	assert_int_equal(getsockname(n->fd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(ntm_endpoint_from_sockaddr(&n->local, (struct sockaddr *)&ss, sl), 0);
	randombytes_buf(n->key, sizeof(n->key));
	n->last_ts = ntm_wall_ms();
}

static void node_close(struct node *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

static void node_send(const struct node *n, const uint8_t *pkt, size_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(R.udp_port) };

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sendto(n->fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)len)
		fail_msg("node send failed: %s", strerror(errno));
}

/* Sends a bind for session_id with key and cred (a node's own, or another
 * one to test rejection) and a timestamp above the node's last. */
static void node_bind_with(struct node *n, uint64_t session_id, const uint8_t *key,
			   const uint8_t *cred)
{
	uint8_t pkt[NTM_RELAY_BIND_LEN];

	n->last_ts++;
	assert_int_equal(ntm_relay_bind_build(pkt, sizeof(pkt), session_id, n->last_ts, key, cred),
			 NTM_RELAY_BIND_LEN);
	node_send(n, pkt, sizeof(pkt));
}

static void node_bind(struct node *n, uint64_t session_id)
{
	node_bind_with(n, session_id, n->key, n->cred);
}

/* Builds relay data carrying a data packet with random content. */
static size_t relay_data(uint8_t *pkt, size_t size, uint64_t session_id, size_t inner_len)
{
	size_t len = NTM_RELAY_DATA_HEADER_LEN + inner_len;

	assert_true(len <= size && inner_len >= NTM_DATA_HEADER_LEN + NTM_TAG_LEN);
	randombytes_buf(pkt, len);
	ntm_relay_data_header(pkt, session_id);
	pkt[NTM_RELAY_DATA_HEADER_LEN] = NTM_WIRE_VERSION;
	pkt[NTM_RELAY_DATA_HEADER_LEN + 1] = NTM_PKT_DATA;
	return len;
}

/* Receives one datagram within timeout_ms. Returns its length or -1. */
static ssize_t node_recv(const struct node *n, uint8_t *buf, size_t size, unsigned timeout_ms,
			 struct ntm_endpoint *from)
{
	struct pollfd p = { .fd = n->fd, .events = POLLIN };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t len;

	if (poll(&p, 1, (int)timeout_ms) <= 0)
		return -1;
	len = recvfrom(n->fd, buf, size, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
	if (len >= 0 && from)
		ntm_endpoint_from_sockaddr(from, (struct sockaddr *)&ss, sl);
	return len;
}

/* Sends relay data from `from` and fails unless `to` receives it byte for
 * byte from the relay's address. */
static void expect_relayed(const struct node *from, const struct node *to, uint64_t session_id,
			   size_t inner_len, const char *what)
{
	uint8_t sent[2048], got[2048];
	size_t len = relay_data(sent, sizeof(sent), session_id, inner_len);
	struct ntm_endpoint src;
	ssize_t n;

	node_send(from, sent, len);
	n = node_recv(to, got, sizeof(got), ANSWER_MS, &src);
	if (n < 0)
		fail_msg("%s: the relay did not forward %zu bytes", what, len);
	assert_int_equal(n, len);
	assert_memory_equal(got, sent, len);
	assert_int_equal(src.port, R.udp_port);
}

/* Fails when anything arrives at n within SILENCE_MS. */
static void expect_silence(const struct node *n, const char *what)
{
	uint8_t buf[2048];
	ssize_t len = node_recv(n, buf, sizeof(buf), SILENCE_MS, NULL);

	if (len >= 0)
		fail_msg("%s: expected nothing, a node received %zd bytes", what, len);
}

/* Sends relay data from `from` and fails if `to` receives anything. */
static void expect_dropped(const struct node *from, const struct node *to, uint64_t session_id,
			   const char *what)
{
	uint8_t pkt[256];
	size_t len = relay_data(pkt, sizeof(pkt), session_id, 100);

	node_send(from, pkt, len);
	expect_silence(to, what);
}

/* ---- sessions ---- */

struct session {
	uint64_t id;
	uint8_t secret[NTM_RELAY_SECRET_LEN];
	struct ntm_endpoint relay;
	uint64_t expires_ms;
};

/* Allocates a session for nodes a and b through dc and derives each node's
 * credential from the secret, as the DC does. */
static void allocate(struct dc *dc, struct node *a, struct node *b, uint32_t idle_s,
		     struct session *out)
{
	Ntm__RelayMessage *m = dc_allocate_raw(dc, a->key, b->key, idle_s, ANSWER_MS);
	const Ntm__RelayDirection *d;

	if (!m)
		fail_msg("DC %s: no RelayAllocated within %d ms", dc->name, ANSWER_MS);
	if (m->allocated->error)
		fail_msg("DC %s: allocation refused with error %d: %s", dc->name,
			 (int)m->allocated->error->code, m->allocated->error->message);
	d = m->allocated->session;
	assert_non_null(d);
	assert_int_not_equal(d->session_id, 0);
	assert_int_equal(d->credential.len, NTM_RELAY_SECRET_LEN);
	assert_int_equal(ntm_msg_endpoint_get(&out->relay, d->relay), 0);
	out->id = d->session_id;
	out->expires_ms = d->expires_ms;
	memcpy(out->secret, d->credential.data, NTM_RELAY_SECRET_LEN);
	ntm_relay_credential(a->cred, out->secret, a->key);
	ntm_relay_credential(b->cred, out->secret, b->key);
	ntm__relay_message__free_unpacked(m, NULL);
}

static json_t *get_session(uint64_t id)
{
	char path[64];
	json_t *j = NULL;

	snprintf(path, sizeof(path), "/v1/sessions/%016" PRIx64, id);
	if (http("GET", path, true, &j) != 200) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* True when the admin API shows side ("node_a" or "node_b") of the session
 * bound to ep. */
static bool side_bound_to(uint64_t id, const char *side, const struct ntm_endpoint *ep)
{
	char want[NTM_ENDPOINT_STRLEN];
	json_t *s = get_session(id);
	const char *got = json_string_value(json_object_get(json_object_get(s, side), "endpoint"));
	bool same = got && strcmp(got, ntm_endpoint_str(ep, want, sizeof(want))) == 0;

	json_decref(s);
	return same;
}

/* Binds n and waits until the admin API shows side bound to n's address.
 * The relay never responds to a bind, so the test asks the admin API. */
static void bind_and_wait(struct node *n, uint64_t id, const char *side)
{
	uint64_t deadline = ntm_now_ms() + ANSWER_MS;
	char ep[NTM_ENDPOINT_STRLEN];

	node_bind(n, id);
	while (ntm_now_ms() < deadline) {
		if (side_bound_to(id, side, &n->local))
			return;
		ntm_daemontest_sleep_ms(5);
	}
	fail_msg("session %016" PRIx64 ": %s is not bound to %s after a valid bind", id, side,
		 ntm_endpoint_str(&n->local, ep, sizeof(ep)));
}

/* A session between a (on ip_a) and b (on ip_b), both bound. */
static void bound_session(struct dc *dc, struct node *a, const char *ip_a, struct node *b,
			  const char *ip_b, uint32_t idle_s, struct session *s)
{
	node_open(a, ip_a);
	node_open(b, ip_b);
	allocate(dc, a, b, idle_s, s);
	bind_and_wait(a, s->id, "node_a");
	bind_and_wait(b, s->id, "node_b");
}

/* ---- fixtures ---- */

static struct dc DC1, DC2;

static int group_setup(void **state)
{
	memset(&R, 0, sizeof(R));
	if (sodium_init() < 0)
		return -1;
	ntm_keypair_generate(&R.dc1);
	ntm_keypair_generate(&R.dc2);
	ntm_keypair_generate(&R.rogue);
	zctx = zmq_ctx_new();
	if (!zctx || make_files(&R) != 0 || pick_ports(&R) != 0 ||
	    write_conf(&R, MAX_SESSIONS, MAX_SESSIONS_PER_DC) != 0 || rsd_start(&R) != 0) {
		rsd_cleanup(&R);
		return -1;
	}
	dc_open(&DC1, "dc1", &R.dc1);
	dc_open(&DC2, "dc2", &R.dc2);
	return 0;
}

static int group_teardown(void **state)
{
	int status;

	dc_close(&DC1);
	dc_close(&DC2);
	status = R.pid ? ntm_daemontest_stop(&R.pid, SIGTERM) : 0;
	if (status != 0)
		fprintf(stderr, "ntm-rsd did not stop cleanly on SIGTERM (status %d)\n", status);
	rsd_cleanup(&R);
	if (zctx)
		zmq_ctx_term(zctx);
	return status == 0 ? 0 : -1;
}

/* Waits up to ANSWER_MS for want live sessions. Releases travel on the DCs'
 * own connections, so they may still be in flight when a test starts. */
static void expect_sessions(json_int_t want)
{
	uint64_t deadline = ntm_now_ms() + ANSWER_MS;
	json_int_t n = counter("sessions", NULL);

	while (n != want && ntm_now_ms() < deadline) {
		ntm_daemontest_sleep_ms(10);
		n = counter("sessions", NULL);
	}
	if (n != want)
		fail_msg("expected %lld live sessions, the relay has %lld", (long long)want,
			 (long long)n);
}

/* ---- tests ---- */

/* The first message of a DC gets a RelayStatus with the process's boot_id
 * before the answer. */
static void status_on_first_message(void **state)
{
	struct node a, b;
	struct session s;
	json_t *h;
	char boot[17];

	node_open(&a, "127.0.0.2");
	node_open(&b, "127.0.0.3");
	allocate(&DC1, &a, &b, 0, &s);
	assert_int_equal(DC1.statuses, 1);
	assert_int_equal(DC1.last_status_sessions, 0);
	assert_int_not_equal(DC1.boot_id, 0);
	assert_int_equal(http("GET", "/healthz", false, &h), 200);
	snprintf(boot, sizeof(boot), "%016" PRIx64, DC1.boot_id);
	assert_string_equal(json_string_value(json_object_get(h, "boot_id")), boot);
	json_decref(h);

	/* The answer names the relay as configured and expires after the
	 * default idle timeout (60 s). */
	assert_int_equal(s.relay.port, R.udp_port);
	assert_true(s.expires_ms > ntm_wall_ms() + 55000 && s.expires_ms < ntm_wall_ms() + 65000);
	dc_release(&DC1, s.id, NULL);
	node_close(&a);
	node_close(&b);
}

static void relay_both_ways(void **state)
{
	struct node a, b;
	struct session s;

	bound_session(&DC1, &a, "127.0.0.2", &b, "127.0.0.3", 0, &s);
	/* A bind is never answered. */
	expect_silence(&a, "after node a's bind");
	expect_silence(&b, "after node b's bind");
	expect_relayed(&a, &b, s.id, 100, "a to b");
	expect_relayed(&b, &a, s.id, 1200, "b to a");
	expect_relayed(&a, &b, s.id, NTM_DATA_HEADER_LEN + NTM_TAG_LEN, "a keep-alive, a to b");
	dc_release(&DC1, s.id, NULL);
	node_close(&a);
	node_close(&b);
}

static void guessed_session_dropped(void **state)
{
	struct node a, b;
	struct session s;
	json_int_t before;

	bound_session(&DC1, &a, "127.0.0.2", &b, "127.0.0.3", 0, &s);
	before = drops("unknown_session");
	expect_dropped(&a, &b, s.id + 1, "relay data with a guessed session id");
	expect_dropped(&a, &b, s.id ^ 0x8000000000000000ULL, "another guessed session id");
	assert_int_equal(drops("unknown_session"), before + 2);
	expect_relayed(&a, &b, s.id, 100, "the real session still relays");
	dc_release(&DC1, s.id, NULL);
	node_close(&a);
	node_close(&b);
}

static void unbound_source_dropped(void **state)
{
	struct node a, b, c;
	struct session s;
	json_int_t before;

	bound_session(&DC1, &a, "127.0.0.2", &b, "127.0.0.3", 0, &s);
	node_open(&c, "127.0.0.5");
	before = drops("unbound_source");
	expect_dropped(&c, &b, s.id, "relay data from an unbound address");
	expect_silence(&a, "node a after a stranger's relay data");
	assert_int_equal(drops("unbound_source"), before + 1);
	dc_release(&DC1, s.id, NULL);
	node_close(&a);
	node_close(&b);
	node_close(&c);
}

/* Node b's credential does not bind node a's side, from any address. */
static void other_credential_rejected(void **state)
{
	struct node a, b, c;
	struct session s;
	json_int_t before;

	bound_session(&DC1, &a, "127.0.0.2", &b, "127.0.0.3", 0, &s);
	node_open(&c, "127.0.0.5");
	before = drops("bind_bad_mac");
	node_bind_with(&c, s.id, a.key, b.cred);
	node_bind_with(&b, s.id, a.key, b.cred);
	expect_silence(&c, "a rejected bind");
	assert_int_equal(drops("bind_bad_mac"), before + 2);
	assert_true(side_bound_to(s.id, "node_a", &a.local));
	expect_relayed(&b, &a, s.id, 100, "b to a after the rejected binds");
	expect_dropped(&c, &b, s.id, "relay data from the rejected address");
	dc_release(&DC1, s.id, NULL);
	node_close(&a);
	node_close(&b);
	node_close(&c);
}

/* Node a moves to a new address and binds from there: its side follows. */
static void rebind_moves_side(void **state)
{
	struct node a, b, moved;
	struct session s;
	json_int_t rebinds;

	bound_session(&DC1, &a, "127.0.0.2", &b, "127.0.0.3", 0, &s);
	rebinds = counter("rebinds", NULL);
	node_open(&moved, "127.0.0.4");
	memcpy(moved.key, a.key, NTM_KEY_LEN);
	memcpy(moved.cred, a.cred, NTM_RELAY_CREDENTIAL_LEN);
	moved.last_ts = a.last_ts;
	bind_and_wait(&moved, s.id, "node_a");
	assert_int_equal(counter("rebinds", NULL), rebinds + 1);

	expect_relayed(&b, &moved, s.id, 300, "b to a's new address");
	expect_silence(&a, "a's old address after the move");
	expect_relayed(&moved, &b, s.id, 300, "a's new address to b");
	expect_dropped(&a, &b, s.id, "relay data from a's old address");
	dc_release(&DC1, s.id, NULL);
	node_close(&a);
	node_close(&b);
	node_close(&moved);
}

/* A replayed bind of the old address does not move the side back. */
static void replayed_bind_rejected(void **state)
{
	struct node a, b;
	struct session s;
	uint8_t old[NTM_RELAY_BIND_LEN];
	json_int_t before;

	bound_session(&DC1, &a, "127.0.0.2", &b, "127.0.0.3", 0, &s);
	assert_int_equal(ntm_relay_bind_build(old, sizeof(old), s.id, a.last_ts, a.key, a.cred),
			 NTM_RELAY_BIND_LEN);
	before = drops("bind_replayed");
	node_send(&b, old, sizeof(old));
	expect_silence(&b, "a replayed bind");
	assert_int_equal(drops("bind_replayed"), before + 1);
	assert_true(side_bound_to(s.id, "node_a", &a.local));
	dc_release(&DC1, s.id, NULL);
	node_close(&a);
	node_close(&b);
}

static void release_ends_forwarding(void **state)
{
	struct node a, b;
	struct session s;
	json_int_t before, released;

	bound_session(&DC1, &a, "127.0.0.2", &b, "127.0.0.3", 0, &s);
	expect_relayed(&a, &b, s.id, 100, "before the release");
	released = counter("releases", NULL);
	dc_release(&DC1, s.id, NULL);
	before = drops("expired");
	for (int i = 0; i < 100 && counter("releases", NULL) == released; i++)
		ntm_daemontest_sleep_ms(10);
	assert_int_equal(counter("releases", NULL), released + 1);
	assert_null(get_session(s.id));
	expect_dropped(&a, &b, s.id, "relay data after the release");
	expect_dropped(&b, &a, s.id, "relay data after the release, other way");
	assert_int_equal(drops("expired"), before + 2);
	node_close(&a);
	node_close(&b);
}

/* RelayRelease by node key ends every session of that node. */
static void release_by_node_key(void **state)
{
	struct node a, b, c;
	struct session s1, s2, s3;

	node_open(&a, "127.0.0.2");
	node_open(&b, "127.0.0.3");
	node_open(&c, "127.0.0.4");
	expect_sessions(0);
	allocate(&DC1, &a, &b, 0, &s1);
	allocate(&DC2, &c, &a, 0, &s2);
	allocate(&DC1, &b, &c, 0, &s3);
	assert_int_equal(counter("sessions", NULL), 3);
	dc_release(&DC1, 0, a.key);
	expect_sessions(1);
	assert_null(get_session(s1.id));
	assert_null(get_session(s2.id));
	json_decref(get_json("/v1/sessions"));
	dc_release(&DC1, s3.id, NULL);
	node_close(&a);
	node_close(&b);
	node_close(&c);
}

/* A DC can release only its own sessions by id. */
static void release_other_dc_ignored(void **state)
{
	struct node a, b;
	struct session s;
	json_t *j;

	bound_session(&DC1, &a, "127.0.0.2", &b, "127.0.0.3", 0, &s);
	dc_release(&DC2, s.id, NULL);
	ntm_daemontest_sleep_ms(SILENCE_MS);
	j = get_session(s.id);
	assert_non_null(j);
	json_decref(j);
	expect_relayed(&a, &b, s.id, 100, "after another DC's release");
	dc_release(&DC1, s.id, NULL);
	node_close(&a);
	node_close(&b);
}

static void idle_expiry(void **state)
{
	struct node a, b;
	struct session s;
	json_int_t expirations = counter("expirations", NULL);
	json_t *j;

	bound_session(&DC1, &a, "127.0.0.2", &b, "127.0.0.3", 1, &s);
	j = get_session(s.id);
	assert_int_equal(json_integer_value(json_object_get(j, "idle_timeout_s")), 1);
	json_decref(j);
	expect_relayed(&a, &b, s.id, 100, "before the idle timeout");
	/* One second idle, and the relay's sweep runs every second. */
	ntm_daemontest_sleep_ms(2500);
	assert_null(get_session(s.id));
	assert_int_equal(counter("expirations", NULL), expirations + 1);
	expect_dropped(&a, &b, s.id, "relay data after the idle timeout");
	node_close(&a);
	node_close(&b);
}

/* A DC whose key is in no [dc] section cannot connect, so its allocation
 * gets no answer. */
static void unconfigured_dc_rejected(void **state)
{
	struct dc rogue;
	struct node a, b;
	Ntm__RelayMessage *m;
	json_int_t before = counter("zap_rejected", NULL);

	node_open(&a, "127.0.0.2");
	node_open(&b, "127.0.0.3");
	dc_open(&rogue, "rogue", &R.rogue);
	m = dc_allocate_raw(&rogue, a.key, b.key, 0, 1000);
	if (m)
		fail_msg("the relay answered a DC with an unconfigured key (body %d)",
			 (int)m->body_case);
	assert_int_equal(rogue.statuses, 0);
	assert_true(counter("zap_rejected", NULL) > before);
	expect_sessions(0);
	dc_close(&rogue);
	node_close(&a);
	node_close(&b);
}

static void expect_limit(Ntm__RelayMessage *m, const char *what)
{
	if (!m)
		fail_msg("%s: no answer", what);
	if (!m->allocated->error || m->allocated->error->code != NTM__ERROR_CODE__ERROR_CODE_LIMIT)
		fail_msg("%s: expected Error{LIMIT}, got %s", what,
			 m->allocated->session ? "a session" : "another error");
	assert_null(m->allocated->session);
	ntm__relay_message__free_unpacked(m, NULL);
}

/* max_sessions_per_dc is 3 and max_sessions is 4. */
static void session_limits(void **state)
{
	struct node nodes[6];
	struct session s[4];
	json_int_t per_dc = counter("refusals", "max_sessions_per_dc");
	json_int_t total = counter("refusals", "max_sessions");

	expect_sessions(0);
	for (int i = 0; i < 6; i++)
		node_open(&nodes[i], "127.0.0.2");
	for (int i = 0; i < 3; i++)
		allocate(&DC1, &nodes[0], &nodes[i + 1], 0, &s[i]);
	expect_limit(dc_allocate_raw(&DC1, nodes[0].key, nodes[4].key, 0, ANSWER_MS),
		     "DC1's fourth session");
	allocate(&DC2, &nodes[4], &nodes[0], 0, &s[3]);
	expect_limit(dc_allocate_raw(&DC2, nodes[5].key, nodes[0].key, 0, ANSWER_MS),
		     "the fifth session in total");
	assert_int_equal(counter("refusals", "max_sessions_per_dc"), per_dc + 1);
	assert_int_equal(counter("refusals", "max_sessions"), total + 1);
	assert_int_equal(counter("sessions", NULL), 4);

	/* Every session has node 0, so releasing its key frees all four. */
	dc_release(&DC2, 0, nodes[0].key);
	expect_sessions(0);
	allocate(&DC1, &nodes[1], &nodes[2], 0, &s[0]);
	dc_release(&DC1, s[0].id, NULL);
	for (int i = 0; i < 6; i++)
		node_close(&nodes[i]);
}

static void admin_shows_session(void **state)
{
	struct node a, b;
	struct session s;
	char id[17], key[NTM_KEY_B64_LEN], ep[NTM_ENDPOINT_STRLEN];
	json_t *list, *j, *found = NULL;
	size_t i;

	bound_session(&DC2, &a, "127.0.0.2", &b, "127.0.0.3", 0, &s);
	expect_relayed(&a, &b, s.id, 100, "a to b");
	expect_relayed(&a, &b, s.id, 200, "a to b again");
	expect_relayed(&b, &a, s.id, 300, "b to a");

	snprintf(id, sizeof(id), "%016" PRIx64, s.id);
	list = get_json("/v1/sessions");
	json_array_foreach(json_object_get(list, "sessions"), i, j) {
		if (strcmp(json_string_value(json_object_get(j, "id")), id) == 0)
			found = j;
	}
	if (!found)
		fail_msg("GET /v1/sessions does not list session %s", id);
	assert_string_equal(json_string_value(json_object_get(found, "dc")), "dc2");
	ntm_key_to_base64(key, a.key);
	assert_string_equal(json_string_value(json_object_get(json_object_get(found, "node_a"),
							      "key")), key);
	assert_string_equal(json_string_value(json_object_get(json_object_get(found, "node_b"),
							      "endpoint")),
			    ntm_endpoint_str(&b.local, ep, sizeof(ep)));
	j = json_object_get(found, "a_to_b");
	assert_int_equal(json_integer_value(json_object_get(j, "packets")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "bytes")),
			 2 * NTM_RELAY_DATA_HEADER_LEN + 300);
	j = json_object_get(found, "b_to_a");
	assert_int_equal(json_integer_value(json_object_get(j, "packets")), 1);
	assert_true(json_is_integer(json_object_get(found, "age_ms")));
	assert_true(json_is_integer(json_object_get(found, "idle_ms")));
	json_decref(list);

	j = get_json("/v1/counters");
	assert_true(json_integer_value(json_object_get(j, "allocations")) > 0);
	assert_true(json_is_integer(json_object_get(json_object_get(j, "drops"), "malformed")));
	assert_true(json_is_integer(json_object_get(json_object_get(j, "drops"),
						    "rate_limited")));
	assert_true(json_integer_value(json_object_get(json_object_get(j, "forwarded"),
						       "packets")) >= 3);
	json_decref(j);
	dc_release(&DC2, s.id, NULL);
	node_close(&a);
	node_close(&b);
}

static void admin_needs_token(void **state)
{
	json_t *j = NULL;

	assert_int_equal(http("GET", "/v1/sessions", false, &j), 401);
	json_decref(j);
	assert_int_equal(http("GET", "/v1/counters", false, NULL), 401);
	assert_int_equal(http("GET", "/v1/sessions/zz", true, NULL), 400);
	assert_int_equal(http("GET", "/v1/sessions/1", true, NULL), 404);
	assert_int_equal(http("GET", "/healthz", false, NULL), 200);
}

/* Malformed datagrams are dropped and counted, and answered with nothing. */
static void malformed_dropped(void **state)
{
	struct node a;
	uint8_t junk[NTM_RELAY_BIND_LEN + 1] = { 1, 3, 0, 0 };
	json_int_t before = drops("malformed");

	node_open(&a, "127.0.0.2");
	node_send(&a, junk, 10);
	node_send(&a, junk, sizeof(junk));
	junk[1] = NTM_PKT_CONTROL;
	node_send(&a, junk, sizeof(junk));
	expect_silence(&a, "malformed datagrams");
	assert_int_equal(drops("malformed"), before + 3);
	node_close(&a);
}

/* SIGHUP applies a lowered session limit, and a broken file keeps the old
 * configuration running. */
static void reload_limits(void **state)
{
	const char *broken_conf = "[rs]\nmax_sessions = many\n";
	struct node nodes[3];
	struct session s;

	expect_sessions(0);
	for (int i = 0; i < 3; i++)
		node_open(&nodes[i], "127.0.0.2");
	assert_int_equal(write_conf(&R, 1, 1), 0);
	assert_int_equal(kill(R.pid, SIGHUP), 0);
	ntm_daemontest_sleep_ms(SILENCE_MS);
	allocate(&DC1, &nodes[0], &nodes[1], 0, &s);
	expect_limit(dc_allocate_raw(&DC2, nodes[1].key, nodes[2].key, 0, ANSWER_MS),
		     "a second session after the reload to max_sessions = 1");

	assert_int_equal(ntm_daemontest_write_file(R.conf_path, 0600, broken_conf), 0);
	assert_int_equal(kill(R.pid, SIGHUP), 0);
	ntm_daemontest_sleep_ms(SILENCE_MS);
	assert_int_equal(http("GET", "/healthz", false, NULL), 200);
	expect_limit(dc_allocate_raw(&DC2, nodes[1].key, nodes[2].key, 0, ANSWER_MS),
		     "after a broken reload");

	assert_int_equal(write_conf(&R, MAX_SESSIONS, MAX_SESSIONS_PER_DC), 0);
	assert_int_equal(kill(R.pid, SIGHUP), 0);
	ntm_daemontest_sleep_ms(SILENCE_MS);
	dc_release(&DC1, s.id, NULL);
	for (int i = 0; i < 3; i++)
		node_close(&nodes[i]);
}

/* The relay sends each connected DC a RelayStatus every 10 s. */
static void periodic_status(void **state)
{
	unsigned before = DC2.statuses;
	uint64_t deadline = ntm_now_ms() + 12000;

	while (DC2.statuses == before && ntm_now_ms() < deadline) {
		Ntm__RelayMessage *m = dc_recv(&DC2, 500);

		if (m)
			ntm__relay_message__free_unpacked(m, NULL);
	}
	if (DC2.statuses == before)
		fail_msg("DC dc2 received no RelayStatus within 12 s");
	assert_int_equal(DC2.boot_id, DC1.boot_id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_on_first_message),
		cmocka_unit_test(relay_both_ways),
		cmocka_unit_test(guessed_session_dropped),
		cmocka_unit_test(unbound_source_dropped),
		cmocka_unit_test(other_credential_rejected),
		cmocka_unit_test(rebind_moves_side),
		cmocka_unit_test(replayed_bind_rejected),
		cmocka_unit_test(release_ends_forwarding),
		cmocka_unit_test(release_by_node_key),
		cmocka_unit_test(release_other_dc_ignored),
		cmocka_unit_test(idle_expiry),
		cmocka_unit_test(unconfigured_dc_rejected),
		cmocka_unit_test(session_limits),
		cmocka_unit_test(admin_shows_session),
		cmocka_unit_test(admin_needs_token),
		cmocka_unit_test(malformed_dropped),
		cmocka_unit_test(reload_limits),
		cmocka_unit_test(periodic_status),
	};

	return cmocka_run_group_tests_name("rsd", tests, group_setup, group_teardown);
}
