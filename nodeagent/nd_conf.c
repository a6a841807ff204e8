/* Configuration of ntm-noded; nodeagent/ntm-noded.conf.example documents it. */
#include <stdio.h>
#include <string.h>

#include "nd_conf.h"
#include "ntm_conf.h"

#define OPT(sec, nam, typ, field, lo, hi, def, hlp) \
	{ sec, nam, typ, offsetof(struct nd_config, field), lo, hi, def, hlp }

static const struct ntm_conf_option nd_options[] = {
	OPT("node", "fqdn", NTM_CONF_STRING, fqdn, 0, 0, NULL,
	    "this node's FQDN, as enrolled at its DC, for example 'player.home.example'"),
	OPT("node", "private_key_file", NTM_CONF_STRING, private_key_file, 0, 0, NULL,
	    "file with this node's private key, made by 'ntm-keygen FILE'"),
	OPT("node", "listen", NTM_CONF_ENDPOINT, listen, ND_DEFAULT_PORT, 0, "0.0.0.0:47830",
	    "UDP address and port of the node's one socket (DC session and tunnels)"),
	OPT("node", "dc", NTM_CONF_ENDPOINT, dc, 47800, 0, NULL,
	    "the DC's UDP address and port, for example '203.0.113.1:47800'"),
	OPT("node", "dc_public_key", NTM_CONF_STRING, dc_public_key, 0, 0, NULL,
	    "the DC's base64 public key (its key file's .pub)"),
	OPT("node", "tun_name", NTM_CONF_STRING, tun_name, 0, 0, "ntm0",
	    "name of the TUN device for virtual IPs"),
	OPT("node", "mtu", NTM_CONF_UINT, mtu, 1280, 9000, "1420",
	    "MTU of the TUN device in bytes; 1420 fits a 1500-byte path with IPv6"),
	OPT("node", "rekey_after", NTM_CONF_UINT, rekey_after_s, 10, 86400, "120",
	    "seconds before a tunnel's session keys are replaced"),
	OPT("node", "tunnel_keepalive", NTM_CONF_UINT, tunnel_keepalive_s, 1, 600, "10",
	    "seconds of silence after which an empty packet keeps a tunnel's NAT binding"),
	NTM_CONF_LOG_LEVEL_OPTION("node", struct nd_config),
	OPT("dns", "listen", NTM_CONF_STRING, dns_listen, 0, 0, "127.0.0.153:53",
	    "UDP address:port of the DNS server for NTM names; empty to disable"),
	OPT("dns", "ttl", NTM_CONF_UINT, dns_ttl_s, 0, 86400, "60",
	    "TTL in seconds of the VIP answers"),
	OPT("ipc", "path", NTM_CONF_STRING, ipc, 0, 0, "ipc:///run/ntm/noded.ipc",
	    "ZeroMQ endpoint where ntm-ssdpd and ntm-dad reach this agent; empty to disable"),
	NTM_CONF_ADMIN_OPTIONS(struct nd_config, ND_ADMIN_DEFAULT_PORT),
	NTM_CONF_ADMIN_TLS_OPTIONS(struct nd_config),
};

static const struct ntm_conf_schema nd_schema = {
	.options = nd_options,
	.n_options = sizeof(nd_options) / sizeof(nd_options[0]),
};

int nd_conf_load(struct nd_config *cfg, const char *path, char *err, size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX];

	memset(cfg, 0, sizeof(*cfg));
	if (ntm_conf_load(path, &nd_schema, cfg, err, err_size) < 0)
		return -1;
	if (!ntm_msg_fqdn_valid(cfg->fqdn)) {
		snprintf(err, err_size, "%s: [node] fqdn '%s' is not a valid lower-case DNS name",
			 ntm_conf_where(where, sizeof(where), path, "node", "fqdn"), cfg->fqdn);
		return -1;
	}
	uint8_t key[NTM_KEY_LEN];

	if (ntm_key_from_base64(key, cfg->dc_public_key) < 0) {
		snprintf(err, err_size,
			 "%s: [node] dc_public_key is not the base64 of a 32-byte "
			 "key; copy it from the DC's key file's .pub",
			 ntm_conf_where(where, sizeof(where), path, "node", "dc_public_key"));
		return -1;
	}
	/* nd_resolve_start parses it again with the same default port 53. */
	if (ntm_conf_check_optional_endpoint(path, "dns", "listen", cfg->dns_listen, 53, err,
					     err_size) < 0 ||
	    ntm_conf_check_admin_tls(path, cfg->admin_cert_file, cfg->admin_key_file, err,
				     err_size) < 0)
		return -1;
	if (cfg->ipc[0] != '\0' && (strncmp(cfg->ipc, "ipc://", 6) != 0 || cfg->ipc[6] == '\0')) {
		snprintf(err, err_size, "%s: [ipc] path '%s' must be ipc://PATH (or empty)",
			 ntm_conf_where(where, sizeof(where), path, "ipc", "path"), cfg->ipc);
		return -1;
	}
	if (strlen(cfg->tun_name) >= IFNAMSIZ || strchr(cfg->tun_name, '/')) {
		snprintf(err, err_size,
			 "%s: [node] tun_name '%s' must be an interface name of at "
			 "most %d characters without '/'",
			 ntm_conf_where(where, sizeof(where), path, "node", "tun_name"),
			 cfg->tun_name, IFNAMSIZ - 1);
		return -1;
	}
	return 0;
}

void nd_conf_free(struct nd_config *cfg)
{
	ntm_conf_free(&nd_schema, cfg);
	memset(cfg, 0, sizeof(*cfg));
}
