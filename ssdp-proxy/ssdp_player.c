/*
 * Player mode, the SSDP half: catches the M-SEARCHes of applications on
 * this host, answers them with the remote servers the DLNA Agent reported,
 * and announces those servers with NOTIFY on lo. Every datagram it sends
 * stays on this host: answers go to the application's own address, which
 * the kernel routes over lo, and NOTIFYs leave through lo with TTL 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "ntm_time.h"
#include "ssdp_msg.h"
#include "ssdp_player.h"

/* Datagrams read per wakeup, so one busy sender cannot starve the loop. */
#define PLAYER_RECV_BATCH 32
/* An answer's max-age when the Agent gave none, and the bounds applied to
 * it, in seconds. The lower bound keeps NOTIFYs, sent every max-age/3,
 * from flooding lo. */
#define PLAYER_DEFAULT_MAX_AGE 1800
#define PLAYER_MIN_MAX_AGE 30
/* SERVER header of answers whose SsdpAnswer has none. */
#define PLAYER_SERVER "Linux UPnP/1.0 ntm-ssdpd/" NTM_VERSION

/* ---- VIP sockets ---- */

/* Returns the socket that sends from vip:1900, opening it when needed. */
static int vip_socket(struct ssdpd *d, const struct ntm_ip *vip)
{
	struct ssdp_player *p = d->player;
	char text[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < p->n_vip_sockets; i++) {
		if (ntm_ip_equal(&p->vip_sockets[i].vip, vip))
			return p->vip_sockets[i].fd;
	}
	if (p->n_vip_sockets == PLAYER_MAX_VIP_SOCKETS)
		return -ENOSPC;

	static struct ntm_ratelimit warn_limit = NTM_RATELIMIT_INIT(5, 1);
	int fd = ssdp_net_vip_socket(vip);

	if (fd < 0) {
		if (ntm_ratelimit_allow(&warn_limit, ntm_now_ms()))
			log_warn("VIP %s: cannot open a socket on port 1900 to answer from: %s",
				 ntm_ip_str(vip, text, sizeof(text)), strerror(-fd));
		return fd;
	}
	p->vip_sockets[p->n_vip_sockets++] = (struct player_vip_socket){ .vip = *vip, .fd = fd };
	return fd;
}

/* Closes the sockets of VIPs that no cache entry uses any more. */
static void close_unused_vip_sockets(struct ssdpd *d)
{
	struct ssdp_player *p = d->player;

	for (size_t i = 0; i < p->n_vip_sockets;) {
		bool used = false;

		for (size_t j = 0; j < d->cache.n && !used; j++)
			used = ntm_ip_equal(&d->cache.entries[j]->source.ip, &p->vip_sockets[i].vip);
		if (used) {
			i++;
			continue;
		}
		close(p->vip_sockets[i].fd);
		p->vip_sockets[i] = p->vip_sockets[--p->n_vip_sockets];
	}
}

/* ---- answers and announcements ---- */

static struct ssdp_advert entry_advert(const struct ssdp_entry *e, const char *target)
{
	return (struct ssdp_advert){
		.usn = e->usn,
		.target = target,
		.location = e->location,
		.server = e->server[0] != '\0' ? e->server : PLAYER_SERVER,
		.max_age_s = e->max_age_s,
		.extra = (const char *const *)e->lines,
		.n_extra = e->n_lines,
	};
}

/*
 * Answers app's search for search_target with entry e, from the server's
 * VIP. The ST is the one searched for, except for ssdp:all, so that a
 * search for an older version of a type gets the version it asked for.
 */
static void send_answer(struct ssdpd *d, const struct ntm_endpoint *app,
			const char *search_target, const struct ssdp_entry *e)
{
	const char *target = strcmp(search_target, "ssdp:all") == 0 ? e->target : search_target;
	struct ssdp_advert a = entry_advert(e, target);
	char buf[SSDP_MSG_MAX], who[NTM_ENDPOINT_STRLEN];
	ssize_t len = ssdp_build_response(buf, sizeof(buf), &a);
	int fd = vip_socket(d, &e->source.ip);
	int rc;

	if (len < 0 || fd < 0)
		return;
	rc = ssdp_net_send(fd, buf, (size_t)len, app);
	if (rc < 0) {
		log_warn("application %s: cannot send the answer for %s: %s",
			 ntm_endpoint_str(app, who, sizeof(who)), e->usn, strerror(-rc));
		return;
	}
	d->counters[SSDPD_ANSWERS_SENT]++;
}

