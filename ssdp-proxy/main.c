/* ntm-ssdpd: the SSDP proxy, in player mode or in home mode. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ntm_admin.h"
#include "ntm_conf.h"
#include "ntm_daemon.h"
#include "ssdp_conf.h"
#include "ssdpd.h"

#define SSDPD_DEFAULT_CONFIG "/etc/ntm/ssdpd.conf"

static void on_stop(struct ntm_loop *loop, int signo, void *arg)
{
	log_info("received %s, stopping", strsignal(signo));
	ntm_loop_stop(loop);
}

static bool same_text(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Names the options whose change a reload cannot apply. */
static void warn_restart_needed(const struct ssdpd_config *old, const struct ssdpd_config *new)
{
	if (old->mode != new->mode || !same_text(old->noded_ipc, new->noded_ipc) ||
	    !same_text(old->agent_fqdn, new->agent_fqdn) ||
	    !same_text(old->lan_interface, new->lan_interface) || !same_text(old->ipc, new->ipc) ||
	    !ntm_endpoint_equal(&old->admin_listen, &new->admin_listen))
		log_warn("reload: mode, noded_ipc, agent_fqdn, lan_interface, ipc and the admin "
			 "listen address change only on restart; running with the old ones");
}

/* SIGHUP: applies the log level, the home mode's prefixes and search
 * interval, and the admin token. A bad file keeps the old settings. */
static void on_reload(struct ntm_loop *loop, int signo, void *arg)
{
	struct ssdpd *d = arg;
	struct ssdpd_config next;
	char err[NTM_CONF_ERR_MAX];

	if (ssdp_conf_load(&next, d->config_path, err, sizeof(err)) < 0) {
		log_err("reload failed, keeping the running configuration: %s", err);
		ssdp_conf_free(&next);
		return;
	}
	warn_restart_needed(&d->cfg, &next);
	ntm_log_set_level(next.log_level);
	d->cfg.log_level = next.log_level;
	if (d->cfg.mode == SSDPD_MODE_HOME && next.mode == SSDPD_MODE_HOME) {
		d->cfg.lan_prefix = next.lan_prefix;
		memcpy(d->cfg.ignore_prefixes, next.ignore_prefixes, sizeof(next.ignore_prefixes));
		d->cfg.n_ignore_prefixes = next.n_ignore_prefixes;
		d->cfg.search_interval_s = next.search_interval_s;
	}
	if (ntm_admin_reload_token(d->admin, next.admin_token_file, err, sizeof(err)) < 0)
		log_err("reload: %s; keeping the old admin token", err);
	ssdp_conf_free(&next);
	log_info("configuration reloaded from %s", d->config_path);
}

static int start(struct ssdpd *d, char *err, size_t err_size)
{
	d->loop = ntm_loop_new();
	if (!d->loop) {
		snprintf(err, err_size, "cannot create the event loop");
		return -1;
	}
	if (ntm_loop_add_signal(d->loop, SIGTERM, on_stop, d) < 0 ||
	    ntm_loop_add_signal(d->loop, SIGINT, on_stop, d) < 0 ||
	    ntm_loop_add_signal(d->loop, SIGHUP, on_reload, d) < 0) {
		snprintf(err, err_size, "cannot set up signal handling");
		return -1;
	}
	return ssdpd_start(d, err, err_size);
}

static void stop(struct ssdpd *d)
{
	if (d->loop)
		ssdpd_stop(d);
	if (d->loop)
		ntm_loop_free(d->loop);
	d->loop = NULL;
	ssdp_conf_free(&d->cfg);
}

int main(int argc, char **argv)
{
	struct ntm_daemon_args args;
	static struct ssdpd d = { .listen_fd = -1 };
	char err[NTM_CONF_ERR_MAX];
	int rc = 1;

	ntm_daemon_parse_args(&args, argc, argv, "ntm-ssdpd", SSDPD_DEFAULT_CONFIG);
	if (sodium_init() < 0) {
		fprintf(stderr, "ntm-ssdpd: libsodium failed to initialise\n");
		return 1;
	}
	if (ssdp_conf_load(&d.cfg, args.config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "ntm-ssdpd: %s\n", err);
		ssdp_conf_free(&d.cfg);
		return 1;
	}
	if (args.check_only) {
		printf("ntm-ssdpd: configuration %s is valid (%s mode)\n", args.config_path,
		       d.cfg.mode_name);
		ssdp_conf_free(&d.cfg);
		return 0;
	}
	d.config_path = args.config_path;
	ntm_daemon_open_log(&args, "ntm-ssdpd");
	if (args.verbose == 0)
		ntm_log_set_level(d.cfg.log_level);

	if (start(&d, err, sizeof(err)) < 0) {
		log_err("cannot start: %s", err);
		goto out;
	}
	log_info("ntm-ssdpd %s started in %s mode", NTM_VERSION, d.cfg.mode_name);
	rc = ntm_loop_run(d.loop) < 0 ? 1 : 0;
	log_info("ntm-ssdpd stopped");
out:
	stop(&d);
	return rc;
}
