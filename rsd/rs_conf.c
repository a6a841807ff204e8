/* Configuration of ntm-rsd. The option table doubles as the reference for
 * docs/rsd.md and rsd/ntm-rsd.conf.example. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ntm_conf.h"
#include "rs_conf.h"

#define OPT(sec, nam, typ, field, lo, hi, def, hlp) \
	{ sec, nam, typ, offsetof(struct rs_config, field), lo, hi, def, hlp }

static const struct ntm_conf_option rs_options[] = {
	OPT("rs", "listen", NTM_CONF_ENDPOINT, listen, RS_DEFAULT_PORT, 0, "0.0.0.0:47820",
	    "UDP address and port for relay binds and relay data"),
	OPT("rs", "public_endpoint", NTM_CONF_ENDPOINT, public_endpoint, RS_DEFAULT_PORT, 0, NULL,
	    "IP:PORT nodes send to, as they reach the relay, for example 203.0.113.5:47820"),
	OPT("rs", "private_key_file", NTM_CONF_STRING, private_key_file, 0, 0, NULL,
	    "file with the relay's private key, made by 'ntm-keygen FILE'"),
	NTM_CONF_LOG_LEVEL_OPTION("rs", struct rs_config),
	OPT("rs", "max_sessions", NTM_CONF_UINT, max_sessions, 1, 1000000, "4096",
	    "live relay sessions in total"),
	OPT("rs", "max_sessions_per_dc", NTM_CONF_UINT, max_sessions_per_dc, 1, 1000000, "4096",
	    "live relay sessions one DC may hold"),
	OPT("rs", "max_pps_per_session", NTM_CONF_UINT, max_pps_per_session, 0, 10000000, "10000",
	    "packets per second one session may relay, both directions together; 0 for no limit"),
	OPT("rs", "idle_timeout", NTM_CONF_UINT, idle_timeout_s, 1, 86400, "60",
	    "seconds without traffic before a session ends, when the DC asks for 0"),
	OPT("rs", "max_idle_timeout", NTM_CONF_UINT, max_idle_timeout_s, 1, 86400, "3600",
	    "longest idle timeout in seconds a DC may ask for; longer requests get this"),
	OPT("alloc", "listen", NTM_CONF_ENDPOINT, alloc_listen, RS_ALLOC_DEFAULT_PORT, 0,
	    "0.0.0.0:47821", "TCP address and port the DCs allocate sessions on (ZeroMQ, CURVE)"),
	NTM_CONF_ADMIN_OPTIONS(struct rs_config, RS_ADMIN_DEFAULT_PORT),
	NTM_CONF_ADMIN_TLS_OPTIONS(struct rs_config),
};

static bool dc_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > RS_DC_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

static struct rs_dc_conf *dc_conf_get(struct rs_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_dcs; i++) {
		if (strcmp(cfg->dcs[i].name, name) == 0)
			return &cfg->dcs[i];
	}
	if (cfg->n_dcs == RS_MAX_DCS)
		return NULL;

	struct rs_dc_conf *d = &cfg->dcs[cfg->n_dcs++];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	return d;
}

/* Handles "[dc NAME]" sections: the public key of a DC allowed to allocate. */
static int dc_option(void *arg, const char *section, const char *name, const char *value,
		     char *err, size_t err_size)
{
	struct rs_config *cfg = arg;
	const char *dc_name = ntm_conf_subsection(section, "dc");
	struct rs_dc_conf *d;

	if (!dc_name_valid(dc_name)) {
		snprintf(err, err_size, "invalid section [%s]: expected [dc NAME] with a name of 1 "
			 "to %d letters, digits, '.', '_' or '-'", section, RS_DC_NAME_MAX);
		return -1;
	}
	d = dc_conf_get(cfg, dc_name);
	if (!d) {
		snprintf(err, err_size, "too many [dc] sections: at most %d", RS_MAX_DCS);
		return -1;
	}
	if (strcmp(name, "public_key") != 0) {
		snprintf(err, err_size, "unknown option '%s' in [%s]; valid options: public_key",
			 name, section);
		return -1;
	}
	if (ntm_key_from_base64(d->key, value) < 0) {
		snprintf(err, err_size, "invalid value for [%s] public_key: expected the base64 "
			 "public key of that DC (its key file's .pub)", section);
		return -1;
	}
	d->has_key = true;
	return 0;
}

