/* SSDP parser and builder (UPnP Device Architecture 2.0, section 1). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ssdp_msg.h"

/* Headers the accessors read: a second copy would make a message mean two
 * things, so the parser rejects it. */
static const char *const interpreted_headers[] = {
	"HOST", "MAN", "MX", "ST", "USN", "NT", "NTS", "LOCATION", "CACHE-CONTROL", "SERVER",
};

/* Headers the builders write themselves, so extra lines may not add them. */
static const char *const built_headers[] = {
	"HOST", "CACHE-CONTROL", "EXT", "LOCATION", "SERVER", "ST", "NT", "NTS", "USN", "MAN",
	"MX", "CONTENT-LENGTH",
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *ssdp_status_str(enum ssdp_status st)
{
	switch (st) {
	case SSDP_OK:
		return "ok";
	case SSDP_ERR_TOO_LONG:
		return "datagram too long";
	case SSDP_ERR_LINE_TOO_LONG:
		return "line too long";
	case SSDP_ERR_CONTROL_BYTE:
		return "control byte";
	case SSDP_ERR_TRUNCATED:
		return "last line without line ending";
	case SSDP_ERR_START_LINE:
		return "not an M-SEARCH, NOTIFY or 200 response";
	case SSDP_ERR_HEADER:
		return "malformed header line";
	case SSDP_ERR_TOO_MANY_HEADERS:
		return "too many headers";
	case SSDP_ERR_DUPLICATE:
		return "duplicate header";
	}
	return "unknown error";
}

/* ---- parsing ---- */

/* RFC 9110, section 5.6.2: tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/*
 * Takes the line that starts at *pos out of text (len bytes): checks its
 * bytes and length, terminates it with NUL in place of its line ending and
 * moves *pos past the ending.
 */
static enum ssdp_status next_line(char *text, size_t len, size_t *pos, char **line)
{
	size_t start = *pos, end = start;

	while (end < len && text[end] != '\n') {
		unsigned char c = (unsigned char)text[end];
		bool crlf = c == '\r' && end + 1 < len && text[end + 1] == '\n';

		if (is_control(c) && !crlf)
			return c == '\r' && end + 1 == len ? SSDP_ERR_TRUNCATED : SSDP_ERR_CONTROL_BYTE;
		end++;
	}
	size_t line_end = end > start && text[end - 1] == '\r' ? end - 1 : end;

	if (line_end - start > SSDP_LINE_MAX)
		return SSDP_ERR_LINE_TOO_LONG;
	if (end == len)
		return SSDP_ERR_TRUNCATED;
	text[line_end] = '\0';
	*line = text + start;
	*pos = end + 1;
	return SSDP_OK;
}

/* Accepts "HTTP/1.1" and "HTTP/1.0". */
static bool is_version(const char *s, size_t len)
{
	return len == 8 && (strncmp(s, "HTTP/1.1", 8) == 0 || strncmp(s, "HTTP/1.0", 8) == 0);
}

static enum ssdp_status parse_request_line(struct ssdp_msg *m, const char *line)
{
	static const struct {
		const char *method;
		enum ssdp_kind kind;
	} methods[] = { { "M-SEARCH * ", SSDP_KIND_MSEARCH }, { "NOTIFY * ", SSDP_KIND_NOTIFY } };

	for (size_t i = 0; i < COUNT_OF(methods); i++) {
		size_t n = strlen(methods[i].method);

		if (strncmp(line, methods[i].method, n) == 0 && is_version(line + n, strlen(line + n))) {
			m->kind = methods[i].kind;
			return SSDP_OK;
		}
	}
	return SSDP_ERR_START_LINE;
}

/* "HTTP/1.1 200 OK"; the reason phrase may be missing or differ. */
static enum ssdp_status parse_start_line(struct ssdp_msg *m, const char *line)
{
	if (strncmp(line, "HTTP/", 5) != 0)
		return parse_request_line(m, line);
	if (!is_version(line, 8) || strncmp(line + 8, " 200", 4) != 0)
		return SSDP_ERR_START_LINE;
	if (line[12] != '\0' && line[12] != ' ')
		return SSDP_ERR_START_LINE;
	m->kind = SSDP_KIND_RESPONSE;
	return SSDP_OK;
}

static bool is_interpreted(const char *name)
{
	for (size_t i = 0; i < COUNT_OF(interpreted_headers); i++) {
		if (strcasecmp(name, interpreted_headers[i]) == 0)
			return true;
	}
	return false;
}

/* Splits "name : value" in place. */
static enum ssdp_status parse_header_line(struct ssdp_msg *m, char *line)
{
	char *p = line, *value, *end;

	while (is_tchar((unsigned char)*p))
		p++;
	if (p == line)
		return SSDP_ERR_HEADER;
	char *name_end = p;

	while (is_space(*p))
		p++;
	if (*p != ':')
		return SSDP_ERR_HEADER;
	*name_end = '\0';

	value = p + 1;
	while (is_space(*value))
		value++;
	end = value + strlen(value);
	while (end > value && is_space(end[-1]))
		end--;
	*end = '\0';

	if (is_interpreted(line) && ssdp_msg_header(m, line))
		return SSDP_ERR_DUPLICATE;
	if (m->n_headers == SSDP_MAX_HEADERS)
		return SSDP_ERR_TOO_MANY_HEADERS;
	m->headers[m->n_headers++] = (struct ssdp_header){ .name = line, .value = value };
	return SSDP_OK;
}

enum ssdp_status ssdp_msg_parse(struct ssdp_msg *m, const void *buf, size_t len)
{
	size_t pos = 0;
	char *line;
	enum ssdp_status st;

	m->n_headers = 0;
	m->kind = 0;
	if (len > SSDP_MSG_MAX)
		return SSDP_ERR_TOO_LONG;
	memcpy(m->text, buf, len);
	m->text[len] = '\0';

	st = next_line(m->text, len, &pos, &line);
	if (st != SSDP_OK)
		return st;
	st = parse_start_line(m, line);
	if (st != SSDP_OK)
		return st;

	while (pos < len) {
		st = next_line(m->text, len, &pos, &line);
		if (st != SSDP_OK)
			return st;
		if (line[0] == '\0')
			break;
		st = parse_header_line(m, line);
		if (st != SSDP_OK)
			return st;
	}
	return SSDP_OK;
}

/* ---- accessors ---- */

const char *ssdp_msg_header(const struct ssdp_msg *m, const char *name)
{
	for (size_t i = 0; i < m->n_headers; i++) {
		if (strcasecmp(m->headers[i].name, name) == 0)
			return m->headers[i].value;
	}
	return NULL;
}

const char *ssdp_msg_st(const struct ssdp_msg *m)
{
	return ssdp_msg_header(m, "ST");
}

const char *ssdp_msg_usn(const struct ssdp_msg *m)
{
	return ssdp_msg_header(m, "USN");
}

const char *ssdp_msg_nt(const struct ssdp_msg *m)
{
	return ssdp_msg_header(m, "NT");
}

const char *ssdp_msg_location(const struct ssdp_msg *m)
{
	return ssdp_msg_header(m, "LOCATION");
}

const char *ssdp_msg_server(const struct ssdp_msg *m)
{
	return ssdp_msg_header(m, "SERVER");
}

enum ssdp_nts ssdp_msg_nts(const struct ssdp_msg *m)
{
	const char *v = ssdp_msg_header(m, "NTS");

	if (!v)
		return SSDP_NTS_NONE;
	if (strcmp(v, "ssdp:alive") == 0)
		return SSDP_NTS_ALIVE;
	if (strcmp(v, "ssdp:byebye") == 0)
		return SSDP_NTS_BYEBYE;
	if (strcmp(v, "ssdp:update") == 0)
		return SSDP_NTS_UPDATE;
	return SSDP_NTS_NONE;
}

bool ssdp_msg_man_discover(const struct ssdp_msg *m)
{
	const char *v = ssdp_msg_header(m, "MAN");

	return v && strcmp(v, "\"ssdp:discover\"") == 0;
}

/* Reads a decimal number of at most 10 digits; larger numbers read as
 * UINT64_MAX. Returns the number of bytes read, 0 when none. */
static size_t read_decimal(const char *s, uint64_t *out)
{
	size_t n = 0;
	uint64_t v = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		if (v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(s[n] - '0');
		n++;
	}
	*out = v > UINT32_MAX ? UINT64_MAX : v;
	return n;
}

int ssdp_msg_mx(const struct ssdp_msg *m)
{
	const char *v = ssdp_msg_header(m, "MX");
	uint64_t mx;

	if (!v)
		return -EINVAL;
	size_t n = read_decimal(v, &mx);

	if (n == 0 || v[n] != '\0' || mx == 0)
		return -EINVAL;
	return mx > SSDP_MX_MAX ? SSDP_MX_MAX : (int)mx;
}

static const char *skip_space(const char *p)
{
	while (is_space(*p))
		p++;
	return p;
}

/* Parses "max-age = N" or max-age="N" at p, up to the next comma or the end. */
static int parse_max_age_directive(const char *p, uint32_t *seconds)
{
	uint64_t v;
	bool quoted;

	if (strncasecmp(p, "max-age", 7) != 0)
		return -ENOENT;
	p = skip_space(p + 7);
	if (*p != '=')
		return -ENOENT;
	p = skip_space(p + 1);
	quoted = *p == '"';
	p += quoted;

	size_t n = read_decimal(p, &v);

	if (n == 0 || v == 0 || v > SSDP_MAX_AGE_LIMIT)
		return -EINVAL;
	p += n;
	if (quoted && *p++ != '"')
		return -EINVAL;
	p = skip_space(p);
	if (*p != '\0' && *p != ',')
		return -EINVAL;
	*seconds = (uint32_t)v;
	return 0;
}

int ssdp_msg_max_age(const struct ssdp_msg *m, uint32_t *seconds)
{
	const char *p = ssdp_msg_header(m, "CACHE-CONTROL");

	while (p) {
		int rc = parse_max_age_directive(skip_space(p), seconds);

		if (rc != -ENOENT)
			return rc;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return -EINVAL;
}

int ssdp_usn_udn(const char *usn, char *out, size_t out_size)
{
	const char *end;
	size_t len;

	if (strncasecmp(usn, "uuid:", 5) != 0)
		return -EINVAL;
	end = strstr(usn, "::");
	len = end ? (size_t)(end - usn) : strlen(usn);
	if (len <= 5)
		return -EINVAL;
	if (len >= out_size)
		return -ENOSPC;
	memcpy(out, usn, len);
	out[len] = '\0';
	return 0;
}

/* Splits a "urn:DOMAIN:device:TYPE:VER" or ":service:" type into the length
 * of its part before VER and VER. Returns false for other targets. */
static bool split_versioned_type(const char *target, size_t *prefix_len, uint64_t *version)
{
	const char *colon = strrchr(target, ':');

	if (strncmp(target, "urn:", 4) != 0 || !colon)
		return false;
	if (!strstr(target, ":device:") && !strstr(target, ":service:"))
		return false;
	size_t n = read_decimal(colon + 1, version);

	if (n == 0 || colon[1 + n] != '\0')
		return false;
	*prefix_len = (size_t)(colon - target) + 1;
	return true;
}

bool ssdp_st_matches(const char *search_target, const char *target)
{
	size_t search_prefix, target_prefix;
	uint64_t search_version, target_version;

	if (strcmp(search_target, "ssdp:all") == 0 || strcmp(search_target, target) == 0)
		return true;
	if (!split_versioned_type(search_target, &search_prefix, &search_version) ||
	    !split_versioned_type(target, &target_prefix, &target_version))
		return false;
	return search_prefix == target_prefix &&
	       strncmp(search_target, target, search_prefix) == 0 &&
	       target_version >= search_version;
}

/* Copies the host of "http://HOST[:PORT]..." into host and points *rest past it. */
static int split_url_host(const char *url, char *host, size_t host_size, const char **rest)
{
	const char *p = url + 7, *end;

	if (strncasecmp(url, "http://", 7) != 0)
		return -EINVAL;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return -EINVAL;
		p++;
		*rest = end + 1;
	} else {
		end = p + strcspn(p, ":/?#");
		*rest = end;
	}
	if (end == p || (size_t)(end - p) >= host_size)
		return -EINVAL;
	memcpy(host, p, (size_t)(end - p));
	host[end - p] = '\0';
	return 0;
}

int ssdp_location_endpoint(const char *location, struct ntm_endpoint *ep)
{
	char host[INET6_ADDRSTRLEN];
	const char *rest;
	uint64_t port = 80;

	if (split_url_host(location, host, sizeof(host), &rest) < 0 ||
	    ntm_ip_parse(&ep->ip, host) < 0)
		return -EINVAL;
	if (*rest == ':') {
		size_t n = read_decimal(rest + 1, &port);

		if (n == 0 || port == 0 || port > UINT16_MAX)
			return -EINVAL;
		rest += 1 + n;
	}
	if (*rest != '\0' && *rest != '/' && *rest != '?' && *rest != '#')
		return -EINVAL;
	ep->port = (uint16_t)port;
	return 0;
}

/* ---- building ---- */

bool ssdp_value_valid(const char *value)
{
	size_t n = 0;

	for (; value[n] != '\0'; n++) {
		if (n == SSDP_LINE_MAX || is_control((unsigned char)value[n]))
			return false;
	}
	return true;
}

/* Returns the length of the header name of a "Name: value" line, or 0 when
 * the line is not one or names a header the builders write. */
static size_t extra_line_name(const char *line)
{
	size_t n = 0;
	char name[32];

	while (is_tchar((unsigned char)line[n]))
		n++;
	if (n == 0 || line[n] != ':' || !ssdp_value_valid(line))
		return 0;
	if (n < sizeof(name)) {
		memcpy(name, line, n);
		name[n] = '\0';
		for (size_t i = 0; i < COUNT_OF(built_headers); i++) {
			if (strcasecmp(name, built_headers[i]) == 0)
				return 0;
		}
	}
	return n;
}

struct writer {
	char *out;
	size_t size, len;
	int err;     /* first error: -EINVAL or -ENOSPC */
};

static void put(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct writer *w, const char *fmt, ...)
{
	va_list ap;

	if (w->err)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(w->out + w->len, w->size - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->size - w->len) {
		w->err = -ENOSPC;
		return;
	}
	w->len += (size_t)n;
}

/* Writes "NAME: value" after checking value. */
static void put_header(struct writer *w, const char *name, const char *value)
{
	if (!value || !ssdp_value_valid(value)) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	put(w, "%s: %s\r\n", name, value);
}

static void put_extra(struct writer *w, const struct ssdp_advert *a)
{
	for (size_t i = 0; i < a->n_extra; i++) {
		if (a->extra[i] && extra_line_name(a->extra[i]) > 0)
			put(w, "%s\r\n", a->extra[i]);
	}
}

static ssize_t finish(struct writer *w)
{
	put(w, "\r\n");
	if (w->err)
		return w->err;
	if (w->len > SSDP_MSG_MAX)
		return -ENOSPC;
	return (ssize_t)w->len;
}

static struct writer writer_init(char *out, size_t size)
{
	struct writer w = { .out = out, .size = size };

	if (size == 0)
		w.err = -ENOSPC;
	return w;
}

ssize_t ssdp_build_msearch(char *out, size_t size, const char *st, unsigned mx,
			   const char *user_agent)
{
	struct writer w = writer_init(out, size);

	if (mx < 1)
		mx = 1;
	if (mx > SSDP_MX_MAX)
		mx = SSDP_MX_MAX;
	put(&w, "M-SEARCH * HTTP/1.1\r\n");
	put(&w, "HOST: %s:%d\r\n", SSDP_MULTICAST_ADDR, SSDP_PORT);
	put(&w, "MAN: \"ssdp:discover\"\r\n");
	put(&w, "MX: %u\r\n", mx);
	put_header(&w, "ST", st);
	put_header(&w, "USER-AGENT", user_agent);
	return finish(&w);
}

ssize_t ssdp_build_response(char *out, size_t size, const struct ssdp_advert *a)
{
	struct writer w = writer_init(out, size);

	put(&w, "HTTP/1.1 200 OK\r\n");
	put(&w, "CACHE-CONTROL: max-age=%u\r\n", a->max_age_s > 0 ? a->max_age_s : 1);
	put(&w, "EXT:\r\n");
	put_header(&w, "LOCATION", a->location);
	put_header(&w, "SERVER", a->server);
	put_header(&w, "ST", a->target);
	put_header(&w, "USN", a->usn);
	put_extra(&w, a);
	return finish(&w);
}

ssize_t ssdp_build_notify(char *out, size_t size, const struct ssdp_advert *a, bool alive)
{
	struct writer w = writer_init(out, size);

	put(&w, "NOTIFY * HTTP/1.1\r\n");
	put(&w, "HOST: %s:%d\r\n", SSDP_MULTICAST_ADDR, SSDP_PORT);
	if (alive) {
		put(&w, "CACHE-CONTROL: max-age=%u\r\n", a->max_age_s > 0 ? a->max_age_s : 1);
		put_header(&w, "LOCATION", a->location);
	}
	put_header(&w, "NT", a->target);
	put(&w, "NTS: %s\r\n", alive ? "ssdp:alive" : "ssdp:byebye");
	if (alive)
		put_header(&w, "SERVER", a->server);
	put_header(&w, "USN", a->usn);
	if (alive)
		put_extra(&w, a);
	return finish(&w);
}
