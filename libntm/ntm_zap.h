/*
 * ZeroMQ authentication (ZAP, ZeroMQ RFC 27) for CURVE sockets, served from
 * a daemon's event loop: the daemon binds a REP socket at
 * inproc://zeromq.zap.01 and calls ntm_zap_serve when it is readable.
 */
#ifndef NTM_ZAP_H
#define NTM_ZAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns the name to admit a CURVE client key under (it becomes the
 * messages' "User-Id"), or NULL to reject it. */
typedef const char *(*ntm_zap_lookup_cb)(const uint8_t *key, size_t len, void *arg);

/*
 * Reads one ZAP request from sock, answers it (200 with the name, or 400),
 * and returns true when the client was admitted. addr (size addr_size) gets
 * the client's address, sanitised, for the caller's log line.
 */
bool ntm_zap_serve(void *sock, ntm_zap_lookup_cb lookup, void *arg, char *addr,
		   size_t addr_size);

#endif
