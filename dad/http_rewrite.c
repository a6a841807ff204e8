/*
 * URL host translation in HTTP text. The scan looks for a scheme, its "://"
 * in one of the encodings, and a dotted-quad host, and replaces only the
 * host's bytes. Everything else is copied as it is, so XML never gets
 * re-serialised and lengths change only by the difference between the two
 * addresses' text forms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_rewrite.h"

/* First allocation of a buffer; it then doubles up to its maximum. */
#define BUF_FIRST_CAP 4096

void http_rewrite_buf_init(struct http_rewrite_buf *buf, size_t max)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	buf->max = max;
}

static int buf_reserve(struct http_rewrite_buf *buf, size_t need)
{
	size_t cap = buf->cap ? buf->cap : BUF_FIRST_CAP;
	char *data;

	if (need <= buf->cap)
		return 0;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > buf->max)
		cap = buf->max;
	data = realloc(buf->data, cap);
	if (!data)
		return -ENOMEM;
	buf->data = data;
	buf->cap = cap;
	return 0;
}

int http_rewrite_buf_append(struct http_rewrite_buf *buf, const void *data, size_t len)
{
	int ret;

	if (len == 0)
		return 0;
	if (len > buf->max - buf->len)
		return -ENOBUFS;
	ret = buf_reserve(buf, buf->len + len);
	if (ret < 0)
		return ret;
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	return 0;
}

int http_rewrite_buf_puts(struct http_rewrite_buf *buf, const char *text)
{
	return http_rewrite_buf_append(buf, text, strlen(text));
}

void http_rewrite_buf_clear(struct http_rewrite_buf *buf)
{
	buf->len = 0;
}

void http_rewrite_buf_free(struct http_rewrite_buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
}

