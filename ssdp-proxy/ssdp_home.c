/*
 * Home mode, the LAN half: searches the home LAN with M-SEARCH and listens
 * for NOTIFY on the LAN interface only, keeping a cache of the servers by
 * USN. SSDP from outside lan_prefix, from this host, or with a LOCATION in
 * an ignore_prefix (the VIPs, which only a tunnel can have brought here) is
 * dropped, so nothing learned through a tunnel is announced back into it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zmq.h>

#include "ntm_time.h"
#include "ssdp_home.h"
#include "ssdp_msg.h"

#define HOME_RECV_BATCH 32
/* UDP may lose an M-SEARCH, so each is sent again after this many
 * milliseconds. */
#define HOME_REPEAT_MS 100
/* MX of the LAN searches, in seconds. */
#define HOME_SEARCH_MX 2
#define HOME_USER_AGENT "Linux UPnP/1.0 ntm-ssdpd/" NTM_VERSION
#define HOME_MEDIA_SERVER "urn:schemas-upnp-org:device:MediaServer:1"

/* ---- searching ---- */

static void send_search(struct ssdpd *d, const char *st, unsigned mx)
{
	struct ssdp_home *h = d->home;
	struct ntm_endpoint group;
	char buf[SSDP_MSG_MAX];
	ssize_t len = ssdp_build_msearch(buf, sizeof(buf), st, mx, HOME_USER_AGENT);
	int rc;

	if (len < 0 || h->search_fd < 0)
		return;
	ssdp_net_group(&group);
	rc = ssdp_net_send(h->search_fd, buf, (size_t)len, &group);
	if (rc < 0) {
		log_warn("interface %s: cannot send an M-SEARCH: %s", d->cfg.lan_interface,
			 strerror(-rc));
		return;
	}
	d->counters[SSDPD_LAN_SEARCHES]++;
}

static void on_repeat(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct ssdpd *d = arg;
	struct ssdp_home *h = d->home;

	h->repeat_timer = NULL;
	for (size_t i = 0; i < h->n_repeats; i++)
		send_search(d, h->repeats[i], HOME_SEARCH_MX);
	h->n_repeats = 0;
}

void ssdp_home_search(struct ssdpd *d, const char *st, unsigned mx)
{
	struct ssdp_home *h = d->home;

	send_search(d, st, mx);
	if (h->n_repeats == HOME_MAX_REPEATS)
		return;
	snprintf(h->repeats[h->n_repeats++], sizeof(h->repeats[0]), "%s", st);
	if (!h->repeat_timer)
		h->repeat_timer = ntm_loop_timer_add(d->loop, HOME_REPEAT_MS, 0, on_repeat, d);
}

static void periodic_search(struct ssdpd *d, uint64_t now_ms)
{
	d->home->last_search_ms = now_ms;
	ssdp_home_search(d, "ssdp:all", HOME_SEARCH_MX);
	ssdp_home_search(d, HOME_MEDIA_SERVER, HOME_SEARCH_MX);
}

/* ---- what the LAN announces ---- */

/*
 * Accepts SSDP only from lan_prefix. A server on this host is accepted too,
 * so the Agent can run on the media server's own host: what came through a
 * tunnel cannot come back this way, because its LOCATION is a VIP and VIPs
 * are in ignore_prefix, and the player side never announces on a LAN.
 */
static bool source_allowed(struct ssdpd *d, const struct ntm_endpoint *src)
{
	struct ssdp_home *h = d->home;
	char who[NTM_ENDPOINT_STRLEN], prefix[INET6_ADDRSTRLEN + 4];

	if (!ntm_prefix_contains(&d->cfg.lan_prefix, &src->ip)) {
		ssdpd_drop(d, SSDPD_DROP_OUTSIDE_PREFIX);
		if (ntm_ratelimit_allow(&h->prefix_log, ntm_now_ms()))
			log_info("%s: dropped SSDP from outside lan_prefix %s",
				 ntm_endpoint_str(src, who, sizeof(who)),
				 ntm_prefix_str(&d->cfg.lan_prefix, prefix, sizeof(prefix)));
		return false;
	}
	return true;
}

