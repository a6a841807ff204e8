/*
 * Load generator and counting receiver for the forwarding-rate measurement of
 * scripts/bench.sh, used alike through ntm-rsd and through udpfwd.
 *
 *   udpload send BIND_PORT ADDR PORT SECONDS SIZE SESSION_ID
 *     Sends SIZE-byte UDP datagrams from BIND_PORT to ADDR:PORT for SECONDS,
 *     as fast as sendmmsg takes them, 64 per call. Each datagram is a relay
 *     data packet (libntm/ntm_relay.h) of session SESSION_ID (16 hex digits)
 *     around an inner data packet (libntm/ntm_codec.h) whose counter is a
 *     sequence number and whose ciphertext and tag are zero bytes. ntm-rsd
 *     checks only the lengths, types, session and source of a relay data
 *     packet and never decrypts it, so it forwards these as it forwards
 *     tunnel traffic. Prints "sent N seconds S send_errors N".
 *
 *   udpload recv PORT SECONDS [HELLO_ADDR HELLO_PORT]
 *     Binds PORT, sends one datagram to HELLO_ADDR:HELLO_PORT when given (so
 *     that the NAT in front opens a mapping and udpfwd learns this peer),
 *     prints "ready" and counts datagrams until SECONDS pass, or 0.5 s pass
 *     without one after the first. Prints "received N".
 *
 * Built by scripts/bench.sh with cc; IPv4 only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
/* Relay data header 12 bytes, inner data header 16 bytes, AEAD tag 16 bytes. */
#define SIZE_MIN 44
/* The largest UDP payload in a 1500-byte IPv4 packet. */
#define SIZE_MAX_BYTES 1472
#define SECONDS_MAX 3600
/* The receiver stops after this long without a datagram, once one came. */
#define IDLE_END_NS 500000000LL
#define SOCKET_BUFFER (4 * 1024 * 1024)

static int parse_number(const char *text, int base, unsigned long long max,
			unsigned long long *out)
{
	char *end = NULL;
	unsigned long long value;

	if (text[0] == '\0' || text[0] == '-' || text[0] == '+' || text[0] == ' ')
		return -1;
	errno = 0;
	value = strtoull(text, &end, base);
	if (errno != 0 || *end != '\0' || value > max)
		return -1;
	*out = value;
	return 0;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int to_sockaddr(const char *addr, const char *port_text, struct sockaddr_in *out)
{
	unsigned long long port;

	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &out->sin_addr) != 1 ||
	    parse_number(port_text, 10, 65535, &port) < 0 || port == 0) {
		fprintf(stderr, "udpload: invalid address %s port %s\n", addr, port_text);
		return -1;
	}
	out->sin_port = htons((uint16_t)port);
	return 0;
}

