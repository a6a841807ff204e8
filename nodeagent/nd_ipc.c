/*
 * Local IPC (docs/protocol.md, "Local IPC"): ntm-ssdpd and ntm-dad on this
 * host reach the DC and the tunnels through ntm-noded, the only process
 * holding the node's key. A ZeroMQ ROUTER on an ipc:// path carries
 * LocalMessage; the socket file is created mode 0600, so only this user's
 * processes can connect.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <zmq.h>

#include "local.pb-c.h"
#include "nd.h"
#include "nd_tun.h"
#include "ntm_time.h"
#include "ntm_zrouter.h"

#define ND_IPC_MAX_MESSAGE (64 * 1024)
#define ND_IPC_MAX_IDENTITY 64
#define ND_IPC_MAX_WAITS 64
/* First byte of a tunnel control message inside a data packet. */
#define ND_INNER_CONTROL 0x00

struct ipc_client {
	uint8_t id[ND_IPC_MAX_IDENTITY];
	size_t id_len;
	bool known;
};

/* A LocalTunnelRequest waiting for its tunnel. */
struct ipc_wait {
	struct ipc_client client;
	uint64_t request_id;
	struct nd_peer *peer;
};

struct nd_ipc {
	void *ctx;
	void *router;
	struct ipc_client ssdpd, dad;
	struct ipc_wait waits[ND_IPC_MAX_WAITS];
	size_t n_waits;
	uint64_t dropped;
};

