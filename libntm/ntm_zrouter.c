#include <errno.h>
#include <stdbool.h>

#include "ntm_zrouter.h"

static bool more_frames(void *sock)
{
	int more = 0;
	size_t more_len = sizeof(more);

	return zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len) == 0 && more;
}

static void discard_rest(void *sock)
{
	zmq_msg_t rest;

	zmq_msg_init(&rest);
	while (more_frames(sock) && zmq_msg_recv(&rest, sock, ZMQ_DONTWAIT) >= 0)
		;
	zmq_msg_close(&rest);
}

int ntm_zrouter_recv(void *sock, uint8_t *id, size_t id_max, size_t *id_len, zmq_msg_t *msg)
{
	int n = zmq_recv(sock, id, id_max, ZMQ_DONTWAIT);

	if (n < 0)
		return -EAGAIN;
	if ((size_t)n > id_max || !more_frames(sock)) {
		discard_rest(sock);
		return -EBADMSG;
	}
	*id_len = (size_t)n;
	zmq_msg_init(msg);
	if (zmq_msg_recv(msg, sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(msg);
		discard_rest(sock);
		return -EBADMSG;
	}
	discard_rest(sock);
	return 0;
}