/* Opens a UDP socket bound to port on every address, with large buffers. */
static int open_socket(const char *port_text)
{
	struct sockaddr_in sin;
	int size = SOCKET_BUFFER;
	int fd;

	if (to_sockaddr("0.0.0.0", port_text, &sin) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("udpload: socket");
		return -1;
	}
	/* SO_*BUFFORCE passes net.core.rmem_max as root, so the load tool's own
	 * buffers never limit the forwarder under test. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "udpload: cannot bind port %s: %s\n", port_text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* Writes the relay data header and the inner data header. The rest of the
 * datagram stays zero. */
static void build_datagram(uint8_t *pkt, uint64_t session_id, uint64_t sequence)
{
	pkt[0] = 1; /* version */
	pkt[1] = 4; /* relay data */
	put_be64(pkt + 4, session_id);
	pkt[12] = 1; /* inner version */
	pkt[13] = 2; /* inner type: data */
	put_be64(pkt + 12 + 8, sequence);
}

struct sender {
	int fd;
	size_t size;
	uint64_t session_id;
	uint64_t sent, send_errors;
	uint8_t bufs[BATCH][SIZE_MAX_BYTES];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
};

static void send_batch(struct sender *s)
{
	int n;

	for (size_t i = 0; i < BATCH; i++)
		build_datagram(s->bufs[i], s->session_id, s->sent + i);
	n = sendmmsg(s->fd, s->msgs, BATCH, 0);
	if (n < 0) {
		s->send_errors += BATCH;
		return;
	}
	s->sent += (uint64_t)n;
	s->send_errors += (uint64_t)(BATCH - n);
}

static int run_send(char **argv)
{
	static struct sender s;
	unsigned long long seconds, size, session_id;
	struct sockaddr_in to;
	long long start, end;

	if (parse_number(argv[4], 10, SECONDS_MAX, &seconds) < 0 || seconds == 0 ||
	    parse_number(argv[5], 10, SIZE_MAX_BYTES, &size) < 0 || size < SIZE_MIN ||
	    strlen(argv[6]) != 16 || parse_number(argv[6], 16, UINT64_MAX, &session_id) < 0) {
		fprintf(stderr, "udpload: invalid SECONDS (1 to %d), SIZE (%d to %d) or "
			"SESSION_ID (16 hex digits)\n", SECONDS_MAX, SIZE_MIN, SIZE_MAX_BYTES);
		return 2;
	}
	if (to_sockaddr(argv[2], argv[3], &to) < 0)
		return 2;
	s.fd = open_socket(argv[1]);
	if (s.fd < 0)
		return 1;
	s.size = (size_t)size;
	s.session_id = session_id;
	for (size_t i = 0; i < BATCH; i++) {
		s.iov[i] = (struct iovec){ .iov_base = s.bufs[i], .iov_len = s.size };
		s.msgs[i].msg_hdr = (struct msghdr){ .msg_name = &to, .msg_namelen = sizeof(to),
						     .msg_iov = &s.iov[i], .msg_iovlen = 1 };
	}

	start = now_ns();
	end = start + (long long)seconds * 1000000000LL;
	while (now_ns() < end)
		send_batch(&s);
	printf("sent %" PRIu64 " seconds %.6f send_errors %" PRIu64 "\n", s.sent,
	       (double)(now_ns() - start) / 1e9, s.send_errors);
	close(s.fd);
	return 0;
}

static int send_hello(int fd, const char *addr, const char *port)
{
	static const char hello[] = "udpload hello";
	struct sockaddr_in to;

	if (to_sockaddr(addr, port, &to) < 0)
		return -1;
	if (sendto(fd, hello, sizeof(hello) - 1, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		fprintf(stderr, "udpload: hello to %s:%s failed: %s\n", addr, port, strerror(errno));
		return -1;
	}
	return 0;
}

/* Counts datagrams until the deadline, or IDLE_END_NS after the last one. */
static uint64_t count_datagrams(int fd, long long deadline)
{
	static uint8_t bufs[BATCH][SIZE_MAX_BYTES];
	static struct iovec iov[BATCH];
	static struct mmsghdr msgs[BATCH];
	struct timeval poll_interval = { .tv_sec = 0, .tv_usec = 100000 };
	long long last = 0;
	uint64_t received = 0;

	for (size_t i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof(bufs[i]) };
		msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &poll_interval, sizeof(poll_interval));
	for (;;) {
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		long long now = now_ns();

		if (n > 0) {
			received += (uint64_t)n;
			last = now;
		}
		if (now >= deadline || (last != 0 && now - last >= IDLE_END_NS))
			return received;
	}
}

static int run_recv(int argc, char **argv)
{
	unsigned long long seconds;
	uint64_t received;
	int fd;

	if (parse_number(argv[2], 10, SECONDS_MAX, &seconds) < 0 || seconds == 0) {
		fprintf(stderr, "udpload: invalid SECONDS '%s' (1 to %d)\n", argv[2], SECONDS_MAX);
		return 2;
	}
	fd = open_socket(argv[1]);
	if (fd < 0)
		return 1;
	if (argc == 5 && send_hello(fd, argv[3], argv[4]) < 0) {
		close(fd);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	received = count_datagrams(fd, now_ns() + (long long)seconds * 1000000000LL);
	printf("received %" PRIu64 "\n", received);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 8 && strcmp(argv[1], "send") == 0)
		return run_send(argv + 1);
	if ((argc == 4 || argc == 6) && strcmp(argv[1], "recv") == 0)
		return run_recv(argc - 1, argv + 1);
	fprintf(stderr, "usage: udpload send BIND_PORT ADDR PORT SECONDS SIZE SESSION_ID\n"
			"       udpload recv PORT SECONDS [HELLO_ADDR HELLO_PORT]\n");
	return 2;
}
