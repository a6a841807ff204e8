/*
 * Bad input at ntm-dcd's control port: garbage, truncated, oversized,
 * replayed and wrongly keyed packets get no response, and the DC keeps
 * serving (a registration right after still works).
 */
#include "dc_itest.h"

#include <sodium.h>
#include <stdlib.h>

static struct ntm_dctest dc;
/* An enrolled, registered node whose packets the tests mangle. */
static struct ntm_testnode good;
/* Sends the bad packets from its own socket, so any response lands there.
 * It uses another loopback address than good, as an attacker elsewhere would. */
static struct ntm_testnode sender;

static int group_setup(void **state)
{
	if (ntm_dctest_init(&dc, NULL) != 0 || ntm_dctest_start(&dc) != 0 ||
	    ntm_dctest_node(&dc, &good, "127.0.0.1", "good.a.example") != 0 ||
	    ntm_dctest_node(&dc, &sender, "127.0.0.4", NULL) != 0) {
		ntm_dctest_cleanup(&dc);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	ntm_testnode_close(&good);
	ntm_testnode_close(&sender);
	ntm_dctest_cleanup(&dc);
	return 0;
}

static int test_setup(void **state)
{
	Ntm__Envelope *env = ntm_testnode_register_direct(&good, "good.a.example",
							  ITEST_ANSWER_MS);
	bool ok = env && env->body_case == NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE;

	ntm_msg_free(env);
	return ok ? 0 : -1;
}

/* Fails when the DC responded to the bad input, or stopped serving. */
static void expect_still_serving(const char *what)
{
	Ntm__Envelope *env;

	itest_expect_silence(&sender, what);
	/* Anything sent to good in the meantime is queued by now. */
	assert_int_equal(ntm_testnode_drain(&good, 20), 0);
	env = ntm_testnode_register_direct(&good, "good.a.example", ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE,
			  "registration after bad input");
	ntm_msg_free(env);
	assert_int_equal(ntm_dctest_http(&dc, "GET", "/healthz", NULL, false, NULL), 200);
}

/* Seals a KeepAlive from good without sending it. */
static size_t seal_keepalive(uint8_t *out, size_t out_size)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__KeepAlive ka = NTM__KEEP_ALIVE__INIT;
	ssize_t n;

	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.request_id = good.next_request_id++;
	env.body_case = NTM__ENVELOPE__BODY_KEEP_ALIVE;
	env.keep_alive = &ka;
	n = ntm_testnode_seal(&good, &env, out, out_size);
	assert_true(n > 0);
	return (size_t)n;
}

static void garbage(void **state)
{
	uint8_t buf[512];

	randombytes_buf(buf, sizeof(buf));
	assert_int_equal(ntm_testnode_send_raw(&sender, buf, 200), 0);
	/* Looks like a control header, the rest is noise. */
	buf[0] = NTM_WIRE_VERSION;
	buf[1] = NTM_PKT_CONTROL;
	buf[2] = buf[3] = 0;
	memcpy(buf + 4, good.kp.pub, NTM_KEY_LEN);
	assert_int_equal(ntm_testnode_send_raw(&sender, buf, sizeof(buf)), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ntm_testnode_send_raw(&sender, buf, NTM_CTL_HEADER_LEN + 40), 0);
	expect_still_serving("garbage datagrams");
}

static void empty_datagram(void **state)
{
	assert_int_equal(ntm_testnode_send_raw(&sender, "", 0), 0);
	expect_still_serving("empty datagram");
}

static void truncated(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET];
	size_t len = seal_keepalive(pkt, sizeof(pkt));
	const size_t cuts[] = {
		1, 3, 40, NTM_CTL_HEADER_LEN, NTM_CTL_HEADER_LEN + NTM_TAG_LEN - 1, len - 1,
	};
	size_t i;

	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		assert_int_equal(ntm_testnode_send_raw(&sender, pkt, cuts[i]), 0);
	expect_still_serving("truncated keepalive packets");
}

