/*
 * SSDP messages as UPnP Device Architecture 2.0, section 1 defines them:
 * parsing of M-SEARCH requests, NOTIFY announcements and HTTP/1.1 200 OK
 * search responses, each one whole UDP datagram, and building of the same.
 * Also the search target (ST) matching rules of section 1.3.2.
 */
#ifndef SSDP_MSG_H
#define SSDP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ntm_addr.h"

#define SSDP_MULTICAST_ADDR "239.255.255.250"
#define SSDP_PORT 1900
/* Longest datagram parsed or built, in bytes. Real SSDP messages are a few
 * hundred bytes. */
#define SSDP_MSG_MAX 8192
/* Longest line, line ending excluded, in bytes. */
#define SSDP_LINE_MAX 1024
#define SSDP_MAX_HEADERS 32
/* UDA 2.0, section 1.3.2: a device treats an MX above 5 as 5. */
#define SSDP_MX_MAX 5
/* Largest CACHE-CONTROL max-age accepted, in seconds (2^31 - 1). */
#define SSDP_MAX_AGE_LIMIT 2147483647u

enum ssdp_kind {
	SSDP_KIND_MSEARCH = 1,
	SSDP_KIND_NOTIFY,
	SSDP_KIND_RESPONSE,   /* HTTP/1.x 200 to an M-SEARCH */
};

enum ssdp_status {
	SSDP_OK = 0,
	SSDP_ERR_TOO_LONG,          /* datagram longer than SSDP_MSG_MAX */
	SSDP_ERR_LINE_TOO_LONG,     /* a line longer than SSDP_LINE_MAX */
	SSDP_ERR_CONTROL_BYTE,      /* NUL, DEL or a control byte other than tab and CRLF */
	SSDP_ERR_TRUNCATED,         /* the last line has no line ending */
	SSDP_ERR_START_LINE,        /* not M-SEARCH, NOTIFY or an HTTP 200 response */
	SSDP_ERR_HEADER,            /* a line that is not "name: value" */
	SSDP_ERR_TOO_MANY_HEADERS,  /* more than SSDP_MAX_HEADERS */
	SSDP_ERR_DUPLICATE,         /* a header the accessors read appears twice */
};

/* Values of the NTS header of a NOTIFY. */
enum ssdp_nts {
	SSDP_NTS_NONE = 0,    /* missing or another value */
	SSDP_NTS_ALIVE,
	SSDP_NTS_BYEBYE,
	SSDP_NTS_UPDATE,
};

struct ssdp_header {
	const char *name;    /* as sent, compared case-insensitively */
	const char *value;   /* without leading and trailing spaces and tabs */
};

/* A parsed message. Names and values point into text, a copy of the
 * datagram, so the message needs no allocation and the caller's buffer may
 * be reused at once. */
struct ssdp_msg {
	enum ssdp_kind kind;
	struct ssdp_header headers[SSDP_MAX_HEADERS];
	size_t n_headers;
	char text[SSDP_MSG_MAX + 1];
};

/*
 * Parses one datagram of len bytes. Lines end in CRLF or in a bare LF.
 * The header block ends at an empty line, or at the end of the datagram
 * right after a complete line; bytes after the empty line are ignored,
 * because SSDP messages have no body. Header names are HTTP tokens and may
 * be followed by spaces or tabs before the colon. Obsolete line folding is
 * rejected. Returns SSDP_OK or the first error found.
 */
enum ssdp_status ssdp_msg_parse(struct ssdp_msg *m, const void *buf, size_t len);
const char *ssdp_status_str(enum ssdp_status st);

/* Value of the first header called name (case-insensitive), or NULL. */
const char *ssdp_msg_header(const struct ssdp_msg *m, const char *name);
const char *ssdp_msg_st(const struct ssdp_msg *m);
const char *ssdp_msg_usn(const struct ssdp_msg *m);
const char *ssdp_msg_nt(const struct ssdp_msg *m);
const char *ssdp_msg_location(const struct ssdp_msg *m);
const char *ssdp_msg_server(const struct ssdp_msg *m);
enum ssdp_nts ssdp_msg_nts(const struct ssdp_msg *m);

