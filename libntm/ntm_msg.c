/*
 * Control message layer: protobuf Envelope packing, unpacking and the field
 * checks that proto/control.proto documents. Each message type has its own
 * small check function. A failed check writes the field path and the broken
 * bound into why, for example
 * "registration_request.local_endpoints[3].ip: length 7, expected 4 or 16".
 */
#include "ntm_msg.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ntm_log.h"

/* Room for the longest field path, such as
 * "route_direction.peer.local_endpoints[15].ip". */
#define PATH_LEN 96
/* Characters of a rejected peer string quoted in why, "..." included. */
#define QUOTE_MAX 64

#define KEY_LEN 32
#define PORT_MAX 65535u
#define MX_MIN 1u
#define MX_MAX 5u
#define POOL_REQUEST_MIN 1u

/* Output buffer for the reason of a failed check. */
struct check {
	char *why;
	size_t why_size;
};

static const char *const status_names[] = {
	[NTM_MSG_OK] = "ok",
	[NTM_MSG_MALFORMED] = "malformed",
	[NTM_MSG_BAD_VERSION] = "bad_version",
	[NTM_MSG_NO_BODY] = "no_body",
	[NTM_MSG_INVALID] = "invalid",
};

const char *ntm_msg_status_str(enum ntm_msg_status st)
{
	if ((unsigned)st >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[st];
}

/* Writes the reason into c->why and returns false, so a check can end with
 * "return fail(...)". */
__attribute__((format(printf, 2, 3))) static bool fail(struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->why == NULL || c->why_size == 0)
		return false;
	va_start(ap, fmt);
	vsnprintf(c->why, c->why_size, fmt, ap);
	va_end(ap);
	return false;
}

static const char *str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* ---- field checks ---- */

static bool check_key(struct check *c, const char *path, const char *field,
		      ProtobufCBinaryData key)
{
	if (key.len != KEY_LEN)
		return fail(c, "%s.%s: length %zu, expected %d", path, field, key.len, KEY_LEN);
	return true;
}

static bool check_ip(struct check *c, const char *path, const char *field, ProtobufCBinaryData ip)
{
	if (ip.len != 4 && ip.len != 16)
		return fail(c, "%s.%s: length %zu, expected 4 or 16", path, field, ip.len);
	return true;
}

static bool check_len(struct check *c, const char *path, const char *field, const char *s,
		      size_t min, size_t max)
{
	size_t len = strlen(str_or_empty(s));

	if (len < min || len > max)
		return fail(c, "%s.%s: length %zu, expected %zu to %zu bytes", path, field, len,
			    min, max);
	return true;
}

static bool check_count(struct check *c, const char *path, const char *field, size_t n,
			size_t max)
{
	if (n > max)
		return fail(c, "%s.%s: %zu entries, expected at most %zu", path, field, n, max);
	return true;
}

static bool check_range(struct check *c, const char *path, const char *field, uint32_t value,
			uint32_t min, uint32_t max)
{
	if (value < min || value > max)
		return fail(c, "%s.%s: %u, expected %u to %u", path, field, (unsigned)value,
			    (unsigned)min, (unsigned)max);
	return true;
}

static bool check_fqdn(struct check *c, const char *path, const char *field, const char *name)
{
	char quoted[QUOTE_MAX + 1];

	if (ntm_msg_fqdn_valid(name))
		return true;
	ntm_log_sanitize(quoted, sizeof(quoted), str_or_empty(name), NTM_FQDN_MAX + 1);
	return fail(c,
		    "%s.%s: '%s' is not a valid FQDN (lower-case labels of 1 to 63 characters "
		    "a-z, 0-9 and '-', at most %d bytes)",
		    path, field, quoted, NTM_FQDN_MAX);
}

/*
 * Checks a string that ends up in an SSDP message: at most max bytes and no
 * control characters except horizontal tab, because a CR or LF would start a
 * new header line (header injection).
 */
static bool check_ssdp_text(struct check *c, const char *path, const char *field,
			    const char *s, size_t min, size_t max)
{
	const unsigned char *p = (const unsigned char *)str_or_empty(s);

	if (!check_len(c, path, field, s, min, max))
		return false;
	for (size_t i = 0; p[i] != '\0'; i++) {
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return fail(c, "%s.%s: control character 0x%02x at byte %zu", path, field,
				    p[i], i);
	}
	return true;
}

/* ---- shared messages ---- */

