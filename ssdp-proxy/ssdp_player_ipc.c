/*
 * Player mode, the ntm-noded half: a ZeroMQ DEALER to ntm-noded's ROUTER.
 * On every connection it first sends LocalHello{role "ssdpd"}. It requests
 * the tunnel to the DLNA Agent with LocalTunnelRequest, sends each search
 * as LocalTunnelMessage{msearch_request} and takes the Agent's
 * LocalTunnelMessage{msearch_response}. A socket monitor tells when the
 * connection comes and goes: a new ntm-noded has no tunnels and has not
 * heard the hello.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include <sodium.h>

#include "ntm_time.h"
#include "ntm_zmon.h"
#include "ssdp_ipc.h"
#include "ssdp_player.h"

/* How long ntm-noded may take to answer a LocalTunnelRequest, and the
 * pause before asking again after a failure, in milliseconds. */
#define PLAYER_TUNNEL_TIMEOUT_MS 15000
#define PLAYER_TUNNEL_RETRY_MS 2000
/* How long after an application's last search a failed tunnel request is
 * still retried, in milliseconds. */
#define PLAYER_RETRY_WINDOW_MS 30000
/* Messages read per wakeup. */
#define PLAYER_IPC_BATCH 64
#define PLAYER_MONITOR_ADDRESS "inproc://ntm-ssdpd-noded-monitor"

const char *ssdp_player_tunnel_str(enum player_tunnel t)
{
	switch (t) {
	case PLAYER_TUNNEL_DOWN:
		return "down";
	case PLAYER_TUNNEL_REQUESTED:
		return "requested";
	case PLAYER_TUNNEL_UP:
		return "up";
	}
	return "unknown";
}

static uint64_t next_request_id(struct ssdp_player *p)
{
	return ++p->next_request_id;
}

static int send_local(struct ssdpd *d, Ntm__LocalMessage *m)
{
	int rc = ssdp_ipc_send(d->player->dealer, NULL, 0, m);

	if (rc < 0)
		log_warn("ntm-noded %s: cannot send %s: %s", d->cfg.noded_ipc, ssdp_ipc_body_str(m),
			 rc == -EAGAIN ? "not connected" : zmq_strerror(-rc));
	return rc;
}

static void send_hello(struct ssdpd *d)
{
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalHello hello = NTM__LOCAL_HELLO__INIT;

	hello.role = "ssdpd";
	m.protocol_version = NTM_PROTOCOL_VERSION;
	m.request_id = next_request_id(d->player);
	m.body_case = NTM__LOCAL_MESSAGE__BODY_HELLO;
	m.hello = &hello;
	if (send_local(d, &m) == 0)
		d->player->noded_ready = true;
}

static void set_tunnel(struct ssdp_player *p, enum player_tunnel t, uint64_t now_ms)
{
	p->tunnel = t;
	p->tunnel_changed_ms = now_ms;
}

/* Sends a LocalTunnelRequest unless one is out or the last failed less than
 * PLAYER_TUNNEL_RETRY_MS ago. */
static void request_tunnel(struct ssdpd *d, uint64_t now_ms)
{
	struct ssdp_player *p = d->player;
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalTunnelRequest req = NTM__LOCAL_TUNNEL_REQUEST__INIT;

	if (!p->noded_ready || p->tunnel != PLAYER_TUNNEL_DOWN)
		return;
	if (p->tunnel_changed_ms != 0 && now_ms - p->tunnel_changed_ms < PLAYER_TUNNEL_RETRY_MS)
		return;
	req.peer_fqdn = d->cfg.agent_fqdn;
	m.protocol_version = NTM_PROTOCOL_VERSION;
	m.request_id = next_request_id(p);
	m.body_case = NTM__LOCAL_MESSAGE__BODY_TUNNEL_REQUEST;
	m.tunnel_request = &req;
	if (send_local(d, &m) < 0)
		return;
	p->tunnel_request_id = m.request_id;
	set_tunnel(p, PLAYER_TUNNEL_REQUESTED, now_ms);
	d->counters[SSDPD_TUNNEL_REQUESTS]++;
	log_info("agent %s: asking ntm-noded for the tunnel", d->cfg.agent_fqdn);
}

