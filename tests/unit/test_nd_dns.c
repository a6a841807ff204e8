/*
 * Unit tests for the node agent's DNS server (nd_dns): the query parser, the
 * response builder, and the server on 127.0.0.1 driven by an event loop,
 * also queried by the real dig when it is installed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

/* The module comes in as source, so the tests reach its constants and the
 * server's socket, to read its port. The test defines every nd_dns symbol,
 * so the linker takes no copy from the ntm_nd archive. */
#include "../../nodeagent/nd_dns.c"

/* Maximum run time of one loop run before the watchdog stops it. */
#define WATCHDOG_MS 5000
#define QUERY_NAME "player.home.example"
/* Length of QUERY_NAME in wire form: 6 player 4 home 7 example 0. */
#define QUERY_NAME_WIRE_LEN 21
#define QUERY_END (12 + QUERY_NAME_WIRE_LEN + 4)
#define FLAGS_RD 0x0100
#define TYPE_MX 15
#define TYPE_OPT 41

/* ---- query construction ---- */

/* Writes the 12-byte header. */
static void put_header(uint8_t *buf, uint16_t id, uint16_t flags, uint16_t qdcount,
		       uint16_t arcount)
{
	put_be16(buf, id);
	put_be16(buf + 2, flags);
	put_be16(buf + 4, qdcount);
	put_be16(buf + 6, 0);
	put_be16(buf + 8, 0);
	put_be16(buf + 10, arcount);
}

/* Writes name (dotted text, no checks: test input) in wire form at buf and
 * returns its length. */
static size_t put_name(uint8_t *buf, const char *name)
{
	size_t pos = 0;

	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t label_len = dot ? (size_t)(dot - name) : strlen(name);

		buf[pos++] = (uint8_t)label_len;
		memcpy(buf + pos, name, label_len);
		pos += label_len;
		name += label_len + (dot ? 1 : 0);
	}
	buf[pos++] = 0;
	return pos;
}

/* Builds a query of one question with class IN; returns its length. */
static size_t make_query_flags(uint8_t *buf, uint16_t id, uint16_t flags, const char *name,
			       uint16_t qtype)
{
	size_t len;

	put_header(buf, id, flags, 1, 0);
	len = 12 + put_name(buf + 12, name);
	put_be16(buf + len, qtype);
	put_be16(buf + len + 2, DNS_CLASS_IN);
	return len + 4;
}

static size_t make_query(uint8_t *buf, const char *name, uint16_t qtype)
{
	return make_query_flags(buf, 0x1234, FLAGS_RD, name, qtype);
}

/* Appends an EDNS OPT record (RFC 6891 section 6.1.2) with a 4096-byte UDP
 * payload size and sets arcount to 1; returns the new length. */
static size_t append_opt(uint8_t *buf, size_t len)
{
	static const uint8_t opt[] = { 0, 0, TYPE_OPT, 0x10, 0x00, 0, 0, 0, 0, 0, 0 };

	memcpy(buf + len, opt, sizeof(opt));
	put_be16(buf + 10, 1);
	return len + sizeof(opt);
}

/* Writes a name of total characters in text form: labels of 63 letters,
 * the last one shorter, with dots between. */
static void long_name(char *out, size_t total)
{
	size_t pos = 0, in_label = 0;

	while (pos < total) {
		if (in_label == 63) {
			out[pos++] = '.';
			in_label = 0;
			continue;
		}
		out[pos++] = 'a';
		in_label++;
	}
	out[pos] = '\0';
}

/* Parses a heap copy of exactly len bytes, so AddressSanitizer detects overreads. */
static enum nd_dns_status parse_exact(const uint8_t *buf, size_t len, struct nd_dns_query *q)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	enum nd_dns_status st;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	st = nd_dns_parse_query(copy, len, q);
	free(copy);
	return st;
}

/* The response to make_query(QUERY_NAME, A) answered with 192.0.2.10, ttl 60. */
static const uint8_t expected_a_response[] = {
	0x12, 0x34,             /* id */
	0x85, 0x00,             /* QR, opcode 0, AA, RD; RA 0, rcode NOERROR */
	0x00, 0x01, 0x00, 0x01, /* qdcount 1, ancount 1 */
	0x00, 0x00, 0x00, 0x00, /* nscount 0, arcount 0 */
	6, 'p', 'l', 'a', 'y', 'e', 'r', 4, 'h', 'o', 'm', 'e',
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,
	0x00, 0x01, 0x00, 0x01, /* qtype A, qclass IN */
	0xc0, 0x0c,             /* pointer to the question name */
	0x00, 0x01, 0x00, 0x01, /* type A, class IN */
	0x00, 0x00, 0x00, 0x3c, /* ttl 60 */
	0x00, 0x04, 192, 0, 2, 10,
};

static struct ntm_ip ip_of(const char *text)
{
	struct ntm_ip ip;

	assert_int_equal(ntm_ip_parse(&ip, text), 0);
	return ip;
}

/* ---- parser ---- */

