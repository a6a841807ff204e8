/* Harness that runs a real ntm-dcd for the integration tests. */
#include "ntm_dctest.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ntm_daemontest.h"
#include "ntm_time.h"

#ifndef NTM_DCD_PATH
#error "NTM_DCD_PATH must name the ntm-dcd executable"
#endif

static int make_paths(struct ntm_dctest *dc)
{
	int rc = ntm_daemontest_make_dir(dc->dir, sizeof(dc->dir), "ntm-dctest");

	if (rc != 0)
		return rc;
	if (ntm_daemontest_path_join(dc->conf_path, sizeof(dc->conf_path), dc->dir, "dcd.conf") ||
	    ntm_daemontest_path_join(dc->key_path, sizeof(dc->key_path), dc->dir, "dc.key") ||
	    ntm_daemontest_path_join(dc->token_path, sizeof(dc->token_path), dc->dir,
				     "admin.token") ||
	    ntm_daemontest_path_join(dc->db_path, sizeof(dc->db_path), dc->dir, "dcd.sqlite") ||
	    ntm_daemontest_path_join(dc->log_path, sizeof(dc->log_path), dc->dir, "dcd.log"))
		return -ENAMETOOLONG;
	return 0;
}

static int pick_ports(struct ntm_dctest *dc)
{
	const struct ntm_daemontest_port ports[] = {
		{ SOCK_DGRAM, &dc->control.port },
		{ SOCK_STREAM, &dc->admin_port },
		{ SOCK_STREAM, &dc->fed_port },
	};

	/* The federation port is the last one, picked only with federation. */
	return ntm_daemontest_pick_ports(ports, dc->federation ? 3 : 2);
}

int ntm_dctest_init(struct ntm_dctest *dc, const struct ntm_dctest_options *opt)
{
	static const struct ntm_dctest_options defaults = { 0 };
	int rc;

	memset(dc, 0, sizeof(*dc));
	if (!opt)
		opt = &defaults;
	if (sodium_init() < 0)
		return -EIO;
	snprintf(dc->domain, sizeof(dc->domain), "%s", opt->domain ? opt->domain : "a.example");
	snprintf(dc->vip_prefix, sizeof(dc->vip_prefix), "%s",
		 opt->vip_prefix ? opt->vip_prefix : "198.51.100.0/25");
	dc->keepalive_interval = opt->keepalive_interval ? opt->keepalive_interval : 15;
	dc->offline_after = opt->offline_after ? opt->offline_after : 60;
	dc->federation = opt->federation;
	if (ntm_ip_parse(&dc->control.ip, "127.0.0.1") != 0)
		return -EINVAL;

	rc = make_paths(dc);
	if (rc != 0)
		return rc;
	ntm_keypair_generate(&dc->kp);
	rc = ntm_key_save(&dc->kp, dc->key_path, 0);
	if (rc != 0)
		return rc < 0 ? rc : -EIO;
	rc = ntm_daemontest_write_token(dc->token_path, dc->token, sizeof(dc->token));
	if (rc != 0)
		return rc;
	return pick_ports(dc);
}

int ntm_dctest_add_peer(struct ntm_dctest *dc, const struct ntm_dctest *peer)
{
	struct ntm_dctest_peer *p;

	if (dc->n_peers == NTM_DCTEST_MAX_PEERS || !peer->federation)
		return -EINVAL;
	p = &dc->peers[dc->n_peers++];
	snprintf(p->domain, sizeof(p->domain), "%s", peer->domain);
	p->fed_port = peer->fed_port;
	memcpy(p->pub, peer->kp.pub, NTM_KEY_LEN);
	return 0;
}

/* Appends printf output to the configuration text. Returns 0, or -ENOSPC
 * when the buffer is full. */
static int conf_addf(char *buf, size_t size, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int conf_addf(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *used, size - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *used)
		return -ENOSPC;
	*used += (size_t)n;
	return 0;
}

