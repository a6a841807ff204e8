/*
 * Group fixtures and checks shared by the DC integration tests (cmocka).
 * Every check fails the running test with a message that names what was
 * sent and what came back.
 */
#ifndef DC_ITEST_H
#define DC_ITEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ntm_daemontest.h"
#include "ntm_dctest.h"
#include "ntm_testnode.h"

/* How long a test waits for a response the DC must send, in milliseconds. */
#define ITEST_ANSWER_MS 1000
/* How long a test listens to conclude that the DC sends nothing. Loopback
 * responses take well under a millisecond, so this is generous. */
#define ITEST_SILENCE_MS 300

/* DC timers, in seconds, for test files that wait for a node to go offline.
 * ITEST_OFFLINE_AFTER_S is the smallest offline_after the configuration
 * accepts, so such a test waits as little as possible. */
#define ITEST_OFFLINE_AFTER_S 5
#define ITEST_KEEPALIVE_S 2

/* Initialises and starts dc with opt (NULL for the defaults) as the group
 * set-up of a test file that runs one DC, and keeps dc in *state for
 * itest_group_teardown. Returns 0, or -1 after removing what it made. */
static inline int itest_group_setup(void **state, struct ntm_dctest *dc,
				    const struct ntm_dctest_options *opt)
{
	if (ntm_dctest_init(dc, opt) != 0 || ntm_dctest_start(dc) != 0) {
		ntm_dctest_cleanup(dc);
		return -1;
	}
	*state = dc;
	return 0;
}

/* Runs itest_group_setup with the timers ITEST_OFFLINE_AFTER_S and
 * ITEST_KEEPALIVE_S. */
static inline int itest_group_setup_short_timers(void **state, struct ntm_dctest *dc)
{
	const struct ntm_dctest_options opt = {
		.offline_after = ITEST_OFFLINE_AFTER_S,
		.keepalive_interval = ITEST_KEEPALIVE_S,
	};

	return itest_group_setup(state, dc, &opt);
}

/* Stops the DC of itest_group_setup and removes its directory. */
static inline int itest_group_teardown(void **state)
{
	if (*state)
		ntm_dctest_cleanup(*state);
	return 0;
}

static inline const char *itest_describe(const Ntm__Envelope *env, char *out, size_t size)
{
	if (!env) {
		snprintf(out, size, "no answer");
		return out;
	}
	return ntm_testnode_describe(env, out, size);
}

/* Fails unless env contains the given body. what names the request. */
static inline void itest_expect_body(const Ntm__Envelope *env, Ntm__Envelope__BodyCase body,
				     const char *what)
{
	char line[1024];

	if (env && env->body_case == body)
		return;
	fail_msg("%s: expected a message with body %d, got: %s", what, (int)body,
		 itest_describe(env, line, sizeof(line)));
}

static inline void itest_expect_error(const Ntm__Envelope *env, Ntm__ErrorCode code,
				      const char *what)
{
	char line[1024];

	if (env && env->body_case == NTM__ENVELOPE__BODY_ERROR && env->error->code == code)
		return;
	fail_msg("%s: expected error %s, got: %s", what, ntm_testnode_error_str(code),
		 itest_describe(env, line, sizeof(line)));
}

/* Fails when the DC sends node anything within ITEST_SILENCE_MS. */
static inline void itest_expect_silence(struct ntm_testnode *node, const char *what)
{
	Ntm__Envelope *env = ntm_testnode_recv(node, ITEST_SILENCE_MS);
	char line[1024];

	if (!env)
		return;
	itest_describe(env, line, sizeof(line));
	ntm_msg_free(env);
	fail_msg("%s: expected no answer, got: %s", what, line);
}

/* Fails when env, the result of a request with a short timeout, is a
 * response. */
static inline void itest_expect_no_answer(Ntm__Envelope *env, const char *what)
{
	char line[1024];

	if (!env)
		return;
	itest_describe(env, line, sizeof(line));
	ntm_msg_free(env);
	fail_msg("%s: expected no answer, got: %s", what, line);
}

static inline void itest_node(struct ntm_dctest *dc, struct ntm_testnode *node,
			      const char *bind_ip, const char *fqdn)
{
	int rc = ntm_dctest_node(dc, node, bind_ip, fqdn);

	if (rc != 0)
		fail_msg("opening node %s on %s and enrolling it failed: %s", fqdn ? fqdn : "(none)",
			 bind_ip, strerror(-rc));
}

