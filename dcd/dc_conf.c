/* Configuration of ntm-dcd. The option table doubles as the reference for
 * docs/dcd.md and dcd/ntm-dcd.conf.example. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dc_conf.h"
#include "ntm_conf.h"
#include "ntm_msg.h"

#define OPT(sec, nam, typ, field, lo, hi, def, hlp) \
	{ sec, nam, typ, offsetof(struct dc_config, field), lo, hi, def, hlp }

static const struct ntm_conf_option dc_options[] = {
	OPT("dc", "domain", NTM_CONF_STRING, domain, 0, 0, NULL,
	    "DNS domain whose nodes this DC owns, for example 'home.example'"),
	OPT("dc", "listen", NTM_CONF_ENDPOINT, listen, DC_DEFAULT_PORT, 0, "0.0.0.0:47800",
	    "UDP address and port of the control socket"),
	OPT("dc", "private_key_file", NTM_CONF_STRING, private_key_file, 0, 0, NULL,
	    "file with the DC's private key, made by 'ntm-keygen FILE'"),
	OPT("dc", "database", NTM_CONF_STRING, database, 0, 0, "/var/lib/ntm/dcd.sqlite",
	    "SQLite database of enrolled nodes, records and VIPs"),
	OPT("dc", "vip_prefix", NTM_CONF_PREFIX, vip_prefix, 0, 0, NULL,
	    "prefix the DC assigns virtual IPs from, for example '198.51.100.0/24'"),
	OPT("dc", "keepalive_interval", NTM_CONF_UINT, keepalive_interval_s, 1, 3600, "15",
	    "seconds between a node's keep-alives, sent to nodes at registration"),
	OPT("dc", "offline_after", NTM_CONF_UINT, offline_after_s, 5, 86400, "60",
	    "seconds without an authenticated packet before a node is marked offline"),
	NTM_CONF_LOG_LEVEL_OPTION("dc", struct dc_config),
	NTM_CONF_ADMIN_OPTIONS(struct dc_config, DC_ADMIN_DEFAULT_PORT),
	NTM_CONF_ADMIN_TLS_OPTIONS(struct dc_config),
	OPT("federation", "listen", NTM_CONF_STRING, fed_listen, 0, 0, "",
	    "TCP address:port for federated DCs (ZeroMQ with CURVE); empty to disable"),
};

static struct dc_fed_peer_conf *peer_conf_get(struct dc_config *cfg, const char *domain)
{
	for (size_t i = 0; i < cfg->n_peers; i++) {
		if (strcmp(cfg->peers[i].domain, domain) == 0)
			return &cfg->peers[i];
	}
	if (cfg->n_peers == DC_MAX_FED_PEERS)
		return NULL;

	struct dc_fed_peer_conf *p = &cfg->peers[cfg->n_peers++];
	memset(p, 0, sizeof(*p));
	snprintf(p->domain, sizeof(p->domain), "%s", domain);
	return p;
}

/* Handles "[peer DOMAIN]" sections: endpoint and public_key of a federated DC. */
static int peer_option(void *arg, const char *section, const char *name, const char *value,
		       char *err, size_t err_size)
{
	struct dc_config *cfg = arg;
	const char *domain = ntm_conf_subsection(section, "peer");

	if (!ntm_msg_fqdn_valid(domain)) {
		snprintf(err, err_size, "invalid section [%s]: expected [peer DOMAIN] with a "
			 "lower-case DNS domain", section);
		return -1;
	}
	struct dc_fed_peer_conf *p = peer_conf_get(cfg, domain);
	if (!p) {
		snprintf(err, err_size, "too many [peer] sections: at most %d", DC_MAX_FED_PEERS);
		return -1;
	}

	if (strcmp(name, "endpoint") == 0) {
		if (ntm_endpoint_parse(&p->endpoint, value, DC_FED_DEFAULT_PORT) < 0) {
			snprintf(err, err_size, "invalid value '%s' for [%s] endpoint: expected "
				 "IP:PORT, for example 203.0.113.20:47810", value, section);
			return -1;
		}
		p->has_endpoint = true;
		return 0;
	}
	if (strcmp(name, "public_key") == 0) {
		if (ntm_key_from_base64(p->key, value) < 0) {
			snprintf(err, err_size, "invalid value for [%s] public_key: expected the "
				 "base64 public key of that DC (its key file's .pub)", section);
			return -1;
		}
		p->has_key = true;
		return 0;
	}
	snprintf(err, err_size, "unknown option '%s' in [%s]; valid options: endpoint, "
		 "public_key", name, section);
	return -1;
}

static struct dc_relay_conf *relay_conf_get(struct dc_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_relays; i++) {
		if (strcmp(cfg->relays[i].name, name) == 0)
			return &cfg->relays[i];
	}
	if (cfg->n_relays == DC_MAX_RELAYS)
		return NULL;

	struct dc_relay_conf *r = &cfg->relays[cfg->n_relays++];

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	return r;
}