/* Sends ssdp:alive or ssdp:byebye for e to the applications on this host. */
static void send_notify(struct ssdpd *d, const struct ssdp_entry *e, bool alive)
{
	struct ssdp_advert a = entry_advert(e, e->target);
	struct ntm_endpoint group;
	char buf[SSDP_MSG_MAX];
	ssize_t len = ssdp_build_notify(buf, sizeof(buf), &a, alive);
	int fd = vip_socket(d, &e->source.ip);

	if (len < 0 || fd < 0)
		return;
	ssdp_net_group(&group);
	if (ssdp_net_send(fd, buf, (size_t)len, &group) < 0)
		return;
	d->counters[alive ? SSDPD_NOTIFY_ALIVE_SENT : SSDPD_NOTIFY_BYEBYE_SENT]++;
}

static void schedule_notify(struct ssdp_entry *e, uint64_t now_ms)
{
	e->next_notify_ms = now_ms + (uint64_t)e->max_age_s * 1000 / 3;
}

/* True when the entry's server announces itself directly on this host's LAN. */
static bool heard_directly(const struct ssdp_player *p, const struct ssdp_entry *e,
			   uint64_t now_ms)
{
	char udn[SSDP_UDN_MAX];

	if (ssdp_usn_udn(e->usn, udn, sizeof(udn)) < 0)
		return false;
	for (size_t i = 0; i < p->n_direct; i++) {
		if (p->direct[i].until_ms > now_ms && strcmp(p->direct[i].udn, udn) == 0)
			return true;
	}
	return false;
}

/* Answers app from the cache; returns the number of answers sent. */
static size_t answer_from_cache(struct ssdpd *d, const struct ntm_endpoint *app, const char *st)
{
	size_t sent = 0;

	for (size_t i = 0; i < d->cache.n; i++) {
		const struct ssdp_entry *e = d->cache.entries[i];

		if (!ssdp_st_matches(st, e->target) || heard_directly(d->player, e, ntm_now_ms()))
			continue;
		send_answer(d, app, st, e);
		sent++;
	}
	return sent;
}

/* ---- application searches ---- */

static struct player_search *search_record(struct ssdp_player *p, const char *st)
{
	size_t oldest = 0;

	for (size_t i = 0; i < p->n_searches; i++) {
		if (strcmp(p->searches[i].st, st) == 0)
			return &p->searches[i];
		if (p->searches[i].last_app_ms < p->searches[oldest].last_app_ms)
			oldest = i;
	}
	size_t idx = p->n_searches < PLAYER_MAX_SEARCHES ? p->n_searches++ : oldest;
	struct player_search *s = &p->searches[idx];

	*s = (struct player_search){ 0 };
	snprintf(s->st, sizeof(s->st), "%s", st);
	return s;
}

/* Remembers an unanswered search until its MX runs out; a repeat from the
 * same application only moves the deadline. */
static void add_pending(struct ssdp_player *p, const struct ntm_endpoint *app, const char *st,
			uint64_t deadline_ms)
{
	struct player_pending *slot = NULL;

	for (size_t i = 0; i < p->n_pending && !slot; i++) {
		if (ntm_endpoint_equal(&p->pending[i].app, app) && strcmp(p->pending[i].st, st) == 0)
			slot = &p->pending[i];
	}
	if (!slot && p->n_pending < PLAYER_MAX_PENDING)
		slot = &p->pending[p->n_pending++];
	if (!slot)
		return;
	slot->app = *app;
	snprintf(slot->st, sizeof(slot->st), "%s", st);
	slot->deadline_ms = deadline_ms;
}

/* UDA 2.0, section 1.3.2: a multicast M-SEARCH needs MAN "ssdp:discover",
 * an MX and an ST. */
static bool search_valid(const struct ssdp_msg *m)
{
	const char *st = ssdp_msg_st(m);

	return ssdp_msg_man_discover(m) && ssdp_msg_mx(m) > 0 && st && st[0] != '\0' &&
	       strlen(st) <= NTM_SEARCH_TARGET_MAX;
}