/* The request_id travels twice: in LocalMessage for ntm-noded, and in
 * LocalTunnelMessage, which the Agent echoes in its MSearchResponse. */
static void send_msearch(struct ssdpd *d, struct player_search *s, uint64_t now_ms)
{
	struct ssdp_player *p = d->player;
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalTunnelMessage tm = NTM__LOCAL_TUNNEL_MESSAGE__INIT;
	Ntm__MSearchRequest req = NTM__MSEARCH_REQUEST__INIT;

	req.search_target = s->st;
	req.mx = s->mx >= 1 && s->mx <= 5 ? s->mx : 3;
	tm.peer_fqdn = d->cfg.agent_fqdn;
	tm.request_id = next_request_id(p);
	tm.body_case = NTM__LOCAL_TUNNEL_MESSAGE__BODY_MSEARCH_REQUEST;
	tm.msearch_request = &req;
	m.protocol_version = NTM_PROTOCOL_VERSION;
	m.request_id = tm.request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_TUNNEL_MESSAGE;
	m.tunnel_message = &tm;
	if (send_local(d, &m) < 0)
		return;
	s->request_id = tm.request_id;
	s->last_sent_ms = now_ms;
	s->answered = false;
	d->counters[SSDPD_MSEARCH_REQUESTS]++;
	log_debug("agent %s: sent an MSearchRequest for %s (request %llu)", d->cfg.agent_fqdn,
		  s->st, (unsigned long long)tm.request_id);
}

void ssdp_player_request_search(struct ssdpd *d, struct player_search *s, uint64_t now_ms)
{
	if (d->player->tunnel == PLAYER_TUNNEL_UP)
		send_msearch(d, s, now_ms);
	else
		request_tunnel(d, now_ms);
}

/* ---- messages from ntm-noded ---- */

static const char *error_text(const Ntm__Error *e)
{
	return e && e->message && e->message[0] != '\0' ? e->message : "no reason given";
}

static void on_tunnel_status(struct ssdpd *d, const Ntm__LocalMessage *m, uint64_t now_ms)
{
	struct ssdp_player *p = d->player;
	const Ntm__LocalTunnelStatus *ts = m->tunnel_status;
	char vip[INET6_ADDRSTRLEN];

	if (ts->peer_fqdn[0] != '\0' && strcmp(ts->peer_fqdn, d->cfg.agent_fqdn) != 0) {
		ssdpd_drop(d, SSDPD_DROP_BAD_IPC);
		return;
	}
	if (ts->up) {
		if (ntm_msg_ip_get(&p->agent_vip, ts->peer_vip) < 0)
			p->agent_vip.len = 0;
		if (p->tunnel != PLAYER_TUNNEL_UP)
			log_info("agent %s: tunnel up, agent VIP %s", d->cfg.agent_fqdn,
				 p->agent_vip.len ? ntm_ip_str(&p->agent_vip, vip, sizeof(vip)) : "?");
		set_tunnel(p, PLAYER_TUNNEL_UP, now_ms);
		ssdp_player_tunnel_up(d, now_ms);
		return;
	}
	if (p->tunnel == PLAYER_TUNNEL_UP) {
		ssdp_player_tunnel_lost(d, error_text(ts->error));
		/* A lost tunnel may be asked for again at once; the pause is for
		 * requests that fail. */
		set_tunnel(p, PLAYER_TUNNEL_DOWN, 0);
		return;
	}
	log_warn("agent %s: ntm-noded could not build the tunnel: %s", d->cfg.agent_fqdn,
		 error_text(ts->error));
	set_tunnel(p, PLAYER_TUNNEL_DOWN, now_ms);
}

static bool from_agent(const struct ssdpd *d, const Ntm__LocalTunnelMessage *tm)
{
	struct ntm_ip vip;

	if (tm->peer_fqdn[0] != '\0')
		return strcmp(tm->peer_fqdn, d->cfg.agent_fqdn) == 0;
	return ntm_msg_ip_get(&vip, tm->peer_vip) == 0 && d->player->agent_vip.len != 0 &&
	       ntm_ip_equal(&vip, &d->player->agent_vip);
}

