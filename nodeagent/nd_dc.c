/*
 * The node's session with its DC: registration, keep-alive, requests with
 * retransmission, and the messages the DC pushes (Route Directions).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "nd.h"
#include "nd_tun.h"
#include "ntm_conf.h"
#include "ntm_time.h"

/* Registration retransmits after 0.5 s, doubling up to 8 s, without end. */
#define ND_REG_FIRST_MS 500
#define ND_REG_MAX_MS 8000
/* Other requests: after 300 ms, doubling, 5 sends in all (about 9 s). */
#define ND_REQ_FIRST_MS 300
#define ND_REQ_MAX_SENDS 5
/* Keep-alives unanswered for this many intervals mean the DC is gone or
 * restarted: register again. Tunnels keep working meanwhile. */
#define ND_DC_SILENT_INTERVALS 3

struct nd_request {
	struct nd_request *next;
	uint64_t request_id;
	uint8_t plain[NTM_CTL_MAX_PLAINTEXT];
	size_t plain_len;
	unsigned sends;
	uint64_t next_ms;
	nd_reply_cb cb;
	void *arg;
};

static int send_plain(struct nd *nd, const uint8_t *plain, size_t plain_len)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET];
	ssize_t len = ntm_ctl_seal(pkt, sizeof(pkt), nd->key.pub, &nd->dc_ctl, ++nd->ctl_counter,
				   plain, plain_len);

	if (len < 0)
		return (int)len;
	return nd_udp_send(nd, &nd->cfg.dc, pkt, (size_t)len);
}

static int send_env(struct nd *nd, Ntm__Envelope *env)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET];

	env->protocol_version = NTM_PROTOCOL_VERSION;
	ssize_t len = ntm_msg_seal(pkt, sizeof(pkt), &nd->key, &nd->dc_ctl, ++nd->ctl_counter, env);
	if (len < 0)
		return (int)len;
	return nd_udp_send(nd, &nd->cfg.dc, pkt, (size_t)len);
}

static void request_send(struct nd *nd, struct nd_request *r)
{
	r->sends++;
	r->next_ms = ntm_now_ms() + ((uint64_t)ND_REQ_FIRST_MS << (r->sends - 1));
	send_plain(nd, r->plain, r->plain_len);
}

int nd_dc_request(struct nd *nd, Ntm__Envelope *env, nd_reply_cb cb, void *arg)
{
	struct nd_request *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	randombytes_buf(&r->request_id, sizeof(r->request_id));
	env->protocol_version = NTM_PROTOCOL_VERSION;
	env->request_id = r->request_id;

	ssize_t len = ntm_msg_pack(env, r->plain, sizeof(r->plain));
	if (len < 0) {
		free(r);
		return (int)len;
	}
	r->plain_len = (size_t)len;
	r->cb = cb;
	r->arg = arg;
	r->next = nd->requests;
	nd->requests = r;
	request_send(nd, r);
	return 0;
}

static struct nd_request *request_take(struct nd *nd, uint64_t request_id)
{
	for (struct nd_request **link = &nd->requests; *link; link = &(*link)->next) {
		struct nd_request *r = *link;

		if (r->request_id == request_id) {
			*link = r->next;
			return r;
		}
	}
	return NULL;
}

void nd_dc_cancel_requests(struct nd *nd, void *arg)
{
	struct nd_request **link = &nd->requests;

	while (*link) {
		struct nd_request *r = *link;

		if (r->arg == arg) {
			*link = r->next;
			free(r);
		} else {
			link = &r->next;
		}
	}
}

static void requests_tick(struct nd *nd, uint64_t now)
{
	struct nd_request **link = &nd->requests;

	while (*link) {
		struct nd_request *r = *link;

		if (now < r->next_ms) {
			link = &r->next;
			continue;
		}
		if (r->sends < ND_REQ_MAX_SENDS) {
			request_send(nd, r);
			link = &r->next;
			continue;
		}
		*link = r->next;
		log_info("DC %s: no response to a request after %u sends",
			 ntm_endpoint_str(&nd->cfg.dc, (char[NTM_ENDPOINT_STRLEN]){ 0 },
					  NTM_ENDPOINT_STRLEN), r->sends);
		r->cb(nd, NULL, r->arg);
		free(r);
	}
}

