/*
 * The DC's UDP control socket: receives sealed control packets from nodes,
 * authenticates them, and handles registration, keep-alive, VIP pools and
 * Route Direction acks. Queries and directions have modules of their own.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "dc.h"
#include "dc_federation.h"
#include "ntm_msg.h"
#include "ntm_time.h"

/* Datagrams read per wakeup, so one busy peer cannot starve timers. */
#define DC_RECV_BATCH 64
#define DC_TICK_MS 50

static const char *const drop_names[DC_DROP_COUNT] = {
	[DC_DROP_MALFORMED_PACKET] = "malformed_packet",
	[DC_DROP_UNKNOWN_KEY] = "unknown_key",
	[DC_DROP_AUTH_FAILED] = "auth_failed",
	[DC_DROP_REPLAYED] = "replayed",
	[DC_DROP_BAD_MESSAGE] = "bad_message",
	[DC_DROP_UNEXPECTED] = "unexpected_message",
};

const char *dc_drop_str(enum dc_drop reason)
{
	return reason < DC_DROP_COUNT ? drop_names[reason] : "unknown";
}

/* Counts a dropped packet and logs it at debug, rate-limited. */
static void drop(struct dc *dc, const struct ntm_endpoint *from, enum dc_drop reason,
		 const char *why)
{
	char ep[NTM_ENDPOINT_STRLEN];

	dc->drops[reason]++;
	if (!ntm_log_enabled(NTM_LOG_DEBUG) || !ntm_ratelimit_allow(&dc->drop_log, ntm_now_ms()))
		return;
	log_debug("%s: dropped packet (%s): %s", ntm_endpoint_str(from, ep, sizeof(ep)),
		  dc_drop_str(reason), why ? why : "");
}

static int session_cmp(const void *a, const void *b)
{
	const struct dc_session *const *sa = a;
	const struct dc_session *const *sb = b;

	return memcmp((*sa)->node.key, (*sb)->node.key, NTM_KEY_LEN);
}

