/* ntm-rsd: the Relay Server daemon. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ntm_admin.h"
#include "ntm_conf.h"
#include "ntm_daemon.h"
#include "ntm_time.h"
#include "rs.h"
#include "rs_conf.h"

#define RS_DEFAULT_CONFIG "/etc/ntm/rsd.conf"

static void on_stop(struct ntm_loop *loop, int signo, void *arg)
{
	log_info("received %s, stopping", strsignal(signo));
	ntm_loop_stop(loop);
}

static bool dcs_equal(const struct rs_config *a, const struct rs_config *b)
{
	return a->n_dcs == b->n_dcs && memcmp(a->dcs, b->dcs, sizeof(a->dcs)) == 0;
}

/* Names the options whose change a reload cannot apply. */
static void warn_restart_needed(const struct rs_config *old, const struct rs_config *new)
{
	if (!ntm_endpoint_equal(&old->listen, &new->listen) ||
	    !ntm_endpoint_equal(&old->alloc_listen, &new->alloc_listen) ||
	    !ntm_endpoint_equal(&old->admin_listen, &new->admin_listen) ||
	    strcmp(old->private_key_file, new->private_key_file) != 0 || !dcs_equal(old, new))
		log_warn("reload: listen addresses, private_key_file and [dc] sections change "
			 "only on restart; running with the old ones");
}

/* Copies what a reload can change at run time: log level, limits, idle
 * timeouts and public_endpoint (sent to DCs in later allocations). */
static void apply_reloadable(struct rs *rs, const struct rs_config *next)
{
	struct rs_limits limits = rs_limits_from_config(next);

	ntm_log_set_level(next->log_level);
	rs->cfg.log_level = next->log_level;
	rs->cfg.public_endpoint = next->public_endpoint;
	rs->cfg.max_sessions = next->max_sessions;
	rs->cfg.max_sessions_per_dc = next->max_sessions_per_dc;
	rs->cfg.max_pps_per_session = next->max_pps_per_session;
	rs->cfg.idle_timeout_s = next->idle_timeout_s;
	rs->cfg.max_idle_timeout_s = next->max_idle_timeout_s;
	rs_table_set_limits(rs->table, &limits);
}

/* SIGHUP: re-reads the configuration. A bad file keeps the old settings. */
static void on_reload(struct ntm_loop *loop, int signo, void *arg)
{
	struct rs *rs = arg;
	struct rs_config next;
	char err[NTM_CONF_ERR_MAX];

	if (rs_conf_load(&next, rs->config_path, err, sizeof(err)) < 0) {
		log_err("reload failed, keeping the running configuration: %s", err);
		rs_conf_free(&next);
		return;
	}
	warn_restart_needed(&rs->cfg, &next);
	apply_reloadable(rs, &next);
	if (ntm_admin_reload_token(rs->admin, next.admin_token_file, err, sizeof(err)) < 0)
		log_err("reload: %s; keeping the old admin token", err);
	rs_conf_free(&next);
	log_info("configuration reloaded from %s", rs->config_path);
}

static int start(struct rs *rs, char *err, size_t err_size)
{
	struct rs_limits limits = rs_limits_from_config(&rs->cfg);

	if (ntm_key_load(&rs->key, rs->cfg.private_key_file, err, err_size) < 0)
		return -1;
	randombytes_buf(&rs->boot_id, sizeof(rs->boot_id));
	rs->started_ms = ntm_now_ms();
	rs->drop_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(20, 5);
	rs->limit_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(20, 5);
	rs->event_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(100, 20);
	rs->table = rs_table_new(rs->cfg.n_dcs, &limits);
	rs->loop = ntm_loop_new();
	if (!rs->table || !rs->loop) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	if (ntm_loop_add_signal(rs->loop, SIGTERM, on_stop, rs) < 0 ||
	    ntm_loop_add_signal(rs->loop, SIGINT, on_stop, rs) < 0 ||
	    ntm_loop_add_signal(rs->loop, SIGHUP, on_reload, rs) < 0) {
		snprintf(err, err_size, "cannot set up signal handling");
		return -1;
	}
	if (rs_relay_start(rs, err, err_size) < 0 || rs_alloc_start(rs, err, err_size) < 0)
		return -1;
	return rs_admin_start(rs, err, err_size);
}

static void stop(struct rs *rs)
{
	if (rs->admin)
		ntm_admin_stop(rs->admin);
	rs_alloc_stop(rs);
	rs_relay_stop(rs);
	if (rs->loop)
		ntm_loop_free(rs->loop);
	rs_table_free(rs->table);
	ntm_keypair_wipe(&rs->key);
	rs_conf_free(&rs->cfg);
}

int main(int argc, char **argv)
{
	struct ntm_daemon_args args;
	static struct rs rs;
	char err[NTM_CONF_ERR_MAX];
	int rc = 1;

	ntm_daemon_parse_args(&args, argc, argv, "ntm-rsd", RS_DEFAULT_CONFIG);
	if (sodium_init() < 0) {
		fprintf(stderr, "ntm-rsd: libsodium failed to initialise\n");
		return 1;
	}
	if (rs_conf_load(&rs.cfg, args.config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "ntm-rsd: %s\n", err);
		rs_conf_free(&rs.cfg);
		return 1;
	}
	if (args.check_only) {
		printf("ntm-rsd: configuration %s is valid\n", args.config_path);
		rs_conf_free(&rs.cfg);
		return 0;
	}
	rs.config_path = args.config_path;
	ntm_daemon_open_log(&args, "ntm-rsd");
	if (args.verbose == 0)
		ntm_log_set_level(rs.cfg.log_level);

	if (start(&rs, err, sizeof(err)) < 0) {
		log_err("cannot start: %s", err);
		goto out;
	}
	log_info("ntm-rsd %s started, boot id %016llx", NTM_VERSION,
		 (unsigned long long)rs.boot_id);
	rc = ntm_loop_run(rs.loop) < 0 ? 1 : 0;
	log_info("ntm-rsd stopped");
out:
	stop(&rs);
	return rc;
}