/* True when MAN is exactly "ssdp:discover" with its double quotes, as an
 * M-SEARCH must carry it (UDA 2.0, section 1.3.2). */
bool ssdp_msg_man_discover(const struct ssdp_msg *m);

/* MX in seconds: 1 to 5, a larger value read as 5. Returns -EINVAL when
 * missing, zero or not a decimal number. */
int ssdp_msg_mx(const struct ssdp_msg *m);

/* The max-age directive of CACHE-CONTROL in seconds, 1 to
 * SSDP_MAX_AGE_LIMIT. Other directives are skipped. Returns 0, or -EINVAL
 * when there is none or it is not a number in that range. */
int ssdp_msg_max_age(const struct ssdp_msg *m, uint32_t *seconds);

/* Copies the UDN part of a USN ("uuid:X" of "uuid:X::urn:...") into out.
 * Returns 0, -EINVAL when usn does not start with "uuid:" followed by at
 * least one character, or -ENOSPC when out is too small. */
int ssdp_usn_udn(const char *usn, char *out, size_t out_size);

/*
 * True when a device or service advertised as target answers a search for
 * search_target (UDA 2.0, section 1.3.2): "ssdp:all" matches everything;
 * "upnp:rootdevice" and "uuid:..." match the same string; a device or
 * service type "urn:DOMAIN:device:TYPE:VER" also matches the same type with
 * a higher version, because versions are backward compatible.
 */
bool ssdp_st_matches(const char *search_target, const char *target);

/* Reads the address and port of an "http://IP[:PORT]/..." URL (IPv6 in
 * brackets; the port defaults to 80). Returns 0, or -EINVAL for another
 * scheme, a host name or a malformed URL. */
int ssdp_location_endpoint(const char *location, struct ntm_endpoint *ep);

/* True when value can go into a header: at most SSDP_LINE_MAX bytes
 * without control bytes other than tab. */
bool ssdp_value_valid(const char *value);

/* A device or service advertisement, as the builders write it. */
struct ssdp_advert {
	const char *usn;
	const char *target;          /* ST of a response, NT of a NOTIFY */
	const char *location;        /* not used by ssdp:byebye */
	const char *server;          /* not used by ssdp:byebye */
	uint32_t max_age_s;          /* not used by ssdp:byebye */
	const char *const *extra;    /* further "Name: value" lines */
	size_t n_extra;
};

/*
 * Writes an M-SEARCH for st with MX mx (clamped to 1..5) to the multicast
 * address: HOST, MAN "ssdp:discover", MX, ST and USER-AGENT. Returns the
 * length, -EINVAL for a value that cannot go into a header, or -ENOSPC.
 */
ssize_t ssdp_build_msearch(char *out, size_t size, const char *st, unsigned mx,
			   const char *user_agent);

/*
 * Writes a 200 OK search response: CACHE-CONTROL max-age, EXT, LOCATION,
 * SERVER, ST, USN, then the extra lines. An extra line that is not
 * "Name: value" or names a header the builder writes itself is left out.
 * Returns the length, -EINVAL for a value that cannot go into a header, or
 * -ENOSPC.
 */
ssize_t ssdp_build_response(char *out, size_t size, const struct ssdp_advert *a);

/*
 * Writes a NOTIFY to the multicast address: ssdp:alive with HOST,
 * CACHE-CONTROL, LOCATION, NT, NTS, SERVER, USN and the extra lines, or
 * ssdp:byebye with HOST, NT, NTS and USN only. Returns as
 * ssdp_build_response.
 */
ssize_t ssdp_build_notify(char *out, size_t size, const struct ssdp_advert *a, bool alive);

#endif
