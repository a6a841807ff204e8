/*
 * Tunnel handshake between two nodes (docs/protocol.md, "Tunnel
 * handshake"): the Tunnel Request and Response travel in control packets
 * sealed with the two nodes' static keys and carry ephemeral keys, from
 * which ntm_session_keys_derive makes the session keys.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "nd_handshake.h"
#include "ntm_time.h"

/* Tunnel Request retransmission: every 250 ms, 12 sends (3 s). On the
 * same-NAT private path only 3 sends, then the DC is asked for another path. */
#define ND_HS_INTERVAL_MS 250
#define ND_HS_MAX_SENDS 12
#define ND_HS_PRIVATE_SENDS 3
/* The previous session still decrypts this long after a new one starts, for
 * packets already in flight. */
#define ND_PREV_SESSION_MS 10000
/* Rekey after this many bytes under one session as well as after the time. */
#define ND_REKEY_BYTES (1ULL << 30)

static int send_to_peer(struct nd *nd, struct nd_peer *p, const struct ntm_endpoint *ep,
			Ntm__Envelope *env)
{
	/* Room in front for a relay header. */
	uint8_t buf[ND_RELAY_HEADROOM + NTM_CTL_MAX_PACKET];
	uint8_t *pkt = buf + ND_RELAY_HEADROOM;

	env->protocol_version = NTM_PROTOCOL_VERSION;
	ssize_t len = ntm_msg_seal(pkt, NTM_CTL_MAX_PACKET, &nd->key, &p->ctl, ++nd->ctl_counter,
				   env);
	if (len < 0)
		return (int)len;
	return nd_peer_send(nd, p, ep, pkt, (size_t)len, ND_RELAY_HEADROOM);
}

static void send_request_to(struct nd *nd, struct nd_peer *p, const struct ntm_endpoint *ep)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__TunnelRequest req = NTM__TUNNEL_REQUEST__INIT;

	req.direction_id = p->direction_id;
	req.initiator_index = p->pending_index;
	req.ephemeral_key.data = p->eph.pub;
	req.ephemeral_key.len = NTM_KEY_LEN;
	env.body_case = NTM__ENVELOPE__BODY_TUNNEL_REQUEST;
	env.tunnel_request = &req;
	send_to_peer(nd, p, ep, &env);
}

static void send_request(struct nd *nd, struct nd_peer *p)
{
	for (size_t i = 0; i < p->n_try; i++)
		send_request_to(nd, p, &p->try_eps[i]);
	p->hs_sends++;
	p->hs_next_ms = ntm_now_ms() + ND_HS_INTERVAL_MS;
}

void nd_hs_initiate(struct nd *nd, struct nd_peer *p)
{
	ntm_keypair_generate(&p->eph);
	randombytes_buf(&p->pending_index, sizeof(p->pending_index));
	p->hs_sends = 0;
	send_request(nd, p);
}

int nd_hs_retry(struct nd *nd, struct nd_peer *p)
{
	unsigned max = p->route == NTM__ROUTE_CASE__ROUTE_CASE_SAME_NAT && !p->exclude_private
			       ? ND_HS_PRIVATE_SENDS
			       : ND_HS_MAX_SENDS;

	if (p->hs_sends >= max)
		return -ETIMEDOUT;
	send_request(nd, p);
	return 0;
}

void nd_hs_rehandshake(struct nd *nd, struct nd_peer *p)
{
	if (p->endpoint.ip.len == 0)
		return;
	p->initiator = true;
	p->try_eps[0] = p->endpoint;
	p->n_try = 1;
	p->hs_started_ms = ntm_now_ms();
	nd_hs_initiate(nd, p);
}

void nd_hs_probe(struct nd *nd, struct nd_peer *p, const struct ntm_endpoint *ep)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__PathProbe probe = NTM__PATH_PROBE__INIT;

	probe.direction_id = p->direction_id;
	randombytes_buf(&probe.nonce, sizeof(probe.nonce));
	env.body_case = NTM__ENVELOPE__BODY_PATH_PROBE;
	env.path_probe = &probe;
	send_to_peer(nd, p, ep, &env);
}

