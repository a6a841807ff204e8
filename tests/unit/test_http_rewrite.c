/*
 * Unit tests for the DLNA Agent's translation: URL hosts in text
 * (http_rewrite), and golden transcripts of whole proxied connections
 * (dad_proxy_transcript) from tests/data/dlna.
 *
 * A transcript NAME has four files: NAME.player.in (what the player sends),
 * NAME.server.in (what the server responds), and the exact bytes each side
 * must receive: NAME.server.out and NAME.player.out. Every transcript runs
 * with the inputs read whole and split into pieces of 1, 7 and 4096 bytes.
 * The map is 192.0.2.5 <-> 198.51.100.5 and 192.0.2.7 <-> 198.51.100.7; the
 * player 198.51.100.9:40000 connects to 198.51.100.5:8200, except in
 * unknown-vip*, where it connects to 198.51.100.99:8200, a VIP without a
 * server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dad_http.h"
#include "dad_proxy.h"
#include "http_rewrite.h"

#define DATA_DIR NTM_SOURCE_DIR "/tests/data/dlna"
#define FILE_MAX (4 * 1024 * 1024)

static struct http_rewrite_pair test_pairs[2];
static const struct http_rewrite_map test_map = { test_pairs, 2 };

static struct in_addr addr_of(const char *text)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, text, &a), 1);
	return a;
}

static int setup_map(void **state)
{
	test_pairs[0] = (struct http_rewrite_pair){ addr_of("192.0.2.5"), addr_of("198.51.100.5") };
	test_pairs[1] = (struct http_rewrite_pair){ addr_of("192.0.2.7"), addr_of("198.51.100.7") };
	return 0;
}

/* Translates text with the test map and compares with expected. */
static void check_urls(const char *text, enum http_rewrite_dir dir, const char *expected,
		       ssize_t expected_count)
{
	struct http_rewrite_buf out;
	ssize_t n;

	http_rewrite_buf_init(&out, 1 << 20);
	n = http_rewrite_urls(&out, text, strlen(text), &test_map, dir);
	if (n != expected_count || out.len != strlen(expected) ||
	    (out.len > 0 && memcmp(out.data, expected, out.len) != 0))
		print_message("input:    %s\nexpected: %s\ngot:      %.*s (%zd)\n", text, expected,
			      (int)out.len, out.data ? out.data : "", n);
	assert_int_equal(n, expected_count);
	assert_int_equal(out.len, strlen(expected));
	assert_memory_equal(out.data ? out.data : "", expected, out.len);
	http_rewrite_buf_free(&out);
}

static void urls_raw_forms(void **state)
{
	check_urls("http://192.0.2.5:8200/a", HTTP_REWRITE_TO_VIP, "http://198.51.100.5:8200/a", 1);
	check_urls("http://192.0.2.5", HTTP_REWRITE_TO_VIP, "http://198.51.100.5", 1);
	check_urls("https://192.0.2.5/", HTTP_REWRITE_TO_VIP, "https://198.51.100.5/", 1);
	check_urls("HtTpS://192.0.2.7?q", HTTP_REWRITE_TO_VIP, "HtTpS://198.51.100.7?q", 1);
	check_urls("x http://192.0.2.5:80/ y http://192.0.2.7:9000/ z", HTTP_REWRITE_TO_VIP,
		   "x http://198.51.100.5:80/ y http://198.51.100.7:9000/ z", 2);
	check_urls("http://198.51.100.5:8200/a", HTTP_REWRITE_TO_REAL, "http://192.0.2.5:8200/a", 1);
	check_urls("", HTTP_REWRITE_TO_VIP, "", 0);
	check_urls("h", HTTP_REWRITE_TO_VIP, "h", 0);
	check_urls("http://", HTTP_REWRITE_TO_VIP, "http://", 0);
	check_urls("http://192.0.2.", HTTP_REWRITE_TO_VIP, "http://192.0.2.", 0);
}