static void mark_answered(struct ssdp_player *p, uint64_t request_id)
{
	for (size_t i = 0; i < p->n_searches; i++) {
		if (p->searches[i].request_id == request_id)
			p->searches[i].answered = true;
	}
}

static void on_tunnel_message(struct ssdpd *d, const Ntm__LocalMessage *m, uint64_t now_ms)
{
	const Ntm__LocalTunnelMessage *tm = m->tunnel_message;

	if (tm->body_case != NTM__LOCAL_TUNNEL_MESSAGE__BODY_MSEARCH_RESPONSE || !from_agent(d, tm)) {
		ssdpd_drop(d, SSDPD_DROP_BAD_IPC);
		log_debug("ntm-noded: dropped a tunnel message that is no MSearchResponse from "
			  "agent %s", d->cfg.agent_fqdn);
		return;
	}
	d->counters[SSDPD_MSEARCH_RESPONSES]++;
	mark_answered(d->player, tm->request_id ? tm->request_id : m->request_id);
	log_debug("agent %s: MSearchResponse with %zu answers%s", d->cfg.agent_fqdn,
		  tm->msearch_response->n_answers, tm->msearch_response->last ? " (last)" : "");
	ssdp_player_add_answers(d, tm->msearch_response, now_ms);
}

static void on_error(struct ssdpd *d, const Ntm__LocalMessage *m, uint64_t now_ms)
{
	struct ssdp_player *p = d->player;

	log_warn("ntm-noded: error %d for request %llu: %s", (int)m->error->code,
		 (unsigned long long)m->request_id, error_text(m->error));
	if (p->tunnel == PLAYER_TUNNEL_REQUESTED && m->request_id == p->tunnel_request_id)
		set_tunnel(p, PLAYER_TUNNEL_DOWN, now_ms);
}

static void handle_message(struct ssdpd *d, const Ntm__LocalMessage *m)
{
	uint64_t now = ntm_now_ms();

	switch (m->body_case) {
	case NTM__LOCAL_MESSAGE__BODY_TUNNEL_STATUS:
		on_tunnel_status(d, m, now);
		break;
	case NTM__LOCAL_MESSAGE__BODY_TUNNEL_MESSAGE:
		on_tunnel_message(d, m, now);
		break;
	case NTM__LOCAL_MESSAGE__BODY_ERROR:
		on_error(d, m, now);
		break;
	default:
		ssdpd_drop(d, SSDPD_DROP_BAD_IPC);
		log_debug("ntm-noded: ignored an unexpected %s", ssdp_ipc_body_str(m));
		break;
	}
}

static void on_dealer(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct ssdpd *d = arg;

	for (int i = 0; i < PLAYER_IPC_BATCH; i++) {
		int error = 0;
		Ntm__LocalMessage *m = ssdp_ipc_recv(sock, NULL, NULL, &error);

		if (!m && error == -EAGAIN)
			return;
		if (!m) {
			ssdpd_drop(d, SSDPD_DROP_BAD_IPC);
			log_debug("ntm-noded: dropped a malformed LocalMessage");
			continue;
		}
		handle_message(d, m);
		ntm__local_message__free_unpacked(m, NULL);
	}
}

/* ---- connection monitor ---- */

static void on_connected(struct ssdpd *d)
{
	struct ssdp_player *p = d->player;

	log_info("ntm-noded %s: connected", d->cfg.noded_ipc);
	send_hello(d);
	/* A restarted ntm-noded builds the Agent's tunnel again at once, and
	 * learns from the request that this peer is the node's DLNA Agent,
	 * whose GENA callback routes it accepts. */
	if (p->tunnel_was_up) {
		p->tunnel_was_up = false;
		request_tunnel(d, ntm_now_ms());
		return;
	}
	/* Applications searched while ntm-noded was away. */
	for (size_t i = 0; i < p->n_searches; i++) {
		if (p->searches[i].last_sent_ms == 0) {
			request_tunnel(d, ntm_now_ms());
			break;
		}
	}
}

