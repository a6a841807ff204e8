/*
 * ntm-dcd Direction Requests and Route Directions against a real daemon:
 * every route case, both ends' directions, errors and retransmission.
 *
 * NAT is faked by reporting a local endpoint other than the socket's
 * address. Nodes bound to different loopback addresses (127.0.0.2,
 * 127.0.0.3) have different observed IPs, and nodes both bound to 127.0.0.1
 * share one.
 */
#include "dc_itest.h"

#include "ntm_time.h"

static struct ntm_dctest dc;

static int group_setup(void **state)
{
	return itest_group_setup(state, &dc, NULL);
}

/* One side of a direction: its node, FQDN and what it reported. */
struct side {
	struct ntm_testnode node;
	char fqdn[64];
	struct ntm_endpoint reported[2];
	size_t n_reported;
};

/* Opens and registers a side. fake_nat lists up to two reported private
 * endpoints; NULL reports the socket's own address (no NAT). */
static void side_up(struct side *s, const char *label, const char *bind_ip,
		    const char *const *fake_nat, size_t n_fake)
{
	size_t i;

	itest_fqdn(s->fqdn, sizeof(s->fqdn), label, &dc);
	itest_node(&dc, &s->node, bind_ip, s->fqdn);
	if (!fake_nat) {
		s->reported[0] = s->node.local;
		s->n_reported = 1;
	} else {
		for (i = 0; i < n_fake; i++)
			s->reported[i] = itest_endpoint(fake_nat[i]);
		s->n_reported = n_fake;
	}
	itest_register(&s->node, s->fqdn, s->reported, s->n_reported);
}

static void side_down(struct side *s)
{
	ntm_testnode_close(&s->node);
}

/* Checks that rd's peer record is other's. */
static void expect_peer(const Ntm__RouteDirection *rd, const struct side *other, const char *who)
{
	char what[128];

	snprintf(what, sizeof(what), "%s's route direction peer", who);
	if (!rd->peer)
		fail_msg("%s: missing", what);
	assert_string_equal(rd->peer->fqdn, other->fqdn);
	itest_expect_key(rd->peer->node_key, other->node.kp.pub, what);
	itest_expect_endpoint(rd->peer->observed, &other->node.local, what);
	assert_int_equal(rd->peer->n_local_endpoints, other->n_reported);
	assert_string_equal(rd->peer->dc_domain, dc.domain);
	assert_true(rd->peer->vip.len == 4 || rd->peer->vip.len == 16);
}

static void expect_try(const Ntm__RouteDirection *rd, const struct ntm_endpoint *want, size_t n,
		       const char *who)
{
	char what[128];
	size_t i;

	if (rd->n_try_endpoints != n)
		fail_msg("%s: expected %zu try endpoints, got %zu", who, n, rd->n_try_endpoints);
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "%s try endpoint %zu", who, i);
		itest_expect_endpoint(rd->try_endpoints[i], &want[i], what);
	}
}

static void expect_route(const Ntm__RouteDirection *rd, Ntm__RouteCase route,
			 Ntm__TunnelRole role, const char *who)
{
	if (rd->route != route || rd->role != role)
		fail_msg("%s: expected route case %s role %s, got route case %s role %s", who,
			 ntm_testnode_route_str(route), ntm_testnode_role_str(role),
			 ntm_testnode_route_str(rd->route), ntm_testnode_role_str(rd->role));
}

static void expect_punch(const Ntm__RouteDirection *rd, const struct side *other,
			 const char *who)
{
	char what[128];

	snprintf(what, sizeof(what), "%s's punch peer_observed", who);
	if (!rd->punch)
		fail_msg("%s: no punch direction in a two-NAT route", who);
	itest_expect_endpoint(rd->punch->peer_observed, &other->node.local, what);
	assert_true(rd->punch->interval_ms > 0);
	assert_true(rd->punch->count > 0);
	/* No relay server is configured, so no relay direction. */
	assert_null(rd->relay);
}

/*
 * Sends the requester's DirectionRequest and returns both Route Directions:
 * the requester's (echoing the request_id) and the peer's, with the same
 * direction_id. Both are acknowledged unless ack is false.
 */
