/* IPv4/IPv6 endpoints and prefixes: parsing, formatting and conversion. */
#ifndef NTM_ADDR_H
#define NTM_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text ntm_endpoint_str writes: "[" IPv6 "]:" port NUL. */
#define NTM_ENDPOINT_STRLEN (INET6_ADDRSTRLEN + 8)

/* An IP address in network byte order; len is 4 or 16, 0 when unset. */
struct ntm_ip {
	uint8_t len;
	uint8_t bytes[16];
};

struct ntm_endpoint {
	struct ntm_ip ip;
	uint16_t port;
};

struct ntm_prefix {
	struct ntm_ip ip;   /* network address, host bits zero */
	uint8_t len;        /* prefix length in bits */
};

/* Returns 0, or -EINVAL when raw is not 4 or 16 bytes long. */
int ntm_ip_from_bytes(struct ntm_ip *ip, const uint8_t *raw, size_t len);
bool ntm_ip_equal(const struct ntm_ip *a, const struct ntm_ip *b);
/* Parses "192.0.2.1" or "2001:db8::1". Returns 0 or -EINVAL. */
int ntm_ip_parse(struct ntm_ip *ip, const char *text);
/* Writes the address as text into out (at least INET6_ADDRSTRLEN bytes). */
const char *ntm_ip_str(const struct ntm_ip *ip, char *out, size_t out_size);

/* Parses "192.0.2.1:4000", "[2001:db8::1]:4000", or without the port when
 * default_port is nonzero. Returns 0 or -EINVAL. */
int ntm_endpoint_parse(struct ntm_endpoint *ep, const char *text, uint16_t default_port);
const char *ntm_endpoint_str(const struct ntm_endpoint *ep, char *out, size_t out_size);
bool ntm_endpoint_equal(const struct ntm_endpoint *a, const struct ntm_endpoint *b);
/* Converts to and from struct sockaddr_storage. from_sockaddr returns
 * -EAFNOSUPPORT for families other than AF_INET and AF_INET6; an IPv4-mapped
 * IPv6 address comes out as IPv4. */
socklen_t ntm_endpoint_to_sockaddr(const struct ntm_endpoint *ep, struct sockaddr_storage *ss);
int ntm_endpoint_from_sockaddr(struct ntm_endpoint *ep, const struct sockaddr *sa, socklen_t len);

/* Parses "198.51.100.0/24"; rejects host bits set. Returns 0 or -EINVAL. */
int ntm_prefix_parse(struct ntm_prefix *p, const char *text);
const char *ntm_prefix_str(const struct ntm_prefix *p, char *out, size_t out_size);
bool ntm_prefix_contains(const struct ntm_prefix *p, const struct ntm_ip *ip);
/* Number of addresses in the prefix, saturated at UINT64_MAX. */
uint64_t ntm_prefix_size(const struct ntm_prefix *p);
/* Sets ip to the index-th address of the prefix (0 is the network address).
 * Returns 0 or -ERANGE. */
int ntm_prefix_nth(const struct ntm_prefix *p, uint64_t index, struct ntm_ip *ip);

#endif