static void parse_basic_query(void **state)
{
	uint8_t buf[512];
	struct nd_dns_query q;
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_int_equal(q.id, 0x1234);
	assert_true(q.recursion_desired);
	assert_string_equal(q.name, QUERY_NAME);
	assert_int_equal(q.qtype, ND_DNS_TYPE_A);
	assert_int_equal(q.qclass, DNS_CLASS_IN);
	assert_int_equal(q.question_end, QUERY_END);
}

static void parse_rd_clear(void **state)
{
	uint8_t buf[512];
	struct nd_dns_query q;
	size_t len = make_query_flags(buf, 7, 0, QUERY_NAME, ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_false(q.recursion_desired);
}

static void parse_every_truncation(void **state)
{
	uint8_t buf[512];
	struct nd_dns_query q;
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_AAAA);

	for (size_t cut = 0; cut < len; cut++) {
		enum nd_dns_status st = parse_exact(buf, cut, &q);

		if (st != ND_DNS_MALFORMED)
			fail_msg("query cut to %zu of %zu bytes: status %d, expected MALFORMED",
				 cut, len, st);
	}
	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
}

static void parse_qr_set(void **state)
{
	uint8_t buf[512];
	struct nd_dns_query q;
	size_t len = make_query_flags(buf, 1, 0x8000 | FLAGS_RD, QUERY_NAME, ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_NOT_QUERY);
}

static void parse_qr_set_header_only(void **state)
{
	uint8_t buf[12];
	struct nd_dns_query q;

	put_header(buf, 1, 0x8000, 0, 0);
	assert_int_equal(parse_exact(buf, sizeof(buf), &q), ND_DNS_NOT_QUERY);
}

static void parse_opcode_status(void **state)
{
	uint8_t buf[512];
	struct nd_dns_query q;
	size_t len = make_query_flags(buf, 1, 2 << 11, QUERY_NAME, ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_UNSUPPORTED);
}

static void parse_qdcount_zero(void **state)
{
	uint8_t buf[12];
	struct nd_dns_query q;

	put_header(buf, 1, 0, 0, 0);
	assert_int_equal(parse_exact(buf, sizeof(buf), &q), ND_DNS_UNSUPPORTED);
}

static void parse_qdcount_two(void **state)
{
	uint8_t buf[512];
	struct nd_dns_query q;
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);

	/* A second question follows the first, complete. */
	memcpy(buf + len, buf + 12, len - 12);
	put_be16(buf + 4, 2);
	assert_int_equal(parse_exact(buf, 2 * len - 12, &q), ND_DNS_UNSUPPORTED);
}

static void parse_label_63_ok(void **state)
{
	uint8_t buf[512];
	char name[80];
	struct nd_dns_query q;
	size_t len;

	memset(name, 'a', 63);
	memcpy(name + 63, ".example", sizeof(".example"));
	len = make_query(buf, name, ND_DNS_TYPE_A);
	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_string_equal(q.name, name);
}

static void parse_label_64_rejected(void **state)
{
	uint8_t buf[512];
	char name[80];
	struct nd_dns_query q;
	size_t len;

	/* 64 is 0x40, a reserved label type, so both checks must reject it. */
	memset(name, 'a', 64);
	memcpy(name + 64, ".example", sizeof(".example"));
	len = make_query(buf, name, ND_DNS_TYPE_A);
	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_MALFORMED);
}

static void parse_name_253_ok(void **state)
{
	uint8_t buf[512];
	char name[ND_DNS_NAME_MAX + 2];
	struct nd_dns_query q;
	size_t len;

	long_name(name, 253);
	assert_int_equal(strlen(name), 253);
	len = make_query(buf, name, ND_DNS_TYPE_A);
	assert_int_equal(len, 12 + 255 + 4);
	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_string_equal(q.name, name);
}

static void parse_name_254_rejected(void **state)
{
	uint8_t buf[512];
	char name[ND_DNS_NAME_MAX + 2];
	struct nd_dns_query q;
	size_t len;

	long_name(name, 254);
	assert_int_equal(strlen(name), 254);
	len = make_query(buf, name, ND_DNS_TYPE_A);
	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_MALFORMED);
}

static void parse_compression_pointer(void **state)
{
	static const uint8_t tail[] = { 0xc0, 0x0c, 0, 1, 0, 1 };
	uint8_t buf[64];
	struct nd_dns_query q;

	put_header(buf, 1, 0, 1, 0);
	memcpy(buf + 12, tail, sizeof(tail));
	assert_int_equal(parse_exact(buf, 12 + sizeof(tail), &q), ND_DNS_MALFORMED);
}

static void parse_pointer_after_label(void **state)
{
	static const uint8_t tail[] = { 4, 'h', 'o', 'm', 'e', 0xc0, 0x0c, 0, 1, 0, 1 };
	uint8_t buf[64];
	struct nd_dns_query q;

	put_header(buf, 1, 0, 1, 0);
	memcpy(buf + 12, tail, sizeof(tail));
	assert_int_equal(parse_exact(buf, 12 + sizeof(tail), &q), ND_DNS_MALFORMED);
}

