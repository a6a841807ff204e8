/*
 * Federation between DCs of different domains: ZeroMQ over TCP with CURVE.
 * The CURVE keys are the DCs' own X25519 keys. A ZAP handler served from
 * the event loop admits only the keys of configured peers and names each
 * connection by the peer's domain, so a peer can speak only for its domain.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "dc_federation.h"
#include "federation.pb-c.h"
#include "ntm_msg.h"
#include "ntm_time.h"
#include "ntm_zrouter.h"
#include "ntm_zap.h"

#define FED_MAX_MESSAGE (64 * 1024)
#define FED_HELLO_MS 30000
#define FED_QUERY_TIMEOUT_MS 2000
#define FED_CACHE_TTL_MS 60000
#define FED_CACHE_SIZE 256
#define FED_MAX_PREFIXES 8
#define FED_MAX_IDENTITY 256
#define FED_TICK_MS 100
/* Shortest VIP prefix a federated DC may announce. */
#define FED_MIN_PREFIX_V4 8
#define FED_MIN_PREFIX_V6 32

struct fed_peer {
	const struct dc_fed_peer_conf *conf;
	void *dealer;
	struct ntm_prefix prefixes[FED_MAX_PREFIXES];
	size_t n_prefixes;
	uint64_t last_hello_ms;      /* monotonic; when its FedHello last arrived */
	uint64_t queries, answers, timeouts;
};

struct fed_query {
	struct fed_query *next;
	uint64_t query_id;
	int peer;
	uint64_t deadline_ms;
	dc_fed_answer_cb cb;
	void *arg;
};

struct fed_cache_entry {
	struct dc_node node;
	char domain[NTM_FQDN_MAX + 1];
	uint64_t expires_ms;
};

/* A Route Direction delivered for a peer DC, awaiting its node's ack. */
struct fed_delivery {
	struct dc_fed *fed;
	uint8_t identity[FED_MAX_IDENTITY];
	size_t identity_len;
};

struct dc_fed {
	void *ctx;
	void *router;
	void *zap;
	struct fed_peer peers[DC_MAX_FED_PEERS];
	size_t n_peers;
	struct fed_query *queries;
	struct fed_cache_entry cache[FED_CACHE_SIZE];
	size_t cache_next;
	struct ntm_timer *hello_timer, *tick_timer;
	uint64_t dropped;
};

/* ---- sending ---- */

