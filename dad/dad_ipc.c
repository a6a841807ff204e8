/*
 * The DLNA Agent's local IPC: to ntm-noded (VIP pool, M-SEARCH Requests
 * from players through their tunnels, the responses back, and GENA callback
 * routes for the players' nodes) and to ntm-ssdpd in home mode (the servers
 * it hears on the LAN). A socket monitor on the ntm-noded connection sends
 * LocalHello and the VIP pool request again on every new connection,
 * because a restarted ntm-noded has lost both.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "dad.h"
#include "local.pb-c.h"
#include "ntm_time.h"
#include "ntm_zmon.h"

#define DAD_IPC_MAX_MESSAGE (64 * 1024)
#define DAD_POOL_RETRY_MS 2000
#define DAD_SEARCH_TIMEOUT_MS 3000
#define DAD_MAX_SEARCHES 64
#define DAD_MAX_ANSWERS NTM_MAX_SSDP_ANSWERS
#define DAD_NODED_MONITOR_ADDRESS "inproc://ntm-dad-noded-monitor"

/* A player's M-SEARCH Request waiting for the server list from ntm-ssdpd. */
struct search {
	uint64_t ssdpd_request_id;
	uint64_t tunnel_request_id;
	char player[NTM_FQDN_MAX + 1];
	uint64_t deadline_ms;
	bool used;
};

struct dad_ipc {
	void *ctx;
	void *noded;
	void *noded_monitor;
	void *ssdpd;
	uint64_t pool_request_id;
	bool pool_granted;
	struct ntm_timer *timer;
	uint64_t pool_requested_ms;
	struct search searches[DAD_MAX_SEARCHES];
};

static int send_msg(void *sock, Ntm__LocalMessage *m)
{
	uint8_t buf[DAD_IPC_MAX_MESSAGE];
	size_t len;

	m->protocol_version = NTM_PROTOCOL_VERSION;
	len = ntm__local_message__get_packed_size(m);
	if (len > sizeof(buf))
		return -EMSGSIZE;
	ntm__local_message__pack(m, buf);
	return zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0 ? -errno : 0;
}

static void send_hello(struct dad *dad)
{
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalHello hello = NTM__LOCAL_HELLO__INIT;

	hello.role = "dad";
	m.body_case = NTM__LOCAL_MESSAGE__BODY_HELLO;
	m.hello = &hello;
	send_msg(dad->ipc->noded, &m);
}

static void request_pool(struct dad *dad)
{
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalVipPoolRequest req = NTM__LOCAL_VIP_POOL_REQUEST__INIT;

	send_hello(dad);
	dad->ipc->pool_requested_ms = ntm_now_ms();
	randombytes_buf(&dad->ipc->pool_request_id, sizeof(dad->ipc->pool_request_id));
	req.count = (uint32_t)dad->cfg.vip_count;
	m.request_id = dad->ipc->pool_request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_VIP_POOL_REQUEST;
	m.vip_pool_request = &req;
	send_msg(dad->ipc->noded, &m);
}

/* True when pool contains the same VIPs in the same order as the server table's
 * pool. Only the event loop writes that pool, so it reads it unlocked. */
static bool same_pool(const struct dad_servers *s, const struct ntm_ip *pool, size_t n)
{
	if (n != s->n_pool)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!ntm_ip_equal(&pool[i], &s->pool[i]))
			return false;
	}
	return true;
}

/* The DC grants the same VIPs again on every request after a reconnection,
 * and then the redirect that is in place stays as it is. */
static void handle_pool(struct dad *dad, const Ntm__VipPoolGrant *grant)
{
	struct ntm_ip pool[NTM_MAX_POOL_VIPS];
	size_t n = 0;
	char err[256];

	for (size_t i = 0; i < grant->n_vips && n < NTM_MAX_POOL_VIPS; i++) {
		if (ntm_msg_ip_get(&pool[n], grant->vips[i]) == 0)
			n++;
	}
	dad->ipc->pool_granted = true;
	if (dad->redirect_installed && same_pool(&dad->servers, pool, n)) {
		log_info("VIP pool of %zu addresses granted again, unchanged", n);
		return;
	}
	dad_servers_set_pool(&dad->servers, pool, n);
	log_info("VIP pool of %zu addresses granted for home media servers", n);
	if (dad_redirect_install(dad, err, sizeof(err)) < 0)
		log_err("%s", err);
}

