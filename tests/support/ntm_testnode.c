/* Scripted NTM node for the integration tests and ntm-scriptnode. */
#include "ntm_testnode.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ntm_log.h"
#include "ntm_time.h"

/* Selects the Envelopes a wait returns. Everything else goes to the backlog. */
struct match {
	Ntm__Envelope__BodyCase body;   /* NOT_SET: any body */
	bool by_request_id;
	uint64_t request_id;
};

static bool match_env(const struct match *m, const Ntm__Envelope *env)
{
	if (m->by_request_id && env->request_id != m->request_id)
		return false;
	if (m->body != NTM__ENVELOPE__BODY__NOT_SET && env->body_case != m->body)
		return false;
	return true;
}

int ntm_testnode_open(struct ntm_testnode *node, const char *bind_ip, uint16_t port,
		      const struct ntm_endpoint *dc, const uint8_t dc_pub[NTM_KEY_LEN],
		      const struct ntm_keypair *kp)
{
	struct ntm_endpoint ep = { .port = port };
	struct sockaddr_storage ss;
	socklen_t sslen;
	int rc;

	memset(node, 0, sizeof(*node));
	node->fd = -1;
	if (sodium_init() < 0)
		return -EIO;
	if (ntm_ip_parse(&ep.ip, bind_ip) != 0)
		return -EINVAL;

	if (kp)
		node->kp = *kp;
	else
		ntm_keypair_generate(&node->kp);
	node->dc = *dc;
	memcpy(node->dc_pub, dc_pub, NTM_KEY_LEN);
	rc = ntm_ctl_keys_derive(&node->keys, &node->kp, dc_pub);
	if (rc != 0)
		return rc;
	ntm_replay_reset(&node->rx_window, 0);
	node->counter = ntm_counter_start();
	randombytes_buf(&node->next_request_id, sizeof(node->next_request_id));

	sslen = ntm_endpoint_to_sockaddr(&ep, &ss);
	node->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (node->fd < 0)
		return -errno;
	if (bind(node->fd, (struct sockaddr *)&ss, sslen) != 0)
		return -errno;
	sslen = sizeof(ss);
	if (getsockname(node->fd, (struct sockaddr *)&ss, &sslen) != 0)
		return -errno;
	return ntm_endpoint_from_sockaddr(&node->local, (struct sockaddr *)&ss, sslen);
}

void ntm_testnode_close(struct ntm_testnode *node)
{
	size_t i;

	if (node->fd >= 0)
		close(node->fd);
	node->fd = -1;
	for (i = 0; i < node->n_backlog; i++)
		ntm_msg_free(node->backlog[i]);
	node->n_backlog = 0;
	ntm_keypair_wipe(&node->kp);
	ntm_ctl_keys_wipe(&node->keys);
}

ssize_t ntm_testnode_seal(struct ntm_testnode *node, const Ntm__Envelope *env, uint8_t *out,
			  size_t out_size)
{
	ssize_t n = ntm_msg_seal(out, out_size, &node->kp, &node->keys, node->counter, env);

	if (n >= 0)
		node->counter++;
	return n;
}

int ntm_testnode_send_raw(struct ntm_testnode *node, const void *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen = ntm_endpoint_to_sockaddr(&node->dc, &ss);

	if (sendto(node->fd, buf, len, 0, (struct sockaddr *)&ss, sslen) < 0)
		return -errno;
	return 0;
}

int ntm_testnode_send(struct ntm_testnode *node, const Ntm__Envelope *env)
{
	ssize_t n = ntm_testnode_seal(node, env, node->last_packet, sizeof(node->last_packet));

	if (n < 0)
		return (int)n;
	node->last_packet_len = (size_t)n;
	return ntm_testnode_send_raw(node, node->last_packet, node->last_packet_len);
}

/* Authenticates one datagram and unpacks its Envelope. Returns NULL unless
 * it is a valid control packet from the DC. */