static int write_conf(const struct ntm_dctest *dc)
{
	char buf[8192], b64[NTM_KEY_B64_LEN];
	size_t used = 0;
	size_t i;
	int rc;

	rc = conf_addf(buf, sizeof(buf), &used,
		       "[dc]\ndomain = %s\nlisten = 127.0.0.1:%u\nprivate_key_file = %s\n"
		       "database = %s\nvip_prefix = %s\nkeepalive_interval = %u\n"
		       "offline_after = %u\nlog_level = debug\n"
		       "[admin]\nlisten = 127.0.0.1:%u\ntoken_file = %s\n",
		       dc->domain, dc->control.port, dc->key_path, dc->db_path, dc->vip_prefix,
		       dc->keepalive_interval, dc->offline_after, dc->admin_port, dc->token_path);
	if (rc == 0 && dc->federation)
		rc = conf_addf(buf, sizeof(buf), &used, "[federation]\nlisten = 127.0.0.1:%u\n",
			       dc->fed_port);
	else if (rc == 0)
		rc = conf_addf(buf, sizeof(buf), &used, "[federation]\nlisten =\n");
	for (i = 0; rc == 0 && i < dc->n_peers; i++) {
		ntm_key_to_base64(b64, dc->peers[i].pub);
		rc = conf_addf(buf, sizeof(buf), &used,
			       "[peer %s]\nendpoint = 127.0.0.1:%u\npublic_key = %s\n",
			       dc->peers[i].domain, dc->peers[i].fed_port, b64);
	}
	if (rc != 0)
		return rc;
	return ntm_daemontest_write_file(dc->conf_path, 0600, buf);
}

int ntm_dctest_start(struct ntm_dctest *dc)
{
	int rc;

	if (dc->pid)
		return -EBUSY;
	rc = write_conf(dc);
	if (rc != 0)
		return rc;
	dc->started_ms = ntm_now_ms();
	return ntm_daemontest_start(&dc->pid, NTM_DCD_PATH, dc->conf_path, dc->log_path,
				    dc->admin_port);
}

int ntm_dctest_stop(struct ntm_dctest *dc, int sig)
{
	return ntm_daemontest_stop(&dc->pid, sig);
}

int ntm_dctest_restart(struct ntm_dctest *dc, int sig)
{
	int rc = ntm_dctest_stop(dc, sig);

	if (rc < 0)
		return rc;
	return ntm_dctest_start(dc);
}

void ntm_dctest_cleanup(struct ntm_dctest *dc)
{
	if (dc->pid)
		ntm_dctest_stop(dc, SIGKILL);
	ntm_daemontest_remove_dir(dc->dir, dc->log_path);
	ntm_keypair_wipe(&dc->kp);
}

int ntm_dctest_http(struct ntm_dctest *dc, const char *method, const char *path,
		    const char *body, bool token, json_t **response)
{
	return ntm_daemontest_http(dc->admin_port, token ? dc->token : NULL, method, path, body,
				   response);
}

int ntm_dctest_enrol(struct ntm_dctest *dc, const char *fqdn, const uint8_t pub[NTM_KEY_LEN])
{
	char b64[NTM_KEY_B64_LEN];
	json_t *req;
	char *text;
	int status;

	ntm_key_to_base64(b64, pub);
	req = json_pack("{s:s, s:s}", "fqdn", fqdn, "public_key", b64);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		return -ENOMEM;
	status = ntm_dctest_http(dc, "POST", "/v1/nodes", text, true, NULL);
	free(text);
	return status;
}

json_t *ntm_dctest_record(struct ntm_dctest *dc, const char *id)
{
	char path[512];
	json_t *rec = NULL;
	int n = snprintf(path, sizeof(path), "/v1/records/%s", id);

	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	if (ntm_dctest_http(dc, "GET", path, NULL, true, &rec) != 200) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

int ntm_dctest_node(struct ntm_dctest *dc, struct ntm_testnode *node, const char *bind_ip,
		    const char *fqdn)
{
	int rc = ntm_testnode_open(node, bind_ip, 0, &dc->control, dc->kp.pub, NULL);

	if (rc != 0)
		return rc;
	if (!fqdn)
		return 0;
	rc = ntm_dctest_enrol(dc, fqdn, node->kp.pub);
	return rc == 201 ? 0 : -EPROTO;
}
