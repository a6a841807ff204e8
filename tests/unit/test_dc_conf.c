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
#include "ntm_key.h"

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

/* minimal has 6 lines, so the [federation] listen line is line 8. */
static void federation_listen_invalid(void **state)
{
	static const char *const values[] = { "nothing", "0.0.0.0:0" };
	struct dc_config cfg;
	char err[NTM_CONF_ERR_MAX];
	char text[1024], expect[192];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(text, sizeof(text), "%s[federation]\nlisten = %s\n", minimal, values[i]);
		assert_int_equal(load_text(&cfg, text, err, sizeof(err)), -1);
		snprintf(expect, sizeof(expect), "%s:8: invalid value '%s' for [federation] listen",
			 path, values[i]);
		assert_non_null(strstr(err, expect));
		dc_conf_free(&cfg);
	}
}

static void admin_cert_without_key(void **state)
{
	struct dc_config cfg;
	char err[NTM_CONF_ERR_MAX];
	char text[1024], expect[192];

	snprintf(text, sizeof(text), "%scert_file = /etc/ntm/admin.crt\n", minimal);
	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s:7: [admin] cert_file is set but key_file is not",
		 path);
	assert_non_null(strstr(err, expect));
	dc_conf_free(&cfg);
}

static void peers_same_key(void **state)
{
	struct dc_config cfg;
	char err[NTM_CONF_ERR_MAX];
	char text[1024], expect[192];

	snprintf(text, sizeof(text), "%s[federation]\nlisten = 127.0.0.1:47810\n"
		 "[peer a.example]\nendpoint = 203.0.113.20\npublic_key = %s\n"
		 "[peer b.example]\nendpoint = 203.0.113.21\npublic_key = %s\n", minimal,
		 PEER_KEY, PEER_KEY);
	assert_int_equal(load_text(&cfg, text, err, sizeof(err)), -1);
	/* The second public_key is on line 14. */
	snprintf(expect, sizeof(expect), "%s:14: [peer a.example] and [peer b.example] have the "
		 "same public_key", path);
	assert_non_null(strstr(err, expect));
	dc_conf_free(&cfg);
}

static void peer_with_own_key(void **state)
{
	struct dc_config cfg;
	struct ntm_keypair kp;
	char dir[] = "/tmp/ntm-test-dcconf-key-XXXXXX";
	char key_path[64], pub_path[80], pub[NTM_KEY_B64_LEN];
	char err[NTM_CONF_ERR_MAX], text[1024], expect[192];

	assert_non_null(mkdtemp(dir));
	snprintf(key_path, sizeof(key_path), "%s/dc.key", dir);
	snprintf(pub_path, sizeof(pub_path), "%s.pub", key_path);
	ntm_keypair_generate(&kp);
	assert_int_equal(ntm_key_save(&kp, key_path, 0), 0);
	assert_int_equal(ntm_key_to_base64(pub, kp.pub), 0);
	ntm_keypair_wipe(&kp);

	snprintf(text, sizeof(text), "[dc]\ndomain = home.example\nprivate_key_file = %s\n"
		 "vip_prefix = 198.51.100.0/24\n[admin]\ntoken_file = /tmp/admin.token\n"
		 "[federation]\nlisten = 127.0.0.1:47810\n"
		 "[peer away.example]\nendpoint = 203.0.113.20\npublic_key = %s\n",
		 key_path, pub);
	int rc = load_text(&cfg, text, err, sizeof(err));

	unlink(pub_path);
	unlink(key_path);
	rmdir(dir);
	assert_int_equal(rc, -1);
	snprintf(expect, sizeof(expect), "%s:11: [peer away.example] public_key is this DC's own "
		 "key", path);
	assert_non_null(strstr(err, expect));
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
		cmocka_unit_test(federation_listen_invalid),
		cmocka_unit_test(admin_cert_without_key),
		cmocka_unit_test(peers_same_key),
		cmocka_unit_test(peer_with_own_key),
		cmocka_unit_test(example_file_loads),
	};

	return cmocka_run_group_tests_name("dc_conf", tests, NULL, NULL);
}
