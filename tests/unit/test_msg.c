/* Unit tests for the control message layer (ntm_msg): packing, unpacking and
 * every field bound of proto/control.proto, just inside and just outside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_msg.h"

#define EP_MAX (NTM_MAX_LOCAL_ENDPOINTS + 2)
#define VIPS_MAX (NTM_MAX_POOL_VIPS + 2)
#define ANSWERS_MAX (NTM_MAX_SSDP_ANSWERS + 2)
#define HEADERS_MAX (NTM_MAX_SSDP_EXTRA_HEADERS + 2)
#define TEXT_MAX 1100

/* Every message of one Envelope, in storage owned by the test. */
struct fx {
	Ntm__Envelope env;

	Ntm__RegistrationRequest reg_req;
	Ntm__RegistrationResponse reg_resp;
	Ntm__KeepAlive keep_alive;
	Ntm__KeepAliveAck keep_alive_ack;
	Ntm__NtmQuery query;
	Ntm__NtmQueryResponse query_resp;
	Ntm__DirectionRequest dir_req;
	Ntm__RouteDirection route;
	Ntm__RouteDirectionAck route_ack;
	Ntm__TunnelRequest tun_req;
	Ntm__TunnelResponse tun_resp;
	Ntm__PathProbe probe;
	Ntm__VipPoolRequest pool_req;
	Ntm__VipPoolGrant pool_grant;
	Ntm__MSearchRequest ms_req;
	Ntm__MSearchResponse ms_resp;
	Ntm__GenaCallbackRoute gena;
	Ntm__Endpoint gena_callback;
	Ntm__Error error;

	Ntm__NtmRecord record;
	Ntm__Endpoint ep[EP_MAX];
	Ntm__Endpoint *ep_ptr[EP_MAX];
	Ntm__Endpoint observed, relay_ep, punch_ep;
	Ntm__RelayDirection relay;
	Ntm__PunchDirection punch;
	Ntm__Prefix prefix[2];
	Ntm__Prefix *prefix_ptr[2];
	ProtobufCBinaryData vips[VIPS_MAX];
	Ntm__SsdpAnswer answer[ANSWERS_MAX];
	Ntm__SsdpAnswer *answer_ptr[ANSWERS_MAX];
	char *headers[HEADERS_MAX];

	uint8_t ip4[4], ip6[16], vip4[VIPS_MAX][4], raw[40];
	uint8_t node_key[33], peer_key[33], eph_key[33], cred[33], err_key[33];
	char header_text[HEADERS_MAX][32];
	char text[4][TEXT_MAX];
	char fqdn[300];
};

static ProtobufCBinaryData bytes(uint8_t *data, size_t len)
{
	ProtobufCBinaryData b = { .len = len, .data = data };

	return b;
}

/* Fills buf with len 'a' characters and a NUL. */
static char *text_of(char *buf, size_t len)
{
	memset(buf, 'a', len);
	buf[len] = '\0';
	return buf;
}

static void endpoint_fill(Ntm__Endpoint *ep, uint8_t *ip, size_t ip_len, uint32_t port)
{
	ntm__endpoint__init(ep);
	ep->ip = bytes(ip, ip_len);
	ep->port = port;
}

static void record_fill(struct fx *f)
{
	Ntm__NtmRecord *r = &f->record;

	ntm__ntm_record__init(r);
	r->fqdn = "player.home.example";
	r->node_key = bytes(f->node_key, 32);
	r->n_local_endpoints = 2;
	r->local_endpoints = f->ep_ptr;
	r->observed = &f->observed;
	r->behind_nat = 1;
	r->vip = bytes(f->vip4[0], 4);
	r->n_pool_vips = 3;
	r->pool_vips = f->vips;
	r->dc_domain = "home.example";
	r->online = 1;
	r->last_seen_ms = 1700000000000u;
}

static void parts_fill(struct fx *f)
{
	static const uint8_t ip4[4] = { 192, 0, 2, 10 };
	static const uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };

	memcpy(f->ip4, ip4, 4);
	memcpy(f->ip6, ip6, 16);
	for (size_t i = 0; i < 33; i++) {
		f->node_key[i] = (uint8_t)(i + 1);
		f->peer_key[i] = (uint8_t)(i + 2);
		f->eph_key[i] = (uint8_t)(i + 3);
		f->cred[i] = (uint8_t)(i + 4);
		f->err_key[i] = (uint8_t)(i + 5);
	}
	for (size_t i = 0; i < EP_MAX; i++) {
		if (i % 2 == 0)
			endpoint_fill(&f->ep[i], f->ip4, 4, 47830);
		else
			endpoint_fill(&f->ep[i], f->ip6, 16, 47830);
		f->ep_ptr[i] = &f->ep[i];
	}
	endpoint_fill(&f->observed, f->ip4, 4, 61000);
	endpoint_fill(&f->relay_ep, f->ip4, 4, 47820);
	endpoint_fill(&f->punch_ep, f->ip6, 16, 61001);
	for (size_t i = 0; i < VIPS_MAX; i++) {
		f->vip4[i][0] = 100;
		f->vip4[i][1] = 64;
		f->vip4[i][2] = (uint8_t)(i >> 8);
		f->vip4[i][3] = (uint8_t)i;
		f->vips[i] = bytes(f->vip4[i], 4);
	}
	for (size_t i = 0; i < 2; i++) {
		ntm__prefix__init(&f->prefix[i]);
		f->prefix_ptr[i] = &f->prefix[i];
	}
	f->prefix[0].ip = bytes(f->vip4[0], 4); /* 100.64.0.0/10 */
	f->prefix[0].prefix_len = 10;
	f->prefix[1].ip = bytes(f->ip6, 16);
	f->prefix[1].prefix_len = 128;
	record_fill(f);
}

static void answers_fill(struct fx *f)
{
	for (size_t i = 0; i < HEADERS_MAX; i++) {
		snprintf(f->header_text[i], sizeof(f->header_text[i]), "X-Header-%zu: value", i);
		f->headers[i] = f->header_text[i];
	}
	for (size_t i = 0; i < ANSWERS_MAX; i++) {
		Ntm__SsdpAnswer *a = &f->answer[i];

		ntm__ssdp_answer__init(a);
		a->usn = "uuid:4d696e69-444c-164e-9d41-b827eb000001::upnp:rootdevice";
		a->st = "upnp:rootdevice";
		a->location = "http://100.64.0.2:8200/rootDesc.xml";
		a->server = "Debian/12 DLNADOC/1.50 UPnP/1.0 MiniDLNA/1.3.0";
		a->max_age_s = 1800;
		a->vip = bytes(f->vip4[2], 4);
		a->n_extra_headers = 2;
		a->extra_headers = f->headers;
		f->answer_ptr[i] = a;
	}
}

