/*
 * Table-driven INI configuration on inih. inih does not pass line numbers
 * to the handler, so the file is fed through a reader that counts lines.
 * Only the first error is kept, with its line, because ini_parse_stream()
 * keeps calling the handler after an error.
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "ntm_conf.h"
#include "ntm_log.h"

/* Maximum number of bytes of a value quoted in an error message. */
#define QUOTED_VALUE_MAX 80

struct seen_key {
	char *section;
	char *name;
	int line;
};

struct conf_state {
	const char *path;
	const struct ntm_conf_schema *schema;
	void *cfg;
	int *option_line;          /* per table option: line that set it, 0 when unset */
	struct seen_key *dynamic_seen;
	size_t n_dynamic_seen;

	FILE *file;
	int line;                  /* line the handler is called for */
	bool indented;             /* that line starts with white space */
	char last_section[NTM_CONF_ERR_MAX];
	char last_name[NTM_CONF_ERR_MAX];
	int last_line;

	int err_line;              /* line of the first error, 0 while none */
	char err_msg[NTM_CONF_ERR_MAX];

	/* ntm_conf_where: the option looked for and the line that sets it. */
	const char *find_section;
	const char *find_name;
	int found_line;
};

static void append(char *buf, size_t size, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list ap;

	if (*pos >= size)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *pos, size - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

static void set_error(struct conf_state *st, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keeps only the first error of the file. */
static void set_error(struct conf_state *st, int line, const char *fmt, ...)
{
	va_list ap;

	if (st->err_line)
		return;
	st->err_line = line;
	va_start(ap, fmt);
	vsnprintf(st->err_msg, sizeof(st->err_msg), fmt, ap);
	va_end(ap);
}

static const char *quote_value(char *out, size_t out_size, const char *value)
{
	return ntm_log_sanitize(out, out_size, value, QUOTED_VALUE_MAX);
}

/* ---- value parsers ---- */

int ntm_conf_parse_uint(const char *value, uint64_t min, uint64_t max, uint64_t *out, char *err,
			size_t err_size)
{
	char *end;
	unsigned long long v;

	if (value[0] < '0' || value[0] > '9')
		goto invalid;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto invalid;
	*out = v;
	return 0;

invalid:
	snprintf(err, err_size, "expected a whole number from %llu to %llu",
		 (unsigned long long)min, (unsigned long long)max);
	return -1;
}

int ntm_conf_parse_bool(const char *value, bool *out, char *err, size_t err_size)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	snprintf(err, err_size, "expected yes or no (or true/false, on/off, 1/0)");
	return -1;
}

static int parse_log_level(const char *value, enum ntm_log_level *out, char *err, size_t err_size)
{
	static const struct {
		const char *name;
		enum ntm_log_level level;
	} levels[] = {
		{ "error", NTM_LOG_ERR },
		{ "warning", NTM_LOG_WARNING },
		{ "info", NTM_LOG_INFO },
		{ "debug", NTM_LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcasecmp(value, levels[i].name) == 0) {
			*out = levels[i].level;
			return 0;
		}
	}
	snprintf(err, err_size, "expected error, warning, info or debug");
	return -1;
}

static int parse_endpoint(const char *value, uint16_t default_port, struct ntm_endpoint *out,
			  char *err, size_t err_size)
{
	if (ntm_endpoint_parse(out, value, default_port) == 0)
		return 0;
	if (default_port == 0) {
		snprintf(err, err_size, "expected IP:PORT, for example 192.0.2.1:4000 or "
			 "[2001:db8::1]:4000");
		return -1;
	}
	snprintf(err, err_size, "expected IP:PORT or just IP, which means port %u, for "
		 "example 192.0.2.1:%u or [2001:db8::1]:%u",
		 default_port, default_port, default_port);
	return -1;
}

static int parse_ip(const char *value, struct ntm_ip *out, char *err, size_t err_size)
{
	struct ntm_endpoint with_port;
	char ip[INET6_ADDRSTRLEN];

	if (ntm_ip_parse(out, value) == 0)
		return 0;
	/* With default port 0, only a value that names a port parses. */
	if (ntm_endpoint_parse(&with_port, value, 0) == 0) {
		snprintf(err, err_size, "expected an IP address without a port; write %s",
			 ntm_ip_str(&with_port.ip, ip, sizeof(ip)));
		return -1;
	}
	snprintf(err, err_size, "expected an IP address without a port, for example 192.0.2.1 "
		 "or 2001:db8::1");
	return -1;
}

static int parse_prefix(const char *value, struct ntm_prefix *out, char *err, size_t err_size)
{
	if (ntm_prefix_parse(out, value) == 0)
		return 0;
	snprintf(err, err_size, "expected ADDRESS/LENGTH with the host bits zero, for example "
		 "198.51.100.0/24 or 2001:db8:1::/64");
	return -1;
}

/* Parses value as opt's type into the field of cfg. Returns 0 or -1 with err set. */
static int apply_value(const struct ntm_conf_option *opt, void *cfg, const char *value,
		       char *err, size_t err_size)
{
	void *field = (char *)cfg + opt->offset;

	switch (opt->type) {
	case NTM_CONF_STRING: {
		char *copy = strdup(value);

		if (!copy) {
			snprintf(err, err_size, "out of memory");
			return -1;
		}
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case NTM_CONF_UINT:
		return ntm_conf_parse_uint(value, opt->min, opt->max, field, err, err_size);
	case NTM_CONF_BOOL:
		return ntm_conf_parse_bool(value, field, err, err_size);
	case NTM_CONF_ENDPOINT:
		return parse_endpoint(value, opt->min <= UINT16_MAX ? (uint16_t)opt->min : 0, field,
				      err, err_size);
	case NTM_CONF_IP:
		return parse_ip(value, field, err, err_size);
	case NTM_CONF_PREFIX:
		return parse_prefix(value, field, err, err_size);
	case NTM_CONF_LOG_LEVEL:
		return parse_log_level(value, field, err, err_size);
	}
	snprintf(err, err_size, "option type %d is not supported", (int)opt->type);
	return -1;
}

static void clear_field(const struct ntm_conf_option *opt, void *cfg)
{
	void *field = (char *)cfg + opt->offset;

	switch (opt->type) {
	case NTM_CONF_STRING:
		*(char **)field = NULL;
		break;
	case NTM_CONF_UINT:
		*(uint64_t *)field = 0;
		break;
	case NTM_CONF_BOOL:
		*(bool *)field = false;
		break;
	case NTM_CONF_ENDPOINT:
		memset(field, 0, sizeof(struct ntm_endpoint));
		break;
	case NTM_CONF_IP:
		memset(field, 0, sizeof(struct ntm_ip));
		break;
	case NTM_CONF_PREFIX:
		memset(field, 0, sizeof(struct ntm_prefix));
		break;
	case NTM_CONF_LOG_LEVEL:
		*(enum ntm_log_level *)field = NTM_LOG_INFO;
		break;
	}
}

/* Sets every table field to its default, or to zero when the option is required. */
static int apply_defaults(const struct ntm_conf_schema *schema, void *cfg, char *err,
			  size_t err_size)
{
	char why[NTM_CONF_ERR_MAX];

	for (size_t i = 0; i < schema->n_options; i++)
		clear_field(&schema->options[i], cfg);

	for (size_t i = 0; i < schema->n_options; i++) {
		const struct ntm_conf_option *opt = &schema->options[i];

		if (!opt->default_value)
			continue;
		if (apply_value(opt, cfg, opt->default_value, why, sizeof(why)) < 0) {
			snprintf(err, err_size, "built-in default '%s' of [%s] %s is invalid: %s",
				 opt->default_value, opt->section, opt->name, why);
			return -1;
		}
	}
	return 0;
}

/* ---- lookups in the schema ---- */

static bool section_in_table(const struct ntm_conf_schema *schema, const char *section)
{
	for (size_t i = 0; i < schema->n_options; i++) {
		if (strcmp(schema->options[i].section, section) == 0)
			return true;
	}
	return false;
}

static ssize_t find_option(const struct ntm_conf_schema *schema, const char *section,
			   const char *name)
{
	for (size_t i = 0; i < schema->n_options; i++) {
		const struct ntm_conf_option *opt = &schema->options[i];

		if (strcmp(opt->section, section) == 0 && strcmp(opt->name, name) == 0)
			return (ssize_t)i;
	}
	return -1;
}

static bool first_word_is(const char *section, const char *prefix)
{
	size_t len = strlen(prefix);

	return strncmp(section, prefix, len) == 0 && (section[len] == ' ' || section[len] == '\0');
}

const char *ntm_conf_subsection(const char *section, const char *prefix)
{
	const char *name = section + strlen(prefix);

	while (*name == ' ')
		name++;
	return name;
}

/* True when the first word of section is one of the dynamic section prefixes. */
static bool section_is_dynamic(const struct ntm_conf_schema *schema, const char *section)
{
	if (!schema->dynamic_cb)
		return false;
	if (schema->dynamic_section_prefix && first_word_is(section, schema->dynamic_section_prefix))
		return true;
	for (size_t i = 0; schema->dynamic_section_prefixes && schema->dynamic_section_prefixes[i];
	     i++) {
		if (first_word_is(section, schema->dynamic_section_prefixes[i]))
			return true;
	}
	return false;
}

static void list_options(const struct ntm_conf_schema *schema, const char *section, char *buf,
			 size_t size)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < schema->n_options; i++) {
		const struct ntm_conf_option *opt = &schema->options[i];

		if (strcmp(opt->section, section) == 0)
			append(buf, size, &pos, "%s%s", pos ? ", " : "", opt->name);
	}
}