static ssize_t session_index(struct dc *dc, const uint8_t key[NTM_KEY_LEN])
{
	size_t lo = 0, hi = dc->n_sessions;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(dc->sessions[mid]->node.key, key, NTM_KEY_LEN);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

struct dc_session *dc_session_find(struct dc *dc, const uint8_t key[NTM_KEY_LEN])
{
	ssize_t i = session_index(dc, key);

	return i < 0 ? NULL : dc->sessions[i];
}

/* Converts a stored wall-clock time to the monotonic clock, so a node that
 * went silent before a DC restart goes offline on time after it. */
static uint64_t mono_from_wall(uint64_t wall_ms)
{
	uint64_t now_wall = ntm_wall_ms(), now_mono = ntm_now_ms();
	uint64_t age = wall_ms && wall_ms < now_wall ? now_wall - wall_ms : 0;

	return age < now_mono ? now_mono - age : 0;
}

static struct dc_session *session_new(struct dc *dc, const struct dc_node *node)
{
	struct dc_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->node = *node;
	if (ntm_ctl_keys_derive(&s->keys, &dc->key, node->key) < 0) {
		char id[9];

		log_warn("node %s (%s): cannot derive control keys: the public key is invalid",
			 node->fqdn, ntm_key_id(node->key, id));
		free(s);
		return NULL;
	}
	ntm_replay_reset(&s->window, node->counter_floor);
	s->last_seen_mono_ms = mono_from_wall(node->last_seen_ms);
	return s;
}

/* Inserts without sorting; callers sort once after a batch. */
static int session_append(struct dc *dc, struct dc_session *s)
{
	if (dc->n_sessions == dc->cap_sessions) {
		size_t cap = dc->cap_sessions ? dc->cap_sessions * 2 : 64;
		struct dc_session **grown = realloc(dc->sessions, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		dc->sessions = grown;
		dc->cap_sessions = cap;
	}
	dc->sessions[dc->n_sessions++] = s;
	return 0;
}

int dc_session_add(struct dc *dc, const struct dc_node *node)
{
	struct dc_session *s = session_new(dc, node);

	if (!s)
		return -EINVAL;
	if (session_append(dc, s) < 0) {
		ntm_ctl_keys_wipe(&s->keys);
		free(s);
		return -ENOMEM;
	}
	qsort(dc->sessions, dc->n_sessions, sizeof(*dc->sessions), session_cmp);
	return 0;
}

static void session_free(struct dc_session *s)
{
	ntm_ctl_keys_wipe(&s->keys);
	free(s);
}

void dc_session_revoke(struct dc *dc, const uint8_t key[NTM_KEY_LEN])
{
	ssize_t i = session_index(dc, key);

	if (i < 0)
		return;

	struct dc_session *s = dc->sessions[i];

	if (s->node.observed.ip.len != 0)
		dc_send_error(dc, s, 0, NTM__ERROR_CODE__ERROR_CODE_REVOKED,
			      "this node's key was revoked by the DC's operator");
	dc_pending_drop_key(dc, key);
	memmove(&dc->sessions[i], &dc->sessions[i + 1],
		(dc->n_sessions - (size_t)i - 1) * sizeof(*dc->sessions));
	dc->n_sessions--;
	session_free(s);
}

static int load_one(const struct dc_node *node, void *arg)
{
	struct dc *dc = arg;
	struct dc_session *s = session_new(dc, node);

	if (!s)
		return 0;
	if (session_append(dc, s) < 0) {
		session_free(s);
		return -1;
	}
	return 0;
}

static void check_offline(struct dc *dc)
{
	uint64_t now = ntm_now_ms();
	uint64_t limit = dc->cfg.offline_after_s * 1000;

	for (size_t i = 0; i < dc->n_sessions; i++) {
		struct dc_session *s = dc->sessions[i];

		if (!s->node.online || now - s->last_seen_mono_ms < limit)
			continue;
		s->node.online = false;
		log_info("node %s: offline, no packet for %llu s", s->node.fqdn,
			 (unsigned long long)dc->cfg.offline_after_s);
		if (dc_store_update_record(dc->store, &s->node) != DC_STORE_OK)
			log_warn("node %s: offline state not saved", s->node.fqdn);
	}
}

static int load_sessions(struct dc *dc, char *err, size_t err_size)
{
	size_t total = 0;

	if (dc_store_list(dc->store, -1, 0, 0, load_one, dc, &total) != DC_STORE_OK) {
		snprintf(err, err_size, "cannot load the enrolled nodes from %s", dc->cfg.database);
		return -1;
	}
	if (dc->n_sessions > 0)
		qsort(dc->sessions, dc->n_sessions, sizeof(*dc->sessions), session_cmp);
	/* Nodes silent for offline_after before the restart are offline now. */
	check_offline(dc);
	log_info("loaded %zu enrolled nodes from %s", dc->n_sessions, dc->cfg.database);
	return 0;
}

static int send_packet(struct dc *dc, struct dc_session *s, const struct ntm_endpoint *ep,
		       const uint8_t *pkt, size_t len)
{
	struct sockaddr_storage ss;
	char text[NTM_ENDPOINT_STRLEN];
	socklen_t sl = ntm_endpoint_to_sockaddr(ep, &ss);

	if (sendto(dc->udp_fd, pkt, len, 0, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;

		log_debug("node %s at %s: sendto failed: %s", s->node.fqdn,
			  ntm_endpoint_str(ep, text, sizeof(text)), strerror(e));
		return -e;
	}
	return 0;
}

/* Seals env for the session's node and sends it to ep. */
static int send_to(struct dc *dc, struct dc_session *s, const struct ntm_endpoint *ep,
		   const Ntm__Envelope *env)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET];

	ssize_t len = ntm_msg_seal(pkt, sizeof(pkt), &dc->key, &s->keys, ++dc->send_counter, env);
	if (len < 0) {
		log_warn("node %s: message too large to send (%zd)", s->node.fqdn, len);
		return (int)len;
	}
	return send_packet(dc, s, ep, pkt, (size_t)len);
}

int dc_send_packed(struct dc *dc, struct dc_session *s, const uint8_t *plain, size_t plain_len)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET];

	if (s->node.observed.ip.len == 0)
		return -ENOTCONN;

	ssize_t len = ntm_ctl_seal(pkt, sizeof(pkt), dc->key.pub, &s->keys, ++dc->send_counter,
				   plain, plain_len);
	if (len < 0)
		return (int)len;
	return send_packet(dc, s, &s->node.observed, pkt, (size_t)len);
}