static void direct(struct side *req, struct side *peer, bool exclude_private, bool ack,
		   Ntm__Envelope **req_rd, Ntm__Envelope **peer_rd)
{
	*req_rd = ntm_testnode_direction(&req->node, peer->node.kp.pub, exclude_private,
					 ITEST_ANSWER_MS);
	itest_expect_body(*req_rd, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
			  "direction request (requester's route direction)");
	*peer_rd = ntm_testnode_recv_body(&peer->node, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
					  ITEST_ANSWER_MS);
	itest_expect_body(*peer_rd, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
			  "peer's route direction");
	assert_int_equal((*req_rd)->route_direction->direction_id,
			 (*peer_rd)->route_direction->direction_id);
	if (!ack)
		return;
	assert_int_equal(ntm_testnode_ack_direction(&req->node, *req_rd), 0);
	assert_int_equal(ntm_testnode_ack_direction(&peer->node, *peer_rd), 0);
}

static void case_direct(void **state)
{
	static const char *const nat[] = { "192.0.2.10:47830" };
	struct side req, peer;
	Ntm__Envelope *req_rd, *peer_rd;

	side_up(&req, "da1", "127.0.0.2", nat, 1);
	side_up(&peer, "da2", "127.0.0.3", NULL, 0);
	direct(&req, &peer, false, true, &req_rd, &peer_rd);

	expect_route(req_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_DIRECT,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR, "requester");
	expect_try(req_rd->route_direction, &peer.node.local, 1, "requester");
	expect_peer(req_rd->route_direction, &peer, "requester");
	expect_route(peer_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_DIRECT,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_RESPONDER, "peer");
	expect_try(peer_rd->route_direction, NULL, 0, "peer");
	expect_peer(peer_rd->route_direction, &req, "peer");

	ntm_msg_free(req_rd);
	ntm_msg_free(peer_rd);
	side_down(&req);
	side_down(&peer);
}

static void case_direct_both_global(void **state)
{
	struct side req, peer;
	Ntm__Envelope *req_rd, *peer_rd;

	side_up(&req, "db1", "127.0.0.2", NULL, 0);
	side_up(&peer, "db2", "127.0.0.3", NULL, 0);
	direct(&req, &peer, false, true, &req_rd, &peer_rd);

	expect_route(req_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_DIRECT,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR, "requester");
	expect_try(req_rd->route_direction, &peer.node.local, 1, "requester");
	expect_route(peer_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_DIRECT,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_RESPONDER, "peer");

	ntm_msg_free(req_rd);
	ntm_msg_free(peer_rd);
	side_down(&req);
	side_down(&peer);
}

static void case_nat_side_opens(void **state)
{
	static const char *const nat[] = { "192.0.2.20:47830" };
	struct side req, peer;
	Ntm__Envelope *req_rd, *peer_rd;

	side_up(&req, "nb1", "127.0.0.2", NULL, 0);
	side_up(&peer, "nb2", "127.0.0.3", nat, 1);
	direct(&req, &peer, false, true, &req_rd, &peer_rd);

	expect_route(req_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_NAT_SIDE_OPENS,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_RESPONDER, "requester");
	expect_try(req_rd->route_direction, NULL, 0, "requester");
	expect_peer(req_rd->route_direction, &peer, "requester");
	expect_route(peer_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_NAT_SIDE_OPENS,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR, "peer");
	expect_try(peer_rd->route_direction, &req.node.local, 1, "peer");
	expect_peer(peer_rd->route_direction, &req, "peer");

	ntm_msg_free(req_rd);
	ntm_msg_free(peer_rd);
	side_down(&req);
	side_down(&peer);
}