static bool section_listed_before(const struct ntm_conf_schema *schema, size_t idx)
{
	for (size_t j = 0; j < idx; j++) {
		if (strcmp(schema->options[j].section, schema->options[idx].section) == 0)
			return true;
	}
	return false;
}

static void list_sections(const struct ntm_conf_schema *schema, char *buf, size_t size)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < schema->n_options; i++) {
		if (!section_listed_before(schema, i))
			append(buf, size, &pos, "%s[%s]", pos ? ", " : "", schema->options[i].section);
	}
	if (schema->dynamic_section_prefix && schema->dynamic_cb)
		append(buf, size, &pos, "%s[%s NAME]", pos ? ", " : "",
		       schema->dynamic_section_prefix);
	for (size_t i = 0; schema->dynamic_cb && schema->dynamic_section_prefixes &&
			   schema->dynamic_section_prefixes[i];
	     i++)
		append(buf, size, &pos, "%s[%s NAME]", pos ? ", " : "",
		       schema->dynamic_section_prefixes[i]);
}

/* ---- the inih handler ---- */

/* Returns the help text to add to an invalid value's error. A number's help
 * gives its unit, but for the other types it would repeat the expected form. */
static const char *value_help(const struct ntm_conf_option *opt)
{
	return opt->type == NTM_CONF_UINT ? opt->help : NULL;
}

