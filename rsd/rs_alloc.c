/*
 * Session allocation for the DCs: a ZeroMQ ROUTER with CURVE, using the
 * relay's own X25519 key as the CURVE server key. A ZAP handler (ZeroMQ
 * RFC 27) served from the event loop admits only the public keys of the
 * [dc NAME] sections and names each connection by that DC's name, which
 * every message then carries as its User-Id (docs/protocol.md, section 12).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "ntm_msg.h"
#include "ntm_time.h"
#include "ntm_zrouter.h"
#include "relay.pb-c.h"
#include "rs.h"
#include "ntm_zap.h"

/* A RelayMessage from a DC is well under 200 bytes. */
#define ALLOC_MAX_MESSAGE 4096
#define ALLOC_MAX_IDENTITY 256
#define ALLOC_STATUS_MS 10000
#define ALLOC_ZAP_DOMAIN "ntm-relay"
/* ZeroMQ heartbeats, so a vanished DC's connection closes, in milliseconds. */
#define ALLOC_HEARTBEAT_MS 10000
#define ALLOC_HEARTBEAT_TIMEOUT_MS 30000

/* Connection state and counters of one configured DC. */
struct alloc_dc {
	uint8_t identity[ALLOC_MAX_IDENTITY];   /* ROUTER routing id of its last message */
	size_t identity_len;                     /* 0 until it sent a message */
	uint64_t last_message_ms;                /* monotonic */
	uint64_t messages, allocations, refusals, releases;
};

struct rs_alloc {
	void *ctx;
	void *router;
	void *zap;
	struct alloc_dc dcs[RS_MAX_DCS];
	struct ntm_timer *status_timer;
};

static const char *session_id_str(uint64_t id, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)id);
	return out;
}

/* ---- sending ---- */

/* Sends m to the DC's last routing id. A DC that went away is forgotten
 * until it sends again. */