static void case_same_nat(void **state)
{
	static const char *const req_nat[] = { "192.0.2.30:47830" };
	static const char *const peer_nat[] = { "192.0.2.31:47830", "192.0.2.32:47830" };
	struct side req, peer;
	Ntm__Envelope *req_rd, *peer_rd;

	/* Both on 127.0.0.1: one observed IP, as behind one NAT. */
	side_up(&req, "sc1", "127.0.0.1", req_nat, 1);
	side_up(&peer, "sc2", "127.0.0.1", peer_nat, 2);
	direct(&req, &peer, false, true, &req_rd, &peer_rd);

	expect_route(req_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_SAME_NAT,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR, "requester");
	expect_try(req_rd->route_direction, peer.reported, 2, "requester");
	expect_peer(req_rd->route_direction, &peer, "requester");
	expect_route(peer_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_SAME_NAT,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_RESPONDER, "peer");
	expect_try(peer_rd->route_direction, NULL, 0, "peer");
	expect_peer(peer_rd->route_direction, &req, "peer");

	ntm_msg_free(req_rd);
	ntm_msg_free(peer_rd);
	side_down(&req);
	side_down(&peer);
}

static void case_same_nat_excluded(void **state)
{
	static const char *const req_nat[] = { "192.0.2.40:47830" };
	static const char *const peer_nat[] = { "192.0.2.41:47830" };
	struct side req, peer;
	Ntm__Envelope *req_rd, *peer_rd;

	side_up(&req, "se1", "127.0.0.1", req_nat, 1);
	side_up(&peer, "se2", "127.0.0.1", peer_nat, 1);
	direct(&req, &peer, true, true, &req_rd, &peer_rd);

	expect_route(req_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR, "requester");
	expect_punch(req_rd->route_direction, &peer, "requester");
	expect_route(peer_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_RESPONDER, "peer");
	expect_punch(peer_rd->route_direction, &req, "peer");

	ntm_msg_free(req_rd);
	ntm_msg_free(peer_rd);
	side_down(&req);
	side_down(&peer);
}

static void case_two_nats(void **state)
{
	static const char *const req_nat[] = { "192.0.2.50:47830" };
	static const char *const peer_nat[] = { "192.0.2.51:47830" };
	struct side req, peer;
	Ntm__Envelope *req_rd, *peer_rd;

	/* Different observed IPs, so different NATs even without
	 * exclude_private. */
	side_up(&req, "tn1", "127.0.0.2", req_nat, 1);
	side_up(&peer, "tn2", "127.0.0.3", peer_nat, 1);
	direct(&req, &peer, false, true, &req_rd, &peer_rd);

	expect_route(req_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_INITIATOR, "requester");
	expect_punch(req_rd->route_direction, &peer, "requester");
	expect_peer(req_rd->route_direction, &peer, "requester");
	expect_route(peer_rd->route_direction, NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS,
		     NTM__TUNNEL_ROLE__TUNNEL_ROLE_RESPONDER, "peer");
	expect_punch(peer_rd->route_direction, &req, "peer");
	expect_peer(peer_rd->route_direction, &req, "peer");

	ntm_msg_free(req_rd);
	ntm_msg_free(peer_rd);
	side_down(&req);
	side_down(&peer);
}

static void direction_unknown_peer(void **state)
{
	struct ntm_keypair stranger;
	struct side req;
	Ntm__Envelope *env;

	side_up(&req, "un1", "127.0.0.1", NULL, 0);
	ntm_keypair_generate(&stranger);
	env = ntm_testnode_direction(&req.node, stranger.pub, false, ITEST_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND,
			   "direction request for an unknown key");
	ntm_msg_free(env);
	side_down(&req);
}

static void direction_peer_offline(void **state)
{
	struct ntm_testnode idle;
	struct side req;
	Ntm__Envelope *env;

	side_up(&req, "po1", "127.0.0.1", NULL, 0);
	/* Enrolled, never registered: never online. */
	itest_node(&dc, &idle, "127.0.0.1", "po2.a.example");
	env = ntm_testnode_direction(&req.node, idle.kp.pub, false, ITEST_ANSWER_MS);
	itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_PEER_OFFLINE,
			   "direction request for a peer that never registered");
	ntm_msg_free(env);
	assert_int_equal(ntm_testnode_drain(&idle, ITEST_SILENCE_MS), 0);
	ntm_testnode_close(&idle);
	side_down(&req);
}

