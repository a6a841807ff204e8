/*
 * Peers of this node: the lookup tables, the on-demand tunnel sequence (NTM
 * query, Direction Request, Route Direction) and the per-peer timers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "nd.h"
#include "nd_handshake.h"
#include "ntm_time.h"

/* Packets and DNS answers wait this long for a tunnel before the attempt fails. */
#define ND_SETUP_TIMEOUT_MS 10000

const char *nd_peer_state_str(enum nd_peer_state st)
{
	switch (st) {
	case ND_PEER_QUERYING:
		return "querying";
	case ND_PEER_DIRECTING:
		return "directing";
	case ND_PEER_HANDSHAKE:
		return "handshake";
	case ND_PEER_UP:
		return "up";
	default:
		return "failed";
	}
}

struct nd_peer *nd_peer_by_key(struct nd *nd, const uint8_t key[NTM_KEY_LEN])
{
	for (size_t i = 0; i < nd->n_peers; i++) {
		if (nd->peers[i]->have_key && memcmp(nd->peers[i]->key, key, NTM_KEY_LEN) == 0)
			return nd->peers[i];
	}
	return NULL;
}

static bool peer_owns(const struct nd_peer *p, const struct ntm_ip *ip)
{
	if (ntm_ip_equal(&p->vip, ip))
		return true;
	for (size_t i = 0; i < p->n_pool; i++) {
		if (ntm_ip_equal(&p->pool[i], ip))
			return true;
	}
	return false;
}

struct nd_peer *nd_peer_by_vip(struct nd *nd, const struct ntm_ip *ip)
{
	for (size_t i = 0; i < nd->n_peers; i++) {
		if (peer_owns(nd->peers[i], ip))
			return nd->peers[i];
	}
	return NULL;
}

struct nd_peer *nd_peer_by_fqdn(struct nd *nd, const char *fqdn)
{
	for (size_t i = 0; i < nd->n_peers; i++) {
		if (strcmp(nd->peers[i]->fqdn, fqdn) == 0)
			return nd->peers[i];
	}
	return NULL;
}

struct nd_peer *nd_peer_by_index(struct nd *nd, uint32_t index, struct nd_session **session)
{
	for (size_t i = 0; i < nd->n_peers; i++) {
		struct nd_peer *p = nd->peers[i];

		if (p->cur.valid && p->cur.local_index == index) {
			*session = &p->cur;
			return p;
		}
		if (p->prev.valid && p->prev.local_index == index) {
			*session = &p->prev;
			return p;
		}
	}
	return NULL;
}

static struct nd_peer *peer_new(struct nd *nd)
{
	struct nd_peer *p;