void nd_dc_register(struct nd *nd)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__RegistrationRequest req = NTM__REGISTRATION_REQUEST__INIT;
	Ntm__Endpoint eps[ND_MAX_LOCAL_ADDRS], *ptrs[ND_MAX_LOCAL_ADDRS];
	struct ntm_endpoint copies[ND_MAX_LOCAL_ADDRS];

	nd_mobility_refresh(nd);
	for (size_t i = 0; i < nd->n_local_addrs; i++) {
		copies[i].ip = nd->local_addrs[i];
		copies[i].port = nd->cfg.listen.port;
		ntm__endpoint__init(&eps[i]);
		ntm_msg_endpoint_set(&eps[i], &copies[i]);
		ptrs[i] = &eps[i];
	}
	req.fqdn = nd->cfg.fqdn;
	req.n_local_endpoints = nd->n_local_addrs;
	req.local_endpoints = ptrs;
	req.software = "ntm-noded " NTM_VERSION;

	if (nd->reg != ND_REG_PENDING) {
		randombytes_buf(&nd->reg_request_id, sizeof(nd->reg_request_id));
		nd->reg_sends = 0;
	}
	nd->reg = ND_REG_PENDING;
	env.request_id = nd->reg_request_id;
	env.body_case = NTM__ENVELOPE__BODY_REGISTRATION_REQUEST;
	env.registration_request = &req;
	nd->reg_sends++;
	uint64_t wait = (uint64_t)ND_REG_FIRST_MS << (nd->reg_sends < 5 ? nd->reg_sends - 1 : 4);

	nd->reg_next_ms = ntm_now_ms() + (wait < ND_REG_MAX_MS ? wait : ND_REG_MAX_MS);
	send_env(nd, &env);
}

static void send_keepalive(struct nd *nd)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__KeepAlive ka = NTM__KEEP_ALIVE__INIT;

	randombytes_buf(&env.request_id, sizeof(env.request_id));
	env.body_case = NTM__ENVELOPE__BODY_KEEP_ALIVE;
	env.keep_alive = &ka;
	nd->last_keepalive_ms = ntm_now_ms();
	send_env(nd, &env);
}

void nd_dc_tick(struct nd *nd)
{
	uint64_t now = ntm_now_ms();

	requests_tick(nd, now);
	if (nd->reg == ND_REG_PENDING && now >= nd->reg_next_ms) {
		nd_dc_register(nd);
		return;
	}
	if (nd->reg != ND_REG_DONE)
		return;
	if (now - nd->last_dc_reply_ms > ND_DC_SILENT_INTERVALS * nd->keepalive_interval_ms) {
		log_info("DC %s: no response for %llu ms; registering again",
			 ntm_endpoint_str(&nd->cfg.dc, (char[NTM_ENDPOINT_STRLEN]){ 0 },
					  NTM_ENDPOINT_STRLEN), (unsigned long long)(now - nd->last_dc_reply_ms));
		nd->last_dc_reply_ms = now;
		nd_dc_register(nd);
		return;
	}
	if (now - nd->last_keepalive_ms >= nd->keepalive_interval_ms)
		send_keepalive(nd);
}

static void configure_tun(struct nd *nd)
{
	char err[256];

	if (nd->tun_fd < 0)
		return;
	if (nd_tun_addr_add(nd->tun_name, &nd->vip, err, sizeof(err)) < 0)
		log_warn("%s", err);
	for (size_t i = 0; i < nd->n_prefixes; i++) {
		if (nd_tun_route_add(nd->tun_name, &nd->prefixes[i], err, sizeof(err)) < 0)
			log_warn("%s", err);
	}
}

