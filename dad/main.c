/* ntm-dad: the DLNA Agent daemon. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "dad.h"
#include "dad_conf.h"
#include "dad_proxy.h"
#include "ntm_admin.h"
#include "ntm_conf.h"
#include "ntm_daemon.h"
#include "ntm_time.h"

#define DAD_DEFAULT_CONFIG "/etc/ntm/dad.conf"
/* From <linux/netfilter_ipv4.h>, which clashes with <netinet/in.h>. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#define DAD_ACCEPT_BATCH 32

static struct dad_gena *gena;

bool dad_node_allowed(const struct dad *dad, const char *fqdn)
{
	size_t f = strlen(fqdn);

	for (size_t i = 0; i < dad->n_allow; i++) {
		const char *a = dad->allow[i];
		size_t n = strlen(a);

		/* An entry is a node's FQDN or a domain whose nodes are all allowed. */
		if (strcmp(fqdn, a) == 0 || (f > n && fqdn[f - n - 1] == '.' &&
					     strcmp(fqdn + f - n, a) == 0))
			return true;
	}
	return false;
}

void dad_player_seen(struct dad *dad, const char *fqdn, const struct ntm_ip *vip)
{
	size_t i;

	pthread_mutex_lock(&dad->players_lock);
	for (i = 0; i < dad->n_players; i++) {
		if (ntm_ip_equal(&dad->players[i].vip, vip))
			break;
	}
	if (i == dad->n_players && dad->n_players < DAD_MAX_PLAYERS)
		dad->n_players++;
	if (i < dad->n_players) {
		dad->players[i].vip = *vip;
		snprintf(dad->players[i].fqdn, sizeof(dad->players[i].fqdn), "%s", fqdn);
		dad->players[i].last_seen_ms = ntm_wall_ms();
	}
	pthread_mutex_unlock(&dad->players_lock);
}

bool dad_player_allowed(struct dad *dad, const struct ntm_ip *vip)
{
	bool found = false;

	pthread_mutex_lock(&dad->players_lock);
	for (size_t i = 0; i < dad->n_players && !found; i++)
		found = ntm_ip_equal(&dad->players[i].vip, vip);
	pthread_mutex_unlock(&dad->players_lock);
	return found;
}

/* ---- callbacks of the proxy threads: take the server table's lock ---- */

static bool lookup_real(void *ctx, const struct in_addr *vip, struct in_addr *real)
{
	struct dad *dad = ctx;
	struct ntm_ip v, r;

	ntm_ip_from_bytes(&v, (const uint8_t *)vip, 4);
	if (!dad_servers_real(&dad->servers, &v, &r) || r.len != 4)
		return false;
	memcpy(real, r.bytes, 4);
	return true;
}

static size_t map_snapshot(void *ctx, struct http_rewrite_pair *pairs, size_t max)
{
	struct dad *dad = ctx;
	struct ntm_ip real[DAD_PROXY_MAP_MAX], vip[DAD_PROXY_MAP_MAX];
	size_t n = dad_servers_pairs(&dad->servers, real, vip,
				     max < DAD_PROXY_MAP_MAX ? max : DAD_PROXY_MAP_MAX);
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		if (real[i].len != 4 || vip[i].len != 4)
			continue;
		memcpy(&pairs[out].real, real[i].bytes, 4);
		memcpy(&pairs[out].vip, vip[i].bytes, 4);
		out++;
	}
	return out;
}

static void callback_route(void *ctx, const struct dad_gena_route *route)
{
	dad_ipc_queue_route(ctx, route);
}

/* ---- the redirected connections ---- */

static void accept_one(struct dad *dad, int fd, const struct sockaddr_in *client)
{
	struct sockaddr_in orig;
	socklen_t len = sizeof(orig);
	struct ntm_ip player;
	char text[INET_ADDRSTRLEN];

	/* The VIP and port the player connected to, before the redirect. */
	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &orig, &len) < 0) {
		close(fd);
		return;
	}
	ntm_ip_from_bytes(&player, (const uint8_t *)&client->sin_addr, 4);
	if (!dad_player_allowed(dad, &player)) {
		dad->refused_connections++;
		log_info("%s: connection rejected: no M-SEARCH from an allowed node at this VIP",
			 inet_ntop(AF_INET, &client->sin_addr, text, sizeof(text)));
		close(fd);
		return;
	}
	dad->accepted++;
	dad_proxy_handle(dad->proxy, fd, client, &orig);
}