static void handle_search(struct ssdpd *d, const struct ntm_endpoint *app,
			  const struct ssdp_msg *m)
{
	struct ssdp_player *p = d->player;
	const char *st = ssdp_msg_st(m);
	uint64_t now = ntm_now_ms();
	char who[NTM_ENDPOINT_STRLEN];

	if (!search_valid(m)) {
		ssdpd_drop(d, SSDPD_DROP_BAD_SEARCH);
		ssdpd_log_drop(d, app, "M-SEARCH without MAN \"ssdp:discover\", a valid MX or ST");
		return;
	}
	d->counters[SSDPD_SEARCHES_CAUGHT]++;
	log_debug("application %s: M-SEARCH for %s", ntm_endpoint_str(app, who, sizeof(who)), st);

	struct player_search *s = search_record(p, st);

	s->last_app_ms = now;
	s->mx = (unsigned)ssdp_msg_mx(m);
	if (answer_from_cache(d, app, st) == 0)
		add_pending(p, app, st, now + (uint64_t)s->mx * 1000);

	/* The first search, and a repeat while no answer came, go through the
	 * tunnel at once; the tick refreshes answered ones. */
	if (s->last_sent_ms == 0 || (!s->answered && now - s->last_sent_ms >= 1000))
		ssdp_player_request_search(d, s, now);
}

static bool is_group(const struct ntm_ip *ip)
{
	struct ntm_endpoint group;

	ssdp_net_group(&group);
	return ntm_ip_equal(ip, &group.ip);
}

/* True for this daemon's own NOTIFYs, which loop back from a server's VIP. */
static bool from_vip(const struct ssdpd *d, const struct ntm_endpoint *src)
{
	for (size_t i = 0; i < d->cache.n; i++) {
		if (ntm_ip_equal(&d->cache.entries[i]->source.ip, &src->ip))
			return true;
	}
	return false;
}

/* Withdraws the VIP copies of a server: byebye once, then silence while the
 * server announces itself directly. */
static void withdraw_copies(struct ssdpd *d, const char *udn, uint64_t now_ms)
{
	char entry_udn[SSDP_UDN_MAX];

	for (size_t i = 0; i < d->cache.n; i++) {
		struct ssdp_entry *e = d->cache.entries[i];

		if (ssdp_usn_udn(e->usn, entry_udn, sizeof(entry_udn)) == 0 &&
		    strcmp(entry_udn, udn) == 0)
			send_notify(d, e, false);
	}
}

/* Records the UDN of a server that announces ssdp:alive on a LAN of this
 * host, for the announcement's max-age (UPnP Device Architecture 2.0, 1.2.2). */
static void note_direct(struct ssdpd *d, const struct ssdp_msg *m)
{
	struct ssdp_player *p = d->player;
	char udn[SSDP_UDN_MAX];
	uint32_t max_age = 1800;
	uint64_t now = ntm_now_ms();
	size_t i;

	if (ssdp_msg_nts(m) != SSDP_NTS_ALIVE || !ssdp_msg_usn(m) ||
	    ssdp_usn_udn(ssdp_msg_usn(m), udn, sizeof(udn)) < 0)
		return;
	ssdp_msg_max_age(m, &max_age);
	for (i = 0; i < p->n_direct; i++) {
		if (strcmp(p->direct[i].udn, udn) == 0 || p->direct[i].until_ms <= now)
			break;
	}
	if (i == p->n_direct) {
		if (p->n_direct == PLAYER_MAX_DIRECT)
			return;
		p->n_direct++;
	}
	bool known = strcmp(p->direct[i].udn, udn) == 0 && p->direct[i].until_ms > now;

	snprintf(p->direct[i].udn, sizeof(p->direct[i].udn), "%s", udn);
	p->direct[i].until_ms = now + (uint64_t)max_age * 1000;
	if (!known) {
		log_info("server %s: heard on this host's LAN; its VIP copy is withdrawn", udn);
		withdraw_copies(d, udn, now);
	}
}

static void handle_datagram(struct ssdpd *d, const uint8_t *buf, size_t len,
			    const struct ntm_endpoint *src, const struct ntm_ip *dst)
{
	struct ssdp_msg m;
	enum ssdp_status st = ssdp_msg_parse(&m, buf, len);

	if (st != SSDP_OK) {
		ssdpd_drop(d, SSDPD_DROP_MALFORMED);
		ssdpd_log_drop(d, src, ssdp_status_str(st));
		return;
	}
	if (m.kind == SSDP_KIND_NOTIFY && !ssdpd_is_local(d, &src->ip) && !from_vip(d, src)) {
		note_direct(d, &m);
		return;
	}
	/* Our own NOTIFYs and unicast searches aimed at another program
	 * sharing the port are not for the proxy. */
	if (m.kind != SSDP_KIND_MSEARCH || !is_group(dst))
		return;
	/* Privacy: only applications on this host learn of the remote servers. */
	if (!ssdpd_is_local(d, &src->ip)) {
		ssdpd_drop(d, SSDPD_DROP_NOT_LOCAL);
		ssdpd_log_drop(d, src, "M-SEARCH from another host");
		return;
	}
	handle_search(d, src, &m);
}