/* Registers node reporting reported (NULL: its own socket address) and
 * fails unless a RegistrationResponse comes back. */
static inline void itest_register(struct ntm_testnode *node, const char *fqdn,
				  const struct ntm_endpoint *reported, size_t n_reported)
{
	Ntm__Envelope *env;
	char what[300];

	if (reported)
		env = ntm_testnode_register(node, fqdn, reported, n_reported, ITEST_ANSWER_MS);
	else
		env = ntm_testnode_register_direct(node, fqdn, ITEST_ANSWER_MS);
	snprintf(what, sizeof(what), "registration of %s", fqdn);
	itest_expect_body(env, NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE, what);
	ntm_msg_free(env);
}

static inline struct ntm_endpoint itest_endpoint(const char *text)
{
	struct ntm_endpoint ep;

	if (ntm_endpoint_parse(&ep, text, 0) != 0)
		fail_msg("invalid endpoint in the test: %s", text);
	return ep;
}

/* Text of an endpoint message, "none" when missing or invalid. */
static inline const char *itest_endpoint_msg_str(const Ntm__Endpoint *m, char *out, size_t size)
{
	struct ntm_endpoint ep;

	if (!m || ntm_msg_endpoint_get(&ep, m) != 0)
		return "none";
	return ntm_endpoint_str(&ep, out, size);
}

static inline void itest_expect_endpoint(const Ntm__Endpoint *m, const struct ntm_endpoint *want,
					 const char *what)
{
	char got[NTM_ENDPOINT_STRLEN], exp[NTM_ENDPOINT_STRLEN];
	struct ntm_endpoint ep;

	if (m && ntm_msg_endpoint_get(&ep, m) == 0 && ntm_endpoint_equal(&ep, want))
		return;
	fail_msg("%s: expected %s, got %s", what, ntm_endpoint_str(want, exp, sizeof(exp)),
		 itest_endpoint_msg_str(m, got, sizeof(got)));
}

static inline struct ntm_ip itest_ip_msg(ProtobufCBinaryData raw, const char *what)
{
	struct ntm_ip ip;

	if (ntm_msg_ip_get(&ip, raw) != 0)
		fail_msg("%s: not an IP address (%zu bytes)", what, raw.len);
	return ip;
}

static inline void itest_expect_key(ProtobufCBinaryData raw, const uint8_t key[NTM_KEY_LEN],
				    const char *what)
{
	if (raw.len == NTM_KEY_LEN && memcmp(raw.data, key, NTM_KEY_LEN) == 0)
		return;
	fail_msg("%s: the key differs from the expected node key (%zu bytes)", what, raw.len);
}

/* String member of a JSON object, or NULL. */
static inline const char *itest_json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static inline void itest_expect_json_str(const json_t *obj, const char *key, const char *want)
{
	const char *got = itest_json_str(obj, key);

	if (got && strcmp(got, want) == 0)
		return;
	fail_msg("JSON member \"%s\": expected \"%s\", got %s%s%s", key, want, got ? "\"" : "",
		 got ? got : "no string", got ? "\"" : "");
}

static inline void itest_expect_json_bool(const json_t *obj, const char *key, bool want)
{
	const json_t *v = json_object_get(obj, key);
	const char *got = "no boolean";

	if (json_is_boolean(v) && json_boolean_value(v) == want)
		return;
	if (json_is_boolean(v))
		got = json_boolean_value(v) ? "true" : "false";
	fail_msg("JSON member \"%s\": expected %s, got %s", key, want ? "true" : "false", got);
}

/* Fails unless an admin API call returned the expected HTTP status. */
static inline void itest_expect_status(int got, int want, const char *what)
{
	if (got != want)
		fail_msg("%s: expected HTTP status %d, got %d", what, want, got);
}

/* Fetches GET /v1/records/{id} and fails unless it returns 200. */
static inline json_t *itest_record(struct ntm_dctest *dc, const char *id)
{
	json_t *rec = ntm_dctest_record(dc, id);

	if (!rec)
		fail_msg("GET /v1/records/%s did not return a record", id);
	return rec;
}

/* Builds "label.domain" into out. */
static inline const char *itest_fqdn(char *out, size_t size, const char *label,
				     const struct ntm_dctest *dc)
{
	int n = snprintf(out, size, "%s.%s", label, dc->domain);

	if (n < 0 || (size_t)n >= size)
		fail_msg("FQDN %s.%s does not fit in %zu bytes", label, dc->domain, size);
	return out;
}

#endif