static void on_listen(struct ntm_loop *loop, int lfd, short revents, void *arg)
{
	struct dad *dad = arg;

	for (int i = 0; i < DAD_ACCEPT_BATCH; i++) {
		struct sockaddr_in client;
		socklen_t len = sizeof(client);
		int fd = accept4(lfd, (struct sockaddr *)&client, &len, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("proxy: accept failed: %s", strerror(errno));
			return;
		}
		accept_one(dad, fd, &client);
	}
}

static int open_listener(struct dad *dad, char *err, size_t err_size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)dad->cfg.proxy_port) };
	int one = 1;

	dad->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (dad->listen_fd < 0 ||
	    setsockopt(dad->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(dad->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(dad->listen_fd, 128) < 0) {
		snprintf(err, err_size, "proxy: cannot listen on TCP port %llu: %s; check [dad] "
			 "proxy_port", (unsigned long long)dad->cfg.proxy_port, strerror(errno));
		return -1;
	}
	return ntm_loop_add_fd(dad->loop, dad->listen_fd, ZMQ_POLLIN, on_listen, dad);
}

static int start_proxy(struct dad *dad, char *err, size_t err_size)
{
	static const struct dad_proxy_ops ops = { lookup_real, map_snapshot };
	static const struct dad_gena_ops gops = { map_snapshot, callback_route };
	struct dad_proxy_conf pc = { .max_connections = (unsigned)dad->cfg.max_connections };
	struct dad_gena_conf gc = { .bind_server_vip = true };
	int rc;

	/* dad_conf_load has checked it already. This check guards the 4-byte copy. */
	if (dad->cfg.lan_address.len != 4) {
		char where[NTM_CONF_WHERE_MAX];

		snprintf(err, err_size, "%s: [dad] lan_address must be an IPv4 address",
			 ntm_conf_where(where, sizeof(where), dad->config_path, "dad",
					"lan_address"));
		return -1;
	}
	memcpy(&pc.lan_addr, dad->cfg.lan_address.bytes, 4);
	gc.lan_addr = pc.lan_addr;
	rc = dad_gena_start(&gena, &gc, &gops, dad);
	if (rc < 0) {
		snprintf(err, err_size, "GENA: cannot listen on the LAN address: %s", strerror(-rc));
		return -1;
	}
	rc = dad_proxy_new(&dad->proxy, &pc, &ops, dad, gena);
	if (rc < 0) {
		snprintf(err, err_size, "proxy: cannot start: %s", strerror(-rc));
		return -1;
	}
	return open_listener(dad, err, err_size);
}

/* ---- admin API ---- */

static unsigned get_servers(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dad *dad = arg;
	json_t *arr = json_array();
	char real[INET6_ADDRSTRLEN], vip[INET6_ADDRSTRLEN];

	pthread_mutex_lock(&dad->servers.lock);
	for (size_t i = 0; i < dad->servers.n; i++) {
		const struct dad_server *s = &dad->servers.list[i];

		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b}", "udn",
						     s->udn, "friendly_name", s->friendly_name,
						     "real_address",
						     ntm_ip_str(&s->real, real, sizeof(real)), "vip",
						     ntm_ip_str(&s->vip, vip, sizeof(vip)), "location",
						     s->location, "last_seen_ms",
						     (json_int_t)s->last_seen_ms, "gone", s->gone));
	}
	pthread_mutex_unlock(&dad->servers.lock);
	*resp = json_pack("{s:o}", "servers", arr);
	return 200;
}

static unsigned get_players(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dad *dad = arg;
	json_t *arr = json_array(), *allow = json_array();
	char vip[INET6_ADDRSTRLEN];

	pthread_mutex_lock(&dad->players_lock);
	for (size_t i = 0; i < dad->n_players; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "fqdn",
						     dad->players[i].fqdn, "vip",
						     ntm_ip_str(&dad->players[i].vip, vip, sizeof(vip)),
						     "last_seen_ms",
						     (json_int_t)dad->players[i].last_seen_ms));
	pthread_mutex_unlock(&dad->players_lock);
	for (size_t i = 0; i < dad->n_allow; i++)
		json_array_append_new(allow, json_string(dad->allow[i]));
	*resp = json_pack("{s:o, s:o}", "allow", allow, "players", arr);
	return 200;
}