static int send_local(struct nd *nd, const struct ipc_client *c, Ntm__LocalMessage *m)
{
	uint8_t buf[ND_IPC_MAX_MESSAGE];
	size_t len;

	if (!c->known)
		return -ENOTCONN;
	m->protocol_version = NTM_PROTOCOL_VERSION;
	len = ntm__local_message__get_packed_size(m);
	if (len > sizeof(buf))
		return -EMSGSIZE;
	ntm__local_message__pack(m, buf);
	if (zmq_send(nd->ipc->router, c->id, c->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(nd->ipc->router, buf, len, ZMQ_DONTWAIT) < 0)
		return -errno;
	return 0;
}

static void send_error(struct nd *nd, const struct ipc_client *c, uint64_t request_id,
		       Ntm__ErrorCode code, const char *message)
{
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__Error error = NTM__ERROR__INIT;

	error.code = code;
	error.message = (char *)message;
	m.request_id = request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_ERROR;
	m.error = &error;
	send_local(nd, c, &m);
}

static void send_status(struct nd *nd, const struct ipc_client *c, uint64_t request_id,
			struct nd_peer *p)
{
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalTunnelStatus st = NTM__LOCAL_TUNNEL_STATUS__INIT;
	struct ntm_ip vip = p->vip;

	st.peer_fqdn = p->fqdn;
	st.peer_vip = ntm_msg_ip_bytes(&vip);
	st.up = p->state == ND_PEER_UP;
	m.request_id = request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_TUNNEL_STATUS;
	m.tunnel_status = &st;
	send_local(nd, c, &m);
}

/* Tells ntm-ssdpd, unasked, when the tunnel to its DLNA Agent goes down
 * or comes back, so that it stops responding with servers it cannot reach
 * and searches again. */
static void report_agent(struct nd *nd, struct nd_peer *peer)
{
	bool up = peer->state == ND_PEER_UP;

	if (!peer->dlna_agent || !nd->ipc->ssdpd.known ||
	    (!up && peer->state != ND_PEER_FAILED) || up == peer->agent_reported_up)
		return;
	peer->agent_reported_up = up;
	send_status(nd, &nd->ipc->ssdpd, 0, peer);
}

void nd_ipc_peer_changed(struct nd *nd, struct nd_peer *peer)
{
	struct nd_ipc *ipc = nd->ipc;
	size_t i = 0;

	if (!ipc)
		return;
	while (i < ipc->n_waits) {
		struct ipc_wait *w = &ipc->waits[i];

		if (w->peer != peer ||
		    (peer->state != ND_PEER_UP && peer->state != ND_PEER_FAILED)) {
			i++;
			continue;
		}
		send_status(nd, &w->client, w->request_id, peer);
		*w = ipc->waits[--ipc->n_waits];
	}
	report_agent(nd, peer);
}

void nd_ipc_peer_replaced(struct nd *nd, struct nd_peer *old, struct nd_peer *peer)
{
	peer->dlna_agent = peer->dlna_agent || old->dlna_agent;
	for (size_t i = 0; nd->ipc && i < nd->ipc->n_waits; i++) {
		if (nd->ipc->waits[i].peer == old)
			nd->ipc->waits[i].peer = peer;
	}
}

static bool same_client(const struct ipc_client *a, const struct ipc_client *b)
{
	return a->known && b->known && a->id_len == b->id_len &&
	       memcmp(a->id, b->id, a->id_len) == 0;
}

static void handle_tunnel_request(struct nd *nd, const struct ipc_client *c, uint64_t rid,
				  const Ntm__LocalTunnelRequest *req)
{
	struct nd_ipc *ipc = nd->ipc;
	struct nd_peer *p;

	if (!ntm_msg_fqdn_valid(req->peer_fqdn)) {
		send_error(nd, c, rid, NTM__ERROR_CODE__ERROR_CODE_INVALID, "invalid peer FQDN");
		return;
	}
	p = nd_peer_connect(nd, req->peer_fqdn, NULL);
	if (!p || ipc->n_waits == ND_IPC_MAX_WAITS) {
		send_error(nd, c, rid, NTM__ERROR_CODE__ERROR_CODE_LIMIT,
			   nd->reg != ND_REG_DONE ? "this node is not registered with its DC yet"
						  : "cannot start a tunnel now");
		return;
	}
	/* ntm-ssdpd in player mode asks only for its configured DLNA Agent. */
	if (same_client(c, &ipc->ssdpd))
		p->dlna_agent = true;
	ipc->waits[ipc->n_waits++] = (struct ipc_wait){ *c, rid, p };
	nd_ipc_peer_changed(nd, p);
}

/* Moves the body of a LocalTunnelMessage into an Envelope. Returns false
 * when tm has no body a tunnel carries. */
static bool body_to_envelope(const Ntm__LocalTunnelMessage *tm, Ntm__Envelope *env)
{
	switch (tm->body_case) {
	case NTM__LOCAL_TUNNEL_MESSAGE__BODY_MSEARCH_REQUEST:
		env->body_case = NTM__ENVELOPE__BODY_MSEARCH_REQUEST;
		env->msearch_request = tm->msearch_request;
		return true;
	case NTM__LOCAL_TUNNEL_MESSAGE__BODY_MSEARCH_RESPONSE:
		env->body_case = NTM__ENVELOPE__BODY_MSEARCH_RESPONSE;
		env->msearch_response = tm->msearch_response;
		return true;
	case NTM__LOCAL_TUNNEL_MESSAGE__BODY_GENA_CALLBACK_ROUTE:
		env->body_case = NTM__ENVELOPE__BODY_GENA_CALLBACK_ROUTE;
		env->gena_callback_route = tm->gena_callback_route;
		return true;
	default:
		return false;
	}
}

/* Sends the message of tm to a peer inside its tunnel. */
static int send_tunnel_control(struct nd *nd, struct nd_peer *p, uint64_t request_id,
			       const Ntm__LocalTunnelMessage *tm)
{
	static uint8_t inner[ND_IPC_MAX_MESSAGE + 1];
	Ntm__Envelope env = NTM__ENVELOPE__INIT;

	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.request_id = request_id;
	if (!body_to_envelope(tm, &env) || ntm_msg_validate(&env, NULL, 0) != NTM_MSG_OK)
		return -EINVAL;

	ssize_t len = ntm_msg_pack(&env, inner + 1, sizeof(inner) - 1);
	if (len < 0)
		return (int)len;
	inner[0] = ND_INNER_CONTROL;
	return nd_data_send(nd, p, inner, (size_t)len + 1);
}

static void handle_tunnel_message(struct nd *nd, const struct ipc_client *c, uint64_t rid,
				  const Ntm__LocalTunnelMessage *tm)
{
	struct nd_peer *p = NULL;
	struct ntm_ip vip;

	if (tm->peer_fqdn && tm->peer_fqdn[0])
		p = nd_peer_by_fqdn(nd, tm->peer_fqdn);
	else if (ntm_msg_ip_get(&vip, tm->peer_vip) == 0)
		p = nd_peer_by_vip(nd, &vip);
	if (!p || p->state != ND_PEER_UP) {
		send_error(nd, c, rid, NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND,
			   "no tunnel is up to that peer; send a LocalTunnelRequest first");
		return;
	}
	if (tm->body_case == NTM__LOCAL_TUNNEL_MESSAGE__BODY__NOT_SET) {
		send_error(nd, c, rid, NTM__ERROR_CODE__ERROR_CODE_INVALID, "no message body");
		return;
	}
	if (send_tunnel_control(nd, p, tm->request_id ? tm->request_id : rid, tm) < 0)
		send_error(nd, c, rid, NTM__ERROR_CODE__ERROR_CODE_INVALID,
			   "the message is invalid or too large for a tunnel packet");
}

/*
 * Makes the pool VIPs local addresses of the TUN device. The DLNA Agent's
 * proxy gets connections to them by an nftables redirect either way, but
 * its GENA NOTIFYs to players are sent from a server's VIP, and the kernel
 * routes a packet from a non-local source address nowhere.
 */
static void add_pool_addresses(struct nd *nd, const Ntm__VipPoolGrant *grant)
{
	char err[256];
	struct ntm_ip vip;

	for (size_t i = 0; i < grant->n_vips; i++) {
		if (ntm_msg_ip_get(&vip, grant->vips[i]) == 0 &&
		    nd_tun_addr_add(nd->tun_name, &vip, err, sizeof(err)) < 0)
			log_warn("local IPC: %s", err);
	}
}

static void on_pool_grant(struct nd *nd, const Ntm__Envelope *env, void *arg)
{
	struct ipc_wait *w = arg;
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;

	if (!env || env->body_case != NTM__ENVELOPE__BODY_VIP_POOL_GRANT) {
		send_error(nd, &w->client, w->request_id,
			   env && env->body_case == NTM__ENVELOPE__BODY_ERROR
				   ? env->error->code
				   : NTM__ERROR_CODE__ERROR_CODE_TIMEOUT,
			   "the DC did not grant the VIP pool");
		free(w);
		return;
	}
	add_pool_addresses(nd, env->vip_pool_grant);
	m.request_id = w->request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_VIP_POOL_GRANT;
	m.vip_pool_grant = env->vip_pool_grant;
	send_local(nd, &w->client, &m);
	free(w);
}

static void handle_pool_request(struct nd *nd, const struct ipc_client *c, uint64_t rid,
				const Ntm__LocalVipPoolRequest *req)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__VipPoolRequest pr = NTM__VIP_POOL_REQUEST__INIT;
	struct ipc_wait *w = calloc(1, sizeof(*w));

	if (!w)
		return;
	w->client = *c;
	w->request_id = rid;
	pr.count = req->count;
	env.body_case = NTM__ENVELOPE__BODY_VIP_POOL_REQUEST;
	env.vip_pool_request = &pr;
	if (nd->reg != ND_REG_DONE || nd_dc_request(nd, &env, on_pool_grant, w) < 0) {
		send_error(nd, c, rid, NTM__ERROR_CODE__ERROR_CODE_REGISTRATION_REQUIRED,
			   "this node is not registered with its DC yet; retry");
		free(w);
	}
}

