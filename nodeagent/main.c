/* ntm-noded: the node agent. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "nd.h"
#include "nd_conf.h"
#include "ntm_admin.h"
#include "ntm_conf.h"
#include "ntm_daemon.h"

#define ND_DEFAULT_CONFIG "/etc/ntm/noded.conf"
#define ND_TICK_MS 20

static void on_stop(struct ntm_loop *loop, int signo, void *arg)
{
	log_info("received %s, stopping", strsignal(signo));
	ntm_loop_stop(loop);
}

/* SIGHUP: applies the log level, timers and admin token of a re-read
 * configuration; a bad file keeps the running one. */
static void on_reload(struct ntm_loop *loop, int signo, void *arg)
{
	struct nd *nd = arg;
	struct nd_config next;
	char err[NTM_CONF_ERR_MAX];

	if (nd_conf_load(&next, nd->config_path, err, sizeof(err)) < 0) {
		log_err("reload failed, keeping the running configuration: %s", err);
		nd_conf_free(&next);
		return;
	}
	ntm_log_set_level(next.log_level);
	nd->cfg.log_level = next.log_level;
	nd->cfg.rekey_after_s = next.rekey_after_s;
	nd->cfg.tunnel_keepalive_s = next.tunnel_keepalive_s;
	nd->cfg.dns_ttl_s = next.dns_ttl_s;
	if (ntm_admin_reload_token(nd->admin, next.admin_token_file, err, sizeof(err)) < 0)
		log_err("reload: %s; keeping the old admin token", err);
	nd_conf_free(&next);
	log_info("configuration reloaded from %s (FQDN, keys, addresses and the DC change "
		 "only on restart)", nd->config_path);
}

static void on_tick(struct ntm_loop *loop, struct ntm_timer *t, void *arg)
{
	struct nd *nd = arg;

	nd_dc_tick(nd);
	nd_peer_tick(nd);
}

static int start(struct nd *nd, char *err, size_t err_size)
{
	nd->udp_fd = nd->tun_fd = -1;
	if (ntm_key_load(&nd->key, nd->cfg.private_key_file, err, err_size) < 0)
		return -1;
	nd->loop = ntm_loop_new();
	if (!nd->loop) {
		snprintf(err, err_size, "cannot create the event loop");
		return -1;
	}
	if (ntm_loop_add_signal(nd->loop, SIGTERM, on_stop, nd) < 0 ||
	    ntm_loop_add_signal(nd->loop, SIGINT, on_stop, nd) < 0 ||
	    ntm_loop_add_signal(nd->loop, SIGHUP, on_reload, nd) < 0) {
		snprintf(err, err_size, "cannot set up signal handling");
		return -1;
	}
	nd_gena_start(nd);
	if (nd_data_start(nd, err, err_size) < 0 || nd_mobility_start(nd, err, err_size) < 0 ||
	    nd_resolve_start(nd, err, err_size) < 0 || nd_ipc_start(nd, err, err_size) < 0 ||
	    nd_admin_start(nd, err, err_size) < 0 ||
	    nd_dc_start(nd, err, err_size) < 0)
		return -1;
	if (!ntm_loop_timer_add(nd->loop, ND_TICK_MS, ND_TICK_MS, on_tick, nd)) {
		snprintf(err, err_size, "cannot start the timers");
		return -1;
	}
	return 0;
}

static void stop(struct nd *nd)
{
	if (nd->admin)
		ntm_admin_stop(nd->admin);
	nd_resolve_stop(nd);
	nd_ipc_stop(nd);
	nd_gena_stop(nd);
	nd_mobility_stop(nd);
	nd_peer_free_all(nd);
	nd_dc_free(nd);
	if (nd->loop)
		ntm_loop_free(nd->loop);
	if (nd->udp_fd >= 0)
		close(nd->udp_fd);
	if (nd->tun_fd >= 0)
		close(nd->tun_fd);
	ntm_keypair_wipe(&nd->key);
	nd_conf_free(&nd->cfg);
}

int main(int argc, char **argv)
{
	struct ntm_daemon_args args;
	static struct nd nd;
	char err[NTM_CONF_ERR_MAX];
	int rc = 1;

	ntm_daemon_parse_args(&args, argc, argv, "ntm-noded", ND_DEFAULT_CONFIG);
	if (sodium_init() < 0) {
		fprintf(stderr, "ntm-noded: libsodium failed to initialise\n");
		return 1;
	}
	if (nd_conf_load(&nd.cfg, args.config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "ntm-noded: %s\n", err);
		nd_conf_free(&nd.cfg);
		return 1;
	}
	if (args.check_only) {
		printf("ntm-noded: configuration %s is valid\n", args.config_path);
		nd_conf_free(&nd.cfg);
		return 0;
	}
	nd.config_path = args.config_path;
	ntm_daemon_open_log(&args, "ntm-noded");
	if (args.verbose == 0)
		ntm_log_set_level(nd.cfg.log_level);

	if (start(&nd, err, sizeof(err)) < 0) {
		log_err("cannot start: %s", err);
		goto out;
	}
	log_info("ntm-noded %s started as %s on %s", NTM_VERSION, nd.cfg.fqdn, nd.tun_name);
	rc = ntm_loop_run(nd.loop) < 0 ? 1 : 0;
	log_info("ntm-noded stopped");
out:
	stop(&nd);
	return rc;
}
