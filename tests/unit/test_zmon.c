/* Unit tests for the ZeroMQ connection monitor (ntm_zmon): a DEALER that
 * connects to a ROUTER over ipc://, which is closed and bound again as a
 * restarted daemon would be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "ntm_loop.h"
#include "ntm_zmon.h"

/* Maximum run time of a test before the watchdog stops the loop and fails it. */
#define WATCHDOG_MS 5000
#define MONITOR_ADDRESS "inproc://test-zmon"
#define MAX_EVENTS 8

struct fixture {
	struct ntm_loop *loop;
	struct ntm_timer *watchdog;
	bool watchdog_fired;
	void *ctx;
	void *router;
	void *dealer;
	void *monitor;
	char dir[64];
	char endpoint[128];
	enum ntm_zmon_event events[MAX_EVENTS];
	size_t n_events;
	bool restart_router;      /* close and bind the ROUTER again once */
};

static void on_watchdog(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct fixture *fx = arg;

	fx->watchdog_fired = true;
	fx->watchdog = NULL;
	ntm_loop_stop(loop);
}

static void *bind_router(struct fixture *fx)
{
	void *sock = zmq_socket(fx->ctx, ZMQ_ROUTER);
	int zero = 0;

	if (!sock)
		return NULL;
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_bind(sock, fx->endpoint) < 0) {
		zmq_close(sock);
		return NULL;
	}
	return sock;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int zero = 0;

	if (!fx)
		return -1;
	*state = fx;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_zmon.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->endpoint, sizeof(fx->endpoint), "ipc://%s/router.ipc", fx->dir);
	fx->loop = ntm_loop_new();
	fx->ctx = zmq_ctx_new();
	if (!fx->loop || !fx->ctx)
		return -1;
	fx->watchdog = ntm_loop_timer_add(fx->loop, WATCHDOG_MS, 0, on_watchdog, fx);
	fx->router = bind_router(fx);
	fx->dealer = zmq_socket(fx->ctx, ZMQ_DEALER);
	if (!fx->router || !fx->dealer)
		return -1;
	zmq_setsockopt(fx->dealer, ZMQ_LINGER, &zero, sizeof(zero));
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char path[192];

	if (fx->watchdog)
		ntm_loop_timer_cancel(fx->loop, fx->watchdog);
	ntm_zmon_close(fx->loop, fx->dealer, &fx->monitor);
	if (fx->dealer)
		zmq_close(fx->dealer);
	if (fx->router)
		zmq_close(fx->router);
	if (fx->ctx)
		zmq_ctx_term(fx->ctx);
	if (fx->loop)
		ntm_loop_free(fx->loop);
	snprintf(path, sizeof(path), "%s/router.ipc", fx->dir);
	unlink(path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Records each event; with restart_router, closes the ROUTER at the first
 * connection and binds a new one at the disconnection. Stops the loop after
 * the last expected event. */
static void on_monitor(struct ntm_loop *loop, void *sock, short revents, void *arg)
{
	struct fixture *fx = arg;
	enum ntm_zmon_event event = ntm_zmon_read(sock);

	if (event == NTM_ZMON_NONE || fx->n_events == MAX_EVENTS)
		return;
	fx->events[fx->n_events++] = event;
	if (!fx->restart_router) {
		ntm_loop_stop(loop);
		return;
	}
	if (fx->n_events == 1 && event == NTM_ZMON_CONNECTED) {
		zmq_close(fx->router);
		fx->router = NULL;
	} else if (fx->n_events == 2 && event == NTM_ZMON_DISCONNECTED) {
		fx->router = bind_router(fx);
	} else {
		ntm_loop_stop(loop);
	}
}

static void start(struct fixture *fx)
{
	fx->monitor = ntm_zmon_open(fx->loop, fx->ctx, fx->dealer, MONITOR_ADDRESS, on_monitor, fx);
	assert_non_null(fx->monitor);
	assert_int_equal(zmq_connect(fx->dealer, fx->endpoint), 0);
	assert_int_equal(ntm_loop_run(fx->loop), 0);
}

static void zmon_first_connection(void **state)
{
	struct fixture *fx = *state;

	start(fx);
	assert_false(fx->watchdog_fired);
	assert_int_equal(fx->n_events, 1);
	assert_int_equal(fx->events[0], NTM_ZMON_CONNECTED);
}

static void zmon_peer_restart(void **state)
{
	struct fixture *fx = *state;

	fx->restart_router = true;
	start(fx);
	assert_false(fx->watchdog_fired);
	assert_int_equal(fx->n_events, 3);
	assert_int_equal(fx->events[0], NTM_ZMON_CONNECTED);
	assert_int_equal(fx->events[1], NTM_ZMON_DISCONNECTED);
	assert_int_equal(fx->events[2], NTM_ZMON_CONNECTED);
}

static void zmon_read_empty(void **state)
{
	struct fixture *fx = *state;

	fx->monitor = ntm_zmon_open(fx->loop, fx->ctx, fx->dealer, MONITOR_ADDRESS, on_monitor, fx);
	assert_non_null(fx->monitor);
	assert_int_equal(ntm_zmon_read(fx->monitor), NTM_ZMON_NONE);
}

static void zmon_close_clears(void **state)
{
	struct fixture *fx = *state;

	fx->monitor = ntm_zmon_open(fx->loop, fx->ctx, fx->dealer, MONITOR_ADDRESS, on_monitor, fx);
	assert_non_null(fx->monitor);
	ntm_zmon_close(fx->loop, fx->dealer, &fx->monitor);
	assert_null(fx->monitor);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(zmon_first_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(zmon_peer_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(zmon_read_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(zmon_close_clears, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