	if (nd->n_peers == ND_MAX_PEERS) {
		log_warn("peer table full (%d peers); no new tunnel", ND_MAX_PEERS);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->trigger_us = ntm_now_us();
	p->hs_started_ms = ntm_now_ms();
	nd->peers[nd->n_peers++] = p;
	return p;
}

static void queue_clear(struct nd_peer *p)
{
	for (size_t i = 0; i < p->n_queue; i++)
		free(p->queue[i]);
	p->n_queue = 0;
}

static void peer_free(struct nd *nd, struct nd_peer *p)
{
	nd_dc_cancel_requests(nd, p);
	queue_clear(p);
	ntm_ctl_keys_wipe(&p->ctl);
	ntm_keypair_wipe(&p->eph);
	ntm_session_keys_wipe(&p->cur.keys);
	ntm_session_keys_wipe(&p->prev.keys);
	free(p);
}

static void peer_remove(struct nd *nd, struct nd_peer *p)
{
	nd->removed_handovers += p->handovers;
	for (size_t i = 0; i < nd->n_peers; i++) {
		if (nd->peers[i] == p) {
			nd->peers[i] = nd->peers[--nd->n_peers];
			break;
		}
	}
	peer_free(nd, p);
}

void nd_peer_free_all(struct nd *nd)
{
	for (size_t i = 0; i < nd->n_peers; i++)
		peer_free(nd, nd->peers[i]);
	nd->n_peers = 0;
}

void nd_peer_notify(struct nd *nd, struct nd_peer *peer)
{
	if (peer->state == ND_PEER_UP)
		nd_data_flush_queue(nd, peer);
	else if (peer->state == ND_PEER_FAILED)
		queue_clear(peer);
	nd_resolve_peer_changed(nd, peer);
	nd_ipc_peer_changed(nd, peer);
}

static void peer_fail(struct nd *nd, struct nd_peer *p, const char *why)
{
	log_info("peer %s: tunnel set-up failed: %s", p->fqdn[0] ? p->fqdn : "(unknown)", why);
	nd->setup_failures++;
	p->state = ND_PEER_FAILED;
	p->hs_started_ms = ntm_now_ms();
	nd_peer_notify(nd, p);
}

/* Copies the identity fields of a record into the peer and derives the
 * static control keys once. */
static int peer_set_record(struct nd *nd, struct nd_peer *p, const Ntm__NtmRecord *rec)
{
	snprintf(p->fqdn, sizeof(p->fqdn), "%s", rec->fqdn);
	ntm_msg_ip_get(&p->vip, rec->vip);
	p->n_pool = 0;
	for (size_t i = 0; i < rec->n_pool_vips && i < NTM_MAX_POOL_VIPS; i++) {
		if (ntm_msg_ip_get(&p->pool[p->n_pool], rec->pool_vips[i]) == 0)
			p->n_pool++;
	}
	if (p->have_key)
		return 0;
	memcpy(p->key, rec->node_key.data, NTM_KEY_LEN);
	if (ntm_ctl_keys_derive(&p->ctl, &nd->key, p->key) < 0)
		return -EINVAL;
	ntm_replay_reset(&p->ctl_window, 0);
	p->have_key = true;
	return 0;
}

static void on_direction_reply(struct nd *nd, const Ntm__Envelope *env, void *arg)
{
	struct nd_peer *p = arg;

	if (!env) {
		peer_fail(nd, p, "the DC did not answer the Direction Request");
		return;
	}
	/* A Route Direction is handled by nd_peer_route_direction already. */
	if (env->body_case == NTM__ENVELOPE__BODY_ERROR)
		peer_fail(nd, p, env->error->message);
}

/* Asks the DC to direct a tunnel to the peer. */
static void peer_request_direction(struct nd *nd, struct nd_peer *p, bool exclude_private)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__DirectionRequest req = NTM__DIRECTION_REQUEST__INIT;

	nd_dc_cancel_requests(nd, p);
	req.peer_key.data = p->key;
	req.peer_key.len = NTM_KEY_LEN;
	req.exclude_private = exclude_private;
	env.body_case = NTM__ENVELOPE__BODY_DIRECTION_REQUEST;
	env.direction_request = &req;
	if (p->state != ND_PEER_UP)
		p->state = ND_PEER_DIRECTING;
	p->hs_started_ms = ntm_now_ms();
	if (nd_dc_request(nd, &env, on_direction_reply, p) < 0)
		peer_fail(nd, p, "cannot send the Direction Request");
}

static void on_query_reply(struct nd *nd, const Ntm__Envelope *env, void *arg)
{
	struct nd_peer *p = arg;

	if (!env) {
		peer_fail(nd, p, "the DC did not answer the NTM query");
		return;
	}
	if (env->body_case != NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE) {
		peer_fail(nd, p, env->body_case == NTM__ENVELOPE__BODY_ERROR ? env->error->message
									      : "unexpected answer");
		return;
	}

	const Ntm__NtmRecord *rec = env->ntm_query_response->record;
	struct nd_peer *known = nd_peer_by_key(nd, rec->node_key.data);

	/* A pool VIP of a peer we already have: reuse its tunnel. */
	if (known && known != p) {
		peer_set_record(nd, known, rec);
		for (size_t i = 0; i < p->n_queue; i++)
			known->queue[known->n_queue < ND_QUEUE_MAX ? known->n_queue++ : 0] =
				p->queue[i];
		p->n_queue = 0;
		nd_resolve_peer_replaced(nd, p, known);
		nd_ipc_peer_replaced(nd, p, known);
		peer_remove(nd, p);
		if (known->state == ND_PEER_UP || known->state == ND_PEER_HANDSHAKE)
			nd_peer_notify(nd, known);
		else
			peer_request_direction(nd, known, false);
		return;
	}
	if (memcmp(rec->node_key.data, nd->key.pub, NTM_KEY_LEN) == 0) {
		peer_fail(nd, p, "the name or VIP is this node's own");
		return;
	}
	if (peer_set_record(nd, p, rec) < 0) {
		peer_fail(nd, p, "the peer's public key is invalid");
		return;
	}
	peer_request_direction(nd, p, false);
}