int dc_send(struct dc *dc, struct dc_session *s, const Ntm__Envelope *env)
{
	if (s->node.observed.ip.len == 0)
		return -ENOTCONN;
	return send_to(dc, s, &s->node.observed, env);
}

static void fill_error(Ntm__Envelope *env, Ntm__Error *error, uint64_t request_id,
		       Ntm__ErrorCode code, const char *message)
{
	error->code = code;
	error->message = (char *)message;
	env->protocol_version = NTM_PROTOCOL_VERSION;
	env->request_id = request_id;
	env->body_case = NTM__ENVELOPE__BODY_ERROR;
	env->error = error;
}

int dc_send_error(struct dc *dc, struct dc_session *s, uint64_t request_id, Ntm__ErrorCode code,
		  const char *message)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__Error error = NTM__ERROR__INIT;

	fill_error(&env, &error, request_id, code, message);
	return dc_send(dc, s, &env);
}

/*
 * Answers a node that has not registered since this DC started. Its packet
 * changes nothing, not even the observed endpoint: a packet replayed from
 * before a restart must not move the record (docs/protocol.md, "Replay
 * protection").
 */
static void require_registration(struct dc *dc, struct dc_session *s, uint64_t request_id,
				 const struct ntm_endpoint *from)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__Error error = NTM__ERROR__INIT;

	fill_error(&env, &error, request_id, NTM__ERROR_CODE__ERROR_CODE_REGISTRATION_REQUIRED,
		   "the DC has no registration for this node since it started");
	send_to(dc, s, from, &env);
}

static void persist(struct dc *dc, struct dc_session *s, uint64_t counter)
{
	if (counter > s->node.counter_floor)
		s->node.counter_floor = counter;
	if (dc_store_update_record(dc->store, &s->node) != DC_STORE_OK)
		log_warn("node %s: record change not saved; it is lost if the DC restarts",
			 s->node.fqdn);
}

static bool endpoint_reported(const struct dc_node *node, const struct ntm_endpoint *ep)
{
	for (size_t i = 0; i < node->n_local; i++) {
		if (ntm_endpoint_equal(&node->local[i], ep))
			return true;
	}
	return false;
}

static void fill_prefixes(struct dc *dc, Ntm__Prefix *storage, Ntm__Prefix **ptrs,
			  struct ntm_prefix *copies, size_t max, size_t *n)
{
	*n = 0;
	copies[0] = dc->cfg.vip_prefix;
	*n += dc_fed_prefixes(dc, &copies[1], max - 1) + 1;
	for (size_t i = 0; i < *n; i++) {
		ntm__prefix__init(&storage[i]);
		storage[i].ip = ntm_msg_ip_bytes(&copies[i].ip);
		storage[i].prefix_len = copies[i].len;
		ptrs[i] = &storage[i];
	}
}

static void send_registration_response(struct dc *dc, struct dc_session *s, uint64_t request_id)
{
	enum { MAX_PREFIXES = 1 + DC_MAX_FED_PEERS * 4 };
	static struct dc_record_pb rec;
	Ntm__RegistrationResponse resp = NTM__REGISTRATION_RESPONSE__INIT;
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__Prefix prefixes[MAX_PREFIXES], *prefix_ptrs[MAX_PREFIXES];
	struct ntm_prefix copies[MAX_PREFIXES];
	size_t n = 0;

	dc_record_to_pb(&rec, &s->node, dc->cfg.domain, dc->store);
	fill_prefixes(dc, prefixes, prefix_ptrs, copies, MAX_PREFIXES, &n);
	resp.record = &rec.msg;
	resp.n_vip_prefixes = n;
	resp.vip_prefixes = prefix_ptrs;
	resp.keepalive_interval_s = (uint32_t)dc->cfg.keepalive_interval_s;
	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.request_id = request_id;
	env.body_case = NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE;
	env.registration_response = &resp;
	dc_send(dc, s, &env);
}

/* A reported endpoint a peer could send to: not unspecified, not
 * multicast, not the IPv4 broadcast address, and with a port. Others are
 * left out, so the DC never directs peers at them. */
static bool endpoint_usable(const struct ntm_endpoint *ep)
{
	const uint8_t *b = ep->ip.bytes;
	static const uint8_t zero[16];

	if (ep->port == 0 || memcmp(b, zero, ep->ip.len) == 0)
		return false;
	if (ep->ip.len == 4)
		return b[0] < 224;
	return b[0] != 0xff;
}

