/*
 * Direction Requests: the DC decides the route between two nodes and sends a
 * Route Direction to each, retransmitting until each node acks it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dc.h"
#include "dc_federation.h"
#include "dc_relay.h"
#include "dc_route.h"
#include "ntm_msg.h"
#include "ntm_time.h"

/* Retransmission of a Route Direction: first retry after 250 ms, the wait
 * doubling each time, 6 sends in all (about 16 s). */
#define DC_RD_FIRST_RETRY_MS 250
#define DC_RD_MAX_SENDS 6

/* Hole punching: probes start 200 ms after receipt, so the probes of the two
 * nodes, directed within a round trip of each other, overlap. 40 probes are
 * sent 50 ms apart. */
#define DC_PUNCH_START_MS 200
#define DC_PUNCH_INTERVAL_MS 50
#define DC_PUNCH_COUNT 40

struct dc_pending {
	struct dc_pending *next;
	uint64_t direction_id;
	uint8_t key[NTM_KEY_LEN];
	uint64_t request_id;
	uint8_t plain[NTM_CTL_MAX_PLAINTEXT];   /* packed Envelope, resealed per send */
	size_t plain_len;
	unsigned sends;
	uint64_t next_ms;
	dc_ack_cb cb;
	void *cb_arg;
};

/* Everything a Route Direction message points into, kept together. */
struct rd_build {
	Ntm__RouteDirection rd;
	struct dc_record_pb peer;
	Ntm__Endpoint try_eps[NTM_MAX_LOCAL_ENDPOINTS];
	Ntm__Endpoint *try_ptrs[NTM_MAX_LOCAL_ENDPOINTS];
	struct ntm_endpoint try_copies[NTM_MAX_LOCAL_ENDPOINTS];
	Ntm__PunchDirection punch;
	Ntm__Endpoint punch_ep;
	struct ntm_endpoint punch_copy;
};

static int send_pending(struct dc *dc, struct dc_pending *p)
{
	struct dc_session *s = dc_session_find(dc, p->key);

	p->sends++;
	p->next_ms = ntm_now_ms() + ((uint64_t)DC_RD_FIRST_RETRY_MS << (p->sends - 1));
	if (!s)
		return -ENOENT;
	return dc_send_packed(dc, s, p->plain, p->plain_len);
}

int dc_direct_local(struct dc *dc, struct dc_session *s, uint64_t request_id,
		    const Ntm__RouteDirection *rd, dc_ack_cb cb, void *arg)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	struct dc_pending *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.request_id = request_id;
	env.body_case = NTM__ENVELOPE__BODY_ROUTE_DIRECTION;
	env.route_direction = (Ntm__RouteDirection *)rd;

	ssize_t len = ntm_msg_pack(&env, p->plain, sizeof(p->plain));
	if (len < 0) {
		free(p);
		return (int)len;
	}
	p->plain_len = (size_t)len;
	p->direction_id = rd->direction_id;
	p->request_id = request_id;
	memcpy(p->key, s->node.key, NTM_KEY_LEN);
	p->cb = cb;
	p->cb_arg = arg;
	p->next = dc->pending;
	dc->pending = p;
	send_pending(dc, p);
	return 0;
}

static void pending_finish(struct dc *dc, struct dc_pending **link, Ntm__ErrorCode code)
{
	struct dc_pending *p = *link;

	*link = p->next;
	if (p->cb)
		p->cb(dc, p->direction_id, code, p->cb_arg);
	sodium_memzero(p->plain, sizeof(p->plain));
	free(p);
}

/* Marks the node's ack in the direction log. */
static void log_ack(struct dc *dc, const uint8_t key[NTM_KEY_LEN], uint64_t direction_id)
{
	for (size_t i = 0; i < DC_DIRECTION_LOG; i++) {
		struct dc_direction_rec *r = &dc->direction_log[i];

		if (r->direction_id != direction_id)
			continue;
		r->requester_acked |= memcmp(r->requester, key, NTM_KEY_LEN) == 0;
		r->peer_acked |= memcmp(r->peer, key, NTM_KEY_LEN) == 0;
	}
}

void dc_handle_route_ack(struct dc *dc, struct dc_session *s, uint64_t direction_id)
{
	log_ack(dc, s->node.key, direction_id);
	for (struct dc_pending **link = &dc->pending; *link; link = &(*link)->next) {
		struct dc_pending *p = *link;

		if (p->direction_id == direction_id &&
		    memcmp(p->key, s->node.key, NTM_KEY_LEN) == 0) {
			log_debug("node %s: acked Route Direction %016llx", s->node.fqdn,
				  (unsigned long long)direction_id);
			pending_finish(dc, link, NTM__ERROR_CODE__ERROR_CODE_UNSPECIFIED);
			return;
		}
	}
}