/* Checks an Endpoint that must be present. */
static bool check_endpoint(struct check *c, const char *path, const Ntm__Endpoint *m)
{
	if (m == NULL)
		return fail(c, "%s: missing", path);
	if (!check_ip(c, path, "ip", m->ip))
		return false;
	if (m->port > PORT_MAX)
		return fail(c, "%s.port: %u, expected at most %u", path, (unsigned)m->port,
			    PORT_MAX);
	return true;
}

/* Checks an Endpoint field that may be absent. */
static bool check_endpoint_opt(struct check *c, const char *path, const char *field,
			       const Ntm__Endpoint *m)
{
	char sub[PATH_LEN];

	if (m == NULL)
		return true;
	snprintf(sub, sizeof(sub), "%s.%s", path, field);
	return check_endpoint(c, sub, m);
}

static bool check_endpoints(struct check *c, const char *path, const char *field,
			    Ntm__Endpoint *const *list, size_t n, size_t max)
{
	char sub[PATH_LEN];

	if (!check_count(c, path, field, n, max))
		return false;
	for (size_t i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%s.%s[%zu]", path, field, i);
		if (!check_endpoint(c, sub, list[i]))
			return false;
	}
	return true;
}

static bool check_ips(struct check *c, const char *path, const char *field,
		      const ProtobufCBinaryData *list, size_t n, size_t max)
{
	char sub[PATH_LEN];

	if (!check_count(c, path, field, n, max))
		return false;
	for (size_t i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", field, i);
		if (!check_ip(c, path, sub, list[i]))
			return false;
	}
	return true;
}

static bool check_prefix(struct check *c, const char *path, const Ntm__Prefix *m)
{
	unsigned bits;

	if (m == NULL)
		return fail(c, "%s: missing", path);
	if (!check_ip(c, path, "ip", m->ip))
		return false;
	bits = (unsigned)m->ip.len * 8u;
	if (m->prefix_len > bits)
		return fail(c, "%s.prefix_len: %u, expected at most %u", path,
			    (unsigned)m->prefix_len, bits);

	/* ip is the network address, so every bit after the prefix is zero. */
	for (unsigned bit = m->prefix_len; bit < bits; bit++) {
		if (m->ip.data[bit / 8] & (0x80u >> (bit % 8)))
			return fail(c, "%s.ip: host bits set after the first %u bits", path,
				    (unsigned)m->prefix_len);
	}
	return true;
}

static bool check_record(struct check *c, const char *path, const Ntm__NtmRecord *m)
{
	if (m == NULL)
		return fail(c, "%s: missing", path);
	if (!check_fqdn(c, path, "fqdn", m->fqdn) || !check_key(c, path, "node_key", m->node_key))
		return false;
	if (!check_endpoints(c, path, "local_endpoints", m->local_endpoints,
			     m->n_local_endpoints, NTM_MAX_LOCAL_ENDPOINTS) ||
	    !check_endpoint_opt(c, path, "observed", m->observed))
		return false;
	return check_ip(c, path, "vip", m->vip) &&
	       check_ips(c, path, "pool_vips", m->pool_vips, m->n_pool_vips, NTM_MAX_POOL_VIPS) &&
	       check_fqdn(c, path, "dc_domain", m->dc_domain);
}

/* ---- bodies ---- */

static bool check_registration_request(struct check *c, const char *path,
				       const Ntm__RegistrationRequest *m)
{
	return check_fqdn(c, path, "fqdn", m->fqdn) &&
	       check_endpoints(c, path, "local_endpoints", m->local_endpoints,
			       m->n_local_endpoints, NTM_MAX_LOCAL_ENDPOINTS) &&
	       check_len(c, path, "software", m->software, 0, NTM_SOFTWARE_MAX);
}

static bool check_registration_response(struct check *c, const char *path,
					const Ntm__RegistrationResponse *m)
{
	char sub[PATH_LEN];

	snprintf(sub, sizeof(sub), "%s.record", path);
	if (!check_record(c, sub, m->record))
		return false;
	for (size_t i = 0; i < m->n_vip_prefixes; i++) {
		snprintf(sub, sizeof(sub), "%s.vip_prefixes[%zu]", path, i);
		if (!check_prefix(c, sub, m->vip_prefixes[i]))
			return false;
	}
	return true;
}

