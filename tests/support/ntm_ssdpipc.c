/*
 * ntm-ssdpipc: the other ends of ntm-ssdpd's local IPC, for the system
 * tests.
 *
 *   ntm-ssdpipc search IPC ST [MX]
 *       Plays ntm-dad against a home-mode ntm-ssdpd: connects a DEALER,
 *       sends LocalHello{role "dad"} and LocalSsdpSearch{ST, MX}, prints the
 *       LocalSsdpAnswers and exits (1 after 5 s without an answer).
 *   ntm-ssdpipc watch IPC SECONDS
 *       Says LocalHello{role "dad"} and prints every LocalSsdpGone that
 *       arrives within SECONDS.
 *   ntm-ssdpipc fake-noded IPC LOCATION VIP [MAX_AGE]
 *       Plays ntm-noded against a player-mode ntm-ssdpd: binds a ROUTER,
 *       answers LocalTunnelRequest with LocalTunnelStatus{up} and each
 *       MSearchRequest, whatever its search target, with an MSearchResponse
 *       of one MediaServer:1 SsdpAnswer at LOCATION from VIP. SIGUSR1 makes it report the tunnel as down.
 *       Runs until SIGTERM.
 *
 * Output lines: "answer SOURCE" followed by "  Name: value" lines, "gone
 * USN", and for fake-noded one line per message received.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ntm_msg.h"
#include "ntm_time.h"
#include "ssdp_ipc.h"

#define FAKE_USN_UDN "uuid:4d696e69-444c-164e-9d41-0000000000aa"
#define FAKE_TYPE "urn:schemas-upnp-org:device:MediaServer:1"

static volatile sig_atomic_t stop_requested, tunnel_down_requested;

static void on_signal(int signo)
{
	if (signo == SIGUSR1)
		tunnel_down_requested = 1;
	else
		stop_requested = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: ntm-ssdpipc search IPC ST [MX]\n"
			"       ntm-ssdpipc watch IPC SECONDS\n"
			"       ntm-ssdpipc fake-noded IPC LOCATION VIP [MAX_AGE]\n");
	return 2;
}

/* Waits up to timeout_ms for a message. Returns NULL on timeout or signal. */
static Ntm__LocalMessage *wait_message(void *sock, uint8_t *id, size_t *id_len, long timeout_ms)
{
	zmq_pollitem_t item = { .socket = sock, .events = ZMQ_POLLIN };
	uint64_t deadline = ntm_now_ms() + (uint64_t)timeout_ms;

	while (!stop_requested) {
		int error = 0;
		Ntm__LocalMessage *m = ssdp_ipc_recv(sock, id, id_len, &error);
		uint64_t now = ntm_now_ms();

		if (m)
			return m;
		if (error == -EBADMSG)
			fprintf(stderr, "ntm-ssdpipc: dropped a malformed message\n");
		if (now >= deadline || tunnel_down_requested)
			return NULL;
		zmq_poll(&item, 1, (long)(deadline - now < 100 ? deadline - now : 100));
	}
	return NULL;
}

static void *dealer_hello(void *ctx, const char *ipc)
{
	void *sock = zmq_socket(ctx, ZMQ_DEALER);
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalHello hello = NTM__LOCAL_HELLO__INIT;

	ssdp_ipc_setup(sock);
	if (zmq_connect(sock, ipc) < 0) {
		fprintf(stderr, "ntm-ssdpipc: cannot connect to %s: %s\n", ipc, zmq_strerror(errno));
		exit(1);
	}
	hello.role = "dad";
	m.protocol_version = NTM_PROTOCOL_VERSION;
	m.request_id = 1;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_HELLO;
	m.hello = &hello;
	ssdp_ipc_send(sock, NULL, 0, &m);
	return sock;
}

static void print_answers(const Ntm__LocalSsdpAnswers *a)
{
	for (size_t i = 0; i < a->n_answers; i++) {
		const Ntm__SsdpRawAnswer *r = a->answers[i];
		struct ntm_endpoint ep = { 0 };
		char text[NTM_ENDPOINT_STRLEN] = "?";

		if (r->source && ntm_msg_endpoint_get(&ep, r->source) == 0)
			ntm_endpoint_str(&ep, text, sizeof(text));
		printf("answer %s\n", text);
		for (size_t j = 0; j < r->n_headers; j++)
			printf("  %s\n", r->headers[j]);
	}
}

