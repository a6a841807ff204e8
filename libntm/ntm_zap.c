/* ZAP (ZeroMQ RFC 27) request handling for CURVE sockets. */
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "ntm_log.h"
#include "ntm_zap.h"

/* A CURVE request has 7 frames: version, request id, domain, address,
 * identity, mechanism, and the client's public key. */
#define ZAP_FRAMES 7

static void zap_send(void *sock, const void *data, size_t len, bool more)
{
	zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0);
}

static void zap_reply(void *sock, zmq_msg_t *request_id, const char *name)
{
	zap_send(sock, "1.0", 3, true);
	zap_send(sock, zmq_msg_data(request_id), zmq_msg_size(request_id), true);
	zap_send(sock, name ? "200" : "400", 3, true);
	zap_send(sock, name ? "OK" : "key not configured", name ? 2 : 18, true);
	zap_send(sock, name ? name : "", name ? strlen(name) : 0, true);
	zap_send(sock, "", 0, false);
}

bool ntm_zap_serve(void *sock, ntm_zap_lookup_cb lookup, void *arg, char *addr,
		   size_t addr_size)
{
	zmq_msg_t frames[ZAP_FRAMES];
	int n = 0, more = 1;
	size_t more_len = sizeof(more);
	const char *name = NULL;

	snprintf(addr, addr_size, "?");
	while (more && n < ZAP_FRAMES) {
		zmq_msg_init(&frames[n]);
		if (zmq_msg_recv(&frames[n], sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&frames[n]);
			break;
		}
		n++;
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
	}
	if (n == ZAP_FRAMES)
		name = lookup(zmq_msg_data(&frames[6]), zmq_msg_size(&frames[6]), arg);
	if (n >= 4)
		ntm_log_sanitize(addr, addr_size, zmq_msg_data(&frames[3]), zmq_msg_size(&frames[3]));
	/* A REP socket must send a reply before it can receive the next request. */
	if (n >= 2)
		zap_reply(sock, &frames[1], name);
	for (int i = 0; i < n; i++)
		zmq_msg_close(&frames[i]);
	return name != NULL;
}