static void on_disconnected(struct ssdpd *d)
{
	struct ssdp_player *p = d->player;

	log_warn("ntm-noded %s: disconnected; reconnecting", d->cfg.noded_ipc);
	p->noded_ready = false;
	p->tunnel_was_up = p->tunnel == PLAYER_TUNNEL_UP;
	if (p->tunnel == PLAYER_TUNNEL_UP)
		ssdp_player_tunnel_lost(d, "ntm-noded disconnected");
	set_tunnel(p, PLAYER_TUNNEL_DOWN, 0);
}

static void on_monitor(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	switch (ntm_zmon_read(sock)) {
	case NTM_ZMON_CONNECTED:
		on_connected(arg);
		break;
	case NTM_ZMON_DISCONNECTED:
		on_disconnected(arg);
		break;
	case NTM_ZMON_NONE:
		break;
	}
}

/* True when an application searched within PLAYER_RETRY_WINDOW_MS and its search
 * has not gone through the tunnel since. */
static bool tunnel_needed(const struct ssdp_player *p, uint64_t now_ms)
{
	for (size_t i = 0; i < p->n_searches; i++) {
		const struct player_search *s = &p->searches[i];

		if (s->last_app_ms > s->last_sent_ms && now_ms - s->last_app_ms < PLAYER_RETRY_WINDOW_MS)
			return true;
	}
	return false;
}

void ssdp_player_ipc_tick(struct ssdpd *d, uint64_t now_ms)
{
	struct ssdp_player *p = d->player;

	if (p->tunnel == PLAYER_TUNNEL_REQUESTED &&
	    now_ms - p->tunnel_changed_ms >= PLAYER_TUNNEL_TIMEOUT_MS) {
		log_warn("agent %s: no LocalTunnelStatus from ntm-noded within %d s; asking again",
			 d->cfg.agent_fqdn, PLAYER_TUNNEL_TIMEOUT_MS / 1000);
		set_tunnel(p, PLAYER_TUNNEL_DOWN, now_ms);
	}
	/* Applications wait for answers: retry a failed request. */
	if (p->tunnel == PLAYER_TUNNEL_DOWN && tunnel_needed(p, now_ms))
		request_tunnel(d, now_ms);
}

static int open_monitor(struct ssdpd *d, char *err, size_t err_size)
{
	struct ssdp_player *p = d->player;

	p->monitor = ntm_zmon_open(d->loop, d->zmq_ctx, p->dealer, PLAYER_MONITOR_ADDRESS,
				   on_monitor, d);
	if (!p->monitor) {
		snprintf(err, err_size, "cannot monitor the ntm-noded socket: %s",
			 zmq_strerror(errno));
		return -1;
	}
	return 0;
}

/* ZMQ_IMMEDIATE makes sends fail while ntm-noded is away, so that nothing
 * is queued ahead of the LocalHello of the next connection. */
int ssdp_player_ipc_start(struct ssdpd *d, char *err, size_t err_size)
{
	struct ssdp_player *p = d->player;
	int one = 1;

	randombytes_buf(&p->next_request_id, sizeof(p->next_request_id));
	p->next_request_id >>= 1;
	p->dealer = zmq_socket(d->zmq_ctx, ZMQ_DEALER);
	if (!p->dealer) {
		snprintf(err, err_size, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
		return -1;
	}
	ssdp_ipc_setup(p->dealer);
	zmq_setsockopt(p->dealer, ZMQ_IMMEDIATE, &one, sizeof(one));
	if (open_monitor(d, err, err_size) < 0)
		return -1;
	if (zmq_connect(p->dealer, d->cfg.noded_ipc) < 0 ||
	    ntm_loop_add_zsock(d->loop, p->dealer, ZMQ_POLLIN, on_dealer, d) < 0) {
		snprintf(err, err_size, "cannot connect to ntm-noded at %s: %s", d->cfg.noded_ipc,
			 zmq_strerror(errno));
		return -1;
	}
	return 0;
}

void ssdp_player_ipc_stop(struct ssdpd *d)
{
	struct ssdp_player *p = d->player;

	ntm_zmon_close(d->loop, p->dealer, &p->monitor);
	ntm_loop_close_zsock(d->loop, &p->dealer);
}