static bool location_allowed(struct ssdpd *d, const struct ntm_endpoint *src,
			     const char *location)
{
	struct ntm_endpoint loc;

	/* A host name cannot be checked; ntm-dad decides what to do with it. */
	if (ssdp_location_endpoint(location, &loc) < 0)
		return true;
	for (size_t i = 0; i < d->cfg.n_ignore_prefixes; i++) {
		if (ntm_prefix_contains(&d->cfg.ignore_prefixes[i], &loc.ip)) {
			ssdpd_drop(d, SSDPD_DROP_IGNORED_PREFIX);
			ssdpd_log_drop(d, src, "LOCATION in an ignore_prefix");
			return false;
		}
	}
	return true;
}

/*
 * Writes the message's headers as "Name: value" lines into storage, as an
 * answer carries them: a NOTIFY's NT becomes ST, and its HOST and NTS are
 * left out. Returns the number of lines.
 */
static size_t answer_lines(const struct ssdp_msg *m, char storage[][SSDP_LINE_MAX + 1],
			   const char **lines)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_headers && n < SSDP_CACHE_MAX_LINES; i++) {
		const char *name = m->headers[i].name;
		int len;

		if (m->kind == SSDP_KIND_NOTIFY &&
		    (strcasecmp(name, "HOST") == 0 || strcasecmp(name, "NTS") == 0))
			continue;
		if (m->kind == SSDP_KIND_NOTIFY && strcasecmp(name, "NT") == 0)
			name = "ST";
		len = snprintf(storage[n], SSDP_LINE_MAX + 1, "%s: %s", name, m->headers[i].value);
		if (len < 0 || len > SSDP_LINE_MAX)
			continue;
		lines[n] = storage[n];
		n++;
	}
	return n;
}

static void store(struct ssdpd *d, const struct ntm_endpoint *src, const struct ssdp_msg *m,
		  const char *target, uint32_t max_age)
{
	static char storage[SSDP_CACHE_MAX_LINES][SSDP_LINE_MAX + 1];
	const char *lines[SSDP_CACHE_MAX_LINES];
	char who[NTM_ENDPOINT_STRLEN];
	struct ssdp_entry_update u = {
		.usn = ssdp_msg_usn(m), .target = target, .location = ssdp_msg_location(m),
		.server = ssdp_msg_server(m), .lines = lines, .source = *src, .max_age_s = max_age,
	};

	u.n_lines = answer_lines(m, storage, lines);

	enum ssdp_cache_result r = ssdp_cache_update(&d->cache, &u, ntm_now_ms(), ntm_wall_ms());

	if (r == SSDP_CACHE_FULL || r == SSDP_CACHE_NO_MEMORY) {
		ssdpd_drop(d, SSDPD_DROP_CACHE_FULL);
		return;
	}
	if (r != SSDP_CACHE_REFRESHED)
		log_info("server %s at %s: %s (%s)", u.usn, ntm_endpoint_str(src, who, sizeof(who)),
			 r == SSDP_CACHE_NEW ? "learned" : "changed", u.location);
}

/* A NOTIFY ssdp:alive or a search answer: target is its NT or ST. */
static void handle_announcement(struct ssdpd *d, const struct ntm_endpoint *src,
				const struct ssdp_msg *m, const char *target)
{
	const char *usn = ssdp_msg_usn(m), *location = ssdp_msg_location(m);
	uint32_t max_age;

	if (!usn || !target || !location || usn[0] == '\0' || target[0] == '\0' ||
	    ssdp_msg_max_age(m, &max_age) < 0) {
		ssdpd_drop(d, SSDPD_DROP_BAD_ANNOUNCEMENT);
		ssdpd_log_drop(d, src, "announcement without USN, NT or ST, LOCATION or max-age");
		return;
	}
	if (!location_allowed(d, src, location))
		return;
	d->counters[m->kind == SSDP_KIND_NOTIFY ? SSDPD_NOTIFY_RECEIVED :
						  SSDPD_RESPONSES_RECEIVED]++;
	store(d, src, m, target, max_age);
}

static void forget(struct ssdpd *d, int idx, const char *why)
{
	struct ssdp_entry *e = d->cache.entries[idx];
	char who[NTM_ENDPOINT_STRLEN];

	log_info("server %s at %s: %s", e->usn, ntm_endpoint_str(&e->source, who, sizeof(who)),
		 why);
	ssdp_home_send_gone(d, e->usn);
	ssdp_cache_remove(&d->cache, (size_t)idx);
}

