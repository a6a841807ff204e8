/*
 * Relay Servers of this DC: allocation over ZeroMQ with CURVE (the DC's
 * X25519 key as the client key, the RS's as the server key), and
 * re-allocation of the sessions an RS lost when it restarted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "dc_relay.h"
#include "ntm_msg.h"
#include "ntm_relay.h"
#include "ntm_time.h"

#define RELAY_MAX_MESSAGE (16 * 1024)
#define RELAY_ALLOC_TIMEOUT_MS 1000
/* An RS that sent no RelayStatus for this long counts as down (it sends one
 * every 10 s). */
#define RELAY_DOWN_AFTER_MS 30000
#define RELAY_TICK_MS 100
#define RELAY_IDLE_TIMEOUT_S 60
#define RELAY_MAX_SESSIONS 1024

struct rs_conn {
	const struct dc_relay_conf *conf;
	void *dealer;
	uint64_t boot_id;
	uint64_t last_status_ms;
	uint64_t allocations, failures;
};

struct alloc_wait {
	struct alloc_wait *next;
	uint64_t request_id;
	uint8_t a[NTM_KEY_LEN], b[NTM_KEY_LEN];
	int rs;
	uint64_t deadline_ms;
	dc_relay_cb cb;
	void *arg;
};

/* A session this DC allocated, kept to re-allocate it after an RS restart. */
struct session_rec {
	int rs;
	uint64_t session_id;
	uint8_t a[NTM_KEY_LEN], b[NTM_KEY_LEN];
	uint64_t allocated_ms;       /* Unix milliseconds */
	bool used;
};

struct dc_relays {
	void *ctx;
	struct rs_conn rs[DC_MAX_RELAYS];
	size_t n;
	size_t next_rs;
	struct alloc_wait *waits;
	struct session_rec sessions[RELAY_MAX_SESSIONS];
	struct ntm_timer *timer;
};

static int send_msg(struct rs_conn *c, Ntm__RelayMessage *m)
{
	uint8_t buf[RELAY_MAX_MESSAGE];
	size_t len;

	m->protocol_version = NTM_PROTOCOL_VERSION;
	len = ntm__relay_message__get_packed_size(m);
	if (len > sizeof(buf))
		return -EMSGSIZE;
	ntm__relay_message__pack(m, buf);
	return zmq_send(c->dealer, buf, len, ZMQ_DONTWAIT) < 0 ? -errno : 0;
}

static bool rs_up(const struct rs_conn *c, uint64_t now)
{
	return c->last_status_ms && now - c->last_status_ms < RELAY_DOWN_AFTER_MS;
}

bool dc_relay_available(struct dc *dc)
{
	uint64_t now = ntm_now_ms();

	for (size_t i = 0; dc->relays && i < dc->relays->n; i++) {
		if (rs_up(&dc->relays->rs[i], now))
			return true;
	}
	return false;
}

/* Picks the next RS that is up, round robin. */
static int pick_rs(struct dc_relays *r)
{
	uint64_t now = ntm_now_ms();

	for (size_t k = 0; k < r->n; k++) {
		size_t i = (r->next_rs + k) % r->n;

		if (rs_up(&r->rs[i], now)) {
			r->next_rs = i + 1;
			return (int)i;
		}
	}
	return -1;
}

int dc_relay_allocate(struct dc *dc, const uint8_t a[NTM_KEY_LEN], const uint8_t b[NTM_KEY_LEN],
		      dc_relay_cb cb, void *arg)
{
	struct dc_relays *r = dc->relays;
	Ntm__RelayMessage m = NTM__RELAY_MESSAGE__INIT;
	Ntm__RelayAllocate req = NTM__RELAY_ALLOCATE__INIT;
	int rs = r ? pick_rs(r) : -1;
	struct alloc_wait *w;

	if (rs < 0)
		return -ENOENT;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	randombytes_buf(&w->request_id, sizeof(w->request_id));
	memcpy(w->a, a, NTM_KEY_LEN);
	memcpy(w->b, b, NTM_KEY_LEN);
	req.request_id = w->request_id;
	req.node_a_key.data = (uint8_t *)a;
	req.node_a_key.len = NTM_KEY_LEN;
	req.node_b_key.data = (uint8_t *)b;
	req.node_b_key.len = NTM_KEY_LEN;
	req.idle_timeout_s = RELAY_IDLE_TIMEOUT_S;
	m.body_case = NTM__RELAY_MESSAGE__BODY_ALLOCATE;
	m.allocate = &req;
	if (send_msg(&r->rs[rs], &m) < 0) {
		free(w);
		return -EIO;
	}
	w->rs = rs;
	w->deadline_ms = ntm_now_ms() + RELAY_ALLOC_TIMEOUT_MS;
	w->cb = cb;
	w->arg = arg;
	w->next = r->waits;
	r->waits = w;
	return 0;
}

