/*
 * Home mode, the ntm-dad half: a ZeroMQ ROUTER on [ssdpd] ipc. A client
 * sends LocalHello{role} first, then LocalSsdpSearch{search_target, mx};
 * each search is answered at once with LocalSsdpAnswers from the cache,
 * echoing its request_id, and starts a search of the LAN that refreshes
 * the cache. Clients get LocalSsdpGone{usn} when a server leaves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ntm_time.h"
#include "ssdp_home.h"
#include "ssdp_msg.h"

#define HOME_IPC_BATCH 64
#define HOME_DEFAULT_MX 2
/* The shortest pause between the LAN searches that ntm-dad's requests
 * start, in milliseconds; the periodic search covers the rest. */
#define HOME_REFRESH_MIN_MS 2000

/* Adds the sender to the clients that get LocalSsdpGone. */
static void remember_client(struct ssdpd *d, const uint8_t *id, size_t id_len)
{
	struct ssdp_home *h = d->home;

	for (size_t i = 0; i < h->n_clients; i++) {
		if (h->clients[i].routing_id_len == id_len &&
		    memcmp(h->clients[i].routing_id, id, id_len) == 0)
			return;
	}
	if (h->n_clients == HOME_MAX_CLIENTS) {
		log_warn("ipc %s: more than %d clients; the newest gets no LocalSsdpGone",
			 d->cfg.ipc, HOME_MAX_CLIENTS);
		return;
	}
	memcpy(h->clients[h->n_clients].routing_id, id, id_len);
	h->clients[h->n_clients++].routing_id_len = id_len;
}

static void forget_client(struct ssdp_home *h, size_t i)
{
	h->clients[i] = h->clients[--h->n_clients];
}

static int reply(struct ssdpd *d, const uint8_t *id, size_t id_len, Ntm__LocalMessage *m)
{
	int rc = ssdp_ipc_send(d->home->router, id, id_len, m);

	if (rc < 0 && rc != -EHOSTUNREACH)
		log_warn("ipc %s: cannot send %s: %s", d->cfg.ipc, ssdp_ipc_body_str(m),
			 zmq_strerror(-rc));
	return rc;
}

static void reply_error(struct ssdpd *d, const uint8_t *id, size_t id_len, uint64_t request_id,
			const char *message)
{
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__Error e = NTM__ERROR__INIT;

	e.code = NTM__ERROR_CODE__ERROR_CODE_INVALID;
	e.message = (char *)message;
	m.protocol_version = NTM_PROTOCOL_VERSION;
	m.request_id = request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_ERROR;
	m.error = &e;
	reply(d, id, id_len, &m);
}

/* The protobuf form of the matching entries: arrays sized by the cache. */
struct answer_set {
	Ntm__SsdpRawAnswer answers[SSDP_CACHE_MAX];
	Ntm__SsdpRawAnswer *pointers[SSDP_CACHE_MAX];
	Ntm__Endpoint sources[SSDP_CACHE_MAX];
	struct ntm_endpoint endpoints[SSDP_CACHE_MAX];
	size_t n;
};

static void collect_answers(struct ssdpd *d, const char *st, struct answer_set *set)
{
	set->n = 0;
	for (size_t i = 0; i < d->cache.n; i++) {
		struct ssdp_entry *e = d->cache.entries[i];
		size_t k = set->n;

		if (!ssdp_st_matches(st, e->target))
			continue;
		ntm__ssdp_raw_answer__init(&set->answers[k]);
		ntm__endpoint__init(&set->sources[k]);
		set->endpoints[k] = e->source;
		ntm_msg_endpoint_set(&set->sources[k], &set->endpoints[k]);
		set->answers[k].source = &set->sources[k];
		set->answers[k].headers = e->lines;
		set->answers[k].n_headers = e->n_lines;
		set->answers[k].last_seen_ms = e->seen_wall_ms;
		set->pointers[k] = &set->answers[k];
		set->n++;
	}
}

static bool search_valid(const Ntm__LocalSsdpSearch *s)
{
	return s->search_target[0] != '\0' && strlen(s->search_target) <= NTM_SEARCH_TARGET_MAX &&
	       ssdp_value_valid(s->search_target);
}