static void urls_host_bounded(void **state)
{
	check_urls("http://192.0.2.50/", HTTP_REWRITE_TO_VIP, "http://192.0.2.50/", 0);
	check_urls("http://192.0.2.5000/", HTTP_REWRITE_TO_VIP, "http://192.0.2.5000/", 0);
	check_urls("http://1192.0.2.5/", HTTP_REWRITE_TO_VIP, "http://1192.0.2.5/", 0);
	check_urls("http://192.0.2.5.example/", HTTP_REWRITE_TO_VIP, "http://192.0.2.5.example/",
		   0);
	check_urls("http://192.0.2.5-a/", HTTP_REWRITE_TO_VIP, "http://192.0.2.5-a/", 0);
	check_urls("http://192.0.2.5@x/", HTTP_REWRITE_TO_VIP, "http://192.0.2.5@x/", 0);
	check_urls("http://192.0.2.05/", HTTP_REWRITE_TO_VIP, "http://192.0.2.05/", 0);
	check_urls("http://198.51.100.55/", HTTP_REWRITE_TO_REAL, "http://198.51.100.55/", 0);
	check_urls("http://98.51.100.5/", HTTP_REWRITE_TO_REAL, "http://98.51.100.5/", 0);
	/* The other direction's addresses never match. */
	check_urls("http://198.51.100.5/", HTTP_REWRITE_TO_VIP, "http://198.51.100.5/", 0);
	check_urls("http://192.0.2.5/", HTTP_REWRITE_TO_REAL, "http://192.0.2.5/", 0);
}

static void urls_escaped_forms(void **state)
{
	check_urls("&lt;res&gt;http://192.0.2.5:8200/1.mp3&lt;/res&gt;", HTTP_REWRITE_TO_VIP,
		   "&lt;res&gt;http://198.51.100.5:8200/1.mp3&lt;/res&gt;", 1);
	check_urls("&amp;lt;res&amp;gt;http://192.0.2.5/x?a=1&amp;amp;amp;b=2",
		   HTTP_REWRITE_TO_VIP, "&amp;lt;res&amp;gt;http://198.51.100.5/x?a=1&amp;amp;amp;b=2",
		   1);
	check_urls("url=&quot;http://192.0.2.5&quot;", HTTP_REWRITE_TO_VIP,
		   "url=&quot;http://198.51.100.5&quot;", 1);
	check_urls("url=&#34;http://192.0.2.5&#34;", HTTP_REWRITE_TO_VIP,
		   "url=&#34;http://198.51.100.5&#34;", 1);
}

static void urls_percent_encoded(void **state)
{
	check_urls("u=http%3A%2F%2F192.0.2.5%3A8200%2Fa", HTTP_REWRITE_TO_VIP,
		   "u=http%3A%2F%2F198.51.100.5%3A8200%2Fa", 1);
	check_urls("u=http%3a%2f%2f192.0.2.5%3a8200", HTTP_REWRITE_TO_VIP,
		   "u=http%3a%2f%2f198.51.100.5%3a8200", 1);
	check_urls("u=http%253A%252F%252F192.0.2.5%253A1", HTTP_REWRITE_TO_VIP,
		   "u=http%253A%252F%252F198.51.100.5%253A1", 1);
	check_urls("u=http%3A//192.0.2.5/", HTTP_REWRITE_TO_VIP, "u=http%3A//198.51.100.5/", 1);
	check_urls("u=http%3A%2F%2F192.0.2.50", HTTP_REWRITE_TO_VIP, "u=http%3A%2F%2F192.0.2.50",
		   0);
	check_urls("u=http%3G%2F%2F192.0.2.5", HTTP_REWRITE_TO_VIP, "u=http%3G%2F%2F192.0.2.5", 0);
	check_urls("u=http%3A%2F%2", HTTP_REWRITE_TO_VIP, "u=http%3A%2F%2", 0);
}

static void urls_utf8_unchanged(void **state)
{
	check_urls("Grüße 日本語 🎵 http://192.0.2.5/ é", HTTP_REWRITE_TO_VIP,
		   "Grüße 日本語 🎵 http://198.51.100.5/ é", 1);
}