static void retransmit_until_acked(void **state)
{
	static const char *const nat[] = { "192.0.2.60:47830" };
	struct side req, peer;
	Ntm__Envelope *req_rd, *peer_rd, *again;
	uint64_t id;

	side_up(&req, "rt1", "127.0.0.2", nat, 1);
	side_up(&peer, "rt2", "127.0.0.3", NULL, 0);
	direct(&req, &peer, false, false, &req_rd, &peer_rd);
	id = peer_rd->route_direction->direction_id;
	assert_int_equal(ntm_testnode_ack_direction(&req.node, req_rd), 0);

	/* The first retransmission is due 250 ms after the first send. */
	again = ntm_testnode_recv_body(&peer.node, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
				       ITEST_ANSWER_MS);
	itest_expect_body(again, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
			  "retransmitted route direction");
	assert_int_equal(again->route_direction->direction_id, id);
	assert_int_equal(ntm_testnode_ack_direction(&peer.node, again), 0);

	/* The next retransmission would be due 500 ms after the first; 1.5 s
	 * covers two more steps of the doubling. */
	assert_int_equal(ntm_testnode_drain(&peer.node, 1500), 0);
	assert_int_equal(ntm_testnode_drain(&req.node, ITEST_SILENCE_MS), 0);

	ntm_msg_free(req_rd);
	ntm_msg_free(peer_rd);
	ntm_msg_free(again);
	side_down(&req);
	side_down(&peer);
}

static void direction_request_repeated(void **state)
{
	static const char *const nat[] = { "192.0.2.90:47830" };
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__DirectionRequest req = NTM__DIRECTION_REQUEST__INIT;
	Ntm__Envelope *first, *second, *peer_rd, *extra;
	struct side requester, peer;
	uint8_t key[NTM_KEY_LEN];

	side_up(&requester, "rp1", "127.0.0.2", nat, 1);
	side_up(&peer, "rp2", "127.0.0.3", NULL, 0);
	memcpy(key, peer.node.kp.pub, NTM_KEY_LEN);
	req.peer_key.data = key;
	req.peer_key.len = NTM_KEY_LEN;
	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.request_id = 0xd1d1d1d1d1d1d1d1ULL;
	env.body_case = NTM__ENVELOPE__BODY_DIRECTION_REQUEST;
	env.direction_request = &req;

	/* A node that lost the Route Direction retransmits its request with the
	 * same request_id. The DC responds again without a second direction. */
	assert_int_equal(ntm_testnode_send(&requester.node, &env), 0);
	first = ntm_testnode_recv_body(&requester.node, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
				       ITEST_ANSWER_MS);
	itest_expect_body(first, NTM__ENVELOPE__BODY_ROUTE_DIRECTION, "direction request");
	assert_int_equal(ntm_testnode_send(&requester.node, &env), 0);
	second = ntm_testnode_recv_body(&requester.node, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
					ITEST_ANSWER_MS);
	itest_expect_body(second, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
			  "repeated direction request");
	assert_int_equal(second->request_id, env.request_id);
	if (second->route_direction->direction_id != first->route_direction->direction_id)
		fail_msg("a repeated direction request (same request_id) started a second "
			 "direction %016llx besides %016llx",
			 (unsigned long long)second->route_direction->direction_id,
			 (unsigned long long)first->route_direction->direction_id);
	assert_int_equal(ntm_testnode_ack_direction(&requester.node, first), 0);

	peer_rd = ntm_testnode_recv_body(&peer.node, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
					 ITEST_ANSWER_MS);
	itest_expect_body(peer_rd, NTM__ENVELOPE__BODY_ROUTE_DIRECTION, "peer's route direction");
	assert_int_equal(ntm_testnode_ack_direction(&peer.node, peer_rd), 0);
	extra = ntm_testnode_recv_body(&peer.node, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
				       ITEST_SILENCE_MS);
	if (extra && extra->route_direction->direction_id != peer_rd->route_direction->direction_id)
		fail_msg("the peer received a second direction for one repeated request");
	ntm_msg_free(extra);

	ntm_msg_free(first);
	ntm_msg_free(second);
	ntm_msg_free(peer_rd);
	side_down(&requester);
	side_down(&peer);
}