static void on_search(struct ssdpd *d, const uint8_t *id, size_t id_len,
		      const Ntm__LocalMessage *req)
{
	static struct answer_set set;
	const Ntm__LocalSsdpSearch *s = req->ssdp_search;
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalSsdpAnswers answers = NTM__LOCAL_SSDP_ANSWERS__INIT;
	uint64_t now = ntm_now_ms();

	if (!search_valid(s)) {
		ssdpd_drop(d, SSDPD_DROP_BAD_IPC);
		reply_error(d, id, id_len, req->request_id, "search_target must be 1 to 256 bytes "
			    "without control characters");
		return;
	}
	collect_answers(d, s->search_target, &set);
	answers.answers = set.pointers;
	answers.n_answers = set.n;
	m.protocol_version = NTM_PROTOCOL_VERSION;
	m.request_id = req->request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_SSDP_ANSWERS;
	m.ssdp_answers = &answers;
	if (reply(d, id, id_len, &m) == 0)
		d->counters[SSDPD_IPC_SEARCHES]++;
	log_debug("ipc %s: LocalSsdpSearch for %s answered with %zu servers", d->cfg.ipc,
		  s->search_target, set.n);

	if (now - d->home->last_refresh_ms >= HOME_REFRESH_MIN_MS) {
		d->home->last_refresh_ms = now;
		ssdp_home_search(d, s->search_target,
				 s->mx >= 1 && s->mx <= SSDP_MX_MAX ? s->mx : HOME_DEFAULT_MX);
	}
}

static void handle_message(struct ssdpd *d, const uint8_t *id, size_t id_len,
			   const Ntm__LocalMessage *m)
{
	char role[32];

	remember_client(d, id, id_len);
	switch (m->body_case) {
	case NTM__LOCAL_MESSAGE__BODY_HELLO:
		ntm_log_sanitize(role, sizeof(role), m->hello->role, strlen(m->hello->role));
		log_info("ipc %s: client with role '%s' connected", d->cfg.ipc, role);
		break;
	case NTM__LOCAL_MESSAGE__BODY_SSDP_SEARCH:
		on_search(d, id, id_len, m);
		break;
	default:
		ssdpd_drop(d, SSDPD_DROP_BAD_IPC);
		reply_error(d, id, id_len, m->request_id,
			    "ntm-ssdpd takes LocalHello and LocalSsdpSearch only");
		break;
	}
}

static void on_router(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct ssdpd *d = arg;
	uint8_t id[SSDP_IPC_MAX_ROUTING_ID];

	for (int i = 0; i < HOME_IPC_BATCH; i++) {
		size_t id_len = 0;
		int error = 0;
		Ntm__LocalMessage *m = ssdp_ipc_recv(sock, id, &id_len, &error);

		if (!m && error == -EAGAIN)
			return;
		if (!m) {
			ssdpd_drop(d, SSDPD_DROP_BAD_IPC);
			log_debug("ipc %s: dropped a malformed LocalMessage", d->cfg.ipc);
			continue;
		}
		handle_message(d, id, id_len, m);
		ntm__local_message__free_unpacked(m, NULL);
	}
}

void ssdp_home_send_gone(struct ssdpd *d, const char *usn)
{
	struct ssdp_home *h = d->home;
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalSsdpGone gone = NTM__LOCAL_SSDP_GONE__INIT;

	gone.usn = (char *)usn;
	m.protocol_version = NTM_PROTOCOL_VERSION;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_SSDP_GONE;
	m.ssdp_gone = &gone;
	for (size_t i = 0; i < h->n_clients;) {
		int rc = reply(d, h->clients[i].routing_id, h->clients[i].routing_id_len, &m);

		/* ZMQ_ROUTER_MANDATORY: the client disconnected. */
		if (rc == -EHOSTUNREACH) {
			forget_client(h, i);
			continue;
		}
		if (rc == 0)
			d->counters[SSDPD_GONE_SENT]++;
		i++;
	}
}

int ssdp_home_ipc_start(struct ssdpd *d, char *err, size_t err_size)
{
	struct ssdp_home *h = d->home;
	int one = 1;

	h->router = zmq_socket(d->zmq_ctx, ZMQ_ROUTER);
	if (!h->router) {
		snprintf(err, err_size, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
		return -1;
	}
	ssdp_ipc_setup(h->router);
	zmq_setsockopt(h->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	if (ssdp_ipc_bind(h->router, d->cfg.ipc, err, err_size) < 0)
		return -1;
	if (ntm_loop_add_zsock(d->loop, h->router, ZMQ_POLLIN, on_router, d) < 0) {
		snprintf(err, err_size, "cannot watch the ipc socket");
		return -1;
	}
	return 0;
}

void ssdp_home_ipc_stop(struct ssdpd *d)
{
	struct ssdp_home *h = d->home;

	ntm_loop_close_zsock(d->loop, &h->router);
}