static void urls_output_bound(void **state)
{
	static const char text[] = "http://192.0.2.5/";
	struct http_rewrite_buf out;

	/* The result is 20 bytes: 19 is one short. */
	http_rewrite_buf_init(&out, 19);
	assert_int_equal(http_rewrite_urls(&out, text, strlen(text), &test_map,
					   HTTP_REWRITE_TO_VIP),
			 -ENOBUFS);
	assert_true(out.len <= 19);
	http_rewrite_buf_free(&out);

	http_rewrite_buf_init(&out, 20);
	assert_int_equal(http_rewrite_urls(&out, text, strlen(text), &test_map,
					   HTTP_REWRITE_TO_VIP),
			 1);
	assert_int_equal(out.len, 20);
	http_rewrite_buf_free(&out);
}

static void buf_append_limits(void **state)
{
	struct http_rewrite_buf buf;
	char big[10000];

	memset(big, 'x', sizeof(big));
	http_rewrite_buf_init(&buf, 9000);
	assert_int_equal(http_rewrite_buf_append(&buf, big, 8999), 0);
	assert_int_equal(http_rewrite_buf_append(&buf, big, 2), -ENOBUFS);
	assert_int_equal(buf.len, 8999);
	assert_int_equal(http_rewrite_buf_append(&buf, big, 1), 0);
	assert_int_equal(buf.len, 9000);
	assert_true(buf.cap <= 9000);
	assert_int_equal(http_rewrite_buf_append(&buf, big, 0), 0);
	http_rewrite_buf_clear(&buf);
	assert_int_equal(buf.len, 0);
	http_rewrite_buf_free(&buf);
	assert_null(buf.data);
}

static void check_host(const char *value, enum http_rewrite_dir dir, const char *expected,
		       int expected_ret)
{
	struct http_rewrite_buf out;

	http_rewrite_buf_init(&out, 256);
	assert_int_equal(http_rewrite_host(&out, value, strlen(value), &test_map, dir),
			 expected_ret);
	assert_int_equal(out.len, strlen(expected));
	assert_memory_equal(out.data ? out.data : "", expected, out.len);
	http_rewrite_buf_free(&out);
}

static void host_header_values(void **state)
{
	check_host("198.51.100.5:8200", HTTP_REWRITE_TO_REAL, "192.0.2.5:8200", 1);
	check_host("198.51.100.5", HTTP_REWRITE_TO_REAL, "192.0.2.5", 1);
	check_host("198.51.100.55:8200", HTTP_REWRITE_TO_REAL, "198.51.100.55:8200", 0);
	check_host("198.51.100.5:", HTTP_REWRITE_TO_REAL, "198.51.100.5:", 0);
	check_host("198.51.100.5:80x", HTTP_REWRITE_TO_REAL, "198.51.100.5:80x", 0);
	check_host("198.51.100.5:1234567", HTTP_REWRITE_TO_REAL, "198.51.100.5:1234567", 0);
	check_host("media.example:8200", HTTP_REWRITE_TO_REAL, "media.example:8200", 0);
	check_host("[2001:db8::1]:8200", HTTP_REWRITE_TO_REAL, "[2001:db8::1]:8200", 0);
	check_host("", HTTP_REWRITE_TO_REAL, "", 0);
}

static void parse_ipv4_forms(void **state)
{
	struct in_addr a;

	assert_int_equal(http_rewrite_parse_ipv4("0.0.0.0", 7, &a), 7);
	assert_int_equal(http_rewrite_parse_ipv4("255.255.255.255:1", 17, &a), 15);
	assert_int_equal(a.s_addr, 0xffffffffu);
	assert_int_equal(http_rewrite_parse_ipv4("256.1.1.1", 9, &a), 0);
	assert_int_equal(http_rewrite_parse_ipv4("1.2.3", 5, &a), 0);
	assert_int_equal(http_rewrite_parse_ipv4("01.2.3.4", 8, &a), 0);
	assert_int_equal(http_rewrite_parse_ipv4("1..2.3", 6, &a), 0);
	/* The length bounds the read even inside a longer string. */
	assert_int_equal(http_rewrite_parse_ipv4("192.0.2.55", 8, &a), 0);
	assert_int_equal(http_rewrite_parse_ipv4("192.0.2.55", 9, &a), 9);
	assert_int_equal(a.s_addr, htonl(0xc0000205));
}