static void on_listen(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct ssdpd *d = arg;
	uint8_t buf[SSDP_MSG_MAX + 1];

	for (int i = 0; i < PLAYER_RECV_BATCH; i++) {
		struct ntm_endpoint src;
		struct ntm_ip dst;
		unsigned ifindex;
		ssize_t n = ssdp_net_recv(fd, buf, sizeof(buf), &src, &ifindex, &dst);

		if (n == -EAGAIN)
			return;
		if (n < 0) {
			ssdpd_drop(d, SSDPD_DROP_MALFORMED);
			continue;
		}
		handle_datagram(d, buf, (size_t)n, &src, &dst);
	}
}

/* ---- answers from the Agent ---- */

static bool lines_valid(char *const *lines, size_t n)
{
	if (n > NTM_MAX_SSDP_EXTRA_HEADERS)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!ssdp_value_valid(lines[i]))
			return false;
	}
	return true;
}

/*
 * Checks an SsdpAnswer before it reaches applications: text fields must fit
 * in a header, and LOCATION must point to the answer's IPv4 VIP, so the
 * Agent can direct applications only to addresses of the tunnel.
 */
static bool answer_valid(const Ntm__SsdpAnswer *a, struct ntm_ip *vip)
{
	struct ntm_endpoint loc;

	if (ntm_msg_ip_get(vip, a->vip) < 0 || vip->len != 4)
		return false;
	if (a->usn[0] == '\0' || a->st[0] == '\0' || !ssdp_value_valid(a->usn) ||
	    !ssdp_value_valid(a->st) || !ssdp_value_valid(a->server) ||
	    !ssdp_value_valid(a->location))
		return false;
	if (ssdp_location_endpoint(a->location, &loc) < 0 || !ntm_ip_equal(&loc.ip, vip))
		return false;
	return lines_valid(a->extra_headers, a->n_extra_headers);
}

static uint32_t answer_max_age(const Ntm__SsdpAnswer *a)
{
	if (a->max_age_s == 0)
		return PLAYER_DEFAULT_MAX_AGE;
	return a->max_age_s < PLAYER_MIN_MAX_AGE ? PLAYER_MIN_MAX_AGE : a->max_age_s;
}

/* Answers the waiting applications whose search e matches. */
static void answer_pending(struct ssdpd *d, const struct ssdp_entry *e)
{
	struct ssdp_player *p = d->player;

	for (size_t i = 0; i < p->n_pending; i++) {
		if (ssdp_st_matches(p->pending[i].st, e->target))
			send_answer(d, &p->pending[i].app, p->pending[i].st, e);
	}
}

static void add_answer(struct ssdpd *d, const Ntm__SsdpAnswer *a, uint64_t now_ms)
{
	struct ntm_ip vip;
	char text[INET6_ADDRSTRLEN];

	if (!answer_valid(a, &vip)) {
		ssdpd_drop(d, SSDPD_DROP_BAD_ANSWER);
		log_info("agent %s: ignored an answer whose fields are invalid or whose LOCATION "
			 "is not at its VIP", d->cfg.agent_fqdn);
		return;
	}

	struct ssdp_entry_update u = {
		.usn = a->usn, .target = a->st, .location = a->location, .server = a->server,
		.lines = (const char *const *)a->extra_headers, .n_lines = a->n_extra_headers,
		.source = { .ip = vip, .port = SSDP_PORT }, .max_age_s = answer_max_age(a),
	};
	enum ssdp_cache_result r = ssdp_cache_update(&d->cache, &u, now_ms, ntm_wall_ms());

	if (r == SSDP_CACHE_FULL || r == SSDP_CACHE_NO_MEMORY) {
		ssdpd_drop(d, SSDPD_DROP_CACHE_FULL);
		return;
	}

	struct ssdp_entry *e = d->cache.entries[ssdp_cache_find(&d->cache, a->usn)];

	if (r != SSDP_CACHE_REFRESHED) {
		log_info("server %s at VIP %s: %s (%s)", e->usn, ntm_ip_str(&vip, text, sizeof(text)),
			 r == SSDP_CACHE_NEW ? "learned" : "changed", e->location);
		send_notify(d, e, true);
		schedule_notify(e, now_ms);
	}
	answer_pending(d, e);
}

