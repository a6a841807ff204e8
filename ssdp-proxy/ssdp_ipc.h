/*
 * LocalMessage (proto/local.proto) over ZeroMQ ipc:// sockets: a DEALER
 * carries one frame per message, a ROUTER the peer's routing id and then
 * the message. An empty delimiter frame before the message is skipped.
 */
#ifndef SSDP_IPC_H
#define SSDP_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "local.pb-c.h"

/* Largest LocalMessage accepted or sent, in bytes. */
#define SSDP_IPC_MAX_MESSAGE (1024 * 1024)
#define SSDP_IPC_MAX_ROUTING_ID 256

/* Sets linger 0, the message size limit and the queue limits. */
void ssdp_ipc_setup(void *sock);

/* Binds sock to an ipc:// address, creating the socket file's directory
 * (mode 0750) when missing, and sets the file's mode to 0660: the owner and
 * group are the access control. Returns 0, or -1 with err set. */
int ssdp_ipc_bind(void *sock, const char *address, char *err, size_t err_size);

/* Packs and sends m without blocking, after routing_id when it is not NULL.
 * Returns 0 or -errno (-EAGAIN when no peer takes it, -EHOSTUNREACH when a
 * ROUTER with ZMQ_ROUTER_MANDATORY has no peer with routing_id). */
int ssdp_ipc_send(void *sock, const uint8_t *routing_id, size_t routing_id_len,
		  const Ntm__LocalMessage *m);

/*
 * Receives one message without blocking. A ROUTER passes routing_id (size
 * SSDP_IPC_MAX_ROUTING_ID) to get the sender's id. Returns the message
 * (free with ntm__local_message__free_unpacked), or NULL with *error set
 * to -EAGAIN when none is waiting or -EBADMSG when it was malformed or of
 * another protocol major version.
 */
Ntm__LocalMessage *ssdp_ipc_recv(void *sock, uint8_t *routing_id, size_t *routing_id_len,
				 int *error);

/* Name of the message's body for logs. */
const char *ssdp_ipc_body_str(const Ntm__LocalMessage *m);

#endif
