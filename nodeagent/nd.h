/*
 * State of one node agent process (ntm-noded), shared by the nd_*.c modules.
 * Everything is touched only from the daemon's event loop.
 */
#ifndef ND_H
#define ND_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.pb-c.h"
#include "ntm_addr.h"
#include "ntm_admin.h"
#include "ntm_codec.h"
#include "ntm_handshake.h"
#include "ntm_key.h"
#include "ntm_log.h"
#include "ntm_loop.h"
#include "ntm_msg.h"
#include "ntm_ratelimit.h"
#include "ntm_replay.h"

#define ND_DEFAULT_PORT 47830
#define ND_ADMIN_DEFAULT_PORT 47881
#define ND_MAX_PEERS 256
#define ND_MAX_PREFIXES 33
#define ND_MAX_LOCAL_ADDRS 16
/* Inner MTU of the TUN device: 1500 minus IPv4 (20), UDP (8), the data
 * header (16), the AEAD tag (16) and a relay header (12), rounded down to a
 * multiple of 4. IPv6 outer paths need 20 bytes more than IPv4: the default
 * leaves that room too (1500 - 40 - 8 - 16 - 16 = 1420). */
#define ND_DEFAULT_MTU 1420
/* Packets held per peer while its tunnel is being built. */
#define ND_QUEUE_MAX 64
/* Bytes kept free in front of every packet built, for a relay header. */
#define ND_RELAY_HEADROOM 12

struct nd_config {
	char *fqdn;
	char *private_key_file;
	struct ntm_endpoint listen;
	struct ntm_endpoint dc;
	char *dc_public_key;
	char *tun_name;
	uint64_t mtu;
	int log_level;
	char *dns_listen;         /* "" = no DNS server */
	uint64_t dns_ttl_s;
	struct ntm_endpoint admin_listen;
	char *admin_token_file;
	char *admin_cert_file;    /* "" for plain HTTP */
	char *admin_key_file;
	uint64_t rekey_after_s;
	uint64_t tunnel_keepalive_s;
	char *ipc;                /* ipc:// endpoint for local daemons; "" = off */
};

enum nd_peer_state {
	ND_PEER_QUERYING,     /* NTM query sent, no record yet */
	ND_PEER_DIRECTING,    /* Direction Request sent, no Route Direction yet */
	ND_PEER_HANDSHAKE,    /* Tunnel Request sent, or awaited as responder */
	ND_PEER_UP,
	ND_PEER_FAILED,
};

/* One tunnel session (a handshake's result). */
struct nd_session {
	bool valid;
	uint32_t local_index;
	uint32_t remote_index;
	struct ntm_session_keys keys;
	uint64_t send_counter;
	struct ntm_replay recv_window;
	uint64_t created_ms;       /* monotonic */
	uint64_t bytes;            /* sent and received under these keys */
};

struct nd_queued {
	size_t len;
	uint8_t data[];
};

struct nd_peer {
	uint8_t key[NTM_KEY_LEN];
	char fqdn[NTM_FQDN_MAX + 1];
	struct ntm_ip vip;
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	size_t n_pool;
	struct ntm_ctl_keys ctl;
	struct ntm_replay ctl_window;
	bool have_key;

	enum nd_peer_state state;
	Ntm__RouteCase route;
	bool initiator;
	uint64_t direction_id;
	uint64_t seen_directions[4];       /* acted on already: retransmissions are ignored */
	unsigned seen_next;
	struct ntm_endpoint try_eps[NTM_MAX_LOCAL_ENDPOINTS];
	size_t n_try;
	struct ntm_endpoint punch_ep;
	struct ntm_keypair eph;            /* initiator's ephemeral key while handshaking */
	uint32_t pending_index;
	unsigned hs_sends;
	uint64_t hs_next_ms;
	uint64_t hs_started_ms;
	bool exclude_private;

	struct ntm_endpoint endpoint;      /* where data goes now: direct or the relay */