void ssdp_player_add_answers(struct ssdpd *d, const Ntm__MSearchResponse *r, uint64_t now_ms)
{
	for (size_t i = 0; i < r->n_answers; i++)
		add_answer(d, r->answers[i], now_ms);
	close_unused_vip_sockets(d);
}

void ssdp_player_tunnel_up(struct ssdpd *d, uint64_t now_ms)
{
	struct ssdp_player *p = d->player;

	for (size_t i = 0; i < p->n_searches; i++) {
		struct player_search *s = &p->searches[i];

		if (s->last_sent_ms == 0 || s->last_app_ms > s->last_sent_ms)
			ssdp_player_request_search(d, s, now_ms);
	}
}

void ssdp_player_tunnel_lost(struct ssdpd *d, const char *why)
{
	struct ssdp_player *p = d->player;

	if (d->cache.n > 0)
		log_info("agent %s: tunnel gone (%s); saying ssdp:byebye for %zu servers",
			 d->cfg.agent_fqdn, why, d->cache.n);
	for (size_t i = 0; i < d->cache.n; i++)
		send_notify(d, d->cache.entries[i], false);
	ssdp_cache_clear(&d->cache);
	close_unused_vip_sockets(d);
	/* The next application search requests the tunnel again. */
	for (size_t i = 0; i < p->n_searches; i++) {
		p->searches[i].last_sent_ms = 0;
		p->searches[i].answered = false;
	}
}

/* ---- housekeeping ---- */

static void expire_pending(struct ssdp_player *p, uint64_t now_ms)
{
	for (size_t i = 0; i < p->n_pending;) {
		if (p->pending[i].deadline_ms <= now_ms)
			p->pending[i] = p->pending[--p->n_pending];
		else
			i++;
	}
}

/* A server that expired may only have missed a search lost in a broken
 * tunnel: the next application search for its type goes through again. */
static void reopen_searches(struct ssdp_player *p, const char *target)
{
	for (size_t i = 0; i < p->n_searches; i++) {
		if (ssdp_st_matches(p->searches[i].st, target))
			p->searches[i].answered = false;
	}
}

/* Says byebye for expired servers and repeats ssdp:alive every max-age/3
 * for the others (UDA 2.0 recommends less than max-age/2). */
static void refresh_entries(struct ssdpd *d, uint64_t now_ms)
{
	bool removed = false;

	for (size_t i = 0; i < d->cache.n;) {
		struct ssdp_entry *e = d->cache.entries[i];

		if (e->expires_ms <= now_ms) {
			log_info("server %s: expired after %u s without an answer", e->usn,
				 e->max_age_s);
			reopen_searches(d->player, e->target);
			send_notify(d, e, false);
			ssdp_cache_remove(&d->cache, i);
			removed = true;
			continue;
		}
		if (e->next_notify_ms <= now_ms && !heard_directly(d->player, e, now_ms)) {
			send_notify(d, e, true);
			schedule_notify(e, now_ms);
		}
		i++;
	}
	if (removed)
		close_unused_vip_sockets(d);
}

/* Milliseconds between MSearchRequests for s while applications keep
 * searching: half the shortest max-age among its answers. */
static uint64_t refresh_interval_ms(const struct ssdpd *d, const struct player_search *s)
{
	uint64_t interval = (uint64_t)PLAYER_DEFAULT_MAX_AGE * 1000 / 2;

	for (size_t i = 0; i < d->cache.n; i++) {
		const struct ssdp_entry *e = d->cache.entries[i];

		if (ssdp_st_matches(s->st, e->target) && (uint64_t)e->max_age_s * 500 < interval)
			interval = (uint64_t)e->max_age_s * 500;
	}
	return interval;
}

static void refresh_searches(struct ssdpd *d, uint64_t now_ms)
{
	struct ssdp_player *p = d->player;

	for (size_t i = 0; i < p->n_searches; i++) {
		struct player_search *s = &p->searches[i];

		if (s->last_sent_ms == 0 || s->last_app_ms <= s->last_sent_ms)
			continue;
		if (now_ms - s->last_sent_ms >= refresh_interval_ms(d, s))
			ssdp_player_request_search(d, s, now_ms);
	}
}

void ssdp_player_tick(struct ssdpd *d, uint64_t now_ms)
{
	expire_pending(d->player, now_ms);
	refresh_entries(d, now_ms);
	if (d->player->tunnel == PLAYER_TUNNEL_UP)
		refresh_searches(d, now_ms);
	ssdp_player_ipc_tick(d, now_ms);
}

