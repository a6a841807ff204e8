/* ntm-dcd configuration: defaults, required options, [peer] sections and the
 * error messages that name file:line and the fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dc_conf.h"
#include "ntm_conf.h"

#define PEER_KEY "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd28="

static const char minimal[] =
	"[dc]\n"
	"domain = home.example\n"
	"private_key_file = /tmp/dc.key\n"
	"vip_prefix = 198.51.100.0/24\n"
	"[admin]\n"
	"token_file = /tmp/admin.token\n";

static char path[64];

static int load_text(struct dc_config *cfg, const char *text, char *err, size_t err_size)
{
	snprintf(path, sizeof(path), "/tmp/ntm-test-dcconf-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);

	int rc = dc_conf_load(cfg, path, err, err_size);

	unlink(path);
	return rc;
}

static void minimal_defaults(void **state)
{
	struct dc_config cfg;
	char err[NTM_CONF_ERR_MAX];

	assert_int_equal(load_text(&cfg, minimal, err, sizeof(err)), 0);
	assert_string_equal(cfg.domain, "home.example");
	assert_int_equal(cfg.listen.port, 47800);
	assert_int_equal(cfg.admin_listen.port, 47880);
	assert_int_equal(cfg.keepalive_interval_s, 15);
	assert_int_equal(cfg.offline_after_s, 60);
	assert_string_equal(cfg.fed_listen, "");
	assert_int_equal(cfg.n_peers, 0);
	dc_conf_free(&cfg);
}

static void missing_domain(void **state)
{
	struct dc_config cfg;
	char err[NTM_CONF_ERR_MAX];
	const char *text = "[dc]\nprivate_key_file = k\nvip_prefix = 198.51.100.0/24\n"
			   "[admin]\ntoken_file = t\n";

	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "domain"));
	assert_non_null(strstr(err, path));
	dc_conf_free(&cfg);
}

static void peer_section(void **state)
{
	struct dc_config cfg;
	char err[NTM_CONF_ERR_MAX];
	char text[1024];

	snprintf(text, sizeof(text), "%s[federation]\nlisten = 127.0.0.1:47810\n"
		 "[peer away.example]\nendpoint = 203.0.113.20\npublic_key = %s\n", minimal,
		 PEER_KEY);
	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_peers, 1);
	assert_string_equal(cfg.peers[0].domain, "away.example");
	assert_int_equal(cfg.peers[0].endpoint.port, 47810);
	dc_conf_free(&cfg);
}

static void peer_without_key(void **state)
{
	struct dc_config cfg;
	char err[NTM_CONF_ERR_MAX];
	char text[1024];

	snprintf(text, sizeof(text), "%s[federation]\nlisten = 127.0.0.1:47810\n"
		 "[peer away.example]\nendpoint = 203.0.113.20:47810\n", minimal);
	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "public_key"));
	dc_conf_free(&cfg);
}

static void peer_bad_option_line(void **state)
{
	struct dc_config cfg;
	char err[NTM_CONF_ERR_MAX];
	char text[1024], expect[96];

	snprintf(text, sizeof(text), "%s[federation]\nlisten = 127.0.0.1:47810\n"
		 "[peer away.example]\nport = 1\n", minimal);
	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), -1);
	/* minimal has 6 lines, so "port = 1" is on line 10. */
	snprintf(expect, sizeof(expect), "%s:10:", path);
	assert_non_null(strstr(err, expect));
	assert_non_null(strstr(err, "endpoint, public_key"));
	dc_conf_free(&cfg);
}

static void peers_need_listener(void **state)
{
	struct dc_config cfg;
	char err[NTM_CONF_ERR_MAX];
	char text[1024];

	snprintf(text, sizeof(text), "%s[peer away.example]\nendpoint = 203.0.113.20\n"
		 "public_key = %s\n", minimal, PEER_KEY);
	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[federation] listen"));
	dc_conf_free(&cfg);
}

static void offline_shorter_than_keepalive(void **state)
{
	struct dc_config cfg;
	char err[NTM_CONF_ERR_MAX];
	char text[1024];

	snprintf(text, sizeof(text), "[dc]\ndomain = home.example\nprivate_key_file = k\n"
		 "vip_prefix = 198.51.100.0/24\nkeepalive_interval = 30\noffline_after = 20\n"
		 "[admin]\ntoken_file = t\n");
	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "offline_after"));
	dc_conf_free(&cfg);
}

static void example_file_loads(void **state)
{
	struct dc_config cfg;
	char err[NTM_CONF_ERR_MAX];

	assert_int_equal(dc_conf_load(&cfg, NTM_SOURCE_DIR "/dcd/ntm-dcd.conf.example", err,
				      sizeof(err)), 0);
	dc_conf_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(minimal_defaults),
		cmocka_unit_test(missing_domain),
		cmocka_unit_test(peer_section),
		cmocka_unit_test(peer_without_key),
		cmocka_unit_test(peer_bad_option_line),
		cmocka_unit_test(peers_need_listener),
		cmocka_unit_test(offline_shorter_than_keepalive),
		cmocka_unit_test(example_file_loads),
	};

	return cmocka_run_group_tests_name("dc_conf", tests, NULL, NULL);
}