bool http_rewrite_lookup(const struct http_rewrite_map *map, enum http_rewrite_dir dir,
			 const struct in_addr *addr, struct in_addr *out)
{
	for (size_t i = 0; i < map->count; i++) {
		const struct http_rewrite_pair *pair = &map->pairs[i];
		const struct in_addr *from = dir == HTTP_REWRITE_TO_VIP ? &pair->real : &pair->vip;

		if (from->s_addr == addr->s_addr) {
			*out = dir == HTTP_REWRITE_TO_VIP ? pair->vip : pair->real;
			return true;
		}
	}
	return false;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

size_t http_rewrite_parse_ipv4(const char *text, size_t len, struct in_addr *addr)
{
	uint32_t value = 0;
	size_t pos = 0;

	for (int octet = 0; octet < 4; octet++) {
		size_t start;
		unsigned n = 0;

		if (octet > 0) {
			if (pos >= len || text[pos] != '.')
				return 0;
			pos++;
		}
		start = pos;
		while (pos < len && pos - start < 3 && is_digit(text[pos]))
			n = n * 10 + (unsigned)(text[pos++] - '0');
		/* "010" is octal to some resolvers, so only canonical octets match. */
		if (pos == start || n > 255 || (text[start] == '0' && pos - start > 1))
			return 0;
		value = value << 8 | n;
	}
	addr->s_addr = htonl(value);
	return pos;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Matches "%XX" at pos with XX the byte value in hex, either case. */
static bool match_percent(const char *text, size_t len, size_t pos, unsigned char value)
{
	return len - pos >= 3 && text[pos] == '%' && hex_value(text[pos + 1]) == value >> 4 &&
	       hex_value(text[pos + 2]) == (value & 0xf);
}

/* Matches c at *pos raw, percent-encoded ("%3A") or percent-encoded twice
 * ("%253A", the '%' itself encoded as "%25"), and moves *pos past it. */
static bool match_char(const char *text, size_t len, size_t *pos, char c)
{
	size_t at = *pos;

	if (at < len && text[at] == c) {
		*pos = at + 1;
		return true;
	}
	if (at < len && match_percent(text, len, at, (unsigned char)c)) {
		*pos = at + 3;
		return true;
	}
	if (at < len && match_percent(text, len, at, '%') &&
	    len - at >= 5 && hex_value(text[at + 3]) == (unsigned char)c >> 4 &&
	    hex_value(text[at + 4]) == (c & 0xf)) {
		*pos = at + 5;
		return true;
	}
	return false;
}

static bool match_scheme(const char *text, size_t len, size_t *pos)
{
	static const char http[] = "http";
	size_t at = *pos;

	if (len - at < sizeof(http) - 1)
		return false;
	for (size_t i = 0; i < sizeof(http) - 1; i++) {
		if ((text[at + i] | 0x20) != http[i])
			return false;
	}
	at += sizeof(http) - 1;
	if (at < len && (text[at] | 0x20) == 's')
		at++;
	*pos = at;
	return true;
}

/* A byte that would make the dotted quad before it part of a longer name,
 * a longer address, or user information ("http://192.0.2.5@host/"). */
static bool continues_host(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
	       c == '-' || c == '_' || c == '@';
}

/*
 * Matches an absolute http(s) URL with a dotted-quad host at pos. Sets
 * *host_at and *host_end to the host's bytes and *addr to its address.
 */
static bool match_url_host(const char *text, size_t len, size_t pos, size_t *host_at,
			   size_t *host_end, struct in_addr *addr)
{
	size_t n;

	if (!match_scheme(text, len, &pos) || !match_char(text, len, &pos, ':') ||
	    !match_char(text, len, &pos, '/') || !match_char(text, len, &pos, '/'))
		return false;
	n = http_rewrite_parse_ipv4(text + pos, len - pos, addr);
	if (n == 0 || (pos + n < len && continues_host(text[pos + n])))
		return false;
	*host_at = pos;
	*host_end = pos + n;
	return true;
}

static int append_addr(struct http_rewrite_buf *out, const struct in_addr *addr)
{
	char text[INET_ADDRSTRLEN];

	if (!inet_ntop(AF_INET, addr, text, sizeof(text)))
		return -errno;
	return http_rewrite_buf_puts(out, text);
}

ssize_t http_rewrite_urls(struct http_rewrite_buf *out, const char *text, size_t len,
			  const struct http_rewrite_map *map, enum http_rewrite_dir dir)
{
	size_t copied = 0;
	ssize_t count = 0;
	int ret;

	for (size_t pos = 0; pos < len; pos++) {
		size_t host_at, host_end;
		struct in_addr addr, to;

		/* Only 'h' and 'H' become 'h' when bit 5 is set. */
		if ((text[pos] | 0x20) != 'h')
			continue;
		if (!match_url_host(text, len, pos, &host_at, &host_end, &addr))
			continue;
		pos = host_end - 1;
		if (!http_rewrite_lookup(map, dir, &addr, &to))
			continue;

		ret = http_rewrite_buf_append(out, text + copied, host_at - copied);
		if (ret == 0)
			ret = append_addr(out, &to);
		if (ret < 0)
			return ret;
		copied = host_end;
		count++;
	}
	ret = http_rewrite_buf_append(out, text + copied, len - copied);
	return ret < 0 ? ret : count;
}

/* A port after the host: ':' and 1 to 5 digits, up to the end of the value. */
static bool is_port_suffix(const char *text, size_t len)
{
	if (len < 2 || len > 6 || text[0] != ':')
		return false;
	for (size_t i = 1; i < len; i++) {
		if (!is_digit(text[i]))
			return false;
	}
	return true;
}

int http_rewrite_host(struct http_rewrite_buf *out, const char *value, size_t len,
		      const struct http_rewrite_map *map, enum http_rewrite_dir dir)
{
	struct in_addr addr, to;
	size_t n = http_rewrite_parse_ipv4(value, len, &addr);
	int ret;

	if (n == 0 || (n < len && !is_port_suffix(value + n, len - n)) ||
	    !http_rewrite_lookup(map, dir, &addr, &to))
		return http_rewrite_buf_append(out, value, len);

	ret = append_addr(out, &to);
	if (ret == 0)
		ret = http_rewrite_buf_append(out, value + n, len - n);
	return ret < 0 ? ret : 1;
}
