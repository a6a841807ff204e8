/* Unit tests for the configuration reader (ntm_conf): values, defaults and
 * every error message form, on temporary files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ntm_conf.h"
#include "ntm_log.h"

struct test_config {
	char *domain;
	struct ntm_endpoint listen;
	uint64_t offline_after;
	bool federate;
	struct ntm_prefix vip_prefix;
	enum ntm_log_level log_level;
	struct ntm_endpoint admin_listen;
	char *token_file;
	struct ntm_ip lan_address;
	int n_peer_options;
	char last_peer[64];
};

#define OPT(sec, nam, typ, field, lo, hi, def, hlp) \
	{ sec, nam, typ, offsetof(struct test_config, field), lo, hi, def, hlp }

static const struct ntm_conf_option options[] = {
	OPT("dc", "domain", NTM_CONF_STRING, domain, 0, 0, NULL, "DNS domain this DC serves"),
	OPT("dc", "listen", NTM_CONF_ENDPOINT, listen, 47800, 0, "0.0.0.0:47800",
	    "UDP address and port of the control socket"),
	OPT("dc", "offline_after", NTM_CONF_UINT, offline_after, 5, 86400, "60", "seconds"),
	OPT("dc", "federate", NTM_CONF_BOOL, federate, 0, 0, "no", "whether to federate"),
	OPT("dc", "vip_prefix", NTM_CONF_PREFIX, vip_prefix, 0, 0, "198.51.100.0/24",
	    "prefix of the virtual IPs"),
	OPT("dc", "log_level", NTM_CONF_LOG_LEVEL, log_level, 0, 0, "info",
	    "error, warning, info or debug"),
	OPT("admin", "listen", NTM_CONF_ENDPOINT, admin_listen, 47880, 0, "127.0.0.1:47880",
	    "TCP address and port of the admin API"),
	OPT("admin", "token_file", NTM_CONF_STRING, token_file, 0, 0, NULL,
	    "file with the admin bearer token"),
	OPT("lan", "address", NTM_CONF_IP, lan_address, 0, 0, "192.0.2.1",
	    "this host's address on the LAN"),
};

static int peer_option(void *arg, const char *section, const char *name, const char *value,
		       char *err, size_t err_size)
{
	struct test_config *cfg = arg;

	if (strcmp(name, "endpoint") != 0) {
		snprintf(err, err_size, "unknown option '%s' in [%s]; valid options: endpoint",
			 name, section);
		return -1;
	}
	cfg->n_peer_options++;
	snprintf(cfg->last_peer, sizeof(cfg->last_peer), "%s", section);
	return 0;
}

static const struct ntm_conf_schema schema = {
	.options = options,
	.n_options = sizeof(options) / sizeof(options[0]),
	.dynamic_section_prefix = "peer",
	.dynamic_cb = peer_option,
};

static const char *const valid_sections = "[dc], [admin], [lan], [peer NAME]";

struct fixture {
	char dir[64];
	char path[128];
	char expected[NTM_CONF_ERR_MAX];
	char err[NTM_CONF_ERR_MAX];
	struct test_config cfg;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/ntm-test-conf-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/test.conf", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	ntm_conf_free(&schema, &fx->cfg);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void write_file(struct fixture *fx, const char *text)
{
	FILE *f = fopen(fx->path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads text and returns ntm_conf_load's result; the message is in fx->err. */
static int load(struct fixture *fx, const char *text)
{
	write_file(fx, text);
	fx->err[0] = '\0';
	return ntm_conf_load(fx->path, &schema, &fx->cfg, fx->err, sizeof(fx->err));
}