static struct search *search_slot(struct dad_ipc *ipc)
{
	for (size_t i = 0; i < DAD_MAX_SEARCHES; i++) {
		if (!ipc->searches[i].used)
			return &ipc->searches[i];
	}
	return NULL;
}

static void handle_msearch(struct dad *dad, const Ntm__LocalTunnelMessage *tm)
{
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalSsdpSearch q = NTM__LOCAL_SSDP_SEARCH__INIT;
	struct search *s;
	struct ntm_ip vip;

	dad->searches++;
	if (!dad_node_allowed(dad, tm->peer_fqdn)) {
		dad->refused_nodes++;
		log_info("node %s: M-SEARCH rejected: the node is not in [dad] allow", tm->peer_fqdn);
		return;
	}
	if (ntm_msg_ip_get(&vip, tm->peer_vip) == 0)
		dad_player_seen(dad, tm->peer_fqdn, &vip);
	s = search_slot(dad->ipc);
	if (!s)
		return;
	s->used = true;
	randombytes_buf(&s->ssdpd_request_id, sizeof(s->ssdpd_request_id));
	s->tunnel_request_id = tm->request_id;
	snprintf(s->player, sizeof(s->player), "%s", tm->peer_fqdn);
	s->deadline_ms = ntm_now_ms() + DAD_SEARCH_TIMEOUT_MS;
	q.search_target = tm->msearch_request->search_target;
	q.mx = tm->msearch_request->mx;
	m.request_id = s->ssdpd_request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_SSDP_SEARCH;
	m.ssdp_search = &q;
	send_msg(dad->ipc->ssdpd, &m);
}

/* Returns the value of header name in "Name: value" lines, or NULL. */
static const char *header(const Ntm__SsdpRawAnswer *a, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < a->n_headers; i++) {
		const char *h = a->headers[i];

		if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
			h += n + 1;
			while (*h == ' ' || *h == '\t')
				h++;
			return h;
		}
	}
	return NULL;
}

/* Splits http://HOST[:PORT]/path into the host's offsets within url. */
static int location_host(const char *url, size_t *start, size_t *len)
{
	const char *p = strstr(url, "://");

	if (!p)
		return -EINVAL;
	p += 3;
	*start = (size_t)(p - url);
	*len = strcspn(p, ":/");
	return *len > 0 && *len < INET6_ADDRSTRLEN ? 0 : -EINVAL;
}

/* Translates one raw search response into out: the server gets a VIP, and
 * LOCATION names the VIP instead of the real address. */
static int translate(struct dad *dad, const Ntm__SsdpRawAnswer *a, Ntm__SsdpAnswer *out,
		     char *location, size_t location_size, struct ntm_ip *vip)
{
	const char *usn = header(a, "USN"), *loc = header(a, "LOCATION");
	char host[INET6_ADDRSTRLEN], udn[DAD_UDN_MAX], vip_text[INET6_ADDRSTRLEN];
	size_t start, len;
	struct ntm_ip real;

	if (!usn || !loc || location_host(loc, &start, &len) < 0)
		return -EINVAL;
	memcpy(host, loc + start, len);
	host[len] = '\0';
	if (ntm_ip_parse(&real, host) < 0)
		return -EINVAL;
	snprintf(udn, sizeof(udn), "%.*s", (int)strcspn(usn, ":") + 1 +
		 (int)strcspn(usn + strcspn(usn, ":") + 1, ":"), usn);
	if (dad_servers_map(&dad->servers, udn, &real, loc, vip) < 0) {
		log_warn("server %s at %s: no free VIP in the pool; raise [dad] vip_count", udn,
			 host);
		return -ENOSPC;
	}
	snprintf(location, location_size, "%.*s%s%s", (int)start, loc,
		 ntm_ip_str(vip, vip_text, sizeof(vip_text)), loc + start + len);
	out->usn = (char *)usn;
	out->st = (char *)(header(a, "ST") ? header(a, "ST") : "");
	out->location = location;
	out->server = (char *)(header(a, "SERVER") ? header(a, "SERVER") : "");
	out->max_age_s = 1800;
	const char *cc = header(a, "CACHE-CONTROL");
	const char *ma = cc ? strcasestr(cc, "max-age") : NULL;

	if (ma && (ma = strchr(ma, '=')))
		out->max_age_s = (uint32_t)strtoul(ma + 1, NULL, 10);
	return 0;
}