/* Installs a new session as current; the old one keeps decrypting a while. */
static void session_install(struct nd *nd, struct nd_peer *p, const struct ntm_session_keys *keys,
			    uint32_t local_index, uint32_t remote_index,
			    const struct ntm_endpoint *from)
{
	uint64_t now = ntm_now_ms();
	bool moved = p->cur.valid && !ntm_endpoint_equal(&p->endpoint, from);
	char ep[NTM_ENDPOINT_STRLEN];

	ntm_session_keys_wipe(&p->prev.keys);
	p->prev = p->cur;
	p->prev_expires_ms = now + ND_PREV_SESSION_MS;
	memset(&p->cur, 0, sizeof(p->cur));
	p->cur.valid = true;
	p->cur.keys = *keys;
	p->cur.local_index = local_index;
	p->cur.remote_index = remote_index;
	p->cur.created_ms = now;
	ntm_replay_reset(&p->cur.recv_window, 0);
	if (p->endpoint.ip.len == 0)
		p->endpoint = *from;
	nd_relay_path_seen(nd, p, from);
	p->last_handshake_wall_ms = ntm_wall_ms();
	if (moved)
		p->handovers++;
	if (p->state != ND_PEER_UP) {
		p->setup_us = ntm_now_us() - p->trigger_us;
		ntm_histogram_observe(&nd->setup_seconds, (double)p->setup_us / 1e6);
	}
	if (nd->move_pending) {
		nd->last_recreate_us = ntm_now_us() - nd->move_us;
		nd->move_pending = false;
	}
	p->state = ND_PEER_UP;
	log_info("peer %s: tunnel up via %s%s", p->fqdn,
		 ntm_endpoint_str(from, ep, sizeof(ep)), moved ? " (new path)" : "");
	nd_peer_notify(nd, p);
}

/* Simultaneous handshakes (both sides rekeying or re-creating at once): the
 * node with the smaller static key keeps its own as initiator. */
static bool yield_to_peer(struct nd *nd, const struct nd_peer *p)
{
	bool handshaking = p->initiator && p->hs_sends > 0 &&
			   ntm_now_ms() - p->hs_started_ms < ND_HS_INTERVAL_MS * ND_HS_MAX_SENDS;

	return !handshaking || memcmp(nd->key.pub, p->key, NTM_KEY_LEN) > 0;
}

static bool answered_before(const struct nd_peer *p, const Ntm__TunnelRequest *req)
{
	return p->cur.valid && p->cur.remote_index == req->initiator_index &&
	       p->answered_direction_id == req->direction_id &&
	       sodium_memcmp(p->answered_eph, req->ephemeral_key.data, NTM_KEY_LEN) == 0;
}

/* A copy of a request for a direction answered before the latest one (a
 * late relayed copy, say) would replace a newer session: ignore it. Rekeys
 * and re-creations that carry no direction (0) are never stale. */
static bool stale_request(const struct nd_peer *p, const Ntm__TunnelRequest *req)
{
	if (req->direction_id == 0 || req->direction_id == p->answered_direction_id)
		return false;
	for (size_t i = 0; i < 4; i++) {
		if (p->older_directions[i] == req->direction_id)
			return true;
	}
	return false;
}

static void send_response(struct nd *nd, struct nd_peer *p, uint64_t request_id,
			  const Ntm__TunnelRequest *req, uint32_t responder_index,
			  uint8_t eph_pub[NTM_KEY_LEN], const struct ntm_endpoint *to)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__TunnelResponse resp = NTM__TUNNEL_RESPONSE__INIT;

	resp.direction_id = req->direction_id;
	resp.initiator_index = req->initiator_index;
	resp.responder_index = responder_index;
	resp.ephemeral_key.data = eph_pub;
	resp.ephemeral_key.len = NTM_KEY_LEN;
	env.request_id = request_id;
	env.body_case = NTM__ENVELOPE__BODY_TUNNEL_RESPONSE;
	env.tunnel_response = &resp;
	send_to_peer(nd, p, to, &env);
}