static const struct ntm_conf_schema rs_schema = {
	.options = rs_options,
	.n_options = sizeof(rs_options) / sizeof(rs_options[0]),
	.dynamic_section_prefix = "dc",
	.dynamic_cb = dc_option,
};

static int check_dcs(const struct rs_config *cfg, const char *path, char *err, size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX], section[NTM_CONF_ERR_MAX];

	if (cfg->n_dcs == 0) {
		snprintf(err, err_size, "%s: no [dc NAME] section: add one with 'public_key = "
			 "BASE64' for each DC allowed to allocate relay sessions", path);
		return -1;
	}
	for (size_t i = 0; i < cfg->n_dcs; i++) {
		snprintf(section, sizeof(section), "dc %s", cfg->dcs[i].name);
		if (!cfg->dcs[i].has_key) {
			snprintf(err, err_size,
				 "%s: [dc %s] needs 'public_key = BASE64', the DC's "
				 "public key",
				 ntm_conf_where(where, sizeof(where), path, section, NULL),
				 cfg->dcs[i].name);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (memcmp(cfg->dcs[i].key, cfg->dcs[j].key, NTM_KEY_LEN) == 0) {
				snprintf(err, err_size,
					 "%s: [dc %s] and [dc %s] have the same "
					 "public_key; give each DC its own key",
					 ntm_conf_where(where, sizeof(where), path, section,
							"public_key"),
					 cfg->dcs[j].name, cfg->dcs[i].name);
				return -1;
			}
		}
	}
	return 0;
}

static bool ip_unspecified(const struct ntm_ip *ip)
{
	for (size_t i = 0; i < ip->len; i++) {
		if (ip->bytes[i] != 0)
			return false;
	}
	return true;
}

static int check_config(const struct rs_config *cfg, const char *path, char *err,
			size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX];

	if (ip_unspecified(&cfg->public_endpoint.ip) || cfg->public_endpoint.port == 0) {
		snprintf(err, err_size,
			 "%s: [rs] public_endpoint must be the address and port "
			 "nodes reach the relay at, not an unspecified address or port 0",
			 ntm_conf_where(where, sizeof(where), path, "rs", "public_endpoint"));
		return -1;
	}
	if (cfg->idle_timeout_s > cfg->max_idle_timeout_s) {
		snprintf(err, err_size,
			 "%s: [rs] idle_timeout (%llu s) is above max_idle_timeout "
			 "(%llu s); lower idle_timeout or raise max_idle_timeout",
			 ntm_conf_where(where, sizeof(where), path, "rs", "idle_timeout"),
			 (unsigned long long)cfg->idle_timeout_s,
			 (unsigned long long)cfg->max_idle_timeout_s);
		return -1;
	}
	if (ntm_conf_check_admin_tls(path, cfg->admin_cert_file, cfg->admin_key_file, err,
				     err_size) < 0)
		return -1;
	return check_dcs(cfg, path, err, err_size);
}

int rs_conf_load(struct rs_config *cfg, const char *path, char *err, size_t err_size)
{
	memset(cfg, 0, sizeof(*cfg));
	if (ntm_conf_load(path, &rs_schema, cfg, err, err_size) < 0)
		return -1;
	return check_config(cfg, path, err, err_size);
}

void rs_conf_free(struct rs_config *cfg)
{
	ntm_conf_free(&rs_schema, cfg);
	memset(cfg, 0, sizeof(*cfg));
}

struct rs_limits rs_limits_from_config(const struct rs_config *cfg)
{
	return (struct rs_limits){
		.max_sessions = cfg->max_sessions,
		.max_sessions_per_dc = cfg->max_sessions_per_dc,
		.max_pps = cfg->max_pps_per_session,
	};
}