static void reply_answers(struct dad *dad, struct search *s, const Ntm__LocalSsdpAnswers *ans)
{
	static Ntm__SsdpAnswer answers[DAD_MAX_ANSWERS];
	static Ntm__SsdpAnswer *ptrs[DAD_MAX_ANSWERS];
	static char locations[DAD_MAX_ANSWERS][512];
	static struct ntm_ip vips[DAD_MAX_ANSWERS];
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalTunnelMessage tm = NTM__LOCAL_TUNNEL_MESSAGE__INIT;
	Ntm__MSearchResponse resp = NTM__MSEARCH_RESPONSE__INIT;
	size_t n = 0;

	for (size_t i = 0; ans && i < ans->n_answers && n < DAD_MAX_ANSWERS; i++) {
		ntm__ssdp_answer__init(&answers[n]);
		if (translate(dad, ans->answers[i], &answers[n], locations[n],
			      sizeof(locations[n]), &vips[n]) < 0)
			continue;
		answers[n].vip = ntm_msg_ip_bytes(&vips[n]);
		ptrs[n] = &answers[n];
		n++;
	}
	resp.n_answers = n;
	resp.answers = ptrs;
	resp.last = true;
	tm.peer_fqdn = s->player;
	tm.request_id = s->tunnel_request_id;
	tm.body_case = NTM__LOCAL_TUNNEL_MESSAGE__BODY_MSEARCH_RESPONSE;
	tm.msearch_response = &resp;
	m.request_id = s->tunnel_request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_TUNNEL_MESSAGE;
	m.tunnel_message = &tm;
	log_debug("node %s: M-SEARCH response with %zu servers", s->player, n);
	send_msg(dad->ipc->noded, &m);
	s->used = false;
}

static struct search *search_by_id(struct dad_ipc *ipc, uint64_t id)
{
	for (size_t i = 0; i < DAD_MAX_SEARCHES; i++) {
		if (ipc->searches[i].used && ipc->searches[i].ssdpd_request_id == id)
			return &ipc->searches[i];
	}
	return NULL;
}

static Ntm__LocalMessage *recv_msg(void *sock)
{
	zmq_msg_t msg;
	Ntm__LocalMessage *m = NULL;

	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) >= 0)
		m = ntm__local_message__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
	zmq_msg_close(&msg);
	return m;
}

static void on_noded(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct dad *dad = arg;
	Ntm__LocalMessage *m = recv_msg(sock);

	if (!m)
		return;
	if (m->body_case == NTM__LOCAL_MESSAGE__BODY_VIP_POOL_GRANT &&
	    m->request_id == dad->ipc->pool_request_id)
		handle_pool(dad, m->vip_pool_grant);
	else if (m->body_case == NTM__LOCAL_MESSAGE__BODY_TUNNEL_MESSAGE &&
		 m->tunnel_message->body_case == NTM__LOCAL_TUNNEL_MESSAGE__BODY_MSEARCH_REQUEST)
		handle_msearch(dad, m->tunnel_message);
	else if (m->body_case == NTM__LOCAL_MESSAGE__BODY_ERROR)
		log_info("ntm-noded: %s", m->error->message);
	ntm__local_message__free_unpacked(m, NULL);
}

static void on_ssdpd(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct dad *dad = arg;
	Ntm__LocalMessage *m = recv_msg(sock);
	struct search *s;

	if (!m)
		return;
	if (m->body_case == NTM__LOCAL_MESSAGE__BODY_SSDP_ANSWERS &&
	    (s = search_by_id(dad->ipc, m->request_id)))
		reply_answers(dad, s, m->ssdp_answers);
	else if (m->body_case == NTM__LOCAL_MESSAGE__BODY_SSDP_GONE)
		dad_servers_gone(&dad->servers, m->ssdp_gone->usn);
	ntm__local_message__free_unpacked(m, NULL);
}