static void apply_prefixes(struct nd *nd, const Ntm__RegistrationResponse *resp)
{
	nd->n_prefixes = 0;
	for (size_t i = 0; i < resp->n_vip_prefixes && nd->n_prefixes < ND_MAX_PREFIXES; i++) {
		struct ntm_prefix *p = &nd->prefixes[nd->n_prefixes];

		if (ntm_msg_ip_get(&p->ip, resp->vip_prefixes[i]->ip) < 0)
			continue;
		p->len = (uint8_t)resp->vip_prefixes[i]->prefix_len;
		nd->n_prefixes++;
	}
}

static void handle_registered(struct nd *nd, const Ntm__RegistrationResponse *resp)
{
	char vip[INET6_ADDRSTRLEN], ep[NTM_ENDPOINT_STRLEN];
	const Ntm__NtmRecord *rec = resp->record;
	bool first = nd->registrations == 0;

	if (!rec || ntm_msg_ip_get(&nd->vip, rec->vip) < 0) {
		log_warn("DC: registration response without a usable record");
		return;
	}
	if (rec->observed)
		ntm_msg_endpoint_get(&nd->observed, rec->observed);
	nd->behind_nat = rec->behind_nat;
	apply_prefixes(nd, resp);
	nd->keepalive_interval_ms = (uint64_t)(resp->keepalive_interval_s ? resp->keepalive_interval_s
									  : 15) * 1000;
	nd->reg = ND_REG_DONE;
	nd->registrations++;
	nd->last_dc_reply_ms = nd->last_keepalive_ms = ntm_now_ms();
	log_info("registered as %s, VIP %s, observed %s%s", nd->cfg.fqdn,
		 ntm_ip_str(&nd->vip, vip, sizeof(vip)),
		 ntm_endpoint_str(&nd->observed, ep, sizeof(ep)),
		 nd->behind_nat ? " (behind NAT)" : "");
	configure_tun(nd);
	/* Only a registration that follows a move re-creates the tunnels: after a
	 * DC restart the tunnels still work as they are. */
	if (!first && nd->reregister_for_move)
		nd_peer_recreate_all(nd);
	nd->reregister_for_move = false;
}

static void handle_error(struct nd *nd, uint64_t request_id, const Ntm__Error *e)
{
	char msg[NTM_ERROR_MESSAGE_MAX + 8];

	ntm_log_sanitize(msg, sizeof(msg), e->message, strlen(e->message));
	switch (e->code) {
	case NTM__ERROR_CODE__ERROR_CODE_REGISTRATION_REQUIRED:
		log_info("DC asks this node to register again: %s", msg);
		if (nd->reg != ND_REG_PENDING)
			nd_dc_register(nd);
		return;
	case NTM__ERROR_CODE__ERROR_CODE_REVOKED:
		log_err("DC revoked this node's key (%s); stopping", msg);
		ntm_loop_stop(nd->loop);
		return;
	case NTM__ERROR_CODE__ERROR_CODE_PEER_REVOKED:
		/* ntm_msg_unpack checked that key has NTM_KEY_LEN bytes. */
		nd_peer_revoked(nd, e->key.data);
		return;
	case NTM__ERROR_CODE__ERROR_CODE_FQDN_MISMATCH:
		log_err("DC rejects FQDN %s for this key: %s; fix [node] fqdn", nd->cfg.fqdn, msg);
		return;
	default:
		log_info("DC error %d: %s", e->code, msg);
	}
}

static void ack_direction(struct nd *nd, uint64_t request_id, uint64_t direction_id)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__RouteDirectionAck ack = NTM__ROUTE_DIRECTION_ACK__INIT;

	ack.direction_id = direction_id;
	env.request_id = request_id;
	env.body_case = NTM__ENVELOPE__BODY_ROUTE_DIRECTION_ACK;
	env.route_direction_ack = &ack;
	send_env(nd, &env);
}

