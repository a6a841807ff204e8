/* Configuration of ntm-ssdpd. The option table doubles as the reference for
 * docs/ssdpd.md and the two example configurations. */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_conf.h"
#include "ntm_msg.h"
#include "ssdp_conf.h"

#define OPT(sec, nam, typ, field, lo, hi, def, hlp) \
	{ sec, nam, typ, offsetof(struct ssdpd_config, field), lo, hi, def, hlp }

static const struct ntm_conf_option ssdp_options[] = {
	OPT("ssdpd", "mode", NTM_CONF_STRING, mode_name, 0, 0, NULL,
	    "'player' on a player's node, 'home' in the home network next to ntm-dad"),
	NTM_CONF_LOG_LEVEL_OPTION("ssdpd", struct ssdpd_config),
	OPT("ssdpd", "noded_ipc", NTM_CONF_STRING, noded_ipc, 0, 0, "ipc:///run/ntm/noded.ipc",
	    "player mode: ZeroMQ ipc:// address of ntm-noded's local socket"),
	OPT("ssdpd", "agent_fqdn", NTM_CONF_STRING, agent_fqdn, 0, 0, "",
	    "player mode: FQDN of the DLNA Agent's node, for example 'agent.home.example'"),
	OPT("ssdpd", "lan_interface", NTM_CONF_STRING, lan_interface, 0, 0, "",
	    "home mode: name of the interface on the home LAN, for example 'eth0'"),
	OPT("ssdpd", "lan_prefix", NTM_CONF_STRING, lan_prefix_text, 0, 0, "",
	    "home mode: IPv4 prefix of the home LAN; SSDP from elsewhere is dropped"),
	OPT("ssdpd", "ipc", NTM_CONF_STRING, ipc, 0, 0, "ipc:///run/ntm/ssdpd.ipc",
	    "home mode: ZeroMQ ipc:// address ntm-dad connects to"),
	OPT("ssdpd", "ignore_prefix", NTM_CONF_STRING, ignore_prefix_text, 0, 0, "198.51.100.0/24",
	    "home mode: prefixes, separated by commas, whose LOCATION hosts are ignored (the VIP "
	    "prefixes)"),
	OPT("ssdpd", "search_interval", NTM_CONF_UINT, search_interval_s, 10, 3600, "60",
	    "home mode: seconds between searches of the home LAN"),
	NTM_CONF_ADMIN_OPTIONS(struct ssdpd_config, SSDPD_ADMIN_DEFAULT_PORT),
	NTM_CONF_ADMIN_TLS_OPTIONS(struct ssdpd_config),
};

static const struct ntm_conf_schema ssdp_schema = {
	.options = ssdp_options,
	.n_options = sizeof(ssdp_options) / sizeof(ssdp_options[0]),
};

/* Parses the len bytes at text as one prefix. */
static int parse_one_prefix(const char *text, size_t len, struct ntm_prefix *out)
{
	char item[64];

	if (len >= sizeof(item))
		return -1;
	memcpy(item, text, len);
	item[len] = '\0';
	return ntm_prefix_parse(out, item) < 0 ? -1 : 0;
}

int ssdp_conf_parse_prefixes(const char *text, struct ntm_prefix *out, size_t max, char *err,
			     size_t err_size)
{
	const char *p = text;
	size_t n = 0;

	while (*p != '\0') {
		size_t len = strcspn(p, ", \t");

		if (len == 0) {
			p++;
			continue;
		}
		if (n == max) {
			snprintf(err, err_size, "more than %zu prefixes", max);
			return -1;
		}
		if (parse_one_prefix(p, len, &out[n]) < 0) {
			snprintf(err, err_size, "'%.*s' is not a prefix such as 198.51.100.0/24",
				 (int)(len < 64 ? len : 64), p);
			return -1;
		}
		n++;
		p += len;
	}
	return (int)n;
}

static bool is_ipc_address(const char *address)
{
	return strncmp(address, "ipc://", 6) == 0 && address[6] != '\0';
}

static int check_player(const struct ssdpd_config *cfg, const char *path, char *err,
			size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX];

	if (cfg->agent_fqdn[0] == '\0') {
		snprintf(err, err_size,
			 "%s: [ssdpd] agent_fqdn is missing; player mode needs the "
			 "FQDN of the DLNA Agent's node, for example 'agent_fqdn = "
			 "agent.home.example'",
			 ntm_conf_where(where, sizeof(where), path, "ssdpd", "mode"));
		return -1;
	}
	if (!ntm_msg_fqdn_valid(cfg->agent_fqdn)) {
		snprintf(err, err_size,
			 "%s: [ssdpd] agent_fqdn '%.253s' is not a valid lower-case "
			 "DNS name",
			 ntm_conf_where(where, sizeof(where), path, "ssdpd", "agent_fqdn"),
			 cfg->agent_fqdn);
		return -1;
	}
	if (!is_ipc_address(cfg->noded_ipc)) {
		snprintf(err, err_size,
			 "%s: [ssdpd] noded_ipc '%.200s' is invalid: expected "
			 "ipc://PATH, for example ipc:///run/ntm/noded.ipc",
			 ntm_conf_where(where, sizeof(where), path, "ssdpd", "noded_ipc"),
			 cfg->noded_ipc);
		return -1;
	}
	return 0;
}