static void parse_reserved_label_types(void **state)
{
	static const uint8_t types[] = { 0x40, 0x41, 0x80, 0xbf };
	uint8_t buf[64];
	struct nd_dns_query q;

	for (size_t i = 0; i < sizeof(types); i++) {
		put_header(buf, 1, 0, 1, 0);
		buf[12] = types[i];
		memset(buf + 13, 'a', 40);
		assert_int_equal(parse_exact(buf, sizeof(buf), &q), ND_DNS_MALFORMED);
	}
}

static void parse_upper_case_lowered(void **state)
{
	uint8_t buf[512];
	struct nd_dns_query q;
	size_t len = make_query(buf, "Player.HOME.eXample", ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_string_equal(q.name, QUERY_NAME);
}

static void parse_edns_trailing_ok(void **state)
{
	uint8_t buf[512];
	struct nd_dns_query q;
	size_t len = append_opt(buf, make_query(buf, QUERY_NAME, ND_DNS_TYPE_A));

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_int_equal(q.question_end, QUERY_END);
}

static void parse_underscore_ok(void **state)
{
	uint8_t buf[512];
	struct nd_dns_query q;
	size_t len = make_query(buf, "_dns-sd._udp.home-1.example", ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_string_equal(q.name, "_dns-sd._udp.home-1.example");
}

static void parse_space_rejected(void **state)
{
	uint8_t buf[512];
	struct nd_dns_query q;
	size_t len = make_query(buf, "my host.example", ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_MALFORMED);
}

static void parse_bad_bytes_rejected(void **state)
{
	static const uint8_t bad[] = { '.', 0, '*', '/', 0x7f, 0xc3, '\n' };
	uint8_t buf[64];
	struct nd_dns_query q;
	size_t len = make_query(buf, "abc.example", ND_DNS_TYPE_A);

	for (size_t i = 0; i < sizeof(bad); i++) {
		buf[14] = bad[i]; /* the middle byte of the label "abc" */
		assert_int_equal(parse_exact(buf, len, &q), ND_DNS_MALFORMED);
	}
}

static void parse_root_name(void **state)
{
	uint8_t buf[64];
	struct nd_dns_query q;
	size_t len = make_query(buf, "", ND_DNS_TYPE_A);

	assert_int_equal(len, 17);
	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_string_equal(q.name, "");
	assert_int_equal(q.question_end, 17);
	assert_int_equal(parse_exact(buf, len - 1, &q), ND_DNS_MALFORMED);
}

/* ---- response builder ---- */

static void build_a_answer_bytes(void **state)
{
	uint8_t buf[512], out[512];
	struct nd_dns_query q;
	struct ntm_ip ip = ip_of("192.0.2.10");
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);
	ssize_t n;

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	n = nd_dns_build_response(out, sizeof(out), buf, len, &q, ND_DNS_RCODE_NOERROR, &ip, 60);
	assert_int_equal(n, sizeof(expected_a_response));
	assert_memory_equal(out, expected_a_response, sizeof(expected_a_response));
}

static void build_aaaa_answer(void **state)
{
	uint8_t buf[512], out[512];
	struct nd_dns_query q;
	struct ntm_ip ip = ip_of("2001:db8::10");
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_AAAA);
	ssize_t n;

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	n = nd_dns_build_response(out, sizeof(out), buf, len, &q, ND_DNS_RCODE_NOERROR, &ip, 30);
	assert_int_equal(n, QUERY_END + 12 + 16);
	assert_int_equal(get_be16(out + 2), 0x8500);
	assert_int_equal(get_be16(out + 6), 1);
	assert_memory_equal(out + 12, buf + 12, QUERY_END - 12);
	assert_int_equal(get_be16(out + QUERY_END), 0xc00c);
	assert_int_equal(get_be16(out + QUERY_END + 2), ND_DNS_TYPE_AAAA);
	assert_int_equal(get_be16(out + QUERY_END + 4), DNS_CLASS_IN);
	assert_int_equal(get_be16(out + QUERY_END + 8), 30);
	assert_int_equal(get_be16(out + QUERY_END + 10), 16);
	assert_memory_equal(out + QUERY_END + 12, ip.bytes, 16);
}

/* Checks a response without an answer record: rcode, counts and length. */
static void check_no_answer(const uint8_t *out, ssize_t n, int rcode)
{
	assert_int_equal(n, QUERY_END);
	assert_int_equal(get_be16(out + 2), 0x8500 | rcode);
	assert_int_equal(get_be16(out + 4), 1);
	assert_int_equal(get_be16(out + 6), 0);
	assert_int_equal(get_be16(out + 8), 0);
	assert_int_equal(get_be16(out + 10), 0);
}

