/*
 * Decisions of the Relay Server on each received datagram (docs/protocol.md,
 * section 12): accept a relay bind, forward relay data, or drop it with a
 * reason. These functions validate and change state but do no I/O, so the
 * unit tests and the fuzz target run the same code as the socket loop.
 */
#ifndef RS_BIND_H
#define RS_BIND_H

#include <stddef.h>
#include <stdint.h>

#include "ntm_addr.h"
#include "ntm_codec.h"
#include "rs_session.h"

/* Reasons a datagram is dropped, each with a counter. */
enum rs_drop {
	RS_DROP_MALFORMED,          /* bad length, version or type, outer or inner */
	RS_DROP_UNKNOWN_SESSION,    /* no session has that id */
	RS_DROP_EXPIRED,            /* the session ended (idle or released) */
	RS_DROP_UNBOUND_SOURCE,     /* relay data from an address bound to neither side */
	RS_DROP_PEER_UNBOUND,       /* the other side has not bound yet */
	RS_DROP_RATE_LIMITED,       /* the session's packets-per-second limit */
	RS_DROP_BIND_UNKNOWN_KEY,   /* the bind's key is neither node of the session */
	RS_DROP_BIND_BAD_MAC,       /* the MAC does not verify with that node's credential */
	RS_DROP_BIND_REPLAYED,      /* timestamp not above the last accepted bind's */
	RS_DROP_BIND_LOOP,          /* source is the relay itself or the other side's address */
	RS_DROP_COUNT,
};

/* Short name of a drop reason for logs and the admin API. */
const char *rs_drop_str(enum rs_drop reason);

enum rs_action {
	RS_ACTION_DROP,
	RS_ACTION_BOUND,     /* a bind was accepted, and the RS sends nothing back */
	RS_ACTION_FORWARD,   /* send the datagram unchanged to the other side */
};

struct rs_verdict {
	enum rs_action action;
	enum rs_drop drop;              /* for RS_ACTION_DROP */
	enum ntm_codec_status codec;    /* why a datagram was malformed */
	uint64_t session_id;            /* from the datagram, 0 when it did not parse */
	struct rs_session *session;     /* set unless the session was not found */
	enum rs_side from;              /* the sender's side, once known */
	bool moved;                     /* the bind moved a side to a new address */
};

/* Addresses a side must never be bound to: the relay's own sockets, so two
 * sessions cannot forward to each other through the relay in a loop. */
struct rs_self {
	const struct ntm_endpoint *addrs;
	size_t n_addrs;
};

/*
 * Handles a relay bind. The RS accepts it when the session exists and is
 * live, the key is node a's or node b's, the MAC verifies with that node's
 * credential, and the timestamp is above that side's last accepted one. The
 * side is then bound to src.
 */
void rs_bind_handle(struct rs_table *t, const struct rs_self *self, const uint8_t *pkt,
		    size_t len, const struct ntm_endpoint *src, uint64_t now_ms,
		    struct rs_verdict *v);

/*
 * Handles relay data: forward only when the session is live, src is bound
 * to one side, the other side is bound and the session's packet rate allows
 * it. The caller sends to v->session->side[!v->from].bound_sa.
 */
void rs_data_handle(struct rs_table *t, const uint8_t *pkt, size_t len,
		    const struct ntm_endpoint *src, uint64_t now_ms, struct rs_verdict *v);

/* Dispatches a datagram to the two handlers above. Every other type is
 * malformed. */
void rs_datagram_handle(struct rs_table *t, const struct rs_self *self, const uint8_t *pkt,
			size_t len, const struct ntm_endpoint *src, uint64_t now_ms,
			struct rs_verdict *v);

#endif