static void bodies_fill(struct fx *f)
{
	ntm__registration_request__init(&f->reg_req);
	f->reg_req.fqdn = "player.home.example";
	f->reg_req.n_local_endpoints = 2;
	f->reg_req.local_endpoints = f->ep_ptr;
	f->reg_req.software = "ntm-noded 0.1.0";

	ntm__registration_response__init(&f->reg_resp);
	f->reg_resp.record = &f->record;
	f->reg_resp.n_vip_prefixes = 2;
	f->reg_resp.vip_prefixes = f->prefix_ptr;
	f->reg_resp.keepalive_interval_s = 25;

	ntm__keep_alive__init(&f->keep_alive);
	ntm__keep_alive_ack__init(&f->keep_alive_ack);
	f->keep_alive_ack.observed = &f->observed;

	ntm__ntm_query__init(&f->query);
	f->query.target_case = NTM__NTM_QUERY__TARGET_FQDN;
	f->query.fqdn = "agent.home.example";
	ntm__ntm_query_response__init(&f->query_resp);
	f->query_resp.record = &f->record;

	ntm__direction_request__init(&f->dir_req);
	f->dir_req.peer_key = bytes(f->peer_key, 32);

	ntm__relay_direction__init(&f->relay);
	f->relay.relay = &f->relay_ep;
	f->relay.session_id = 0x0102030405060708u;
	f->relay.credential = bytes(f->cred, 32);
	f->relay.expires_ms = 1700000060000u;
	ntm__punch_direction__init(&f->punch);
	f->punch.peer_observed = &f->punch_ep;
	f->punch.start_after_ms = 50;
	f->punch.interval_ms = 20;
	f->punch.count = 10;
	ntm__route_direction__init(&f->route);
	f->route.direction_id = 42;
	f->route.route = NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS;
	f->route.role = NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR;
	f->route.peer = &f->record;
	f->route.n_try_endpoints = 2;
	f->route.try_endpoints = f->ep_ptr;
	f->route.relay = &f->relay;
	f->route.punch = &f->punch;
	ntm__route_direction_ack__init(&f->route_ack);
	f->route_ack.direction_id = 42;

	ntm__tunnel_request__init(&f->tun_req);
	f->tun_req.direction_id = 42;
	f->tun_req.initiator_index = 7;
	f->tun_req.ephemeral_key = bytes(f->eph_key, 32);
	ntm__tunnel_response__init(&f->tun_resp);
	f->tun_resp.direction_id = 42;
	f->tun_resp.initiator_index = 7;
	f->tun_resp.responder_index = 9;
	f->tun_resp.ephemeral_key = bytes(f->eph_key, 32);
	ntm__path_probe__init(&f->probe);
	f->probe.nonce = 0xfeedu;

	ntm__vip_pool_request__init(&f->pool_req);
	f->pool_req.count = 4;
	ntm__vip_pool_grant__init(&f->pool_grant);
	f->pool_grant.n_vips = 4;
	f->pool_grant.vips = f->vips;

	ntm__msearch_request__init(&f->ms_req);
	f->ms_req.search_target = "ssdp:all";
	f->ms_req.mx = 3;
	ntm__msearch_response__init(&f->ms_resp);
	f->ms_resp.n_answers = 2;
	f->ms_resp.answers = f->answer_ptr;
	f->ms_resp.last = 1;

	ntm__gena_callback_route__init(&f->gena);
	f->gena.server_vip = bytes(f->vip4[1], 4);
	endpoint_fill(&f->gena_callback, f->ip4, 4, 43210);
	f->gena.callback = &f->gena_callback;
	f->gena.lifetime_s = 1860;

	ntm__error__init(&f->error);
	f->error.code = NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND;
	f->error.message = "no record for FQDN 'x.example'";
}

/* Sets the Envelope's body; every body starts out valid. */
static Ntm__Envelope *build(struct fx *f, Ntm__Envelope__BodyCase body)
{
	Ntm__Envelope *env = &f->env;

	ntm__envelope__init(env);
	env->protocol_version = NTM_PROTOCOL_VERSION;
	env->request_id = 0x1122334455667788u;
	env->body_case = body;
	switch (body) {
	case NTM__ENVELOPE__BODY_REGISTRATION_REQUEST:
		env->registration_request = &f->reg_req;
		break;
	case NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE:
		env->registration_response = &f->reg_resp;
		break;
	case NTM__ENVELOPE__BODY_KEEP_ALIVE:
		env->keep_alive = &f->keep_alive;
		break;
	case NTM__ENVELOPE__BODY_KEEP_ALIVE_ACK:
		env->keep_alive_ack = &f->keep_alive_ack;
		break;
	case NTM__ENVELOPE__BODY_NTM_QUERY:
		env->ntm_query = &f->query;
		break;
	case NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE:
		env->ntm_query_response = &f->query_resp;
		break;
	case NTM__ENVELOPE__BODY_DIRECTION_REQUEST:
		env->direction_request = &f->dir_req;
		break;
	case NTM__ENVELOPE__BODY_ROUTE_DIRECTION:
		env->route_direction = &f->route;
		break;
	case NTM__ENVELOPE__BODY_ROUTE_DIRECTION_ACK:
		env->route_direction_ack = &f->route_ack;
		break;
	case NTM__ENVELOPE__BODY_TUNNEL_REQUEST:
		env->tunnel_request = &f->tun_req;
		break;
	case NTM__ENVELOPE__BODY_TUNNEL_RESPONSE:
		env->tunnel_response = &f->tun_resp;
		break;
	case NTM__ENVELOPE__BODY_PATH_PROBE:
		env->path_probe = &f->probe;
		break;
	case NTM__ENVELOPE__BODY_VIP_POOL_REQUEST:
		env->vip_pool_request = &f->pool_req;
		break;
	case NTM__ENVELOPE__BODY_VIP_POOL_GRANT:
		env->vip_pool_grant = &f->pool_grant;
		break;
	case NTM__ENVELOPE__BODY_MSEARCH_REQUEST:
		env->msearch_request = &f->ms_req;
		break;
	case NTM__ENVELOPE__BODY_MSEARCH_RESPONSE:
		env->msearch_response = &f->ms_resp;
		break;
	case NTM__ENVELOPE__BODY_GENA_CALLBACK_ROUTE:
		env->gena_callback_route = &f->gena;
		break;
	case NTM__ENVELOPE__BODY_ERROR:
		env->error = &f->error;
		break;
	default:
		break;
	}
	return env;
}