static void build_nodata_type_mismatch(void **state)
{
	static const struct {
		const char *ip;
		uint16_t qtype;
	} cases[] = {
		{ "192.0.2.10", ND_DNS_TYPE_AAAA },
		{ "2001:db8::10", ND_DNS_TYPE_A },
		{ "192.0.2.10", TYPE_MX },
	};
	uint8_t buf[512], out[512];
	struct nd_dns_query q;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ntm_ip ip = ip_of(cases[i].ip);
		size_t len = make_query(buf, QUERY_NAME, cases[i].qtype);

		assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
		check_no_answer(out, nd_dns_build_response(out, sizeof(out), buf, len, &q,
							   ND_DNS_RCODE_NOERROR, &ip, 60),
				ND_DNS_RCODE_NOERROR);
	}
}

static void build_nxdomain(void **state)
{
	uint8_t buf[512], out[512];
	struct nd_dns_query q;
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	check_no_answer(out, nd_dns_build_response(out, sizeof(out), buf, len, &q,
						   ND_DNS_RCODE_NXDOMAIN, NULL, 0),
			ND_DNS_RCODE_NXDOMAIN);
}

static void build_servfail_ignores_ip(void **state)
{
	uint8_t buf[512], out[512];
	struct nd_dns_query q;
	struct ntm_ip ip = ip_of("192.0.2.10");
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	check_no_answer(out, nd_dns_build_response(out, sizeof(out), buf, len, &q,
						   ND_DNS_RCODE_SERVFAIL, &ip, 60),
			ND_DNS_RCODE_SERVFAIL);
}

static void build_enospc(void **state)
{
	uint8_t buf[512], out[512];
	struct nd_dns_query q;
	struct ntm_ip ip = ip_of("192.0.2.10");
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);
	size_t full = sizeof(expected_a_response);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_int_equal(nd_dns_build_response(out, full - 1, buf, len, &q, 0, &ip, 60), -ENOSPC);
	assert_int_equal(nd_dns_build_response(out, full, buf, len, &q, 0, &ip, 60), full);
	assert_int_equal(nd_dns_build_response(out, QUERY_END - 1, buf, len, &q, 3, NULL, 0),
			 -ENOSPC);
	assert_int_equal(nd_dns_build_response(out, 0, buf, len, &q, 3, NULL, 0), -ENOSPC);
}

static void build_edns_query_no_opt(void **state)
{
	uint8_t buf[512], out[512];
	struct nd_dns_query q;
	struct ntm_ip ip = ip_of("192.0.2.10");
	size_t len = append_opt(buf, make_query(buf, QUERY_NAME, ND_DNS_TYPE_A));
	ssize_t n;

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	n = nd_dns_build_response(out, sizeof(out), buf, len, &q, 0, &ip, 60);
	assert_int_equal(n, sizeof(expected_a_response));
	assert_memory_equal(out, expected_a_response, sizeof(expected_a_response));
}

static void build_rd_clear(void **state)
{
	uint8_t buf[512], out[512];
	struct nd_dns_query q;
	size_t len = make_query_flags(buf, 9, 0, QUERY_NAME, ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_int_equal(nd_dns_build_response(out, sizeof(out), buf, len, &q, 3, NULL, 0),
			 QUERY_END);
	assert_int_equal(get_be16(out + 2), 0x8403);
}

static void build_ttl_clamped(void **state)
{
	uint8_t buf[512], out[512];
	struct nd_dns_query q;
	struct ntm_ip ip = ip_of("192.0.2.10");
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_int_equal(nd_dns_build_response(out, sizeof(out), buf, len, &q, 0, &ip,
					       UINT32_MAX),
			 sizeof(expected_a_response));
	assert_int_equal(get_be16(out + QUERY_END + 6), 0x7fff);
	assert_int_equal(get_be16(out + QUERY_END + 8), 0xffff);
}

static void build_invalid_arguments(void **state)
{
	uint8_t buf[512], out[512];
	struct nd_dns_query q;
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);

	assert_int_equal(parse_exact(buf, len, &q), ND_DNS_OK);
	assert_int_equal(nd_dns_build_response(out, sizeof(out), buf, len, &q, 16, NULL, 0),
			 -EINVAL);
	assert_int_equal(nd_dns_build_response(out, sizeof(out), buf, len, &q, -1, NULL, 0),
			 -EINVAL);
	assert_int_equal(nd_dns_build_response(out, sizeof(out), buf, len - 1, &q, 0, NULL, 0),
			 -EINVAL);
}

/* ---- server ---- */

enum resolve_mode {
	RESOLVE_IGNORE,        /* never answer */
	RESOLVE_STOP,          /* stop the loop, answer nothing */
	RESOLVE_ANSWER_NOW,    /* answer from inside the callback */
	RESOLVE_ANSWER_LATER,  /* answer from a timer */
	RESOLVE_CLOSE,         /* close the server from inside the callback */
};

struct fixture {
	struct ntm_loop *loop;
	struct ntm_timer *watchdog;
	bool watchdog_fired;

	struct nd_dns_server *srv;
	struct sockaddr_storage server_addr;
	socklen_t server_addr_len;
	int client;