static void handle_hello(struct nd *nd, const struct ipc_client *c, const Ntm__LocalHello *h)
{
	if (strcmp(h->role, "ssdpd") == 0)
		nd->ipc->ssdpd = *c;
	else if (strcmp(h->role, "dad") == 0)
		nd->ipc->dad = *c;
	else
		return;
	log_info("local IPC: %s connected", h->role);
}

static void dispatch(struct nd *nd, const struct ipc_client *c, const Ntm__LocalMessage *m)
{
	switch (m->body_case) {
	case NTM__LOCAL_MESSAGE__BODY_HELLO:
		handle_hello(nd, c, m->hello);
		break;
	case NTM__LOCAL_MESSAGE__BODY_TUNNEL_REQUEST:
		handle_tunnel_request(nd, c, m->request_id, m->tunnel_request);
		break;
	case NTM__LOCAL_MESSAGE__BODY_TUNNEL_MESSAGE:
		handle_tunnel_message(nd, c, m->request_id, m->tunnel_message);
		break;
	case NTM__LOCAL_MESSAGE__BODY_VIP_POOL_REQUEST:
		handle_pool_request(nd, c, m->request_id, m->vip_pool_request);
		break;
	default:
		nd->ipc->dropped++;
		send_error(nd, c, m->request_id, NTM__ERROR_CODE__ERROR_CODE_INVALID,
			   "message not handled by ntm-noded");
	}
}

static void on_router(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct nd *nd = arg;
	struct ipc_client c = { .known = true };
	zmq_msg_t msg;

	if (ntm_zrouter_recv(sock, c.id, sizeof(c.id), &c.id_len, &msg) < 0)
		return;

	Ntm__LocalMessage *m = ntm__local_message__unpack(NULL, zmq_msg_size(&msg),
							  zmq_msg_data(&msg));

	if (m && m->body_case != NTM__LOCAL_MESSAGE__BODY__NOT_SET)
		dispatch(nd, &c, m);
	else
		nd->ipc->dropped++;
	if (m)
		ntm__local_message__free_unpacked(m, NULL);
	zmq_msg_close(&msg);
}

/* A tunnel control message from peer p: act on a GENA callback route, pass
 * the others to the local daemon that handles them. */
