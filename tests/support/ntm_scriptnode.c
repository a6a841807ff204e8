/*
 * ntm-scriptnode: a scripted NTM node on the command line, for demos and
 * manual checks of a DC. It registers, then either serves (keeps alive,
 * prints every message, acknowledges Route Directions) or requests a
 * direction to one peer and prints the Route Direction it receives.
 *
 * Exit status: 0 success, 1 the DC returned an error or no response,
 * 2 usage or local set-up error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ntm_testnode.h"
#include "ntm_time.h"

#define DEFAULT_TIMEOUT_MS 2000
/* Maximum wait in the serve loop, so SIGINT and SIGTERM stop it promptly. */
#define SERVE_SLICE_MS 250

struct options {
	struct ntm_endpoint dc;
	uint8_t dc_pub[NTM_KEY_LEN];
	bool have_dc, have_dc_key;
	const char *key_file;
	const char *fqdn;
	struct ntm_endpoint bind;
	bool have_bind;
	struct ntm_endpoint report[NTM_MAX_LOCAL_ENDPOINTS];
	size_t n_report;
	int timeout_ms;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int signo)
{
	stop_requested = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ntm-scriptnode --dc IP:PORT --dc-key BASE64 --key FILE --fqdn FQDN\n"
		"                      [--bind IP[:PORT]] [--report IP:PORT ...] [--timeout MS]\n"
		"                      serve [--seconds N] | direct PEER_FQDN [--exclude-private]\n"
		"\n"
		"  --dc IP:PORT      the DC's control UDP endpoint\n"
		"  --dc-key BASE64   the DC's public key (its private key file's .pub)\n"
		"  --key FILE        this node's private key file, mode 0600 (ntm-keygen)\n"
		"  --fqdn FQDN       the FQDN this node's key is enrolled under\n"
		"  --bind IP[:PORT]  local address of the UDP socket (default any, port 0)\n"
		"  --report IP:PORT  local endpoint to report, repeatable (default: the\n"
		"                    socket's address towards the DC, so no NAT is seen)\n"
		"  --timeout MS      how long to wait for each response (default %d)\n"
		"\n"
		"  serve             register, keep alive, print every message received and\n"
		"                    acknowledge Route Directions; --seconds N stops after N\n"
		"                    seconds (default: until SIGINT or SIGTERM)\n"
		"  direct PEER_FQDN  register, query the peer, request a direction to it and\n"
		"                    print the Route Direction; --exclude-private skips the\n"
		"                    same-NAT private endpoints\n",
		DEFAULT_TIMEOUT_MS);
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || *out > max)
		return -1;
	return 0;
}

/* Parses "IP" (port 0) or "IP:PORT". */
static int parse_bind(struct ntm_endpoint *ep, const char *text)
{
	memset(ep, 0, sizeof(*ep));
	if (ntm_endpoint_parse(ep, text, 0) == 0)
		return 0;
	return ntm_ip_parse(&ep->ip, text);
}

static int parse_option(struct options *o, int opt, const char *arg)
{
	unsigned long ms;

	switch (opt) {
	case 'd':
		o->have_dc = ntm_endpoint_parse(&o->dc, arg, 0) == 0;
		return o->have_dc ? 0 : -1;
	case 'k':
		o->have_dc_key = ntm_key_from_base64(o->dc_pub, arg) == 0;
		return o->have_dc_key ? 0 : -1;
	case 'K':
		o->key_file = arg;
		return 0;
	case 'f':
		o->fqdn = arg;
		return 0;
	case 'b':
		o->have_bind = true;
		return parse_bind(&o->bind, arg);
	case 'r':
		if (o->n_report == NTM_MAX_LOCAL_ENDPOINTS)
			return -1;
		return ntm_endpoint_parse(&o->report[o->n_report++], arg, 0);
	case 't':
		if (parse_uint(arg, 600000, &ms) != 0 || ms == 0)
			return -1;
		o->timeout_ms = (int)ms;
		return 0;
	default:
		return -1;
	}
}