static void oversized(void **state)
{
	/* 65507 bytes: the largest UDP payload over IPv4. */
	const size_t sizes[] = { NTM_CTL_MAX_PACKET + 1, 9000, 65507 };
	size_t len, i;
	uint8_t *big = malloc(65507);

	assert_non_null(big);
	randombytes_buf(big, 65507);
	len = seal_keepalive(big, NTM_CTL_MAX_PACKET);
	/* A valid packet with trailing bytes: its tag no longer ends it. */
	assert_int_equal(ntm_testnode_send_raw(&sender, big, len + 1), 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		assert_int_equal(ntm_testnode_send_raw(&sender, big, sizes[i]), 0);
	free(big);
	expect_still_serving("oversized packets");
}

static void replayed(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET];
	size_t len;
	Ntm__Envelope *env;

	env = ntm_testnode_keepalive(&good, ITEST_ANSWER_MS);
	itest_expect_body(env, NTM__ENVELOPE__BODY_KEEP_ALIVE_ACK, "keepalive");
	ntm_msg_free(env);
	memcpy(pkt, good.last_packet, good.last_packet_len);
	len = good.last_packet_len;

	/* From the node's own socket, as an attacker on its path would. */
	assert_int_equal(ntm_testnode_send_raw(&good, pkt, len), 0);
	itest_expect_silence(&good, "replayed keepalive");
	/* And from another source address. */
	assert_int_equal(ntm_testnode_send_raw(&sender, pkt, len), 0);
	expect_still_serving("replayed keepalive from another port");
}

static void wrong_keys(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET], wrong_dc[NTM_KEY_LEN], wrong_priv[NTM_KEY_LEN];
	struct ntm_testnode forger, confused;
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__KeepAlive ka = NTM__KEEP_ALIVE__INIT;
	ssize_t len;

	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.body_case = NTM__ENVELOPE__BODY_KEEP_ALIVE;
	env.keep_alive = &ka;

	/* Another key pair's packet carrying good's public key as sender. */
	itest_node(&dc, &forger, "127.0.0.1", NULL);
	len = ntm_testnode_seal(&forger, &env, pkt, sizeof(pkt));
	assert_true(len > 0);
	memcpy(pkt + 4, good.kp.pub, NTM_KEY_LEN);
	assert_int_equal(ntm_testnode_send_raw(&sender, pkt, (size_t)len), 0);

	/* good's own key pair, but sealed for another DC key. */
	randombytes_buf(wrong_priv, sizeof(wrong_priv));
	assert_int_equal(crypto_scalarmult_base(wrong_dc, wrong_priv), 0);
	assert_int_equal(ntm_testnode_open(&confused, "127.0.0.1", 0, &dc.control, wrong_dc,
					   &good.kp), 0);
	assert_int_equal(ntm_testnode_send(&confused, &env), 0);
	itest_expect_silence(&confused, "keepalive sealed for another DC key");

	/* An unenrolled key, sealed correctly. */
	assert_int_equal(ntm_testnode_send(&forger, &env), 0);
	itest_expect_silence(&forger, "keepalive from an unenrolled key");

	ntm_testnode_close(&forger);
	ntm_testnode_close(&confused);
	expect_still_serving("wrongly keyed keepalives");
}

static void bad_header(void **state)
{
	uint8_t pkt[NTM_CTL_MAX_PACKET];
	size_t len;

	len = seal_keepalive(pkt, sizeof(pkt));
	pkt[0] = NTM_WIRE_VERSION + 1;
	assert_int_equal(ntm_testnode_send_raw(&sender, pkt, len), 0);
	len = seal_keepalive(pkt, sizeof(pkt));
	pkt[1] = NTM_PKT_DATA;
	assert_int_equal(ntm_testnode_send_raw(&sender, pkt, len), 0);
	len = seal_keepalive(pkt, sizeof(pkt));
	pkt[1] = NTM_PKT_RELAY_BIND;
	assert_int_equal(ntm_testnode_send_raw(&sender, pkt, len), 0);
	len = seal_keepalive(pkt, sizeof(pkt));
	pkt[1] = 0xff;
	assert_int_equal(ntm_testnode_send_raw(&sender, pkt, len), 0);
	expect_still_serving("control packets with a wrong version or type byte");
}