/* Handles "[relay NAME]" sections: the allocation endpoint and public key of
 * a Relay Server. */
static int relay_option(struct dc_config *cfg, const char *section, const char *name,
			const char *value, char *err, size_t err_size)
{
	const char *rs = ntm_conf_subsection(section, "relay");
	struct dc_relay_conf *r;

	if (*rs == '\0' || strlen(rs) >= sizeof(r->name)) {
		snprintf(err, err_size, "invalid section [%s]: expected [relay NAME] with a name "
			 "of 1 to 63 characters", section);
		return -1;
	}
	r = relay_conf_get(cfg, rs);
	if (!r) {
		snprintf(err, err_size, "too many [relay] sections: at most %d", DC_MAX_RELAYS);
		return -1;
	}
	if (strcmp(name, "endpoint") == 0 &&
	    ntm_endpoint_parse(&r->endpoint, value, 47821) == 0) {
		r->has_endpoint = true;
		return 0;
	}
	if (strcmp(name, "public_key") == 0 && ntm_key_from_base64(r->key, value) == 0) {
		r->has_key = true;
		return 0;
	}
	if (strcmp(name, "endpoint") == 0 || strcmp(name, "public_key") == 0)
		snprintf(err, err_size, "invalid value for [%s] %s: expected %s", section, name,
			 name[0] == 'e' ? "IP:PORT of the RS's allocation socket, for example "
					  "203.0.113.30:47821"
					: "the RS's base64 public key (its key file's .pub)");
	else
		snprintf(err, err_size, "unknown option '%s' in [%s]; valid options: endpoint, "
			 "public_key", name, section);
	return -1;
}

static int dynamic_option(void *arg, const char *section, const char *name, const char *value,
			  char *err, size_t err_size)
{
	if (strncmp(section, "relay", 5) == 0)
		return relay_option(arg, section, name, value, err, err_size);
	return peer_option(arg, section, name, value, err, err_size);
}

static const char *const dc_dynamic_prefixes[] = { "peer", "relay", NULL };

static const struct ntm_conf_schema dc_schema = {
	.options = dc_options,
	.n_options = sizeof(dc_options) / sizeof(dc_options[0]),
	.dynamic_section_prefixes = dc_dynamic_prefixes,
	.dynamic_cb = dynamic_option,
};

/* Derives the DC's own public key from private_key_file. Returns false when
 * the file cannot be read, for example by -n run without root. Start-up
 * then reports why. */
static bool own_public_key(const struct dc_config *cfg, uint8_t pub[NTM_KEY_LEN])
{
	struct ntm_keypair kp;
	char why[NTM_CONF_ERR_MAX];
	bool loaded = ntm_key_load(&kp, cfg->private_key_file, why, sizeof(why)) == 0;

	if (loaded)
		memcpy(pub, kp.pub, NTM_KEY_LEN);
	ntm_keypair_wipe(&kp);
	return loaded;
}

/* Returns the domain of a peer before peers[i] with the same public_key, or NULL. */
static const char *same_key_before(const struct dc_config *cfg, size_t i)
{
	for (size_t j = 0; j < i; j++) {
		if (memcmp(cfg->peers[i].key, cfg->peers[j].key, NTM_KEY_LEN) == 0)
			return cfg->peers[j].domain;
	}
	return NULL;
}

/* Rejects a peer whose public_key is this DC's own key or another peer's key,
 * because the federation socket identifies a connecting peer by its key. */
static int check_peer_keys(const struct dc_config *cfg, const char *path, char *err,
			   size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX], section[NTM_FQDN_MAX + 8];
	uint8_t own[NTM_KEY_LEN];
	bool has_own = cfg->n_peers > 0 && own_public_key(cfg, own);

	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct dc_fed_peer_conf *p = &cfg->peers[i];
		bool is_own = has_own && memcmp(p->key, own, NTM_KEY_LEN) == 0;
		const char *clash = same_key_before(cfg, i);

		if (!is_own && !clash)
			continue;
		snprintf(section, sizeof(section), "peer %s", p->domain);
		ntm_conf_where(where, sizeof(where), path, section, "public_key");
		if (is_own)
			snprintf(err, err_size, "%s: [peer %s] public_key is this DC's own key "
				 "(from [dc] private_key_file); use the key in that DC's key "
				 "file's .pub", where, p->domain);
		else
			snprintf(err, err_size, "%s: [peer %s] and [peer %s] have the same "
				 "public_key; give each [peer] section the public key of that DC",
				 where, clash, p->domain);
		return -1;
	}
	return 0;
}