struct nd_peer *nd_peer_connect(struct nd *nd, const char *fqdn, const struct ntm_ip *vip)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__NtmQuery q = NTM__NTM_QUERY__INIT;
	struct ntm_ip vip_copy;
	struct nd_peer *p = fqdn ? nd_peer_by_fqdn(nd, fqdn) : nd_peer_by_vip(nd, vip);

	if (p && p->state != ND_PEER_FAILED)
		return p;
	if (p && ntm_now_ms() - p->hs_started_ms < 1000)
		return p;   /* failed less than a second ago: do not hammer the DC */
	if (nd->reg != ND_REG_DONE)
		return NULL;
	if (!p) {
		p = peer_new(nd);
		if (!p)
			return NULL;
	}
	p->state = ND_PEER_QUERYING;
	p->trigger_us = ntm_now_us();
	if (fqdn) {
		snprintf(p->fqdn, sizeof(p->fqdn), "%s", fqdn);
		q.target_case = NTM__NTM_QUERY__TARGET_FQDN;
		q.fqdn = p->fqdn;
	} else {
		p->vip = *vip;
		vip_copy = *vip;
		q.target_case = NTM__NTM_QUERY__TARGET_VIP;
		q.vip = ntm_msg_ip_bytes(&vip_copy);
	}
	env.body_case = NTM__ENVELOPE__BODY_NTM_QUERY;
	env.ntm_query = &q;
	if (nd_dc_request(nd, &env, on_query_reply, p) < 0) {
		peer_fail(nd, p, "cannot send the NTM query");
		return NULL;
	}
	return p;
}

static void take_endpoints(struct nd *nd, struct nd_peer *p, const Ntm__RouteDirection *rd)
{
	p->n_try = 0;
	for (size_t i = 0; i < rd->n_try_endpoints && p->n_try < NTM_MAX_LOCAL_ENDPOINTS; i++) {
		if (ntm_msg_endpoint_get(&p->try_eps[p->n_try], rd->try_endpoints[i]) == 0)
			p->n_try++;
	}
	memset(&p->punch_ep, 0, sizeof(p->punch_ep));
	if (rd->punch && rd->punch->peer_observed)
		ntm_msg_endpoint_get(&p->punch_ep, rd->punch->peer_observed);
	/* Punching: the initiator's Tunnel Request itself is the probe. */
	if (p->n_try == 0 && p->punch_ep.ip.len != 0 && p->initiator)
		p->try_eps[p->n_try++] = p->punch_ep;
	/* With a relay the request also goes through it, so nothing waits for
	 * the punch. */
	if (rd->relay) {
		nd_relay_set(nd, p, rd->relay);
		if (p->has_relay && p->initiator && p->n_try < NTM_MAX_LOCAL_ENDPOINTS)
			p->try_eps[p->n_try++] = p->relay_ep;
	}
}

static bool direction_seen(const struct nd_peer *p, uint64_t direction_id)
{
	for (size_t i = 0; i < sizeof(p->seen_directions) / sizeof(p->seen_directions[0]); i++) {
		if (p->seen_directions[i] == direction_id)
			return true;
	}
	return false;
}

void nd_peer_route_direction(struct nd *nd, uint64_t request_id, const Ntm__RouteDirection *rd)
{
	struct nd_peer *p = nd_peer_by_key(nd, rd->peer->node_key.data);

	if (p && direction_seen(p, rd->direction_id))
		return;   /* a retransmission: already acted on */
	if (!p) {
		p = peer_new(nd);
		if (!p)
			return;
	}
	if (peer_set_record(nd, p, rd->peer) < 0) {
		peer_fail(nd, p, "the peer's public key is invalid");
		return;
	}
	nd_dc_cancel_requests(nd, p);
	p->direction_id = rd->direction_id;
	p->seen_directions[p->seen_next++ % 4] = rd->direction_id;
	p->route = rd->route;
	p->initiator = rd->role == NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR;
	take_endpoints(nd, p, rd);
	if (p->state != ND_PEER_UP)
		p->state = ND_PEER_HANDSHAKE;
	p->hs_started_ms = ntm_now_ms();
	log_info("peer %s: Route Direction %016llx, route %d, this node %s", p->fqdn,
		 (unsigned long long)rd->direction_id, rd->route,
		 p->initiator ? "initiates" : "responds");
	if (p->initiator)
		nd_hs_initiate(nd, p);
	else if (p->punch_ep.ip.len != 0)
		nd_hs_probe(nd, p, &p->punch_ep);
	nd_peer_replay_early(nd, p->key);
}

