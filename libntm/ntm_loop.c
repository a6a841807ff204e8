/*
 * Event loop over zmq_poll. Callbacks may add and remove file descriptors,
 * sockets and timers at any time, also the timer that is firing and the
 * descriptor being handled. This is safe because removed watchers are only
 * marked during a dispatch round and freed after it, and because a due timer
 * is taken out of the heap before its callback runs.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ntm_log.h"
#include "ntm_loop.h"
#include "ntm_time.h"

/* Signals read from the signalfd per wakeup. */
#define SIGNAL_BATCH 8

struct watcher {
	int fd;             /* -1 for a ZeroMQ socket */
	void *zsock;        /* NULL for a plain descriptor */
	short events;
	ntm_loop_fd_cb fd_cb;
	ntm_loop_zsock_cb zsock_cb;
	void *arg;
	bool removed;
};

struct ntm_timer {
	uint64_t due_ms;
	uint64_t repeat_ms;
	uint64_t seq;       /* insertion order, breaks ties between equal due times */
	size_t heap_index;
	bool firing;
	bool cancelled;
	ntm_loop_timer_cb cb;
	void *arg;
};

struct signal_handler {
	int signo;
	ntm_loop_signal_cb cb;
	void *arg;
};

struct prepare_hook {
	ntm_loop_prepare_cb cb;   /* NULL once removed while the hooks run */
	void *arg;
};

struct ntm_loop {
	struct watcher **watchers;
	size_t n_watchers, cap_watchers;
	bool dispatching;
	bool watchers_dirty;

	/* Poll set of the current round and the watcher of each item. */
	zmq_pollitem_t *items;
	struct watcher **item_watchers;
	size_t cap_items;

	struct ntm_timer **heap;
	size_t n_timers, cap_timers;
	uint64_t timer_seq;

	int signal_fd;
	sigset_t signal_mask;     /* signals delivered through signal_fd */
	struct signal_handler signals[NSIG];
	size_t n_signals;

	struct prepare_hook *prepares;
	size_t n_prepares;
	bool preparing;

	bool stop;
};

static int grow_array(void **array, size_t *cap, size_t need, size_t elem_size)
{
	if (need <= *cap)
		return 0;

	size_t new_cap = *cap ? *cap * 2 : 8;

	while (new_cap < need)
		new_cap *= 2;
	void *p = reallocarray(*array, new_cap, elem_size);

	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = new_cap;
	return 0;
}

struct ntm_loop *ntm_loop_new(void)
{
	struct ntm_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->signal_fd = -1;
	sigemptyset(&loop->signal_mask);
	return loop;
}

void ntm_loop_free(struct ntm_loop *loop)
{
	if (!loop)
		return;

	for (size_t i = 0; i < loop->n_watchers; i++)
		free(loop->watchers[i]);
	for (size_t i = 0; i < loop->n_timers; i++)
		free(loop->heap[i]);
	/* The signals stay blocked: unblocking them could let a SIGTERM that
	 * arrived during shutdown kill the process with its default action. */
	if (loop->signal_fd >= 0)
		close(loop->signal_fd);

	free(loop->watchers);
	free(loop->items);
	free(loop->item_watchers);
	free(loop->heap);
	free(loop->prepares);
	free(loop);
}

/* ---- file descriptors and ZeroMQ sockets ---- */

static struct watcher *find_watcher(struct ntm_loop *loop, int fd, void *zsock)
{
	for (size_t i = 0; i < loop->n_watchers; i++) {
		struct watcher *w = loop->watchers[i];

		if (w->removed)
			continue;
		if (zsock ? w->zsock == zsock : (!w->zsock && w->fd == fd))
			return w;
	}
	return NULL;
}

static int add_watcher(struct ntm_loop *loop, const struct watcher *tmpl)
{
	if (find_watcher(loop, tmpl->fd, tmpl->zsock))
		return -EEXIST;
	if (grow_array((void **)&loop->watchers, &loop->cap_watchers, loop->n_watchers + 1,
		       sizeof(*loop->watchers)) < 0)
		return -ENOMEM;

	struct watcher *w = malloc(sizeof(*w));

	if (!w)
		return -ENOMEM;
	*w = *tmpl;
	loop->watchers[loop->n_watchers++] = w;
	return 0;
}