	enum resolve_mode mode;
	struct ntm_ip ip;
	int calls;
	uint64_t handles[DNS_PENDING_MAX + 1];
	char name[ND_DNS_NAME_MAX + 1];
	uint16_t qtype;

	uint8_t reply[DNS_RECV_MAX];
	ssize_t reply_len;
	int replies;
};

static void on_watchdog(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct fixture *fx = arg;

	fx->watchdog_fired = true;
	fx->watchdog = NULL;
	ntm_loop_stop(loop);
}

static void on_answer_timer(struct ntm_loop *loop, struct ntm_timer *timer, void *arg)
{
	struct fixture *fx = arg;

	nd_dns_server_answer(fx->srv, fx->handles[fx->calls - 1], ND_DNS_RCODE_NOERROR, &fx->ip,
			     60);
}

static void on_resolve(struct nd_dns_server *srv, uint64_t handle, const char *name,
		       uint16_t qtype, void *arg)
{
	struct fixture *fx = arg;

	if (fx->calls <= DNS_PENDING_MAX)
		fx->handles[fx->calls] = handle;
	fx->calls++;
	snprintf(fx->name, sizeof(fx->name), "%s", name);
	fx->qtype = qtype;

	switch (fx->mode) {
	case RESOLVE_IGNORE:
		break;
	case RESOLVE_STOP:
		ntm_loop_stop(fx->loop);
		break;
	case RESOLVE_ANSWER_NOW:
		nd_dns_server_answer(srv, handle, ND_DNS_RCODE_NOERROR, &fx->ip, 60);
		break;
	case RESOLVE_ANSWER_LATER:
		assert_non_null(ntm_loop_timer_add(fx->loop, 0, 0, on_answer_timer, fx));
		break;
	case RESOLVE_CLOSE:
		nd_dns_server_close(srv);
		fx->srv = NULL;
		ntm_loop_stop(fx->loop);
		break;
	}
}

static void on_client_readable(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct fixture *fx = arg;

	fx->reply_len = recv(fd, fx->reply, sizeof(fx->reply), MSG_DONTWAIT);
	if (fx->reply_len < 0)
		return;
	fx->replies++;
	ntm_loop_stop(loop);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx->client = -1;
	fx->ip = ip_of("192.0.2.10");
	fx->loop = ntm_loop_new();
	if (!fx->loop)
		return -1;
	fx->watchdog = ntm_loop_timer_add(fx->loop, WATCHDOG_MS, 0, on_watchdog, fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	nd_dns_server_close(fx->srv);
	if (fx->client >= 0) {
		ntm_loop_del_fd(fx->loop, fx->client);
		close(fx->client);
	}
	ntm_loop_free(fx->loop);
	free(fx);
	return 0;
}

/* Opens the server on the loopback address of family, port 0, and a client
 * socket there. Returns false when the address is not available. */
static bool start_server(struct fixture *fx, const char *loopback)
{
	struct ntm_endpoint listen = { .port = 0 };
	struct sockaddr_storage ss;
	socklen_t sl;
	char err[256];

	listen.ip = ip_of(loopback);
	fx->srv = nd_dns_server_open(fx->loop, &listen, on_resolve, fx, err, sizeof(err));
	if (fx->srv == NULL) {
		print_message("server on %s not opened: %s\n", loopback, err);
		return false;
	}
	fx->server_addr_len = sizeof(fx->server_addr);
	assert_int_equal(getsockname(fx->srv->fd, (struct sockaddr *)&fx->server_addr,
				     &fx->server_addr_len),
			 0);

	sl = ntm_endpoint_to_sockaddr(&listen, &ss);
	fx->client = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fx->client >= 0);
	assert_int_equal(bind(fx->client, (struct sockaddr *)&ss, sl), 0);
	assert_int_equal(ntm_loop_add_fd(fx->loop, fx->client, ZMQ_POLLIN, on_client_readable, fx),
			 0);
	return true;
}

static void start_ipv4(struct fixture *fx)
{
	assert_true(start_server(fx, "127.0.0.1"));
}

static uint16_t server_port(const struct fixture *fx)
{
	struct ntm_endpoint ep;

	assert_int_equal(ntm_endpoint_from_sockaddr(&ep, (const struct sockaddr *)&fx->server_addr,
						    fx->server_addr_len),
			 0);
	return ep.port;
}

static void send_to_server(struct fixture *fx, const uint8_t *buf, size_t len)
{
	ssize_t n = sendto(fx->client, buf, len, 0, (struct sockaddr *)&fx->server_addr,
			   fx->server_addr_len);

	assert_int_equal(n, (ssize_t)len);
}

/* Runs the loop and checks that it stopped before the watchdog. */
static void run_loop(struct fixture *fx)
{
	assert_int_equal(ntm_loop_run(fx->loop), 0);
	assert_false(fx->watchdog_fired);
}