static void expect(struct fixture *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets fx->expected to "path" followed by the formatted text. */
static void expect(struct fixture *fx, const char *fmt, ...)
{
	va_list ap;
	size_t n = (size_t)snprintf(fx->expected, sizeof(fx->expected), "%s", fx->path);

	va_start(ap, fmt);
	vsnprintf(fx->expected + n, sizeof(fx->expected) - n, fmt, ap);
	va_end(ap);
}

static const char minimal[] = "[dc]\n"
			      "domain = home.example\n"
			      "[admin]\n"
			      "token_file = /etc/ntm/admin.token\n";

/* ---- values and defaults ---- */

static void conf_defaults_applied(void **state)
{
	struct fixture *fx = *state;
	char text[64];

	assert_int_equal(load(fx, minimal), 0);
	assert_string_equal(fx->cfg.domain, "home.example");
	assert_string_equal(fx->cfg.token_file, "/etc/ntm/admin.token");
	assert_string_equal(ntm_endpoint_str(&fx->cfg.listen, text, sizeof(text)), "0.0.0.0:47800");
	assert_string_equal(ntm_endpoint_str(&fx->cfg.admin_listen, text, sizeof(text)),
			    "127.0.0.1:47880");
	assert_int_equal(fx->cfg.offline_after, 60);
	assert_false(fx->cfg.federate);
	assert_string_equal(ntm_prefix_str(&fx->cfg.vip_prefix, text, sizeof(text)),
			    "198.51.100.0/24");
	assert_int_equal(fx->cfg.log_level, NTM_LOG_INFO);
	assert_string_equal(ntm_ip_str(&fx->cfg.lan_address, text, sizeof(text)), "192.0.2.1");
	assert_int_equal(fx->cfg.n_peer_options, 0);
}

static void conf_values_parsed(void **state)
{
	struct fixture *fx = *state;
	char text[64];

	assert_int_equal(load(fx, "# comment line\n"
				  "[dc]\n"
				  "domain = home.example ; inline comment\n"
				  "listen = [2001:db8::1]:4000\n"
				  "offline_after = 86400\n"
				  "federate = Yes\n"
				  "vip_prefix = 203.0.113.0/24\n"
				  "log_level = debug\r\n"
				  "  ; an indented comment is still a comment\n"
				  "\n"
				  "[admin]\n"
				  "listen = 127.0.0.2\n"
				  "token_file = /run/token\n"
				  "[lan]\n"
				  "address = 2001:db8::2\n"
				  "[peer other.example]\n"
				  "endpoint = 192.0.2.10:47810\n"),
			 0);
	assert_string_equal(fx->cfg.domain, "home.example");
	assert_string_equal(ntm_endpoint_str(&fx->cfg.listen, text, sizeof(text)),
			    "[2001:db8::1]:4000");
	assert_int_equal(fx->cfg.offline_after, 86400);
	assert_true(fx->cfg.federate);
	assert_string_equal(ntm_prefix_str(&fx->cfg.vip_prefix, text, sizeof(text)),
			    "203.0.113.0/24");
	assert_int_equal(fx->cfg.log_level, NTM_LOG_DEBUG);
	/* The port defaults to the option's min. */
	assert_string_equal(ntm_endpoint_str(&fx->cfg.admin_listen, text, sizeof(text)),
			    "127.0.0.2:47880");
	assert_string_equal(ntm_ip_str(&fx->cfg.lan_address, text, sizeof(text)), "2001:db8::2");
	assert_int_equal(fx->cfg.n_peer_options, 1);
	assert_string_equal(fx->cfg.last_peer, "peer other.example");
}

static void conf_log_levels(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *text;
		enum ntm_log_level level;
	} cases[] = {
		{ "error", NTM_LOG_ERR },
		{ "warning", NTM_LOG_WARNING },
		{ "info", NTM_LOG_INFO },
		{ "debug", NTM_LOG_DEBUG },
	};
	char text[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[dc]\ndomain = a.example\nlog_level = %s\n"
			 "[admin]\ntoken_file = t\n", cases[i].text);
		assert_int_equal(load(fx, text), 0);
		assert_int_equal(fx->cfg.log_level, cases[i].level);
		ntm_conf_free(&schema, &fx->cfg);
	}
}