static int run_search(void *ctx, const char *ipc, const char *st, unsigned mx)
{
	void *sock = dealer_hello(ctx, ipc);
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalSsdpSearch search = NTM__LOCAL_SSDP_SEARCH__INIT;
	Ntm__LocalMessage *answer;
	int rc = 1;

	search.search_target = (char *)st;
	search.mx = mx;
	m.protocol_version = NTM_PROTOCOL_VERSION;
	m.request_id = 42;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_SSDP_SEARCH;
	m.ssdp_search = &search;
	ssdp_ipc_send(sock, NULL, 0, &m);

	while ((answer = wait_message(sock, NULL, NULL, 5000))) {
		bool done = answer->request_id == 42;

		if (done && answer->body_case == NTM__LOCAL_MESSAGE__BODY_SSDP_ANSWERS) {
			print_answers(answer->ssdp_answers);
			rc = 0;
		} else if (done) {
			printf("unexpected %d\n", (int)answer->body_case);
		}
		ntm__local_message__free_unpacked(answer, NULL);
		if (done)
			break;
	}
	zmq_close(sock);
	return rc;
}

static int run_watch(void *ctx, const char *ipc, long seconds)
{
	void *sock = dealer_hello(ctx, ipc);
	uint64_t deadline = ntm_now_ms() + (uint64_t)seconds * 1000;
	Ntm__LocalMessage *m;

	printf("watching\n");
	fflush(stdout);
	while (ntm_now_ms() < deadline &&
	       (m = wait_message(sock, NULL, NULL, (long)(deadline - ntm_now_ms())))) {
		if (m->body_case == NTM__LOCAL_MESSAGE__BODY_SSDP_GONE)
			printf("gone %s\n", m->ssdp_gone->usn);
		fflush(stdout);
		ntm__local_message__free_unpacked(m, NULL);
	}
	zmq_close(sock);
	return 0;
}

/* ---- fake ntm-noded ---- */

struct fake {
	void *router;
	uint8_t id[SSDP_IPC_MAX_ROUTING_ID];
	size_t id_len;
	const char *location;
	struct ntm_ip vip;
	unsigned max_age;
	char peer[256];
};

static void send_status(struct fake *f, uint64_t request_id, bool up)
{
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalTunnelStatus ts = NTM__LOCAL_TUNNEL_STATUS__INIT;
	struct ntm_ip agent_vip;

	ntm_ip_parse(&agent_vip, "198.51.100.2");
	ts.peer_fqdn = f->peer;
	ts.peer_vip = ntm_msg_ip_bytes(&agent_vip);
	ts.up = up;
	m.protocol_version = NTM_PROTOCOL_VERSION;
	m.request_id = request_id;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_TUNNEL_STATUS;
	m.tunnel_status = &ts;
	ssdp_ipc_send(f->router, f->id, f->id_len, &m);
}

static void send_response(struct fake *f, const Ntm__LocalTunnelMessage *req)
{
	Ntm__LocalMessage m = NTM__LOCAL_MESSAGE__INIT;
	Ntm__LocalTunnelMessage tm = NTM__LOCAL_TUNNEL_MESSAGE__INIT;
	Ntm__MSearchResponse resp = NTM__MSEARCH_RESPONSE__INIT;
	Ntm__SsdpAnswer a = NTM__SSDP_ANSWER__INIT, *list[1] = { &a };
	char *extra[1] = { "BOOTID.UPNP.ORG: 1" };
	/* The Agent answers for the one server it knows, whatever the search. */
	a.usn = FAKE_USN_UDN "::" FAKE_TYPE;
	a.st = FAKE_TYPE;
	a.location = (char *)f->location;
	a.server = "Linux/6 DLNADOC/1.50 UPnP/1.0 MiniDLNA/1.3.0";
	a.max_age_s = f->max_age;
	a.vip = ntm_msg_ip_bytes(&f->vip);
	a.extra_headers = extra;
	a.n_extra_headers = 1;
	resp.answers = list;
	resp.n_answers = 1;
	resp.last = true;
	tm.peer_fqdn = f->peer;
	tm.request_id = req->request_id;
	tm.body_case = NTM__LOCAL_TUNNEL_MESSAGE__BODY_MSEARCH_RESPONSE;
	tm.msearch_response = &resp;
	m.protocol_version = NTM_PROTOCOL_VERSION;
	m.body_case = NTM__LOCAL_MESSAGE__BODY_TUNNEL_MESSAGE;
	m.tunnel_message = &tm;
	ssdp_ipc_send(f->router, f->id, f->id_len, &m);
}