static void unsupported_version(void **state)
{
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	Ntm__KeepAlive ka = NTM__KEEP_ALIVE__INIT;
	Ntm__Envelope *answer;

	/* Major version 2 (protocol_version / 100). */
	env.protocol_version = 200;
	env.request_id = good.next_request_id++;
	env.body_case = NTM__ENVELOPE__BODY_KEEP_ALIVE;
	env.keep_alive = &ka;
	assert_int_equal(ntm_testnode_send(&good, &env), 0);
	answer = ntm_testnode_recv(&good, ITEST_ANSWER_MS);
	itest_expect_error(answer, NTM__ERROR_CODE__ERROR_CODE_UNSUPPORTED_VERSION,
			   "keepalive with protocol_version 200");
	assert_int_equal(answer->request_id, env.request_id);
	ntm_msg_free(answer);
	expect_still_serving("protocol_version 200");
}

/* Accepts no response or Error{INVALID}, because the contract allows either
 * for a sealed message the DC cannot use. */
static void expect_invalid_or_nothing(struct ntm_testnode *node, const char *what)
{
	Ntm__Envelope *env = ntm_testnode_recv(node, ITEST_SILENCE_MS);

	if (env)
		itest_expect_error(env, NTM__ERROR_CODE__ERROR_CODE_INVALID, what);
	ntm_msg_free(env);
}

static void sealed_nonsense(void **state)
{
	uint8_t pt[100], pkt[NTM_CTL_MAX_PACKET];
	Ntm__Envelope env = NTM__ENVELOPE__INIT;
	char fqdn[300];
	Ntm__RegistrationRequest req = NTM__REGISTRATION_REQUEST__INIT;
	ssize_t len;

	/* Authenticated bytes that are not a protobuf Envelope. */
	memset(pt, 0xff, sizeof(pt));
	len = ntm_ctl_seal(pkt, sizeof(pkt), good.kp.pub, &good.keys, good.counter++, pt,
			   sizeof(pt));
	assert_true(len > 0);
	assert_int_equal(ntm_testnode_send_raw(&good, pkt, (size_t)len), 0);
	expect_invalid_or_nothing(&good, "sealed bytes that are no Envelope");

	/* An Envelope without a body. */
	env.protocol_version = NTM_PROTOCOL_VERSION;
	env.request_id = good.next_request_id++;
	assert_int_equal(ntm_testnode_send(&good, &env), 0);
	expect_invalid_or_nothing(&good, "Envelope without a body");

	/* A registration whose FQDN is longer than 253 bytes. */
	memset(fqdn, 'x', sizeof(fqdn) - 1);
	fqdn[sizeof(fqdn) - 1] = '\0';
	req.fqdn = fqdn;
	env.request_id = good.next_request_id++;
	env.body_case = NTM__ENVELOPE__BODY_REGISTRATION_REQUEST;
	env.registration_request = &req;
	assert_int_equal(ntm_testnode_send(&good, &env), 0);
	expect_invalid_or_nothing(&good, "registration with a 299-byte FQDN");

	expect_still_serving("sealed messages out of range");
}

static void flood(void **state)
{
	uint8_t buf[256];
	unsigned i;

	/* Bounded: 2000 datagrams, well within the socket buffers' reach of
	 * a DC that reads as fast as it should. */
	for (i = 0; i < 2000; i++) {
		randombytes_buf(buf, sizeof(buf));
		buf[0] = NTM_WIRE_VERSION;
		buf[1] = NTM_PKT_CONTROL;
		memcpy(buf + 4, good.kp.pub, NTM_KEY_LEN);
		assert_int_equal(ntm_testnode_send_raw(&sender, buf, sizeof(buf)), 0);
	}
	expect_still_serving("2000 forged control packets");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(garbage, test_setup),
		cmocka_unit_test_setup(empty_datagram, test_setup),
		cmocka_unit_test_setup(truncated, test_setup),
		cmocka_unit_test_setup(oversized, test_setup),
		cmocka_unit_test_setup(replayed, test_setup),
		cmocka_unit_test_setup(wrong_keys, test_setup),
		cmocka_unit_test_setup(bad_header, test_setup),
		cmocka_unit_test_setup(unsupported_version, test_setup),
		cmocka_unit_test_setup(sealed_nonsense, test_setup),
		cmocka_unit_test_setup(flood, test_setup),
	};

	return cmocka_run_group_tests_name("dc_badinput", tests, group_setup, group_teardown);
}