static void handle_table_option(struct conf_state *st, const char *section, const char *name,
				const char *value)
{
	const struct ntm_conf_schema *schema = st->schema;
	ssize_t idx = find_option(schema, section, name);
	char buf[NTM_CONF_ERR_MAX];
	char quoted[QUOTED_VALUE_MAX * 4 + 4];

	if (idx < 0) {
		list_options(schema, section, buf, sizeof(buf));
		set_error(st, st->line, "unknown option '%s' in [%s]; valid options in [%s]: %s",
			  name, section, section, buf);
		return;
	}

	const struct ntm_conf_option *opt = &schema->options[idx];

	if (st->option_line[idx]) {
		set_error(st, st->line, "duplicate option '%s' in [%s], first set on line %d; "
			  "keep only one of the two lines", name, section, st->option_line[idx]);
		return;
	}
	if (apply_value(opt, st->cfg, value, buf, sizeof(buf)) < 0) {
		const char *help = value_help(opt);

		set_error(st, st->line, "invalid value '%s' for [%s] %s: %s%s%s%s",
			  quote_value(quoted, sizeof(quoted), value), section, name, buf,
			  help ? " (" : "", help ? help : "", help ? ")" : "");
		return;
	}
	st->option_line[idx] = st->line;
}

static int remember_dynamic_key(struct conf_state *st, const char *section, const char *name)
{
	struct seen_key *seen = st->dynamic_seen;

	for (size_t i = 0; i < st->n_dynamic_seen; i++) {
		if (strcmp(seen[i].section, section) == 0 && strcmp(seen[i].name, name) == 0) {
			set_error(st, st->line, "duplicate option '%s' in [%s], first set on line "
				  "%d; keep only one of the two lines", name, section, seen[i].line);
			return -1;
		}
	}

	seen = reallocarray(seen, st->n_dynamic_seen + 1, sizeof(*seen));
	if (!seen) {
		set_error(st, st->line, "out of memory");
		return -1;
	}
	st->dynamic_seen = seen;
	seen[st->n_dynamic_seen] = (struct seen_key){ strdup(section), strdup(name), st->line };
	if (!seen[st->n_dynamic_seen].section || !seen[st->n_dynamic_seen].name) {
		free(seen[st->n_dynamic_seen].section);
		free(seen[st->n_dynamic_seen].name);
		set_error(st, st->line, "out of memory");
		return -1;
	}
	st->n_dynamic_seen++;
	return 0;
}