static void fake_handle(struct fake *f, const Ntm__LocalMessage *m)
{
	switch (m->body_case) {
	case NTM__LOCAL_MESSAGE__BODY_HELLO:
		printf("hello role=%s\n", m->hello->role);
		break;
	case NTM__LOCAL_MESSAGE__BODY_TUNNEL_REQUEST:
		printf("tunnel_request peer=%s\n", m->tunnel_request->peer_fqdn);
		snprintf(f->peer, sizeof(f->peer), "%s", m->tunnel_request->peer_fqdn);
		send_status(f, m->request_id, true);
		break;
	case NTM__LOCAL_MESSAGE__BODY_TUNNEL_MESSAGE:
		if (m->tunnel_message->body_case !=
		    NTM__LOCAL_TUNNEL_MESSAGE__BODY_MSEARCH_REQUEST)
			break;
		printf("msearch_request peer=%s st=%s mx=%u request_id=%llu\n",
		       m->tunnel_message->peer_fqdn, m->tunnel_message->msearch_request->search_target,
		       m->tunnel_message->msearch_request->mx,
		       (unsigned long long)m->tunnel_message->request_id);
		send_response(f, m->tunnel_message);
		break;
	default:
		printf("unexpected body %d\n", (int)m->body_case);
		break;
	}
	fflush(stdout);
}

static int run_fake_noded(void *ctx, const char *ipc, struct fake *f)
{
	char err[256];

	f->router = zmq_socket(ctx, ZMQ_ROUTER);
	ssdp_ipc_setup(f->router);
	if (ssdp_ipc_bind(f->router, ipc, err, sizeof(err)) < 0) {
		fprintf(stderr, "ntm-ssdpipc: %s\n", err);
		return 1;
	}
	printf("listening %s\n", ipc);
	fflush(stdout);
	while (!stop_requested) {
		Ntm__LocalMessage *m = wait_message(f->router, f->id, &f->id_len, 1000);

		if (tunnel_down_requested) {
			tunnel_down_requested = 0;
			printf("reporting the tunnel down\n");
			fflush(stdout);
			send_status(f, 0, false);
		}
		if (!m)
			continue;
		fake_handle(f, m);
		ntm__local_message__free_unpacked(m, NULL);
	}
	zmq_close(f->router);
	return 0;
}

int main(int argc, char **argv)
{
	void *ctx = zmq_ctx_new();
	struct fake f = { .max_age = 1810 };
	int rc;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGUSR1, on_signal);
	if (argc >= 4 && strcmp(argv[1], "search") == 0)
		rc = run_search(ctx, argv[2], argv[3], argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 2);
	else if (argc == 4 && strcmp(argv[1], "watch") == 0)
		rc = run_watch(ctx, argv[2], strtol(argv[3], NULL, 10));
	else if (argc >= 5 && strcmp(argv[1], "fake-noded") == 0) {
		f.location = argv[3];
		if (ntm_ip_parse(&f.vip, argv[4]) < 0)
			return usage();
		if (argc > 5)
			f.max_age = (unsigned)strtoul(argv[5], NULL, 10);
		rc = run_fake_noded(ctx, argv[2], &f);
	} else {
		rc = usage();
	}
	zmq_ctx_term(ctx);
	return rc;
}