/* A node may send 32 Direction Requests at once and 16 per second after
 * that; a flood gets ERROR_CODE_LIMIT instead of store lookups. */
static void direction_flood_limited(void **state)
{
	struct ntm_keypair stranger;
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__DirectionRequest req = NTM__DIRECTION_REQUEST__INIT;
	Ntm__Envelope *answer;
	struct side flooder;
	unsigned not_found = 0, limited = 0;

	side_up(&flooder, "fl1", "127.0.0.1", NULL, 0);
	ntm_keypair_generate(&stranger);
	req.peer_key.data = stranger.pub;
	req.peer_key.len = NTM_KEY_LEN;
	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.body_case = NTM__ENVELOPE__BODY_DIRECTION_REQUEST;
	env.direction_request = &req;
	for (unsigned i = 0; i < 64; i++) {
		env.request_id = 0xf100 + i;
		assert_int_equal(ntm_testnode_send(&flooder.node, &env), 0);
	}
	while ((answer = ntm_testnode_recv_body(&flooder.node, NTM__ENVELOPE__BODY_ERROR,
						ITEST_ANSWER_MS))) {
		not_found += answer->error->code == NTM__ERROR_CODE__ERROR_CODE_NOT_FOUND;
		limited += answer->error->code == NTM__ERROR_CODE__ERROR_CODE_LIMIT;
		ntm_msg_free(answer);
		if (not_found + limited == 64)
			break;
	}
	assert_int_equal(not_found + limited, 64);
	assert_true(not_found >= 32);
	assert_true(limited > 0);
	side_down(&flooder);
}

/* Counts the Route Directions with direction_id until timeout_ms passes. */
static unsigned count_directions(struct ntm_testnode *node, uint64_t id, int timeout_ms)
{
	uint64_t deadline = ntm_now_ms() + (uint64_t)timeout_ms;
	Ntm__Envelope *env;
	unsigned n = 0;
	uint64_t now;

	while ((now = ntm_now_ms()) < deadline) {
		env = ntm_testnode_recv_body(node, NTM__ENVELOPE__BODY_ROUTE_DIRECTION,
					     (int)(deadline - now));
		if (!env)
			break;
		if (env->route_direction->direction_id == id)
			n++;
		ntm_msg_free(env);
	}
	return n;
}

static void retransmit_gives_up(void **state)
{
	static const char *const nat[] = { "192.0.2.70:47830" };
	struct side req, peer;
	Ntm__Envelope *req_rd, *peer_rd;
	uint64_t id;

	side_up(&req, "gu1", "127.0.0.2", nat, 1);
	side_up(&peer, "gu2", "127.0.0.3", NULL, 0);
	direct(&req, &peer, false, false, &req_rd, &peer_rd);
	id = req_rd->route_direction->direction_id;

	/* Sends at 0, 250, 750, 1750, 3750 and 7750 ms: 6 tries in all. The
	 * first of each side is already received. Neither side acknowledges;
	 * the peer's copies queue in its socket meanwhile. */
	assert_int_equal(1 + count_directions(&req.node, id, 8500), 6);
	assert_int_equal(1 + count_directions(&peer.node, id, ITEST_SILENCE_MS), 6);

	ntm_msg_free(req_rd);
	ntm_msg_free(peer_rd);
	side_down(&req);
	side_down(&peer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(case_direct),
		cmocka_unit_test(case_direct_both_global),
		cmocka_unit_test(case_nat_side_opens),
		cmocka_unit_test(case_same_nat),
		cmocka_unit_test(case_same_nat_excluded),
		cmocka_unit_test(case_two_nats),
		cmocka_unit_test(direction_unknown_peer),
		cmocka_unit_test(direction_peer_offline),
		cmocka_unit_test(direction_request_repeated),
		cmocka_unit_test(direction_flood_limited),
		cmocka_unit_test(retransmit_until_acked),
		cmocka_unit_test(retransmit_gives_up),
	};

	return cmocka_run_group_tests_name("dc_direction", tests, group_setup, itest_group_teardown);
}
