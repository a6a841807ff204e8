/*
 * Minimal UDP forwarder: the baseline that scripts/bench.sh measures next to
 * ntm-rsd. One blocking socket, one recvfrom and one sendto per datagram, no
 * batching and no parsing. The source of the first datagram becomes peer 1,
 * the first source that differs from it peer 2. From then on a datagram from
 * one peer goes to the other and any other datagram is dropped, as ntm-rsd
 * forwards only between the two bound sides of a session. Learning the peers
 * lets them sit behind NATs whose mappings are not known in advance.
 *
 * Usage: udpfwd ADDR PORT SECONDS
 * Prints "ready" once bound, "peer ADDR:PORT" for each peer it learns and, at
 * exit after SECONDS or on SIGTERM, "forwarded N dropped N send_errors N".
 * Built by scripts/bench.sh with cc; IPv4 only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Requested socket buffer size in bytes, the same as ntm-rsd requests. The
 * kernel caps it at net.core.rmem_max and wmem_max. */
#define SOCKET_BUFFER (4 * 1024 * 1024)
/* Larger than any datagram the benchmark sends. */
#define DATAGRAM_MAX 2048
#define SECONDS_MAX 3600

struct counters {
	uint64_t forwarded, dropped, send_errors;
};

static volatile sig_atomic_t stop;

static void on_signal(int signo)
{
	(void)signo;
	stop = 1;
}

/* Installs handlers without SA_RESTART, so that a blocked recvfrom returns
 * EINTR when the time is up. */
static int setup_signals(unsigned seconds)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0)
		return -1;
	alarm(seconds);
	return 0;
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	unsigned long long value;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0' || value > max)
		return -1;
	*out = (unsigned long)value;
	return 0;
}

static int open_socket(const char *addr, unsigned long port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int size = SOCKET_BUFFER;
	int fd;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "udpfwd: invalid IPv4 address '%s'\n", addr);
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("udpfwd: socket");
		return -1;
	}
	/* Best effort, as in ntm-rsd: a smaller buffer only drops more in bursts. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "udpfwd: cannot bind %s:%lu: %s\n", addr, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static bool same_peer(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

static void print_peer(const struct sockaddr_in *peer)
{
	char text[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &peer->sin_addr, text, sizeof(text));
	printf("peer %s:%u\n", text, (unsigned)ntohs(peer->sin_port));
	fflush(stdout);
}

/* Returns the peer to send a datagram from src to, learning src as a peer
 * while fewer than two are known, or NULL to drop it. */
static const struct sockaddr_in *destination(struct sockaddr_in peers[2], unsigned *n_peers,
					     const struct sockaddr_in *src)
{
	if (*n_peers > 0 && same_peer(src, &peers[0]))
		return *n_peers == 2 ? &peers[1] : NULL;
	if (*n_peers == 2)
		return same_peer(src, &peers[1]) ? &peers[0] : NULL;
	peers[(*n_peers)++] = *src;
	print_peer(src);
	return NULL;
}

static void forward_loop(int fd, struct counters *c)
{
	static uint8_t buf[DATAGRAM_MAX];
	struct sockaddr_in peers[2];
	unsigned n_peers = 0;

	while (!stop) {
		struct sockaddr_in src;
		socklen_t src_len = sizeof(src);
		const struct sockaddr_in *to;
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &src_len);

		if (n < 0)
			continue; /* EINTR at the end, or a transient error */
		to = destination(peers, &n_peers, &src);
		if (!to) {
			c->dropped++;
			continue;
		}
		if (sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
			c->send_errors++;
		else
			c->forwarded++;
	}
}

int main(int argc, char **argv)
{
	struct counters c = { 0 };
	unsigned long port, seconds;
	int fd;

	if (argc != 4 || parse_uint(argv[2], 65535, &port) < 0 ||
	    parse_uint(argv[3], SECONDS_MAX, &seconds) < 0 || port == 0 || seconds == 0) {
		fprintf(stderr, "usage: udpfwd ADDR PORT SECONDS (PORT 1 to 65535, SECONDS 1 to %d)\n",
			SECONDS_MAX);
		return 2;
	}
	fd = open_socket(argv[1], port);
	if (fd < 0)
		return 1;
	if (setup_signals((unsigned)seconds) < 0) {
		perror("udpfwd: sigaction");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	forward_loop(fd, &c);
	printf("forwarded %" PRIu64 " dropped %" PRIu64 " send_errors %" PRIu64 "\n", c.forwarded,
	       c.dropped, c.send_errors);
	close(fd);
	return 0;
}