static void handle_notify(struct ssdpd *d, const struct ntm_endpoint *src,
			  const struct ssdp_msg *m)
{
	const char *usn = ssdp_msg_usn(m);
	int idx;

	switch (ssdp_msg_nts(m)) {
	case SSDP_NTS_ALIVE:
		handle_announcement(d, src, m, ssdp_msg_nt(m));
		break;
	case SSDP_NTS_BYEBYE:
		idx = usn ? ssdp_cache_find(&d->cache, usn) : -1;
		/* Only the server that announced an entry may withdraw it. */
		if (idx >= 0 && ntm_ip_equal(&d->cache.entries[idx]->source.ip, &src->ip)) {
			d->counters[SSDPD_NOTIFY_RECEIVED]++;
			forget(d, idx, "said ssdp:byebye");
		}
		break;
	default:
		/* ssdp:update (UDA 1.1 and later) changes no cache entry. */
		break;
	}
}

static bool parse(struct ssdpd *d, struct ssdp_msg *m, const uint8_t *buf, ssize_t n,
		  const struct ntm_endpoint *src)
{
	enum ssdp_status st;

	if (n < 0) {
		ssdpd_drop(d, SSDPD_DROP_MALFORMED);
		return false;
	}
	st = ssdp_msg_parse(m, buf, (size_t)n);
	if (st != SSDP_OK) {
		ssdpd_drop(d, SSDPD_DROP_MALFORMED);
		ssdpd_log_drop(d, src, ssdp_status_str(st));
		return false;
	}
	return true;
}

/* The shared port 1900: NOTIFYs. M-SEARCHes of LAN control points are for
 * the servers, not for the proxy. */
static void on_listen(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct ssdpd *d = arg;
	uint8_t buf[SSDP_MSG_MAX + 1];
	struct ssdp_msg m;

	for (int i = 0; i < HOME_RECV_BATCH; i++) {
		struct ntm_endpoint src;
		struct ntm_ip dst;
		unsigned ifindex;
		ssize_t n = ssdp_net_recv(fd, buf, sizeof(buf), &src, &ifindex, &dst);

		if (n == -EAGAIN)
			return;
		if (n >= 0 && ifindex != d->home->lan_ifindex) {
			ssdpd_drop(d, SSDPD_DROP_WRONG_INTERFACE);
			continue;
		}
		if (!parse(d, &m, buf, n, &src) || m.kind != SSDP_KIND_NOTIFY)
			continue;
		if (source_allowed(d, &src))
			handle_notify(d, &src, &m);
	}
}

/* The search socket: answers to our M-SEARCHes. */
static void on_search_answer(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct ssdpd *d = arg;
	uint8_t buf[SSDP_MSG_MAX + 1];
	struct ssdp_msg m;

	for (int i = 0; i < HOME_RECV_BATCH; i++) {
		struct ntm_endpoint src;
		struct ntm_ip dst;
		unsigned ifindex;
		ssize_t n = ssdp_net_recv(fd, buf, sizeof(buf), &src, &ifindex, &dst);

		if (n == -EAGAIN)
			return;
		if (!parse(d, &m, buf, n, &src))
			continue;
		if (m.kind != SSDP_KIND_RESPONSE) {
			ssdpd_drop(d, SSDPD_DROP_MALFORMED);
			continue;
		}
		if (source_allowed(d, &src))
			handle_announcement(d, &src, &m, ssdp_msg_st(&m));
	}
}

/* ---- the LAN interface ---- */

static void close_search_socket(struct ssdpd *d)
{
	struct ssdp_home *h = d->home;

	if (h->search_fd < 0)
		return;
	ntm_loop_del_fd(d->loop, h->search_fd);
	close(h->search_fd);
	h->search_fd = -1;
}

static int open_search_socket(struct ssdpd *d)
{
	struct ssdp_home *h = d->home;
	int fd = ssdp_net_search_socket(&h->lan_ip, h->lan_ifindex);

	if (fd < 0)
		return fd;
	if (ntm_loop_add_fd(d->loop, fd, ZMQ_POLLIN, on_search_answer, d) < 0) {
		close(fd);
		return -ENOMEM;
	}
	h->search_fd = fd;
	return 0;
}

static const struct ssdp_ifaddr *find_lan(const struct ssdpd *d)
{
	for (size_t i = 0; i < d->n_ifaces; i++) {
		if (strcmp(d->ifaces[i].name, d->cfg.lan_interface) == 0)
			return &d->ifaces[i];
	}
	return NULL;
}

