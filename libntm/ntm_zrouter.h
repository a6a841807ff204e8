/*
 * Reading a ZeroMQ ROUTER socket: every message is a routing id frame and
 * one payload frame.
 */
#ifndef NTM_ZROUTER_H
#define NTM_ZROUTER_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

/*
 * Reads one [routing id, payload] message without blocking. Returns 0 with
 * the id in id (at most id_max bytes, length in *id_len) and the payload in
 * msg, which the caller closes. Returns -EAGAIN when nothing is waiting and
 * -EBADMSG for an id longer than id_max or a message without a payload.
 * Frames after the payload are read and dropped, so the next call starts at
 * the next message.
 */
int ntm_zrouter_recv(void *sock, uint8_t *id, size_t id_max, size_t *id_len, zmq_msg_t *msg);

#endif