static void handle_request(struct nd *nd, struct nd_peer *p, uint64_t request_id,
			   const Ntm__TunnelRequest *req, const struct ntm_endpoint *from)
{
	struct ntm_keypair eph;
	struct ntm_session_keys keys;
	uint32_t index;

	if (stale_request(p, req)) {
		nd_drop(nd, from, ND_DROP_REPLAYED, "Tunnel Request of an older direction");
		return;
	}
	if (answered_before(p, req)) {
		send_response(nd, p, request_id, req, p->cur.local_index, p->answered_resp_eph, from);
		nd_relay_path_seen(nd, p, from);
		return;
	}
	if (!yield_to_peer(nd, p))
		return;
	ntm_keypair_generate(&eph);
	memcpy(p->answered_resp_eph, eph.pub, NTM_KEY_LEN);
	if (ntm_session_keys_derive(&keys, false, &eph, req->ephemeral_key.data, &p->ctl) < 0) {
		nd_drop(nd, from, ND_DROP_BAD_MESSAGE, "invalid ephemeral key");
		return;
	}
	randombytes_buf(&index, sizeof(index));
	p->initiator = false;
	p->hs_sends = 0;
	ntm_keypair_wipe(&p->eph);
	if (p->answered_direction_id != req->direction_id)
		p->older_directions[p->older_next++ % 4] = p->answered_direction_id;
	memcpy(p->answered_eph, req->ephemeral_key.data, NTM_KEY_LEN);
	p->answered_direction_id = req->direction_id;
	send_response(nd, p, request_id, req, index, p->answered_resp_eph, from);
	session_install(nd, p, &keys, index, req->initiator_index, from);
	ntm_session_keys_wipe(&keys);
}

static void handle_response(struct nd *nd, struct nd_peer *p, const Ntm__TunnelResponse *resp,
			    const struct ntm_endpoint *from)
{
	struct ntm_session_keys keys;

	/* Only the answer to our outstanding request: a late duplicate finds the
	 * ephemeral key wiped and is ignored. */
	if (!p->initiator || resp->initiator_index != p->pending_index ||
	    sodium_is_zero(p->eph.priv, sizeof(p->eph.priv)))
		return;
	if (ntm_session_keys_derive(&keys, true, &p->eph, resp->ephemeral_key.data, &p->ctl) < 0) {
		nd_drop(nd, from, ND_DROP_BAD_MESSAGE, "invalid ephemeral key");
		return;
	}
	p->hs_sends = 0;
	session_install(nd, p, &keys, p->pending_index, resp->responder_index, from);
	nd_relay_direct_confirmed(nd, p, from);
	ntm_session_keys_wipe(&keys);
}

static void handle_probe(struct nd *nd, struct nd_peer *p, uint64_t request_id,
			 const Ntm__PathProbe *probe, const struct ntm_endpoint *from)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__PathProbe reply = NTM__PATH_PROBE__INIT;

	if (probe->is_reply) {
		nd_relay_direct_confirmed(nd, p, from);
		return;
	}
	nd_relay_path_seen(nd, p, from);
	/* The peer's probe shows its NAT is open toward us now: send a pending
	 * Tunnel Request there at once instead of at its next retransmission. */
	if (p->initiator && p->hs_sends > 0 && !sodium_is_zero(p->eph.priv, sizeof(p->eph.priv)))
		send_request_to(nd, p, from);
	reply.direction_id = probe->direction_id;
	reply.nonce = probe->nonce;
	reply.is_reply = true;
	env.request_id = request_id;
	env.body_case = NTM__ENVELOPE__BODY_PATH_PROBE;
	env.path_probe = &reply;
	send_to_peer(nd, p, from, &env);
}

static void dispatch(struct nd *nd, struct nd_peer *p, const Ntm__Envelope *env,
		     const struct ntm_endpoint *from)
{
	switch (env->body_case) {
	case NTM__ENVELOPE__BODY_TUNNEL_REQUEST:
		handle_request(nd, p, env->request_id, env->tunnel_request, from);
		break;
	case NTM__ENVELOPE__BODY_TUNNEL_RESPONSE:
		handle_response(nd, p, env->tunnel_response, from);
		break;
	case NTM__ENVELOPE__BODY_PATH_PROBE:
		handle_probe(nd, p, env->request_id, env->path_probe, from);
		break;
	default:
		nd_drop(nd, from, ND_DROP_BAD_MESSAGE, "control message not expected from a peer");
	}
}

