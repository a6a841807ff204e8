/*
 * Control message layer: packs and unpacks the protobuf Envelope and checks
 * every field against the bounds documented in proto/control.proto, so that
 * code past ntm_msg_unpack can trust lengths and ranges.
 */
#ifndef NTM_MSG_H
#define NTM_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control.pb-c.h"
#include "ntm_addr.h"
#include "ntm_codec.h"
#include "ntm_key.h"

/* protocol_version of this build; the major number is version / 100. */
#define NTM_PROTOCOL_VERSION 1
#define NTM_PROTOCOL_MAJOR(v) ((v) / 100)

#define NTM_FQDN_MAX 253
#define NTM_MAX_LOCAL_ENDPOINTS 16
#define NTM_MAX_POOL_VIPS 256
#define NTM_SOFTWARE_MAX 64
#define NTM_ERROR_MESSAGE_MAX 256
#define NTM_SEARCH_TARGET_MAX 256
#define NTM_SSDP_HEADER_MAX 1024
#define NTM_MAX_SSDP_ANSWERS 32
#define NTM_MAX_SSDP_EXTRA_HEADERS 16
/* Longest GENA callback route, in seconds: the longest subscription the
 * DLNA Agent keeps (one day) and a minute of grace. */
#define NTM_GENA_LIFETIME_MAX 86460

enum ntm_msg_status {
	NTM_MSG_OK = 0,
	NTM_MSG_MALFORMED,      /* not a protobuf Envelope */
	NTM_MSG_BAD_VERSION,    /* another protocol major version */
	NTM_MSG_NO_BODY,        /* no body set, or one this build does not know */
	NTM_MSG_INVALID,        /* a field is out of its documented range */
};

const char *ntm_msg_status_str(enum ntm_msg_status st);

/* Name of a route case for logs and the admin API: "direct",
 * "nat_side_opens", "same_nat", "two_nats" or "unspecified". */
const char *ntm_msg_route_case_str(Ntm__RouteCase route);

/* Largest packed Envelope ntm_msg_unpack accepts, in bytes. A control packet
 * carries at most NTM_CTL_MAX_PLAINTEXT, but an MSearchResponse may travel
 * through a tunnel in data packets, whose inner packet can reach 64 KiB. */
#define NTM_MSG_MAX_LEN (64 * 1024)

/*
 * Unpacks and validates an Envelope of at most NTM_MSG_MAX_LEN bytes (longer
 * input is NTM_MSG_INVALID). Returns NULL on failure with *st set and why
 * (size why_size) naming the field and the bound it broke. Free the result
 * with ntm_msg_free.
 */
Ntm__Envelope *ntm_msg_unpack(const uint8_t *buf, size_t len, enum ntm_msg_status *st,
			      char *why, size_t why_size);
void ntm_msg_free(Ntm__Envelope *env);

/* Checks an unpacked Envelope as ntm_msg_unpack does. Enum fields must hold
 * one of their named values other than the *_UNSPECIFIED zero. */
enum ntm_msg_status ntm_msg_validate(const Ntm__Envelope *env, char *why, size_t why_size);

/*
 * Returns true when name is a lower-case FQDN as the control messages carry
 * it. That is 1 to 253 bytes of dot-separated labels without a trailing dot.
 * Each label has 1 to 63 characters of a-z, 0-9 and '-' and neither starts
 * nor ends with '-'. The last label is not all digits, so that a name never
 * reads as an IPv4 address (RFC 3696, section 2).
 */
bool ntm_msg_fqdn_valid(const char *name);

/* Packs env into out. Returns the length or -ENOSPC. */
ssize_t ntm_msg_pack(const Ntm__Envelope *env, uint8_t *out, size_t out_size);

/* Packs env and seals it into a control packet. Returns the packet length or
 * -ENOSPC. */
ssize_t ntm_msg_seal(uint8_t *out, size_t out_size, const struct ntm_keypair *self,
		     const struct ntm_ctl_keys *keys, uint64_t counter, const Ntm__Envelope *env);

/* Endpoint conversions. ntm_msg_endpoint_set makes m point into ep's bytes:
 * ep must outlive m. */
int ntm_msg_endpoint_get(struct ntm_endpoint *ep, const Ntm__Endpoint *m);
void ntm_msg_endpoint_set(Ntm__Endpoint *m, struct ntm_endpoint *ep);
int ntm_msg_ip_get(struct ntm_ip *ip, ProtobufCBinaryData raw);
ProtobufCBinaryData ntm_msg_ip_bytes(struct ntm_ip *ip);

#endif