/* ---- multicast membership ---- */

static bool iface_present(const struct ssdpd *d, unsigned ifindex)
{
	for (size_t i = 0; i < d->n_ifaces; i++) {
		if (d->ifaces[i].ifindex == ifindex)
			return true;
	}
	return false;
}

static bool joined(const struct ssdp_player *p, unsigned ifindex)
{
	for (size_t i = 0; i < p->n_joined; i++) {
		if (p->joined[i] == ifindex)
			return true;
	}
	return false;
}

static void leave_gone_interfaces(struct ssdpd *d)
{
	struct ssdp_player *p = d->player;

	for (size_t i = 0; i < p->n_joined;) {
		if (iface_present(d, p->joined[i])) {
			i++;
			continue;
		}
		/* Fails when the interface was deleted, which drops it anyway. */
		ssdp_net_leave(d->listen_fd, p->joined[i]);
		p->joined[i] = p->joined[--p->n_joined];
	}
}

/* Joins the SSDP group on lo and on every interface that is up and can do
 * multicast, so searches sent out of any interface are caught. */
void ssdp_player_interfaces_changed(struct ssdpd *d)
{
	struct ssdp_player *p = d->player;

	leave_gone_interfaces(d);
	for (size_t i = 0; i < d->n_ifaces; i++) {
		const struct ssdp_ifaddr *a = &d->ifaces[i];
		int rc;

		if ((!a->loopback && !a->multicast) || joined(p, a->ifindex) ||
		    p->n_joined == SSDPD_MAX_LOCAL_ADDRS)
			continue;
		rc = ssdp_net_join(d->listen_fd, a->ifindex);
		if (rc < 0) {
			log_warn("interface %s: cannot join %s: %s", a->name, SSDP_MULTICAST_ADDR,
				 strerror(-rc));
			continue;
		}
		p->joined[p->n_joined++] = a->ifindex;
		log_info("interface %s: listening for M-SEARCH on %s:%d", a->name,
			 SSDP_MULTICAST_ADDR, SSDP_PORT);
	}
}

/* ---- start and stop ---- */

int ssdp_player_start(struct ssdpd *d, char *err, size_t err_size)
{
	int rc = ssdp_net_check_transparent();

	if (rc < 0) {
		snprintf(err, err_size, "cannot set IP_TRANSPARENT: %s; player mode answers from "
			 "the servers' VIPs, which needs CAP_NET_ADMIN or CAP_NET_RAW", strerror(-rc));
		return -1;
	}
	d->player = calloc(1, sizeof(*d->player));
	if (!d->player) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	d->listen_fd = ssdp_net_listen(err, err_size);
	if (d->listen_fd < 0)
		return -1;
	if (ntm_loop_add_fd(d->loop, d->listen_fd, ZMQ_POLLIN, on_listen, d) < 0) {
		snprintf(err, err_size, "cannot watch the SSDP socket");
		return -1;
	}
	ssdp_player_interfaces_changed(d);
	return ssdp_player_ipc_start(d, err, err_size);
}

void ssdp_player_stop(struct ssdpd *d)
{
	struct ssdp_player *p = d->player;

	if (!p)
		return;
	/* Applications should not keep servers the proxy no longer answers for. */
	ssdp_player_tunnel_lost(d, "ntm-ssdpd stopping");
	ssdp_player_ipc_stop(d);
	for (size_t i = 0; i < p->n_vip_sockets; i++)
		close(p->vip_sockets[i].fd);
	free(p);
	d->player = NULL;
}

void ssdp_player_status(struct ssdpd *d, json_t *status)
{
	struct ssdp_player *p = d->player;
	char vip[INET6_ADDRSTRLEN];

	json_object_set_new(status, "agent_fqdn", json_string(d->cfg.agent_fqdn));
	json_object_set_new(status, "noded_connected", json_boolean(p->noded_ready));
	json_object_set_new(status, "tunnel", json_string(ssdp_player_tunnel_str(p->tunnel)));
	json_object_set_new(status, "agent_vip",
			    p->agent_vip.len ? json_string(ntm_ip_str(&p->agent_vip, vip, sizeof(vip))) :
					       json_null());
	json_object_set_new(status, "search_targets", json_integer((json_int_t)p->n_searches));
	json_object_set_new(status, "pending_searches", json_integer((json_int_t)p->n_pending));
}
