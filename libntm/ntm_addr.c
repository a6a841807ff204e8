/* IPv4/IPv6 addresses, endpoints and prefixes: strict text parsing and formatting. */
#include "ntm_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Maximum digits of a decimal port ("65535") and a prefix length ("128"). */
#define PORT_DIGITS_MAX 5
#define PREFIX_DIGITS_MAX 3
/* Maximum size of a prefix text with its NUL: address, "/", length. */
#define PREFIX_STRLEN (INET6_ADDRSTRLEN + 1 + PREFIX_DIGITS_MAX)

static int ip_family(const struct ntm_ip *ip)
{
	if (ip->len == 4)
		return AF_INET;
	if (ip->len == 16)
		return AF_INET6;
	return AF_UNSPEC;
}

/*
 * Converts the decimal number in text[0..len) to *out. Only digits are
 * accepted: no sign, no white space, no trailing bytes, at most max_digits.
 */
static int decimal_parse(const char *text, size_t len, size_t max_digits, unsigned long max,
			 unsigned long *out)
{
	char digits[8];
	char *end = NULL;
	unsigned long value;

	if (len == 0 || len > max_digits || len >= sizeof(digits))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -EINVAL;
	}
	memcpy(digits, text, len);
	digits[len] = '\0';

	errno = 0;
	value = strtoul(digits, &end, 10);
	if (errno != 0 || *end != '\0' || value > max)
		return -EINVAL;
	*out = value;
	return 0;
}

/* Parses an address of exactly len bytes of text (no NUL needed). */
static int ip_parse_n(struct ntm_ip *ip, const char *text, size_t len)
{
	char buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';

	memset(ip, 0, sizeof(*ip));
	if (memchr(buf, ':', len) != NULL) {
		if (inet_pton(AF_INET6, buf, ip->bytes) != 1)
			return -EINVAL;
		ip->len = 16;
	} else {
		/* glibc's inet_pton takes only the four-part dotted decimal form,
		 * without the octal or hex of inet_aton. */
		if (inet_pton(AF_INET, buf, ip->bytes) != 1)
			return -EINVAL;
		ip->len = 4;
	}
	return 0;
}

int ntm_ip_from_bytes(struct ntm_ip *ip, const uint8_t *raw, size_t len)
{
	if ((len != 4 && len != 16) || raw == NULL)
		return -EINVAL;
	memset(ip, 0, sizeof(*ip));
	memcpy(ip->bytes, raw, len);
	ip->len = (uint8_t)len;
	return 0;
}

bool ntm_ip_equal(const struct ntm_ip *a, const struct ntm_ip *b)
{
	if (a->len != b->len || a->len > sizeof(a->bytes))
		return false;
	return memcmp(a->bytes, b->bytes, a->len) == 0;
}

int ntm_ip_parse(struct ntm_ip *ip, const char *text)
{
	if (text == NULL)
		return -EINVAL;
	return ip_parse_n(ip, text, strnlen(text, INET6_ADDRSTRLEN));
}

/* Writes "unset" for an address of neither 4 nor 16 bytes, and "" when
 * out_size is too small for the text. */
const char *ntm_ip_str(const struct ntm_ip *ip, char *out, size_t out_size)
{
	int family = ip_family(ip);

	if (out_size == 0)
		return out;
	if (family == AF_UNSPEC) {
		snprintf(out, out_size, "unset");
		return out;
	}
	if (inet_ntop(family, ip->bytes, out, (socklen_t)out_size) == NULL)
		out[0] = '\0';
	return out;
}

/* Splits "[v6]:port", "[v6]", "v4:port", "v4" or a bare "v6" into the
 * address text and the port text (port_len 0 when there is no port). */
static int endpoint_split(const char *text, size_t len, const char **host, size_t *host_len,
			  const char **port, size_t *port_len)
{
	const char *colon;

	*port = NULL;
	*port_len = 0;
	if (len > 0 && text[0] == '[') {
		const char *close = memchr(text, ']', len);

		if (close == NULL)
			return -EINVAL;
		*host = text + 1;
		*host_len = (size_t)(close - text) - 1;
		if (close + 1 == text + len)
			return 0;
		if (close[1] != ':')
			return -EINVAL;
		*port = close + 2;
		*port_len = len - (size_t)(*port - text);
		return *port_len > 0 ? 0 : -EINVAL;
	}

	*host = text;
	*host_len = len;
	colon = memchr(text, ':', len);
	if (colon == NULL || memchr(colon + 1, ':', len - (size_t)(colon + 1 - text)) != NULL)
		return 0; /* no port, or a bare IPv6 address that takes none */
	*host_len = (size_t)(colon - text);
	*port = colon + 1;
	*port_len = len - *host_len - 1;
	return *port_len > 0 ? 0 : -EINVAL;
}

int ntm_endpoint_parse(struct ntm_endpoint *ep, const char *text, uint16_t default_port)
{
	const char *host, *port;
	size_t len, host_len, port_len;
	unsigned long value = default_port;
	struct ntm_ip ip;

	if (text == NULL)
		return -EINVAL;
	len = strnlen(text, NTM_ENDPOINT_STRLEN);
	if (len == NTM_ENDPOINT_STRLEN)
		return -EINVAL;
	if (endpoint_split(text, len, &host, &host_len, &port, &port_len) < 0)
		return -EINVAL;
	if (ip_parse_n(&ip, host, host_len) < 0)
		return -EINVAL;
	/* Brackets are for IPv6 only: "[192.0.2.1]:80" is rejected. */
	if (text[0] == '[' && ip.len != 16)
		return -EINVAL;

	if (port != NULL && decimal_parse(port, port_len, PORT_DIGITS_MAX, 65535, &value) < 0)
		return -EINVAL;
	if (value == 0)
		return -EINVAL;

	ep->ip = ip;
	ep->port = (uint16_t)value;
	return 0;
}