static bool check_ntm_query(struct check *c, const char *path, const Ntm__NtmQuery *m)
{
	switch (m->target_case) {
	case NTM__NTM_QUERY__TARGET_FQDN:
		return check_fqdn(c, path, "fqdn", m->fqdn);
	case NTM__NTM_QUERY__TARGET_VIP:
		return check_ip(c, path, "vip", m->vip);
	default:
		return fail(c, "%s: neither fqdn nor vip is set", path);
	}
}

static bool check_relay_direction(struct check *c, const char *path,
				  const Ntm__RelayDirection *m)
{
	char sub[PATH_LEN];

	/* A path cut short only shortens the error message. */
	if (snprintf(sub, sizeof(sub), "%s.relay", path) >= (int)sizeof(sub))
		sub[sizeof(sub) - 1] = '\0';
	return check_endpoint(c, sub, m->relay) && check_key(c, path, "credential", m->credential);
}

static bool check_route_direction(struct check *c, const char *path,
				  const Ntm__RouteDirection *m)
{
	char sub[PATH_LEN];

	if (!check_range(c, path, "route", (uint32_t)m->route, NTM__ROUTE_CASE__ROUTE_CASE_DIRECT,
			 NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS) ||
	    !check_range(c, path, "role", (uint32_t)m->role,
			 NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR,
			 NTM__TUNNEL_ROLE__TUNNEL_ROLE_RESPONDER))
		return false;

	snprintf(sub, sizeof(sub), "%s.peer", path);
	if (!check_record(c, sub, m->peer))
		return false;
	for (size_t i = 0; i < m->n_try_endpoints; i++) {
		snprintf(sub, sizeof(sub), "%s.try_endpoints[%zu]", path, i);
		if (!check_endpoint(c, sub, m->try_endpoints[i]))
			return false;
	}

	snprintf(sub, sizeof(sub), "%s.relay", path);
	if (m->relay != NULL && !check_relay_direction(c, sub, m->relay))
		return false;
	snprintf(sub, sizeof(sub), "%s.punch.peer_observed", path);
	if (m->punch != NULL && !check_endpoint(c, sub, m->punch->peer_observed))
		return false;
	return true;
}

static bool check_ssdp_answer(struct check *c, const char *path, const Ntm__SsdpAnswer *m)
{
	char sub[PATH_LEN];

	if (m == NULL)
		return fail(c, "%s: missing", path);
	if (!check_ssdp_text(c, path, "usn", m->usn, 0, NTM_SSDP_HEADER_MAX) ||
	    !check_ssdp_text(c, path, "st", m->st, 0, NTM_SSDP_HEADER_MAX) ||
	    !check_ssdp_text(c, path, "location", m->location, 0, NTM_SSDP_HEADER_MAX) ||
	    !check_ssdp_text(c, path, "server", m->server, 0, NTM_SSDP_HEADER_MAX) ||
	    !check_ip(c, path, "vip", m->vip) ||
	    !check_count(c, path, "extra_headers", m->n_extra_headers, NTM_MAX_SSDP_EXTRA_HEADERS))
		return false;

	for (size_t i = 0; i < m->n_extra_headers; i++) {
		const char *line = str_or_empty(m->extra_headers[i]);
		const char *colon = strchr(line, ':');

		snprintf(sub, sizeof(sub), "extra_headers[%zu]", i);
		if (!check_ssdp_text(c, path, sub, line, 0, NTM_SSDP_HEADER_MAX))
			return false;
		if (colon == NULL || colon == line)
			return fail(c, "%s.%s: expected a \"Name: value\" line", path, sub);
	}
	return true;
}

static bool check_msearch_response(struct check *c, const char *path,
				   const Ntm__MSearchResponse *m)
{
	char sub[PATH_LEN];

	if (!check_count(c, path, "answers", m->n_answers, NTM_MAX_SSDP_ANSWERS))
		return false;
	for (size_t i = 0; i < m->n_answers; i++) {
		snprintf(sub, sizeof(sub), "%s.answers[%zu]", path, i);
		if (!check_ssdp_answer(c, sub, m->answers[i]))
			return false;
	}
	return true;
}