/* Frees the watchers removed during a dispatch round. */
static void sweep_watchers(struct ntm_loop *loop)
{
	size_t kept = 0;

	for (size_t i = 0; i < loop->n_watchers; i++) {
		struct watcher *w = loop->watchers[i];

		if (w->removed)
			free(w);
		else
			loop->watchers[kept++] = w;
	}
	loop->n_watchers = kept;
	loop->watchers_dirty = false;
}

static void remove_watcher(struct ntm_loop *loop, struct watcher *w)
{
	w->removed = true;
	loop->watchers_dirty = true;
	if (!loop->dispatching)
		sweep_watchers(loop);
}

int ntm_loop_add_fd(struct ntm_loop *loop, int fd, short events, ntm_loop_fd_cb cb, void *arg)
{
	struct watcher w = { .fd = fd, .events = events, .fd_cb = cb, .arg = arg };

	if (fd < 0 || !cb)
		return -EINVAL;
	return add_watcher(loop, &w);
}

int ntm_loop_set_fd_events(struct ntm_loop *loop, int fd, short events)
{
	struct watcher *w = find_watcher(loop, fd, NULL);

	if (!w)
		return -ENOENT;
	w->events = events;
	return 0;
}

void ntm_loop_del_fd(struct ntm_loop *loop, int fd)
{
	struct watcher *w = find_watcher(loop, fd, NULL);

	if (w)
		remove_watcher(loop, w);
}

int ntm_loop_add_zsock(struct ntm_loop *loop, void *zsock, short events, ntm_loop_zsock_cb cb,
		       void *arg)
{
	struct watcher w = { .fd = -1, .zsock = zsock, .events = events, .zsock_cb = cb,
			     .arg = arg };

	if (!zsock || !cb)
		return -EINVAL;
	return add_watcher(loop, &w);
}

void ntm_loop_del_zsock(struct ntm_loop *loop, void *zsock)
{
	struct watcher *w = find_watcher(loop, -1, zsock);

	if (w)
		remove_watcher(loop, w);
}

void ntm_loop_close_zsock(struct ntm_loop *loop, void **zsock)
{
	if (!*zsock)
		return;
	ntm_loop_del_zsock(loop, *zsock);
	zmq_close(*zsock);
	*zsock = NULL;
}

/* ---- timers: a binary min-heap ordered by (due_ms, seq) ---- */

static bool timer_before(const struct ntm_timer *a, const struct ntm_timer *b)
{
	if (a->due_ms != b->due_ms)
		return a->due_ms < b->due_ms;
	return a->seq < b->seq;
}

static void heap_set(struct ntm_loop *loop, size_t i, struct ntm_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void heap_sift_up(struct ntm_loop *loop, size_t i)
{
	struct ntm_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, loop->heap[parent]))
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void heap_sift_down(struct ntm_loop *loop, size_t i)
{
	struct ntm_timer *t = loop->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= loop->n_timers)
			break;
		if (child + 1 < loop->n_timers && timer_before(loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!timer_before(loop->heap[child], t))
			break;
		heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	heap_set(loop, i, t);
}

static int heap_push(struct ntm_loop *loop, struct ntm_timer *t)
{
	if (grow_array((void **)&loop->heap, &loop->cap_timers, loop->n_timers + 1,
		       sizeof(*loop->heap)) < 0)
		return -ENOMEM;
	t->seq = loop->timer_seq++;
	loop->heap[loop->n_timers++] = t;
	heap_sift_up(loop, loop->n_timers - 1);
	return 0;
}

static void heap_remove(struct ntm_loop *loop, struct ntm_timer *t)
{
	size_t i = t->heap_index;
	struct ntm_timer *last = loop->heap[--loop->n_timers];

	if (i == loop->n_timers)
		return;
	heap_set(loop, i, last);
	heap_sift_up(loop, i);
	heap_sift_down(loop, last->heap_index);
}