void dc_pending_tick(struct dc *dc)
{
	uint64_t now = ntm_now_ms();
	struct dc_pending **link = &dc->pending;

	while (*link) {
		struct dc_pending *p = *link;

		if (now < p->next_ms) {
			link = &p->next;
			continue;
		}
		if (p->sends >= DC_RD_MAX_SENDS) {
			char id[9];

			log_info("node %s: Route Direction %016llx not acked after %u sends",
				 ntm_key_id(p->key, id), (unsigned long long)p->direction_id,
				 p->sends);
			pending_finish(dc, link, NTM__ERROR_CODE__ERROR_CODE_TIMEOUT);
			continue;
		}
		send_pending(dc, p);
		link = &p->next;
	}
}

void dc_pending_drop_key(struct dc *dc, const uint8_t key[NTM_KEY_LEN])
{
	struct dc_pending **link = &dc->pending;

	while (*link) {
		if (memcmp((*link)->key, key, NTM_KEY_LEN) == 0)
			pending_finish(dc, link, NTM__ERROR_CODE__ERROR_CODE_PEER_REVOKED);
		else
			link = &(*link)->next;
	}
}

void dc_pending_free_all(struct dc *dc)
{
	while (dc->pending) {
		struct dc_pending *p = dc->pending;

		dc->pending = p->next;
		free(p);
	}
}

static void set_try(struct rd_build *b, const struct ntm_endpoint *eps, size_t n)
{
	for (size_t i = 0; i < n && i < NTM_MAX_LOCAL_ENDPOINTS; i++) {
		b->try_copies[i] = eps[i];
		ntm__endpoint__init(&b->try_eps[i]);
		ntm_msg_endpoint_set(&b->try_eps[i], &b->try_copies[i]);
		b->try_ptrs[i] = &b->try_eps[i];
	}
	b->rd.n_try_endpoints = n < NTM_MAX_LOCAL_ENDPOINTS ? n : NTM_MAX_LOCAL_ENDPOINTS;
	b->rd.try_endpoints = b->try_ptrs;
}

static void set_punch(struct rd_build *b, const struct ntm_endpoint *peer_observed)
{
	ntm__punch_direction__init(&b->punch);
	ntm__endpoint__init(&b->punch_ep);
	b->punch_copy = *peer_observed;
	ntm_msg_endpoint_set(&b->punch_ep, &b->punch_copy);
	b->punch.peer_observed = &b->punch_ep;
	b->punch.start_after_ms = DC_PUNCH_START_MS;
	b->punch.interval_ms = DC_PUNCH_INTERVAL_MS;
	b->punch.count = DC_PUNCH_COUNT;
	b->rd.punch = &b->punch;
}

/*
 * Builds the Route Direction for `self` about `other`. initiator says whether
 * self sends the Tunnel Request.
 */
static void build_rd(struct dc *dc, struct rd_build *b, uint64_t direction_id,
		     struct dc_route route, bool initiator, const struct dc_node *self,
		     const struct dc_node *other, const char *other_domain)
{
	ntm__route_direction__init(&b->rd);
	b->rd.direction_id = direction_id;
	b->rd.route = route.route;
	b->rd.role = initiator ? NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR
			       : NTM__TUNNEL_ROLE__TUNNEL_ROLE_RESPONDER;
	dc_record_to_pb(&b->peer, other, other_domain,
			strcmp(other_domain, dc->cfg.domain) == 0 ? dc->store : NULL);
	b->rd.peer = &b->peer.msg;

	if (route.route == NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS) {
		set_punch(b, &other->observed);
		return;
	}
	if (!initiator)
		return;
	if (route.route == NTM__ROUTE_CASE__ROUTE_CASE_SAME_NAT)
		set_try(b, other->local, other->n_local);
	else
		set_try(b, &other->observed, 1);
}

/* Finds the peer's record: a node of this DC, or a federated one a query
 * fetched recently. */
static bool find_peer(struct dc *dc, const uint8_t key[NTM_KEY_LEN], struct dc_node *peer,
		      char *domain, size_t domain_size, struct dc_session **local)
{
	*local = dc_session_find(dc, key);
	if (*local) {
		*peer = (*local)->node;
		snprintf(domain, domain_size, "%s", dc->cfg.domain);
		return true;
	}
	return dc_fed_cached(dc, key, peer, domain, domain_size);
}

static int deliver_to_peer(struct dc *dc, struct dc_session *local, const char *domain,
			   const uint8_t key[NTM_KEY_LEN], const Ntm__RouteDirection *rd)
{
	uint64_t rid;

	if (local) {
		randombytes_buf(&rid, sizeof(rid));
		return dc_direct_local(dc, local, rid, rd, NULL, NULL);
	}
	return dc_fed_direct(dc, domain, key, rd);
}

