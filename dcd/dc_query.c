/* NTM queries: a record by FQDN or VIP, from this DC or a federated one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dc.h"
#include "dc_federation.h"
#include "ntm_msg.h"

/* A query waiting for a federated DC's answer. */
struct query_wait {
	uint8_t requester[NTM_KEY_LEN];
	uint64_t request_id;
};

static void send_record(struct dc *dc, struct dc_session *s, uint64_t request_id,
			const struct dc_node *node, const char *domain)
{
	static struct dc_record_pb rec;
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__NtmQueryResponse resp = NTM__NTM_QUERY_RESPONSE__INIT;
	bool own = strcmp(domain, dc->cfg.domain) == 0;

	dc_record_to_pb(&rec, node, domain, own ? dc->store : NULL);
	resp.record = &rec.msg;
	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.request_id = request_id;
	env.body_case = NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE;
	env.ntm_query_response = &resp;
	dc_send(dc, s, &env);
}

enum dc_store_status dc_lookup_local(struct dc *dc, const Ntm__NtmQuery *q, struct dc_node *out)
{
	enum dc_store_status st = DC_STORE_NOT_FOUND;
	struct ntm_ip vip;

	if (q->target_case == NTM__NTM_QUERY__TARGET_FQDN)
		st = dc_store_get_by_fqdn(dc->store, q->fqdn, out);
	else if (q->target_case == NTM__NTM_QUERY__TARGET_VIP &&
		 ntm_msg_ip_get(&vip, q->vip) == 0)
		st = dc_store_get_by_vip(dc->store, &vip, out);
	if (st != DC_STORE_OK)
		return st;

	/* The session holds the live fields (observed, online, last seen). */
	struct dc_session *s = dc_session_find(dc, out->key);

	if (s)
		*out = s->node;
	return DC_STORE_OK;
}

static void on_fed_answer(struct dc *dc, const struct dc_node *rec, const char *domain,
			  Ntm__ErrorCode code, void *arg)
{
	struct query_wait *w = arg;
	struct dc_session *s = dc_session_find(dc, w->requester);

	if (!s)
		goto out;
	if (rec)
		send_record(dc, s, w->request_id, rec, domain);
	else
		dc_send_error(dc, s, w->request_id, code,
			      code == NTM__ERROR_CODE__ERROR_CODE_TIMEOUT
				      ? "the peer's DC did not answer in time"
				      : "no record at the peer's DC");
out:
	free(w);
}

static void query_federated(struct dc *dc, struct dc_session *s, uint64_t request_id, int peer,
			    const Ntm__NtmQuery *q)
{
	struct query_wait *w = calloc(1, sizeof(*w));

	if (!w) {
		dc_send_error(dc, s, request_id, NTM__ERROR_CODE__ERROR_CODE_LIMIT, "out of memory");
		return;
	}
	memcpy(w->requester, s->node.key, NTM_KEY_LEN);
	w->request_id = request_id;
	if (dc_fed_query(dc, peer, q, on_fed_answer, w) < 0) {
		free(w);
		dc_send_error(dc, s, request_id, NTM__ERROR_CODE__ERROR_CODE_TIMEOUT,
			      "the peer's DC is not reachable");
	}
}

void dc_handle_query(struct dc *dc, struct dc_session *s, uint64_t request_id,
		     const Ntm__NtmQuery *q)
{
	struct dc_node node;
	int peer = dc_fed_match(dc, q);

	if (peer >= 0) {
		query_federated(dc, s, request_id, peer, q);
		return;
	}

	enum dc_store_status st = dc_lookup_local(dc, q, &node);
	if (st == DC_STORE_OK) {
		send_record(dc, s, request_id, &node, dc->cfg.domain);
		return;
	}
	dc_send_error(dc, s, request_id,
		      st == DC_STORE_NOT_FOUND ? NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND
					       : NTM__ERROR_CODE__ERROR_CODE_LIMIT,
		      st == DC_STORE_NOT_FOUND ? "no record for that FQDN or VIP"
					       : "the DC's store failed");
}