static bool check_error(struct check *c, const char *path, const Ntm__Error *m)
{
	if (!check_range(c, path, "code", (uint32_t)m->code, NTM__ERROR_CODE__ERROR_CODE_INVALID,
			 NTM__ERROR_CODE__ERROR_CODE_PEER_REVOKED) ||
	    !check_len(c, path, "message", m->message, 0, NTM_ERROR_MESSAGE_MAX))
		return false;
	if (m->key.len == 0 && m->code == NTM__ERROR_CODE__ERROR_CODE_PEER_REVOKED)
		return fail(c, "%s.key: missing, required with ERROR_CODE_PEER_REVOKED", path);
	if (m->key.len != 0 && !check_key(c, path, "key", m->key))
		return false;
	return true;
}

static bool check_keep_alive_ack(struct check *c, const char *path, const Ntm__KeepAliveAck *m)
{
	return check_endpoint_opt(c, path, "observed", m->observed);
}

static bool check_ntm_query_response(struct check *c, const char *path,
				     const Ntm__NtmQueryResponse *m)
{
	char sub[PATH_LEN];

	snprintf(sub, sizeof(sub), "%s.record", path);
	return check_record(c, sub, m->record);
}

static bool check_msearch_request(struct check *c, const char *path,
				  const Ntm__MSearchRequest *m)
{
	return check_ssdp_text(c, path, "search_target", m->search_target, 1,
			       NTM_SEARCH_TARGET_MAX) &&
	       check_range(c, path, "mx", m->mx, MX_MIN, MX_MAX);
}

/* The route is installed in an IPv4 nftables map, so both addresses are
 * IPv4, and a NOTIFY needs a real TCP port. */
static bool check_gena_callback_route(struct check *c, const char *path,
				      const Ntm__GenaCallbackRoute *m)
{
	char sub[PATH_LEN];

	if (m->server_vip.len != 4)
		return fail(c, "%s.server_vip: length %zu, expected 4 (IPv4)", path,
			    m->server_vip.len);
	snprintf(sub, sizeof(sub), "%s.callback", path);
	if (!check_endpoint(c, sub, m->callback))
		return false;
	if (m->callback->ip.len != 4)
		return fail(c, "%s.ip: length %zu, expected 4 (IPv4)", sub, m->callback->ip.len);
	return check_range(c, sub, "port", m->callback->port, 1, PORT_MAX) &&
	       check_range(c, path, "lifetime_s", m->lifetime_s, 1, NTM_GENA_LIFETIME_MAX);
}

/* Checks the body message m, named name, of the given case. */
static bool check_body(struct check *c, const char *name, Ntm__Envelope__BodyCase body,
		       const ProtobufCMessage *m)
{
	switch (body) {
	case NTM__ENVELOPE__BODY_REGISTRATION_REQUEST:
		return check_registration_request(c, name, (const Ntm__RegistrationRequest *)m);
	case NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE:
		return check_registration_response(c, name, (const Ntm__RegistrationResponse *)m);
	case NTM__ENVELOPE__BODY_KEEP_ALIVE_ACK:
		return check_keep_alive_ack(c, name, (const Ntm__KeepAliveAck *)m);
	case NTM__ENVELOPE__BODY_NTM_QUERY:
		return check_ntm_query(c, name, (const Ntm__NtmQuery *)m);
	case NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE:
		return check_ntm_query_response(c, name, (const Ntm__NtmQueryResponse *)m);
	case NTM__ENVELOPE__BODY_DIRECTION_REQUEST:
		return check_key(c, name, "peer_key", ((const Ntm__DirectionRequest *)m)->peer_key);
	case NTM__ENVELOPE__BODY_ROUTE_DIRECTION:
		return check_route_direction(c, name, (const Ntm__RouteDirection *)m);
	case NTM__ENVELOPE__BODY_TUNNEL_REQUEST:
		return check_key(c, name, "ephemeral_key",
				 ((const Ntm__TunnelRequest *)m)->ephemeral_key);
	case NTM__ENVELOPE__BODY_TUNNEL_RESPONSE:
		return check_key(c, name, "ephemeral_key",
				 ((const Ntm__TunnelResponse *)m)->ephemeral_key);
	case NTM__ENVELOPE__BODY_VIP_POOL_REQUEST:
		return check_range(c, name, "count", ((const Ntm__VipPoolRequest *)m)->count,
				   POOL_REQUEST_MIN, NTM_MAX_POOL_VIPS);
	case NTM__ENVELOPE__BODY_VIP_POOL_GRANT:
		return check_ips(c, name, "vips", ((const Ntm__VipPoolGrant *)m)->vips,
				 ((const Ntm__VipPoolGrant *)m)->n_vips, NTM_MAX_POOL_VIPS);
	case NTM__ENVELOPE__BODY_MSEARCH_REQUEST:
		return check_msearch_request(c, name, (const Ntm__MSearchRequest *)m);
	case NTM__ENVELOPE__BODY_MSEARCH_RESPONSE:
		return check_msearch_response(c, name, (const Ntm__MSearchResponse *)m);
	case NTM__ENVELOPE__BODY_GENA_CALLBACK_ROUTE:
		return check_gena_callback_route(c, name, (const Ntm__GenaCallbackRoute *)m);
	case NTM__ENVELOPE__BODY_ERROR:
		return check_error(c, name, (const Ntm__Error *)m);
	case NTM__ENVELOPE__BODY_KEEP_ALIVE:
	case NTM__ENVELOPE__BODY_ROUTE_DIRECTION_ACK:
	case NTM__ENVELOPE__BODY_PATH_PROBE:
		return true; /* fixed-size integers and booleans only */
	default:
		return fail(c, "body: field %d has no check", (int)body);
	}
}

