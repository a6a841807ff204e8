/* Unit tests of ntm-ssdpd's configuration (ssdp-proxy/ssdp_conf.c). */
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
#include "ssdp_conf.h"

/* Name of the last file load() wrote, for the file:line check. */
static char path[64];
static char err[NTM_CONF_ERR_MAX];
static struct ssdpd_config cfg;

static const char player_conf[] = "[ssdpd]\n"
				  "mode = player\n"
				  "agent_fqdn = agent.home.example\n"
				  "[admin]\n"
				  "token_file = /etc/ntm/ssdpd.token\n";

static const char home_conf[] = "[ssdpd]\n"
				"mode = home\n"
				"lan_interface = eth0\n"
				"lan_prefix = 192.0.2.0/24\n"
				"ignore_prefix = 198.51.100.0/24, 203.0.113.0/25\n"
				"[admin]\n"
				"token_file = /etc/ntm/ssdpd.token\n";

static int load(const char *text)
{
	size_t len = strlen(text);
	int fd, rc;

	snprintf(path, sizeof(path), "/tmp/test_ssdp_conf.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	err[0] = '\0';
	rc = ssdp_conf_load(&cfg, path, err, sizeof(err));
	unlink(path);
	return rc;
}

/* Loads base with the line "old" replaced by "new". */
static int load_changed(const char *base, const char *old, const char *new)
{
	char text[1024];
	const char *at = strstr(base, old);

	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - base), base, new, at + strlen(old));
	return load(text);
}

static int teardown(void **state)
{
	ssdp_conf_free(&cfg);
	return 0;
}

static void test_conf_player_valid(void **state)
{
	assert_int_equal(load(player_conf), 0);
	assert_int_equal(cfg.mode, SSDPD_MODE_PLAYER);
	assert_string_equal(cfg.agent_fqdn, "agent.home.example");
	assert_string_equal(cfg.noded_ipc, "ipc:///run/ntm/noded.ipc");
	assert_int_equal(cfg.admin_listen.port, 47884);
}

static void test_conf_player_needs_agent(void **state)
{
	assert_int_equal(load_changed(player_conf, "agent_fqdn = agent.home.example\n", ""), -1);
	assert_non_null(strstr(err, "agent_fqdn is missing"));
}

static void test_conf_player_bad_agent(void **state)
{
	assert_int_equal(load_changed(player_conf, "agent.home.example", "Agent_Home"), -1);
	assert_non_null(strstr(err, "not a valid lower-case DNS name"));
}

static void test_conf_player_bad_ipc(void **state)
{
	assert_int_equal(load_changed(player_conf, "[admin]", "noded_ipc = tcp://127.0.0.1:5\n[admin]"),
			 -1);
	assert_non_null(strstr(err, "noded_ipc"));
}

static void test_conf_home_valid(void **state)
{
	char text[64];

	assert_int_equal(load(home_conf), 0);
	assert_int_equal(cfg.mode, SSDPD_MODE_HOME);
	assert_string_equal(cfg.lan_interface, "eth0");
	assert_string_equal(ntm_prefix_str(&cfg.lan_prefix, text, sizeof(text)), "192.0.2.0/24");
	assert_int_equal(cfg.n_ignore_prefixes, 2);
	assert_string_equal(ntm_prefix_str(&cfg.ignore_prefixes[1], text, sizeof(text)),
			    "203.0.113.0/25");
	assert_int_equal(cfg.search_interval_s, 60);
	assert_string_equal(cfg.ipc, "ipc:///run/ntm/ssdpd.ipc");
}

static void test_conf_home_needs_interface(void **state)
{
	assert_int_equal(load_changed(home_conf, "lan_interface = eth0\n", ""), -1);
	assert_non_null(strstr(err, "lan_interface is missing"));
}

