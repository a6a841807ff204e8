/* Start-up, the housekeeping tick, the counters and the host's own
 * addresses, shared by both modes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "ntm_admin.h"
#include "ntm_time.h"
#include "ssdpd.h"

const char *ssdpd_counter_str(enum ssdpd_counter c)
{
	static const char *const names[SSDPD_COUNTER_COUNT] = {
		[SSDPD_SEARCHES_CAUGHT] = "searches_caught",
		[SSDPD_ANSWERS_SENT] = "answers_sent",
		[SSDPD_NOTIFY_ALIVE_SENT] = "notify_alive_sent",
		[SSDPD_NOTIFY_BYEBYE_SENT] = "notify_byebye_sent",
		[SSDPD_TUNNEL_REQUESTS] = "tunnel_requests",
		[SSDPD_MSEARCH_REQUESTS] = "msearch_requests",
		[SSDPD_MSEARCH_RESPONSES] = "msearch_responses",
		[SSDPD_NOTIFY_RECEIVED] = "notify_received",
		[SSDPD_RESPONSES_RECEIVED] = "responses_received",
		[SSDPD_LAN_SEARCHES] = "lan_searches",
		[SSDPD_IPC_SEARCHES] = "ipc_searches",
		[SSDPD_GONE_SENT] = "gone_sent",
	};

	return c < SSDPD_COUNTER_COUNT ? names[c] : "unknown";
}

const char *ssdpd_drop_str(enum ssdpd_drop reason)
{
	static const char *const names[SSDPD_DROP_COUNT] = {
		[SSDPD_DROP_MALFORMED] = "malformed",
		[SSDPD_DROP_BAD_SEARCH] = "bad_search",
		[SSDPD_DROP_NOT_LOCAL] = "not_local",
		[SSDPD_DROP_OUTSIDE_PREFIX] = "outside_prefix",
		[SSDPD_DROP_OWN_ADDRESS] = "own_address",
		[SSDPD_DROP_IGNORED_PREFIX] = "ignored_prefix",
		[SSDPD_DROP_BAD_ANNOUNCEMENT] = "bad_announcement",
		[SSDPD_DROP_WRONG_INTERFACE] = "wrong_interface",
		[SSDPD_DROP_CACHE_FULL] = "cache_full",
		[SSDPD_DROP_BAD_ANSWER] = "bad_answer",
		[SSDPD_DROP_BAD_IPC] = "bad_ipc",
	};

	return reason < SSDPD_DROP_COUNT ? names[reason] : "unknown";
}

void ssdpd_drop(struct ssdpd *d, enum ssdpd_drop reason)
{
	if (reason < SSDPD_DROP_COUNT)
		d->drops[reason]++;
}

void ssdpd_log_drop(struct ssdpd *d, const struct ntm_endpoint *from, const char *why)
{
	char who[NTM_ENDPOINT_STRLEN];

	if (!ntm_log_enabled(NTM_LOG_DEBUG) || !ntm_ratelimit_allow(&d->drop_log, ntm_now_ms()))
		return;
	log_debug("%s: dropped SSDP: %s", ntm_endpoint_str(from, who, sizeof(who)), why);
}

bool ssdpd_is_local(const struct ssdpd *d, const struct ntm_ip *ip)
{
	if (ip->len == 4 && ip->bytes[0] == 127)
		return true;
	for (size_t i = 0; i < d->n_ifaces; i++) {
		if (ntm_ip_equal(&d->ifaces[i].ip, ip))
			return true;
	}
	return false;
}

/* Reads the interfaces again; a failure keeps the last list. */
static void check_interfaces(struct ssdpd *d)
{
	int n = ssdp_net_interfaces(d->ifaces, SSDPD_MAX_LOCAL_ADDRS);

	if (n < 0) {
		log_warn("cannot list the network interfaces: %s", strerror(-n));
		return;
	}
	d->n_ifaces = (size_t)n;
	if (d->cfg.mode == SSDPD_MODE_PLAYER)
		ssdp_player_interfaces_changed(d);
	else
		ssdp_home_interfaces_changed(d);
}

static void on_tick(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct ssdpd *d = arg;
	uint64_t now = ntm_now_ms();

	if (now - d->last_interface_check_ms >= SSDPD_INTERFACE_CHECK_MS) {
		d->last_interface_check_ms = now;
		check_interfaces(d);
	}
	if (d->cfg.mode == SSDPD_MODE_PLAYER)
		ssdp_player_tick(d, now);
	else
		ssdp_home_tick(d, now);
}

int ssdpd_start(struct ssdpd *d, char *err, size_t err_size)
{
	int n;

	d->listen_fd = -1;
	d->drop_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(10, 1);
	d->zmq_ctx = zmq_ctx_new();
	if (!d->zmq_ctx) {
		snprintf(err, err_size, "cannot create the ZeroMQ context");
		return -1;
	}
	n = ssdp_net_interfaces(d->ifaces, SSDPD_MAX_LOCAL_ADDRS);
	d->n_ifaces = n > 0 ? (size_t)n : 0;
	d->last_interface_check_ms = ntm_now_ms();

	if (d->cfg.mode == SSDPD_MODE_PLAYER ? ssdp_player_start(d, err, err_size) :
					       ssdp_home_start(d, err, err_size))
		return -1;
	d->tick_timer = ntm_loop_timer_add(d->loop, SSDPD_TICK_MS, SSDPD_TICK_MS, on_tick, d);
	if (!d->tick_timer) {
		snprintf(err, err_size, "cannot start the housekeeping timer");
		return -1;
	}
	return ssdp_admin_start(d, err, err_size);
}

void ssdpd_stop(struct ssdpd *d)
{
	if (d->admin)
		ntm_admin_stop(d->admin);
	d->admin = NULL;
	if (d->tick_timer)
		ntm_loop_timer_cancel(d->loop, d->tick_timer);
	d->tick_timer = NULL;
	ssdp_player_stop(d);
	ssdp_home_stop(d);
	ssdp_cache_clear(&d->cache);
	if (d->listen_fd >= 0) {
		ntm_loop_del_fd(d->loop, d->listen_fd);
		close(d->listen_fd);
	}
	d->listen_fd = -1;
	if (d->zmq_ctx)
		zmq_ctx_term(d->zmq_ctx);
	d->zmq_ctx = NULL;
}