static int pack_and_send(void *sock, const void *identity, size_t identity_len,
			 Ntm__FedMessage *m)
{
	uint8_t buf[FED_MAX_MESSAGE];
	size_t len = ntm__fed_message__get_packed_size(m);

	if (len > sizeof(buf))
		return -EMSGSIZE;
	ntm__fed_message__pack(m, buf);
	if (identity && zmq_send(sock, identity, identity_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -errno;
	if (zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0)
		return -errno;
	return 0;
}

static int send_to_peer(struct dc_fed *fed, int peer, Ntm__FedMessage *m)
{
	m->protocol_version = NTM_PROTOCOL_VERSION;
	return pack_and_send(fed->peers[peer].dealer, NULL, 0, m);
}

static int reply(struct dc_fed *fed, const uint8_t *identity, size_t identity_len,
		 Ntm__FedMessage *m)
{
	m->protocol_version = NTM_PROTOCOL_VERSION;
	return pack_and_send(fed->router, identity, identity_len, m);
}

static void send_hello(struct dc *dc, int peer)
{
	Ntm__FedMessage m = NTM__FED_MESSAGE__INIT;
	Ntm__FedHello hello = NTM__FED_HELLO__INIT;
	Ntm__Prefix prefix = NTM__PREFIX__INIT;
	Ntm__Prefix *prefixes[1] = { &prefix };
	struct ntm_prefix own = dc->cfg.vip_prefix;

	prefix.ip = ntm_msg_ip_bytes(&own.ip);
	prefix.prefix_len = own.len;
	hello.domain = dc->cfg.domain;
	hello.n_vip_prefixes = 1;
	hello.vip_prefixes = prefixes;
	m.body_case = NTM__FED_MESSAGE__BODY_HELLO;
	m.hello = &hello;
	send_to_peer(dc->fed, peer, &m);
}

/* ---- lookups used by the rest of the DC ---- */

static struct fed_peer *peer_by_domain(struct dc_fed *fed, const char *domain)
{
	for (size_t i = 0; i < fed->n_peers; i++) {
		if (strcmp(fed->peers[i].conf->domain, domain) == 0)
			return &fed->peers[i];
	}
	return NULL;
}

size_t dc_fed_prefixes(struct dc *dc, struct ntm_prefix *out, size_t max)
{
	size_t n = 0;

	if (!dc->fed)
		return 0;
	for (size_t i = 0; i < dc->fed->n_peers; i++) {
		const struct fed_peer *p = &dc->fed->peers[i];

		for (size_t j = 0; j < p->n_prefixes && n < max; j++)
			out[n++] = p->prefixes[j];
	}
	return n;
}

static int match_fqdn(struct dc *dc, const char *fqdn)
{
	int best = -1;
	size_t best_len = strlen(dc->cfg.domain);

	if (!dc_fqdn_in_domain(fqdn, dc->cfg.domain))
		best_len = 0;
	for (size_t i = 0; i < dc->fed->n_peers; i++) {
		const char *d = dc->fed->peers[i].conf->domain;

		if (dc_fqdn_in_domain(fqdn, d) && strlen(d) > best_len) {
			best = (int)i;
			best_len = strlen(d);
		}
	}
	return best;
}

static int match_vip(struct dc *dc, const struct ntm_ip *vip)
{
	if (ntm_prefix_contains(&dc->cfg.vip_prefix, vip))
		return -1;
	for (size_t i = 0; i < dc->fed->n_peers; i++) {
		const struct fed_peer *p = &dc->fed->peers[i];

		for (size_t j = 0; j < p->n_prefixes; j++) {
			if (ntm_prefix_contains(&p->prefixes[j], vip))
				return (int)i;
		}
	}
	return -1;
}

int dc_fed_match(struct dc *dc, const Ntm__NtmQuery *q)
{
	struct ntm_ip vip;

	if (!dc->fed)
		return -1;
	if (q->target_case == NTM__NTM_QUERY__TARGET_FQDN)
		return match_fqdn(dc, q->fqdn);
	if (q->target_case == NTM__NTM_QUERY__TARGET_VIP && ntm_msg_ip_get(&vip, q->vip) == 0)
		return match_vip(dc, &vip);
	return -1;
}

bool dc_fed_cached(struct dc *dc, const uint8_t key[NTM_KEY_LEN], struct dc_node *out,
		   char *domain, size_t domain_size)
{
	uint64_t now = ntm_now_ms();

	if (!dc->fed)
		return false;
	for (size_t i = 0; i < FED_CACHE_SIZE; i++) {
		const struct fed_cache_entry *e = &dc->fed->cache[i];

		if (e->expires_ms > now && memcmp(e->node.key, key, NTM_KEY_LEN) == 0) {
			*out = e->node;
			snprintf(domain, domain_size, "%s", e->domain);
			return true;
		}
	}
	return false;
}

static void cache_put(struct dc_fed *fed, const struct dc_node *node, const char *domain)
{
	struct fed_cache_entry *slot = &fed->cache[fed->cache_next];
	uint64_t now = ntm_now_ms();

	/* Refresh the entry of the same key in place when there is one. */
	for (size_t i = 0; i < FED_CACHE_SIZE; i++) {
		if (fed->cache[i].expires_ms > now &&
		    memcmp(fed->cache[i].node.key, node->key, NTM_KEY_LEN) == 0) {
			slot = &fed->cache[i];
			break;
		}
	}
	if (slot == &fed->cache[fed->cache_next])
		fed->cache_next = (fed->cache_next + 1) % FED_CACHE_SIZE;
	slot->node = *node;
	snprintf(slot->domain, sizeof(slot->domain), "%s", domain);
	slot->expires_ms = now + FED_CACHE_TTL_MS;
}

/* ---- queries to peers ---- */

int dc_fed_query(struct dc *dc, int peer, const Ntm__NtmQuery *q, dc_fed_answer_cb cb, void *arg)
{
	struct dc_fed *fed = dc->fed;
	Ntm__FedMessage m = NTM__FED_MESSAGE__INIT;
	Ntm__FedQuery fq = NTM__FED_QUERY__INIT;
	struct fed_query *pq;

	if (!fed || peer < 0 || (size_t)peer >= fed->n_peers)
		return -EINVAL;
	pq = calloc(1, sizeof(*pq));
	if (!pq)
		return -ENOMEM;
	randombytes_buf(&pq->query_id, sizeof(pq->query_id));
	fq.query_id = pq->query_id;
	fq.query = (Ntm__NtmQuery *)q;
	m.body_case = NTM__FED_MESSAGE__BODY_QUERY;
	m.query = &fq;

	int rc = send_to_peer(fed, peer, &m);
	if (rc < 0) {
		free(pq);
		return rc;
	}
	pq->peer = peer;
	pq->deadline_ms = ntm_now_ms() + FED_QUERY_TIMEOUT_MS;
	pq->cb = cb;
	pq->arg = arg;
	pq->next = fed->queries;
	fed->queries = pq;
	fed->peers[peer].queries++;
	return 0;
}

static struct fed_query *query_take(struct dc_fed *fed, uint64_t query_id, int peer)
{
	for (struct fed_query **link = &fed->queries; *link; link = &(*link)->next) {
		struct fed_query *q = *link;

		if (q->query_id == query_id && q->peer == peer) {
			*link = q->next;
			return q;
		}
	}
	return NULL;
}

static void queries_expire(struct dc *dc)
{
	uint64_t now = ntm_now_ms();
	struct fed_query **link = &dc->fed->queries;

	while (*link) {
		struct fed_query *q = *link;

		if (q->deadline_ms > now) {
			link = &q->next;
			continue;
		}
		*link = q->next;
		dc->fed->peers[q->peer].timeouts++;
		log_info("federated DC %s: query timed out after %d ms",
			 dc->fed->peers[q->peer].conf->domain, FED_QUERY_TIMEOUT_MS);
		q->cb(dc, NULL, NULL, NTM__ERROR_CODE__ERROR_CODE_TIMEOUT, q->arg);
		free(q);
	}
}

/* Checks that a record a peer sent is of the peer's own domain. */
static int accept_record(struct dc_node *node, char *domain, size_t domain_size,
			 const Ntm__NtmRecord *rec, const char *peer_domain)
{
	if (strcmp(rec->dc_domain, peer_domain) != 0 || !dc_fqdn_in_domain(rec->fqdn, peer_domain)) {
		log_warn("federated DC %s: sent a record of another domain (%s); ignored",
			 peer_domain, rec->dc_domain);
		return -EPERM;
	}
	return dc_record_from_pb(node, domain, domain_size, rec);
}

static void handle_query_response(struct dc *dc, int peer, const Ntm__FedQueryResponse *r)
{
	struct fed_peer *p = &dc->fed->peers[peer];
	struct fed_query *q = query_take(dc->fed, r->query_id, peer);
	struct dc_node node;
	char domain[NTM_FQDN_MAX + 1];

	if (!q)
		return;
	p->answers++;
	if (r->record && accept_record(&node, domain, sizeof(domain), r->record,
				       p->conf->domain) == 0) {
		cache_put(dc->fed, &node, domain);
		q->cb(dc, &node, domain, NTM__ERROR_CODE__ERROR_CODE_UNSPECIFIED, q->arg);
	} else {
		Ntm__ErrorCode code = r->error ? r->error->code
					       : NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND;

		q->cb(dc, NULL, NULL, code, q->arg);
	}
	free(q);
}

int dc_fed_direct(struct dc *dc, const char *domain, const uint8_t target_key[NTM_KEY_LEN],
		  const Ntm__RouteDirection *rd)
{
	Ntm__FedMessage m = NTM__FED_MESSAGE__INIT;
	Ntm__FedRouteDirection frd = NTM__FED_ROUTE_DIRECTION__INIT;
	struct fed_peer *p = dc->fed ? peer_by_domain(dc->fed, domain) : NULL;

	if (!p)
		return -ENOENT;
	frd.target_key.data = (uint8_t *)target_key;
	frd.target_key.len = NTM_KEY_LEN;
	frd.direction = (Ntm__RouteDirection *)rd;
	m.body_case = NTM__FED_MESSAGE__BODY_ROUTE_DIRECTION;
	m.route_direction = &frd;
	return send_to_peer(dc->fed, (int)(p - dc->fed->peers), &m);
}

/* ---- requests from peers, on the ROUTER ---- */

static void answer_query(struct dc *dc, const uint8_t *id, size_t id_len,
			 const Ntm__FedQuery *fq)
{
	static struct dc_record_pb rec;
	Ntm__FedMessage m = NTM__FED_MESSAGE__INIT;
	Ntm__FedQueryResponse r = NTM__FED_QUERY_RESPONSE__INIT;
	Ntm__Error error = NTM__ERROR__INIT;
	struct dc_node node;

	r.query_id = fq->query_id;
	if (fq->query && dc_lookup_local(dc, fq->query, &node) == DC_STORE_OK) {
		dc_record_to_pb(&rec, &node, dc->cfg.domain, dc->store);
		r.record = &rec.msg;
	} else {
		error.code = NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND;
		error.message = "no record for that FQDN or VIP";
		r.error = &error;
	}
	m.body_case = NTM__FED_MESSAGE__BODY_QUERY_RESPONSE;
	m.query_response = &r;
	reply(dc->fed, id, id_len, &m);
}

static void on_delivered(struct dc *dc, uint64_t direction_id, Ntm__ErrorCode code, void *arg)
{
	struct fed_delivery *d = arg;
	Ntm__FedMessage m = NTM__FED_MESSAGE__INIT;
	Ntm__FedRouteDirectionAck ack = NTM__FED_ROUTE_DIRECTION_ACK__INIT;
	Ntm__Error error = NTM__ERROR__INIT;

	ack.direction_id = direction_id;
	if (code != NTM__ERROR_CODE__ERROR_CODE_UNSPECIFIED) {
		error.code = code;
		error.message = "the node did not acknowledge the Route Direction";
		ack.error = &error;
	}
	m.body_case = NTM__FED_MESSAGE__BODY_ROUTE_DIRECTION_ACK;
	m.route_direction_ack = &ack;
	if (dc->fed == d->fed)
		reply(d->fed, d->identity, d->identity_len, &m);
	free(d);
}

static bool route_direction_allowed(const Ntm__RouteDirection *rd, const char *peer_domain)
{
	if (!rd->peer || strcmp(rd->peer->dc_domain, peer_domain) != 0) {
		log_warn("federated DC %s: Route Direction names a peer outside its domain",
			 peer_domain);
		return false;
	}
	return true;
}

static void deliver_direction(struct dc *dc, const uint8_t *id, size_t id_len,
			      const Ntm__FedRouteDirection *frd, const char *peer_domain)
{
	struct dc_session *s = NULL;
	struct fed_delivery *d;
	uint64_t rid;

	if (frd->target_key.len == NTM_KEY_LEN)
		s = dc_session_find(dc, frd->target_key.data);
	if (!s || !frd->direction || !route_direction_allowed(frd->direction, peer_domain))
		return;
	d = calloc(1, sizeof(*d));
	if (!d)
		return;
	d->fed = dc->fed;
	memcpy(d->identity, id, id_len);
	d->identity_len = id_len;
	randombytes_buf(&rid, sizeof(rid));
	log_info("federated DC %s: delivering Route Direction %016llx to node %s", peer_domain,
		 (unsigned long long)frd->direction->direction_id, s->node.fqdn);
	if (dc_direct_local(dc, s, rid, frd->direction, on_delivered, d) < 0)
		free(d);
}

/*
 * Every node routes a peer's VIP prefixes into its tunnel device, so a
 * prefix that is too short (0.0.0.0/0 at worst) or overlaps this DC's own
 * would divert the nodes' other traffic.
 */
static bool prefix_acceptable(struct dc *dc, const struct ntm_prefix *p)
{
	const struct ntm_prefix *own = &dc->cfg.vip_prefix;
	unsigned min = p->ip.len == 4 ? FED_MIN_PREFIX_V4 : FED_MIN_PREFIX_V6;

	if (p->len < min)
		return false;
	return !ntm_prefix_contains(own, &p->ip) && !ntm_prefix_contains(p, &own->ip);
}

static void learn_hello(struct dc *dc, const Ntm__FedHello *hello, const char *peer_domain)
{
	struct fed_peer *p = peer_by_domain(dc->fed, peer_domain);
	size_t n = 0;

	if (!p || strcmp(hello->domain, peer_domain) != 0) {
		log_warn("federated DC %s: hello names domain '%s'; ignored", peer_domain,
			 hello->domain);
		return;
	}
	for (size_t i = 0; i < hello->n_vip_prefixes && n < FED_MAX_PREFIXES; i++) {
		const Ntm__Prefix *m = hello->vip_prefixes[i];
		struct ntm_prefix *pre = &p->prefixes[n];

		if (ntm_msg_ip_get(&pre->ip, m->ip) < 0 || m->prefix_len > pre->ip.len * 8u)
			continue;
		pre->len = (uint8_t)m->prefix_len;
		if (!prefix_acceptable(dc, pre)) {
			char text[INET6_ADDRSTRLEN + 5];

			log_warn("federated DC %s: ignored VIP prefix %s: shorter than /%u or "
				 "overlapping this DC's", peer_domain,
				 ntm_prefix_str(pre, text, sizeof(text)),
				 pre->ip.len == 4 ? FED_MIN_PREFIX_V4 : FED_MIN_PREFIX_V6);
			continue;
		}
		n++;
	}
	if (p->last_hello_ms == 0)
		log_info("federated DC %s: connected, %zu VIP prefixes", peer_domain, n);
	p->n_prefixes = n;
	p->last_hello_ms = ntm_now_ms();
}

static void handle_request(struct dc *dc, const uint8_t *id, size_t id_len,
			   const Ntm__FedMessage *m, const char *peer_domain)
{
	switch (m->body_case) {
	case NTM__FED_MESSAGE__BODY_HELLO:
		learn_hello(dc, m->hello, peer_domain);
		break;
	case NTM__FED_MESSAGE__BODY_QUERY:
		answer_query(dc, id, id_len, m->query);
		break;
	case NTM__FED_MESSAGE__BODY_ROUTE_DIRECTION:
		deliver_direction(dc, id, id_len, m->route_direction, peer_domain);
		break;
	default:
		dc->fed->dropped++;
		break;
	}
}

/* Validates an embedded control message by wrapping it in an Envelope. */
static enum ntm_msg_status check_embedded(Ntm__Envelope__BodyCase body_case, void *msg,
					  char *why, size_t why_size)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;

	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.body_case = body_case;
	/* Every body member of the oneof shares one storage location. */
	env.registration_request = msg;
	return ntm_msg_validate(&env, why, why_size);
}

enum ntm_msg_status dc_fed_validate(const Ntm__FedMessage *m, char *why, size_t why_size)
{
	if (NTM_PROTOCOL_MAJOR(m->protocol_version) != NTM_PROTOCOL_MAJOR(NTM_PROTOCOL_VERSION))
		return NTM_MSG_BAD_VERSION;

	switch (m->body_case) {
	case NTM__FED_MESSAGE__BODY_HELLO:
		return ntm_msg_fqdn_valid(m->hello->domain) ? NTM_MSG_OK : NTM_MSG_INVALID;
	case NTM__FED_MESSAGE__BODY_QUERY:
		if (!m->query->query)
			return NTM_MSG_INVALID;
		return check_embedded(NTM__ENVELOPE__BODY_NTM_QUERY, m->query->query, why,
				      why_size);
	case NTM__FED_MESSAGE__BODY_QUERY_RESPONSE:
		if (!m->query_response->record)
			return NTM_MSG_OK;
		Ntm__NtmQueryResponse resp = NTM__NTM_QUERY_RESPONSE__INIT;

		resp.record = m->query_response->record;
		return check_embedded(NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE, &resp, why,
				      why_size);
	case NTM__FED_MESSAGE__BODY_ROUTE_DIRECTION:
		if (!m->route_direction->direction || m->route_direction->target_key.len !=
								  NTM_KEY_LEN)
			return NTM_MSG_INVALID;
		return check_embedded(NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
				      m->route_direction->direction, why, why_size);
	case NTM__FED_MESSAGE__BODY_ROUTE_DIRECTION_ACK:
		return NTM_MSG_OK;
	default:
		return NTM_MSG_NO_BODY;
	}
}

static Ntm__FedMessage *unpack(struct dc_fed *fed, zmq_msg_t *msg, const char *who)
{
	char why[160] = "";
	Ntm__FedMessage *m = ntm__fed_message__unpack(NULL, zmq_msg_size(msg), zmq_msg_data(msg));

	if (!m || dc_fed_validate(m, why, sizeof(why)) != NTM_MSG_OK) {
		fed->dropped++;
		log_debug("federated DC %s: dropped a malformed or invalid message: %s", who, why);
		if (m)
			ntm__fed_message__free_unpacked(m, NULL);
		return NULL;
	}
	return m;
}

/* Reads one [identity, payload] message from the ROUTER. */
static void on_router(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct dc *dc = arg;
	uint8_t id[FED_MAX_IDENTITY];
	size_t id_len;
	zmq_msg_t msg;

	if (ntm_zrouter_recv(sock, id, sizeof(id), &id_len, &msg) < 0)
		return;

	const char *domain = zmq_msg_gets(&msg, "User-Id");
	Ntm__FedMessage *m = domain ? unpack(dc->fed, &msg, domain) : NULL;

	if (m) {
		handle_request(dc, id, id_len, m, domain);
		ntm__fed_message__free_unpacked(m, NULL);
	}
	zmq_msg_close(&msg);
}

static void on_dealer(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct dc *dc = arg;
	int peer = -1;
	zmq_msg_t msg;

	for (size_t i = 0; i < dc->fed->n_peers; i++) {
		if (dc->fed->peers[i].dealer == sock)
			peer = (int)i;
	}
	zmq_msg_init(&msg);
	if (peer >= 0 && zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) >= 0) {
		Ntm__FedMessage *m = unpack(dc->fed, &msg, dc->fed->peers[peer].conf->domain);

		if (m && m->body_case == NTM__FED_MESSAGE__BODY_QUERY_RESPONSE)
			handle_query_response(dc, peer, m->query_response);
		else if (m && m->body_case == NTM__FED_MESSAGE__BODY_ROUTE_DIRECTION_ACK &&
			 m->route_direction_ack->error)
			log_info("federated DC %s: Route Direction %016llx not delivered",
				 dc->fed->peers[peer].conf->domain,
				 (unsigned long long)m->route_direction_ack->direction_id);
		if (m)
			ntm__fed_message__free_unpacked(m, NULL);
	}
	zmq_msg_close(&msg);
}

