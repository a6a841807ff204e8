/* ntm-dcd: the Direction Coordinator daemon. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dc.h"
#include "dc_conf.h"
#include "dc_federation.h"
#include "dc_relay.h"
#include "ntm_admin.h"
#include "ntm_conf.h"
#include "ntm_daemon.h"

#define DC_DEFAULT_CONFIG "/etc/ntm/dcd.conf"

static void on_stop(struct ntm_loop *loop, int signo, void *arg)
{
	log_info("received %s, stopping", strsignal(signo));
	ntm_loop_stop(loop);
}

/* Names the options whose change a reload cannot apply. */
static void warn_restart_needed(const struct dc_config *old, const struct dc_config *new)
{
	if (strcmp(old->domain, new->domain) != 0 ||
	    !ntm_endpoint_equal(&old->listen, &new->listen) ||
	    strcmp(old->private_key_file, new->private_key_file) != 0 ||
	    strcmp(old->database, new->database) != 0 ||
	    memcmp(&old->vip_prefix, &new->vip_prefix, sizeof(old->vip_prefix)) != 0 ||
	    !ntm_endpoint_equal(&old->admin_listen, &new->admin_listen) ||
	    strcmp(old->fed_listen, new->fed_listen) != 0 || old->n_peers != new->n_peers ||
	    memcmp(old->peers, new->peers, sizeof(old->peers)) != 0 ||
	    old->n_relays != new->n_relays ||
	    memcmp(old->relays, new->relays, sizeof(old->relays)) != 0)
		log_warn("reload: domain, listen addresses, key, database, vip_prefix, "
			 "federation peers and relays change only on restart; running with "
			 "the old ones");
}

/* SIGHUP: re-reads the configuration and applies what can change at run time:
 * log level, timers and the admin token. A bad file keeps the old settings. */
static void on_reload(struct ntm_loop *loop, int signo, void *arg)
{
	struct dc *dc = arg;
	struct dc_config next;
	char err[NTM_CONF_ERR_MAX];

	if (dc_conf_load(&next, dc->config_path, err, sizeof(err)) < 0) {
		log_err("reload failed, keeping the running configuration: %s", err);
		dc_conf_free(&next);
		return;
	}
	warn_restart_needed(&dc->cfg, &next);
	ntm_log_set_level(next.log_level);
	dc->cfg.log_level = next.log_level;
	dc->cfg.keepalive_interval_s = next.keepalive_interval_s;
	dc->cfg.offline_after_s = next.offline_after_s;
	if (ntm_admin_reload_token(dc->admin, next.admin_token_file, err, sizeof(err)) < 0)
		log_err("reload: %s; keeping the old admin token", err);
	dc_conf_free(&next);
	log_info("configuration reloaded from %s", dc->config_path);
}

static int start(struct dc *dc, char *err, size_t err_size)
{
	if (ntm_key_load(&dc->key, dc->cfg.private_key_file, err, err_size) < 0)
		return -1;
	dc->store = dc_store_open(dc->cfg.database, &dc->cfg.vip_prefix, err, err_size);
	if (!dc->store)
		return -1;
	dc->loop = ntm_loop_new();
	if (!dc->loop) {
		snprintf(err, err_size, "cannot create the event loop");
		return -1;
	}
	if (ntm_loop_add_signal(dc->loop, SIGTERM, on_stop, dc) < 0 ||
	    ntm_loop_add_signal(dc->loop, SIGINT, on_stop, dc) < 0 ||
	    ntm_loop_add_signal(dc->loop, SIGHUP, on_reload, dc) < 0) {
		snprintf(err, err_size, "cannot set up signal handling");
		return -1;
	}
	if (dc_core_start(dc, err, err_size) < 0 || dc_fed_start(dc, err, err_size) < 0 ||
	    dc_relay_start(dc, err, err_size) < 0)
		return -1;
	return dc_admin_start(dc, err, err_size);
}

static void stop(struct dc *dc)
{
	if (dc->admin)
		ntm_admin_stop(dc->admin);
	dc_relay_stop(dc);
	dc_fed_stop(dc);
	dc_core_stop(dc);
	if (dc->loop)
		ntm_loop_free(dc->loop);
	if (dc->store)
		dc_store_close(dc->store);
	ntm_keypair_wipe(&dc->key);
	dc_conf_free(&dc->cfg);
}

int main(int argc, char **argv)
{
	struct ntm_daemon_args args;
	static struct dc dc;
	char err[NTM_CONF_ERR_MAX];
	int rc = 1;

	dc.udp_fd = -1;
	ntm_daemon_parse_args(&args, argc, argv, "ntm-dcd", DC_DEFAULT_CONFIG);
	if (sodium_init() < 0) {
		fprintf(stderr, "ntm-dcd: libsodium failed to initialise\n");
		return 1;
	}
	if (dc_conf_load(&dc.cfg, args.config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "ntm-dcd: %s\n", err);
		dc_conf_free(&dc.cfg);
		return 1;
	}
	if (args.check_only) {
		printf("ntm-dcd: configuration %s is valid\n", args.config_path);
		dc_conf_free(&dc.cfg);
		return 0;
	}
	dc.config_path = args.config_path;
	ntm_daemon_open_log(&args, "ntm-dcd");
	if (args.verbose == 0)
		ntm_log_set_level(dc.cfg.log_level);

	if (start(&dc, err, sizeof(err)) < 0) {
		log_err("cannot start: %s", err);
		goto out;
	}
	log_info("ntm-dcd %s started for domain %s", NTM_VERSION, dc.cfg.domain);
	rc = ntm_loop_run(dc.loop) < 0 ? 1 : 0;
	log_info("ntm-dcd stopped");
out:
	stop(&dc);
	return rc;
}