static const Ntm__Envelope__BodyCase all_bodies[] = {
	NTM__ENVELOPE__BODY_REGISTRATION_REQUEST, NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE,
	NTM__ENVELOPE__BODY_KEEP_ALIVE,           NTM__ENVELOPE__BODY_KEEP_ALIVE_ACK,
	NTM__ENVELOPE__BODY_NTM_QUERY,            NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE,
	NTM__ENVELOPE__BODY_DIRECTION_REQUEST,    NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
	NTM__ENVELOPE__BODY_ROUTE_DIRECTION_ACK,  NTM__ENVELOPE__BODY_TUNNEL_REQUEST,
	NTM__ENVELOPE__BODY_TUNNEL_RESPONSE,      NTM__ENVELOPE__BODY_PATH_PROBE,
	NTM__ENVELOPE__BODY_VIP_POOL_REQUEST,     NTM__ENVELOPE__BODY_VIP_POOL_GRANT,
	NTM__ENVELOPE__BODY_MSEARCH_REQUEST,      NTM__ENVELOPE__BODY_MSEARCH_RESPONSE,
	NTM__ENVELOPE__BODY_GENA_CALLBACK_ROUTE,  NTM__ENVELOPE__BODY_ERROR,
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	parts_fill(f);
	answers_fill(f);
	bodies_fill(f);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	free(*state);
	return 0;
}

/*
 * Checks that env validates to st, with why containing why_part (when not
 * NULL). When env packs to at most NTM_MSG_MAX_LEN bytes, the packed bytes
 * must unpack to the same status.
 */
static void expect(const Ntm__Envelope *env, enum ntm_msg_status st, const char *why_part)
{
	char why[512] = "";
	enum ntm_msg_status got = ntm_msg_validate(env, why, sizeof(why));
	size_t len;

	if (got != st || (why_part != NULL && strstr(why, why_part) == NULL))
		print_message("status %s, why: %s\n", ntm_msg_status_str(got), why);
	assert_int_equal(got, st);
	if (why_part != NULL)
		assert_non_null(strstr(why, why_part));
	if (st == NTM_MSG_OK)
		assert_string_equal(why, "");

	len = ntm__envelope__get_packed_size(env);
	if (len <= NTM_MSG_MAX_LEN) {
		uint8_t *buf = malloc(len + 1);
		Ntm__Envelope *back;

		assert_non_null(buf);
		assert_int_equal(ntm_msg_pack(env, buf, len), (ssize_t)len);
		back = ntm_msg_unpack(buf, len, &got, why, sizeof(why));
		assert_int_equal(got, st);
		assert_true((back != NULL) == (st == NTM_MSG_OK));
		ntm_msg_free(back);
		free(buf);
	}
}

#define expect_ok(env) expect((env), NTM_MSG_OK, NULL)
#define expect_invalid(env, why_part) expect((env), NTM_MSG_INVALID, (why_part))

/* ---- envelope ---- */

static void msg_status_names(void **state)
{
	assert_string_equal(ntm_msg_status_str(NTM_MSG_OK), "ok");
	assert_string_equal(ntm_msg_status_str(NTM_MSG_MALFORMED), "malformed");
	assert_string_equal(ntm_msg_status_str(NTM_MSG_BAD_VERSION), "bad_version");
	assert_string_equal(ntm_msg_status_str(NTM_MSG_NO_BODY), "no_body");
	assert_string_equal(ntm_msg_status_str(NTM_MSG_INVALID), "invalid");
	assert_string_equal(ntm_msg_status_str((enum ntm_msg_status)99), "unknown");
}

static void msg_roundtrip_all(void **state)
{
	struct fx *f = *state;
	uint8_t buf[NTM_CTL_MAX_PLAINTEXT], again[NTM_CTL_MAX_PLAINTEXT];

	for (size_t i = 0; i < sizeof(all_bodies) / sizeof(all_bodies[0]); i++) {
		Ntm__Envelope *env = build(f, all_bodies[i]), *back;
		enum ntm_msg_status st = NTM_MSG_MALFORMED;
		char why[256] = "";
		ssize_t len = ntm_msg_pack(env, buf, sizeof(buf)), len2;

		assert_true(len > 0);
		back = ntm_msg_unpack(buf, (size_t)len, &st, why, sizeof(why));
		if (back == NULL)
			print_message("body %d: %s\n", (int)all_bodies[i], why);
		assert_non_null(back);
		assert_int_equal(st, NTM_MSG_OK);
		assert_int_equal(back->body_case, all_bodies[i]);
		assert_int_equal(back->request_id, env->request_id);
		assert_int_equal(back->protocol_version, NTM_PROTOCOL_VERSION);
		len2 = ntm_msg_pack(back, again, sizeof(again));
		assert_int_equal(len2, len);
		assert_memory_equal(again, buf, (size_t)len);
		ntm_msg_free(back);
	}
}

static void msg_roundtrip_fields(void **state)
{
	struct fx *f = *state;
	uint8_t buf[NTM_CTL_MAX_PLAINTEXT];
	enum ntm_msg_status st;
	Ntm__Envelope *back;
	Ntm__RouteDirection *r;
	ssize_t len;

	len = ntm_msg_pack(build(f, NTM__ENVELOPE__BODY_ROUTE_DIRECTION), buf, sizeof(buf));
	assert_true(len > 0);
	back = ntm_msg_unpack(buf, (size_t)len, &st, NULL, 0);
	assert_non_null(back);
	r = back->route_direction;
	assert_int_equal(r->route, NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS);
	assert_string_equal(r->peer->fqdn, "player.home.example");
	assert_memory_equal(r->peer->node_key.data, f->node_key, 32);
	assert_int_equal(r->n_try_endpoints, 2);
	assert_int_equal(r->try_endpoints[1]->ip.len, 16);
	assert_int_equal(r->relay->session_id, 0x0102030405060708u);
	assert_memory_equal(r->relay->credential.data, f->cred, 32);
	assert_int_equal(r->punch->count, 10);
	ntm_msg_free(back);
}

static void msg_version(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_KEEP_ALIVE);
	static const uint32_t same_major[] = { 0, 1, 2, 99 };
	static const uint32_t other_major[] = { 100, 101, 199, 200, 12345, UINT32_MAX };

	for (size_t i = 0; i < sizeof(same_major) / sizeof(same_major[0]); i++) {
		env->protocol_version = same_major[i];
		expect_ok(env);
	}
	for (size_t i = 0; i < sizeof(other_major) / sizeof(other_major[0]); i++) {
		env->protocol_version = other_major[i];
		expect(env, NTM_MSG_BAD_VERSION, "protocol_version");
	}
}

static void msg_no_body(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY__NOT_SET);

	expect(env, NTM_MSG_NO_BODY, "body");
	env = build(f, NTM__ENVELOPE__BODY_KEEP_ALIVE);
	env->keep_alive = NULL;
	assert_int_equal(ntm_msg_validate(env, NULL, 0), NTM_MSG_NO_BODY);
	env->body_case = (Ntm__Envelope__BodyCase)99;
	assert_int_equal(ntm_msg_validate(env, NULL, 0), NTM_MSG_NO_BODY);
}

