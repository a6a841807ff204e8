/*
 * The node agent's DNS server for NTM names (RFC 1035): a query for a peer's
 * FQDN makes the agent build the tunnel to that peer, and the answer carries
 * the peer's VIP. Only standard queries with one question are served.
 */
#ifndef ND_DNS_H
#define ND_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ntm_addr.h"
#include "ntm_loop.h"

#define ND_DNS_NAME_MAX 253
#define ND_DNS_TYPE_A 1
#define ND_DNS_TYPE_AAAA 28
#define ND_DNS_RCODE_NOERROR 0
#define ND_DNS_RCODE_FORMERR 1
#define ND_DNS_RCODE_SERVFAIL 2
#define ND_DNS_RCODE_NXDOMAIN 3
#define ND_DNS_RCODE_NOTIMP 4
#define ND_DNS_RCODE_REFUSED 5

enum nd_dns_status {
	ND_DNS_OK = 0,
	ND_DNS_MALFORMED,      /* shorter than its header or question, bad label */
	ND_DNS_NOT_QUERY,      /* QR bit set: a response, never answered */
	ND_DNS_UNSUPPORTED,    /* opcode other than QUERY, or QDCOUNT != 1 */
};

/* The one question of a query. name is lower case, without the final dot. */
struct nd_dns_query {
	uint16_t id;
	bool recursion_desired;
	char name[ND_DNS_NAME_MAX + 1];
	uint16_t qtype;
	uint16_t qclass;
	size_t question_end;   /* offset just past the question in the query */
};

/* Parses a query. Compression pointers are rejected in the question, as no
 * resolver sends them there. */
enum nd_dns_status nd_dns_parse_query(const uint8_t *buf, size_t len, struct nd_dns_query *q);

/*
 * Builds the response to q (from query bytes buf/len): the header with QR,
 * RA=0, the given rcode, the question copied, and one answer record when ip
 * is non-NULL and matches qtype (A for 4 bytes, AAAA for 16) and rcode is
 * NOERROR, with ttl seconds. Returns the length, -ENOSPC when out is too
 * small, or -EINVAL when q does not describe buf or rcode is not 0..15.
 */
ssize_t nd_dns_build_response(uint8_t *out, size_t out_size, const uint8_t *buf, size_t len,
			      const struct nd_dns_query *q, int rcode, const struct ntm_ip *ip,
			      uint32_t ttl);

struct nd_dns_server;

/*
 * Called for each valid query; the agent answers later, with the same handle,
 * through nd_dns_server_answer. Queries it cannot take (a response, an
 * unsupported opcode, a malformed packet) are answered or dropped by the
 * server itself and counted.
 */
typedef void (*nd_dns_resolve_cb)(struct nd_dns_server *srv, uint64_t handle, const char *name,
				  uint16_t qtype, void *arg);

/*
 * Listens on UDP listen and serves from loop. At most 256 queries wait at
 * once; one that waits 5 s is answered SERVFAIL. Returns NULL with err set.
 */
struct nd_dns_server *nd_dns_server_open(struct ntm_loop *loop, const struct ntm_endpoint *listen,
					 nd_dns_resolve_cb cb, void *arg, char *err,
					 size_t err_size);
void nd_dns_server_close(struct nd_dns_server *srv);
/* Answers a waiting query: rcode, and ip (may be NULL) for the answer record.
 * A handle that already timed out is ignored. */
void nd_dns_server_answer(struct nd_dns_server *srv, uint64_t handle, int rcode,
			  const struct ntm_ip *ip, uint32_t ttl);
/* Sets how long queries received after the call wait before the SERVFAIL,
 * in ms (default 5000). It exists for tests. The server checks deadlines
 * every 250 ms, so a timeout fires up to 250 ms late. */
void nd_dns_server_set_timeout_ms(struct nd_dns_server *srv, uint64_t timeout_ms);

/* Datagram counts. queries: valid queries, handed to the callback or
 * rejected for overflow. answered: sent by nd_dns_server_answer. malformed:
 * answered FORMERR when the 12-byte header was there. unsupported: answered
 * NOTIMP, or responses, which are dropped. timeouts and overflow: answered
 * SERVFAIL. */
struct nd_dns_stats {
	uint64_t queries, answered, malformed, unsupported, timeouts, overflow;
};
void nd_dns_server_stats(const struct nd_dns_server *srv, struct nd_dns_stats *out);

#endif