/* --- Golden transcripts ----------------------------------------------------- */

static bool lookup_real(void *ctx, const struct in_addr *vip, struct in_addr *real)
{
	return http_rewrite_lookup(&test_map, HTTP_REWRITE_TO_REAL, vip, real);
}

static size_t map_snapshot(void *ctx, struct http_rewrite_pair *pairs, size_t max)
{
	size_t n = test_map.count < max ? test_map.count : max;

	memcpy(pairs, test_pairs, n * sizeof(*pairs));
	return n;
}

/* Reads a whole file; a missing file reads as empty. */
static char *read_file(const char *dir, const char *name, const char *suffix, size_t *len)
{
	char path[512];
	char *data = malloc(FILE_MAX);
	FILE *f;

	assert_non_null(data);
	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, suffix);
	*len = 0;
	f = fopen(path, "rb");
	if (f) {
		*len = fread(data, 1, FILE_MAX, f);
		fclose(f);
	}
	return data;
}

/* Prints where two outputs part, with some bytes of context. */
static void report_difference(const char *what, const char *expected, size_t expected_len,
			      const struct http_rewrite_buf *got)
{
	size_t at = 0;
	size_t len = got->len < expected_len ? got->len : expected_len;

	while (at < len && expected[at] == got->data[at])
		at++;
	print_message("%s: %zu bytes expected, %zu got; first difference at byte %zu\n"
		      "expected: %.*s\ngot:      %.*s\n",
		      what, expected_len, got->len, at, (int)(expected_len - at < 160 ? expected_len - at : 160),
		      expected + at, (int)(got->len - at < 160 ? got->len - at : 160),
		      got->data ? got->data + at : "");
}

static bool same(const char *expected, size_t expected_len, const struct http_rewrite_buf *got)
{
	return got->len == expected_len &&
	       (expected_len == 0 || memcmp(expected, got->data, expected_len) == 0);
}

/* Runs transcript name with one piece size; returns true when both outputs match. */
static bool run_transcript(struct dad_proxy *proxy, const char *name, size_t piece)
{
	size_t pin_len, sin_len, pout_len, sout_len;
	char *pin = read_file(DATA_DIR, name, "player.in", &pin_len);
	char *sin = read_file(DATA_DIR, name, "server.in", &sin_len);
	char *pout = read_file(DATA_DIR, name, "player.out", &pout_len);
	char *sout = read_file(DATA_DIR, name, "server.out", &sout_len);
	struct sockaddr_in client = { .sin_family = AF_INET, .sin_port = htons(40000),
				      .sin_addr = addr_of("198.51.100.9") };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(8200),
				   .sin_addr = addr_of("198.51.100.5") };
	struct http_rewrite_buf to_player, to_server;
	bool ok;
	int ret;

	if (strncmp(name, "unknown-vip", 11) == 0)
		dst.sin_addr = addr_of("198.51.100.99");
	http_rewrite_buf_init(&to_player, FILE_MAX);
	http_rewrite_buf_init(&to_server, FILE_MAX);
	ret = dad_proxy_transcript(proxy, &client, &dst, pin, pin_len, sin, sin_len, piece,
				   &to_player, &to_server);
	ok = same(sout, sout_len, &to_server) && same(pout, pout_len, &to_player);
	if (!ok) {
		print_message("transcript %s, pieces of %zu bytes (0: whole), ended with %d\n",
			      name, piece, ret);
		if (!same(sout, sout_len, &to_server))
			report_difference("to server", sout, sout_len, &to_server);
		if (!same(pout, pout_len, &to_player))
			report_difference("to player", pout, pout_len, &to_player);
	}
	http_rewrite_buf_free(&to_player);
	http_rewrite_buf_free(&to_server);
	free(pin);
	free(sin);
	free(pout);
	free(sout);
	return ok;
}