static void conf_free_clears_strings(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, minimal), 0);
	ntm_conf_free(&schema, &fx->cfg);
	assert_null(fx->cfg.domain);
	assert_null(fx->cfg.token_file);
}

static void conf_empty_string_value(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\ndomain =\n[admin]\ntoken_file = t\n"), 0);
	assert_string_equal(fx->cfg.domain, "");
}

/* ---- error messages ---- */

static void conf_file_not_found(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(ntm_conf_load(fx->path, &schema, &fx->cfg, fx->err, sizeof(fx->err)), -1);
	expect(fx, ": cannot open: No such file or directory");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_unknown_option(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\ndomain = a.example\nfoo = 1\n"), -1);
	expect(fx, ":3: unknown option 'foo' in [dc]; valid options in [dc]: domain, listen, "
		   "offline_after, federate, vip_prefix, log_level");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_unknown_section(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\ndomain = a.example\n\n[bogus]\nx = 1\n"), -1);
	expect(fx, ":5: unknown section [bogus]; valid sections: %s", valid_sections);
	assert_string_equal(fx->err, fx->expected);
}

/* Only the whole first word selects a dynamic section. */
static void conf_prefix_needs_whole_word(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[peerless]\nendpoint = 1\n"), -1);
	expect(fx, ":2: unknown section [peerless]; valid sections: %s", valid_sections);
	assert_string_equal(fx->err, fx->expected);
}

static void conf_option_outside_section(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "domain = a.example\n[dc]\n"), -1);
	expect(fx, ":1: option 'domain' is outside any section; put it under one of the valid "
		   "sections: %s", valid_sections);
	assert_string_equal(fx->err, fx->expected);
}

static void conf_invalid_number(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\ndomain = a.example\n\n\n\n\noffline_after = abc\n"), -1);
	expect(fx, ":7: invalid value 'abc' for [dc] offline_after: expected a whole number from "
		   "5 to 86400 (seconds)");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_number_out_of_range(void **state)
{
	struct fixture *fx = *state;
	static const char *const values[] = { "4", "86401", "-5", "+5", "5.0", "0x10", "",
					      "99999999999999999999999" };
	char text[256];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(text, sizeof(text), "[dc]\noffline_after = %s\n", values[i]);
		assert_int_equal(load(fx, text), -1);
		expect(fx, ":2: invalid value '%s' for [dc] offline_after: expected a whole "
			   "number from 5 to 86400 (seconds)", values[i]);
		assert_string_equal(fx->err, fx->expected);
		ntm_conf_free(&schema, &fx->cfg);
	}
}