void dc_relay_for_node(Ntm__RelayDirection *out, uint8_t credential[32],
		       const Ntm__RelayDirection *session, const uint8_t node_key[NTM_KEY_LEN])
{
	ntm__relay_direction__init(out);
	out->relay = session->relay;
	out->session_id = session->session_id;
	out->expires_ms = session->expires_ms;
	ntm_relay_credential(credential, session->credential.data, node_key);
	out->credential.data = credential;
	out->credential.len = NTM_RELAY_CREDENTIAL_LEN;
}

static struct alloc_wait *wait_take(struct dc_relays *r, uint64_t request_id, int rs)
{
	for (struct alloc_wait **link = &r->waits; *link; link = &(*link)->next) {
		struct alloc_wait *w = *link;

		if (w->request_id == request_id && w->rs == rs) {
			*link = w->next;
			return w;
		}
	}
	return NULL;
}

static void remember_session(struct dc_relays *r, int rs, const Ntm__RelayDirection *s,
			     const uint8_t *a, const uint8_t *b)
{
	for (size_t i = 0; i < RELAY_MAX_SESSIONS; i++) {
		struct session_rec *rec = &r->sessions[i];

		if (rec->used)
			continue;
		rec->used = true;
		rec->rs = rs;
		rec->session_id = s->session_id;
		rec->allocated_ms = ntm_wall_ms();
		memcpy(rec->a, a, NTM_KEY_LEN);
		memcpy(rec->b, b, NTM_KEY_LEN);
		return;
	}
}

static bool session_valid(const Ntm__RelayDirection *s)
{
	struct ntm_endpoint ep;

	return s && s->relay && ntm_msg_endpoint_get(&ep, s->relay) == 0 &&
	       s->credential.len == NTM_RELAY_SECRET_LEN && s->session_id != 0;
}

static void handle_allocated(struct dc *dc, int rs, const Ntm__RelayAllocated *a)
{
	struct dc_relays *r = dc->relays;
	struct alloc_wait *w = wait_take(r, a->request_id, rs);

	if (!w)
		return;
	if (session_valid(a->session)) {
		r->rs[rs].allocations++;
		remember_session(r, rs, a->session, w->a, w->b);
		w->cb(dc, a->session, w->arg);
	} else {
		r->rs[rs].failures++;
		log_info("relay %s: allocation refused: %s", r->rs[rs].conf->name,
			 a->error && a->error->message ? a->error->message : "invalid answer");
		w->cb(dc, NULL, w->arg);
	}
	free(w);
}

/* A new boot_id means the RS restarted and lost its sessions: direct the
 * pairs again, which allocates new sessions. */
static void handle_status(struct dc *dc, int rs, const Ntm__RelayStatus *st)
{
	struct dc_relays *r = dc->relays;
	struct rs_conn *c = &r->rs[rs];
	bool restarted = c->boot_id != 0 && c->boot_id != st->boot_id;

	if (!c->last_status_ms || restarted)
		log_info("relay %s: %s (boot %016llx)", c->conf->name,
			 restarted ? "restarted; its sessions are re-allocated" : "connected",
			 (unsigned long long)st->boot_id);
	c->boot_id = st->boot_id;
	c->last_status_ms = ntm_now_ms();
	if (!restarted)
		return;
	for (size_t i = 0; i < RELAY_MAX_SESSIONS; i++) {
		struct session_rec *rec = &r->sessions[i];

		if (!rec->used || rec->rs != rs)
			continue;
		rec->used = false;
		dc_direct_pair(dc, rec->a, rec->b);
	}
}

