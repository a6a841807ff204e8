/* Unit tests of ntm-dad's configuration (dad/dad_conf.c): [dad] lan_address
 * is checked at load, so that -n catches an address the Agent cannot use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* dad_conf.c is part of the ntm-dad executable, not of a library. */
#include "../../dad/dad_conf.c"

/* Name of the last file load() wrote, for the file:line checks. */
static char path[64];
static char err[NTM_CONF_ERR_MAX];
static struct dad dad;

/* lan_address is on line 3. */
static const char dad_conf_text[] = "[dad]\n"
				    "lan_interface = eth0\n"
				    "lan_address = 192.0.2.2\n"
				    "allow = home.example\n"
				    "[admin]\n"
				    "token_file = /etc/ntm/dad.token\n";

/* Writes text to a temporary file and loads it. */
static int load_text(const char *text)
{
	int fd, rc;

	snprintf(path, sizeof(path), "/tmp/test_dad_conf.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	err[0] = '\0';
	rc = dad_conf_load(&dad, path, err, sizeof(err));
	unlink(path);
	return rc;
}

/* Loads dad_conf_text with lan_address set to value. */
static int load_lan_address(const char *value)
{
	char text[512];
	const char *at = strstr(dad_conf_text, "192.0.2.2");

	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - dad_conf_text), dad_conf_text, value,
		 at + strlen("192.0.2.2"));
	return load_text(text);
}

static int teardown(void **state)
{
	dad_conf_free(&dad);
	return 0;
}

static void dad_conf_lan_address_valid(void **state)
{
	char text[INET6_ADDRSTRLEN];

	assert_int_equal(load_lan_address("192.0.2.2"), 0);
	assert_string_equal(ntm_ip_str(&dad.cfg.lan_address, text, sizeof(text)), "192.0.2.2");
	assert_int_equal(dad.n_allow, 1);
}

static void dad_conf_lan_address_with_port(void **state)
{
	char expected[192];

	assert_int_equal(load_lan_address("192.0.2.2:5000"), -1);
	snprintf(expected, sizeof(expected), "%s:3: invalid value '192.0.2.2:5000' for [dad] "
		 "lan_address: expected an IP address without a port; write 192.0.2.2", path);
	assert_string_equal(err, expected);
}

/* Addresses no host interface can use as its LAN address. */
static void dad_conf_lan_address_unusable(void **state)
{
	static const struct {
		const char *value;
		const char *reason;
	} cases[] = {
		{ "0.0.0.0", "is in 0.0.0.0/8" },
		{ "127.0.0.1", "is a loopback address" },
		{ "127.1.2.3", "is a loopback address" },
		{ "239.255.255.250", "is a multicast address" },
		{ "224.0.0.1", "is a multicast address" },
		{ "255.255.255.255", "is the broadcast address" },
		{ "240.0.0.1", "is in the reserved 240.0.0.0/4" },
		{ "2001:db8::2", "is not IPv4" },
	};
	char expected[192];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(load_lan_address(cases[i].value), -1);
		snprintf(expected, sizeof(expected), "%s:3: [dad] lan_address %s %s", path,
			 cases[i].value, cases[i].reason);
		assert_non_null(strstr(err, expected));
		dad_conf_free(&dad);
	}
}

/* HTTPS on the admin API needs the certificate and its key. */
static void dad_conf_admin_cert_without_key(void **state)
{
	char text[512];

	snprintf(text, sizeof(text), "%scert_file = /etc/ntm/dad.crt\n", dad_conf_text);
	assert_int_equal(load_text(text), -1);
	assert_non_null(strstr(err, ":7: "));
	assert_non_null(strstr(err, "key_file"));
}

#define TEST(name) cmocka_unit_test_teardown(name, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(dad_conf_lan_address_valid),
		TEST(dad_conf_lan_address_with_port),
		TEST(dad_conf_lan_address_unusable),
		TEST(dad_conf_admin_cert_without_key),
	};

	return cmocka_run_group_tests_name("dad_conf", tests, NULL, NULL);
}