static Ntm__Envelope *open_datagram(struct ntm_testnode *node, const uint8_t *buf, size_t len,
				    const struct ntm_endpoint *from)
{
	uint8_t pt[NTM_CTL_MAX_PACKET];
	const uint8_t *sender;
	enum ntm_msg_status st;
	uint64_t counter;
	size_t pt_len;
	char why[128];

	if (!ntm_endpoint_equal(from, &node->dc))
		return NULL;
	if (ntm_ctl_sender(buf, len, &sender) != NTM_CODEC_OK)
		return NULL;
	if (sodium_memcmp(sender, node->dc_pub, NTM_KEY_LEN) != 0)
		return NULL;
	if (ntm_ctl_open(buf, len, &node->keys, &node->rx_window, pt, sizeof(pt), &pt_len,
			 &counter) != NTM_CODEC_OK)
		return NULL;
	return ntm_msg_unpack(pt, pt_len, &st, why, sizeof(why));
}

/* Receives one datagram within timeout_ms. Returns 1 with *env set (NULL for
 * a dropped datagram), 0 on timeout, or -errno. */
static int recv_one(struct ntm_testnode *node, int timeout_ms, Ntm__Envelope **env)
{
	uint8_t buf[2048];
	struct pollfd pfd = { .fd = node->fd, .events = POLLIN };
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct ntm_endpoint from;
	ssize_t n;
	int rc;

	*env = NULL;
	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (rc == 0)
		return 0;
	n = recvfrom(node->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sslen);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : -errno;
	if (ntm_endpoint_from_sockaddr(&from, (struct sockaddr *)&ss, sslen) == 0)
		*env = open_datagram(node, buf, (size_t)n, &from);
	if (!*env)
		node->dropped++;
	return 1;
}

static void backlog_push(struct ntm_testnode *node, Ntm__Envelope *env)
{
	if (node->n_backlog == NTM_TESTNODE_BACKLOG) {
		/* Full: the oldest Envelope is the least likely to be waited for. */
		ntm_msg_free(node->backlog[0]);
		memmove(&node->backlog[0], &node->backlog[1],
			(NTM_TESTNODE_BACKLOG - 1) * sizeof(node->backlog[0]));
		node->n_backlog--;
		node->dropped++;
	}
	node->backlog[node->n_backlog++] = env;
}

static Ntm__Envelope *backlog_take(struct ntm_testnode *node, const struct match *m)
{
	Ntm__Envelope *env;
	size_t i;

	for (i = 0; i < node->n_backlog; i++) {
		if (!match_env(m, node->backlog[i]))
			continue;
		env = node->backlog[i];
		memmove(&node->backlog[i], &node->backlog[i + 1],
			(node->n_backlog - i - 1) * sizeof(node->backlog[0]));
		node->n_backlog--;
		return env;
	}
	return NULL;
}

static Ntm__Envelope *wait_match(struct ntm_testnode *node, const struct match *m,
				 int timeout_ms)
{
	uint64_t deadline = ntm_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	Ntm__Envelope *env = backlog_take(node, m);
	uint64_t now;

	while (!env) {
		now = ntm_now_ms();
		if (now >= deadline)
			return NULL;
		if (recv_one(node, (int)(deadline - now), &env) < 0)
			return NULL;
		if (env && !match_env(m, env)) {
			backlog_push(node, env);
			env = NULL;
		}
	}
	return env;
}

Ntm__Envelope *ntm_testnode_recv(struct ntm_testnode *node, int timeout_ms)
{
	struct match m = { .body = NTM__ENVELOPE__BODY__NOT_SET };

	return wait_match(node, &m, timeout_ms);
}

Ntm__Envelope *ntm_testnode_recv_body(struct ntm_testnode *node, Ntm__Envelope__BodyCase body,
				      int timeout_ms)
{
	struct match m = { .body = body };

	return wait_match(node, &m, timeout_ms);
}

