/*
 * Single-threaded event loop over zmq_poll: file descriptors, ZeroMQ sockets,
 * timers and signals (through signalfd). Each daemon runs one; all of its
 * state is touched only from callbacks of this loop.
 */
#ifndef NTM_LOOP_H
#define NTM_LOOP_H

#include <stdint.h>

struct ntm_loop;
struct ntm_timer;

/* revents holds ZMQ_POLLIN / ZMQ_POLLOUT / ZMQ_POLLERR bits. */
typedef void (*ntm_loop_fd_cb)(struct ntm_loop *loop, int fd, short revents, void *arg);
typedef void (*ntm_loop_zsock_cb)(struct ntm_loop *loop, void *zsock, short revents, void *arg);
typedef void (*ntm_loop_timer_cb)(struct ntm_loop *loop, struct ntm_timer *timer, void *arg);
typedef void (*ntm_loop_signal_cb)(struct ntm_loop *loop, int signo, void *arg);
/* Called before every poll; returns the longest wait it allows in
 * milliseconds, or -1 for no limit. */
typedef long (*ntm_loop_prepare_cb)(struct ntm_loop *loop, void *arg);

struct ntm_loop *ntm_loop_new(void);
void ntm_loop_free(struct ntm_loop *loop);

/* events: ZMQ_POLLIN and/or ZMQ_POLLOUT. Returns 0 or -errno. */
int ntm_loop_add_fd(struct ntm_loop *loop, int fd, short events, ntm_loop_fd_cb cb, void *arg);
int ntm_loop_set_fd_events(struct ntm_loop *loop, int fd, short events);
void ntm_loop_del_fd(struct ntm_loop *loop, int fd);
int ntm_loop_add_zsock(struct ntm_loop *loop, void *zsock, short events, ntm_loop_zsock_cb cb,
		       void *arg);
void ntm_loop_del_zsock(struct ntm_loop *loop, void *zsock);
/* Removes *zsock from the loop, closes it and sets *zsock to NULL; does
 * nothing when *zsock is NULL. */
void ntm_loop_close_zsock(struct ntm_loop *loop, void **zsock);

/* Fires after after_ms, then every repeat_ms when nonzero. The timer is freed
 * by ntm_loop_timer_cancel, or after a one-shot fired. */
struct ntm_timer *ntm_loop_timer_add(struct ntm_loop *loop, uint64_t after_ms, uint64_t repeat_ms,
				     ntm_loop_timer_cb cb, void *arg);
void ntm_loop_timer_cancel(struct ntm_loop *loop, struct ntm_timer *timer);

/* Blocks signo and delivers it through the loop. Returns 0 or -errno. */
int ntm_loop_add_signal(struct ntm_loop *loop, int signo, ntm_loop_signal_cb cb, void *arg);
int ntm_loop_add_prepare(struct ntm_loop *loop, ntm_loop_prepare_cb cb, void *arg);
/* Removes the prepare callback added with the same cb and arg. */
void ntm_loop_del_prepare(struct ntm_loop *loop, ntm_loop_prepare_cb cb, void *arg);

/* Runs until ntm_loop_stop. Returns 0, or -errno when polling failed. */
int ntm_loop_run(struct ntm_loop *loop);
void ntm_loop_stop(struct ntm_loop *loop);

#endif