/* A body this build does not know (field 99) is an unknown field to
 * protobuf-c, so the Envelope arrives without a body. */
static void msg_unknown_body(void **state)
{
	static const uint8_t wire[] = { 0x08, 0x01, 0x9a, 0x06, 0x00 }; /* version 1, field 99 */
	enum ntm_msg_status st;
	char why[256];

	assert_null(ntm_msg_unpack(wire, sizeof(wire), &st, why, sizeof(why)));
	assert_int_equal(st, NTM_MSG_NO_BODY);
}

/* Field number 0 never occurs in valid protobuf. protobuf-c 1.4 accepts it
 * when the tag takes two bytes (85 00), so ntm_msg_unpack checks for it. */
static void msg_field_zero(void **state)
{
	/* KeepAliveAck{observed{ip 192.0.2.1}} followed by one more field,
	 * a fixed32 inside observed: field 99 (9d 06), then field 0 (85 00). */
	static const uint8_t known[] = { 0x08, 0x01, 0x6a, 0x08, 0x0a, 0x06,
					 0x0a, 0x04, 0xc0, 0x00, 0x02, 0x01 };
	static const uint8_t field_99[] = { 0x08, 0x01, 0x6a, 0x0e, 0x0a, 0x0c, 0x0a,
					    0x04, 0xc0, 0x00, 0x02, 0x01, 0x9d, 0x06,
					    0x01, 0x02, 0x03, 0x04 };
	static const uint8_t nested_zero[] = { 0x08, 0x01, 0x6a, 0x0e, 0x0a, 0x0c, 0x0a,
					       0x04, 0xc0, 0x00, 0x02, 0x01, 0x85, 0x00,
					       0x01, 0x02, 0x03, 0x04 };
	static const uint8_t top_zero[] = { 0x08, 0x01, 0x62, 0x00, 0x85, 0x00,
					    0x01, 0x02, 0x03, 0x04 };
	static const uint8_t short_zero[] = { 0x08, 0x01, 0x62, 0x00, 0x05,
					      0x01, 0x02, 0x03, 0x04 };
	enum ntm_msg_status st;
	Ntm__Envelope *env;

	env = ntm_msg_unpack(known, sizeof(known), &st, NULL, 0);
	assert_non_null(env);
	ntm_msg_free(env);
	/* An unknown field with a valid number is ignored (compatibility rule). */
	env = ntm_msg_unpack(field_99, sizeof(field_99), &st, NULL, 0);
	assert_non_null(env);
	assert_int_equal(st, NTM_MSG_OK);
	ntm_msg_free(env);

	assert_null(ntm_msg_unpack(nested_zero, sizeof(nested_zero), &st, NULL, 0));
	assert_int_equal(st, NTM_MSG_MALFORMED);
	assert_null(ntm_msg_unpack(top_zero, sizeof(top_zero), &st, NULL, 0));
	assert_int_equal(st, NTM_MSG_MALFORMED);
	assert_null(ntm_msg_unpack(short_zero, sizeof(short_zero), &st, NULL, 0));
	assert_int_equal(st, NTM_MSG_MALFORMED);
}

static void msg_malformed(void **state)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t short_len[] = { 0x52, 0x05, 0x0a }; /* body longer than input */
	enum ntm_msg_status st;
	char why[256];

	assert_null(ntm_msg_unpack(garbage, sizeof(garbage), &st, why, sizeof(why)));
	assert_int_equal(st, NTM_MSG_MALFORMED);
	assert_null(ntm_msg_unpack(short_len, sizeof(short_len), &st, why, sizeof(why)));
	assert_int_equal(st, NTM_MSG_MALFORMED);
	assert_null(ntm_msg_unpack(NULL, 0, &st, why, sizeof(why)));
	assert_int_equal(st, NTM_MSG_NO_BODY);
}

static void msg_max_len(void **state)
{
	uint8_t *buf = calloc(1, NTM_MSG_MAX_LEN + 1);
	enum ntm_msg_status st;
	char why[256] = "";

	assert_non_null(buf);
	/* At the bound the bytes are parsed (zero bytes are not protobuf)... */
	assert_null(ntm_msg_unpack(buf, NTM_MSG_MAX_LEN, &st, why, sizeof(why)));
	assert_int_equal(st, NTM_MSG_MALFORMED);
	/* ...one byte more is rejected by length alone. */
	assert_null(ntm_msg_unpack(buf, NTM_MSG_MAX_LEN + 1, &st, why, sizeof(why)));
	assert_int_equal(st, NTM_MSG_INVALID);
	assert_non_null(strstr(why, "65537"));
	free(buf);
}

static void msg_pack_no_space(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_ROUTE_DIRECTION);
	size_t len = ntm__envelope__get_packed_size(env);
	uint8_t buf[NTM_CTL_MAX_PLAINTEXT];

	assert_int_equal(ntm_msg_pack(env, buf, len - 1), -ENOSPC);
	assert_int_equal(ntm_msg_pack(env, buf, len), (ssize_t)len);
}

static void msg_seal_open(void **state)
{
	struct fx *f = *state;
	struct ntm_keypair a, b;
	struct ntm_ctl_keys ab, ba;
	uint8_t pkt[NTM_CTL_MAX_PACKET], pt[NTM_CTL_MAX_PACKET];
	size_t pt_len = 0;
	uint64_t counter = 0;
	enum ntm_msg_status st;
	Ntm__Envelope *back;
	ssize_t n;

	ntm_keypair_generate(&a);
	ntm_keypair_generate(&b);
	assert_int_equal(ntm_ctl_keys_derive(&ab, &a, b.pub), 0);
	assert_int_equal(ntm_ctl_keys_derive(&ba, &b, a.pub), 0);

	n = ntm_msg_seal(pkt, sizeof(pkt), &a, &ab, 77, build(f, NTM__ENVELOPE__BODY_NTM_QUERY));
	assert_true(n > NTM_CTL_HEADER_LEN + NTM_TAG_LEN);
	assert_memory_equal(pkt + 4, a.pub, NTM_KEY_LEN);
	assert_int_equal(ntm_ctl_open(pkt, (size_t)n, &ba, NULL, pt, sizeof(pt), &pt_len, &counter),
			 NTM_CODEC_OK);
	assert_int_equal(counter, 77);
	back = ntm_msg_unpack(pt, pt_len, &st, NULL, 0);
	assert_non_null(back);
	assert_string_equal(back->ntm_query->fqdn, "agent.home.example");
	ntm_msg_free(back);

	/* An Envelope too large for one control packet. */
	f->ms_resp.n_answers = NTM_MAX_SSDP_ANSWERS;
	assert_int_equal(ntm_msg_seal(pkt, sizeof(pkt), &a, &ab, 78,
				      build(f, NTM__ENVELOPE__BODY_MSEARCH_RESPONSE)),
			 -ENOSPC);
	/* An output buffer too small. */
	assert_int_equal(ntm_msg_seal(pkt, NTM_CTL_HEADER_LEN + NTM_TAG_LEN, &a, &ab, 79,
				      build(f, NTM__ENVELOPE__BODY_NTM_QUERY)),
			 -ENOSPC);
}