static int parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dc", required_argument, NULL, 'd' },
		{ "dc-key", required_argument, NULL, 'k' },
		{ "key", required_argument, NULL, 'K' },
		{ "fqdn", required_argument, NULL, 'f' },
		{ "bind", required_argument, NULL, 'b' },
		{ "report", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			exit(0);
		}
		if (parse_option(o, opt, optarg) != 0) {
			fprintf(stderr, "ntm-scriptnode: invalid value '%s' for option %s\n",
				optarg ? optarg : "", argv[optind - 1]);
			return -1;
		}
	}
	if (!o->have_dc || !o->have_dc_key || !o->key_file || !o->fqdn) {
		fprintf(stderr, "ntm-scriptnode: --dc, --dc-key, --key and --fqdn are required\n");
		return -1;
	}
	return 0;
}

/* Finds the local address the kernel uses towards the DC, for the default
 * reported endpoint of a socket bound to the wildcard address. */
static int route_source(const struct ntm_endpoint *dc, struct ntm_ip *src)
{
	struct sockaddr_storage ss;
	socklen_t len = ntm_endpoint_to_sockaddr(dc, &ss);
	struct ntm_endpoint ep;
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    ntm_endpoint_from_sockaddr(&ep, (struct sockaddr *)&ss, len) == 0) {
			*src = ep.ip;
			rc = 0;
		}
	}
	close(fd);
	return rc;
}

static int open_node(struct ntm_testnode *node, struct options *o)
{
	char err[256], ip[INET6_ADDRSTRLEN];
	struct ntm_keypair kp;
	int rc;

	if (ntm_key_load(&kp, o->key_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "ntm-scriptnode: %s\n", err);
		return -1;
	}
	if (!o->have_bind)
		ntm_ip_parse(&o->bind.ip, o->dc.ip.len == 16 ? "::" : "0.0.0.0");
	rc = ntm_testnode_open(node, ntm_ip_str(&o->bind.ip, ip, sizeof(ip)), o->bind.port, &o->dc,
			       o->dc_pub, &kp);
	ntm_keypair_wipe(&kp);
	if (rc != 0) {
		fprintf(stderr, "ntm-scriptnode: cannot open a UDP socket on %s port %u: %s\n", ip,
			o->bind.port, strerror(-rc));
		return -1;
	}
	if (o->n_report > 0)
		return 0;
	o->report[0] = node->local;
	o->n_report = 1;
	if (!o->have_bind && route_source(&o->dc, &o->report[0].ip) != 0) {
		fprintf(stderr, "ntm-scriptnode: no route to the DC; pass --report IP:PORT\n");
		return -1;
	}
	return 0;
}

/* Prints env as one line. Returns its body case. */
static Ntm__Envelope__BodyCase print_env(Ntm__Envelope *env)
{
	char line[2048];
	Ntm__Envelope__BodyCase body = env->body_case;

	printf("%s\n", ntm_testnode_describe(env, line, sizeof(line)));
	return body;
}

static int do_register(struct ntm_testnode *node, const struct options *o, uint32_t *interval_s)
{
	Ntm__Envelope *env = ntm_testnode_register(node, o->fqdn, o->report, o->n_report,
						   o->timeout_ms);
	int rc = -1;

	if (!env) {
		printf("no answer to the registration of %s within %d ms\n", o->fqdn, o->timeout_ms);
		return -1;
	}
	if (env->body_case == NTM__ENVELOPE__BODY_REGISTRATION_RESPONSE) {
		if (interval_s)
			*interval_s = env->registration_response->keepalive_interval_s;
		rc = 0;
	}
	print_env(env);
	ntm_msg_free(env);
	return rc;
}

/* Handles one message in the serve loop. Returns -1 when serving must end. */
static int serve_message(struct ntm_testnode *node, const struct options *o, Ntm__Envelope *env)
{
	int rc = 0;

	print_env(env);
	if (env->body_case == NTM__ENVELOPE__BODY_ROUTE_DIRECTION) {
		if (ntm_testnode_ack_direction(node, env) == 0)
			printf("acknowledged route direction %016llx\n",
			       (unsigned long long)env->route_direction->direction_id);
	} else if (env->body_case == NTM__ENVELOPE__BODY_ERROR) {
		if (env->error->code == NTM__ERROR_CODE__ERROR_CODE_REGISTRATION_REQUIRED)
			rc = do_register(node, o, NULL);
		else if (env->error->code == NTM__ERROR_CODE__ERROR_CODE_REVOKED)
			rc = -1;
	}
	ntm_msg_free(env);
	return rc;
}

