/*
 * Relay sessions of peers behind another NAT (docs/protocol.md, "Relay"):
 * the node binds its side of the session with its own credential, sends
 * through the relay while no direct path works, moves to the punched direct
 * path when one does, and falls back to the relay when the direct path
 * stops answering probes.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "nd.h"
#include "nd_handshake.h"
#include "ntm_relay.h"
#include "ntm_time.h"

/* Binds are repeated after 250 ms, 500 ms, 1 s and 2 s until a packet comes
 * through the relay, then every 25 s while the session is kept. */
#define ND_BIND_FIRST_MS 250
#define ND_BIND_KEEP_MS 25000
/* With a relay to fall back on, the direct path is probed every second and
 * given up after 3 s without an answer. */
#define ND_PROBE_MS 1000
#define ND_DIRECT_DEAD_MS 3000

bool nd_relay_is(const struct nd_peer *p, const struct ntm_endpoint *ep)
{
	return p->has_relay && ntm_endpoint_equal(&p->relay_ep, ep);
}

static void send_bind(struct nd *nd, struct nd_peer *p)
{
	uint8_t pkt[NTM_RELAY_BIND_LEN];
	uint64_t ts = ntm_wall_ms();

	/* Strictly increasing per session, also when the clock steps back. */
	p->relay_bind_ts = ts > p->relay_bind_ts ? ts : p->relay_bind_ts + 1;
	if (ntm_relay_bind_build(pkt, sizeof(pkt), p->relay_session_id, p->relay_bind_ts,
				 nd->key.pub, p->relay_credential) < 0)
		return;
	nd_udp_send(nd, &p->relay_ep, pkt, sizeof(pkt));
	p->relay_binds++;
	if (p->relay_heard)
		p->relay_next_bind_ms = ntm_now_ms() + ND_BIND_KEEP_MS;
	else
		p->relay_next_bind_ms = ntm_now_ms() +
					((uint64_t)ND_BIND_FIRST_MS << (p->relay_binds < 5 ? p->relay_binds - 1 : 4));
}

void nd_relay_set(struct nd *nd, struct nd_peer *p, const Ntm__RelayDirection *relay)
{
	char ep[NTM_ENDPOINT_STRLEN];

	if (!relay || ntm_msg_endpoint_get(&p->relay_ep, relay->relay) < 0 ||
	    relay->credential.len != NTM_RELAY_CREDENTIAL_LEN)
		return;
	p->has_relay = true;
	p->relay_session_id = relay->session_id;
	memcpy(p->relay_credential, relay->credential.data, NTM_RELAY_CREDENTIAL_LEN);
	p->relay_binds = 0;
	p->relay_heard = false;
	log_info("peer %s: relay session %016llx at %s", p->fqdn,
		 (unsigned long long)p->relay_session_id,
		 ntm_endpoint_str(&p->relay_ep, ep, sizeof(ep)));
	send_bind(nd, p);
}

void nd_relay_rebind(struct nd *nd, struct nd_peer *p)
{
	if (p->has_relay) {
		p->relay_binds = 0;
		p->relay_heard = false;
		send_bind(nd, p);
	}
}

int nd_peer_send(struct nd *nd, struct nd_peer *p, const struct ntm_endpoint *ep, uint8_t *pkt,
		 size_t len, size_t headroom)
{
	if (!nd_relay_is(p, ep))
		return nd_udp_send(nd, ep, pkt, len);
	if (headroom < NTM_RELAY_DATA_HEADER_LEN)
		return -ENOSPC;
	ntm_relay_data_header(pkt - NTM_RELAY_DATA_HEADER_LEN, p->relay_session_id);
	return nd_udp_send(nd, ep, pkt - NTM_RELAY_DATA_HEADER_LEN,
			   len + NTM_RELAY_DATA_HEADER_LEN);
}

uint8_t *nd_relay_unwrap(uint8_t *pkt, size_t len, size_t *inner_len)
{
	if (len <= NTM_RELAY_DATA_HEADER_LEN)
		return NULL;
	*inner_len = len - NTM_RELAY_DATA_HEADER_LEN;
	return pkt + NTM_RELAY_DATA_HEADER_LEN;
}

static void use_path(struct nd_peer *p, const struct ntm_endpoint *ep, const char *why)
{
	char text[NTM_ENDPOINT_STRLEN];

	if (ntm_endpoint_equal(&p->endpoint, ep))
		return;
	p->endpoint = *ep;
	p->handovers++;
	log_info("peer %s: path now %s (%s)", p->fqdn, ntm_endpoint_str(ep, text, sizeof(text)),
		 why);
}

void nd_relay_path_seen(struct nd *nd, struct nd_peer *p, const struct ntm_endpoint *ep)
{
	uint64_t now = ntm_now_ms();

	if (nd_relay_is(p, ep)) {
		p->relay_heard = true;
		/* Through the relay only while no direct path works. */
		if (p->direct_ep.ip.len == 0 || p->direct_failed)
			use_path(p, ep, "relayed");
		return;
	}
	/* A packet from the peer proves only the inbound direction; after the
	 * direct path failed, only a probe reply brings it back. */
	p->direct_ep = *ep;
	if (p->direct_failed)
		return;
	/* A first direct packet starts the probe clock; only probe replies and
	 * Tunnel Responses keep it running. */
	if (p->last_direct_ok_ms == 0)
		p->last_direct_ok_ms = now;
	use_path(p, ep, p->has_relay ? "punched" : "direct");
}

void nd_relay_direct_confirmed(struct nd *nd, struct nd_peer *p, const struct ntm_endpoint *ep)
{
	if (nd_relay_is(p, ep))
		return;
	p->direct_ep = *ep;
	p->direct_failed = false;
	p->last_direct_ok_ms = ntm_now_ms();
	use_path(p, ep, p->has_relay ? "punched" : "direct");
}

void nd_relay_tick(struct nd *nd, struct nd_peer *p, uint64_t now)
{
	if (!p->has_relay)
		return;
	if (now >= p->relay_next_bind_ms)
		send_bind(nd, p);
	if (p->state != ND_PEER_UP || now < p->next_probe_ms)
		return;
	p->next_probe_ms = now + ND_PROBE_MS;

	/* Probe the direct path: the punched one, or the punch target. */
	const struct ntm_endpoint *direct = p->direct_ep.ip.len ? &p->direct_ep : &p->punch_ep;

	if (direct->ip.len != 0)
		nd_hs_probe(nd, p, direct);
	if (!nd_relay_is(p, &p->endpoint) && now - p->last_direct_ok_ms > ND_DIRECT_DEAD_MS) {
		p->direct_failed = true;
		use_path(p, &p->relay_ep, "direct probes unanswered, back to the relay");
	}
}