static void send_peer_direction(struct dc *dc, struct dc_session *s, struct dc_session *local,
				const char *domain, const struct dc_node *peer,
				const Ntm__RouteDirection *rd)
{
	if (deliver_to_peer(dc, local, domain, peer->key, rd) < 0)
		log_warn("node %s -> %s: cannot deliver the Route Direction to the peer",
			 s->node.fqdn, peer->fqdn);
}

static bool check_peer(struct dc *dc, struct dc_session *s, uint64_t request_id,
		       const struct dc_node *peer, bool found)
{
	if (!found) {
		dc_send_error(dc, s, request_id, NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND,
			      "no record for the peer key; send an NTM query for it first");
		return false;
	}
	if (!peer->online || peer->observed.ip.len == 0) {
		dc_send_error(dc, s, request_id, NTM__ERROR_CODE__ERROR_CODE_PEER_OFFLINE,
			      "the peer is offline");
		return false;
	}
	if (memcmp(peer->key, s->node.key, NTM_KEY_LEN) == 0) {
		dc_send_error(dc, s, request_id, NTM__ERROR_CODE__ERROR_CODE_INVALID,
			      "a node cannot direct a tunnel to itself");
		return false;
	}
	return true;
}

/* A direction waiting for its relay session. */
struct direction_ctx {
	uint8_t requester[NTM_KEY_LEN];
	uint64_t request_id;
	uint64_t direction_id;
	struct dc_node peer;
	char domain[NTM_FQDN_MAX + 1];
	bool peer_local;
	struct dc_route route;
};

/* Records a direction in the ring the admin API lists, at index
 * directions % DC_DIRECTION_LOG. */
static void log_direction(struct dc *dc, const struct direction_ctx *ctx,
			  const struct dc_node *requester, const struct dc_node *peer,
			  const Ntm__RelayDirection *session)
{
	struct dc_direction_rec *r = &dc->direction_log[dc->directions % DC_DIRECTION_LOG];

	memset(r, 0, sizeof(*r));
	r->direction_id = ctx->direction_id;
	r->at_ms = ntm_wall_ms();
	memcpy(r->requester, requester->key, NTM_KEY_LEN);
	memcpy(r->peer, peer->key, NTM_KEY_LEN);
	snprintf(r->requester_fqdn, sizeof(r->requester_fqdn), "%s", requester->fqdn);
	snprintf(r->peer_fqdn, sizeof(r->peer_fqdn), "%s", peer->fqdn);
	snprintf(r->peer_domain, sizeof(r->peer_domain), "%s", ctx->domain);
	r->route = ctx->route.route;
	r->requester_initiates = ctx->route.requester_initiates;
	r->relay_session_id = session ? session->session_id : 0;
}

/* Builds and sends both Route Directions; session is the relay session, or
 * NULL for none. */
static void send_directions(struct dc *dc, const struct direction_ctx *ctx,
			    const Ntm__RelayDirection *session)
{
	static struct rd_build to_requester, to_peer;
	Ntm__RelayDirection relay_req, relay_peer;
	uint8_t cred_req[32], cred_peer[32];
	struct dc_session *s = dc_session_find(dc, ctx->requester);
	struct dc_session *local = ctx->peer_local ? dc_session_find(dc, ctx->peer.key) : NULL;
	const struct dc_node *peer = local ? &local->node : &ctx->peer;

	if (!s || (ctx->peer_local && !local))
		return;   /* revoked while the relay was being allocated */
	build_rd(dc, &to_requester, ctx->direction_id, ctx->route, ctx->route.requester_initiates,
		 &s->node, peer, ctx->domain);
	build_rd(dc, &to_peer, ctx->direction_id, ctx->route, !ctx->route.requester_initiates, peer,
		 &s->node, dc->cfg.domain);
	if (session) {
		dc_relay_for_node(&relay_req, cred_req, session, s->node.key);
		dc_relay_for_node(&relay_peer, cred_peer, session, peer->key);
		to_requester.rd.relay = &relay_req;
		to_peer.rd.relay = &relay_peer;
	}
	log_info("node %s -> %s: route %s%s, %s initiates (direction %016llx)", s->node.fqdn,
		 peer->fqdn, ntm_msg_route_case_str(ctx->route.route), session ? " with relay" : "",
		 ctx->route.requester_initiates ? s->node.fqdn : peer->fqdn,
		 (unsigned long long)ctx->direction_id);
	log_direction(dc, ctx, &s->node, peer, session);
	dc->directions++;

	/* The responder's Route Direction goes first, so it usually arrives
	 * before the initiator's Tunnel Request does. */
	if (ctx->route.requester_initiates)
		send_peer_direction(dc, s, local, ctx->domain, peer, &to_peer.rd);
	dc_direct_local(dc, s, ctx->request_id, &to_requester.rd, NULL, NULL);
	if (!ctx->route.requester_initiates)
		send_peer_direction(dc, s, local, ctx->domain, peer, &to_peer.rd);
	sodium_memzero(cred_req, sizeof(cred_req));
	sodium_memzero(cred_peer, sizeof(cred_peer));
}