/* Sends a query that fails to parse: a label longer than the packet. */
static void send_garbage(struct fixture *fx, uint16_t id)
{
	uint8_t buf[20];

	put_header(buf, id, FLAGS_RD, 1, 0);
	memcpy(buf + 12, "\x05hel\x01\x02\x03\x04", 8);
	send_to_server(fx, buf, sizeof(buf));
}

/* Checks that the reply is the 12-byte header with id, flags and no records. */
static void check_header_only_reply(const struct fixture *fx, uint16_t id, uint16_t flags)
{
	assert_int_equal(fx->reply_len, 12);
	assert_int_equal(get_be16(fx->reply), id);
	assert_int_equal(get_be16(fx->reply + 2), flags);
	for (size_t i = 4; i < 12; i++)
		assert_int_equal(fx->reply[i], 0);
}

static void server_answers_query(void **state)
{
	struct fixture *fx = *state;
	struct nd_dns_stats stats;
	uint8_t buf[512];

	start_ipv4(fx);
	fx->mode = RESOLVE_ANSWER_LATER;
	send_to_server(fx, buf, make_query(buf, QUERY_NAME, ND_DNS_TYPE_A));
	run_loop(fx);

	assert_int_equal(fx->calls, 1);
	assert_string_equal(fx->name, QUERY_NAME);
	assert_int_equal(fx->qtype, ND_DNS_TYPE_A);
	assert_int_equal(fx->reply_len, sizeof(expected_a_response));
	assert_memory_equal(fx->reply, expected_a_response, sizeof(expected_a_response));
	nd_dns_server_stats(fx->srv, &stats);
	assert_int_equal(stats.queries, 1);
	assert_int_equal(stats.answered, 1);
}

static void server_answers_in_callback(void **state)
{
	struct fixture *fx = *state;
	uint8_t buf[512];

	start_ipv4(fx);
	fx->mode = RESOLVE_ANSWER_NOW;
	send_to_server(fx, buf, append_opt(buf, make_query(buf, "PLAYER.home.example", 1)));
	run_loop(fx);

	assert_string_equal(fx->name, QUERY_NAME);
	assert_int_equal(fx->reply_len, sizeof(expected_a_response));
	assert_memory_equal(fx->reply, expected_a_response, 12);
	/* The question goes back as sent, case included, for resolvers that
	 * randomize the case of names and check the echo. */
	assert_memory_equal(fx->reply + 12, buf + 12, QUERY_END - 12);
	assert_memory_equal(fx->reply + QUERY_END, expected_a_response + QUERY_END,
			    sizeof(expected_a_response) - QUERY_END);
}

static void server_timeout_servfail(void **state)
{
	struct fixture *fx = *state;
	struct nd_dns_stats stats;
	uint8_t buf[512];
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);
	uint64_t start = ntm_now_ms();

	start_ipv4(fx);
	fx->mode = RESOLVE_IGNORE;
	nd_dns_server_set_timeout_ms(fx->srv, 100);
	send_to_server(fx, buf, len);
	run_loop(fx);

	assert_true(ntm_now_ms() - start >= 100);
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->reply_len, QUERY_END);
	assert_int_equal(get_be16(fx->reply), 0x1234);
	assert_int_equal(get_be16(fx->reply + 2), 0x8500 | ND_DNS_RCODE_SERVFAIL);
	assert_int_equal(get_be16(fx->reply + 4), 1);
	assert_int_equal(get_be16(fx->reply + 6), 0);
	assert_memory_equal(fx->reply + 12, buf + 12, QUERY_END - 12);

	/* The late answer finds no waiting query and sends nothing. */
	nd_dns_server_answer(fx->srv, fx->handles[0], 0, &fx->ip, 60);
	nd_dns_server_stats(fx->srv, &stats);
	assert_int_equal(stats.timeouts, 1);
	assert_int_equal(stats.answered, 0);
}

static void server_garbage_formerr(void **state)
{
	struct fixture *fx = *state;
	struct nd_dns_stats stats;

	start_ipv4(fx);
	send_garbage(fx, 0xbeef);
	run_loop(fx);

	check_header_only_reply(fx, 0xbeef, 0x8000 | FLAGS_RD | ND_DNS_RCODE_FORMERR);
	assert_int_equal(fx->calls, 0);
	nd_dns_server_stats(fx->srv, &stats);
	assert_int_equal(stats.malformed, 1);
}

static void server_response_ignored(void **state)
{
	struct fixture *fx = *state;
	struct nd_dns_stats stats;
	uint8_t buf[512];

	start_ipv4(fx);
	/* Loopback keeps the order, so the first reply shows whether the
	 * response got an answer. */
	send_to_server(fx, buf, make_query_flags(buf, 0x1111, 0x8000, QUERY_NAME, 1));
	send_garbage(fx, 0x2222);
	run_loop(fx);

	assert_int_equal(fx->replies, 1);
	assert_int_equal(get_be16(fx->reply), 0x2222);
	assert_int_equal(fx->calls, 0);
	nd_dns_server_stats(fx->srv, &stats);
	assert_int_equal(stats.unsupported, 1);
	assert_int_equal(stats.malformed, 1);
}