const char *ntm_endpoint_str(const struct ntm_endpoint *ep, char *out, size_t out_size)
{
	char ip[INET6_ADDRSTRLEN];

	ntm_ip_str(&ep->ip, ip, sizeof(ip));
	if (ep->ip.len == 16)
		snprintf(out, out_size, "[%s]:%u", ip, (unsigned)ep->port);
	else
		snprintf(out, out_size, "%s:%u", ip, (unsigned)ep->port);
	return out;
}

bool ntm_endpoint_equal(const struct ntm_endpoint *a, const struct ntm_endpoint *b)
{
	return a->port == b->port && ntm_ip_equal(&a->ip, &b->ip);
}

/* Returns 0 when ep's address is unset. */
socklen_t ntm_endpoint_to_sockaddr(const struct ntm_endpoint *ep, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ep->ip.len == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		memcpy(&sin->sin_addr, ep->ip.bytes, 4);
		return sizeof(*sin);
	}
	if (ep->ip.len == 16) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(ep->port);
		memcpy(&sin6->sin6_addr, ep->ip.bytes, 16);
		return sizeof(*sin6);
	}
	return 0;
}

int ntm_endpoint_from_sockaddr(struct ntm_endpoint *ep, const struct sockaddr *sa, socklen_t len)
{
	if (sa == NULL || len < (socklen_t)sizeof(sa_family_t))
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		if (len < (socklen_t)sizeof(*sin))
			return -EINVAL;
		ntm_ip_from_bytes(&ep->ip, (const uint8_t *)&sin->sin_addr, 4);
		ep->port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *raw = sin6->sin6_addr.s6_addr;

		if (len < (socklen_t)sizeof(*sin6))
			return -EINVAL;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			ntm_ip_from_bytes(&ep->ip, raw + 12, 4);
		else
			ntm_ip_from_bytes(&ep->ip, raw, 16);
		ep->port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* True when every bit of ip after the first len bits is zero. */
static bool host_bits_zero(const struct ntm_ip *ip, unsigned len)
{
	for (unsigned bit = len; bit < ip->len * 8u; bit++) {
		if (ip->bytes[bit / 8] & (0x80u >> (bit % 8)))
			return false;
	}
	return true;
}

int ntm_prefix_parse(struct ntm_prefix *p, const char *text)
{
	const char *slash;
	size_t len;
	unsigned long bits;
	struct ntm_ip ip;

	if (text == NULL)
		return -EINVAL;
	len = strnlen(text, PREFIX_STRLEN);
	slash = memchr(text, '/', len);
	if (len == PREFIX_STRLEN || slash == NULL)
		return -EINVAL;
	if (ip_parse_n(&ip, text, (size_t)(slash - text)) < 0)
		return -EINVAL;
	if (decimal_parse(slash + 1, len - (size_t)(slash + 1 - text), PREFIX_DIGITS_MAX,
			  ip.len * 8u, &bits) < 0)
		return -EINVAL;
	if (!host_bits_zero(&ip, (unsigned)bits))
		return -EINVAL;

	p->ip = ip;
	p->len = (uint8_t)bits;
	return 0;
}

const char *ntm_prefix_str(const struct ntm_prefix *p, char *out, size_t out_size)
{
	char ip[INET6_ADDRSTRLEN];

	snprintf(out, out_size, "%s/%u", ntm_ip_str(&p->ip, ip, sizeof(ip)), (unsigned)p->len);
	return out;
}

static bool prefix_valid(const struct ntm_prefix *p)
{
	return (p->ip.len == 4 || p->ip.len == 16) && p->len <= p->ip.len * 8u;
}

bool ntm_prefix_contains(const struct ntm_prefix *p, const struct ntm_ip *ip)
{
	unsigned full = p->len / 8u, rest = p->len % 8u;

	if (!prefix_valid(p) || ip->len != p->ip.len)
		return false;
	if (memcmp(p->ip.bytes, ip->bytes, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((p->ip.bytes[full] ^ ip->bytes[full]) & (0xffu << (8u - rest)) & 0xffu) == 0;
}

uint64_t ntm_prefix_size(const struct ntm_prefix *p)
{
	unsigned host_bits;

	if (!prefix_valid(p))
		return 0;
	host_bits = p->ip.len * 8u - p->len;
	if (host_bits >= 64)
		return UINT64_MAX;
	return UINT64_C(1) << host_bits;
}

/*
 * index goes into the low 64 bits of the address. Those bits hold no network
 * bits when the prefix has 64 or more host bits, and otherwise index is below
 * the prefix size, so OR-ing it in cannot carry into the network part.
 * Returns -EINVAL for a prefix that is not 4 or 16 bytes with a fitting length.
 */
int ntm_prefix_nth(const struct ntm_prefix *p, uint64_t index, struct ntm_ip *ip)
{
	unsigned host_bits;

	if (!prefix_valid(p))
		return -EINVAL;
	host_bits = p->ip.len * 8u - p->len;
	if (host_bits < 64 && index >= (UINT64_C(1) << host_bits))
		return -ERANGE;

	*ip = p->ip;
	for (unsigned i = 0; i < 8 && i < ip->len && index != 0; i++) {
		ip->bytes[ip->len - 1 - i] |= (uint8_t)(index & 0xffu);
		index >>= 8;
	}
	return 0;
}