static void handle_dynamic_option(struct conf_state *st, const char *section, const char *name,
				  const char *value)
{
	char why[NTM_CONF_ERR_MAX] = "";

	if (remember_dynamic_key(st, section, name) < 0)
		return;
	if (st->schema->dynamic_cb(st->cfg, section, name, value, why, sizeof(why)) < 0)
		set_error(st, st->line, "%s", why[0] ? why : "invalid option");
}

/*
 * inih joins an indented line to the option above it (multi-line values),
 * which would turn an indented option into part of another value.
 */
static bool is_continuation(struct conf_state *st, const char *section, const char *name)
{
	bool same = st->indented && st->last_line > 0 && strcmp(st->last_section, section) == 0 &&
		    strcmp(st->last_name, name) == 0;

	snprintf(st->last_section, sizeof(st->last_section), "%s", section);
	snprintf(st->last_name, sizeof(st->last_name), "%s", name);
	if (!same)
		st->last_line = st->line;
	return same;
}

static int on_option(void *user, const char *section, const char *name, const char *value)
{
	struct conf_state *st = user;
	char buf[NTM_CONF_ERR_MAX];

	if (st->err_line)
		return 1;

	if (is_continuation(st, section, name)) {
		set_error(st, st->line, "indented line continues the value of '%s' from line %d; "
			  "remove the indentation", name, st->last_line);
		return 0;
	}
	if (section_in_table(st->schema, section)) {
		handle_table_option(st, section, name, value);
	} else if (section_is_dynamic(st->schema, section)) {
		handle_dynamic_option(st, section, name, value);
	} else if (section[0] == '\0') {
		list_sections(st->schema, buf, sizeof(buf));
		set_error(st, st->line, "option '%s' is outside any section; put it under one of "
			  "the valid sections: %s", name, buf);
	} else {
		list_sections(st->schema, buf, sizeof(buf));
		set_error(st, st->line, "unknown section [%s]; valid sections: %s", section, buf);
	}
	return st->err_line ? 0 : 1;
}

/*
 * fgets-style reader for ini_parse_stream that counts lines. A line longer
 * than inih's buffer is an error: inih would parse its rest as a new line.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct conf_state *st = stream;
	char *s = fgets(str, num, st->file);
	size_t len;

	if (!s)
		return NULL;
	st->line++;
	st->indented = s[0] == ' ' || s[0] == '\t';

	len = strlen(s);
	if (len > 0 && s[len - 1] != '\n' && !feof(st->file)) {
		int c = fgetc(st->file);

		if (c != '\n' && c != EOF) {
			set_error(st, st->line, "line is longer than %d characters; shorten it",
				  num - 3);
			while (c != '\n' && c != EOF)
				c = fgetc(st->file);
		}
	}
	return s;
}

static void free_state(struct conf_state *st)
{
	for (size_t i = 0; i < st->n_dynamic_seen; i++) {
		free(st->dynamic_seen[i].section);
		free(st->dynamic_seen[i].name);
	}
	free(st->dynamic_seen);
	free(st->option_line);
	if (st->file)
		fclose(st->file);
}

/* Finds the first required option the file did not set. */
static int check_required(const struct conf_state *st, char *err, size_t err_size)
{
	for (size_t i = 0; i < st->schema->n_options; i++) {
		const struct ntm_conf_option *opt = &st->schema->options[i];

		if (opt->default_value || st->option_line[i])
			continue;
		snprintf(err, err_size, "%s: [%s] %s is missing; add a line '%s = ...' to [%s]%s%s%s",
			 st->path, opt->section, opt->name, opt->name, opt->section,
			 opt->help ? " (" : "", opt->help ? opt->help : "", opt->help ? ")" : "");
		return -1;
	}
	return 0;
}

