/*
 * INI configuration files (read with inih), driven by a table of options:
 * each option has a section, a name, a type, bounds and a default. Errors
 * name file:line, the option and how to fix it.
 */
#ifndef NTM_CONF_H
#define NTM_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntm_addr.h"

#define NTM_CONF_ERR_MAX 512

enum ntm_conf_type {
	NTM_CONF_STRING,    /* char *, strdup'ed; free with ntm_conf_free */
	NTM_CONF_UINT,      /* uint64_t, within [min, max] */
	NTM_CONF_BOOL,      /* bool: yes/no, true/false, on/off, 1/0 */
	NTM_CONF_ENDPOINT,  /* struct ntm_endpoint; min is the default port */
	NTM_CONF_IP,        /* struct ntm_ip: an IP address; a value with a port is rejected */
	NTM_CONF_PREFIX,    /* struct ntm_prefix */
	NTM_CONF_LOG_LEVEL, /* enum ntm_log_level: error, warning, info, debug */
};

struct ntm_conf_option {
	const char *section;
	const char *name;
	enum ntm_conf_type type;
	size_t offset;              /* of the field inside the daemon's config struct */
	uint64_t min, max;          /* bounds for NTM_CONF_UINT */
	const char *default_value;  /* text as in the file; NULL makes the option required */
	const char *help;           /* one line: what it sets and its unit */
};

/*
 * Table entries every daemon shares. type is the daemon's config struct, which
 * must have the fields these entries fill: log_level, admin_listen and
 * admin_token_file, and for the TLS options admin_cert_file and admin_key_file.
 */
#define NTM_CONF_LOG_LEVEL_OPTION(section, type)                                             \
	{ section, "log_level", NTM_CONF_LOG_LEVEL, offsetof(type, log_level), 0, 0, "info", \
	  "error, warning, info or debug" }

/* [admin] listen, by default on 127.0.0.1 at port, and the required
 * token_file. port must be a decimal integer literal, or a macro that expands
 * to one, because it also spells the default text. */
#define NTM_CONF_ADMIN_OPTIONS(type, port)                                                   \
	{ "admin", "listen", NTM_CONF_ENDPOINT, offsetof(type, admin_listen), port, 0,       \
	  "127.0.0.1:" NTM_CONF_STRINGIFY(port),                                             \
	  "TCP address and port of the admin HTTP API" },                                    \
	{ "admin", "token_file", NTM_CONF_STRING, offsetof(type, admin_token_file), 0, 0,    \
	  NULL, "file whose first line is the admin API bearer token (mode 0600)" }

/* [admin] cert_file and key_file: HTTPS on the admin API when both are set.
 * ntm_conf_check_admin_tls rejects one without the other. */
#define NTM_CONF_ADMIN_TLS_OPTIONS(type)                                                     \
	{ "admin", "cert_file", NTM_CONF_STRING, offsetof(type, admin_cert_file), 0, 0, "",  \
	  "PEM certificate chain for HTTPS on the admin API; empty for plain HTTP" },        \
	{ "admin", "key_file", NTM_CONF_STRING, offsetof(type, admin_key_file), 0, 0, "",    \
	  "PEM private key of cert_file (mode 0600); empty for plain HTTP" }

/* Expands macros in x, then makes the result a string literal. */
#define NTM_CONF_STRINGIFY(x) NTM_CONF_STRINGIFY_LITERAL(x)
#define NTM_CONF_STRINGIFY_LITERAL(x) #x

/*
 * Handles sections the table does not list, such as repeated "[peer NAME]"
 * sections: called for every key of a section whose name starts with
 * prefix. Returns 0, or -1 after writing why (without file:line) into err.
 */
typedef int (*ntm_conf_section_cb)(void *cfg, const char *section, const char *name,
				   const char *value, char *err, size_t err_size);

/* Returns the subsection name of a dynamic section whose first word is
 * prefix: what follows that word and its spaces, "b.example" for
 * "peer b.example", "" for "peer". */
const char *ntm_conf_subsection(const char *section, const char *prefix);

struct ntm_conf_schema {
	const struct ntm_conf_option *options;
	size_t n_options;
	const char *dynamic_section_prefix;   /* NULL when none */
	/* More prefixes for the same callback, NULL-terminated; may be NULL. */
	const char *const *dynamic_section_prefixes;
	ntm_conf_section_cb dynamic_cb;
};

/*
 * Applies the defaults to cfg, then reads path. Unknown sections and options,
 * values out of range, missing required options: returns -1 with err set to
 * "path:line: message" (line omitted for a missing option). Returns 0 on
 * success. On failure cfg may be half filled: release it with ntm_conf_free.
 */
int ntm_conf_load(const char *path, const struct ntm_conf_schema *schema, void *cfg,
		  char *err, size_t err_size);
/*
 * Writes "path:line" of the line that sets option name in [section] into
 * out (with name NULL, the section's first option), or "path" alone when
 * the file does not set it (a default applies).
 * For errors found after ntm_conf_load, such as two options that do not
 * fit together. Returns out.
 */
const char *ntm_conf_where(char *out, size_t size, const char *path, const char *section,
			   const char *name);
/* Size of a buffer for ntm_conf_where: a path and a line number. */
#define NTM_CONF_WHERE_MAX (4096 + 16)

/*
 * Checks value, a string option where "" turns a feature off, as
 * NTM_CONF_ENDPOINT would parse it with default_port (0 when the port is
 * required). Returns 0 for "" or a valid endpoint, else -1 with err set to
 * "path:line: invalid value ...". For options the daemon parses again at
 * start, so that -n reports the line.
 */
int ntm_conf_check_optional_endpoint(const char *path, const char *section, const char *name,
				     const char *value, uint16_t default_port, char *err,
				     size_t err_size);
/*
 * Checks that [admin] cert_file and key_file are both set (HTTPS) or both
 * empty (plain HTTP); NULL counts as empty. Returns 0, or -1 with err naming
 * the line of the one that is set.
 */
int ntm_conf_check_admin_tls(const char *path, const char *cert_file, const char *key_file,
			     char *err, size_t err_size);

/* Frees the NTM_CONF_STRING fields of cfg. */
void ntm_conf_free(const struct ntm_conf_schema *schema, void *cfg);

/* Value parsers the dynamic section callbacks use too. Return 0 or -1 with
 * err set. */
int ntm_conf_parse_uint(const char *value, uint64_t min, uint64_t max, uint64_t *out,
			char *err, size_t err_size);
int ntm_conf_parse_bool(const char *value, bool *out, char *err, size_t err_size);

#endif