struct ntm_timer *ntm_loop_timer_add(struct ntm_loop *loop, uint64_t after_ms, uint64_t repeat_ms,
				     ntm_loop_timer_cb cb, void *arg)
{
	struct ntm_timer *t = calloc(1, sizeof(*t));
	uint64_t now = ntm_now_ms();

	if (!t)
		return NULL;
	t->due_ms = after_ms > UINT64_MAX - now ? UINT64_MAX : now + after_ms;
	t->repeat_ms = repeat_ms;
	t->cb = cb;
	t->arg = arg;
	if (heap_push(loop, t) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

void ntm_loop_timer_cancel(struct ntm_loop *loop, struct ntm_timer *timer)
{
	if (!timer)
		return;
	/* A firing timer is out of the heap, and run_timers frees it after its
	 * callback returns. */
	if (timer->firing) {
		timer->cancelled = true;
		return;
	}
	heap_remove(loop, timer);
	free(timer);
}

/*
 * Fires the timers due at now_ms. Timers added during this round, also with
 * after_ms 0, wait for the next round, so a callback that re-adds itself
 * cannot starve the descriptors.
 */
static void run_timers(struct ntm_loop *loop, uint64_t now_ms)
{
	uint64_t round_seq = loop->timer_seq;

	while (loop->n_timers > 0 && !loop->stop) {
		struct ntm_timer *t = loop->heap[0];

		if (t->due_ms > now_ms || t->seq >= round_seq)
			break;
		heap_remove(loop, t);

		t->firing = true;
		t->cb(loop, t, t->arg);
		t->firing = false;

		if (t->cancelled || t->repeat_ms == 0) {
			free(t);
			continue;
		}
		/* After a stall, skip the missed periods instead of firing them all. */
		t->due_ms += t->repeat_ms;
		if (t->due_ms <= now_ms)
			t->due_ms = now_ms + t->repeat_ms;
		if (heap_push(loop, t) < 0) {
			log_err("event loop: cannot re-arm a repeating timer: out of memory");
			free(t);
		}
	}
}

/* ---- signals ---- */

static void on_signal_fd(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct signalfd_siginfo info[SIGNAL_BATCH];
	ssize_t n = read(fd, info, sizeof(info));

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("event loop: reading the signalfd failed: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < (size_t)n / sizeof(info[0]); i++) {
		for (size_t j = 0; j < loop->n_signals; j++) {
			struct signal_handler *h = &loop->signals[j];

			if ((uint32_t)h->signo == info[i].ssi_signo)
				h->cb(loop, h->signo, h->arg);
		}
	}
}

int ntm_loop_add_signal(struct ntm_loop *loop, int signo, ntm_loop_signal_cb cb, void *arg)
{
	sigset_t one;

	if (signo <= 0 || signo >= NSIG || !cb)
		return -EINVAL;
	if (sigismember(&loop->signal_mask, signo) == 1)
		return -EEXIST;

	sigemptyset(&one);
	sigaddset(&one, signo);
	/* Blocked so that only the signalfd receives it. Threads started later
	 * inherit the mask, so add signals before starting any thread. */
	if (sigprocmask(SIG_BLOCK, &one, NULL) < 0)
		return -errno;
	sigaddset(&loop->signal_mask, signo);

	int fd = signalfd(loop->signal_fd, &loop->signal_mask, SFD_NONBLOCK | SFD_CLOEXEC);

	if (fd < 0) {
		int err = -errno;

		sigdelset(&loop->signal_mask, signo);
		return err;
	}
	if (loop->signal_fd < 0) {
		int rc = ntm_loop_add_fd(loop, fd, ZMQ_POLLIN, on_signal_fd, NULL);

		if (rc < 0) {
			close(fd);
			sigdelset(&loop->signal_mask, signo);
			return rc;
		}
		loop->signal_fd = fd;
	}
	loop->signals[loop->n_signals++] = (struct signal_handler){ signo, cb, arg };
	return 0;
}

/* ---- prepare hooks and the poll round ---- */

int ntm_loop_add_prepare(struct ntm_loop *loop, ntm_loop_prepare_cb cb, void *arg)
{
	struct prepare_hook *p;

	if (!cb)
		return -EINVAL;
	p = reallocarray(loop->prepares, loop->n_prepares + 1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	loop->prepares = p;
	p[loop->n_prepares++] = (struct prepare_hook){ cb, arg };
	return 0;
}

static long min_timeout(long a, long b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static void sweep_prepares(struct ntm_loop *loop)
{
	size_t kept = 0;

	for (size_t i = 0; i < loop->n_prepares; i++) {
		if (loop->prepares[i].cb)
			loop->prepares[kept++] = loop->prepares[i];
	}
	loop->n_prepares = kept;
}

void ntm_loop_del_prepare(struct ntm_loop *loop, ntm_loop_prepare_cb cb, void *arg)
{
	for (size_t i = 0; i < loop->n_prepares; i++) {
		struct prepare_hook *p = &loop->prepares[i];

		if (p->cb == cb && p->arg == arg) {
			p->cb = NULL;
			break;
		}
	}
	if (!loop->preparing)
		sweep_prepares(loop);
}

/* Returns the poll timeout in milliseconds, -1 for none. */
static long compute_timeout(struct ntm_loop *loop)
{
	long timeout = -1;

	loop->preparing = true;
	for (size_t i = 0; i < loop->n_prepares; i++) {
		struct prepare_hook p = loop->prepares[i];

		if (p.cb)
			timeout = min_timeout(timeout, p.cb(loop, p.arg));
	}
	loop->preparing = false;
	sweep_prepares(loop);

	if (loop->n_timers > 0) {
		uint64_t now = ntm_now_ms();
		uint64_t due = loop->heap[0]->due_ms;
		uint64_t wait = due > now ? due - now : 0;

		timeout = min_timeout(timeout, wait > LONG_MAX ? LONG_MAX : (long)wait);
	}
	return timeout;
}

static int build_poll_set(struct ntm_loop *loop, size_t *n_items)
{
	size_t n = 0;
	size_t cap = loop->cap_items;
	struct watcher **iw = loop->item_watchers;

	if (grow_array((void **)&iw, &cap, loop->n_watchers, sizeof(*iw)) < 0)
		return -ENOMEM;
	loop->item_watchers = iw;
	if (grow_array((void **)&loop->items, &loop->cap_items, loop->n_watchers,
		       sizeof(*loop->items)) < 0)
		return -ENOMEM;

	for (size_t i = 0; i < loop->n_watchers; i++) {
		struct watcher *w = loop->watchers[i];

		if (w->removed)
			continue;
		loop->items[n] = (zmq_pollitem_t){ .socket = w->zsock, .fd = w->zsock ? 0 : w->fd,
						   .events = w->events };
		iw[n++] = w;
	}
	*n_items = n;
	return 0;
}

static void dispatch_ready(struct ntm_loop *loop, size_t n_items)
{
	for (size_t i = 0; i < n_items && !loop->stop; i++) {
		short revents = loop->items[i].revents;
		struct watcher *w = loop->item_watchers[i];

		/* An earlier callback of this round may have removed it. */
		if (!revents || w->removed)
			continue;
		if (w->zsock)
			w->zsock_cb(loop, w->zsock, revents, w->arg);
		else
			w->fd_cb(loop, w->fd, revents, w->arg);
	}
}

/* Waits for the next timer when nothing is polled: zmq_poll with no items
 * calls usleep(), which cannot wait without a timeout. */
static int poll_nothing(long timeout)
{
	struct timespec ts = { .tv_sec = timeout / 1000, .tv_nsec = (timeout % 1000) * 1000000 };

	if (timeout < 0) {
		log_err("event loop: nothing to wait for: no descriptors, sockets or timers");
		return -EDEADLK;
	}
	if (nanosleep(&ts, NULL) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

static int run_round(struct ntm_loop *loop)
{
	size_t n_items;
	long timeout = compute_timeout(loop);
	int rc;

	if (loop->stop)
		return 0;
	rc = build_poll_set(loop, &n_items);
	if (rc < 0) {
		log_err("event loop: cannot build the poll set: out of memory");
		return rc;
	}

	if (n_items == 0) {
		rc = poll_nothing(timeout);
		if (rc < 0)
			return rc;
	} else if (zmq_poll(loop->items, (int)n_items, timeout) < 0) {
		if (errno == EINTR)
			return 0;
		rc = -errno;
		log_err("event loop: zmq_poll failed: %s", zmq_strerror(-rc));
		return rc;
	}

	loop->dispatching = true;
	dispatch_ready(loop, n_items);
	run_timers(loop, ntm_now_ms());
	loop->dispatching = false;
	if (loop->watchers_dirty)
		sweep_watchers(loop);
	return 0;
}

int ntm_loop_run(struct ntm_loop *loop)
{
	int rc = 0;

	while (!loop->stop) {
		rc = run_round(loop);
		if (rc < 0)
			break;
	}
	/* Cleared so that the loop can be run again. */
	loop->stop = false;
	return rc;
}

void ntm_loop_stop(struct ntm_loop *loop)
{
	loop->stop = true;
}
