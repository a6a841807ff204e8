/*
 * Federation with the DCs of other domains over ZeroMQ with CURVE: each DC
 * binds a ROUTER for requests from its peers and connects one DEALER to each
 * configured peer (docs/protocol.md, "Federation").
 */
#ifndef DC_FEDERATION_H
#define DC_FEDERATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "dc.h"
#include "federation.pb-c.h"
#include "ntm_msg.h"

int dc_fed_start(struct dc *dc, char *err, size_t err_size);
void dc_fed_stop(struct dc *dc);

/* Copies the VIP prefixes learned from peers into out; returns how many. */
size_t dc_fed_prefixes(struct dc *dc, struct ntm_prefix *out, size_t max);

/* Returns the index of the peer whose domain (longest suffix) or VIP prefix
 * the query targets, or -1 when none does. */
int dc_fed_match(struct dc *dc, const Ntm__NtmQuery *q);

/* Result of a federated query: rec is NULL when code says why. */
typedef void (*dc_fed_answer_cb)(struct dc *dc, const struct dc_node *rec, const char *domain,
				 Ntm__ErrorCode code, void *arg);

/* Sends q to peer; cb runs exactly once, with the answer or ERROR_CODE_TIMEOUT
 * after 2 s. Returns 0 or -errno (cb is then not called). */
int dc_fed_query(struct dc *dc, int peer, const Ntm__NtmQuery *q, dc_fed_answer_cb cb, void *arg);

/* Looks up a federated node's record learned by a query in the last 60 s. */
bool dc_fed_cached(struct dc *dc, const uint8_t key[NTM_KEY_LEN], struct dc_node *out,
		   char *domain, size_t domain_size);

/* Asks the DC of domain to deliver rd to its node target_key. */
int dc_fed_direct(struct dc *dc, const char *domain, const uint8_t target_key[NTM_KEY_LEN],
		  const Ntm__RouteDirection *rd);

/* Checks a FedMessage from a peer: protocol major version, a known body and
 * every embedded control message's bounds (as ntm_msg_validate). */
enum ntm_msg_status dc_fed_validate(const Ntm__FedMessage *m, char *why, size_t why_size);

/* Describes each peer (domain, endpoint, connected, prefixes) for the admin API. */
json_t *dc_fed_to_json(struct dc *dc);

#endif