static void handle_registration(struct dc *dc, struct dc_session *s, uint64_t request_id,
				uint64_t counter, const Ntm__RegistrationRequest *req)
{
	char ep[NTM_ENDPOINT_STRLEN];
	struct dc_node *n = &s->node;

	if (strcmp(req->fqdn, n->fqdn) != 0) {
		log_info("node %s at %s: registration names FQDN '%s', not the enrolled one",
			 n->fqdn, ntm_endpoint_str(&n->observed, ep, sizeof(ep)), req->fqdn);
		dc_send_error(dc, s, request_id, NTM__ERROR_CODE__ERROR_CODE_FQDN_MISMATCH,
			      "the FQDN differs from the one enrolled with this key");
		return;
	}

	n->n_local = 0;
	for (size_t i = 0; i < req->n_local_endpoints; i++) {
		if (ntm_msg_endpoint_get(&n->local[n->n_local], req->local_endpoints[i]) == 0 &&
		    endpoint_usable(&n->local[n->n_local]))
			n->n_local++;
	}
	n->behind_nat = !endpoint_reported(n, &n->observed);
	n->online = true;
	n->last_seen_ms = ntm_wall_ms();
	if (!s->registered)
		log_info("node %s registered from %s (VIP %s, %s)", n->fqdn,
			 ntm_endpoint_str(&n->observed, ep, sizeof(ep)),
			 ntm_ip_str(&n->vip, (char[INET6_ADDRSTRLEN]){0}, INET6_ADDRSTRLEN),
			 n->behind_nat ? "behind NAT" : "no NAT");
	/* The first registration since this DC started closes the window on
	 * everything the node sent before it, so a keep-alive replayed from before
	 * a restart cannot move the record afterwards. */
	if (!s->registered)
		ntm_replay_reset(&s->window, counter);
	s->registered = true;
	dc->registrations++;
	/* Answer before the synchronous write: a node re-registering after a
	 * move should not wait for the disk. A crash in between loses only this
	 * change, and the node registers again after the restart anyway. */
	send_registration_response(dc, s, request_id);
	persist(dc, s, counter);
}

static void handle_keepalive(struct dc *dc, struct dc_session *s, uint64_t request_id,
			     uint64_t counter, bool moved)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__KeepAliveAck ack = NTM__KEEP_ALIVE_ACK__INIT;
	Ntm__Endpoint observed = NTM__ENDPOINT__INIT;

	/* A NAT rebinding: the node cannot see it, so the DC follows it. */
	if (moved)
		s->node.behind_nat = !endpoint_reported(&s->node, &s->node.observed);
	ntm_msg_endpoint_set(&observed, &s->node.observed);
	ack.observed = &observed;
	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.request_id = request_id;
	env.body_case = NTM__ENVELOPE__BODY_KEEP_ALIVE_ACK;
	env.keep_alive_ack = &ack;
	dc_send(dc, s, &env);
	if (moved)
		persist(dc, s, counter);
}

static void handle_pool_request(struct dc *dc, struct dc_session *s, uint64_t request_id,
				const Ntm__VipPoolRequest *req)
{
	static struct ntm_ip vips[NTM_MAX_POOL_VIPS];
	static ProtobufCBinaryData bytes[NTM_MAX_POOL_VIPS];
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__VipPoolGrant grant = NTM__VIP_POOL_GRANT__INIT;
	size_t n = 0;

	/* A grant, and every later registration response that lists the pool,
	 * must fit one control packet: 128 IPv4 VIPs do, 256 do not. */
	if (req->count > DC_MAX_POOL) {
		dc_send_error(dc, s, request_id, NTM__ERROR_CODE__ERROR_CODE_LIMIT,
			      "a VIP pool holds at most 128 addresses");
		return;
	}

	enum dc_store_status st = dc_store_pool_grant(dc->store, s->node.key, req->count, vips,
						      NTM_MAX_POOL_VIPS, &n);
	if (st == DC_STORE_FULL) {
		dc_send_error(dc, s, request_id, NTM__ERROR_CODE__ERROR_CODE_NO_VIP,
			      "the DC's VIP prefix has too few free addresses");
		return;
	}
	if (st != DC_STORE_OK) {
		dc_send_error(dc, s, request_id, NTM__ERROR_CODE__ERROR_CODE_LIMIT,
			      "the DC could not store the pool");
		return;
	}
	for (size_t i = 0; i < n; i++)
		bytes[i] = ntm_msg_ip_bytes(&vips[i]);
	grant.n_vips = n;
	grant.vips = bytes;
	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.request_id = request_id;
	env.body_case = NTM__ENVELOPE__BODY_VIP_POOL_GRANT;
	env.vip_pool_grant = &grant;
	log_info("node %s: VIP pool of %zu addresses granted", s->node.fqdn, n);
	dc_send(dc, s, &env);
}