static void on_dealer(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct dc *dc = arg;
	struct dc_relays *r = dc->relays;
	int rs = -1;
	zmq_msg_t msg;

	for (size_t i = 0; i < r->n; i++) {
		if (r->rs[i].dealer == sock)
			rs = (int)i;
	}
	zmq_msg_init(&msg);
	if (rs >= 0 && zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) >= 0) {
		Ntm__RelayMessage *m = ntm__relay_message__unpack(NULL, zmq_msg_size(&msg),
								  zmq_msg_data(&msg));

		if (m && m->body_case == NTM__RELAY_MESSAGE__BODY_ALLOCATED)
			handle_allocated(dc, rs, m->allocated);
		else if (m && m->body_case == NTM__RELAY_MESSAGE__BODY_STATUS)
			handle_status(dc, rs, m->status);
		if (m)
			ntm__relay_message__free_unpacked(m, NULL);
	}
	zmq_msg_close(&msg);
}

static void send_hello(struct rs_conn *c)
{
	Ntm__RelayMessage m = NTM__RELAY_MESSAGE__INIT;

	send_msg(c, &m);
}

static void on_tick(struct ntm_loop *loop, struct ntm_timer *t, void *arg)
{
	struct dc *dc = arg;
	struct dc_relays *r = dc->relays;
	uint64_t now = ntm_now_ms();
	struct alloc_wait **link = &r->waits;

	while (*link) {
		struct alloc_wait *w = *link;

		if (w->deadline_ms > now) {
			link = &w->next;
			continue;
		}
		*link = w->next;
		log_info("relay %s: allocation timed out", r->rs[w->rs].conf->name);
		w->cb(dc, NULL, w->arg);
		free(w);
	}
	/* Keep saying hello to an RS that is down, so its status resumes. */
	for (size_t i = 0; i < r->n; i++) {
		if (!rs_up(&r->rs[i], now) && now % 2000 < RELAY_TICK_MS)
			send_hello(&r->rs[i]);
	}
}