/* ---- conversions ---- */

static void msg_endpoint_conversions(void **state)
{
	struct ntm_endpoint ep, back;
	struct ntm_ip ip;
	Ntm__Endpoint m;
	ProtobufCBinaryData raw;
	uint8_t five[5] = { 0 };

	assert_int_equal(ntm_endpoint_parse(&ep, "[2001:db8::5]:47830", 0), 0);
	ntm_msg_endpoint_set(&m, &ep);
	assert_ptr_equal(m.ip.data, ep.ip.bytes);
	assert_int_equal(m.ip.len, 16);
	assert_int_equal(m.port, 47830);
	assert_int_equal(ntm_msg_endpoint_get(&back, &m), 0);
	assert_true(ntm_endpoint_equal(&ep, &back));

	m.port = 65536;
	assert_int_equal(ntm_msg_endpoint_get(&back, &m), -EINVAL);
	m.port = 1;
	m.ip = bytes(five, 5);
	assert_int_equal(ntm_msg_endpoint_get(&back, &m), -EINVAL);
	assert_int_equal(ntm_msg_endpoint_get(&back, NULL), -EINVAL);

	raw = ntm_msg_ip_bytes(&ep.ip);
	assert_ptr_equal(raw.data, ep.ip.bytes);
	assert_int_equal(raw.len, 16);
	assert_int_equal(ntm_msg_ip_get(&ip, raw), 0);
	assert_true(ntm_ip_equal(&ip, &ep.ip));
	assert_int_equal(ntm_msg_ip_get(&ip, bytes(five, 5)), -EINVAL);
	assert_int_equal(ntm_msg_ip_get(&ip, bytes(five, 0)), -EINVAL);
}

/* ---- FQDN ---- */

static void msg_fqdn_syntax(void **state)
{
	static const char *const good[] = {
		"a", "home.example", "player.home.example", "1.example", "a-b.example",
		"xn--bcher-kva.example", "a1", "0a.example", "example.a1",
	};
	static const char *const bad[] = {
		"", "Home.example", "home.Example", "-a.example", "a-.example", "a.example-",
		"a..example", ".example", "example.", "under_score.example", "a example",
		"192.0.2.1", "123", "a.123", "caf\xc3\xa9.example", "a.example\n", "*.example",
	};
	char name[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!ntm_msg_fqdn_valid(good[i]))
			print_message("rejected: '%s'\n", good[i]);
		assert_true(ntm_msg_fqdn_valid(good[i]));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ntm_msg_fqdn_valid(bad[i]))
			print_message("accepted: '%s'\n", bad[i]);
		assert_false(ntm_msg_fqdn_valid(bad[i]));
	}
	assert_false(ntm_msg_fqdn_valid(NULL));

	/* Labels of 63 and 64 characters. */
	snprintf(name, sizeof(name), "%s.example", text_of((char[80]){ 0 }, 63));
	assert_true(ntm_msg_fqdn_valid(name));
	snprintf(name, sizeof(name), "%s.example", text_of((char[80]){ 0 }, 64));
	assert_false(ntm_msg_fqdn_valid(name));
}

static void msg_fqdn_length(void **state)
{
	char name[300];

	/* Four labels of 63, 63, 63 and 61 characters: 253 bytes with dots. */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	assert_true(ntm_msg_fqdn_valid(name));
	name[253] = 'a';
	name[254] = '\0';
	assert_false(ntm_msg_fqdn_valid(name));
}

/* ---- per-body bounds ---- */

static void msg_registration_request(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_REGISTRATION_REQUEST);

	f->reg_req.fqdn = "Player.home.example";
	expect_invalid(env, "registration_request.fqdn: 'Player.home.example'");
	f->reg_req.fqdn = "";
	expect_invalid(env, "registration_request.fqdn");
	f->reg_req.fqdn = "bad\r\nname.example";
	expect_invalid(env, "registration_request.fqdn: 'bad\\x0d\\x0aname.example'");
	f->reg_req.fqdn = text_of(f->fqdn, 254);
	expect_invalid(env, "aaaa...' is not a valid FQDN");
	f->reg_req.fqdn = "player.home.example";
	expect_ok(env);

	f->reg_req.n_local_endpoints = 0;
	expect_ok(env);
	f->reg_req.n_local_endpoints = NTM_MAX_LOCAL_ENDPOINTS;
	expect_ok(env);
	f->reg_req.n_local_endpoints = NTM_MAX_LOCAL_ENDPOINTS + 1;
	expect_invalid(env, "registration_request.local_endpoints: 17 entries, "
			    "expected at most 16");
	f->reg_req.n_local_endpoints = 4;

	f->reg_req.software = text_of(f->text[0], NTM_SOFTWARE_MAX);
	expect_ok(env);
	f->reg_req.software = text_of(f->text[0], NTM_SOFTWARE_MAX + 1);
	expect_invalid(env, "registration_request.software: length 65");
	f->reg_req.software = "";
	expect_ok(env);
}

static void msg_endpoint_bounds(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_REGISTRATION_REQUEST);
	static const size_t bad_lens[] = { 0, 1, 3, 5, 7, 15, 17, 32 };

	f->reg_req.n_local_endpoints = 4;
	f->ep[3].ip = bytes(f->raw, 7);
	expect_invalid(env, "registration_request.local_endpoints[3].ip: length 7, "
			    "expected 4 or 16");
	for (size_t i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
		f->ep[3].ip = bytes(f->raw, bad_lens[i]);
		expect_invalid(env, "registration_request.local_endpoints[3].ip");
	}
	f->ep[3].ip = bytes(f->raw, 4);
	expect_ok(env);
	f->ep[3].ip = bytes(f->raw, 16);
	expect_ok(env);

	f->ep[3].port = 65535;
	expect_ok(env);
	f->ep[3].port = 0;
	expect_ok(env);
	f->ep[3].port = 65536;
	expect_invalid(env, "registration_request.local_endpoints[3].port: 65536");
	f->ep[3].port = UINT32_MAX;
	expect_invalid(env, "registration_request.local_endpoints[3].port");
	f->ep[3].port = 47830;

	f->ep_ptr[2] = NULL;
	assert_int_equal(ntm_msg_validate(env, NULL, 0), NTM_MSG_INVALID);
	f->ep_ptr[2] = &f->ep[2];
}