/* Routes an authenticated, validated message to its handler. */
static void dispatch(struct dc *dc, struct dc_session *s, const struct ntm_endpoint *from,
		     uint64_t counter, bool moved, const Ntm__Envelope *env)
{
	uint64_t rid = env->request_id;

	switch (env->body_case) {
	case NTM__ENVELOPE__BODY_REGISTRATION_REQUEST:
		handle_registration(dc, s, rid, counter, env->registration_request);
		break;
	case NTM__ENVELOPE__BODY_KEEP_ALIVE:
		handle_keepalive(dc, s, rid, counter, moved);
		break;
	case NTM__ENVELOPE__BODY_NTM_QUERY:
		dc_handle_query(dc, s, rid, env->ntm_query);
		break;
	case NTM__ENVELOPE__BODY_DIRECTION_REQUEST:
		dc_handle_direction_request(dc, s, rid, env->direction_request);
		break;
	case NTM__ENVELOPE__BODY_ROUTE_DIRECTION_ACK:
		dc_handle_route_ack(dc, s, env->route_direction_ack->direction_id);
		break;
	case NTM__ENVELOPE__BODY_VIP_POOL_REQUEST:
		handle_pool_request(dc, s, rid, env->vip_pool_request);
		break;
	default:
		drop(dc, from, DC_DROP_UNEXPECTED, "message type not handled by a DC");
		break;
	}
}

/* Answers a message of another protocol major version, echoing its
 * request_id so the sender can match the error to its request. */
static void reject_version(struct dc *dc, struct dc_session *s, const uint8_t *pt, size_t len)
{
	Ntm__Envelope *raw = ntm__envelope__unpack(NULL, len, pt);
	uint64_t request_id = raw ? raw->request_id : 0;

	if (raw)
		ntm__envelope__free_unpacked(raw, NULL);
	dc_send_error(dc, s, request_id, NTM__ERROR_CODE__ERROR_CODE_UNSUPPORTED_VERSION,
		      "unsupported protocol major version; this DC speaks version 1");
}

/* Opens a packet from a known session; returns the envelope or NULL. */
static Ntm__Envelope *open_packet(struct dc *dc, struct dc_session *s, const uint8_t *pkt,
				  size_t len, const struct ntm_endpoint *from, uint64_t *counter)
{
	uint8_t pt[NTM_CTL_MAX_PACKET];
	size_t pt_len = 0;
	char why[160];
	enum ntm_msg_status mst;

	enum ntm_codec_status st = ntm_ctl_open(pkt, len, &s->keys, &s->window, pt, sizeof(pt),
						&pt_len, counter);
	if (st != NTM_CODEC_OK) {
		drop(dc, from, st == NTM_CODEC_REPLAYED ? DC_DROP_REPLAYED : DC_DROP_AUTH_FAILED,
		     ntm_codec_status_str(st));
		return NULL;
	}

	Ntm__Envelope *env = ntm_msg_unpack(pt, pt_len, &mst, why, sizeof(why));

	if (!env) {
		drop(dc, from, DC_DROP_BAD_MESSAGE, why);
		if (mst == NTM_MSG_BAD_VERSION)
			reject_version(dc, s, pt, pt_len);
	}
	sodium_memzero(pt, sizeof(pt));
	return env;
}

