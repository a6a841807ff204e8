/*
 * Address translation inside HTTP text for the DLNA Agent: every URL whose
 * host is a mapped IPv4 address gets the other address of its pair, and
 * every other byte stays as it was. Ports never change, because a VIP maps
 * to its server's real address with the same ports.
 *
 * The functions are pure: they read (text, len) and append to a growable
 * buffer that never grows past its declared maximum.
 */
#ifndef HTTP_REWRITE_H
#define HTTP_REWRITE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Growable byte buffer. len never exceeds max; data is NULL until the first
 * append and is not NUL-terminated. */
struct http_rewrite_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;   /* maximum len in bytes, fixed by the owner */
};

/* One server: its real LAN address and the VIP that players see. */
struct http_rewrite_pair {
	struct in_addr real;
	struct in_addr vip;
};

struct http_rewrite_map {
	const struct http_rewrite_pair *pairs;
	size_t count;
};

enum http_rewrite_dir {
	HTTP_REWRITE_TO_VIP,    /* server to player: real address -> VIP */
	HTTP_REWRITE_TO_REAL,   /* player to server: VIP -> real address */
};

void http_rewrite_buf_init(struct http_rewrite_buf *buf, size_t max);
/* Appends len bytes. Returns 0, -ENOBUFS when len would exceed max (the
 * buffer is then unchanged), or -ENOMEM. */
int http_rewrite_buf_append(struct http_rewrite_buf *buf, const void *data, size_t len);
/* Appends a NUL-terminated string, with the same returns. */
int http_rewrite_buf_puts(struct http_rewrite_buf *buf, const char *text);
/* Empties the buffer and keeps its memory for reuse. */
void http_rewrite_buf_clear(struct http_rewrite_buf *buf);
/* Releases the memory; the buffer is empty and usable again afterwards. */
void http_rewrite_buf_free(struct http_rewrite_buf *buf);

/* Finds the address that addr translates to in direction dir. Returns false
 * when addr is not in the map. */
bool http_rewrite_lookup(const struct http_rewrite_map *map, enum http_rewrite_dir dir,
			 const struct in_addr *addr, struct in_addr *out);

/*
 * Appends text to out with the host of every absolute http or https URL
 * translated when the map has it. A URL matches in any of the forms that
 * UPnP responses carry:
 *   - raw, and XML-escaped any number of times (escaping never touches the
 *     scheme, the "://" or a dotted-quad host, so "&lt;res&gt;http://..."
 *     and "&amp;amp;" around a URL do not matter);
 *   - percent-encoded once or twice, for example "http%3A%2F%2F192.0.2.5%3A80"
 *     or "http%253A%252F%252F...", with hex digits in either case.
 * A host matches only when it is a whole canonical dotted quad, with no
 * leading zeros, followed by a byte that cannot continue a host name, so
 * 192.0.2.5 never matches inside 192.0.2.50 or 192.0.2.5.example.
 * Returns the number of hosts translated, -ENOBUFS when the result would
 * exceed out->max (out then holds a partial result), or -ENOMEM.
 */
ssize_t http_rewrite_urls(struct http_rewrite_buf *out, const char *text, size_t len,
			  const struct http_rewrite_map *map, enum http_rewrite_dir dir);

/*
 * Appends a Host header value ("192.0.2.5" or "192.0.2.5:8200", RFC 9110
 * section 7.2) to out, with the address translated when the map has it and
 * the port kept. Any other value, a name or an IPv6 literal among them, is
 * appended unchanged. Returns 1 when translated, 0 when unchanged, or the
 * errors of http_rewrite_buf_append.
 */
int http_rewrite_host(struct http_rewrite_buf *out, const char *value, size_t len,
		      const struct http_rewrite_map *map, enum http_rewrite_dir dir);

/* Parses a canonical dotted quad at the start of text (at most len bytes).
 * Returns the number of bytes it spans, or 0 when text does not start with
 * one. The next byte is not checked. */
size_t http_rewrite_parse_ipv4(const char *text, size_t len, struct in_addr *addr);

#endif