/* Finds the body message through the Envelope's descriptor, so its field
 * name comes from the .proto file. Returns NULL when no known body is set. */
static const ProtobufCMessage *body_message(const Ntm__Envelope *env, const char **name)
{
	const ProtobufCFieldDescriptor *field;
	const ProtobufCMessage *m;

	if (env->body_case == NTM__ENVELOPE__BODY__NOT_SET)
		return NULL;
	field = protobuf_c_message_descriptor_get_field(&ntm__envelope__descriptor,
							(unsigned)env->body_case);
	if (field == NULL || field->type != PROTOBUF_C_TYPE_MESSAGE)
		return NULL;

	m = *(const ProtobufCMessage *const *)((const uint8_t *)env + field->offset);
	if (m == NULL || m->descriptor != field->descriptor)
		return NULL;
	*name = field->name;
	return m;
}

enum ntm_msg_status ntm_msg_validate(const Ntm__Envelope *env, char *why, size_t why_size)
{
	struct check c = { why, why_size };
	unsigned major = NTM_PROTOCOL_MAJOR(env->protocol_version);
	const unsigned own_major = NTM_PROTOCOL_MAJOR(NTM_PROTOCOL_VERSION);
	const ProtobufCMessage *body;
	const char *name = NULL;

	if (why != NULL && why_size > 0)
		why[0] = '\0';
	if (major != own_major) {
		fail(&c, "protocol_version: %u is major version %u, expected major version %u",
		     (unsigned)env->protocol_version, major, own_major);
		return NTM_MSG_BAD_VERSION;
	}

	body = body_message(env, &name);
	if (body == NULL) {
		fail(&c, "body: not set, or field %d unknown to this build", (int)env->body_case);
		return NTM_MSG_NO_BODY;
	}
	if (!check_body(&c, name, env->body_case, body))
		return NTM_MSG_INVALID;
	return NTM_MSG_OK;
}

/*
 * Returns true when m or a message inside it contains an unknown field with
 * field number 0, which the protobuf encoding never allows. protobuf-c 1.4
 * rejects field 0 only in a one-byte tag: written as two bytes (85 00) it
 * unpacks as an unknown field, packs back as the one-byte form, and that
 * output no longer unpacks. The recursion follows the schema's message
 * fields only, so its depth is fixed by control.proto.
 */
static bool has_field_zero(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;

	for (unsigned i = 0; i < m->n_unknown_fields; i++) {
		if (m->unknown_fields[i].tag == 0)
			return true;
	}
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *field = &desc->fields[i];
		const uint8_t *member = (const uint8_t *)m + field->offset;
		const uint8_t *quantifier = (const uint8_t *)m + field->quantifier_offset;

		if (field->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		/* A oneof member is only valid while the oneof's case names it. */
		if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)quantifier != field->id)
			continue;
		if (field->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)quantifier;
			ProtobufCMessage *const *list = *(ProtobufCMessage *const *const *)member;

			for (size_t j = 0; j < n; j++) {
				if (list[j] != NULL && has_field_zero(list[j]))
					return true;
			}
		} else {
			const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)member;

			if (sub != NULL && has_field_zero(sub))
				return true;
		}
	}
	return false;
}