static void handle_packet(struct dc *dc, const uint8_t *pkt, size_t len,
			  const struct ntm_endpoint *from)
{
	const uint8_t *sender = NULL;
	uint64_t counter = 0;

	enum ntm_codec_status st = ntm_ctl_sender(pkt, len, &sender);
	if (st != NTM_CODEC_OK) {
		drop(dc, from, DC_DROP_MALFORMED_PACKET, ntm_codec_status_str(st));
		return;
	}

	struct dc_session *s = dc_session_find(dc, sender);
	if (!s) {
		drop(dc, from, DC_DROP_UNKNOWN_KEY, "sender key is not enrolled");
		return;
	}

	Ntm__Envelope *env = open_packet(dc, s, pkt, len, from, &counter);
	if (!env)
		return;

	if (!s->registered && env->body_case != NTM__ENVELOPE__BODY_REGISTRATION_REQUEST) {
		require_registration(dc, s, env->request_id, from);
		ntm_msg_free(env);
		return;
	}

	/* Only an authenticated packet may move the node's observed endpoint. */
	bool moved = !ntm_endpoint_equal(&s->node.observed, from);

	s->node.observed = *from;
	if (moved)
		s->node.behind_nat = !endpoint_reported(&s->node, from);
	s->last_seen_mono_ms = ntm_now_ms();
	s->node.last_seen_ms = ntm_wall_ms();
	if (!s->node.online && env->body_case != NTM__ENVELOPE__BODY_REGISTRATION_REQUEST) {
		s->node.online = true;
		log_info("node %s: online again", s->node.fqdn);
		persist(dc, s, counter);
	}
	dispatch(dc, s, from, counter, moved, env);
	ntm_msg_free(env);
}

static void on_udp(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct dc *dc = arg;
	uint8_t buf[NTM_CTL_MAX_PACKET + 1];

	for (int i = 0; i < DC_RECV_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct ntm_endpoint from;
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("control socket: recvfrom failed: %s", strerror(errno));
			return;
		}
		if (ntm_endpoint_from_sockaddr(&from, (struct sockaddr *)&ss, sl) < 0)
			continue;
		/* buf is one byte larger than any valid packet, so n > max means oversized. */
		handle_packet(dc, buf, (size_t)n, &from);
	}
}

static void on_tick(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct dc *dc = arg;
	static uint64_t last_scan;
	uint64_t now = ntm_now_ms();

	dc_pending_tick(dc);
	if (now - last_scan >= 1000) {
		last_scan = now;
		check_offline(dc);
	}
}

static int open_socket(struct dc *dc, char *err, size_t err_size)
{
	struct sockaddr_storage ss;
	socklen_t sl = ntm_endpoint_to_sockaddr(&dc->cfg.listen, &ss);
	char ep[NTM_ENDPOINT_STRLEN];
	int one = 1;

	dc->udp_fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (dc->udp_fd < 0) {
		snprintf(err, err_size, "cannot create the UDP socket: %s", strerror(errno));
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		setsockopt(dc->udp_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(dc->udp_fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(err, err_size, "cannot bind the control socket to %s: %s (is another "
			 "ntm-dcd running, or [dc] listen wrong?)",
			 ntm_endpoint_str(&dc->cfg.listen, ep, sizeof(ep)), strerror(errno));
		return -1;
	}
	return 0;
}

int dc_core_start(struct dc *dc, char *err, size_t err_size)
{
	char ep[NTM_ENDPOINT_STRLEN];

	dc->udp_fd = -1;
	dc->send_counter = ntm_counter_start();
	dc->drop_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(20, 5);
	if (load_sessions(dc, err, err_size) < 0 || open_socket(dc, err, err_size) < 0)
		return -1;
	if (ntm_loop_add_fd(dc->loop, dc->udp_fd, ZMQ_POLLIN, on_udp, dc) < 0 ||
	    !ntm_loop_timer_add(dc->loop, DC_TICK_MS, DC_TICK_MS, on_tick, dc)) {
		snprintf(err, err_size, "cannot register the control socket with the event loop");
		return -1;
	}
	log_info("control socket listening on udp %s",
		 ntm_endpoint_str(&dc->cfg.listen, ep, sizeof(ep)));
	return 0;
}

void dc_core_stop(struct dc *dc)
{
	if (dc->udp_fd >= 0) {
		if (dc->loop)
			ntm_loop_del_fd(dc->loop, dc->udp_fd);
		close(dc->udp_fd);
		dc->udp_fd = -1;
	}
	dc_pending_free_all(dc);
	for (size_t i = 0; i < dc->n_sessions; i++)
		session_free(dc->sessions[i]);
	free(dc->sessions);
	dc->sessions = NULL;
	dc->n_sessions = dc->cap_sessions = 0;
}
