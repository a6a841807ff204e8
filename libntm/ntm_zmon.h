/*
 * Connection events of a ZeroMQ socket (zmq_socket_monitor), read in the
 * event loop. A client that connects a DEALER to a daemon's ROUTER watches
 * them to notice a restart of that daemon. The new process has not received
 * the client's LocalHello or earlier requests, so the client sends them
 * again on every new connection.
 */
#ifndef NTM_ZMON_H
#define NTM_ZMON_H

#include "ntm_loop.h"

enum ntm_zmon_event {
	NTM_ZMON_NONE,          /* nothing to read, or an event not watched */
	NTM_ZMON_CONNECTED,     /* ZMTP handshake completed, so the peer receives messages */
	NTM_ZMON_DISCONNECTED,  /* connection lost, and ZeroMQ reconnects by itself */
};

/*
 * Starts monitoring sock's connections on the inproc endpoint address
 * (unique within ctx), and adds the PAIR socket that receives the events to
 * loop with cb and arg. Returns that socket, or NULL with errno set.
 */
void *ntm_zmon_open(struct ntm_loop *loop, void *ctx, void *sock, const char *address,
		    ntm_loop_zsock_cb cb, void *arg);

/* Receives one event from the monitor socket without blocking. */
enum ntm_zmon_event ntm_zmon_read(void *monitor);

/*
 * Stops monitoring sock, then removes *monitor from loop, closes it and
 * sets *monitor to NULL. Call it before closing sock. A NULL sock or
 * *monitor is skipped.
 */
void ntm_zmon_close(struct ntm_loop *loop, void *sock, void **monitor);

#endif