/* A new ntm-noded process learns the "dad" client only from LocalHello, and
 * makes the pool VIPs local addresses of the TUN device only when it handles
 * a VipPoolRequest. request_pool sends both. */
static void on_noded_monitor(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct dad *dad = arg;

	switch (ntm_zmon_read(sock)) {
	case NTM_ZMON_CONNECTED:
		log_info("ntm-noded %s: connected; sending LocalHello and the VIP pool request",
			 dad->cfg.noded_ipc);
		dad->ipc->pool_granted = false;
		request_pool(dad);
		break;
	case NTM_ZMON_DISCONNECTED:
		log_warn("ntm-noded %s: disconnected; reconnecting", dad->cfg.noded_ipc);
		break;
	case NTM_ZMON_NONE:
		break;
	}
}

static void on_timer(struct ntm_loop *loop, struct ntm_timer *t, void *arg)
{
	struct dad *dad = arg;
	uint64_t now = ntm_now_ms();

	if (!dad->ipc->pool_granted && now - dad->ipc->pool_requested_ms >= DAD_POOL_RETRY_MS)
		request_pool(dad);
	for (size_t i = 0; i < DAD_MAX_SEARCHES; i++) {
		struct search *s = &dad->ipc->searches[i];

		if (s->used && now >= s->deadline_ms) {
			log_info("node %s: ntm-ssdpd timed out; sending a response with no servers",
				 s->player);
			reply_answers(dad, s, NULL);
		}
	}
}

void dad_ipc_queue_route(struct dad *dad, const struct dad_gena_route *route)
{
	uint64_t one = 1;

	pthread_mutex_lock(&dad->routes_lock);
	if (dad->n_routes < DAD_MAX_QUEUED_ROUTES)
		dad->routes[dad->n_routes++] = *route;
	else
		dad->routes_dropped++;
	pthread_mutex_unlock(&dad->routes_lock);
	if (write(dad->routes_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("GENA: cannot wake the event loop: %s", strerror(errno));
}

/* Sends one route through the tunnel to the player's node. */
static void send_route(struct dad *dad, struct dad_gena_route *r)
{
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalTunnelMessage tm = NTM__LOCAL_TUNNEL_MESSAGE__INIT;
	Ntm__GenaCallbackRoute route = NTM__GENA_CALLBACK_ROUTE__INIT;
	Ntm__Endpoint callback = NTM__ENDPOINT__INIT;
	char player[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN];

	callback.ip = (ProtobufCBinaryData){ 4, (uint8_t *)&r->host };
	callback.port = r->port;
	route.server_vip = (ProtobufCBinaryData){ 4, (uint8_t *)&r->server_vip };
	route.callback = &callback;
	route.lifetime_s = r->lifetime_s;
	tm.peer_vip = (ProtobufCBinaryData){ 4, (uint8_t *)&r->player };
	tm.body_case = NTM__LOCAL_TUNNEL_MESSAGE__BODY_GENA_CALLBACK_ROUTE;
	tm.gena_callback_route = &route;
	randombytes_buf(&m.request_id, sizeof(m.request_id));
	tm.request_id = m.request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_TUNNEL_MESSAGE;
	m.tunnel_message = &tm;
	inet_ntop(AF_INET, &r->player, player, sizeof(player));
	inet_ntop(AF_INET, &r->host, host, sizeof(host));
	int rc = send_msg(dad->ipc->noded, &m);

	if (rc < 0) {
		/* While ntm-noded is away every live route fails each minute. */
		if (!ntm_ratelimit_allow(&dad->routes_log, ntm_now_ms()))
			return;
		log_warn("player %s: GENA callback route to %s:%u not sent to ntm-noded: %s",
			 player, host, (unsigned)r->port, strerror(-rc));
		return;
	}
	dad->routes_sent++;
	log_debug("player %s: GENA callback route to %s:%u for %u s sent", player, host,
		  (unsigned)r->port, (unsigned)r->lifetime_s);
}

static void on_routes(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct dad *dad = arg;
	struct dad_gena_route routes[DAD_MAX_QUEUED_ROUTES];
	uint64_t count;
	size_t n;

	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("GENA: cannot read the wake-up counter: %s", strerror(errno));
	pthread_mutex_lock(&dad->routes_lock);
	n = dad->n_routes;
	memcpy(routes, dad->routes, n * sizeof(routes[0]));
	dad->n_routes = 0;
	pthread_mutex_unlock(&dad->routes_lock);
	for (size_t i = 0; i < n; i++)
		send_route(dad, &routes[i]);
}

static void *new_dealer(void *ctx)
{
	void *sock = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0;
	int64_t max = DAD_IPC_MAX_MESSAGE;

	if (!sock)
		return NULL;
	if (zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
	    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max)) < 0) {
		zmq_close(sock);
		return NULL;
	}
	return sock;
}