unsigned ntm_testnode_drain(struct ntm_testnode *node, int timeout_ms)
{
	uint64_t deadline = ntm_now_ms() + (uint64_t)timeout_ms;
	Ntm__Envelope *env;
	unsigned count = 0;
	uint64_t now;

	while ((now = ntm_now_ms()) < deadline) {
		env = ntm_testnode_recv(node, (int)(deadline - now));
		if (!env)
			break;
		ntm_msg_free(env);
		count++;
	}
	return count;
}

Ntm__Envelope *ntm_testnode_request(struct ntm_testnode *node, Ntm__Envelope *env,
				    int timeout_ms)
{
	struct match m = { .body = NTM__ENVELOPE__BODY__NOT_SET, .by_request_id = true };

	env->protocol_version = NTM_PROTOCOL_VERSION;
	env->request_id = node->next_request_id++;
	m.request_id = env->request_id;
	if (ntm_testnode_send(node, env) != 0)
		return NULL;
	return wait_match(node, &m, timeout_ms);
}

Ntm__Envelope *ntm_testnode_register(struct ntm_testnode *node, const char *fqdn,
				     const struct ntm_endpoint *reported, size_t n_reported,
				     int timeout_ms)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__RegistrationRequest req = NTM__REGISTRATION_REQUEST__INIT;
	Ntm__Endpoint msgs[NTM_MAX_LOCAL_ENDPOINTS];
	Ntm__Endpoint *ptrs[NTM_MAX_LOCAL_ENDPOINTS];
	struct ntm_endpoint eps[NTM_MAX_LOCAL_ENDPOINTS];
	size_t i;

	if (n_reported > NTM_MAX_LOCAL_ENDPOINTS)
		return NULL;
	for (i = 0; i < n_reported; i++) {
		eps[i] = reported[i];
		ntm__endpoint__init(&msgs[i]);
		ntm_msg_endpoint_set(&msgs[i], &eps[i]);
		ptrs[i] = &msgs[i];
	}
	req.fqdn = (char *)fqdn;
	req.n_local_endpoints = n_reported;
	req.local_endpoints = ptrs;
	req.software = (char *)"ntm-testnode";
	env.body_case = NTM__ENVELOPE__BODY_REGISTRATION_REQUEST;
	env.registration_request = &req;
	return ntm_testnode_request(node, &env, timeout_ms);
}

Ntm__Envelope *ntm_testnode_register_direct(struct ntm_testnode *node, const char *fqdn,
					    int timeout_ms)
{
	return ntm_testnode_register(node, fqdn, &node->local, 1, timeout_ms);
}

Ntm__Envelope *ntm_testnode_keepalive(struct ntm_testnode *node, int timeout_ms)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__KeepAlive ka = NTM__KEEP_ALIVE__INIT;

	env.body_case = NTM__ENVELOPE__BODY_KEEP_ALIVE;
	env.keep_alive = &ka;
	return ntm_testnode_request(node, &env, timeout_ms);
}

Ntm__Envelope *ntm_testnode_query_fqdn(struct ntm_testnode *node, const char *fqdn,
				       int timeout_ms)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__NtmQuery q = NTM__NTM_QUERY__INIT;

	q.target_case = NTM__NTM_QUERY__TARGET_FQDN;
	q.fqdn = (char *)fqdn;
	env.body_case = NTM__ENVELOPE__BODY_NTM_QUERY;
	env.ntm_query = &q;
	return ntm_testnode_request(node, &env, timeout_ms);
}

Ntm__Envelope *ntm_testnode_query_vip(struct ntm_testnode *node, const struct ntm_ip *vip,
				      int timeout_ms)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__NtmQuery q = NTM__NTM_QUERY__INIT;
	struct ntm_ip ip = *vip;

	q.target_case = NTM__NTM_QUERY__TARGET_VIP;
	q.vip = ntm_msg_ip_bytes(&ip);
	env.body_case = NTM__ENVELOPE__BODY_NTM_QUERY;
	env.ntm_query = &q;
	return ntm_testnode_request(node, &env, timeout_ms);
}