void nd_ipc_tunnel_control(struct nd *nd, struct nd_peer *p, const uint8_t *buf, size_t len)
{
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalTunnelMessage tm = NTM__LOCAL_TUNNEL_MESSAGE__INIT;
	enum ntm_msg_status st;
	char why[160];
	struct ntm_ip vip = p->vip;
	const struct ipc_client *to;

	Ntm__Envelope *env = ntm_msg_unpack(buf, len, &st, why, sizeof(why));
	if (!env) {
		nd_drop(nd, &p->endpoint, ND_DROP_BAD_MESSAGE, why);
		return;
	}
	if (env->body_case == NTM__ENVELOPE__BODY_GENA_CALLBACK_ROUTE) {
		nd_gena_route(nd, p, env->gena_callback_route);
		ntm_msg_free(env);
		return;
	}
	tm.peer_fqdn = p->fqdn;
	tm.peer_vip = ntm_msg_ip_bytes(&vip);
	tm.request_id = env->request_id;
	if (env->body_case == NTM__ENVELOPE__BODY_MSEARCH_REQUEST) {
		tm.body_case = NTM__LOCAL_TUNNEL_MESSAGE__BODY_MSEARCH_REQUEST;
		tm.msearch_request = env->msearch_request;
		to = nd->ipc ? &nd->ipc->dad : NULL;
	} else if (env->body_case == NTM__ENVELOPE__BODY_MSEARCH_RESPONSE) {
		tm.body_case = NTM__LOCAL_TUNNEL_MESSAGE__BODY_MSEARCH_RESPONSE;
		tm.msearch_response = env->msearch_response;
		to = nd->ipc ? &nd->ipc->ssdpd : NULL;
	} else {
		to = NULL;
	}
	m.request_id = env->request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_TUNNEL_MESSAGE;
	m.tunnel_message = &tm;
	if (!to || send_local(nd, to, &m) < 0)
		nd_drop(nd, &p->endpoint, ND_DROP_NO_ROUTE,
			"tunnel control message with no local daemon to take it");
	ntm_msg_free(env);
}

static void make_parent_dir(const char *endpoint)
{
	char dir[256];
	const char *prefix = "ipc://";

	if (strncmp(endpoint, prefix, strlen(prefix)) != 0)
		return;
	if (snprintf(dir, sizeof(dir), "%s", endpoint + strlen(prefix)) >= (int)sizeof(dir))
		return;

	char *slash = strrchr(dir, '/');

	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		log_warn("local IPC: cannot create %s: %s", dir, strerror(errno));
}

static int bind_router(struct nd *nd, char *err, size_t err_size)
{
	const char *path = nd->cfg.ipc;
	int zero = 0;
	int64_t max = ND_IPC_MAX_MESSAGE;

	nd->ipc->router = zmq_socket(nd->ipc->ctx, ZMQ_ROUTER);
	if (!nd->ipc->router) {
		snprintf(err, err_size, "local IPC: cannot create a socket: %s", zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(nd->ipc->router, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(nd->ipc->router, ZMQ_MAXMSGSIZE, &max, sizeof(max));

	/* ipc:///run/ntm/noded.ipc: make /run/ntm when it is missing. */
	make_parent_dir(path);

	mode_t old = umask(077);
	int rc = zmq_bind(nd->ipc->router, path);

	umask(old);
	if (rc < 0) {
		snprintf(err, err_size, "local IPC: cannot bind %s: %s (does its directory exist?)",
			 path, zmq_strerror(errno));
		return -1;
	}
	return 0;
}

int nd_ipc_start(struct nd *nd, char *err, size_t err_size)
{
	if (nd->cfg.ipc[0] == '\0')
		return 0;
	nd->ipc = calloc(1, sizeof(*nd->ipc));
	if (!nd->ipc) {
		snprintf(err, err_size, "local IPC: out of memory");
		return -1;
	}
	nd->ipc->ctx = zmq_ctx_new();
	if (!nd->ipc->ctx || bind_router(nd, err, err_size) < 0)
		return -1;
	if (ntm_loop_add_zsock(nd->loop, nd->ipc->router, ZMQ_POLLIN, on_router, nd) < 0) {
		snprintf(err, err_size, "local IPC: cannot add the socket to the event loop");
		return -1;
	}
	log_info("local IPC listening on %s", nd->cfg.ipc);
	return 0;
}

void nd_ipc_stop(struct nd *nd)
{
	char bound[256] = ""; /* Linux's sun_path: at most 107 bytes and a NUL */
	size_t len = sizeof(bound);

	if (!nd->ipc)
		return;
	/* libzmq 4.3 leaves the socket file of a bound ipc:// path behind.
	 * ZMQ_LAST_ENDPOINT is set only after a successful bind, so only a file
	 * this process created is removed. */
	if (nd->ipc->router &&
	    zmq_getsockopt(nd->ipc->router, ZMQ_LAST_ENDPOINT, bound, &len) == 0 &&
	    strncmp(bound, "ipc://", 6) == 0 && bound[6] != '\0' && bound[6] != '@')
		remove(bound + 6);
	ntm_loop_close_zsock(nd->loop, &nd->ipc->router);
	if (nd->ipc->ctx)
		zmq_ctx_term(nd->ipc->ctx);
	free(nd->ipc);
	nd->ipc = NULL;
}
