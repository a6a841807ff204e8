/* Conversions between stored NTM records and their protobuf form. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dc.h"
#include "ntm_msg.h"

static void pool_to_pb(struct dc_record_pb *out, struct dc_store *store)
{
	size_t n = 0;

	if (store && dc_store_pool_list(store, out->node.key, out->pool, NTM_MAX_POOL_VIPS, &n) !=
			     DC_STORE_OK)
		n = 0;
	for (size_t i = 0; i < n; i++)
		out->pool_bytes[i] = ntm_msg_ip_bytes(&out->pool[i]);
	out->msg.n_pool_vips = n;
	out->msg.pool_vips = out->pool_bytes;
}

void dc_record_to_pb(struct dc_record_pb *out, const struct dc_node *node, const char *domain,
		     struct dc_store *store)
{
	ntm__ntm_record__init(&out->msg);
	out->node = *node;
	snprintf(out->domain, sizeof(out->domain), "%s", domain);

	out->msg.fqdn = out->node.fqdn;
	out->msg.node_key.data = out->node.key;
	out->msg.node_key.len = NTM_KEY_LEN;
	for (size_t i = 0; i < out->node.n_local; i++) {
		ntm__endpoint__init(&out->local[i]);
		ntm_msg_endpoint_set(&out->local[i], &out->node.local[i]);
		out->local_ptrs[i] = &out->local[i];
	}
	out->msg.n_local_endpoints = out->node.n_local;
	out->msg.local_endpoints = out->local_ptrs;
	if (out->node.observed.ip.len != 0) {
		ntm__endpoint__init(&out->observed);
		ntm_msg_endpoint_set(&out->observed, &out->node.observed);
		out->msg.observed = &out->observed;
	}
	out->msg.behind_nat = out->node.behind_nat;
	out->msg.vip = ntm_msg_ip_bytes(&out->node.vip);
	out->msg.dc_domain = out->domain;
	out->msg.online = out->node.online;
	out->msg.last_seen_ms = out->node.last_seen_ms;
	pool_to_pb(out, store);
}

int dc_record_from_pb(struct dc_node *node, char *domain, size_t domain_size,
		      const Ntm__NtmRecord *msg)
{
	memset(node, 0, sizeof(*node));
	if (msg->node_key.len != NTM_KEY_LEN || strlen(msg->fqdn) > NTM_FQDN_MAX ||
	    msg->n_local_endpoints > NTM_MAX_LOCAL_ENDPOINTS)
		return -EINVAL;

	memcpy(node->key, msg->node_key.data, NTM_KEY_LEN);
	snprintf(node->fqdn, sizeof(node->fqdn), "%s", msg->fqdn);
	snprintf(domain, domain_size, "%s", msg->dc_domain);
	if (ntm_msg_ip_get(&node->vip, msg->vip) < 0)
		return -EINVAL;
	for (size_t i = 0; i < msg->n_local_endpoints; i++) {
		if (ntm_msg_endpoint_get(&node->local[i], msg->local_endpoints[i]) < 0)
			return -EINVAL;
	}
	node->n_local = msg->n_local_endpoints;
	if (msg->observed && ntm_msg_endpoint_get(&node->observed, msg->observed) < 0)
		return -EINVAL;
	node->behind_nat = msg->behind_nat;
	node->online = msg->online;
	node->last_seen_ms = msg->last_seen_ms;
	return 0;
}

bool dc_fqdn_in_domain(const char *fqdn, const char *domain)
{
	size_t f = strlen(fqdn), d = strlen(domain);

	if (f == d)
		return strcmp(fqdn, domain) == 0;
	return f > d && fqdn[f - d - 1] == '.' && strcmp(fqdn + f - d, domain) == 0;
}