static void server_short_datagram_silent(void **state)
{
	struct fixture *fx = *state;
	struct nd_dns_stats stats;

	start_ipv4(fx);
	send_to_server(fx, (const uint8_t *)"\x44\x44\x00\x00\x00", 5);
	send_garbage(fx, 0x5555);
	run_loop(fx);

	assert_int_equal(get_be16(fx->reply), 0x5555);
	nd_dns_server_stats(fx->srv, &stats);
	assert_int_equal(stats.malformed, 2);
}

static void server_opcode_notimp(void **state)
{
	struct fixture *fx = *state;
	struct nd_dns_stats stats;
	uint8_t buf[512];

	start_ipv4(fx);
	send_to_server(fx, buf, make_query_flags(buf, 0x3333, 2 << 11 | FLAGS_RD, QUERY_NAME, 1));
	run_loop(fx);

	check_header_only_reply(fx, 0x3333, 0x8000 | 2 << 11 | FLAGS_RD | ND_DNS_RCODE_NOTIMP);
	nd_dns_server_stats(fx->srv, &stats);
	assert_int_equal(stats.unsupported, 1);
}

static void server_large_query_served(void **state)
{
	struct fixture *fx = *state;
	uint8_t buf[1200] = { 0 };
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);

	start_ipv4(fx);
	fx->mode = RESOLVE_ANSWER_NOW;
	/* Bytes after the question past 512 in all, as an EDNS client may send. */
	send_to_server(fx, buf, len + 1000);
	run_loop(fx);

	assert_int_equal(fx->calls, 1);
	assert_memory_equal(fx->reply, expected_a_response, sizeof(expected_a_response));
}

static void server_oversized_formerr(void **state)
{
	struct fixture *fx = *state;
	uint8_t *buf = calloc(1, DNS_RECV_MAX + 100);
	size_t len;

	assert_non_null(buf);
	len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);
	start_ipv4(fx);
	send_to_server(fx, buf, DNS_RECV_MAX + 100);
	free(buf);
	run_loop(fx);

	assert_true(len < DNS_RECV_MAX);
	assert_int_equal(fx->calls, 0);
	check_header_only_reply(fx, 0x1234, 0x8000 | FLAGS_RD | ND_DNS_RCODE_FORMERR);
}

static void server_overflow_servfail(void **state)
{
	struct fixture *fx = *state;
	struct nd_dns_stats stats;
	uint8_t buf[512];

	start_ipv4(fx);
	fx->mode = RESOLVE_STOP;
	for (int i = 0; i < DNS_PENDING_MAX; i++) {
		send_to_server(fx, buf, make_query_flags(buf, (uint16_t)i, 0, QUERY_NAME, 1));
		run_loop(fx);
		assert_int_equal(fx->calls, i + 1);
	}
	send_to_server(fx, buf, make_query_flags(buf, 0xabcd, FLAGS_RD, QUERY_NAME, 1));
	run_loop(fx);

	assert_int_equal(fx->calls, DNS_PENDING_MAX);
	assert_int_equal(get_be16(fx->reply), 0xabcd);
	assert_int_equal(get_be16(fx->reply + 2), 0x8500 | ND_DNS_RCODE_SERVFAIL);
	for (int i = 1; i < DNS_PENDING_MAX; i++)
		assert_true(fx->handles[i] == fx->handles[i - 1] + 1);
	nd_dns_server_stats(fx->srv, &stats);
	assert_int_equal(stats.queries, DNS_PENDING_MAX + 1);
	assert_int_equal(stats.overflow, 1);
}

static void server_unknown_handle_ignored(void **state)
{
	struct fixture *fx = *state;
	struct nd_dns_stats stats;

	start_ipv4(fx);
	nd_dns_server_answer(fx->srv, 12345, 0, &fx->ip, 60);
	nd_dns_server_stats(fx->srv, &stats);
	assert_int_equal(stats.answered, 0);
}

static void server_close_in_callback(void **state)
{
	struct fixture *fx = *state;
	uint8_t buf[512];
	size_t len = make_query(buf, QUERY_NAME, ND_DNS_TYPE_A);

	start_ipv4(fx);
	fx->mode = RESOLVE_CLOSE;
	send_to_server(fx, buf, len);
	send_to_server(fx, buf, len);
	run_loop(fx);

	assert_null(fx->srv);
	assert_int_equal(fx->calls, 1);
}

static void server_ipv6_loopback(void **state)
{
	struct fixture *fx = *state;
	uint8_t buf[512];

	if (!start_server(fx, "::1"))
		skip();
	fx->mode = RESOLVE_ANSWER_NOW;
	send_to_server(fx, buf, make_query(buf, QUERY_NAME, ND_DNS_TYPE_A));
	run_loop(fx);

	assert_memory_equal(fx->reply, expected_a_response, sizeof(expected_a_response));
}

/* ---- the real dig against the server ---- */

struct dig_run {
	struct fixture *fx;
	char out[256];
	size_t out_len;
};