#define ND_EARLY_MS 1000

static void keep_early(struct nd *nd, const uint8_t *pkt, size_t len,
		       const struct ntm_endpoint *from)
{
	struct nd_early *e = &nd->early[nd->early_next++ % 4];

	if (len > sizeof(e->pkt))
		return;
	memcpy(e->pkt, pkt, len);
	e->len = len;
	e->from = *from;
	e->at_ms = ntm_now_ms();
}

void nd_peer_replay_early(struct nd *nd, const uint8_t key[NTM_KEY_LEN])
{
	uint64_t now = ntm_now_ms();
	const uint8_t *sender;

	for (size_t i = 0; i < 4; i++) {
		struct nd_early *e = &nd->early[i];

		if (e->len == 0 || now - e->at_ms > ND_EARLY_MS ||
		    ntm_ctl_sender(e->pkt, e->len, &sender) != NTM_CODEC_OK ||
		    memcmp(sender, key, NTM_KEY_LEN) != 0)
			continue;
		size_t len = e->len;

		e->len = 0;
		nd_peer_handle_control(nd, e->pkt, len, &e->from, key);
	}
}

void nd_peer_handle_control(struct nd *nd, const uint8_t *pkt, size_t len,
			    const struct ntm_endpoint *from, const uint8_t *sender)
{
	uint8_t pt[NTM_CTL_MAX_PACKET];
	size_t pt_len = 0;
	uint64_t counter;
	char why[160];
	enum ntm_msg_status mst;
	struct nd_peer *p = nd_peer_by_key(nd, sender);

	/* Only peers the DC told us about. A packet from an unknown key is kept
	 * for a second in a fixed four-slot ring, nothing more: its Route
	 * Direction may be on its way. */
	if (!p) {
		keep_early(nd, pkt, len, from);
		nd_drop(nd, from, ND_DROP_UNKNOWN_SENDER, "control packet from an unknown key");
		return;
	}

	enum ntm_codec_status st = ntm_ctl_open(pkt, len, &p->ctl, &p->ctl_window, pt, sizeof(pt),
						&pt_len, &counter);
	if (st != NTM_CODEC_OK) {
		nd_drop(nd, from, st == NTM_CODEC_REPLAYED ? ND_DROP_REPLAYED : ND_DROP_AUTH_FAILED,
			ntm_codec_status_str(st));
		return;
	}

	Ntm__Envelope *env = ntm_msg_unpack(pt, pt_len, &mst, why, sizeof(why));

	sodium_memzero(pt, sizeof(pt));
	if (!env) {
		nd_drop(nd, from, ND_DROP_BAD_MESSAGE, why);
		return;
	}
	dispatch(nd, p, env, from);
	ntm_msg_free(env);
}

void nd_hs_session_tick(struct nd *nd, struct nd_peer *p, uint64_t now)
{
	if (p->prev.valid && now >= p->prev_expires_ms) {
		ntm_session_keys_wipe(&p->prev.keys);
		p->prev.valid = false;
	}
	if (p->state != ND_PEER_UP || !p->cur.valid)
		return;

	/* The side that did not initiate waits 30 s longer, so one side rekeys. */
	uint64_t rekey_ms = nd->cfg.rekey_after_s * 1000 + (p->initiator ? 0 : 30000);
	bool handshaking = p->initiator && p->hs_sends > 0;

	if (!handshaking && (now - p->cur.created_ms >= rekey_ms || p->cur.bytes >= ND_REKEY_BYTES))
		nd_hs_rehandshake(nd, p);
	else if (handshaking && now >= p->hs_next_ms && p->hs_sends < ND_HS_MAX_SENDS)
		send_request(nd, p);
	if (now - p->last_send_ms >= nd->cfg.tunnel_keepalive_s * 1000)
		nd_data_send(nd, p, NULL, 0);
}