/* ---- ZAP (ZeroMQ RFC 27): admit configured peer keys only ---- */

/* Returns the domain of the [peer DOMAIN] section whose key this is, or NULL. */
static const char *zap_lookup(const uint8_t *key, size_t len, void *arg)
{
	struct dc *dc = arg;

	if (len != NTM_KEY_LEN)
		return NULL;
	for (size_t i = 0; i < dc->cfg.n_peers; i++) {
		if (sodium_memcmp(dc->cfg.peers[i].key, key, NTM_KEY_LEN) == 0)
			return dc->cfg.peers[i].domain;
	}
	return NULL;
}

static void on_zap(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	char addr[64];

	if (!ntm_zap_serve(sock, zap_lookup, arg, addr, sizeof(addr)))
		log_info("federation: %s: rejected a connection with an unconfigured key", addr);
}

/* ---- set-up ---- */

static void on_hello_timer(struct ntm_loop *loop, struct ntm_timer *t, void *arg)
{
	struct dc *dc = arg;

	for (size_t i = 0; i < dc->fed->n_peers; i++)
		send_hello(dc, (int)i);
}

static void on_tick(struct ntm_loop *loop, struct ntm_timer *t, void *arg)
{
	queries_expire(arg);
}

static void set_common(void *sock)
{
	int zero = 0, hwm = 1000, hb = 10000;
	int64_t maxmsg = FED_MAX_MESSAGE;

	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
}