static int open_dealer(struct dc *dc, size_t i, char *err, size_t err_size)
{
	struct rs_conn *c = &dc->relays->rs[i];
	char text[NTM_ENDPOINT_STRLEN], url[NTM_ENDPOINT_STRLEN + 8];
	int zero = 0;
	int64_t max = RELAY_MAX_MESSAGE;

	c->conf = &dc->cfg.relays[i];
	c->dealer = zmq_socket(dc->relays->ctx, ZMQ_DEALER);
	if (!c->dealer) {
		snprintf(err, err_size, "relay: cannot create a socket: %s", zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(c->dealer, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(c->dealer, ZMQ_MAXMSGSIZE, &max, sizeof(max));
	zmq_setsockopt(c->dealer, ZMQ_CURVE_SERVERKEY, c->conf->key, NTM_KEY_LEN);
	zmq_setsockopt(c->dealer, ZMQ_CURVE_PUBLICKEY, dc->key.pub, NTM_KEY_LEN);
	zmq_setsockopt(c->dealer, ZMQ_CURVE_SECRETKEY, dc->key.priv, NTM_KEY_LEN);
	ntm_endpoint_str(&c->conf->endpoint, text, sizeof(text));
	snprintf(url, sizeof(url), "tcp://%s", text);
	if (zmq_connect(c->dealer, url) < 0) {
		snprintf(err, err_size, "relay: cannot connect to [relay %s] at %s: %s",
			 c->conf->name, url, zmq_strerror(errno));
		return -1;
	}
	ntm_loop_add_zsock(dc->loop, c->dealer, ZMQ_POLLIN, on_dealer, dc);
	dc->relays->n++;
	send_hello(c);
	return 0;
}

int dc_relay_start(struct dc *dc, char *err, size_t err_size)
{
	if (dc->cfg.n_relays == 0)
		return 0;
	dc->relays = calloc(1, sizeof(*dc->relays));
	if (!dc->relays || !(dc->relays->ctx = zmq_ctx_new())) {
		snprintf(err, err_size, "relay: out of memory");
		return -1;
	}
	for (size_t i = 0; i < dc->cfg.n_relays; i++) {
		if (open_dealer(dc, i, err, err_size) < 0)
			return -1;
	}
	dc->relays->timer = ntm_loop_timer_add(dc->loop, RELAY_TICK_MS, RELAY_TICK_MS, on_tick, dc);
	log_info("relay: %zu relay servers configured", dc->relays->n);
	return 0;
}

void dc_relay_stop(struct dc *dc)
{
	struct dc_relays *r = dc->relays;

	if (!r)
		return;
	while (r->waits) {
		struct alloc_wait *w = r->waits;

		r->waits = w->next;
		w->cb(dc, NULL, w->arg);
		free(w);
	}
	if (r->timer)
		ntm_loop_timer_cancel(dc->loop, r->timer);
	for (size_t i = 0; i < r->n; i++)
		ntm_loop_close_zsock(dc->loop, &r->rs[i].dealer);
	if (r->ctx)
		zmq_ctx_term(r->ctx);
	free(r);
	dc->relays = NULL;
}

void dc_relay_release_key(struct dc *dc, const uint8_t key[NTM_KEY_LEN])
{
	struct dc_relays *r = dc->relays;
	Ntm__RelayMessage m = NTM__RELAY_MESSAGE__INIT;
	Ntm__RelayRelease rel = NTM__RELAY_RELEASE__INIT;

	if (!r)
		return;
	rel.node_key.data = (uint8_t *)key;
	rel.node_key.len = NTM_KEY_LEN;
	m.body_case = NTM__RELAY_MESSAGE__BODY_RELEASE;
	m.release = &rel;
	for (size_t i = 0; i < r->n; i++)
		send_msg(&r->rs[i], &m);
	for (size_t i = 0; i < RELAY_MAX_SESSIONS; i++) {
		struct session_rec *rec = &r->sessions[i];

		if (rec->used && (memcmp(rec->a, key, NTM_KEY_LEN) == 0 ||
				  memcmp(rec->b, key, NTM_KEY_LEN) == 0))
			rec->used = false;
	}
}

json_t *dc_relay_to_json(struct dc *dc)
{
	json_t *arr = json_array();
	uint64_t now = ntm_now_ms();

	for (size_t i = 0; dc->relays && i < dc->relays->n; i++) {
		const struct rs_conn *c = &dc->relays->rs[i];
		char ep[NTM_ENDPOINT_STRLEN];

		json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:I, s:I}", "name",
						     c->conf->name, "endpoint",
						     ntm_endpoint_str(&c->conf->endpoint, ep, sizeof(ep)),
						     "up", rs_up(c, now),
						     "allocations", (json_int_t)c->allocations,
						     "failures", (json_int_t)c->failures));
	}
	return arr;
}

static json_t *relay_node_json(struct dc *dc, const uint8_t key[NTM_KEY_LEN])
{
	struct dc_session *s = dc_session_find(dc, key);
	char b64[NTM_KEY_B64_LEN];

	ntm_key_to_base64(b64, key);
	return json_pack("{s:s, s:s?}", "public_key", b64, "fqdn", s ? s->node.fqdn : NULL);
}

json_t *dc_relay_sessions_to_json(struct dc *dc)
{
	json_t *arr = json_array();
	char id[17];

	for (size_t i = 0; dc->relays && i < RELAY_MAX_SESSIONS; i++) {
		const struct session_rec *rec = &dc->relays->sessions[i];

		if (!rec->used)
			continue;
		snprintf(id, sizeof(id), "%016llx", (unsigned long long)rec->session_id);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o, s:I}", "session_id", id,
						     "relay", dc->relays->rs[rec->rs].conf->name,
						     "node_a", relay_node_json(dc, rec->a),
						     "node_b", relay_node_json(dc, rec->b),
						     "allocated_ms",
						     (json_int_t)rec->allocated_ms));
	}
	return arr;
}
