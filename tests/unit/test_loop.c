/* Unit tests for the event loop (ntm_loop): timers, descriptors, ZeroMQ
 * sockets, signals and prepare callbacks, also changed from callbacks. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "ntm_loop.h"
#include "ntm_time.h"

/* Maximum run time of a test before the watchdog stops the loop and fails it. */
#define WATCHDOG_MS 5000

struct fixture {
	struct ntm_loop *loop;
	struct ntm_timer *watchdog;
	bool watchdog_fired;
};

static void on_watchdog(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct fixture *fx = arg;

	fx->watchdog_fired = true;
	fx->watchdog = NULL;
	ntm_loop_stop(loop);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx->loop = ntm_loop_new();
	if (!fx->loop)
		return -1;
	fx->watchdog = ntm_loop_timer_add(fx->loop, WATCHDOG_MS, 0, on_watchdog, fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	ntm_loop_free(fx->loop);
	free(fx);
	return 0;
}

/* Runs the loop and checks that it stopped before the watchdog. */
static void run_loop(struct fixture *fx)
{
	assert_int_equal(ntm_loop_run(fx->loop), 0);
	assert_false(fx->watchdog_fired);
}

/* ---- timers ---- */

struct timer_log {
	int fired;
	int stop_after;
	uint64_t fired_at_ms[16];
	struct ntm_timer *other;
	struct ntm_timer *self;
};

static void on_count(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct timer_log *log = arg;

	if (log->fired < 16)
		log->fired_at_ms[log->fired] = ntm_now_ms();
	log->fired++;
	if (log->fired == log->stop_after)
		ntm_loop_stop(loop);
}

static void timer_one_shot(void **state)
{
	struct fixture *fx = *state;
	struct timer_log log = { .stop_after = 1 };
	uint64_t start = ntm_now_ms();

	assert_non_null(ntm_loop_timer_add(fx->loop, 30, 0, on_count, &log));
	run_loop(fx);

	assert_int_equal(log.fired, 1);
	assert_true(log.fired_at_ms[0] >= start + 30);
}

static void timer_one_shot_fires_once(void **state)
{
	struct fixture *fx = *state;
	struct timer_log once = { .stop_after = 0 };
	struct timer_log end = { .stop_after = 1 };

	assert_non_null(ntm_loop_timer_add(fx->loop, 10, 0, on_count, &once));
	assert_non_null(ntm_loop_timer_add(fx->loop, 100, 0, on_count, &end));
	run_loop(fx);

	assert_int_equal(once.fired, 1);
	assert_int_equal(end.fired, 1);
}

static void timer_order_by_due_time(void **state)
{
	struct fixture *fx = *state;
	struct timer_log late = { .stop_after = 1 };
	struct timer_log early = { .stop_after = 0 };

	assert_non_null(ntm_loop_timer_add(fx->loop, 60, 0, on_count, &late));
	assert_non_null(ntm_loop_timer_add(fx->loop, 20, 0, on_count, &early));
	run_loop(fx);

	assert_int_equal(early.fired, 1);
	assert_true(early.fired_at_ms[0] <= late.fired_at_ms[0]);
}

static void timer_repeating(void **state)
{
	struct fixture *fx = *state;
	struct timer_log log = { .stop_after = 4 };
	uint64_t start = ntm_now_ms();
	struct ntm_timer *t = ntm_loop_timer_add(fx->loop, 10, 20, on_count, &log);

	assert_non_null(t);
	run_loop(fx);

	assert_int_equal(log.fired, 4);
	/* Due times follow a fixed grid from the first one, so a late firing
	 * does not delay the next. */
	for (int i = 0; i < 4; i++)
		assert_true(log.fired_at_ms[i] >= start + 10 + 20 * (uint64_t)i);
	ntm_loop_timer_cancel(fx->loop, t);
}

static void on_cancel_self_after_three(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct timer_log *log = arg;

	log->fired++;
	if (log->fired == 3)
		ntm_loop_timer_cancel(loop, timer);
}

static void timer_cancel_self_in_callback(void **state)
{
	struct fixture *fx = *state;
	struct timer_log log = { 0 };
	struct timer_log end = { .stop_after = 1 };

	assert_non_null(ntm_loop_timer_add(fx->loop, 5, 10, on_cancel_self_after_three, &log));
	assert_non_null(ntm_loop_timer_add(fx->loop, 200, 0, on_count, &end));
	run_loop(fx);

	assert_int_equal(log.fired, 3);
}

static void on_cancel_self_once(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct timer_log *log = arg;

	log->fired++;
	ntm_loop_timer_cancel(loop, timer);
	ntm_loop_stop(loop);
}

/* A one-shot timer may cancel itself from its callback without a double free. */
static void timer_one_shot_cancel_self(void **state)
{
	struct fixture *fx = *state;
	struct timer_log log = { 0 };

	assert_non_null(ntm_loop_timer_add(fx->loop, 5, 0, on_cancel_self_once, &log));
	run_loop(fx);

	assert_int_equal(log.fired, 1);
}

static void on_cancel_other(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct timer_log *log = arg;

	log->fired++;
	ntm_loop_timer_cancel(loop, log->other);
	log->other = NULL;
}

/* Both timers are due in the same round, and the first cancels the second. */
static void timer_cancel_other_due(void **state)
{
	struct fixture *fx = *state;
	struct timer_log first = { 0 };
	struct timer_log second = { 0 };
	struct timer_log end = { .stop_after = 1 };

	assert_non_null(ntm_loop_timer_add(fx->loop, 10, 0, on_cancel_other, &first));
	first.other = ntm_loop_timer_add(fx->loop, 10, 0, on_count, &second);
	assert_non_null(first.other);
	assert_non_null(ntm_loop_timer_add(fx->loop, 80, 0, on_count, &end));
	run_loop(fx);

	assert_int_equal(first.fired, 1);
	assert_int_equal(second.fired, 0);
}

static void timer_cancel_before_run(void **state)
{
	struct fixture *fx = *state;
	struct timer_log cancelled = { 0 };
	struct timer_log end = { .stop_after = 1 };
	struct ntm_timer *t = ntm_loop_timer_add(fx->loop, 5, 5, on_count, &cancelled);

	assert_non_null(t);
	ntm_loop_timer_cancel(fx->loop, t);
	assert_non_null(ntm_loop_timer_add(fx->loop, 50, 0, on_count, &end));
	run_loop(fx);

	assert_int_equal(cancelled.fired, 0);
}

static void on_add_timer(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct timer_log *log = arg;

	log->fired++;
	assert_non_null(ntm_loop_timer_add(loop, 0, 0, on_count, log + 1));
}

static void timer_add_from_callback(void **state)
{
	struct fixture *fx = *state;
	struct timer_log logs[2] = { { 0 }, { .stop_after = 1 } };

	assert_non_null(ntm_loop_timer_add(fx->loop, 5, 0, on_add_timer, logs));
	run_loop(fx);

	assert_int_equal(logs[0].fired, 1);
	assert_int_equal(logs[1].fired, 1);
}

/* Many timers with mixed delays exercise the heap. */
static void timer_many_in_order(void **state)
{
	struct fixture *fx = *state;
	static const unsigned delays[] = { 40, 5, 25, 15, 35, 10, 30, 20, 45, 1 };
	struct timer_log logs[10] = { { 0 } };
	struct timer_log end = { .stop_after = 1 };

	for (size_t i = 0; i < 10; i++)
		assert_non_null(ntm_loop_timer_add(fx->loop, delays[i], 0, on_count, &logs[i]));
	assert_non_null(ntm_loop_timer_add(fx->loop, 100, 0, on_count, &end));
	run_loop(fx);

	for (size_t i = 0; i < 10; i++) {
		assert_int_equal(logs[i].fired, 1);
		for (size_t j = 0; j < 10; j++) {
			if (delays[i] < delays[j])
				assert_true(logs[i].fired_at_ms[0] <= logs[j].fired_at_ms[0]);
		}
	}
}

/* ---- file descriptors ---- */

struct pipe_pair {
	int fds[2];
};

static void make_pipe(struct pipe_pair *p)
{
	assert_int_equal(pipe(p->fds), 0);
}

static void close_pipe(struct pipe_pair *p)
{
	close(p->fds[0]);
	close(p->fds[1]);
}

struct fd_log {
	int calls;
	short revents;
	char data[16];
	bool remove_self;
	int remove_other;      /* descriptor to remove, -1 for none */
	bool stop;
};

static void on_readable(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct fd_log *log = arg;
	ssize_t n;

	log->calls++;
	log->revents = revents;
	n = read(fd, log->data, sizeof(log->data) - 1);
	if (n >= 0)
		log->data[n] = '\0';
	if (log->remove_self)
		ntm_loop_del_fd(loop, fd);
	if (log->remove_other >= 0)
		ntm_loop_del_fd(loop, log->remove_other);
	if (log->stop)
		ntm_loop_stop(loop);
}

static void fd_readable(void **state)
{
	struct fixture *fx = *state;
	struct pipe_pair p;
	struct fd_log log = { .remove_other = -1, .stop = true };

	make_pipe(&p);
	assert_int_equal(ntm_loop_add_fd(fx->loop, p.fds[0], ZMQ_POLLIN, on_readable, &log), 0);
	assert_int_equal(write(p.fds[1], "ping", 4), 4);
	run_loop(fx);

	assert_int_equal(log.calls, 1);
	assert_true(log.revents & ZMQ_POLLIN);
	assert_string_equal(log.data, "ping");
	close_pipe(&p);
}

static void fd_add_twice_rejected(void **state)
{
	struct fixture *fx = *state;
	struct pipe_pair p;
	struct fd_log log = { .remove_other = -1 };

	make_pipe(&p);
	assert_int_equal(ntm_loop_add_fd(fx->loop, p.fds[0], ZMQ_POLLIN, on_readable, &log), 0);
	assert_int_equal(ntm_loop_add_fd(fx->loop, p.fds[0], ZMQ_POLLIN, on_readable, &log),
			 -EEXIST);
	assert_int_equal(ntm_loop_set_fd_events(fx->loop, p.fds[1], ZMQ_POLLIN), -ENOENT);
	ntm_loop_del_fd(fx->loop, p.fds[0]);
	close_pipe(&p);
}

static void on_timer_stop(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	ntm_loop_stop(loop);
}

/* A callback removes its own descriptor. The loop must not call it again
 * although the pipe stays readable. */
static void fd_remove_self_in_callback(void **state)
{
	struct fixture *fx = *state;
	struct pipe_pair p;
	struct fd_log log = { .remove_self = true, .remove_other = -1 };

	make_pipe(&p);
	assert_int_equal(ntm_loop_add_fd(fx->loop, p.fds[0], ZMQ_POLLIN, on_readable, &log), 0);
	assert_int_equal(write(p.fds[1], "0123456789abcdefghij", 20), 20);
	assert_non_null(ntm_loop_timer_add(fx->loop, 50, 0, on_timer_stop, NULL));
	run_loop(fx);

	assert_int_equal(log.calls, 1);
	close_pipe(&p);
}

/* Two descriptors are ready in one round. Whichever runs first removes the
 * other, which then must not be called. */
static void fd_remove_other_in_callback(void **state)
{
	struct fixture *fx = *state;
	struct pipe_pair a, b;
	struct fd_log log_a = { .remove_other = -1 };
	struct fd_log log_b = { .remove_other = -1 };

	make_pipe(&a);
	make_pipe(&b);
	log_a.remove_other = b.fds[0];
	log_b.remove_other = a.fds[0];
	assert_int_equal(ntm_loop_add_fd(fx->loop, a.fds[0], ZMQ_POLLIN, on_readable, &log_a), 0);
	assert_int_equal(ntm_loop_add_fd(fx->loop, b.fds[0], ZMQ_POLLIN, on_readable, &log_b), 0);
	assert_int_equal(write(a.fds[1], "a", 1), 1);
	assert_int_equal(write(b.fds[1], "b", 1), 1);
	assert_non_null(ntm_loop_timer_add(fx->loop, 50, 0, on_timer_stop, NULL));
	run_loop(fx);

	assert_int_equal(log_a.calls + log_b.calls, 1);
	ntm_loop_del_fd(fx->loop, a.fds[0]);
	ntm_loop_del_fd(fx->loop, b.fds[0]);
	close_pipe(&a);
	close_pipe(&b);
}

struct readd {
	struct fd_log log;
	int fd;
	int readds;
};

static void on_readable_readd(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct readd *r = arg;
	char c;

	r->log.calls++;
	assert_int_equal(read(fd, &c, 1), 1);
	ntm_loop_del_fd(loop, fd);
	if (r->readds++ == 0) {
		assert_int_equal(ntm_loop_add_fd(loop, fd, ZMQ_POLLIN, on_readable_readd, r), 0);
		return;
	}
	ntm_loop_stop(loop);
}

/* Removing and re-adding the same descriptor inside its callback works. */
static void fd_readd_in_callback(void **state)
{
	struct fixture *fx = *state;
	struct pipe_pair p;
	struct readd r = { .log = { .remove_other = -1 } };

	make_pipe(&p);
	assert_int_equal(ntm_loop_add_fd(fx->loop, p.fds[0], ZMQ_POLLIN, on_readable_readd, &r), 0);
	assert_int_equal(write(p.fds[1], "xy", 2), 2);
	run_loop(fx);

	assert_int_equal(r.log.calls, 2);
	close_pipe(&p);
}

static void on_writable(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct fd_log *log = arg;

	log->calls++;
	log->revents = revents;
	assert_int_equal(ntm_loop_set_fd_events(loop, fd, 0), 0);
	ntm_loop_stop(loop);
}

static void fd_writable(void **state)
{
	struct fixture *fx = *state;
	struct pipe_pair p;
	struct fd_log log = { .remove_other = -1 };

	make_pipe(&p);
	assert_int_equal(ntm_loop_add_fd(fx->loop, p.fds[1], 0, on_writable, &log), 0);
	assert_int_equal(ntm_loop_set_fd_events(fx->loop, p.fds[1], ZMQ_POLLOUT), 0);
	run_loop(fx);

	assert_int_equal(log.calls, 1);
	assert_true(log.revents & ZMQ_POLLOUT);
	ntm_loop_del_fd(fx->loop, p.fds[1]);
	close_pipe(&p);
}

static void fd_hangup_reported(void **state)
{
	struct fixture *fx = *state;
	struct pipe_pair p;
	struct fd_log log = { .remove_self = true, .remove_other = -1, .stop = true };

	make_pipe(&p);
	assert_int_equal(ntm_loop_add_fd(fx->loop, p.fds[0], ZMQ_POLLIN, on_readable, &log), 0);
	close(p.fds[1]);
	run_loop(fx);

	assert_int_equal(log.calls, 1);
	assert_true(log.revents & (ZMQ_POLLIN | ZMQ_POLLERR));
	close(p.fds[0]);
}

/* ---- ZeroMQ sockets ---- */

struct zsock_log {
	int calls;
	char data[16];
};

static void on_zsock(struct ntm_loop *loop, void *zsock, short revents, void *arg)
{
	struct zsock_log *log = arg;
	int n = zmq_recv(zsock, log->data, sizeof(log->data) - 1, ZMQ_DONTWAIT);

	if (n >= 0)
		log->data[n < (int)sizeof(log->data) ? n : (int)sizeof(log->data) - 1] = '\0';
	log->calls++;
	ntm_loop_del_zsock(loop, zsock);
	ntm_loop_stop(loop);
}

static void zsock_readable(void **state)
{
	struct fixture *fx = *state;
	struct zsock_log log = { 0 };
	void *ctx = zmq_ctx_new();
	void *rx = zmq_socket(ctx, ZMQ_PAIR);
	void *tx = zmq_socket(ctx, ZMQ_PAIR);
	int linger = 0;

	assert_int_equal(zmq_bind(rx, "inproc://test-loop"), 0);
	assert_int_equal(zmq_connect(tx, "inproc://test-loop"), 0);
	assert_int_equal(ntm_loop_add_zsock(fx->loop, rx, ZMQ_POLLIN, on_zsock, &log), 0);
	assert_int_equal(ntm_loop_add_zsock(fx->loop, rx, ZMQ_POLLIN, on_zsock, &log), -EEXIST);
	assert_int_equal(zmq_send(tx, "hello", 5, 0), 5);
	run_loop(fx);

	assert_int_equal(log.calls, 1);
	assert_string_equal(log.data, "hello");
	zmq_setsockopt(rx, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(tx, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_close(rx);
	zmq_close(tx);
	zmq_ctx_term(ctx);
}

/* ---- signals ---- */

struct signal_log {
	int calls;
	int signo;
};

static void on_signal(struct ntm_loop *loop, int signo, void *arg)
{
	struct signal_log *log = arg;

	log->calls++;
	log->signo = signo;
	ntm_loop_stop(loop);
}

static void on_timer_raise(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	raise(*(int *)arg);
}

static void signal_delivered(void **state)
{
	struct fixture *fx = *state;
	struct signal_log log = { 0 };
	int signo = SIGUSR1;

	assert_int_equal(ntm_loop_add_signal(fx->loop, SIGUSR1, on_signal, &log), 0);
	assert_int_equal(ntm_loop_add_signal(fx->loop, SIGUSR1, on_signal, &log), -EEXIST);
	assert_non_null(ntm_loop_timer_add(fx->loop, 10, 0, on_timer_raise, &signo));
	run_loop(fx);

	assert_int_equal(log.calls, 1);
	assert_int_equal(log.signo, SIGUSR1);
}

static void signal_two_handlers(void **state)
{
	struct fixture *fx = *state;
	struct signal_log usr1 = { 0 };
	struct signal_log usr2 = { 0 };
	int signo = SIGUSR2;

	assert_int_equal(ntm_loop_add_signal(fx->loop, SIGUSR1, on_signal, &usr1), 0);
	assert_int_equal(ntm_loop_add_signal(fx->loop, SIGUSR2, on_signal, &usr2), 0);
	assert_non_null(ntm_loop_timer_add(fx->loop, 10, 0, on_timer_raise, &signo));
	run_loop(fx);

	assert_int_equal(usr1.calls, 0);
	assert_int_equal(usr2.calls, 1);
	assert_int_equal(usr2.signo, SIGUSR2);
}

static void signal_invalid_rejected(void **state)
{
	struct fixture *fx = *state;
	struct signal_log log = { 0 };

	assert_int_equal(ntm_loop_add_signal(fx->loop, 0, on_signal, &log), -EINVAL);
	assert_int_equal(ntm_loop_add_signal(fx->loop, NSIG, on_signal, &log), -EINVAL);
}

static void on_alarm(int signo)
{
}

/* An unblocked signal with a handler interrupts zmq_poll with EINTR. The
 * loop must retry and still fire its timer. */
static void poll_retried_after_eintr(void **state)
{
	struct fixture *fx = *state;
	struct sigaction sa = { .sa_handler = on_alarm };
	struct sigaction old;
	struct itimerval interval = { .it_value = { .tv_usec = 20000 } };
	struct itimerval off = { 0 };
	struct timer_log log = { .stop_after = 1 };
	struct pipe_pair p;
	struct fd_log idle = { .remove_other = -1 };

	/* A descriptor so that zmq_poll, not the no-item sleep, does the wait. */
	make_pipe(&p);
	assert_int_equal(ntm_loop_add_fd(fx->loop, p.fds[0], ZMQ_POLLIN, on_readable, &idle), 0);
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_non_null(ntm_loop_timer_add(fx->loop, 150, 0, on_count, &log));
	assert_int_equal(setitimer(ITIMER_REAL, &interval, NULL), 0);
	run_loop(fx);

	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	assert_int_equal(log.fired, 1);
	assert_int_equal(idle.calls, 0);
	ntm_loop_del_fd(fx->loop, p.fds[0]);
	close_pipe(&p);
}

/* ---- prepare callbacks ---- */

struct prepare_log {
	int calls;
	int stop_after;
	long timeout;
};

static long on_prepare(struct ntm_loop *loop, void *arg)
{
	struct prepare_log *log = arg;

	log->calls++;
	if (log->calls == log->stop_after)
		ntm_loop_stop(loop);
	return log->timeout;
}

/* Without a prepare callback the loop would sleep until the watchdog. */
static void prepare_bounds_timeout(void **state)
{
	struct fixture *fx = *state;
	struct prepare_log log = { .stop_after = 4, .timeout = 10 };
	struct pipe_pair p;
	struct fd_log idle = { .remove_other = -1 };
	uint64_t start = ntm_now_ms();

	make_pipe(&p);
	assert_int_equal(ntm_loop_add_fd(fx->loop, p.fds[0], ZMQ_POLLIN, on_readable, &idle), 0);
	assert_int_equal(ntm_loop_add_prepare(fx->loop, on_prepare, &log), 0);
	run_loop(fx);

	assert_int_equal(log.calls, 4);
	assert_true(ntm_now_ms() - start >= 30);
	assert_true(ntm_now_ms() - start < WATCHDOG_MS);
	ntm_loop_del_prepare(fx->loop, on_prepare, &log);
	ntm_loop_del_fd(fx->loop, p.fds[0]);
	close_pipe(&p);
}

static void prepare_removed_not_called(void **state)
{
	struct fixture *fx = *state;
	struct prepare_log removed = { .timeout = -1 };
	struct timer_log end = { .stop_after = 1 };

	assert_int_equal(ntm_loop_add_prepare(fx->loop, on_prepare, &removed), 0);
	ntm_loop_del_prepare(fx->loop, on_prepare, &removed);
	assert_non_null(ntm_loop_timer_add(fx->loop, 10, 0, on_count, &end));
	run_loop(fx);

	assert_int_equal(removed.calls, 0);
}

/* The loop can be run again after ntm_loop_stop. */
static void loop_runs_again(void **state)
{
	struct fixture *fx = *state;
	struct timer_log first = { .stop_after = 1 };
	struct timer_log second = { .stop_after = 1 };

	assert_non_null(ntm_loop_timer_add(fx->loop, 5, 0, on_count, &first));
	run_loop(fx);
	assert_non_null(ntm_loop_timer_add(fx->loop, 5, 0, on_count, &second));
	run_loop(fx);

	assert_int_equal(first.fired, 1);
	assert_int_equal(second.fired, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(timer_one_shot, setup, teardown),
		cmocka_unit_test_setup_teardown(timer_one_shot_fires_once, setup, teardown),
		cmocka_unit_test_setup_teardown(timer_order_by_due_time, setup, teardown),
		cmocka_unit_test_setup_teardown(timer_repeating, setup, teardown),
		cmocka_unit_test_setup_teardown(timer_cancel_self_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(timer_one_shot_cancel_self, setup, teardown),
		cmocka_unit_test_setup_teardown(timer_cancel_other_due, setup, teardown),
		cmocka_unit_test_setup_teardown(timer_cancel_before_run, setup, teardown),
		cmocka_unit_test_setup_teardown(timer_add_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(timer_many_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(fd_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(fd_add_twice_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(fd_remove_self_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(fd_remove_other_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(fd_readd_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(fd_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(fd_hangup_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(zsock_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(signal_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(signal_two_handlers, setup, teardown),
		cmocka_unit_test_setup_teardown(signal_invalid_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(poll_retried_after_eintr, setup, teardown),
		cmocka_unit_test_setup_teardown(prepare_bounds_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(prepare_removed_not_called, setup, teardown),
		cmocka_unit_test_setup_teardown(loop_runs_again, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
