/* LocalMessage over ZeroMQ. */
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "ntm_msg.h"
#include "ssdp_ipc.h"

/* Messages queued per peer before sends fail with EAGAIN. */
#define SSDP_IPC_HWM 1000

void ssdp_ipc_setup(void *sock)
{
	int zero = 0, hwm = SSDP_IPC_HWM;
	int64_t max = SSDP_IPC_MAX_MESSAGE;

	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max));
}

static int make_parent_dir(const char *path, char *err, size_t err_size)
{
	char copy[4096];
	struct stat st;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
		snprintf(err, err_size, "ipc path is longer than %zu bytes", sizeof(copy) - 1);
		return -1;
	}
	const char *dir = dirname(copy);

	if (stat(dir, &st) == 0 || mkdir(dir, 0750) == 0 || errno == EEXIST)
		return 0;
	snprintf(err, err_size, "cannot create the directory %s for the ipc socket: %s", dir,
		 strerror(errno));
	return -1;
}

int ssdp_ipc_bind(void *sock, const char *address, char *err, size_t err_size)
{
	const char *path = address + strlen("ipc://");

	if (strncmp(address, "ipc://", 6) != 0) {
		snprintf(err, err_size, "'%s' is not an ipc:// address", address);
		return -1;
	}
	if (make_parent_dir(path, err, err_size) < 0)
		return -1;
	if (zmq_bind(sock, address) < 0) {
		snprintf(err, err_size, "cannot bind the ZeroMQ socket to %s: %s", address,
			 zmq_strerror(errno));
		return -1;
	}
	if (chmod(path, 0660) < 0) {
		snprintf(err, err_size, "cannot set the mode of %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int ssdp_ipc_send(void *sock, const uint8_t *routing_id, size_t routing_id_len,
		  const Ntm__LocalMessage *m)
{
	size_t len = ntm__local_message__get_packed_size(m);
	uint8_t *buf;
	int rc = 0;

	if (len > SSDP_IPC_MAX_MESSAGE)
		return -EMSGSIZE;
	buf = malloc(len > 0 ? len : 1);
	if (!buf)
		return -ENOMEM;
	ntm__local_message__pack(m, buf);
	if (routing_id && zmq_send(sock, routing_id, routing_id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		rc = -errno;
	if (rc == 0 && zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0)
		rc = -errno;
	free(buf);
	return rc;
}

static bool more_frames(void *sock)
{
	int more = 0;
	size_t more_len = sizeof(more);

	return zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len) == 0 && more;
}

static void discard_rest(void *sock)
{
	zmq_msg_t msg;

	zmq_msg_init(&msg);
	while (more_frames(sock) && zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) >= 0)
		;
	zmq_msg_close(&msg);
}

/* Reads the routing id frame of a ROUTER. Returns 0, -EAGAIN or -EBADMSG. */
static int recv_routing_id(void *sock, uint8_t *routing_id, size_t *routing_id_len)
{
	int n = zmq_recv(sock, routing_id, SSDP_IPC_MAX_ROUTING_ID, ZMQ_DONTWAIT);

	if (n < 0)
		return -EAGAIN;
	if (n > SSDP_IPC_MAX_ROUTING_ID || !more_frames(sock)) {
		discard_rest(sock);
		return -EBADMSG;
	}
	*routing_id_len = (size_t)n;
	return 0;
}

static Ntm__LocalMessage *unpack(zmq_msg_t *msg, int *error)
{
	Ntm__LocalMessage *m = ntm__local_message__unpack(NULL, zmq_msg_size(msg), zmq_msg_data(msg));

	if (!m || NTM_PROTOCOL_MAJOR(m->protocol_version) !=
			  NTM_PROTOCOL_MAJOR(NTM_PROTOCOL_VERSION)) {
		if (m)
			ntm__local_message__free_unpacked(m, NULL);
		*error = -EBADMSG;
		return NULL;
	}
	return m;
}

Ntm__LocalMessage *ssdp_ipc_recv(void *sock, uint8_t *routing_id, size_t *routing_id_len,
				 int *error)
{
	Ntm__LocalMessage *m = NULL;
	zmq_msg_t msg;

	*error = routing_id ? recv_routing_id(sock, routing_id, routing_id_len) : 0;
	if (*error < 0)
		return NULL;
	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
		*error = routing_id ? -EBADMSG : -EAGAIN;
		goto out;
	}
	/* An empty delimiter frame, as REQ-style peers send it. */
	if (zmq_msg_size(&msg) == 0 && more_frames(sock) &&
	    zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
		*error = -EBADMSG;
		goto out;
	}
	if (more_frames(sock)) {
		*error = -EBADMSG;
		goto out;
	}
	m = unpack(&msg, error);
out:
	discard_rest(sock);
	zmq_msg_close(&msg);
	return m;
}

const char *ssdp_ipc_body_str(const Ntm__LocalMessage *m)
{
	switch (m->body_case) {
	case NTM__LOCAL_MESSAGE__BODY_TUNNEL_REQUEST:
		return "LocalTunnelRequest";
	case NTM__LOCAL_MESSAGE__BODY_TUNNEL_STATUS:
		return "LocalTunnelStatus";
	case NTM__LOCAL_MESSAGE__BODY_TUNNEL_MESSAGE:
		return "LocalTunnelMessage";
	case NTM__LOCAL_MESSAGE__BODY_VIP_POOL_REQUEST:
		return "LocalVipPoolRequest";
	case NTM__LOCAL_MESSAGE__BODY_VIP_POOL_GRANT:
		return "VipPoolGrant";
	case NTM__LOCAL_MESSAGE__BODY_HELLO:
		return "LocalHello";
	case NTM__LOCAL_MESSAGE__BODY_SSDP_SEARCH:
		return "LocalSsdpSearch";
	case NTM__LOCAL_MESSAGE__BODY_SSDP_ANSWERS:
		return "LocalSsdpAnswers";
	case NTM__LOCAL_MESSAGE__BODY_SSDP_GONE:
		return "LocalSsdpGone";
	case NTM__LOCAL_MESSAGE__BODY_ERROR:
		return "Error";
	default:
		return "no body";
	}
}