static void lan_gone(struct ssdpd *d)
{
	struct ssdp_home *h = d->home;

	if (h->lan_ifindex == 0)
		return;
	log_warn("interface %s: down or without an IPv4 address; waiting for it",
		 d->cfg.lan_interface);
	close_search_socket(d);
	ssdp_net_leave(d->listen_fd, h->lan_ifindex);
	h->lan_ifindex = 0;
	h->lan_ip.len = 0;
}

static int lan_join(struct ssdpd *d, const struct ssdp_ifaddr *lan)
{
	struct ssdp_home *h = d->home;
	char ip[INET6_ADDRSTRLEN];
	int rc;

	lan_gone(d);
	rc = ssdp_net_join(d->listen_fd, lan->ifindex);
	if (rc == 0) {
		h->lan_ifindex = lan->ifindex;
		h->lan_ip = lan->ip;
		rc = open_search_socket(d);
	}
	if (rc < 0) {
		log_warn("interface %s: cannot set up SSDP: %s", lan->name, strerror(-rc));
		return rc;
	}
	log_info("interface %s (%s): listening for NOTIFY on %s:%d and searching", lan->name,
		 ntm_ip_str(&lan->ip, ip, sizeof(ip)), SSDP_MULTICAST_ADDR, SSDP_PORT);
	periodic_search(d, ntm_now_ms());
	return 0;
}

/* Follows the LAN interface: joins the group and opens the search socket
 * when it appears or its address changes. */
void ssdp_home_interfaces_changed(struct ssdpd *d)
{
	struct ssdp_home *h = d->home;
	const struct ssdp_ifaddr *lan = find_lan(d);

	if (!lan) {
		lan_gone(d);
		return;
	}
	if (lan->ifindex == h->lan_ifindex && ntm_ip_equal(&lan->ip, &h->lan_ip) &&
	    h->search_fd >= 0)
		return;
	lan_join(d, lan);
}

void ssdp_home_tick(struct ssdpd *d, uint64_t now_ms)
{
	struct ssdp_home *h = d->home;

	for (size_t i = 0; i < d->cache.n;) {
		if (d->cache.entries[i]->expires_ms <= now_ms)
			forget(d, (int)i, "expired");
		else
			i++;
	}
	if (h->search_fd >= 0 && now_ms - h->last_search_ms >= d->cfg.search_interval_s * 1000)
		periodic_search(d, now_ms);
}

void ssdp_home_status(struct ssdpd *d, json_t *status)
{
	struct ssdp_home *h = d->home;
	char ip[INET6_ADDRSTRLEN];

	json_object_set_new(status, "lan_interface", json_string(d->cfg.lan_interface));
	json_object_set_new(status, "lan_address",
			    h->lan_ip.len ? json_string(ntm_ip_str(&h->lan_ip, ip, sizeof(ip))) :
					    json_null());
	json_object_set_new(status, "clients", json_integer((json_int_t)h->n_clients));
}

int ssdp_home_start(struct ssdpd *d, char *err, size_t err_size)
{
	struct ssdp_home *h = calloc(1, sizeof(*h));

	if (!h) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	d->home = h;
	h->search_fd = -1;
	h->prefix_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(5, 1);
	d->listen_fd = ssdp_net_listen(err, err_size);
	if (d->listen_fd < 0)
		return -1;
	if (ntm_loop_add_fd(d->loop, d->listen_fd, ZMQ_POLLIN, on_listen, d) < 0) {
		snprintf(err, err_size, "cannot watch the SSDP socket");
		return -1;
	}
	if (ssdp_home_ipc_start(d, err, err_size) < 0)
		return -1;
	if (!find_lan(d))
		log_warn("interface %s: down or without an IPv4 address; waiting for it",
			 d->cfg.lan_interface);
	ssdp_home_interfaces_changed(d);
	return 0;
}

void ssdp_home_stop(struct ssdpd *d)
{
	struct ssdp_home *h = d->home;

	if (!h)
		return;
	if (h->repeat_timer)
		ntm_loop_timer_cancel(d->loop, h->repeat_timer);
	close_search_socket(d);
	ssdp_home_ipc_stop(d);
	free(h);
	d->home = NULL;
}
