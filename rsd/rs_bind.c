/*
 * Per-datagram decisions of the relay socket: the four acceptance rules for
 * a relay bind and the forwarding rules for relay data (docs/protocol.md,
 * section 12). Parse first, then look up, then act.
 */
#include <string.h>

#include "ntm_relay.h"
#include "rs_bind.h"

static const char *const drop_names[RS_DROP_COUNT] = {
	[RS_DROP_MALFORMED] = "malformed",
	[RS_DROP_UNKNOWN_SESSION] = "unknown_session",
	[RS_DROP_EXPIRED] = "expired",
	[RS_DROP_UNBOUND_SOURCE] = "unbound_source",
	[RS_DROP_PEER_UNBOUND] = "peer_unbound",
	[RS_DROP_RATE_LIMITED] = "rate_limited",
	[RS_DROP_BIND_UNKNOWN_KEY] = "bind_unknown_key",
	[RS_DROP_BIND_BAD_MAC] = "bind_bad_mac",
	[RS_DROP_BIND_REPLAYED] = "bind_replayed",
	[RS_DROP_BIND_LOOP] = "bind_loop",
};

const char *rs_drop_str(enum rs_drop reason)
{
	return (unsigned)reason < RS_DROP_COUNT ? drop_names[reason] : "unknown";
}

static void drop(struct rs_verdict *v, enum rs_drop reason)
{
	v->action = RS_ACTION_DROP;
	v->drop = reason;
}

static enum rs_side other_side(enum rs_side side)
{
	return side == RS_SIDE_A ? RS_SIDE_B : RS_SIDE_A;
}

/* Finds the session of a datagram, and drops the datagram unless the session
 * is live. */
static struct rs_session *live_session(struct rs_table *t, uint64_t id, uint64_t now_ms,
				       struct rs_verdict *v)
{
	struct rs_session *s = rs_table_find(t, id);

	v->session = s;
	if (!s) {
		drop(v, RS_DROP_UNKNOWN_SESSION);
		return NULL;
	}
	if (!rs_session_live(s, now_ms)) {
		drop(v, RS_DROP_EXPIRED);
		return NULL;
	}
	return s;
}

static bool is_self(const struct rs_self *self, const struct ntm_endpoint *src)
{
	for (size_t i = 0; self && i < self->n_addrs; i++) {
		if (ntm_endpoint_equal(&self->addrs[i], src))
			return true;
	}
	return false;
}

void rs_bind_handle(struct rs_table *t, const struct rs_self *self, const uint8_t *pkt,
		    size_t len, const struct ntm_endpoint *src, uint64_t now_ms,
		    struct rs_verdict *v)
{
	struct ntm_relay_bind bind;
	struct rs_session *s;
	enum rs_side side;

	memset(v, 0, sizeof(*v));
	v->codec = ntm_relay_bind_parse(pkt, len, &bind);
	if (v->codec != NTM_CODEC_OK) {
		drop(v, RS_DROP_MALFORMED);
		return;
	}
	v->session_id = bind.session_id;
	s = live_session(t, bind.session_id, now_ms, v);
	if (!s)
		return;

	/* Node keys are public, so an ordinary comparison picks the side. */
	if (memcmp(bind.node_key, s->side[RS_SIDE_A].key, NTM_KEY_LEN) == 0) {
		side = RS_SIDE_A;
	} else if (memcmp(bind.node_key, s->side[RS_SIDE_B].key, NTM_KEY_LEN) == 0) {
		side = RS_SIDE_B;
	} else {
		drop(v, RS_DROP_BIND_UNKNOWN_KEY);
		return;
	}
	v->from = side;

	v->codec = ntm_relay_bind_verify(pkt, len, s->side[side].credential);
	if (v->codec != NTM_CODEC_OK) {
		drop(v, RS_DROP_BIND_BAD_MAC);
		return;
	}
	if (bind.timestamp_ms <= s->side[side].last_timestamp_ms) {
		drop(v, RS_DROP_BIND_REPLAYED);
		return;
	}
	/* Both sides on one address, or a side on the relay's own socket, would
	 * make the relay send to itself or reflect a node's packets back. */
	if (is_self(self, src) || ntm_endpoint_equal(&s->side[other_side(side)].bound, src)) {
		drop(v, RS_DROP_BIND_LOOP);
		return;
	}
	v->moved = rs_session_bind(s, side, src, bind.timestamp_ms, now_ms);
	v->action = RS_ACTION_BOUND;
}

void rs_data_handle(struct rs_table *t, const uint8_t *pkt, size_t len,
		    const struct ntm_endpoint *src, uint64_t now_ms, struct rs_verdict *v)
{
	uint64_t id;
	struct rs_session *s;
	enum rs_side from;

	memset(v, 0, sizeof(*v));
	v->codec = ntm_relay_data_parse(pkt, len, &id);
	if (v->codec != NTM_CODEC_OK) {
		drop(v, RS_DROP_MALFORMED);
		return;
	}
	v->session_id = id;
	s = live_session(t, id, now_ms, v);
	if (!s)
		return;

	if (ntm_endpoint_equal(&s->side[RS_SIDE_A].bound, src)) {
		from = RS_SIDE_A;
	} else if (ntm_endpoint_equal(&s->side[RS_SIDE_B].bound, src)) {
		from = RS_SIDE_B;
	} else {
		drop(v, RS_DROP_UNBOUND_SOURCE);
		return;
	}
	v->from = from;
	if (s->side[other_side(from)].bound.ip.len == 0) {
		drop(v, RS_DROP_PEER_UNBOUND);
		return;
	}
	if (s->pps.per_second != 0 && !ntm_ratelimit_allow(&s->pps, now_ms)) {
		drop(v, RS_DROP_RATE_LIMITED);
		return;
	}
	s->side[from].packets++;
	s->side[from].bytes += len;
	s->last_active_ms = now_ms;
	v->action = RS_ACTION_FORWARD;
}

void rs_datagram_handle(struct rs_table *t, const struct rs_self *self, const uint8_t *pkt,
			size_t len, const struct ntm_endpoint *src, uint64_t now_ms,
			struct rs_verdict *v)
{
	enum ntm_pkt_type type;
	enum ntm_codec_status st = ntm_pkt_peek(pkt, len, &type);

	if (st == NTM_CODEC_OK && type == NTM_PKT_RELAY_BIND) {
		rs_bind_handle(t, self, pkt, len, src, now_ms, v);
		return;
	}
	if (st == NTM_CODEC_OK && type == NTM_PKT_RELAY_DATA) {
		rs_data_handle(t, pkt, len, src, now_ms, v);
		return;
	}
	memset(v, 0, sizeof(*v));
	v->codec = st != NTM_CODEC_OK ? st : NTM_CODEC_BAD_TYPE;
	drop(v, RS_DROP_MALFORMED);
}
