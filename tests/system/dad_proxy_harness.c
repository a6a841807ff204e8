/*
 * Test harness for the DLNA Agent's proxy (tests/system/test_dad_proxy.sh),
 * in place of ntm-dad. It listens on the VIP itself instead of behind an
 * nftables redirect, and takes the listening address as each connection's
 * original destination. It maps that one VIP to one real address and runs
 * the GENA relay on the Agent's LAN address.
 *
 * Usage: dad_proxy_harness -l VIP:PORT [-l VIP:PORT]... -r REAL_ADDR -a LAN_ADDR [-v]
 * Every -l names the same VIP, each with a port of the server (at most
 * LISTEN_MAX). Prints "gena_port N" once ready. On SIGTERM or SIGINT it
 * stops, prints one "name value" line per counter, and exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dad_gena.h"
#include "dad_proxy.h"
#include "ntm_addr.h"
#include "ntm_log.h"

#define LISTEN_MAX 4

static volatile sig_atomic_t stop_requested;
static struct http_rewrite_pair pair;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static bool lookup_real(void *ctx, const struct in_addr *vip, struct in_addr *real)
{
	if (vip->s_addr != pair.vip.s_addr)
		return false;
	*real = pair.real;
	return true;
}

static size_t map_snapshot(void *ctx, struct http_rewrite_pair *pairs, size_t max)
{
	if (max == 0)
		return 0;
	pairs[0] = pair;
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: dad_proxy_harness -l VIP:PORT [-l VIP:PORT]... -r REAL_ADDR "
			"-a LAN_ADDR [-v]\n");
	return 2;
}

static int listen_on(const struct sockaddr_in *addr)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0 || listen(fd, 64) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void print_stats(struct dad_proxy *proxy, struct dad_gena *gena)
{
	struct dad_proxy_stats p;
	struct dad_gena_stats g;

	dad_proxy_get_stats(proxy, &p);
	dad_gena_get_stats(gena, &g);
	printf("proxy.accepted %" PRIu64 "\nproxy.requests %" PRIu64 "\n"
	       "proxy.rejected_unknown %" PRIu64 "\nproxy.rejected_busy %" PRIu64 "\n"
	       "proxy.upstream_failed %" PRIu64 "\nproxy.bodies_rewritten %" PRIu64 "\n"
	       "proxy.urls_rewritten %" PRIu64 "\nproxy.bytes_to_player %" PRIu64 "\n",
	       p.accepted, p.requests, p.rejected_unknown, p.rejected_busy, p.upstream_failed,
	       p.bodies_rewritten, p.urls_rewritten, p.bytes_to_player);
	printf("gena.subscribed %" PRIu64 "\ngena.notify_received %" PRIu64 "\n"
	       "gena.notify_delivered %" PRIu64 "\ngena.notify_failed %" PRIu64 "\n",
	       g.subscribed, g.notify_received, g.notify_delivered, g.notify_failed);
	fflush(stdout);
}

/* Accepts until SIGTERM or SIGINT. A connection's original
 * destination is the address of the socket that accepted it. */
static void serve(const struct pollfd *fds, const struct sockaddr_in *dsts, size_t count,
		  struct dad_proxy *proxy)
{
	while (!stop_requested) {
		struct pollfd pfds[LISTEN_MAX];

		memcpy(pfds, fds, sizeof(*fds) * count);
		if (poll(pfds, count, 200) <= 0)
			continue;
		for (size_t i = 0; i < count; i++) {
			struct sockaddr_in client;
			socklen_t len = sizeof(client);
			int conn;

			if (!(pfds[i].revents & POLLIN))
				continue;
			conn = accept4(pfds[i].fd, (struct sockaddr *)&client, &len, SOCK_CLOEXEC);
			if (conn >= 0)
				dad_proxy_handle(proxy, conn, &client, &dsts[i]);
		}
	}
}

/* Command line: the listening addresses, the real address, the LAN address. */
struct options {
	struct sockaddr_in dsts[LISTEN_MAX];
	size_t count;
	struct in_addr lan;
	bool verbose;
};

static bool add_listener(struct options *o, const char *text)
{
	struct ntm_endpoint ep;
	struct sockaddr_in *dst = &o->dsts[o->count];

	if (o->count == LISTEN_MAX || ntm_endpoint_parse(&ep, text, 0) < 0 || ep.ip.len != 4)
		return false;
	*dst = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(ep.port) };
	memcpy(&dst->sin_addr, ep.ip.bytes, 4);
	/* One VIP: the harness maps one server. */
	if (o->count > 0 && dst->sin_addr.s_addr != o->dsts[0].sin_addr.s_addr)
		return false;
	o->count++;
	return true;
}

static bool parse_options(int argc, char **argv, struct options *o)
{
	int opt;

	while ((opt = getopt(argc, argv, "l:r:a:v")) != -1) {
		bool ok = true;

		if (opt == 'l')
			ok = add_listener(o, optarg);
		else if (opt == 'r')
			ok = inet_pton(AF_INET, optarg, &pair.real) == 1;
		else if (opt == 'a')
			ok = inet_pton(AF_INET, optarg, &o->lan) == 1;
		else if (opt == 'v')
			o->verbose = true;
		else
			ok = false;
		if (!ok)
			return false;
	}
	return o->count > 0 && pair.real.s_addr != 0 && o->lan.s_addr != 0;
}

int main(int argc, char **argv)
{
	struct options o = { .count = 0 };
	struct pollfd fds[LISTEN_MAX];
	struct dad_proxy_conf conf = { 0 };
	struct dad_gena_conf gconf = { .bind_server_vip = true };
	struct dad_proxy_ops ops = { .lookup_real = lookup_real, .map_snapshot = map_snapshot };
	struct dad_gena_ops gops = { .map_snapshot = map_snapshot };
	struct dad_proxy *proxy;
	struct dad_gena *gena;
	int ret;

	if (!parse_options(argc, argv, &o))
		return usage();
	pair.vip = o.dsts[0].sin_addr;
	conf.lan_addr = o.lan;
	gconf.lan_addr = o.lan;

	ntm_log_open("dad_proxy_harness", true, o.verbose ? NTM_LOG_DEBUG : NTM_LOG_INFO);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < o.count; i++) {
		fds[i] = (struct pollfd){ .fd = listen_on(&o.dsts[i]), .events = POLLIN };
		if (fds[i].fd < 0) {
			fprintf(stderr, "dad_proxy_harness: cannot listen: %s\n", strerror(errno));
			return 1;
		}
	}
	ret = dad_gena_start(&gena, &gconf, &gops, NULL);
	if (ret == 0)
		ret = dad_proxy_new(&proxy, &conf, &ops, NULL, gena);
	if (ret < 0) {
		fprintf(stderr, "dad_proxy_harness: cannot start: %s\n", strerror(-ret));
		return 1;
	}
	printf("gena_port %u\n", dad_gena_port(gena));
	fflush(stdout);

	serve(fds, o.dsts, o.count, proxy);
	for (size_t i = 0; i < o.count; i++)
		close(fds[i].fd);
	print_stats(proxy, gena);
	dad_proxy_free(proxy);
	dad_gena_stop(gena);
	return 0;
}