static int send_to_dc(struct rs *rs, unsigned dc, Ntm__RelayMessage *m)
{
	struct alloc_dc *d = &rs->alloc->dcs[dc];
	uint8_t buf[ALLOC_MAX_MESSAGE];
	size_t len;
	int rc = 0;

	if (d->identity_len == 0)
		return -ENOTCONN;
	m->protocol_version = NTM_PROTOCOL_VERSION;
	len = ntm__relay_message__get_packed_size(m);
	if (len > sizeof(buf))
		return -EMSGSIZE;
	ntm__relay_message__pack(m, buf);
	if (zmq_send(rs->alloc->router, d->identity, d->identity_len,
		     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(rs->alloc->router, buf, len, ZMQ_DONTWAIT) < 0)
		rc = -errno;
	/* The message may carry a session secret. */
	sodium_memzero(buf, len);
	if (rc == -EHOSTUNREACH) {
		log_info("DC %s: disconnected", rs->cfg.dcs[dc].name);
		d->identity_len = 0;
	} else if (rc < 0) {
		log_warn("DC %s: cannot send a message: %s", rs->cfg.dcs[dc].name,
			 zmq_strerror(-rc));
	}
	return rc;
}

static void send_status(struct rs *rs, unsigned dc)
{
	Ntm__RelayMessage m = NTM__RELAY_MESSAGE__INIT;
	Ntm__RelayStatus status = NTM__RELAY_STATUS__INIT;
	size_t n = rs_table_count_dc(rs->table, dc);

	status.boot_id = rs->boot_id;
	status.sessions = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	m.body_case = NTM__RELAY_MESSAGE__BODY_STATUS;
	m.status = &status;
	send_to_dc(rs, dc, &m);
}

static void send_refusal(struct rs *rs, unsigned dc, uint64_t request_id, Ntm__ErrorCode code,
			 const char *message)
{
	Ntm__RelayMessage m = NTM__RELAY_MESSAGE__INIT;
	Ntm__RelayAllocated a = NTM__RELAY_ALLOCATED__INIT;
	Ntm__Error error = NTM__ERROR__INIT;

	error.code = code;
	error.message = (char *)message;
	a.request_id = request_id;
	a.error = &error;
	m.body_case = NTM__RELAY_MESSAGE__BODY_ALLOCATED;
	m.allocated = &a;
	send_to_dc(rs, dc, &m);
}

static void send_allocated(struct rs *rs, unsigned dc, uint64_t request_id,
			   const struct rs_session *s, uint8_t secret[NTM_RELAY_SECRET_LEN])
{
	Ntm__RelayMessage m = NTM__RELAY_MESSAGE__INIT;
	Ntm__RelayAllocated a = NTM__RELAY_ALLOCATED__INIT;
	Ntm__RelayDirection session = NTM__RELAY_DIRECTION__INIT;
	Ntm__Endpoint relay = NTM__ENDPOINT__INIT;
	struct ntm_endpoint pub = rs->cfg.public_endpoint;

	ntm_msg_endpoint_set(&relay, &pub);
	session.relay = &relay;
	session.session_id = s->id;
	session.credential.data = secret;
	session.credential.len = NTM_RELAY_SECRET_LEN;
	session.expires_ms = s->expires_wall_ms;
	a.request_id = request_id;
	a.session = &session;
	m.body_case = NTM__RELAY_MESSAGE__BODY_ALLOCATED;
	m.allocated = &a;
	send_to_dc(rs, dc, &m);
}

/* ---- requests ---- */

static void log_limit(struct rs *rs, unsigned dc, const char *what, uint64_t limit)
{
	if (!ntm_ratelimit_allow(&rs->limit_log, ntm_now_ms()))
		return;
	log_info("DC %s: allocation rejected: %s (%llu) reached; raise it if the relay has "
		 "capacity", rs->cfg.dcs[dc].name, what, (unsigned long long)limit);
}

/* Counts and logs a rejected allocation and sends RelayAllocated with the
 * error. */
static void reject_allocation(struct rs *rs, unsigned dc, uint64_t request_id,
			      enum rs_alloc_status st)
{
	rs->alloc->dcs[dc].refusals++;
	if (st == RS_ALLOC_LIMIT_TOTAL) {
		rs->counters.refused_max_sessions++;
		log_limit(rs, dc, "[rs] max_sessions", rs->cfg.max_sessions);
		send_refusal(rs, dc, request_id, NTM__ERROR_CODE__ERROR_CODE_LIMIT,
			     "the relay holds max_sessions sessions");
	} else if (st == RS_ALLOC_LIMIT_DC) {
		rs->counters.refused_max_sessions_per_dc++;
		log_limit(rs, dc, "[rs] max_sessions_per_dc", rs->cfg.max_sessions_per_dc);
		send_refusal(rs, dc, request_id, NTM__ERROR_CODE__ERROR_CODE_LIMIT,
			     "this DC holds max_sessions_per_dc sessions on the relay");
	} else if (st == RS_ALLOC_NO_MEMORY) {
		log_warn("DC %s: allocation failed: out of memory", rs->cfg.dcs[dc].name);
		send_refusal(rs, dc, request_id, NTM__ERROR_CODE__ERROR_CODE_LIMIT,
			     "the relay is out of memory");
	} else {
		rs->counters.refused_invalid++;
		log_info("DC %s: allocation rejected: the node keys are not two different 32-byte "
			 "keys", rs->cfg.dcs[dc].name);
		send_refusal(rs, dc, request_id, NTM__ERROR_CODE__ERROR_CODE_INVALID,
			     "node_a_key and node_b_key must be two different 32-byte keys");
	}
}

/* The DC's idle timeout in milliseconds: the default for 0, at most the
 * configured maximum. */
static uint64_t idle_timeout_ms(const struct rs *rs, uint32_t requested_s)
{
	uint64_t s = requested_s ? requested_s : rs->cfg.idle_timeout_s;

	if (s > rs->cfg.max_idle_timeout_s)
		s = rs->cfg.max_idle_timeout_s;
	return s * 1000;
}

static void handle_allocate(struct rs *rs, unsigned dc, const Ntm__RelayAllocate *req)
{
	uint8_t secret[NTM_RELAY_SECRET_LEN];
	struct rs_session *s = NULL;
	enum rs_alloc_status st = RS_ALLOC_INVALID;
	char id[17], a[9], b[9];

	if (req->node_a_key.len == NTM_KEY_LEN && req->node_b_key.len == NTM_KEY_LEN)
		st = rs_table_allocate(rs->table, dc, req->node_a_key.data, req->node_b_key.data,
				       idle_timeout_ms(rs, req->idle_timeout_s), ntm_now_ms(),
				       ntm_wall_ms(), secret, &s);
	if (st != RS_ALLOC_OK) {
		reject_allocation(rs, dc, req->request_id, st);
		return;
	}
	rs->counters.allocations++;
	rs->alloc->dcs[dc].allocations++;
	send_allocated(rs, dc, req->request_id, s, secret);
	sodium_memzero(secret, sizeof(secret));
	log_info("DC %s: allocated session %s for nodes %s and %s, idle timeout %llu s",
		 rs->cfg.dcs[dc].name, session_id_str(s->id, id), ntm_key_id(s->side[0].key, a),
		 ntm_key_id(s->side[1].key, b), (unsigned long long)(s->idle_timeout_ms / 1000));
}

/* Ends one session of this DC by id, or every session of a node key. */
static void handle_release(struct rs *rs, unsigned dc, const Ntm__RelayRelease *req)
{
	const char *name = rs->cfg.dcs[dc].name;
	uint64_t now = ntm_now_ms();
	char id[17], key[9];

	if (req->session_id != 0) {
		struct rs_session *s = rs_table_find(rs->table, req->session_id);

		session_id_str(req->session_id, id);
		if (s && s->end_reason == RS_END_NONE && s->dc == dc) {
			rs_table_end(rs->table, s, RS_END_RELEASED, now);
			rs->counters.releases++;
			rs->alloc->dcs[dc].releases++;
			log_info("DC %s: released session %s", name, id);
		} else {
			log_debug("DC %s: release of session %s ignored: no live session of this "
				  "DC has that id", name, id);
		}
	}
	if (req->node_key.len == NTM_KEY_LEN) {
		size_t n = rs_table_release_key(rs->table, req->node_key.data, now);

		rs->counters.releases += n;
		rs->alloc->dcs[dc].releases += n;
		log_info("DC %s: released %zu sessions of node %s", name, n,
			 ntm_key_id(req->node_key.data, key));
	}
}

static void handle_message(struct rs *rs, unsigned dc, const Ntm__RelayMessage *m)
{
	switch (m->body_case) {
	case NTM__RELAY_MESSAGE__BODY_ALLOCATE:
		handle_allocate(rs, dc, m->allocate);
		break;
	case NTM__RELAY_MESSAGE__BODY_RELEASE:
		handle_release(rs, dc, m->release);
		break;
	case NTM__RELAY_MESSAGE__BODY__NOT_SET:
	case NTM__RELAY_MESSAGE__BODY_STATUS:
		/* A hello: the DC requests the relay's status. */
		send_status(rs, dc);
		break;
	default:
		rs->counters.alloc_dropped++;
		log_debug("DC %s: dropped an unexpected message (body %d)", rs->cfg.dcs[dc].name,
			  (int)m->body_case);
		break;
	}
}

static int dc_by_name(const struct rs *rs, const char *name)
{
	for (size_t i = 0; name && i < rs->cfg.n_dcs; i++) {
		if (strcmp(rs->cfg.dcs[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

/*
 * Remembers the routing id a DC's message came from. The first message on
 * a new connection gets a RelayStatus at once, before the response to it, so
 * a DC learns the boot_id (a restarted relay) before it uses a new session.
 */
static bool note_sender(struct rs *rs, unsigned dc, const uint8_t *id, size_t id_len)
{
	struct alloc_dc *d = &rs->alloc->dcs[dc];
	bool is_new = d->identity_len != id_len || memcmp(d->identity, id, id_len) != 0;

	memcpy(d->identity, id, id_len);
	d->identity_len = id_len;
	d->last_message_ms = ntm_now_ms();
	d->messages++;
	if (is_new)
		log_info("DC %s: connected", rs->cfg.dcs[dc].name);
	return is_new;
}

static Ntm__RelayMessage *unpack(struct rs *rs, zmq_msg_t *msg, const char *who)
{
	Ntm__RelayMessage *m = ntm__relay_message__unpack(NULL, zmq_msg_size(msg),
							  zmq_msg_data(msg));

	if (!m) {
		rs->counters.alloc_dropped++;
		log_debug("DC %s: dropped a message that is not a RelayMessage", who);
		return NULL;
	}
	if (NTM_PROTOCOL_MAJOR(m->protocol_version) != NTM_PROTOCOL_MAJOR(NTM_PROTOCOL_VERSION)) {
		rs->counters.alloc_dropped++;
		if (ntm_ratelimit_allow(&rs->limit_log, ntm_now_ms()))
			log_warn("DC %s: dropped a message of protocol version %u; this relay "
				 "speaks %d", who, m->protocol_version, NTM_PROTOCOL_VERSION);
		ntm__relay_message__free_unpacked(m, NULL);
		return NULL;
	}
	return m;
}

static void handle_frame(struct rs *rs, const uint8_t *id, size_t id_len, zmq_msg_t *msg)
{
	const char *name = zmq_msg_gets(msg, "User-Id");
	int dc = dc_by_name(rs, name);
	Ntm__RelayMessage *m;
	bool hello;

	/* ZAP named every admitted connection, so this only guards a bug. */
	if (dc < 0) {
		rs->counters.alloc_dropped++;
		return;
	}
	m = unpack(rs, msg, name);
	if (!m)
		return;
	hello = m->body_case == NTM__RELAY_MESSAGE__BODY__NOT_SET ||
		m->body_case == NTM__RELAY_MESSAGE__BODY_STATUS;
	if (note_sender(rs, (unsigned)dc, id, id_len) && !hello)
		send_status(rs, (unsigned)dc);
	handle_message(rs, (unsigned)dc, m);
	ntm__relay_message__free_unpacked(m, NULL);
}

/* Reads one [routing id, payload] message from the ROUTER. */
static void on_router(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct rs *rs = arg;
	uint8_t id[ALLOC_MAX_IDENTITY];
	size_t id_len;
	zmq_msg_t msg;

	if (ntm_zrouter_recv(sock, id, sizeof(id), &id_len, &msg) < 0)
		return;
	handle_frame(rs, id, id_len, &msg);
	zmq_msg_close(&msg);
}

/* ---- ZAP (ZeroMQ RFC 27): admit configured DC keys only ---- */

/* Returns the name of the [dc NAME] section whose key this is, or NULL. */
static const char *zap_lookup(const uint8_t *key, size_t len, void *arg)
{
	const struct rs *rs = arg;

	if (len != NTM_KEY_LEN)
		return NULL;
	for (size_t i = 0; i < rs->cfg.n_dcs; i++) {
		if (sodium_memcmp(rs->cfg.dcs[i].key, key, NTM_KEY_LEN) == 0)
			return rs->cfg.dcs[i].name;
	}
	return NULL;
}

static void on_zap(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct rs *rs = arg;
	char addr[64];

	if (ntm_zap_serve(sock, zap_lookup, rs, addr, sizeof(addr)))
		return;
	rs->counters.zap_rejected++;
	if (ntm_ratelimit_allow(&rs->limit_log, ntm_now_ms()))
		log_info("allocation socket: %s: rejected a connection: its CURVE key "
			 "is not a [dc NAME] public_key", addr);
}

/* ---- set-up ---- */

static void on_status_timer(struct ntm_loop *loop, struct ntm_timer *t, void *arg)
{
	struct rs *rs = arg;

	for (size_t i = 0; i < rs->cfg.n_dcs; i++) {
		if (rs->alloc->dcs[i].identity_len > 0)
			send_status(rs, (unsigned)i);
	}
}

static void set_options(struct rs *rs, void *sock)
{
	int zero = 0, one = 1, hwm = 1000, hb = ALLOC_HEARTBEAT_MS;
	int hb_timeout = ALLOC_HEARTBEAT_TIMEOUT_MS;
	int64_t maxmsg = ALLOC_MAX_MESSAGE;

	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(hb_timeout));
	/* Report a DC that has gone instead of dropping messages to it silently. */
	zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one));
	zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, rs->key.priv, NTM_KEY_LEN);
	zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ALLOC_ZAP_DOMAIN, strlen(ALLOC_ZAP_DOMAIN));
}

static int open_sockets(struct rs *rs, char *err, size_t err_size)
{
	struct rs_alloc *a = rs->alloc;
	char text[NTM_ENDPOINT_STRLEN], url[NTM_ENDPOINT_STRLEN + 8];

	a->zap = zmq_socket(a->ctx, ZMQ_REP);
	if (!a->zap || zmq_bind(a->zap, "inproc://zeromq.zap.01") < 0) {
		snprintf(err, err_size, "allocation socket: cannot start the ZAP handler: %s",
			 zmq_strerror(errno));
		return -1;
	}
	a->router = zmq_socket(a->ctx, ZMQ_ROUTER);
	if (!a->router) {
		snprintf(err, err_size, "allocation socket: cannot create it: %s",
			 zmq_strerror(errno));
		return -1;
	}
	set_options(rs, a->router);
	ntm_endpoint_str(&rs->cfg.alloc_listen, text, sizeof(text));
	snprintf(url, sizeof(url), "tcp://%s", text);
	if (zmq_bind(a->router, url) < 0) {
		snprintf(err, err_size, "allocation socket: cannot listen on %s: %s (is another "
			 "ntm-rsd running, or [alloc] listen wrong?)", url, zmq_strerror(errno));
		return -1;
	}
	if (ntm_loop_add_zsock(rs->loop, a->zap, ZMQ_POLLIN, on_zap, rs) < 0 ||
	    ntm_loop_add_zsock(rs->loop, a->router, ZMQ_POLLIN, on_router, rs) < 0) {
		snprintf(err, err_size, "cannot register the allocation socket with the event "
			 "loop");
		return -1;
	}
	log_info("allocation socket listening on %s for %zu DCs", url, rs->cfg.n_dcs);
	return 0;
}

int rs_alloc_start(struct rs *rs, char *err, size_t err_size)
{
	rs->alloc = calloc(1, sizeof(*rs->alloc));
	if (!rs->alloc) {
		snprintf(err, err_size, "allocation socket: out of memory");
		return -1;
	}
	rs->alloc->ctx = zmq_ctx_new();
	if (!rs->alloc->ctx) {
		snprintf(err, err_size, "allocation socket: cannot create a ZeroMQ context: %s",
			 zmq_strerror(errno));
		return -1;
	}
	if (open_sockets(rs, err, err_size) < 0)
		return -1;
	rs->alloc->status_timer = ntm_loop_timer_add(rs->loop, ALLOC_STATUS_MS, ALLOC_STATUS_MS,
						     on_status_timer, rs);
	if (!rs->alloc->status_timer) {
		snprintf(err, err_size, "allocation socket: cannot add the status timer");
		return -1;
	}
	return 0;
}

void rs_alloc_stop(struct rs *rs)
{
	struct rs_alloc *a = rs->alloc;

	if (!a)
		return;
	if (a->status_timer)
		ntm_loop_timer_cancel(rs->loop, a->status_timer);
	ntm_loop_close_zsock(rs->loop, &a->router);
	ntm_loop_close_zsock(rs->loop, &a->zap);
	if (a->ctx)
		zmq_ctx_term(a->ctx);
	free(a);
	rs->alloc = NULL;
}

json_t *rs_alloc_dcs_json(struct rs *rs)
{
	json_t *arr = json_array();
	uint64_t now = ntm_now_ms();

	for (size_t i = 0; rs->alloc && i < rs->cfg.n_dcs; i++) {
		const struct alloc_dc *d = &rs->alloc->dcs[i];
		json_t *last = json_null();

		if (d->last_message_ms)
			last = json_integer((json_int_t)(now - d->last_message_ms));

		json_array_append_new(arr, json_pack(
			"{s:s, s:b, s:o, s:I, s:I, s:I, s:I, s:I}", "name", rs->cfg.dcs[i].name,
			"connected", d->identity_len > 0, "last_message_ago_ms", last,
			"sessions", (json_int_t)rs_table_count_dc(rs->table, (unsigned)i),
			"messages", (json_int_t)d->messages,
			"allocations", (json_int_t)d->allocations,
			"refusals", (json_int_t)d->refusals, "releases", (json_int_t)d->releases));
	}
	return arr;
}