static int open_router(struct dc *dc, char *err, size_t err_size)
{
	struct dc_fed *fed = dc->fed;
	struct ntm_endpoint ep;
	char text[NTM_ENDPOINT_STRLEN], url[NTM_ENDPOINT_STRLEN + 8];
	int one = 1;

	fed->zap = zmq_socket(fed->ctx, ZMQ_REP);
	if (!fed->zap || zmq_bind(fed->zap, "inproc://zeromq.zap.01") < 0) {
		snprintf(err, err_size, "federation: cannot start the ZAP handler: %s",
			 zmq_strerror(errno));
		return -1;
	}
	fed->router = zmq_socket(fed->ctx, ZMQ_ROUTER);
	set_common(fed->router);
	zmq_setsockopt(fed->router, ZMQ_CURVE_SERVER, &one, sizeof(one));
	zmq_setsockopt(fed->router, ZMQ_CURVE_SECRETKEY, dc->key.priv, NTM_KEY_LEN);
	zmq_setsockopt(fed->router, ZMQ_ZAP_DOMAIN, "ntm-federation", 14);

	ntm_endpoint_parse(&ep, dc->cfg.fed_listen, DC_FED_DEFAULT_PORT);
	ntm_endpoint_str(&ep, text, sizeof(text));
	snprintf(url, sizeof(url), "tcp://%s", text);
	if (zmq_bind(fed->router, url) < 0) {
		snprintf(err, err_size, "federation: cannot listen on %s: %s", url,
			 zmq_strerror(errno));
		return -1;
	}
	ntm_loop_add_zsock(dc->loop, fed->zap, ZMQ_POLLIN, on_zap, dc);
	ntm_loop_add_zsock(dc->loop, fed->router, ZMQ_POLLIN, on_router, dc);
	log_info("federation listening on %s for %zu peer DCs", url, dc->cfg.n_peers);
	return 0;
}

