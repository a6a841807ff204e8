/*
 * A synchronous, scripted NTM node for tests: one key pair, one UDP socket
 * on a loopback address, and the DC's endpoint and public key. It seals
 * whatever Envelope a test hands it, and returns the DC's responses one at
 * a time, so a test can check every field the DC sends.
 *
 * Not a node agent: it never retransmits, never keeps alive on its own and
 * never builds tunnels.
 */
#ifndef NTM_TESTNODE_H
#define NTM_TESTNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ntm_addr.h"
#include "ntm_codec.h"
#include "ntm_key.h"
#include "ntm_msg.h"
#include "ntm_replay.h"

/* Envelopes received while a call waited for another one, kept for later. */
#define NTM_TESTNODE_BACKLOG 32

struct ntm_testnode {
	struct ntm_keypair kp;
	int fd;
	struct ntm_endpoint local;      /* the socket's bound address */
	struct ntm_endpoint dc;
	uint8_t dc_pub[NTM_KEY_LEN];
	struct ntm_ctl_keys keys;
	struct ntm_replay rx_window;    /* counters of the DC's packets */
	uint64_t counter;               /* counter of the next packet sent */
	uint64_t next_request_id;

	/* The last control packet sent, for replay tests. */
	uint8_t last_packet[NTM_CTL_MAX_PACKET];
	size_t last_packet_len;

	/* Datagrams received but dropped: not from the DC's key, failed to
	 * authenticate, replayed or not a valid Envelope. */
	unsigned dropped;

	Ntm__Envelope *backlog[NTM_TESTNODE_BACKLOG];
	size_t n_backlog;
};

/*
 * Opens a node on bind_ip:port (port 0 picks an ephemeral port) that talks to
 * the DC at dc with public key dc_pub. kp is the node's key pair, or NULL to
 * generate one. Returns 0 or -errno.
 */
int ntm_testnode_open(struct ntm_testnode *node, const char *bind_ip, uint16_t port,
		      const struct ntm_endpoint *dc, const uint8_t dc_pub[NTM_KEY_LEN],
		      const struct ntm_keypair *kp);
/* Closes the socket, frees the backlog and wipes the keys. Safe to call on a
 * node whose open failed, or twice. */
void ntm_testnode_close(struct ntm_testnode *node);

/* Seals env with the next counter into out. Returns the packet length or
 * -ENOSPC. */
ssize_t ntm_testnode_seal(struct ntm_testnode *node, const Ntm__Envelope *env, uint8_t *out,
			  size_t out_size);
/* Seals env as it is (protocol_version and request_id included) and sends it
 * to the DC. Returns 0 or -errno. */
int ntm_testnode_send(struct ntm_testnode *node, const Ntm__Envelope *env);
/* Sends len bytes as they are to the DC. Returns 0 or -errno. */
int ntm_testnode_send_raw(struct ntm_testnode *node, const void *buf, size_t len);

/*
 * Returns the next Envelope from the DC (the backlog first), or NULL when
 * none arrived within timeout_ms. Datagrams that are not valid control
 * packets sealed by the DC's key are counted in node->dropped and skipped.
 * Free the result with ntm_msg_free.
 */
Ntm__Envelope *ntm_testnode_recv(struct ntm_testnode *node, int timeout_ms);
/* As ntm_testnode_recv, but returns the first Envelope with the given body
 * and keeps the others in the backlog. */
Ntm__Envelope *ntm_testnode_recv_body(struct ntm_testnode *node, Ntm__Envelope__BodyCase body,
				      int timeout_ms);
/* Waits timeout_ms and returns the number of Envelopes that arrived (the
 * backlog included), freeing them. For "the DC sends nothing" checks. */
unsigned ntm_testnode_drain(struct ntm_testnode *node, int timeout_ms);

/*
 * Sets env's protocol_version and a fresh request_id, sends it, and returns
 * the first Envelope that echoes the request_id (the response or an Error).
 * Other Envelopes go to the backlog. NULL on timeout or send failure.
 */
Ntm__Envelope *ntm_testnode_request(struct ntm_testnode *node, Ntm__Envelope *env,
				    int timeout_ms);

/* The protocol steps. Each returns the DC's response as ntm_testnode_request
 * does. reported lists the local endpoints to report. To fake a NAT, report
 * an address other than node->local. */
Ntm__Envelope *ntm_testnode_register(struct ntm_testnode *node, const char *fqdn,
				     const struct ntm_endpoint *reported, size_t n_reported,
				     int timeout_ms);
/* Registers reporting the socket's own address: a node without NAT. */
Ntm__Envelope *ntm_testnode_register_direct(struct ntm_testnode *node, const char *fqdn,
					    int timeout_ms);
Ntm__Envelope *ntm_testnode_keepalive(struct ntm_testnode *node, int timeout_ms);
Ntm__Envelope *ntm_testnode_query_fqdn(struct ntm_testnode *node, const char *fqdn,
				       int timeout_ms);
Ntm__Envelope *ntm_testnode_query_vip(struct ntm_testnode *node, const struct ntm_ip *vip,
				      int timeout_ms);
Ntm__Envelope *ntm_testnode_direction(struct ntm_testnode *node,
				      const uint8_t peer_key[NTM_KEY_LEN], bool exclude_private,
				      int timeout_ms);
Ntm__Envelope *ntm_testnode_pool(struct ntm_testnode *node, uint32_t count, int timeout_ms);

/* Acknowledges the RouteDirection in the Envelope rd, echoing its
 * request_id. Returns 0 or -errno. */
int ntm_testnode_ack_direction(struct ntm_testnode *node, const Ntm__Envelope *rd);

/* Short lower-case names for logs and test output ("direct", "initiator",
 * "not_found"). */
const char *ntm_testnode_route_str(Ntm__RouteCase route);
const char *ntm_testnode_role_str(Ntm__TunnelRole role);
const char *ntm_testnode_error_str(Ntm__ErrorCode code);

/* Writes one line of plain English describing env into out. Returns out. */
const char *ntm_testnode_describe(const Ntm__Envelope *env, char *out, size_t out_size);

#endif
