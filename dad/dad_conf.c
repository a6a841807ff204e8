/* Configuration of ntm-dad; dad/ntm-dad.conf.example documents it. */
#include <stdio.h>
#include <string.h>

#include "dad_conf.h"
#include "ntm_conf.h"

#define OPT(sec, nam, typ, field, lo, hi, def, hlp) \
	{ sec, nam, typ, offsetof(struct dad_config, field), lo, hi, def, hlp }

static const struct ntm_conf_option dad_options[] = {
	OPT("dad", "lan_interface", NTM_CONF_STRING, lan_interface, 0, 0, NULL,
	    "the home LAN interface, for example 'eth0'"),
	OPT("dad", "lan_address", NTM_CONF_IP, lan_address, 0, 0, NULL,
	    "the Agent's IPv4 address on the home LAN; connections to servers come from it"),
	OPT("dad", "tun_interface", NTM_CONF_STRING, tun_interface, 0, 0, "ntm0",
	    "ntm-noded's TUN device, where players' connections arrive"),
	OPT("dad", "vip_count", NTM_CONF_UINT, vip_count, 1, 128, "16",
	    "VIPs to ask the DC for: one per home media server"),
	OPT("dad", "state_file", NTM_CONF_STRING, state_file, 0, 0, "/var/lib/ntm/dad-servers.json",
	    "file keeping each server's VIP across restarts"),
	OPT("dad", "allow", NTM_CONF_STRING, allow, 0, 0, NULL,
	    "comma-separated node FQDNs or domains whose nodes may use the Agent"),
	OPT("dad", "noded_ipc", NTM_CONF_STRING, noded_ipc, 0, 0, "ipc:///run/ntm/noded.ipc",
	    "ZeroMQ endpoint of ntm-noded on this host"),
	OPT("dad", "ssdpd_ipc", NTM_CONF_STRING, ssdpd_ipc, 0, 0, "ipc:///run/ntm/ssdpd.ipc",
	    "ZeroMQ endpoint of ntm-ssdpd (home mode) on this host"),
	OPT("dad", "proxy_port", NTM_CONF_UINT, proxy_port, 1, 65535, "47890",
	    "TCP port the translating proxy listens on (players never see it)"),
	OPT("dad", "max_connections", NTM_CONF_UINT, max_connections, 1, 4096, "256",
	    "proxied connections at once; more are refused with 503"),
	NTM_CONF_LOG_LEVEL_OPTION("dad", struct dad_config),
	NTM_CONF_ADMIN_OPTIONS(struct dad_config, DAD_ADMIN_DEFAULT_PORT),
	NTM_CONF_ADMIN_TLS_OPTIONS(struct dad_config),
};

static const struct ntm_conf_schema dad_schema = {
	.options = dad_options,
	.n_options = sizeof(dad_options) / sizeof(dad_options[0]),
};

static int parse_allow(struct dad *dad, const char *path, char *err, size_t err_size)
{
	char copy[NTM_CONF_ERR_MAX], where[NTM_CONF_WHERE_MAX];
	char *save = NULL;

	snprintf(copy, sizeof(copy), "%s", dad->cfg.allow);
	dad->n_allow = 0;
	for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (!ntm_msg_fqdn_valid(tok) || dad->n_allow == DAD_MAX_ALLOW) {
			snprintf(err, err_size,
				 "%s: [dad] allow: '%s' is not a lower-case FQDN or "
				 "domain, or more than %d entries",
				 ntm_conf_where(where, sizeof(where), path, "dad", "allow"), tok,
				 DAD_MAX_ALLOW);
			return -1;
		}
		snprintf(dad->allow[dad->n_allow++], sizeof(dad->allow[0]), "%s", tok);
	}
	if (dad->n_allow == 0) {
		snprintf(err, err_size,
			 "%s: [dad] allow is empty; name the nodes or domains "
			 "whose players may use the Agent",
			 ntm_conf_where(where, sizeof(where), path, "dad", "allow"));
		return -1;
	}
	return 0;
}

/* Returns why ip cannot be the Agent's LAN address, or NULL when it can.
 * Connections to the servers leave from it and the GENA listener binds it,
 * so it must be a unicast IPv4 address that a host interface can own. */
static const char *lan_address_problem(const struct ntm_ip *ip)
{
	const uint8_t *b = ip->bytes;

	if (ip->len != 4)
		return "is not IPv4, and the Agent serves IPv4 home LANs only";
	if (b[0] == 0)
		return "is in 0.0.0.0/8, which names no host";
	if (b[0] == 127)
		return "is a loopback address, which the LAN cannot reach";
	if (b[0] >= 224 && b[0] < 240)
		return "is a multicast address";
	if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255)
		return "is the broadcast address";
	if (b[0] >= 240)
		return "is in the reserved 240.0.0.0/4";
	return NULL;
}

static int check_lan_address(const struct ntm_ip *ip, const char *path, char *err,
			     size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX], text[INET6_ADDRSTRLEN];
	const char *problem = lan_address_problem(ip);

	if (!problem)
		return 0;
	snprintf(err, err_size, "%s: [dad] lan_address %s %s; set it to this host's IPv4 "
		 "address on the home LAN, for example 192.0.2.2",
		 ntm_conf_where(where, sizeof(where), path, "dad", "lan_address"),
		 ntm_ip_str(ip, text, sizeof(text)), problem);
	return -1;
}

/* Checks that the value of option name is an ipc:// endpoint with a path. */
static int check_ipc(const char *value, const char *name, const char *example,
		     const char *path, char *err, size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX];

	if (strncmp(value, "ipc://", 6) == 0 && value[6] != '\0')
		return 0;
	snprintf(err, err_size, "%s: [dad] %s '%.200s' is invalid: expected ipc://PATH, for "
		 "example %s",
		 ntm_conf_where(where, sizeof(where), path, "dad", name), name, value, example);
	return -1;
}

int dad_conf_load(struct dad *dad, const char *path, char *err, size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX];

	memset(&dad->cfg, 0, sizeof(dad->cfg));
	if (ntm_conf_load(path, &dad_schema, &dad->cfg, err, err_size) < 0)
		return -1;
	if (check_lan_address(&dad->cfg.lan_address, path, err, err_size) < 0 ||
	    ntm_conf_check_admin_tls(path, dad->cfg.admin_cert_file, dad->cfg.admin_key_file, err,
				     err_size) < 0)
		return -1;
	if (strlen(dad->cfg.tun_interface) >= IFNAMSIZ) {
		snprintf(err, err_size, "%s: [dad] tun_interface is longer than %d characters",
			 ntm_conf_where(where, sizeof(where), path, "dad", "tun_interface"),
			 IFNAMSIZ - 1);
		return -1;
	}
	if (check_ipc(dad->cfg.noded_ipc, "noded_ipc", "ipc:///run/ntm/noded.ipc", path, err,
		      err_size) < 0 ||
	    check_ipc(dad->cfg.ssdpd_ipc, "ssdpd_ipc", "ipc:///run/ntm/ssdpd.ipc", path, err,
		      err_size) < 0)
		return -1;
	return parse_allow(dad, path, err, err_size);
}

void dad_conf_free(struct dad *dad)
{
	ntm_conf_free(&dad_schema, &dad->cfg);
	memset(&dad->cfg, 0, sizeof(dad->cfg));
}