static unsigned get_proxy(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dad *dad = arg;
	struct dad_proxy_stats st;

	dad_proxy_get_stats(dad->proxy, &st);
	*resp = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "accepted",
			  (json_int_t)st.accepted, "active_streams", (json_int_t)st.active,
			  "rejected_busy", (json_int_t)st.rejected_busy, "rejected_unknown",
			  (json_int_t)st.rejected_unknown, "upstream_failed",
			  (json_int_t)st.upstream_failed, "requests", (json_int_t)st.requests,
			  "bodies_rewritten", (json_int_t)st.bodies_rewritten, "bytes_to_player",
			  (json_int_t)st.bytes_to_player, "bytes_to_server",
			  (json_int_t)st.bytes_to_server, "rejected_nodes",
			  (json_int_t)(dad->refused_nodes + dad->refused_connections));
	return 200;
}

static void gena_metrics(struct dad *dad, struct ntm_metrics *m)
{
	struct dad_gena_stats st;

	dad_gena_get_stats(gena, &st);
	ntm_metrics_gauge(m, "ntm_dad_gena_subscriptions", "GENA subscriptions kept now",
			  (double)st.subscriptions);
	ntm_metrics_counter(m, "ntm_dad_gena_notify_delivered_total",
			    "GENA NOTIFYs a player responded 2xx to", st.notify_delivered);
	ntm_metrics_counter(m, "ntm_dad_gena_notify_failed_total",
			    "GENA NOTIFYs no callback of the player took", st.notify_failed);
	pthread_mutex_lock(&dad->routes_lock);
	ntm_metrics_counter(m, "ntm_dad_gena_routes_sent_total",
			    "GENA callback routes sent to players' nodes", dad->routes_sent);
	ntm_metrics_counter(m, "ntm_dad_gena_routes_dropped_total",
			    "GENA callback routes dropped because the queue was full",
			    dad->routes_dropped);
	pthread_mutex_unlock(&dad->routes_lock);
}

/* Prometheus counters of the proxy and the Agent's access control. */
static void metrics(struct ntm_metrics *m, void *arg)
{
	struct dad *dad = arg;
	struct dad_proxy_stats st;

	dad_proxy_get_stats(dad->proxy, &st);
	ntm_metrics_counter(m, "ntm_dad_connections_total",
			    "Player connections handed to the proxy", st.accepted);
	ntm_metrics_gauge(m, "ntm_dad_active_streams", "Proxied connections open now",
			  (double)st.active);
	ntm_metrics_counter(m, "ntm_dad_proxied_requests_total", "HTTP requests proxied",
			    st.requests);
	ntm_metrics_counter(m, "ntm_dad_bodies_rewritten_total",
			    "Response bodies whose addresses were translated",
			    st.bodies_rewritten);
	ntm_metrics_counter(m, "ntm_dad_bytes_to_player_total", "Bytes sent to players",
			    st.bytes_to_player);
	ntm_metrics_counter(m, "ntm_dad_bytes_to_server_total", "Bytes sent to servers",
			    st.bytes_to_server);
	ntm_metrics_counter(m, "ntm_dad_upstream_failures_total",
			    "Connections whose server failed before responding",
			    st.upstream_failed);
	ntm_metrics_counter(m, "ntm_dad_searches_total", "M-SEARCH Requests from players",
			    dad->searches);
	ntm_metrics_counter(m, "ntm_dad_rejected_nodes_total",
			    "Searches and connections from nodes that are not allowed",
			    dad->refused_nodes + dad->refused_connections);
	gena_metrics(dad, m);
}

static void stream_json(const char *name, uint64_t started_ms, void *arg)
{
	json_array_append_new(arg, json_pack("{s:s, s:I}", "connection", name, "started_ms",
					     (json_int_t)started_ms));
}

static unsigned get_streams(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct dad *dad = arg;
	json_t *arr = json_array();

	dad_proxy_each_stream(dad->proxy, stream_json, arr);
	*resp = json_pack("{s:o}", "streams", arr);
	return 200;
}

static int start_admin(struct dad *dad, char *err, size_t err_size)
{
	struct ntm_admin_config ac = {
		.listen = dad->cfg.admin_listen,
		.token_file = dad->cfg.admin_token_file,
		.daemon_name = "ntm-dad",
		.cert_file = dad->cfg.admin_cert_file,
		.key_file = dad->cfg.admin_key_file,
	};

	dad->admin = ntm_admin_start(&ac, dad->loop, err, err_size);
	if (!dad->admin)
		return -1;
	ntm_admin_set_metrics(dad->admin, metrics, dad);
	if (ntm_admin_route(dad->admin, "GET", "/v1/servers", get_servers, dad) < 0 ||
	    ntm_admin_route(dad->admin, "GET", "/v1/players", get_players, dad) < 0 ||
	    ntm_admin_route(dad->admin, "GET", "/v1/proxy", get_proxy, dad) < 0 ||
	    ntm_admin_route(dad->admin, "GET", "/v1/streams", get_streams, dad) < 0) {
		snprintf(err, err_size, "admin API: cannot register the routes");
		return -1;
	}
	return 0;
}