static void dispatch(struct nd *nd, const Ntm__Envelope *env)
{
	struct nd_request *r;

	switch (env->body_case) {
	case NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE:
		if (env->request_id == nd->reg_request_id)
			handle_registered(nd, env->registration_response);
		return;
	case NTM__ENVELOPE__BODY_KEEP_ALIVE_ACK:
		if (env->keep_alive_ack->observed)
			ntm_msg_endpoint_get(&nd->observed, env->keep_alive_ack->observed);
		return;
	case NTM__ENVELOPE__BODY_ROUTE_DIRECTION:
		ack_direction(nd, env->request_id, env->route_direction->direction_id);
		nd_peer_route_direction(nd, env->request_id, env->route_direction);
		break;
	default:
		break;
	}
	/* Answers to requests, errors included, go to the request's callback. */
	r = request_take(nd, env->request_id);
	if (r) {
		r->cb(nd, env, r->arg);
		free(r);
	} else if (env->body_case == NTM__ENVELOPE__BODY_ERROR) {
		handle_error(nd, env->request_id, env->error);
	}
}

/* Before registration only the answer to our own request is accepted, so
 * packets replayed from an earlier run change nothing. */
static bool accept_counter(struct nd *nd, const Ntm__Envelope *env, uint64_t counter)
{
	if (nd->reg == ND_REG_DONE) {
		if (!ntm_replay_check(&nd->dc_window, counter))
			return false;
		ntm_replay_update(&nd->dc_window, counter);
		return true;
	}
	if (env->request_id != nd->reg_request_id)
		return false;
	ntm_replay_reset(&nd->dc_window, 0);
	ntm_replay_update(&nd->dc_window, counter);
	return true;
}

void nd_dc_handle(struct nd *nd, const uint8_t *pkt, size_t len, const struct ntm_endpoint *from)
{
	uint8_t pt[NTM_CTL_MAX_PACKET];
	size_t pt_len = 0;
	uint64_t counter = 0;
	char why[160];
	enum ntm_msg_status mst;

	enum ntm_codec_status st = ntm_ctl_open(pkt, len, &nd->dc_ctl, NULL, pt, sizeof(pt),
						&pt_len, &counter);
	if (st != NTM_CODEC_OK) {
		nd_drop(nd, from, ND_DROP_AUTH_FAILED, ntm_codec_status_str(st));
		return;
	}

	Ntm__Envelope *env = ntm_msg_unpack(pt, pt_len, &mst, why, sizeof(why));

	sodium_memzero(pt, sizeof(pt));
	if (!env) {
		nd_drop(nd, from, ND_DROP_BAD_MESSAGE, why);
		return;
	}
	if (!accept_counter(nd, env, counter)) {
		nd_drop(nd, from, ND_DROP_REPLAYED, "DC packet replayed or not for this run");
	} else {
		nd->last_dc_reply_ms = ntm_now_ms();
		dispatch(nd, env);
	}
	ntm_msg_free(env);
}

int nd_dc_start(struct nd *nd, char *err, size_t err_size)
{
	if (ntm_key_from_base64(nd->dc_key, nd->cfg.dc_public_key) < 0) {
		char where[NTM_CONF_WHERE_MAX];

		snprintf(err, err_size,
			 "%s: [node] dc_public_key is not a base64 X25519 key; "
			 "copy it from the DC's key file's .pub",
			 ntm_conf_where(where, sizeof(where), nd->config_path, "node",
					"dc_public_key"));
		return -1;
	}
	if (ntm_ctl_keys_derive(&nd->dc_ctl, &nd->key, nd->dc_key) < 0) {
		snprintf(err, err_size, "cannot derive keys with the DC's public key");
		return -1;
	}
	nd->ctl_counter = ntm_counter_start();
	nd_dc_register(nd);
	return 0;
}

void nd_dc_free(struct nd *nd)
{
	while (nd->requests) {
		struct nd_request *r = nd->requests;

		nd->requests = r->next;
		free(r);
	}
	ntm_ctl_keys_wipe(&nd->dc_ctl);
}