static void golden_transcripts(void **state)
{
	static const size_t pieces[] = { 0, 1, 7, 4096 };
	struct dad_proxy_conf conf = { .lan_addr = addr_of("192.0.2.1") };
	struct dad_proxy_ops ops = { .lookup_real = lookup_real, .map_snapshot = map_snapshot };
	struct dad_proxy *proxy;
	DIR *dir = opendir(DATA_DIR);
	struct dirent *entry;
	size_t cases = 0, failed = 0;

	assert_non_null(dir);
	assert_int_equal(dad_proxy_new(&proxy, &conf, &ops, NULL, NULL), 0);
	while ((entry = readdir(dir)) != NULL) {
		char name[256];
		size_t len = strlen(entry->d_name);
		static const char suffix[] = ".player.in";

		if (len <= sizeof(suffix) - 1 || len - (sizeof(suffix) - 1) >= sizeof(name) ||
		    strcmp(entry->d_name + len - (sizeof(suffix) - 1), suffix) != 0)
			continue;
		memcpy(name, entry->d_name, len - (sizeof(suffix) - 1));
		name[len - (sizeof(suffix) - 1)] = '\0';
		cases++;
		for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
			failed += !run_transcript(proxy, name, pieces[i]);
	}
	closedir(dir);
	dad_proxy_free(proxy);
	print_message("%zu transcripts, %zu runs failed\n", cases, failed);
	assert_true(cases >= 20);
	assert_int_equal(failed, 0);
}

/* Runs one transcript with body_max 64 and returns what the player got. */
static void transcript_small(const char *server_in, struct http_rewrite_buf *to_player)
{
	static const char request[] = "GET /big.xml HTTP/1.1\r\nHost: 198.51.100.5:8200\r\n"
				      "Connection: close\r\n\r\n";
	struct dad_proxy_conf conf = { .body_max = 64 };
	struct dad_proxy_ops ops = { .lookup_real = lookup_real, .map_snapshot = map_snapshot };
	struct sockaddr_in client = { .sin_family = AF_INET, .sin_port = htons(40000),
				      .sin_addr = addr_of("198.51.100.9") };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(8200),
				   .sin_addr = addr_of("198.51.100.5") };
	struct http_rewrite_buf to_server;
	struct dad_proxy *proxy;

	assert_int_equal(dad_proxy_new(&proxy, &conf, &ops, NULL, NULL), 0);
	http_rewrite_buf_init(to_player, 1 << 20);
	http_rewrite_buf_init(&to_server, 1 << 20);
	assert_int_equal(dad_proxy_transcript(proxy, &client, &dst, request, strlen(request),
					      server_in, strlen(server_in), 0, to_player,
					      &to_server),
			 0);
	http_rewrite_buf_free(&to_server);
	dad_proxy_free(proxy);
}

static void check_player_got(const struct http_rewrite_buf *got, const char *expected)
{
	if (got->len != strlen(expected) || memcmp(got->data, expected, got->len) != 0)
		print_message("expected:\n%s\ngot:\n%.*s\n", expected, (int)got->len, got->data);
	assert_int_equal(got->len, strlen(expected));
	assert_memory_equal(got->data, expected, got->len);
}

/* A text body over body_max passes untranslated, with its own framing. */
static void transcript_over_max_length(void **state)
{
	static const char response[] =
		"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 80\r\n\r\n"
		"<a>http://192.0.2.5:8200/01234567890123456789012345678901234567890123456789</a>\n";
	struct http_rewrite_buf got;

	assert_int_equal(strlen(strstr(response, "\r\n\r\n") + 4), 80);
	transcript_small(response, &got);
	check_player_got(&got, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 80\r\n"
			       "Connection: close\r\n\r\n"
			       "<a>http://192.0.2.5:8200/01234567890123456789012345678901234567890123456789"
			       "</a>\n");
	http_rewrite_buf_free(&got);
}

/* Without a length, the overflow shows only after 64 bytes: the 60 bytes
 * collected from two chunks go out as one chunk, and each later piece as
 * another. */