static void msg_record_bounds(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE);
	const char *p = "registration_response.record";
	char want[128];

	f->record.node_key = bytes(f->node_key, 31);
	snprintf(want, sizeof(want), "%s.node_key: length 31, expected 32", p);
	expect_invalid(env, want);
	f->record.node_key = bytes(f->node_key, 33);
	expect_invalid(env, "node_key: length 33");
	f->record.node_key = bytes(f->node_key, 0);
	expect_invalid(env, "node_key: length 0");
	f->record.node_key = bytes(f->node_key, 32);
	expect_ok(env);

	f->record.vip = bytes(f->raw, 0);
	expect_invalid(env, "record.vip: length 0");
	f->record.vip = bytes(f->raw, 5);
	expect_invalid(env, "record.vip: length 5");
	f->record.vip = bytes(f->raw, 16);
	expect_ok(env);

	f->record.n_pool_vips = NTM_MAX_POOL_VIPS;
	expect_ok(env);
	f->record.n_pool_vips = NTM_MAX_POOL_VIPS + 1;
	expect_invalid(env, "record.pool_vips: 257 entries, expected at most 256");
	f->record.n_pool_vips = 3;
	f->vips[1] = bytes(f->raw, 3);
	expect_invalid(env, "record.pool_vips[1]: length 3");
	f->vips[1] = bytes(f->vip4[1], 4);

	f->record.n_local_endpoints = NTM_MAX_LOCAL_ENDPOINTS + 1;
	expect_invalid(env, "record.local_endpoints: 17 entries");
	f->record.n_local_endpoints = NTM_MAX_LOCAL_ENDPOINTS;
	expect_ok(env);

	f->record.observed = NULL;
	expect_ok(env);
	f->record.observed = &f->observed;
	f->observed.ip = bytes(f->raw, 0);
	expect_invalid(env, "record.observed.ip: length 0");
	f->observed.ip = bytes(f->ip4, 4);

	f->record.fqdn = "bad_name.example";
	expect_invalid(env, "record.fqdn");
	f->record.fqdn = "player.home.example";
	f->record.dc_domain = "";
	expect_invalid(env, "record.dc_domain");
	f->record.dc_domain = "HOME.example";
	expect_invalid(env, "record.dc_domain");
	f->record.dc_domain = "home.example";
	expect_ok(env);

	f->reg_resp.record = NULL;
	expect_invalid(env, "registration_response.record: missing");
}

static void msg_prefix_bounds(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE);
	uint8_t net4[4] = { 198, 51, 100, 0 }, net6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	f->prefix[0].ip = bytes(net4, 4);
	f->prefix[0].prefix_len = 32;
	expect_ok(env);
	f->prefix[0].prefix_len = 33;
	expect_invalid(env, "registration_response.vip_prefixes[0].prefix_len: 33, "
			    "expected at most 32");
	f->prefix[0].prefix_len = 24;
	expect_ok(env);
	net4[3] = 1;
	expect_invalid(env, "vip_prefixes[0].ip: host bits set");
	f->prefix[0].prefix_len = 32;
	expect_ok(env);
	f->prefix[0].prefix_len = 0;
	expect_invalid(env, "vip_prefixes[0].ip: host bits set");
	f->prefix[0].ip = bytes(f->raw, 5);
	expect_invalid(env, "vip_prefixes[0].ip: length 5");
	f->prefix[0].ip = bytes(net4, 4);
	net4[3] = 0;
	f->prefix[0].prefix_len = 24;

	f->prefix[1].ip = bytes(net6, 16);
	f->prefix[1].prefix_len = 128;
	expect_ok(env);
	f->prefix[1].prefix_len = 129;
	expect_invalid(env, "vip_prefixes[1].prefix_len: 129, expected at most 128");
	f->prefix[1].prefix_len = 32;
	expect_ok(env);
	net6[4] = 0x80;
	expect_invalid(env, "vip_prefixes[1].ip: host bits set");
	f->prefix[1].prefix_len = 33;
	expect_ok(env);
}

static void msg_keep_alive_ack(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_KEEP_ALIVE_ACK);

	expect_ok(env);
	f->keep_alive_ack.observed = NULL;
	expect_ok(env);
	f->keep_alive_ack.observed = &f->observed;
	f->observed.port = 65536;
	expect_invalid(env, "keep_alive_ack.observed.port: 65536");
	f->observed.port = 61000;
}

static void msg_ntm_query(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_NTM_QUERY);

	expect_ok(env);
	f->query.fqdn = "agent..example";
	expect_invalid(env, "ntm_query.fqdn");
	f->query.target_case = NTM__NTM_QUERY__TARGET_VIP;
	f->query.vip = bytes(f->raw, 4);
	expect_ok(env);
	f->query.vip = bytes(f->raw, 16);
	expect_ok(env);
	f->query.vip = bytes(f->raw, 15);
	expect_invalid(env, "ntm_query.vip: length 15");
	f->query.target_case = NTM__NTM_QUERY__TARGET__NOT_SET;
	expect_invalid(env, "ntm_query: neither fqdn nor vip");
	f->query.target_case = NTM__NTM_QUERY__TARGET_FQDN;
	f->query.fqdn = "agent.home.example";
}

static void msg_ntm_query_response(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE);

	expect_ok(env);
	f->record.node_key = bytes(f->node_key, 33);
	expect_invalid(env, "ntm_query_response.record.node_key: length 33");
	f->record.node_key = bytes(f->node_key, 32);
	f->query_resp.record = NULL;
	expect_invalid(env, "ntm_query_response.record: missing");
}

/* Checks a 32-byte key field at lengths 0, 31, 32 and 33. */
static void key_bounds(Ntm__Envelope *env, ProtobufCBinaryData *field, uint8_t *data,
		       const char *path)
{
	static const size_t bad[] = { 0, 1, 31, 33 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		*field = bytes(data, bad[i]);
		expect_invalid(env, path);
	}
	*field = bytes(data, 32);
	expect_ok(env);
}

static void msg_key_fields(void **state)
{
	struct fx *f = *state;

	key_bounds(build(f, NTM__ENVELOPE__BODY_DIRECTION_REQUEST), &f->dir_req.peer_key,
		   f->peer_key, "direction_request.peer_key: length");
	key_bounds(build(f, NTM__ENVELOPE__BODY_TUNNEL_REQUEST), &f->tun_req.ephemeral_key,
		   f->eph_key, "tunnel_request.ephemeral_key: length");
	key_bounds(build(f, NTM__ENVELOPE__BODY_TUNNEL_RESPONSE), &f->tun_resp.ephemeral_key,
		   f->eph_key, "tunnel_response.ephemeral_key: length");
	key_bounds(build(f, NTM__ENVELOPE__BODY_ROUTE_DIRECTION), &f->relay.credential, f->cred,
		   "route_direction.relay.credential: length");
}