Ntm__Envelope *ntm_msg_unpack(const uint8_t *buf, size_t len, enum ntm_msg_status *st,
			      char *why, size_t why_size)
{
	struct check c = { why, why_size };
	Ntm__Envelope *env;

	if (len > NTM_MSG_MAX_LEN) {
		*st = NTM_MSG_INVALID;
		fail(&c, "envelope: %zu bytes, expected at most %d", len, NTM_MSG_MAX_LEN);
		return NULL;
	}
	env = ntm__envelope__unpack(NULL, len, buf);
	if (env == NULL) {
		*st = NTM_MSG_MALFORMED;
		fail(&c, "envelope: %zu bytes that are not a protobuf Envelope", len);
		return NULL;
	}
	if (has_field_zero(&env->base)) {
		*st = NTM_MSG_MALFORMED;
		fail(&c, "envelope: a field with field number 0");
		ntm_msg_free(env);
		return NULL;
	}

	*st = ntm_msg_validate(env, why, why_size);
	if (*st != NTM_MSG_OK) {
		ntm_msg_free(env);
		return NULL;
	}
	return env;
}

void ntm_msg_free(Ntm__Envelope *env)
{
	if (env != NULL)
		ntm__envelope__free_unpacked(env, NULL);
}

ssize_t ntm_msg_pack(const Ntm__Envelope *env, uint8_t *out, size_t out_size)
{
	size_t len = ntm__envelope__get_packed_size(env);

	if (len > out_size)
		return -ENOSPC;
	return (ssize_t)ntm__envelope__pack(env, out);
}

ssize_t ntm_msg_seal(uint8_t *out, size_t out_size, const struct ntm_keypair *self,
		     const struct ntm_ctl_keys *keys, uint64_t counter, const Ntm__Envelope *env)
{
	uint8_t pt[NTM_CTL_MAX_PLAINTEXT];
	ssize_t pt_len, ret;

	pt_len = ntm_msg_pack(env, pt, sizeof(pt));
	if (pt_len < 0)
		return pt_len;
	ret = ntm_ctl_seal(out, out_size, self->pub, keys, counter, pt, (size_t)pt_len);
	sodium_memzero(pt, (size_t)pt_len);
	return ret;
}

int ntm_msg_endpoint_get(struct ntm_endpoint *ep, const Ntm__Endpoint *m)
{
	struct ntm_ip ip;

	if (m == NULL || m->port > PORT_MAX || ntm_ip_from_bytes(&ip, m->ip.data, m->ip.len) < 0)
		return -EINVAL;
	ep->ip = ip;
	ep->port = (uint16_t)m->port;
	return 0;
}

void ntm_msg_endpoint_set(Ntm__Endpoint *m, struct ntm_endpoint *ep)
{
	ntm__endpoint__init(m);
	m->ip = ntm_msg_ip_bytes(&ep->ip);
	m->port = ep->port;
}

int ntm_msg_ip_get(struct ntm_ip *ip, ProtobufCBinaryData raw)
{
	return ntm_ip_from_bytes(ip, raw.data, raw.len);
}

ProtobufCBinaryData ntm_msg_ip_bytes(struct ntm_ip *ip)
{
	ProtobufCBinaryData raw = { .len = ip->len, .data = ip->bytes };

	return raw;
}

static bool fqdn_char_valid(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
}

bool ntm_msg_fqdn_valid(const char *name)
{
	size_t len, label = 0;
	bool label_digits = true;

	if (name == NULL)
		return false;
	len = strnlen(name, NTM_FQDN_MAX + 1);
	if (len == 0 || len > NTM_FQDN_MAX)
		return false;

	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		if (ch == '.') {
			if (label == 0 || name[i - 1] == '-')
				return false;
			label = 0;
			label_digits = true;
			continue;
		}
		if (!fqdn_char_valid(ch) || (ch == '-' && label == 0) || ++label > 63)
			return false;
		if (ch < '0' || ch > '9')
			label_digits = false;
	}
	return label > 0 && name[len - 1] != '-' && !label_digits;
}

const char *ntm_msg_route_case_str(Ntm__RouteCase route)
{
	switch (route) {
	case NTM__ROUTE_CASE__ROUTE_CASE_DIRECT:
		return "direct";
	case NTM__ROUTE_CASE__ROUTE_CASE_NAT_SIDE_OPENS:
		return "nat_side_opens";
	case NTM__ROUTE_CASE__ROUTE_CASE_SAME_NAT:
		return "same_nat";
	case NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS:
		return "two_nats";
	default:
		return "unspecified";
	}
}