static int check_lan(struct ssdpd_config *cfg, const char *path, char *err, size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX];

	if (cfg->lan_interface[0] == '\0' || strlen(cfg->lan_interface) >= IF_NAMESIZE) {
		snprintf(err, err_size,
			 "%s: [ssdpd] lan_interface is missing or longer than %d "
			 "characters; home mode needs the name of the home LAN interface, for "
			 "example 'lan_interface = eth0'",
			 ntm_conf_where(where, sizeof(where), path, "ssdpd", "lan_interface"),
			 IF_NAMESIZE - 1);
		return -1;
	}
	if (ntm_prefix_parse(&cfg->lan_prefix, cfg->lan_prefix_text) < 0 ||
	    cfg->lan_prefix.ip.len != 4) {
		snprintf(err, err_size,
			 "%s: [ssdpd] lan_prefix '%.64s' is missing or invalid; home "
			 "mode needs the IPv4 prefix of the home LAN, for example 'lan_prefix = "
			 "192.0.2.0/24'",
			 ntm_conf_where(where, sizeof(where), path, "ssdpd", "lan_prefix"),
			 cfg->lan_prefix_text);
		return -1;
	}
	return 0;
}

/* An ignore_prefix that contains the whole lan_prefix would drop the
 * LOCATION of every server on the home LAN. */
static int check_ignore_covers_lan(const struct ssdpd_config *cfg, const char *path, char *err,
				   size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX], ignore[INET6_ADDRSTRLEN + 4], lan[INET6_ADDRSTRLEN + 4];

	for (size_t i = 0; i < cfg->n_ignore_prefixes; i++) {
		const struct ntm_prefix *p = &cfg->ignore_prefixes[i];

		if (p->len > cfg->lan_prefix.len || !ntm_prefix_contains(p, &cfg->lan_prefix.ip))
			continue;
		snprintf(err, err_size, "%s: [ssdpd] ignore_prefix %s covers lan_prefix %s, so "
			 "every server on the home LAN would be ignored; list only the VIP "
			 "prefixes there",
			 ntm_conf_where(where, sizeof(where), path, "ssdpd", "ignore_prefix"),
			 ntm_prefix_str(p, ignore, sizeof(ignore)),
			 ntm_prefix_str(&cfg->lan_prefix, lan, sizeof(lan)));
		return -1;
	}
	return 0;
}

static int check_home(struct ssdpd_config *cfg, const char *path, char *err, size_t err_size)
{
	char why[NTM_CONF_ERR_MAX], where[NTM_CONF_WHERE_MAX];
	int n;

	if (check_lan(cfg, path, err, err_size) < 0)
		return -1;
	if (!is_ipc_address(cfg->ipc)) {
		snprintf(err, err_size,
			 "%s: [ssdpd] ipc '%.200s' is invalid: expected ipc://PATH, "
			 "for example ipc:///run/ntm/ssdpd.ipc",
			 ntm_conf_where(where, sizeof(where), path, "ssdpd", "ipc"), cfg->ipc);
		return -1;
	}
	n = ssdp_conf_parse_prefixes(cfg->ignore_prefix_text, cfg->ignore_prefixes,
				     SSDPD_MAX_IGNORE_PREFIXES, why, sizeof(why));
	if (n < 0) {
		snprintf(err, err_size,
			 "%s: [ssdpd] ignore_prefix is invalid: %s; list up to %d "
			 "prefixes separated by commas",
			 ntm_conf_where(where, sizeof(where), path, "ssdpd", "ignore_prefix"), why,
			 SSDPD_MAX_IGNORE_PREFIXES);
		return -1;
	}
	cfg->n_ignore_prefixes = (size_t)n;
	return check_ignore_covers_lan(cfg, path, err, err_size);
}

int ssdp_conf_load(struct ssdpd_config *cfg, const char *path, char *err, size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX];

	memset(cfg, 0, sizeof(*cfg));
	if (ntm_conf_load(path, &ssdp_schema, cfg, err, err_size) < 0 ||
	    ntm_conf_check_admin_tls(path, cfg->admin_cert_file, cfg->admin_key_file, err,
				     err_size) < 0)
		return -1;

	if (strcmp(cfg->mode_name, "player") == 0) {
		cfg->mode = SSDPD_MODE_PLAYER;
		return check_player(cfg, path, err, err_size);
	}
	if (strcmp(cfg->mode_name, "home") == 0) {
		cfg->mode = SSDPD_MODE_HOME;
		return check_home(cfg, path, err, err_size);
	}
	snprintf(err, err_size,
		 "%s: [ssdpd] mode '%.64s' is invalid: expected 'player' (on a "
		 "player's node) or 'home' (in the home network)",
		 ntm_conf_where(where, sizeof(where), path, "ssdpd", "mode"), cfg->mode_name);
	return -1;
}

void ssdp_conf_free(struct ssdpd_config *cfg)
{
	ntm_conf_free(&ssdp_schema, cfg);
	memset(cfg, 0, sizeof(*cfg));
}