/* The monitor is opened before the connection so that it reports the first
 * one, whose event sends the first pool request. ZMQ_IMMEDIATE makes sends
 * fail while ntm-noded is away, so that nothing queues up ahead of the
 * LocalHello of the next connection. */
static int connect_noded(struct dad *dad, char *err, size_t err_size)
{
	struct dad_ipc *ipc = dad->ipc;
	int one = 1;

	ipc->noded = new_dealer(ipc->ctx);
	if (!ipc->noded || zmq_setsockopt(ipc->noded, ZMQ_IMMEDIATE, &one, sizeof(one)) < 0)
		goto fail;
	ipc->noded_monitor = ntm_zmon_open(dad->loop, ipc->ctx, ipc->noded,
					   DAD_NODED_MONITOR_ADDRESS, on_noded_monitor, dad);
	if (!ipc->noded_monitor) {
		snprintf(err, err_size, "local IPC: cannot monitor the connection to %s: %s",
			 dad->cfg.noded_ipc, zmq_strerror(errno));
		return -1;
	}
	if (zmq_connect(ipc->noded, dad->cfg.noded_ipc) < 0)
		goto fail;
	return 0;

fail:
	snprintf(err, err_size, "local IPC: cannot connect to %s: %s", dad->cfg.noded_ipc,
		 zmq_strerror(errno));
	return -1;
}

static int connect_ssdpd(struct dad *dad, char *err, size_t err_size)
{
	struct dad_ipc *ipc = dad->ipc;

	ipc->ssdpd = new_dealer(ipc->ctx);
	if (!ipc->ssdpd || zmq_connect(ipc->ssdpd, dad->cfg.ssdpd_ipc) < 0) {
		snprintf(err, err_size, "local IPC: cannot connect to %s: %s", dad->cfg.ssdpd_ipc,
			 zmq_strerror(errno));
		return -1;
	}
	return 0;
}

int dad_ipc_start(struct dad *dad, char *err, size_t err_size)
{
	dad->ipc = calloc(1, sizeof(*dad->ipc));
	if (!dad->ipc || !(dad->ipc->ctx = zmq_ctx_new())) {
		snprintf(err, err_size, "local IPC: out of memory");
		return -1;
	}
	if (connect_noded(dad, err, err_size) < 0 || connect_ssdpd(dad, err, err_size) < 0)
		return -1;
	ntm_loop_add_zsock(dad->loop, dad->ipc->noded, ZMQ_POLLIN, on_noded, dad);
	ntm_loop_add_zsock(dad->loop, dad->ipc->ssdpd, ZMQ_POLLIN, on_ssdpd, dad);
	ntm_loop_add_fd(dad->loop, dad->routes_fd, ZMQ_POLLIN, on_routes, dad);
	dad->ipc->timer = ntm_loop_timer_add(dad->loop, 250, 250, on_timer, dad);
	return 0;
}

void dad_ipc_stop(struct dad *dad)
{
	struct dad_ipc *ipc = dad->ipc;

	if (!ipc)
		return;
	if (ipc->timer)
		ntm_loop_timer_cancel(dad->loop, ipc->timer);
	ntm_loop_del_fd(dad->loop, dad->routes_fd);
	ntm_zmon_close(dad->loop, ipc->noded, &ipc->noded_monitor);
	ntm_loop_close_zsock(dad->loop, &ipc->noded);
	ntm_loop_close_zsock(dad->loop, &ipc->ssdpd);
	if (ipc->ctx)
		zmq_ctx_term(ipc->ctx);
	free(ipc);
	dad->ipc = NULL;
}