	/* Relay session from the Route Direction (docs/protocol.md, "Relay"). */
	bool has_relay;
	struct ntm_endpoint relay_ep;
	uint64_t relay_session_id;
	uint8_t relay_credential[32];
	uint64_t relay_bind_ts;
	unsigned relay_binds;
	uint64_t relay_next_bind_ms;
	bool relay_heard;                  /* a packet arrived through the relay */
	/* The punched direct path while a relay exists. */
	struct ntm_endpoint direct_ep;
	uint64_t last_direct_ok_ms;        /* last probe reply over the direct path */
	bool direct_failed;                /* probes went unanswered: use the relay */
	uint64_t next_probe_ms;
	struct nd_session cur, prev;
	/* The last Tunnel Request answered, so a copy of it (a retransmission,
	 * or the same request over the relay and the punched path) gets the same
	 * Tunnel Response instead of a second session. */
	uint8_t answered_eph[NTM_KEY_LEN];
	uint8_t answered_resp_eph[NTM_KEY_LEN];
	uint64_t answered_direction_id;
	uint64_t older_directions[4];      /* answered before the last: stale copies are ignored */
	unsigned older_next;
	uint64_t prev_expires_ms;
	uint64_t last_send_ms, last_recv_ms;
	uint64_t revive_next_ms;           /* earliest new direction for a silent tunnel */
	/* The local ntm-ssdpd asked for a tunnel to this peer: it is the node's
	 * DLNA Agent, the only peer whose GENA callback routes are accepted. */
	bool dlna_agent;
	bool agent_reported_up;            /* last state reported to ntm-ssdpd unasked */

	struct nd_queued *queue[ND_QUEUE_MAX];
	size_t n_queue;

	uint64_t tx_bytes, rx_bytes, tx_packets, rx_packets;
	uint64_t last_handshake_wall_ms;
	uint64_t setup_us;                 /* first trigger to tunnel up */
	uint64_t trigger_us;
	uint64_t handovers;
	uint64_t dropped;
};

enum nd_reg_state {
	ND_REG_NONE,
	ND_REG_PENDING,
	ND_REG_DONE,
};

/* Reasons a received packet is dropped; each has a counter. */
enum nd_drop {
	ND_DROP_MALFORMED,
	ND_DROP_UNKNOWN_SENDER,
	ND_DROP_AUTH_FAILED,
	ND_DROP_REPLAYED,
	ND_DROP_BAD_MESSAGE,
	ND_DROP_UNKNOWN_INDEX,
	ND_DROP_SPOOFED_SOURCE,
	ND_DROP_NO_ROUTE,
	ND_DROP_QUEUE_FULL,
	ND_DROP_COUNT,
};

struct nd_request;
struct nd_dns_server;
struct nd_netlink;
struct nd_ipc;
struct nd_gena;
struct ntm_admin;

struct nd {
	struct nd_config cfg;
	const char *config_path;
	struct ntm_keypair key;
	uint8_t dc_key[NTM_KEY_LEN];
	struct ntm_ctl_keys dc_ctl;
	struct ntm_replay dc_window;
	struct ntm_loop *loop;
	struct ntm_admin *admin;
	struct nd_dns_server *dns;
	struct nd_netlink *netlink;
	struct nd_ipc *ipc;
	struct nd_gena *gena;
	int udp_fd;
	int tun_fd;
	char tun_name[IFNAMSIZ];
	uint64_t ctl_counter;

	/* registration */
	enum nd_reg_state reg;
	uint64_t reg_request_id;
	unsigned reg_sends;
	uint64_t reg_next_ms;
	uint64_t keepalive_interval_ms;
	uint64_t last_keepalive_ms, last_dc_reply_ms;
	struct ntm_ip vip;
	struct ntm_prefix prefixes[ND_MAX_PREFIXES];
	size_t n_prefixes;
	struct ntm_endpoint observed;
	bool behind_nat;
	struct ntm_ip local_addrs[ND_MAX_LOCAL_ADDRS];
	size_t n_local_addrs;
	uint64_t registrations;

	struct nd_request *requests;            /* to the DC, awaiting an answer */

	struct nd_peer *peers[ND_MAX_PEERS];
	size_t n_peers;