static void msg_route_direction_enums(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_ROUTE_DIRECTION);

	for (int v = NTM__ROUTE_CASE__ROUTE_CASE_DIRECT; v <= NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS;
	     v++) {
		f->route.route = (Ntm__RouteCase)v;
		expect_ok(env);
	}
	f->route.route = NTM__ROUTE_CASE__ROUTE_CASE_UNSPECIFIED;
	expect_invalid(env, "route_direction.route: 0, expected 1 to 4");
	f->route.route = (Ntm__RouteCase)5;
	expect_invalid(env, "route_direction.route: 5, expected 1 to 4");
	f->route.route = NTM__ROUTE_CASE__ROUTE_CASE_DIRECT;

	f->route.role = NTM__TUNNEL_ROLE__TUNNEL_ROLE_RESPONDER;
	expect_ok(env);
	f->route.role = NTM__TUNNEL_ROLE__TUNNEL_ROLE_UNSPECIFIED;
	expect_invalid(env, "route_direction.role: 0, expected 1 to 2");
	f->route.role = (Ntm__TunnelRole)3;
	expect_invalid(env, "route_direction.role: 3, expected 1 to 2");
	f->route.role = NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR;
}

static void msg_route_direction_parts(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_ROUTE_DIRECTION);

	f->route.peer = NULL;
	expect_invalid(env, "route_direction.peer: missing");
	f->route.peer = &f->record;
	f->record.vip = bytes(f->raw, 17);
	expect_invalid(env, "route_direction.peer.vip: length 17");
	f->record.vip = bytes(f->vip4[0], 4);

	f->route.n_try_endpoints = 0;
	expect_ok(env);
	f->route.n_try_endpoints = 3;
	f->ep[2].ip = bytes(f->raw, 5);
	expect_invalid(env, "route_direction.try_endpoints[2].ip: length 5");
	f->ep[2].ip = bytes(f->ip4, 4);
	expect_ok(env);

	f->route.relay = NULL;
	f->route.punch = NULL;
	expect_ok(env);
	f->route.relay = &f->relay;
	f->relay.relay = NULL;
	expect_invalid(env, "route_direction.relay.relay: missing");
	f->relay.relay = &f->relay_ep;
	f->relay_ep.port = 65536;
	expect_invalid(env, "route_direction.relay.relay.port: 65536");
	f->relay_ep.port = 47820;

	f->route.punch = &f->punch;
	f->punch.peer_observed = NULL;
	expect_invalid(env, "route_direction.punch.peer_observed: missing");
	f->punch.peer_observed = &f->punch_ep;
	f->punch_ep.ip = bytes(f->raw, 0);
	expect_invalid(env, "route_direction.punch.peer_observed.ip: length 0");
	f->punch_ep.ip = bytes(f->ip6, 16);
	expect_ok(env);
}

static void msg_vip_pool(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_VIP_POOL_REQUEST);

	f->pool_req.count = 0;
	expect_invalid(env, "vip_pool_request.count: 0, expected 1 to 256");
	f->pool_req.count = 1;
	expect_ok(env);
	f->pool_req.count = NTM_MAX_POOL_VIPS;
	expect_ok(env);
	f->pool_req.count = NTM_MAX_POOL_VIPS + 1;
	expect_invalid(env, "vip_pool_request.count: 257, expected 1 to 256");

	env = build(f, NTM__ENVELOPE__BODY_VIP_POOL_GRANT);
	f->pool_grant.n_vips = 0;
	expect_ok(env);
	f->pool_grant.n_vips = NTM_MAX_POOL_VIPS;
	expect_ok(env);
	f->pool_grant.n_vips = NTM_MAX_POOL_VIPS + 1;
	expect_invalid(env, "vip_pool_grant.vips: 257 entries, expected at most 256");
	f->pool_grant.n_vips = 4;
	f->vips[3] = bytes(f->raw, 6);
	expect_invalid(env, "vip_pool_grant.vips[3]: length 6");
	f->vips[3] = bytes(f->vip4[3], 4);
}

static void msg_msearch_request(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_MSEARCH_REQUEST);

	f->ms_req.mx = 0;
	expect_invalid(env, "msearch_request.mx: 0, expected 1 to 5");
	f->ms_req.mx = 1;
	expect_ok(env);
	f->ms_req.mx = 5;
	expect_ok(env);
	f->ms_req.mx = 6;
	expect_invalid(env, "msearch_request.mx: 6, expected 1 to 5");
	f->ms_req.mx = 3;

	f->ms_req.search_target = "";
	expect_invalid(env, "msearch_request.search_target: length 0");
	f->ms_req.search_target = "a";
	expect_ok(env);
	f->ms_req.search_target = text_of(f->text[0], NTM_SEARCH_TARGET_MAX);
	expect_ok(env);
	f->ms_req.search_target = text_of(f->text[0], NTM_SEARCH_TARGET_MAX + 1);
	expect_invalid(env, "msearch_request.search_target: length 257");
	f->ms_req.search_target = "ssdp:all\r\nX-Injected: 1";
	expect_invalid(env, "msearch_request.search_target: control character 0x0d at byte 8");
	f->ms_req.search_target = "ssdp:all";
}

/* Both addresses go into an IPv4 nftables map, and a NOTIFY needs a TCP
 * port. */
static void msg_gena_callback_route(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_GENA_CALLBACK_ROUTE);

	expect_ok(env);
	f->gena.server_vip = bytes(f->ip6, 16);
	expect_invalid(env, "gena_callback_route.server_vip: length 16, expected 4 (IPv4)");
	f->gena.server_vip = bytes(f->vip4[1], 4);
	f->gena_callback.ip = bytes(f->ip6, 16);
	expect_invalid(env, "gena_callback_route.callback.ip: length 16, expected 4 (IPv4)");
	f->gena_callback.ip = bytes(f->ip4, 4);
	f->gena_callback.port = 0;
	expect_invalid(env, "gena_callback_route.callback.port: 0, expected 1 to 65535");
	f->gena_callback.port = 65536;
	expect_invalid(env, "gena_callback_route.callback.port: 65536, expected at most 65535");
	f->gena_callback.port = 65535;
	expect_ok(env);
	f->gena.lifetime_s = 0;
	expect_invalid(env, "gena_callback_route.lifetime_s: 0, expected 1 to 86460");
	f->gena.lifetime_s = NTM_GENA_LIFETIME_MAX;
	expect_ok(env);
	f->gena.lifetime_s = NTM_GENA_LIFETIME_MAX + 1;
	expect_invalid(env, "gena_callback_route.lifetime_s: 86461, expected 1 to 86460");
	f->gena.lifetime_s = 1860;
	f->gena.callback = NULL;
	expect_invalid(env, "gena_callback_route.callback: missing");
	f->gena.callback = &f->gena_callback;
}