static int open_dealer(struct dc *dc, size_t i, char *err, size_t err_size)
{
	struct fed_peer *p = &dc->fed->peers[i];
	char text[NTM_ENDPOINT_STRLEN], url[NTM_ENDPOINT_STRLEN + 8];

	p->conf = &dc->cfg.peers[i];
	p->dealer = zmq_socket(dc->fed->ctx, ZMQ_DEALER);
	if (!p->dealer) {
		snprintf(err, err_size, "federation: cannot create a socket: %s",
			 zmq_strerror(errno));
		return -1;
	}
	set_common(p->dealer);
	zmq_setsockopt(p->dealer, ZMQ_CURVE_SERVERKEY, p->conf->key, NTM_KEY_LEN);
	zmq_setsockopt(p->dealer, ZMQ_CURVE_PUBLICKEY, dc->key.pub, NTM_KEY_LEN);
	zmq_setsockopt(p->dealer, ZMQ_CURVE_SECRETKEY, dc->key.priv, NTM_KEY_LEN);
	ntm_endpoint_str(&p->conf->endpoint, text, sizeof(text));
	snprintf(url, sizeof(url), "tcp://%s", text);
	if (zmq_connect(p->dealer, url) < 0) {
		snprintf(err, err_size, "federation: cannot connect to [peer %s] at %s: %s",
			 p->conf->domain, url, zmq_strerror(errno));
		return -1;
	}
	ntm_loop_add_zsock(dc->loop, p->dealer, ZMQ_POLLIN, on_dealer, dc);
	dc->fed->n_peers++;
	send_hello(dc, (int)i);
	return 0;
}

