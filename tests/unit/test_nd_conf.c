/* Unit tests of ntm-noded's configuration (nodeagent/nd_conf.c): checks at
 * load that name file:line, so that -n catches them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nd_conf.h"
#include "ntm_conf.h"

/* Name of the last file load() wrote, for the file:line checks. */
static char path[64];
static char err[NTM_CONF_ERR_MAX];
static struct nd_config cfg;

/* [dns] listen is on line 7 and [admin] starts on line 9. */
static const char node_conf[] = "[node]\n"
				"fqdn = player.home.example\n"
				"private_key_file = /etc/ntm/node.key\n"
				"dc = 203.0.113.1:47800\n"
				"dc_public_key = AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n"
				"[dns]\n"
				"listen = 127.0.0.153:53\n"
				"ttl = 60\n"
				"[admin]\n"
				"token_file = /etc/ntm/noded.token\n";

static int load(const char *text)
{
	size_t len = strlen(text);
	int fd, rc;

	snprintf(path, sizeof(path), "/tmp/test_nd_conf.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	err[0] = '\0';
	rc = nd_conf_load(&cfg, path, err, sizeof(err));
	unlink(path);
	return rc;
}

/* Loads node_conf with the text "old" replaced by "new". */
static int load_changed(const char *old, const char *new)
{
	char text[1024];
	const char *at = strstr(node_conf, old);

	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - node_conf), node_conf, new,
		 at + strlen(old));
	return load(text);
}

static int teardown(void **state)
{
	nd_conf_free(&cfg);
	return 0;
}

static void nd_conf_valid(void **state)
{
	assert_int_equal(load(node_conf), 0);
	assert_string_equal(cfg.dns_listen, "127.0.0.153:53");
	assert_string_equal(cfg.admin_cert_file, "");
}

static void nd_conf_dns_listen_empty(void **state)
{
	assert_int_equal(load_changed("listen = 127.0.0.153:53", "listen ="), 0);
	assert_string_equal(cfg.dns_listen, "");
}

static void nd_conf_dns_listen_invalid(void **state)
{
	char expected[128];

	assert_int_equal(load_changed("listen = 127.0.0.153:53", "listen = nonsense"), -1);
	snprintf(expected, sizeof(expected), "%s:7: invalid value 'nonsense' for [dns] listen",
		 path);
	assert_non_null(strstr(err, expected));
}

static void nd_conf_admin_key_without_cert(void **state)
{
	char expected[128];

	assert_int_equal(load_changed("[admin]\n", "[admin]\nkey_file = /etc/ntm/admin.key\n"),
			 -1);
	snprintf(expected, sizeof(expected), "%s:10: [admin] key_file is set but cert_file is not",
		 path);
	assert_non_null(strstr(err, expected));
}

static void nd_conf_admin_tls_pair(void **state)
{
	assert_int_equal(load_changed("[admin]\n", "[admin]\ncert_file = /etc/ntm/admin.crt\n"
						   "key_file = /etc/ntm/admin.key\n"),
			 0);
	assert_string_equal(cfg.admin_cert_file, "/etc/ntm/admin.crt");
}

#define TEST(name) cmocka_unit_test_teardown(name, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(nd_conf_valid),
		TEST(nd_conf_dns_listen_empty),
		TEST(nd_conf_dns_listen_invalid),
		TEST(nd_conf_admin_key_without_cert),
		TEST(nd_conf_admin_tls_pair),
	};

	return cmocka_run_group_tests_name("nd_conf", tests, NULL, NULL);
}