static int parse_file(struct conf_state *st, char *err, size_t err_size)
{
	int rc = ini_parse_stream(read_line, st, on_option, st);

	if (rc < 0) {
		snprintf(err, err_size, "%s: cannot parse: out of memory", st->path);
		return -1;
	}
	if (ferror(st->file)) {
		snprintf(err, err_size, "%s: cannot read: %s", st->path, strerror(errno));
		return -1;
	}
	/* inih reports lines it cannot parse only through its return value. */
	if (rc > 0 && (st->err_line == 0 || rc < st->err_line)) {
		snprintf(err, err_size, "%s:%d: syntax error: expected '[section]', "
			 "'name = value' or a comment starting with '#' or ';'", st->path, rc);
		return -1;
	}
	if (st->err_line) {
		snprintf(err, err_size, "%s:%d: %s", st->path, st->err_line, st->err_msg);
		return -1;
	}
	return check_required(st, err, err_size);
}

int ntm_conf_load(const char *path, const struct ntm_conf_schema *schema, void *cfg, char *err,
		  size_t err_size)
{
	struct conf_state st = { .path = path, .schema = schema, .cfg = cfg };
	int rc = -1;

	if (apply_defaults(schema, cfg, err, err_size) < 0)
		return -1;

	st.option_line = calloc(schema->n_options ? schema->n_options : 1, sizeof(int));
	if (!st.option_line) {
		snprintf(err, err_size, "%s: cannot parse: out of memory", path);
		goto out;
	}
	st.file = fopen(path, "re");
	if (!st.file) {
		snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	rc = parse_file(&st, err, err_size);
out:
	free_state(&st);
	return rc;
}

static int on_find(void *user, const char *section, const char *name, const char *value)
{
	struct conf_state *st = user;

	if (st->found_line == 0 && strcmp(section, st->find_section) == 0 &&
	    (!st->find_name || strcmp(name, st->find_name) == 0))
		st->found_line = st->line;
	return 1;
}

const char *ntm_conf_where(char *out, size_t size, const char *path, const char *section,
			   const char *name)
{
	struct conf_state st = { .path = path, .find_section = section, .find_name = name };

	st.file = fopen(path, "re");
	if (st.file)
		ini_parse_stream(read_line, &st, on_find, &st);
	if (st.found_line > 0)
		snprintf(out, size, "%s:%d", path, st.found_line);
	else
		snprintf(out, size, "%s", path);
	free_state(&st);
	return out;
}

int ntm_conf_check_optional_endpoint(const char *path, const char *section, const char *name,
				     const char *value, uint16_t default_port, char *err,
				     size_t err_size)
{
	struct ntm_endpoint ep;
	char why[NTM_CONF_ERR_MAX], where[NTM_CONF_WHERE_MAX];
	char quoted[QUOTED_VALUE_MAX * 4 + 4];

	if (value[0] == '\0' || parse_endpoint(value, default_port, &ep, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, err_size, "%s: invalid value '%s' for [%s] %s: %s; an empty value turns "
		 "it off", ntm_conf_where(where, sizeof(where), path, section, name),
		 quote_value(quoted, sizeof(quoted), value), section, name, why);
	return -1;
}

static bool option_set(const char *value)
{
	return value && value[0] != '\0';
}

int ntm_conf_check_admin_tls(const char *path, const char *cert_file, const char *key_file,
			     char *err, size_t err_size)
{
	char where[NTM_CONF_WHERE_MAX];
	bool has_cert = option_set(cert_file);
	const char *set = has_cert ? "cert_file" : "key_file";
	const char *unset = has_cert ? "key_file" : "cert_file";

	if (has_cert == option_set(key_file))
		return 0;
	snprintf(err, err_size, "%s: [admin] %s is set but %s is not, and HTTPS on the admin "
		 "API needs both; add '%s = FILE', or remove %s for plain HTTP",
		 ntm_conf_where(where, sizeof(where), path, "admin", set), set, unset, unset, set);
	return -1;
}

void ntm_conf_free(const struct ntm_conf_schema *schema, void *cfg)
{
	for (size_t i = 0; i < schema->n_options; i++) {
		const struct ntm_conf_option *opt = &schema->options[i];

		if (opt->type != NTM_CONF_STRING)
			continue;
		char **field = (char **)((char *)cfg + opt->offset);

		free(*field);
		*field = NULL;
	}
}