static void conf_invalid_bool(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\nfederate = maybe\n"), -1);
	expect(fx, ":2: invalid value 'maybe' for [dc] federate: expected yes or no (or "
		   "true/false, on/off, 1/0)");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_invalid_log_level(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\nlog_level = verbose\n"), -1);
	expect(fx, ":2: invalid value 'verbose' for [dc] log_level: expected error, warning, "
		   "info or debug");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_invalid_endpoint(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[admin]\nlisten = localhost:80\n"), -1);
	expect(fx, ":2: invalid value 'localhost:80' for [admin] listen: expected IP:PORT or "
		   "just IP, which means port 47880, for example 192.0.2.1:47880 or "
		   "[2001:db8::1]:47880");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_invalid_ip(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[lan]\naddress = host.example\n"), -1);
	expect(fx, ":2: invalid value 'host.example' for [lan] address: expected an IP address "
		   "without a port, for example 192.0.2.1 or 2001:db8::1");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_ip_with_port(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[lan]\naddress = 192.0.2.2:5000\n"), -1);
	expect(fx, ":2: invalid value '192.0.2.2:5000' for [lan] address: expected an IP "
		   "address without a port; write 192.0.2.2");
	assert_string_equal(fx->err, fx->expected);

	assert_int_equal(load(fx, "[lan]\naddress = [2001:db8::2]:80\n"), -1);
	expect(fx, ":2: invalid value '[2001:db8::2]:80' for [lan] address: expected an IP "
		   "address without a port; write 2001:db8::2");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_invalid_prefix(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\nvip_prefix = 198.51.100.1/24\n"), -1);
	expect(fx, ":2: invalid value '198.51.100.1/24' for [dc] vip_prefix: expected "
		   "ADDRESS/LENGTH with the host bits zero, for example 198.51.100.0/24 or "
		   "2001:db8:1::/64");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_value_sanitized(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\noffline_after = 1\x01\n"), -1);
	expect(fx, ":2: invalid value '1\\x01' for [dc] offline_after: expected a whole number "
		   "from 5 to 86400 (seconds)");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_missing_required(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[admin]\ntoken_file = t\n"), -1);
	expect(fx, ": [dc] domain is missing; add a line 'domain = ...' to [dc] (DNS domain this "
		   "DC serves)");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_missing_second_required(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\ndomain = a.example\n"), -1);
	expect(fx, ": [admin] token_file is missing; add a line 'token_file = ...' to [admin] "
		   "(file with the admin bearer token)");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_duplicate_option(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\ndomain = a.example\nlisten = 192.0.2.1\n"
				  "domain = b.example\n"),
			 -1);
	expect(fx, ":4: duplicate option 'domain' in [dc], first set on line 2; keep only one "
		   "of the two lines");
	assert_string_equal(fx->err, fx->expected);
}

/* The same name in two sections is not a duplicate. */
static void conf_same_name_two_sections(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\nlisten = 192.0.2.1\ndomain = a.example\n"
				  "[admin]\nlisten = 127.0.0.1\ntoken_file = t\n"),
			 0);
}

static void conf_duplicate_dynamic_option(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[peer a.example]\nendpoint = 1\n[peer b.example]\n"
				  "endpoint = 2\n[peer a.example]\nendpoint = 3\n"),
			 -1);
	expect(fx, ":6: duplicate option 'endpoint' in [peer a.example], first set on line 2; "
		   "keep only one of the two lines");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_dynamic_callback_error(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\ndomain = a.example\n[peer a.example]\nport = 1\n"), -1);
	expect(fx, ":4: unknown option 'port' in [peer a.example]; valid options: endpoint");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_syntax_error(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\ndomain = a.example\nthis line has no equals sign\n"), -1);
	expect(fx, ":3: syntax error: expected '[section]', 'name = value' or a comment "
		   "starting with '#' or ';'");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_unclosed_section(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc\ndomain = a.example\n"), -1);
	expect(fx, ":1: syntax error: expected '[section]', 'name = value' or a comment "
		   "starting with '#' or ';'");
	assert_string_equal(fx->err, fx->expected);
}

/* A syntax error before an invalid value is the one reported. */
static void conf_first_error_wins(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\ngarbage\noffline_after = 1\n"), -1);
	expect(fx, ":2: syntax error: expected '[section]', 'name = value' or a comment "
		   "starting with '#' or ';'");
	assert_string_equal(fx->err, fx->expected);

	assert_int_equal(load(fx, "[dc]\noffline_after = 1\ngarbage\nfoo = 2\n"), -1);
	expect(fx, ":2: invalid value '1' for [dc] offline_after: expected a whole number from "
		   "5 to 86400 (seconds)");
	assert_string_equal(fx->err, fx->expected);
}

static void conf_line_too_long(void **state)
{
	struct fixture *fx = *state;
	char text[1024];
	char value[400];

	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	snprintf(text, sizeof(text), "[dc]\ndomain = %s\n[admin]\ntoken_file = t\n", value);
	assert_int_equal(load(fx, text), -1);
	assert_non_null(strstr(fx->err, ":2: line is longer than "));
	assert_non_null(strstr(fx->err, "characters; shorten it"));
}

static void conf_indented_continuation(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, "[dc]\ndomain = a.example\n  listen = 192.0.2.1\n"), -1);
	expect(fx, ":3: indented line continues the value of 'domain' from line 2; remove the "
		   "indentation");
	assert_string_equal(fx->err, fx->expected);
}

/* ---- value parsers used by dynamic sections ---- */

static void parse_uint_bounds(void **state)
{
	char err[128];
	uint64_t v = 0;

	assert_int_equal(ntm_conf_parse_uint("0", 0, 10, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ntm_conf_parse_uint("10", 0, 10, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 10);
	assert_int_equal(ntm_conf_parse_uint("18446744073709551615", 0, UINT64_MAX, &v, err,
					     sizeof(err)),
			 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(ntm_conf_parse_uint("18446744073709551616", 0, UINT64_MAX, &v, err,
					     sizeof(err)),
			 -1);
	assert_string_equal(err, "expected a whole number from 0 to 18446744073709551615");
	assert_int_equal(ntm_conf_parse_uint("11", 0, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(ntm_conf_parse_uint(" 1", 0, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(ntm_conf_parse_uint("1 ", 0, 10, &v, err, sizeof(err)), -1);
	assert_int_equal(ntm_conf_parse_uint("", 0, 10, &v, err, sizeof(err)), -1);
}

static void parse_bool_words(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True" };
	static const char *const no[] = { "no", "false", "off", "0", "NO", "Off" };
	char err[128];
	bool b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(ntm_conf_parse_bool(yes[i], &b, err, sizeof(err)), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		assert_int_equal(ntm_conf_parse_bool(no[i], &b, err, sizeof(err)), 0);
		assert_false(b);
	}
	assert_int_equal(ntm_conf_parse_bool("2", &b, err, sizeof(err)), -1);
	assert_string_equal(err, "expected yes or no (or true/false, on/off, 1/0)");
}

/* Errors found after loading name the line of the option they concern. */
static void conf_where_line(void **state)
{
	struct fixture *fx = *state;
	char where[NTM_CONF_WHERE_MAX], expected[sizeof(fx->path) + 16];

	write_file(fx, "# comment\n[dc]\nlisten = 192.0.2.1\n\ndomain = a.example\n"
		       "[peer b.example]\nendpoint = 192.0.2.2:47810\n");
	snprintf(expected, sizeof(expected), "%s:5", fx->path);
	assert_string_equal(ntm_conf_where(where, sizeof(where), fx->path, "dc", "domain"),
			    expected);
	snprintf(expected, sizeof(expected), "%s:7", fx->path);
	assert_string_equal(ntm_conf_where(where, sizeof(where), fx->path, "peer b.example", NULL),
			    expected);
}

/* A string option holding an endpoint, where "" turns a feature off. */
static void conf_optional_endpoint(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "[dc]\ndomain = a.example\n[federation]\nlisten = nothing\n");
	assert_int_equal(ntm_conf_check_optional_endpoint(fx->path, "federation", "listen", "",
							  47810, fx->err, sizeof(fx->err)),
			 0);
	assert_int_equal(ntm_conf_check_optional_endpoint(fx->path, "federation", "listen",
							  "192.0.2.1", 47810, fx->err,
							  sizeof(fx->err)),
			 0);
	assert_int_equal(ntm_conf_check_optional_endpoint(fx->path, "federation", "listen",
							  "nothing", 47810, fx->err,
							  sizeof(fx->err)),
			 -1);
	expect(fx, ":4: invalid value 'nothing' for [federation] listen: expected IP:PORT or "
		   "just IP, which means port 47810, for example 192.0.2.1:47810 or "
		   "[2001:db8::1]:47810; an empty value turns it off");
	assert_string_equal(fx->err, fx->expected);
	/* Port 0 is invalid, so an explicit ":0" is rejected too. */
	assert_int_equal(ntm_conf_check_optional_endpoint(fx->path, "federation", "listen",
							  "0.0.0.0:0", 47810, fx->err,
							  sizeof(fx->err)),
			 -1);
}

static void conf_admin_tls_pair(void **state)
{
	struct fixture *fx = *state;

	write_file(fx, "[admin]\ntoken_file = t\ncert_file = /etc/ntm/admin.crt\n"
		       "[other]\nkey_file = x\n");
	assert_int_equal(ntm_conf_check_admin_tls(fx->path, "", "", fx->err, sizeof(fx->err)), 0);
	assert_int_equal(ntm_conf_check_admin_tls(fx->path, NULL, NULL, fx->err, sizeof(fx->err)),
			 0);
	assert_int_equal(ntm_conf_check_admin_tls(fx->path, "c", "k", fx->err, sizeof(fx->err)),
			 0);

	assert_int_equal(ntm_conf_check_admin_tls(fx->path, "/etc/ntm/admin.crt", "", fx->err,
						  sizeof(fx->err)),
			 -1);
	expect(fx, ":3: [admin] cert_file is set but key_file is not, and HTTPS on the admin API "
		   "needs both; add 'key_file = FILE', or remove cert_file for plain HTTP");
	assert_string_equal(fx->err, fx->expected);

	/* key_file is not in [admin] in this file, so no line is found for it. */
	assert_int_equal(ntm_conf_check_admin_tls(fx->path, NULL, "/etc/ntm/admin.key", fx->err,
						  sizeof(fx->err)),
			 -1);
	expect(fx, ": [admin] key_file is set but cert_file is not, and HTTPS on the admin API "
		   "needs both; add 'cert_file = FILE', or remove key_file for plain HTTP");
	assert_string_equal(fx->err, fx->expected);
}

/* An option the file does not set, or a file that is gone, gives the path. */
static void conf_where_unset(void **state)
{
	struct fixture *fx = *state;
	char where[NTM_CONF_WHERE_MAX];

	write_file(fx, "[dc]\nlisten = 192.0.2.1\n");
	assert_string_equal(ntm_conf_where(where, sizeof(where), fx->path, "dc", "domain"),
			    fx->path);
	assert_string_equal(ntm_conf_where(where, sizeof(where), fx->path, "admin", "listen"),
			    fx->path);
	unlink(fx->path);
	assert_string_equal(ntm_conf_where(where, sizeof(where), fx->path, "dc", "listen"),
			    fx->path);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(conf_defaults_applied),
		TEST(conf_values_parsed),
		TEST(conf_log_levels),
		TEST(conf_free_clears_strings),
		TEST(conf_empty_string_value),
		TEST(conf_file_not_found),
		TEST(conf_unknown_option),
		TEST(conf_unknown_section),
		TEST(conf_prefix_needs_whole_word),
		TEST(conf_option_outside_section),
		TEST(conf_invalid_number),
		TEST(conf_number_out_of_range),
		TEST(conf_invalid_bool),
		TEST(conf_invalid_log_level),
		TEST(conf_invalid_endpoint),
		TEST(conf_invalid_ip),
		TEST(conf_ip_with_port),
		TEST(conf_invalid_prefix),
		TEST(conf_value_sanitized),
		TEST(conf_missing_required),
		TEST(conf_missing_second_required),
		TEST(conf_duplicate_option),
		TEST(conf_same_name_two_sections),
		TEST(conf_duplicate_dynamic_option),
		TEST(conf_dynamic_callback_error),
		TEST(conf_syntax_error),
		TEST(conf_unclosed_section),
		TEST(conf_first_error_wins),
		TEST(conf_line_too_long),
		TEST(conf_indented_continuation),
		TEST(conf_where_line),
		TEST(conf_where_unset),
		TEST(conf_optional_endpoint),
		TEST(conf_admin_tls_pair),
		TEST(parse_uint_bounds),
		TEST(parse_bool_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