	/* mobility */
	bool addrs_dirty;
	bool reregister_for_move;               /* the pending registration follows a move */
	bool move_pending;                      /* a move whose tunnels are not re-created yet */
	uint64_t unroutable_sends;              /* sends that failed for lack of a route */
	uint64_t unroutable_at_move;
	uint64_t move_us;                       /* monotonic us of the last netlink event */
	uint64_t last_recreate_us;              /* move to first packet on the new path */
	uint64_t moves;

	uint64_t drops[ND_DROP_COUNT];
	struct ntm_ratelimit drop_log;

	/* For the admin API's metrics: tunnels that came up (first trigger to up),
	 * set-ups that failed, and the path changes of peers since removed. */
	struct ntm_histogram setup_seconds;
	uint64_t setup_failures;
	uint64_t removed_handovers;

	/* Control packets from keys not known yet, kept briefly: a Tunnel
	 * Request can overtake the Route Direction that introduces its sender. */
	struct nd_early {
		uint8_t pkt[NTM_CTL_MAX_PACKET];
		size_t len;
		struct ntm_endpoint from;
		uint64_t at_ms;
	} early[4];
	unsigned early_next;
};

/* nd_dc.c: the DC session */
int nd_dc_start(struct nd *nd, char *err, size_t err_size);
void nd_dc_register(struct nd *nd);
void nd_dc_tick(struct nd *nd);
void nd_dc_handle(struct nd *nd, const uint8_t *pkt, size_t len, const struct ntm_endpoint *from);
/* Answer to a request: env is the response (a body or an Error), or NULL
 * when the DC did not answer after all retransmissions. */
typedef void (*nd_reply_cb)(struct nd *nd, const Ntm__Envelope *env, void *arg);
/* Sends env (body set; request_id and version are filled in) to the DC and
 * retransmits until answered. Returns 0 or -errno. */
int nd_dc_request(struct nd *nd, Ntm__Envelope *env, nd_reply_cb cb, void *arg);
void nd_dc_cancel_requests(struct nd *nd, void *arg);
void nd_dc_free(struct nd *nd);

/* nd_peer.c: peers, handshakes and sessions */
struct nd_peer *nd_peer_by_key(struct nd *nd, const uint8_t key[NTM_KEY_LEN]);
struct nd_peer *nd_peer_by_vip(struct nd *nd, const struct ntm_ip *ip);
struct nd_peer *nd_peer_by_fqdn(struct nd *nd, const char *fqdn);
struct nd_peer *nd_peer_by_index(struct nd *nd, uint32_t index, struct nd_session **session);
/* Starts building a tunnel to the node with this FQDN or VIP (one of them
 * set). Returns the peer (new or existing) or NULL. */
struct nd_peer *nd_peer_connect(struct nd *nd, const char *fqdn, const struct ntm_ip *vip);
void nd_peer_route_direction(struct nd *nd, uint64_t request_id, const Ntm__RouteDirection *rd);
void nd_peer_handle_control(struct nd *nd, const uint8_t *pkt, size_t len,
			    const struct ntm_endpoint *from, const uint8_t *sender);
/* Processes the kept early packets of a peer that just became known. */
void nd_peer_replay_early(struct nd *nd, const uint8_t key[NTM_KEY_LEN]);
void nd_peer_tick(struct nd *nd);
/* Re-creates every tunnel after this node moved. */
void nd_peer_recreate_all(struct nd *nd);
/* Removes the tunnel to the node with this key, which the DC revoked. */
void nd_peer_revoked(struct nd *nd, const uint8_t key[NTM_KEY_LEN]);
void nd_peer_free_all(struct nd *nd);
const char *nd_peer_state_str(enum nd_peer_state st);
/* Called when a peer's tunnel comes up or fails (DNS answers wait on it). */
void nd_peer_notify(struct nd *nd, struct nd_peer *peer);

/* nd_relay.c: relay sessions of peers */
void nd_relay_set(struct nd *nd, struct nd_peer *peer, const Ntm__RelayDirection *relay);
/* Sends pkt to ep for peer, through the peer's relay session when ep is the relay. */
int nd_peer_send(struct nd *nd, struct nd_peer *peer, const struct ntm_endpoint *ep,
		 uint8_t *pkt, size_t len, size_t headroom);