static int serve(struct ntm_testnode *node, const struct options *o, unsigned long seconds)
{
	uint64_t end = seconds ? ntm_now_ms() + seconds * 1000 : UINT64_MAX;
	uint32_t interval_s = 15;
	uint64_t next_keepalive, now;
	Ntm__Envelope *env;

	if (do_register(node, o, &interval_s) != 0)
		return 1;
	next_keepalive = ntm_now_ms() + (uint64_t)(interval_s ? interval_s : 1) * 1000;
	while (!stop_requested && (now = ntm_now_ms()) < end) {
		if (now >= next_keepalive) {
			env = ntm_testnode_keepalive(node, o->timeout_ms);
			if (!env)
				printf("no keepalive acknowledgement within %d ms\n", o->timeout_ms);
			else if (serve_message(node, o, env) != 0)
				return 1;
			next_keepalive = ntm_now_ms() + (uint64_t)(interval_s ? interval_s : 1) * 1000;
			continue;
		}
		env = ntm_testnode_recv(node, SERVE_SLICE_MS);
		if (env && serve_message(node, o, env) != 0)
			return 1;
	}
	return 0;
}

static int direct(struct ntm_testnode *node, const struct options *o, const char *peer,
		  bool exclude_private)
{
	Ntm__Envelope *env;
	uint8_t key[NTM_KEY_LEN];
	int rc;

	if (do_register(node, o, NULL) != 0)
		return 1;
	env = ntm_testnode_query_fqdn(node, peer, o->timeout_ms);
	if (!env) {
		printf("no answer to the query for %s within %d ms\n", peer, o->timeout_ms);
		return 1;
	}
	if (print_env(env) != NTM__ENVELOPE__BODY_NTM_QUERY_RESPONSE ||
	    !env->ntm_query_response->record ||
	    env->ntm_query_response->record->node_key.len != NTM_KEY_LEN) {
		ntm_msg_free(env);
		return 1;
	}
	memcpy(key, env->ntm_query_response->record->node_key.data, NTM_KEY_LEN);
	ntm_msg_free(env);

	env = ntm_testnode_direction(node, key, exclude_private, o->timeout_ms);
	if (!env) {
		printf("no answer to the direction request for %s within %d ms\n", peer,
		       o->timeout_ms);
		return 1;
	}
	if (env->body_case == NTM__ENVELOPE__BODY_ROUTE_DIRECTION)
		ntm_testnode_ack_direction(node, env);
	rc = print_env(env) == NTM__ENVELOPE__BODY_ROUTE_DIRECTION ? 0 : 1;
	ntm_msg_free(env);
	return rc;
}

static int run_command(struct ntm_testnode *node, const struct options *o, int argc, char **argv)
{
	unsigned long seconds = 0;

	if (strcmp(argv[0], "serve") == 0) {
		if (argc == 3 && strcmp(argv[1], "--seconds") == 0 &&
		    parse_uint(argv[2], 86400UL * 365, &seconds) == 0)
			return serve(node, o, seconds);
		if (argc == 1)
			return serve(node, o, 0);
	} else if (strcmp(argv[0], "direct") == 0) {
		if (argc == 2)
			return direct(node, o, argv[1], false);
		if (argc == 3 && strcmp(argv[2], "--exclude-private") == 0)
			return direct(node, o, argv[1], true);
	}
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct ntm_testnode node = { .fd = -1 };
	struct options o;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_options(&o, argc, argv) != 0 || optind >= argc) {
		usage(stderr);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (open_node(&node, &o) != 0) {
		ntm_testnode_close(&node);
		return 2;
	}
	rc = run_command(&node, &o, argc - optind, argv + optind);
	ntm_testnode_close(&node);
	return rc;
}
