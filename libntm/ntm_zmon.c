/* Connection events of a ZeroMQ socket through zmq_socket_monitor. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <zmq.h>

#include "ntm_zmon.h"

#define ZMON_EVENTS (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED)

void *ntm_zmon_open(struct ntm_loop *loop, void *ctx, void *sock, const char *address,
		    ntm_loop_zsock_cb cb, void *arg)
{
	void *monitor;
	int zero = 0, rc, saved;

	if (zmq_socket_monitor(sock, address, ZMON_EVENTS) < 0)
		return NULL;
	monitor = zmq_socket(ctx, ZMQ_PAIR);
	if (!monitor)
		goto fail;
	if (zmq_setsockopt(monitor, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
	    zmq_connect(monitor, address) < 0)
		goto fail;
	rc = ntm_loop_add_zsock(loop, monitor, ZMQ_POLLIN, cb, arg);
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	return monitor;

fail:
	saved = errno;
	if (monitor)
		zmq_close(monitor);
	zmq_socket_monitor(sock, NULL, 0);
	errno = saved;
	return NULL;
}

/* An event is two frames: 2 bytes of event number and 4 bytes of value in
 * host byte order, then the endpoint (zmq_socket_monitor(3), libzmq 4.x). */
enum ntm_zmon_event ntm_zmon_read(void *monitor)
{
	zmq_msg_t frame;
	uint16_t event = 0;
	int more = 0;
	size_t more_len = sizeof(more);

	zmq_msg_init(&frame);
	if (zmq_msg_recv(&frame, monitor, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&frame);
		return NTM_ZMON_NONE;
	}
	if (zmq_msg_size(&frame) >= sizeof(event))
		memcpy(&event, zmq_msg_data(&frame), sizeof(event));
	while (zmq_getsockopt(monitor, ZMQ_RCVMORE, &more, &more_len) == 0 && more) {
		if (zmq_msg_recv(&frame, monitor, ZMQ_DONTWAIT) < 0)
			break;
	}
	zmq_msg_close(&frame);

	if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
		return NTM_ZMON_CONNECTED;
	if (event == ZMQ_EVENT_DISCONNECTED)
		return NTM_ZMON_DISCONNECTED;
	return NTM_ZMON_NONE;
}

void ntm_zmon_close(struct ntm_loop *loop, void *sock, void **monitor)
{
	if (sock)
		zmq_socket_monitor(sock, NULL, 0);
	ntm_loop_close_zsock(loop, monitor);
}
