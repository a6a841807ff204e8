/* Tunnel session keys: both sides agree, directions differ, and a wrong
 * static key or ephemeral key gives different keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "ntm_handshake.h"

struct pair {
	struct ntm_keypair a_static, b_static;
	struct ntm_ctl_keys a_ctl, b_ctl;
};

static void make_pair(struct pair *p)
{
	ntm_keypair_generate(&p->a_static);
	ntm_keypair_generate(&p->b_static);
	assert_int_equal(ntm_ctl_keys_derive(&p->a_ctl, &p->a_static, p->b_static.pub), 0);
	assert_int_equal(ntm_ctl_keys_derive(&p->b_ctl, &p->b_static, p->a_static.pub), 0);
}

static void derive_both(struct pair *p, struct ntm_session_keys *ka, struct ntm_session_keys *kb)
{
	struct ntm_keypair ea, eb;
	uint8_t ea_pub[32], eb_pub[32];

	ntm_keypair_generate(&ea);
	ntm_keypair_generate(&eb);
	memcpy(ea_pub, ea.pub, 32);
	memcpy(eb_pub, eb.pub, 32);
	assert_int_equal(ntm_session_keys_derive(ka, true, &ea, eb_pub, &p->a_ctl), 0);
	assert_int_equal(ntm_session_keys_derive(kb, false, &eb, ea_pub, &p->b_ctl), 0);
}

static void keys_agree(void **state)
{
	struct pair p;
	struct ntm_session_keys ka, kb;

	make_pair(&p);
	derive_both(&p, &ka, &kb);
	assert_memory_equal(ka.send, kb.recv, 32);
	assert_memory_equal(ka.recv, kb.send, 32);
	assert_memory_not_equal(ka.send, ka.recv, 32);
}

static void ephemeral_wiped(void **state)
{
	struct pair p;
	struct ntm_keypair e, other;
	struct ntm_session_keys k;
	uint8_t zero[32] = { 0 };

	make_pair(&p);
	ntm_keypair_generate(&e);
	ntm_keypair_generate(&other);
	assert_int_equal(ntm_session_keys_derive(&k, true, &e, other.pub, &p.a_ctl), 0);
	assert_memory_equal(e.priv, zero, 32);
}

static void fresh_ephemerals_fresh_keys(void **state)
{
	struct pair p;
	struct ntm_session_keys k1a, k1b, k2a, k2b;

	make_pair(&p);
	derive_both(&p, &k1a, &k1b);
	derive_both(&p, &k2a, &k2b);
	assert_memory_not_equal(k1a.send, k2a.send, 32);
}

static void other_static_differs(void **state)
{
	struct pair p, q;
	struct ntm_keypair ea, eb;
	struct ntm_session_keys ka, kb;
	uint8_t ea_pub[32], eb_pub[32];

	make_pair(&p);
	make_pair(&q);
	ntm_keypair_generate(&ea);
	ntm_keypair_generate(&eb);
	memcpy(ea_pub, ea.pub, 32);
	memcpy(eb_pub, eb.pub, 32);
	assert_int_equal(ntm_session_keys_derive(&ka, true, &ea, eb_pub, &p.a_ctl), 0);
	/* The responder binds to a different static pair: keys must not match. */
	assert_int_equal(ntm_session_keys_derive(&kb, false, &eb, ea_pub, &q.b_ctl), 0);
	assert_memory_not_equal(ka.send, kb.recv, 32);
}

static void low_order_peer_rejected(void **state)
{
	struct pair p;
	struct ntm_keypair e;
	struct ntm_session_keys k;
	uint8_t zero[32] = { 0 };

	make_pair(&p);
	ntm_keypair_generate(&e);
	assert_int_equal(ntm_session_keys_derive(&k, true, &e, zero, &p.a_ctl), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keys_agree),
		cmocka_unit_test(ephemeral_wiped),
		cmocka_unit_test(fresh_ephemerals_fresh_keys),
		cmocka_unit_test(other_static_differs),
		cmocka_unit_test(low_order_peer_rejected),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("handshake", tests, NULL, NULL);
}