static int check_peers(const struct dc_config *cfg, const char *path, char *err, size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX], section[NTM_FQDN_MAX + 8];

	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct dc_fed_peer_conf *p = &cfg->peers[i];

		snprintf(section, sizeof(section), "peer %s", p->domain);
		if (!p->has_endpoint || !p->has_key) {
			snprintf(err, err_size,
				 "%s: [peer %s] needs both 'endpoint = IP:PORT' and "
				 "'public_key = BASE64'",
				 ntm_conf_where(where, sizeof(where), path, section, NULL),
				 p->domain);
			return -1;
		}
		if (strcmp(p->domain, cfg->domain) == 0) {
			snprintf(err, err_size,
				 "%s: [peer %s] names this DC's own domain; list "
				 "only other DCs as peers",
				 ntm_conf_where(where, sizeof(where), path, section, NULL),
				 p->domain);
			return -1;
		}
	}
	return check_peer_keys(cfg, path, err, err_size);
}

static int check_relays(const struct dc_config *cfg, const char *path, char *err,
			size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX], section[NTM_CONF_ERR_MAX];

	for (size_t i = 0; i < cfg->n_relays; i++) {
		snprintf(section, sizeof(section), "relay %s", cfg->relays[i].name);
		if (!cfg->relays[i].has_endpoint || !cfg->relays[i].has_key) {
			snprintf(err, err_size,
				 "%s: [relay %s] needs both 'endpoint = IP:PORT' and "
				 "'public_key = BASE64'",
				 ntm_conf_where(where, sizeof(where), path, section, NULL),
				 cfg->relays[i].name);
			return -1;
		}
	}
	return 0;
}

/* Nodes route the VIP prefix into their tunnel device, so a short,
 * loopback or multicast prefix would capture the host's other traffic. */
static bool vip_prefix_usable(const struct ntm_prefix *p)
{
	const uint8_t *b = p->ip.bytes;

	if (p->ip.len == 4)
		return p->len >= 8 && b[0] != 0 && b[0] != 127 && b[0] < 224;
	return p->len >= 32 && b[0] != 0xff && !(p->len == 128 && b[15] <= 1);
}

static int check_config(const struct dc_config *cfg, const char *path, char *err, size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX];

	if (!ntm_msg_fqdn_valid(cfg->domain)) {
		snprintf(err, err_size,
			 "%s: [dc] domain '%s' is not a valid lower-case DNS "
			 "domain",
			 ntm_conf_where(where, sizeof(where), path, "dc", "domain"), cfg->domain);
		return -1;
	}
	if (!vip_prefix_usable(&cfg->vip_prefix)) {
		snprintf(
			err, err_size,
			"%s: [dc] vip_prefix must be a unicast prefix of /8 or "
			"longer for IPv4 (/32 or longer for IPv6), outside loopback and multicast: "
			"nodes route it into their tunnel device",
			ntm_conf_where(where, sizeof(where), path, "dc", "vip_prefix"));
		return -1;
	}
	if (ntm_prefix_size(&cfg->vip_prefix) < 4) {
		snprintf(err, err_size,
			 "%s: [dc] vip_prefix is too small: use a prefix of at "
			 "least 4 addresses (/30 or shorter for IPv4)",
			 ntm_conf_where(where, sizeof(where), path, "dc", "vip_prefix"));
		return -1;
	}
	if (cfg->offline_after_s <= cfg->keepalive_interval_s) {
		snprintf(err, err_size,
			 "%s: [dc] offline_after (%llu s) must be longer than "
			 "keepalive_interval (%llu s), or every node would go offline",
			 ntm_conf_where(where, sizeof(where), path, "dc", "offline_after"),
			 (unsigned long long)cfg->offline_after_s,
			 (unsigned long long)cfg->keepalive_interval_s);
		return -1;
	}
	if (cfg->n_peers > 0 && cfg->fed_listen[0] == '\0') {
		snprintf(err, err_size,
			 "%s: [peer] sections need [federation] listen = "
			 "IP:PORT, because peers deliver their answers there",
			 ntm_conf_where(where, sizeof(where), path, "federation", "listen"));
		return -1;
	}
	if (check_relays(cfg, path, err, err_size) < 0)
		return -1;
	return check_peers(cfg, path, err, err_size);
}

int dc_conf_load(struct dc_config *cfg, const char *path, char *err, size_t err_size)
{
	memset(cfg, 0, sizeof(*cfg));
	if (ntm_conf_load(path, &dc_schema, cfg, err, err_size) < 0)
		return -1;
	/* dc_fed_start parses it again with the same default port. */
	if (ntm_conf_check_optional_endpoint(path, "federation", "listen", cfg->fed_listen,
					     DC_FED_DEFAULT_PORT, err, err_size) < 0 ||
	    ntm_conf_check_admin_tls(path, cfg->admin_cert_file, cfg->admin_key_file, err,
				     err_size) < 0)
		return -1;
	return check_config(cfg, path, err, err_size);
}

void dc_conf_free(struct dc_config *cfg)
{
	ntm_conf_free(&dc_schema, cfg);
	memset(cfg, 0, sizeof(*cfg));
}