static void on_relay(struct dc *dc, const Ntm__RelayDirection *session, void *arg)
{
	struct direction_ctx *ctx = arg;

	send_directions(dc, ctx, session);
	free(ctx);
}

/* Between two NATs the tunnel starts on a relay while punching goes on, so
 * nothing waits for the punch; without a relay the punch alone is tried. */
static bool start_with_relay(struct dc *dc, const struct direction_ctx *ctx)
{
	struct direction_ctx *copy;

	if (ctx->route.route != NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS || !dc_relay_available(dc))
		return false;
	copy = malloc(sizeof(*copy));
	if (!copy)
		return false;
	*copy = *ctx;
	if (dc_relay_allocate(dc, ctx->requester, ctx->peer.key, on_relay, copy) == 0)
		return true;
	free(copy);
	return false;
}

/* Direction Requests a node may send at once, and per second after that. A
 * node that opens tunnels to up to 32 peers at once is not slowed down, and
 * one that floods the DC gets ERROR_CODE_LIMIT. */
#define DC_DIRECTION_BURST 32
#define DC_DIRECTION_PER_SECOND 16

static bool direction_allowed(struct dc *dc, struct dc_session *s, uint64_t request_id)
{
	if (s->direction_limit.burst == 0)
		s->direction_limit = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(
			DC_DIRECTION_BURST, DC_DIRECTION_PER_SECOND);
	if (ntm_ratelimit_allow(&s->direction_limit, ntm_now_ms()))
		return true;
	dc->directions_limited++;
	if (ntm_log_enabled(NTM_LOG_DEBUG) && ntm_ratelimit_allow(&dc->drop_log, ntm_now_ms()))
		log_debug("%s: Direction Request over %d per second, responded with LIMIT",
			  s->node.fqdn, DC_DIRECTION_PER_SECOND);
	dc_send_error(dc, s, request_id, NTM__ERROR_CODE__ERROR_CODE_LIMIT,
		      "too many Direction Requests; retry in a second");
	return false;
}

static bool request_seen(const struct dc_session *s, uint64_t request_id)
{
	const size_t n = sizeof(s->direction_rids) / sizeof(s->direction_rids[0]);

	for (size_t i = 0; i < n; i++) {
		if (s->direction_rids[i] == request_id)
			return true;
	}
	return false;
}

static void remember_request(struct dc_session *s, uint64_t request_id)
{
	const size_t n = sizeof(s->direction_rids) / sizeof(s->direction_rids[0]);

	s->direction_rids[s->direction_rid_next++ % n] = request_id;
}

void dc_handle_direction_request(struct dc *dc, struct dc_session *s, uint64_t request_id,
				 const Ntm__DirectionRequest *req)
{
	struct direction_ctx ctx;
	struct dc_session *local = NULL;

	if (request_seen(s, request_id))
		return;   /* its Route Direction is being retransmitted already */
	if (!direction_allowed(dc, s, request_id))
		return;

	memset(&ctx, 0, sizeof(ctx));
	bool found = find_peer(dc, req->peer_key.data, &ctx.peer, ctx.domain, sizeof(ctx.domain),
			       &local);
	/* A request that failed is not remembered, so a retransmission whose
	 * Error was lost gets the Error again. */
	if (!check_peer(dc, s, request_id, &ctx.peer, found))
		return;
	remember_request(s, request_id);

	memcpy(ctx.requester, s->node.key, NTM_KEY_LEN);
	ctx.request_id = request_id;
	ctx.peer_local = local != NULL;
	ctx.route = dc_route_decide(&s->node, &ctx.peer, req->exclude_private);
	randombytes_buf(&ctx.direction_id, sizeof(ctx.direction_id));
	if (!start_with_relay(dc, &ctx))
		send_directions(dc, &ctx, NULL);
}

void dc_direct_pair(struct dc *dc, const uint8_t a[NTM_KEY_LEN], const uint8_t b[NTM_KEY_LEN])
{
	Ntm__DirectionRequest req = NTM__DIRECTION_REQUEST__INIT;
	struct dc_session *s = dc_session_find(dc, a);
	uint64_t rid;

	if (!s || !s->registered)
		return;
	req.peer_key.data = (uint8_t *)b;
	req.peer_key.len = NTM_KEY_LEN;
	randombytes_buf(&rid, sizeof(rid));
	dc_handle_direction_request(dc, s, rid, &req);
}