Ntm__Envelope *ntm_testnode_direction(struct ntm_testnode *node,
				      const uint8_t peer_key[NTM_KEY_LEN], bool exclude_private,
				      int timeout_ms)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__DirectionRequest req = NTM__DIRECTION_REQUEST__INIT;
	uint8_t key[NTM_KEY_LEN];

	memcpy(key, peer_key, NTM_KEY_LEN);
	req.peer_key.data = key;
	req.peer_key.len = NTM_KEY_LEN;
	req.exclude_private = exclude_private;
	env.body_case = NTM__ENVELOPE__BODY_DIRECTION_REQUEST;
	env.direction_request = &req;
	return ntm_testnode_request(node, &env, timeout_ms);
}

Ntm__Envelope *ntm_testnode_pool(struct ntm_testnode *node, uint32_t count, int timeout_ms)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__VipPoolRequest req = NTM__VIP_POOL_REQUEST__INIT;

	req.count = count;
	env.body_case = NTM__ENVELOPE__BODY_VIP_POOL_REQUEST;
	env.vip_pool_request = &req;
	return ntm_testnode_request(node, &env, timeout_ms);
}

int ntm_testnode_ack_direction(struct ntm_testnode *node, const Ntm__Envelope *rd)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__RouteDirectionAck ack = NTM__ROUTE_DIRECTION_ACK__INIT;

	if (rd->body_case != NTM__ENVELOPE__BODY_ROUTE_DIRECTION)
		return -EINVAL;
	ack.direction_id = rd->route_direction->direction_id;
	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.request_id = rd->request_id;
	env.body_case = NTM__ENVELOPE__BODY_ROUTE_DIRECTION_ACK;
	env.route_direction_ack = &ack;
	return ntm_testnode_send(node, &env);
}

const char *ntm_testnode_route_str(Ntm__RouteCase route)
{
	switch (route) {
	case NTM__ROUTE_CASE__ROUTE_CASE_DIRECT: return "direct";
	case NTM__ROUTE_CASE__ROUTE_CASE_NAT_SIDE_OPENS: return "nat_side_opens";
	case NTM__ROUTE_CASE__ROUTE_CASE_SAME_NAT: return "same_nat";
	case NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS: return "two_nats";
	default: return "unspecified";
	}
}

const char *ntm_testnode_role_str(Ntm__TunnelRole role)
{
	switch (role) {
	case NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR: return "initiator";
	case NTM__TUNNEL_ROLE__TUNNEL_ROLE_RESPONDER: return "responder";
	default: return "unspecified";
	}
}