void nd_relay_tick(struct nd *nd, struct nd_peer *peer, uint64_t now_ms);
/* Binds again at once, from the node's new address. */
void nd_relay_rebind(struct nd *nd, struct nd_peer *peer);
/* Decides the path after an authenticated packet from peer arrived from ep. */
void nd_relay_path_seen(struct nd *nd, struct nd_peer *peer, const struct ntm_endpoint *ep);
/* A probe reply or Tunnel Response from ep: the direct path works both ways. */
void nd_relay_direct_confirmed(struct nd *nd, struct nd_peer *peer,
			       const struct ntm_endpoint *ep);
bool nd_relay_is(const struct nd_peer *peer, const struct ntm_endpoint *ep);
/* Strips the relay header of a relay data packet; returns the inner packet or NULL. */
uint8_t *nd_relay_unwrap(uint8_t *pkt, size_t len, size_t *inner_len);

/* nd_data.c: the data plane */
int nd_data_start(struct nd *nd, char *err, size_t err_size);
/* Seals an inner packet for the peer's current session and sends it. */
int nd_data_send(struct nd *nd, struct nd_peer *peer, const uint8_t *inner, size_t len);
void nd_data_handle(struct nd *nd, uint8_t *pkt, size_t len, const struct ntm_endpoint *from);
void nd_data_flush_queue(struct nd *nd, struct nd_peer *peer);
/* Sends a packed control packet to ep from the node's one UDP socket. */
int nd_udp_send(struct nd *nd, const struct ntm_endpoint *ep, const uint8_t *pkt, size_t len);
void nd_drop(struct nd *nd, const struct ntm_endpoint *from, enum nd_drop reason, const char *why);
const char *nd_drop_str(enum nd_drop reason);

/* nd_mobility.c */
int nd_mobility_start(struct nd *nd, char *err, size_t err_size);
void nd_mobility_stop(struct nd *nd);
/* Reads the host's addresses into nd->local_addrs; returns true when they changed. */
bool nd_mobility_refresh(struct nd *nd);

/* nd_resolve.c: DNS names of peers */
int nd_resolve_start(struct nd *nd, char *err, size_t err_size);
void nd_resolve_stop(struct nd *nd);
void nd_resolve_peer_changed(struct nd *nd, struct nd_peer *peer);
/* Moves the DNS queries waiting on old (about to be freed) to peer. */
void nd_resolve_peer_replaced(struct nd *nd, struct nd_peer *old, struct nd_peer *peer);

/* nd_ipc.c: local daemons (ntm-ssdpd, ntm-dad) over ZeroMQ ipc:// */
int nd_ipc_start(struct nd *nd, char *err, size_t err_size);
void nd_ipc_stop(struct nd *nd);
void nd_ipc_peer_changed(struct nd *nd, struct nd_peer *peer);
void nd_ipc_peer_replaced(struct nd *nd, struct nd_peer *old, struct nd_peer *peer);
/* Hands a tunnel control message (an Envelope) from peer to a local daemon. */
void nd_ipc_tunnel_control(struct nd *nd, struct nd_peer *peer, const uint8_t *buf, size_t len);

/* nd_gena.c: GENA callback routes the DLNA Agent's node requests */
/* Forwards TCP from m's server VIP to m's callback port, arriving on the
 * TUN device, to m's callback address, when that is an address of this
 * host and the VIP is peer's. */
void nd_gena_route(struct nd *nd, struct nd_peer *peer, const Ntm__GenaCallbackRoute *m);
struct nd_gena_stats {
	uint64_t routes;      /* in place now */
	uint64_t installed;   /* new routes and extended ones */
	uint64_t rejected;    /* not the peer's VIP, or not an address of this host */
	uint64_t failed;      /* nftables failed, or the table was full */
};
void nd_gena_get_stats(const struct nd *nd, struct nd_gena_stats *out);
/* Removes a table of routes that a killed daemon left. */
void nd_gena_start(struct nd *nd);
/* Removes the routes whose callback address is no longer one of the host's. */
void nd_gena_addresses_changed(struct nd *nd);
/* Deletes the nftables table of the routes. */
void nd_gena_stop(struct nd *nd);

/* nd_admin.c */
int nd_admin_start(struct nd *nd, char *err, size_t err_size);

#endif