static void on_dig_output(struct ntm_loop *loop, int fd, short revents, void *arg)
{
	struct dig_run *run = arg;
	ssize_t n = read(fd, run->out + run->out_len, sizeof(run->out) - 1 - run->out_len);

	if (n > 0) {
		run->out_len += (size_t)n;
		return;
	}
	if (n < 0 && errno == EINTR)
		return;
	ntm_loop_stop(loop);
}

/* Returns true when an executable named name is on PATH. */
static bool on_path(const char *name)
{
	const char *path = getenv("PATH");
	char dir_path[4096];

	while (path != NULL && *path != '\0') {
		const char *colon = strchr(path, ':');
		int dir_len = colon ? (int)(colon - path) : (int)strlen(path);

		snprintf(dir_path, sizeof(dir_path), "%.*s/%s", dir_len, path, name);
		if (access(dir_path, X_OK) == 0)
			return true;
		path = colon ? colon + 1 : NULL;
	}
	return false;
}

/* Starts dig with its stdout on a pipe; returns its pid and sets *out_fd. */
static pid_t start_dig(uint16_t port, int *out_fd)
{
	char port_text[8];
	int fds[2];
	pid_t pid;

	snprintf(port_text, sizeof(port_text), "%u", port);
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execlp("dig", "dig", "@127.0.0.1", "-p", port_text, QUERY_NAME, "A", "+short",
		       "+tries=1", "+time=2", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	*out_fd = fds[0];
	return pid;
}

static void server_dig_query(void **state)
{
	struct fixture *fx = *state;
	struct dig_run run = { .fx = fx };
	int status = -1, fd;
	pid_t pid;

	if (!on_path("dig"))
		skip();
	start_ipv4(fx);
	fx->mode = RESOLVE_ANSWER_LATER;
	pid = start_dig(server_port(fx), &fd);
	if (ntm_loop_add_fd(fx->loop, fd, ZMQ_POLLIN, on_dig_output, &run) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(fd);
		fail_msg("cannot watch the output of dig");
	}
	ntm_loop_run(fx->loop);

	ntm_loop_del_fd(fx->loop, fd);
	close(fd);
	if (fx->watchdog_fired)
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_false(fx->watchdog_fired);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(run.out, "192.0.2.10\n");
	assert_string_equal(fx->name, QUERY_NAME);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_basic_query),
		cmocka_unit_test(parse_rd_clear),
		cmocka_unit_test(parse_every_truncation),
		cmocka_unit_test(parse_qr_set),
		cmocka_unit_test(parse_qr_set_header_only),
		cmocka_unit_test(parse_opcode_status),
		cmocka_unit_test(parse_qdcount_zero),
		cmocka_unit_test(parse_qdcount_two),
		cmocka_unit_test(parse_label_63_ok),
		cmocka_unit_test(parse_label_64_rejected),
		cmocka_unit_test(parse_name_253_ok),
		cmocka_unit_test(parse_name_254_rejected),
		cmocka_unit_test(parse_compression_pointer),
		cmocka_unit_test(parse_pointer_after_label),
		cmocka_unit_test(parse_reserved_label_types),
		cmocka_unit_test(parse_upper_case_lowered),
		cmocka_unit_test(parse_edns_trailing_ok),
		cmocka_unit_test(parse_underscore_ok),
		cmocka_unit_test(parse_space_rejected),
		cmocka_unit_test(parse_bad_bytes_rejected),
		cmocka_unit_test(parse_root_name),
		cmocka_unit_test(build_a_answer_bytes),
		cmocka_unit_test(build_aaaa_answer),
		cmocka_unit_test(build_nodata_type_mismatch),
		cmocka_unit_test(build_nxdomain),
		cmocka_unit_test(build_servfail_ignores_ip),
		cmocka_unit_test(build_enospc),
		cmocka_unit_test(build_edns_query_no_opt),
		cmocka_unit_test(build_rd_clear),
		cmocka_unit_test(build_ttl_clamped),
		cmocka_unit_test(build_invalid_arguments),
		cmocka_unit_test_setup_teardown(server_answers_query, setup, teardown),
		cmocka_unit_test_setup_teardown(server_answers_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(server_timeout_servfail, setup, teardown),
		cmocka_unit_test_setup_teardown(server_garbage_formerr, setup, teardown),
		cmocka_unit_test_setup_teardown(server_response_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(server_short_datagram_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(server_opcode_notimp, setup, teardown),
		cmocka_unit_test_setup_teardown(server_large_query_served, setup, teardown),
		cmocka_unit_test_setup_teardown(server_oversized_formerr, setup, teardown),
		cmocka_unit_test_setup_teardown(server_overflow_servfail, setup, teardown),
		cmocka_unit_test_setup_teardown(server_unknown_handle_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(server_close_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(server_ipv6_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(server_dig_query, setup, teardown),
	};

	/* Debug level runs the server's per-client log lines too. */
	ntm_log_open("test_nd_dns", true, NTM_LOG_DEBUG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