static void transcript_over_max_chunked(void **state)
{
	static const char response[] =
		"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
		"1e\r\n<a>http://192.0.2.5:8200/01234\r\n"
		"1e\r\n567890123456789012345678901234\r\n"
		"1e\r\n5678901234567890123456789</a>\n\r\n"
		"0\r\n\r\n";
	struct http_rewrite_buf got;

	transcript_small(response, &got);
	check_player_got(&got, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
			       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
			       "3c\r\n<a>http://192.0.2.5:8200/01234"
			       "567890123456789012345678901234\r\n"
			       "1e\r\n5678901234567890123456789</a>\n\r\n"
			       "0\r\n\r\n");
	http_rewrite_buf_free(&got);
}

/* Runs a request of the player through a transcript with a silent server,
 * and returns what the player got. */
static void transcript_request(const char *request, size_t len, struct http_rewrite_buf *got)
{
	struct dad_proxy_conf conf = { 0 };
	struct dad_proxy_ops ops = { .lookup_real = lookup_real, .map_snapshot = map_snapshot };
	struct sockaddr_in client = { .sin_family = AF_INET, .sin_port = htons(40000),
				      .sin_addr = addr_of("198.51.100.9") };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(8200),
				   .sin_addr = addr_of("198.51.100.5") };
	struct http_rewrite_buf to_server;
	struct dad_proxy *proxy;

	assert_int_equal(dad_proxy_new(&proxy, &conf, &ops, NULL, NULL), 0);
	http_rewrite_buf_init(got, 1 << 20);
	http_rewrite_buf_init(&to_server, 1 << 20);
	dad_proxy_transcript(proxy, &client, &dst, request, len, "", 0, 0, got, &to_server);
	assert_int_equal(to_server.len, 0);
	http_rewrite_buf_free(&to_server);
	dad_proxy_free(proxy);
}

static bool starts_with(const struct http_rewrite_buf *buf, const char *prefix)
{
	return buf->len >= strlen(prefix) && memcmp(buf->data, prefix, strlen(prefix)) == 0;
}

/* Heads over 16 KiB or with more than 64 fields get 431 and reach no server. */
static void transcript_head_limits(void **state)
{
	struct http_rewrite_buf request, got;
	char field[64];

	http_rewrite_buf_init(&request, 1 << 20);
	assert_int_equal(http_rewrite_buf_puts(&request, "GET / HTTP/1.1\r\nX-Long: "), 0);
	for (int i = 0; i < DAD_HTTP_HEAD_MAX; i++)
		assert_int_equal(http_rewrite_buf_append(&request, "a", 1), 0);
	assert_int_equal(http_rewrite_buf_puts(&request, "\r\n\r\n"), 0);
	transcript_request(request.data, request.len, &got);
	assert_true(starts_with(&got, "HTTP/1.1 431 "));
	http_rewrite_buf_free(&got);

	http_rewrite_buf_clear(&request);
	assert_int_equal(http_rewrite_buf_puts(&request, "GET / HTTP/1.1\r\n"), 0);
	for (int i = 0; i <= DAD_HTTP_FIELDS_MAX; i++) {
		snprintf(field, sizeof(field), "X-Field-%d: %d\r\n", i, i);
		assert_int_equal(http_rewrite_buf_puts(&request, field), 0);
	}
	assert_int_equal(http_rewrite_buf_puts(&request, "\r\n"), 0);
	transcript_request(request.data, request.len, &got);
	assert_true(starts_with(&got, "HTTP/1.1 431 "));
	http_rewrite_buf_free(&got);
	http_rewrite_buf_free(&request);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(urls_raw_forms),
		cmocka_unit_test(urls_host_bounded),
		cmocka_unit_test(urls_escaped_forms),
		cmocka_unit_test(urls_percent_encoded),
		cmocka_unit_test(urls_utf8_unchanged),
		cmocka_unit_test(urls_output_bound),
		cmocka_unit_test(buf_append_limits),
		cmocka_unit_test(host_header_values),
		cmocka_unit_test(parse_ipv4_forms),
		cmocka_unit_test(golden_transcripts),
		cmocka_unit_test(transcript_over_max_length),
		cmocka_unit_test(transcript_over_max_chunked),
		cmocka_unit_test(transcript_head_limits),
	};

	return cmocka_run_group_tests(tests, setup_map, NULL);
}