const char *ntm_testnode_error_str(Ntm__ErrorCode code)
{
	static const char *const names[] = {
		"unspecified", "invalid", "unsupported_version", "registration_required",
		"fqdn_mismatch", "not_found", "timeout", "no_vip", "revoked",
		"peer_offline", "limit", "peer_revoked",
	};

	if ((unsigned)code >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[code];
}

/* Appends printf output to out at *used, truncating silently. */
static void appendf(char *out, size_t out_size, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void appendf(char *out, size_t out_size, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= out_size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + *used, out_size - *used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= out_size - *used)
		*used = out_size - 1;
	else
		*used += (size_t)n;
}

static const char *endpoint_text(const Ntm__Endpoint *m, char *out, size_t out_size)
{
	struct ntm_endpoint ep;

	if (!m || ntm_msg_endpoint_get(&ep, m) != 0)
		return "none";
	return ntm_endpoint_str(&ep, out, out_size);
}

static const char *ip_text(ProtobufCBinaryData raw, char *out, size_t out_size)
{
	struct ntm_ip ip;

	if (ntm_msg_ip_get(&ip, raw) != 0)
		return "none";
	return ntm_ip_str(&ip, out, out_size);
}

static void describe_record(const Ntm__NtmRecord *rec, char *out, size_t out_size, size_t *used)
{
	char a[NTM_ENDPOINT_STRLEN], b[NTM_ENDPOINT_STRLEN];

	if (!rec) {
		appendf(out, out_size, used, "no record");
		return;
	}
	appendf(out, out_size, used, "%s as VIP %s, behind NAT: %s, observed %s, %s, domain %s",
		rec->fqdn, ip_text(rec->vip, a, sizeof(a)), rec->behind_nat ? "yes" : "no",
		endpoint_text(rec->observed, b, sizeof(b)), rec->online ? "online" : "offline",
		rec->dc_domain);
}

static void describe_direction(const Ntm__RouteDirection *rd, char *out, size_t out_size,
			       size_t *used)
{
	char a[NTM_ENDPOINT_STRLEN];
	size_t i;

	appendf(out, out_size, used, "route direction %016" PRIx64 ": route case %s, role %s, peer ",
		rd->direction_id, ntm_testnode_route_str(rd->route),
		ntm_testnode_role_str(rd->role));
	if (rd->peer)
		appendf(out, out_size, used, "%s (VIP %s)", rd->peer->fqdn,
			ip_text(rd->peer->vip, a, sizeof(a)));
	else
		appendf(out, out_size, used, "missing");
	appendf(out, out_size, used, ", try endpoints:");
	for (i = 0; i < rd->n_try_endpoints; i++)
		appendf(out, out_size, used, " %s", endpoint_text(rd->try_endpoints[i], a, sizeof(a)));
	if (rd->n_try_endpoints == 0)
		appendf(out, out_size, used, " none");
	if (rd->punch)
		appendf(out, out_size, used, ", punch %s after %u ms every %u ms %u times",
			endpoint_text(rd->punch->peer_observed, a, sizeof(a)),
			rd->punch->start_after_ms, rd->punch->interval_ms, rd->punch->count);
	if (rd->relay)
		appendf(out, out_size, used, ", relay %s",
			endpoint_text(rd->relay->relay, a, sizeof(a)));
}

static void describe_pool(const Ntm__VipPoolGrant *grant, char *out, size_t out_size,
			  size_t *used)
{
	char a[INET6_ADDRSTRLEN];
	size_t i;

	appendf(out, out_size, used, "VIP pool of %zu:", grant->n_vips);
	for (i = 0; i < grant->n_vips; i++)
		appendf(out, out_size, used, " %s", ip_text(grant->vips[i], a, sizeof(a)));
}

const char *ntm_testnode_describe(const Ntm__Envelope *env, char *out, size_t out_size)
{
	char a[NTM_ENDPOINT_STRLEN];
	char msg[NTM_ERROR_MESSAGE_MAX + 1];
	size_t used = 0;

	out[0] = '\0';
	switch (env->body_case) {
	case NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE:
		appendf(out, out_size, &used, "registered ");
		describe_record(env->registration_response->record, out, out_size, &used);
		appendf(out, out_size, &used, ", keepalive every %u s",
			env->registration_response->keepalive_interval_s);
		break;
	case NTM__ENVELOPE__BODY_KEEP_ALIVE_ACK:
		appendf(out, out_size, &used, "keepalive acknowledged, observed %s",
			endpoint_text(env->keep_alive_ack->observed, a, sizeof(a)));
		break;
	case NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE:
		appendf(out, out_size, &used, "query answered: ");
		describe_record(env->ntm_query_response->record, out, out_size, &used);
		break;
	case NTM__ENVELOPE__BODY_ROUTE_DIRECTION:
		describe_direction(env->route_direction, out, out_size, &used);
		break;
	case NTM__ENVELOPE__BODY_VIP_POOL_GRANT:
		describe_pool(env->vip_pool_grant, out, out_size, &used);
		break;
	case NTM__ENVELOPE__BODY_ERROR:
		ntm_log_sanitize(msg, sizeof(msg), env->error->message,
				 strnlen(env->error->message, NTM_ERROR_MESSAGE_MAX));
		appendf(out, out_size, &used, "error %s: %s", ntm_testnode_error_str(env->error->code),
			msg);
		break;
	default:
		appendf(out, out_size, &used, "message with body %d", (int)env->body_case);
		break;
	}
	return out;
}