static void test_conf_home_bad_prefix(void **state)
{
	assert_int_equal(load_changed(home_conf, "192.0.2.0/24", "192.0.2.1/24"), -1);
	assert_non_null(strstr(err, "lan_prefix"));
	ssdp_conf_free(&cfg);
	assert_int_equal(load_changed(home_conf, "192.0.2.0/24", "2001:db8::/64"), -1);
	assert_non_null(strstr(err, "IPv4 prefix"));
}

static void test_conf_home_bad_ignore(void **state)
{
	assert_int_equal(load_changed(home_conf, "203.0.113.0/25", "vip.example"), -1);
	assert_non_null(strstr(err, "'vip.example' is not a prefix"));
}

/* An ignore_prefix that contains the whole LAN would ignore every server. */
static void test_conf_home_ignore_covers_lan(void **state)
{
	char expected[192];

	assert_int_equal(load_changed(home_conf, "203.0.113.0/25", "192.0.0.0/16"), -1);
	snprintf(expected, sizeof(expected), "%s:5: [ssdpd] ignore_prefix 192.0.0.0/16 covers "
		 "lan_prefix 192.0.2.0/24", path);
	assert_non_null(strstr(err, expected));
	ssdp_conf_free(&cfg);

	assert_int_equal(load_changed(home_conf, "203.0.113.0/25", "192.0.2.0/24"), -1);
	assert_non_null(strstr(err, "covers lan_prefix"));
	ssdp_conf_free(&cfg);

	/* A prefix inside the LAN ignores only part of it. */
	assert_int_equal(load_changed(home_conf, "203.0.113.0/25", "192.0.2.128/25"), 0);
}

static void test_conf_bad_mode(void **state)
{
	assert_int_equal(load_changed(player_conf, "mode = player", "mode = house"), -1);
	assert_non_null(strstr(err, "mode 'house' is invalid"));
}

static void test_conf_error_names_line(void **state)
{
	char expected[128];

	assert_int_equal(load_changed(home_conf, "[admin]", "search_interval = 5\n[admin]"), -1);
	snprintf(expected, sizeof(expected), "%s:6: invalid value '5' for [ssdpd] search_interval",
		 path);
	assert_non_null(strstr(err, expected));
}

static void test_conf_prefix_list(void **state)
{
	struct ntm_prefix p[3];
	char why[128];

	assert_int_equal(ssdp_conf_parse_prefixes("", p, 3, why, sizeof(why)), 0);
	assert_int_equal(ssdp_conf_parse_prefixes(" 10.0.0.0/8,,192.0.2.0/24 ", p, 3, why,
						  sizeof(why)), 2);
	assert_int_equal(ssdp_conf_parse_prefixes("10.0.0.0/8 10.1.0.0/16\t10.2.0.0/16", p, 3,
						  why, sizeof(why)), 3);
	assert_int_equal(ssdp_conf_parse_prefixes("10.0.0.0/8,10.1.0.0/16,10.2.0.0/16,10.3.0.0/16",
						  p, 3, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "more than 3"));
	assert_int_equal(ssdp_conf_parse_prefixes("10.0.0.1/8", p, 3, why, sizeof(why)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_conf_player_valid, teardown),
		cmocka_unit_test_teardown(test_conf_player_needs_agent, teardown),
		cmocka_unit_test_teardown(test_conf_player_bad_agent, teardown),
		cmocka_unit_test_teardown(test_conf_player_bad_ipc, teardown),
		cmocka_unit_test_teardown(test_conf_home_valid, teardown),
		cmocka_unit_test_teardown(test_conf_home_needs_interface, teardown),
		cmocka_unit_test_teardown(test_conf_home_bad_prefix, teardown),
		cmocka_unit_test_teardown(test_conf_home_bad_ignore, teardown),
		cmocka_unit_test_teardown(test_conf_home_ignore_covers_lan, teardown),
		cmocka_unit_test_teardown(test_conf_bad_mode, teardown),
		cmocka_unit_test_teardown(test_conf_error_names_line, teardown),
		cmocka_unit_test(test_conf_prefix_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
