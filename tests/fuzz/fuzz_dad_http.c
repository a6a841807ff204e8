/*
 * libFuzzer target for the DLNA Agent's HTTP parsing (dad_http) and for
 * whole proxied connections (dad_proxy_transcript).
 *
 * Input: byte 0 sets the read piece size (1 to 16 bytes, or whole). Bytes
 * 1-2 are the count of the remaining bytes that the player sends, and the
 * server sends the others.
 * Checks:
 *   - a head parsed as a request and as a response stays inside its
 *     limits, and a head that parses, written out again with
 *     dad_http_put_field, parses to the same method or status and fields;
 *   - a body framed by Content-Length hands over exactly that many bytes;
 *   - a connection over memory ends without a crash or a sanitizer report.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dad_http.h"
#include "dad_proxy.h"
#include "ntm_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_rewrite_pair pairs[1];
static const struct http_rewrite_map map = { pairs, 1 };
static struct dad_proxy *proxy;
static struct dad_http_parser parser;
static struct dad_http_parser again;

static bool lookup_real(void *ctx, const struct in_addr *vip, struct in_addr *real)
{
	return http_rewrite_lookup(&map, HTTP_REWRITE_TO_REAL, vip, real);
}

static size_t map_snapshot(void *ctx, struct http_rewrite_pair *out, size_t max)
{
	out[0] = pairs[0];
	return max > 0 ? 1 : 0;
}

static void init_once(void)
{
	struct dad_proxy_conf conf = { .body_max = 64 * 1024 };
	struct dad_proxy_ops ops = { .lookup_real = lookup_real, .map_snapshot = map_snapshot };

	ntm_log_set_level(NTM_LOG_ERR);
	inet_pton(AF_INET, "192.0.2.5", &pairs[0].real);
	inet_pton(AF_INET, "198.51.100.5", &pairs[0].vip);
	if (dad_proxy_new(&proxy, &conf, &ops, NULL, NULL) < 0)
		abort();
}

static int count_body(void *ctx, const char *data, size_t len)
{
	*(uint64_t *)ctx += len;
	return 0;
}

static const struct dad_http_body_ops count_ops = { .data = count_body };

/* Writes the head of p out again and checks that it parses the same. */
static void check_round_trip(const struct dad_http_parser *p, enum http_parser_type type)
{
	const struct dad_http_head *h = &p->head;
	struct http_rewrite_buf out;
	size_t len, consumed;
	const char *target = dad_http_target(h, &len);
	int ret;

	/* ": " added to every field could push a head near the limit over it. */
	if (p->head_bytes > DAD_HTTP_HEAD_MAX / 2)
		return;
	http_rewrite_buf_init(&out, 2 * DAD_HTTP_HEAD_MAX);
	ret = type == HTTP_REQUEST ? dad_http_put_request_line(&out, h, target, len) :
				     dad_http_put_status_line(&out, h);
	for (size_t i = 0; ret == 0 && i < h->field_count; i++) {
		size_t name_len, value_len;
		const char *name = dad_http_field_name(h, i, &name_len);
		const char *value = dad_http_field_value(h, i, &value_len);

		ret = dad_http_put_field(&out, name, name_len, value, value_len);
	}
	if (ret == 0)
		ret = http_rewrite_buf_append(&out, "\r\n", 2);
	if (ret != 0)
		abort();

	dad_http_parser_init(&again, type, false);
	if (dad_http_parse_head(&again, out.data, out.len, &consumed) != DAD_HTTP_DONE ||
	    again.head.field_count != h->field_count || again.head.status != h->status ||
	    (type == HTTP_REQUEST && again.head.method != h->method))
		abort();
	http_rewrite_buf_free(&out);
}

static void parse_message(const char *buf, size_t len, size_t piece, enum http_parser_type type)
{
	enum dad_http_result res = DAD_HTTP_MORE;
	uint64_t body = 0;
	size_t pos = 0;

	dad_http_parser_init(&parser, type, false);
	while (pos < len && res == DAD_HTTP_MORE) {
		size_t n = piece && len - pos > piece ? piece : len - pos, used;

		res = dad_http_parse_head(&parser, buf + pos, n, &used);
		if (used > n)
			abort();
		pos += used;
	}
	if (res != DAD_HTTP_DONE)
		return;
	if (parser.head.text_len > DAD_HTTP_HEAD_MAX || parser.head.field_count > DAD_HTTP_FIELDS_MAX)
		abort();
	check_round_trip(&parser, type);

	dad_http_parser_set_body(&parser, &count_ops, &body);
	res = DAD_HTTP_MORE;
	while (pos < len && res == DAD_HTTP_MORE) {
		size_t used;

		res = dad_http_parse_body(&parser, buf + pos, len - pos, &used);
		pos += used;
	}
	if (res == DAD_HTTP_DONE && parser.head.body == DAD_HTTP_BODY_LENGTH &&
	    body != parser.head.content_length)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in client = { .sin_family = AF_INET, .sin_port = htons(40000) };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(8200) };
	struct http_rewrite_buf to_player, to_server;
	size_t piece, player_len;
	const char *rest;

	if (size < 3)
		return 0;
	if (!proxy)
		init_once();
	piece = data[0] % 17;
	player_len = (size_t)(data[1] << 8 | data[2]);
	rest = (const char *)data + 3;
	size -= 3;
	if (player_len > size)
		player_len = size;

	parse_message(rest, size, piece, HTTP_REQUEST);
	parse_message(rest, size, piece, HTTP_RESPONSE);

	inet_pton(AF_INET, "198.51.100.9", &client.sin_addr);
	dst.sin_addr = pairs[0].vip;
	http_rewrite_buf_init(&to_player, 8 * 1024 * 1024);
	http_rewrite_buf_init(&to_server, 8 * 1024 * 1024);
	dad_proxy_transcript(proxy, &client, &dst, rest, player_len, rest + player_len,
			     size - player_len, piece, &to_player, &to_server);
	http_rewrite_buf_free(&to_player);
	http_rewrite_buf_free(&to_server);
	return 0;
}