static void msg_ssdp_answer_texts(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_MSEARCH_RESPONSE);
	Ntm__SsdpAnswer *a = &f->answer[1];
	char **fields[] = { &a->usn, &a->st, &a->location, &a->server };
	static const char *const names[] = { "usn", "st", "location", "server" };
	char want[128];

	for (size_t i = 0; i < 4; i++) {
		char *saved = *fields[i];

		*fields[i] = text_of(f->text[i], NTM_SSDP_HEADER_MAX);
		expect_ok(env);
		*fields[i] = text_of(f->text[i], NTM_SSDP_HEADER_MAX + 1);
		snprintf(want, sizeof(want), "msearch_response.answers[1].%s: length 1025",
			 names[i]);
		expect_invalid(env, want);
		*fields[i] = "value\nX-Injected: 1";
		snprintf(want, sizeof(want),
			 "msearch_response.answers[1].%s: control character 0x0a", names[i]);
		expect_invalid(env, want);
		*fields[i] = "tab\tis allowed";
		expect_ok(env);
		*fields[i] = saved;
	}
}

static void msg_ssdp_answer_headers(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_MSEARCH_RESPONSE);
	Ntm__SsdpAnswer *a = &f->answer[0];

	a->n_extra_headers = NTM_MAX_SSDP_EXTRA_HEADERS;
	expect_ok(env);
	a->n_extra_headers = NTM_MAX_SSDP_EXTRA_HEADERS + 1;
	expect_invalid(env, "msearch_response.answers[0].extra_headers: 17 entries, "
			    "expected at most 16");
	a->n_extra_headers = 2;

	f->headers[1] = text_of(f->text[0], NTM_SSDP_HEADER_MAX);
	f->text[0][1] = ':';
	expect_ok(env);
	f->headers[1] = text_of(f->text[0], NTM_SSDP_HEADER_MAX + 1);
	f->text[0][1] = ':';
	expect_invalid(env, "answers[0].extra_headers[1]: length 1025");
	f->headers[1] = "no colon here";
	expect_invalid(env, "answers[0].extra_headers[1]: expected a \"Name: value\" line");
	f->headers[1] = ": no name";
	expect_invalid(env, "answers[0].extra_headers[1]: expected a \"Name: value\" line");
	f->headers[1] = "X-A: 1\r\nX-B: 2";
	expect_invalid(env, "answers[0].extra_headers[1]: control character 0x0d");
	f->headers[1] = f->header_text[1];

	a->vip = bytes(f->raw, 0);
	expect_invalid(env, "answers[0].vip: length 0");
	a->vip = bytes(f->raw, 16);
	expect_ok(env);
}

static void msg_msearch_answer_count(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_MSEARCH_RESPONSE);

	f->ms_resp.n_answers = 0;
	expect_ok(env);
	f->ms_resp.n_answers = NTM_MAX_SSDP_ANSWERS;
	expect_ok(env);
	f->ms_resp.n_answers = NTM_MAX_SSDP_ANSWERS + 1;
	expect_invalid(env, "msearch_response.answers: 33 entries, expected at most 32");
	f->ms_resp.n_answers = 3;
	f->answer_ptr[2] = NULL;
	assert_int_equal(ntm_msg_validate(env, NULL, 0), NTM_MSG_INVALID);
	f->answer_ptr[2] = &f->answer[2];
}

static void msg_error(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_ERROR);

	f->error.code = NTM__ERROR_CODE__ERROR_CODE_UNSPECIFIED;
	expect_invalid(env, "error.code: 0, expected 1 to 11");
	f->error.code = NTM__ERROR_CODE__ERROR_CODE_INVALID;
	expect_ok(env);
	f->error.code = (Ntm__ErrorCode)12;
	expect_invalid(env, "error.code: 12, expected 1 to 11");

	f->error.code = NTM__ERROR_CODE__ERROR_CODE_PEER_REVOKED;
	expect_invalid(env, "error.key: missing");
	f->error.key = bytes(f->err_key, 32);
	expect_ok(env);
	f->error.key = bytes(f->err_key, 31);
	expect_invalid(env, "error.key: length 31, expected 32");
	f->error.key = bytes(f->err_key, 33);
	expect_invalid(env, "error.key: length 33, expected 32");
	f->error.code = NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND;
	expect_invalid(env, "error.key: length 33");
	f->error.key = bytes(f->err_key, 0);
	expect_ok(env);

	f->error.message = text_of(f->text[0], NTM_ERROR_MESSAGE_MAX);
	expect_ok(env);
	f->error.message = text_of(f->text[0], NTM_ERROR_MESSAGE_MAX + 1);
	expect_invalid(env, "error.message: length 257");
}

static void msg_why_sizes(void **state)
{
	struct fx *f = *state;
	Ntm__Envelope *env = build(f, NTM__ENVELOPE__BODY_DIRECTION_REQUEST);
	char why[8];

	f->dir_req.peer_key = bytes(f->peer_key, 1);
	assert_int_equal(ntm_msg_validate(env, NULL, 0), NTM_MSG_INVALID);
	assert_int_equal(ntm_msg_validate(env, why, sizeof(why)), NTM_MSG_INVALID);
	assert_int_equal(strlen(why), sizeof(why) - 1);
	f->dir_req.peer_key = bytes(f->peer_key, 32);
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(msg_status_names),
		FX_TEST(msg_roundtrip_all),
		FX_TEST(msg_roundtrip_fields),
		FX_TEST(msg_version),
		FX_TEST(msg_no_body),
		cmocka_unit_test(msg_unknown_body),
		cmocka_unit_test(msg_malformed),
		cmocka_unit_test(msg_field_zero),
		cmocka_unit_test(msg_max_len),
		FX_TEST(msg_pack_no_space),
		FX_TEST(msg_seal_open),
		cmocka_unit_test(msg_endpoint_conversions),
		cmocka_unit_test(msg_fqdn_syntax),
		cmocka_unit_test(msg_fqdn_length),
		FX_TEST(msg_registration_request),
		FX_TEST(msg_endpoint_bounds),
		FX_TEST(msg_record_bounds),
		FX_TEST(msg_prefix_bounds),
		FX_TEST(msg_keep_alive_ack),
		FX_TEST(msg_ntm_query),
		FX_TEST(msg_ntm_query_response),
		FX_TEST(msg_key_fields),
		FX_TEST(msg_route_direction_enums),
		FX_TEST(msg_route_direction_parts),
		FX_TEST(msg_vip_pool),
		FX_TEST(msg_msearch_request),
		FX_TEST(msg_ssdp_answer_texts),
		FX_TEST(msg_ssdp_answer_headers),
		FX_TEST(msg_msearch_answer_count),
		FX_TEST(msg_gena_callback_route),
		FX_TEST(msg_error),
		FX_TEST(msg_why_sizes),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