int dc_fed_start(struct dc *dc, char *err, size_t err_size)
{
	if (dc->cfg.fed_listen[0] == '\0')
		return 0;
	dc->fed = calloc(1, sizeof(*dc->fed));
	if (!dc->fed) {
		snprintf(err, err_size, "federation: out of memory");
		return -1;
	}
	dc->fed->ctx = zmq_ctx_new();
	if (!dc->fed->ctx || open_router(dc, err, err_size) < 0)
		return -1;
	for (size_t i = 0; i < dc->cfg.n_peers; i++) {
		if (open_dealer(dc, i, err, err_size) < 0)
			return -1;
	}
	dc->fed->hello_timer = ntm_loop_timer_add(dc->loop, FED_HELLO_MS, FED_HELLO_MS,
						  on_hello_timer, dc);
	dc->fed->tick_timer = ntm_loop_timer_add(dc->loop, FED_TICK_MS, FED_TICK_MS, on_tick, dc);
	return 0;
}

void dc_fed_stop(struct dc *dc)
{
	struct dc_fed *fed = dc->fed;

	if (!fed)
		return;
	while (fed->queries) {
		struct fed_query *q = fed->queries;

		fed->queries = q->next;
		q->cb(dc, NULL, NULL, NTM__ERROR_CODE__ERROR_CODE_TIMEOUT, q->arg);
		free(q);
	}
	if (fed->hello_timer)
		ntm_loop_timer_cancel(dc->loop, fed->hello_timer);
	if (fed->tick_timer)
		ntm_loop_timer_cancel(dc->loop, fed->tick_timer);
	for (size_t i = 0; i < fed->n_peers; i++)
		ntm_loop_close_zsock(dc->loop, &fed->peers[i].dealer);
	ntm_loop_close_zsock(dc->loop, &fed->router);
	ntm_loop_close_zsock(dc->loop, &fed->zap);
	if (fed->ctx)
		zmq_ctx_term(fed->ctx);
	free(fed);
	dc->fed = NULL;
}

json_t *dc_fed_to_json(struct dc *dc)
{
	json_t *arr = json_array();
	uint64_t now = ntm_now_ms();

	for (size_t i = 0; dc->fed && i < dc->fed->n_peers; i++) {
		const struct fed_peer *p = &dc->fed->peers[i];
		char ep[NTM_ENDPOINT_STRLEN], pre[INET6_ADDRSTRLEN + 5];
		json_t *prefixes = json_array();

		for (size_t j = 0; j < p->n_prefixes; j++)
			json_array_append_new(prefixes, json_string(ntm_prefix_str(
						  &p->prefixes[j], pre, sizeof(pre))));
		json_array_append_new(arr, json_pack(
			"{s:s, s:s, s:b, s:o, s:I, s:I, s:I}", "domain", p->conf->domain,
			"endpoint", ntm_endpoint_str(&p->conf->endpoint, ep, sizeof(ep)),
			"connected", p->last_hello_ms && now - p->last_hello_ms < 3 * FED_HELLO_MS,
			"vip_prefixes", prefixes, "queries", (json_int_t)p->queries,
			"answers", (json_int_t)p->answers, "timeouts", (json_int_t)p->timeouts));
	}
	return arr;
}