/* Handshake timers of one peer: retransmit, fall back, or give up. */
/* Keep-alive intervals of silence after which a tunnel counts as broken. */
#define ND_SILENT_KEEPALIVES 3

/*
 * Both ends send a keep-alive after tunnel_keepalive_s without traffic, so a
 * tunnel that brought nothing for three of those lost its session at the
 * peer (it restarted) or its path. Rekeying cannot help, because a restarted
 * peer no longer has this node's key. A new direction through the DC
 * introduces both ends again; it is asked for again at that pace until
 * something arrives.
 */
static void check_silence(struct nd *nd, struct nd_peer *p, uint64_t now)
{
	uint64_t silent_ms = ND_SILENT_KEEPALIVES * nd->cfg.tunnel_keepalive_s * 1000;
	uint64_t last_heard_ms = p->last_recv_ms > p->cur.created_ms ? p->last_recv_ms
								     : p->cur.created_ms;

	if (p->state != ND_PEER_UP || now - last_heard_ms < silent_ms ||
	    now < p->revive_next_ms)
		return;
	log_info("peer %s: nothing received for %llu s; asking the DC for a new direction",
		 p->fqdn, (unsigned long long)((now - last_heard_ms) / 1000));
	p->revive_next_ms = now + silent_ms;
	p->exclude_private = false;
	peer_request_direction(nd, p, false);
}

/* The DLNA Agent is the peer the local ntm-ssdpd searches through. A failed
 * tunnel to it is tried again at the pace of check_silence, so discovery
 * comes back with the Agent and not only with the next packet to a VIP. */
static void retry_agent(struct nd *nd, struct nd_peer *p, uint64_t now)
{
	if (!p->dlna_agent || p->state != ND_PEER_FAILED || now < p->revive_next_ms)
		return;
	p->revive_next_ms = now + ND_SILENT_KEEPALIVES * nd->cfg.tunnel_keepalive_s * 1000;
	log_debug("peer %s: building the tunnel to the DLNA Agent again", p->fqdn);
	nd_peer_connect(nd, p->fqdn, NULL);
}

static void peer_tick(struct nd *nd, struct nd_peer *p, uint64_t now)
{
	check_silence(nd, p, now);
	retry_agent(nd, p, now);
	if (p->state == ND_PEER_HANDSHAKE && p->initiator && p->n_try > 0 &&
	    now >= p->hs_next_ms) {
		if (nd_hs_retry(nd, p) == 0)
			return;
		if (p->route == NTM__ROUTE_CASE__ROUTE_CASE_SAME_NAT && !p->exclude_private) {
			log_info("peer %s: no Tunnel Response on its private addresses; asking the DC for "
				 "the path between different NATs", p->fqdn);
			p->exclude_private = true;
			peer_request_direction(nd, p, true);
			return;
		}
		peer_fail(nd, p, "no Tunnel Response from the peer");
		return;
	}
	if (p->state != ND_PEER_UP && p->state != ND_PEER_FAILED &&
	    now - p->hs_started_ms > ND_SETUP_TIMEOUT_MS)
		peer_fail(nd, p, "timed out");
}

void nd_peer_tick(struct nd *nd)
{
	uint64_t now = ntm_now_ms();

	for (size_t i = 0; i < nd->n_peers; i++) {
		struct nd_peer *p = nd->peers[i];

		peer_tick(nd, p, now);
		nd_hs_session_tick(nd, p, now);
		nd_relay_tick(nd, p, now);
	}
}

void nd_peer_recreate_all(struct nd *nd)
{
	for (size_t i = 0; i < nd->n_peers; i++) {
		struct nd_peer *p = nd->peers[i];

		/* A failed peer is built again when a packet or a query
		 * requests it, which also spares the DC a burst of directions. */
		if (!p->have_key || p->state == ND_PEER_QUERYING || p->state == ND_PEER_FAILED)
			continue;
		/* Through the DC: the peer's NAT may filter our new address. */
		p->exclude_private = false;
		peer_request_direction(nd, p, false);
	}
}

void nd_peer_revoked(struct nd *nd, const uint8_t key[NTM_KEY_LEN])
{
	struct nd_peer *p = nd_peer_by_key(nd, key);

	if (!p)
		return;
	log_info("peer %s: the DC revoked its key; tunnel removed", p->fqdn);
	/* Answers the DNS and IPC requests waiting on the peer before it goes. */
	p->state = ND_PEER_FAILED;
	nd_peer_notify(nd, p);
	peer_remove(nd, p);
}