/* ---- process ---- */

static void on_stop(struct ntm_loop *loop, int signo, void *arg)
{
	log_info("received %s, stopping", strsignal(signo));
	ntm_loop_stop(loop);
}

static void on_reload(struct ntm_loop *loop, int signo, void *arg)
{
	struct dad *dad = arg;
	char err[NTM_CONF_ERR_MAX];

	if (ntm_admin_reload_token(dad->admin, dad->cfg.admin_token_file, err, sizeof(err)) < 0)
		log_err("reload: %s; keeping the old admin token", err);
	log_info("admin token reloaded; other settings change only on restart");
}

static int start(struct dad *dad, char *err, size_t err_size)
{
	dad->listen_fd = dad->routes_fd = -1;
	pthread_mutex_init(&dad->players_lock, NULL);
	pthread_mutex_init(&dad->routes_lock, NULL);
	dad->routes_log = (struct ntm_ratelimit)NTM_RATELIMIT_INIT(5, 1);
	dad->routes_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dad->routes_fd < 0) {
		snprintf(err, err_size, "cannot create an eventfd: %s", strerror(errno));
		return -1;
	}
	if (dad_servers_init(&dad->servers, dad->cfg.state_file, err, err_size) < 0)
		return -1;
	dad->loop = ntm_loop_new();
	if (!dad->loop) {
		snprintf(err, err_size, "cannot create the event loop");
		return -1;
	}
	if (ntm_loop_add_signal(dad->loop, SIGTERM, on_stop, dad) < 0 ||
	    ntm_loop_add_signal(dad->loop, SIGINT, on_stop, dad) < 0 ||
	    ntm_loop_add_signal(dad->loop, SIGHUP, on_reload, dad) < 0) {
		snprintf(err, err_size, "cannot set up signal handling");
		return -1;
	}
	if (start_proxy(dad, err, err_size) < 0 || start_admin(dad, err, err_size) < 0)
		return -1;
	return dad_ipc_start(dad, err, err_size);
}

static void stop(struct dad *dad)
{
	if (dad->admin)
		ntm_admin_stop(dad->admin);
	dad_ipc_stop(dad);
	if (dad->redirect_installed)
		dad_redirect_remove(dad);
	if (dad->listen_fd >= 0)
		close(dad->listen_fd);
	dad_proxy_free(dad->proxy);
	dad_gena_stop(gena);
	if (dad->routes_fd >= 0)
		close(dad->routes_fd);
	if (dad->loop)
		ntm_loop_free(dad->loop);
	dad_servers_destroy(&dad->servers);
	dad_conf_free(dad);
}

int main(int argc, char **argv)
{
	struct ntm_daemon_args args;
	static struct dad dad;
	char err[NTM_CONF_ERR_MAX];
	int rc = 1;

	ntm_daemon_parse_args(&args, argc, argv, "ntm-dad", DAD_DEFAULT_CONFIG);
	if (sodium_init() < 0) {
		fprintf(stderr, "ntm-dad: libsodium failed to initialise\n");
		return 1;
	}
	if (dad_conf_load(&dad, args.config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "ntm-dad: %s\n", err);
		dad_conf_free(&dad);
		return 1;
	}
	if (args.check_only) {
		printf("ntm-dad: configuration %s is valid\n", args.config_path);
		dad_conf_free(&dad);
		return 0;
	}
	dad.config_path = args.config_path;
	ntm_daemon_open_log(&args, "ntm-dad");
	if (args.verbose == 0)
		ntm_log_set_level(dad.cfg.log_level);
	/* A player that closes a stream must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);

	if (start(&dad, err, sizeof(err)) < 0) {
		log_err("cannot start: %s", err);
		goto out;
	}
	log_info("ntm-dad %s started; proxy on TCP port %llu", NTM_VERSION,
		 (unsigned long long)dad.cfg.proxy_port);
	rc = ntm_loop_run(dad.loop) < 0 ? 1 : 0;
	log_info("ntm-dad stopped");
out:
	stop(&dad);
	return rc;
}
