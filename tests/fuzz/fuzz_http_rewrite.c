/*
 * libFuzzer target for the DLNA Agent's URL translation (http_rewrite).
 * The first byte picks the direction; the rest is the text. Checks:
 *   - the output length is the input length plus 3 bytes per translated
 *     host (192.0.2.5 <-> 198.51.100.5 and 192.0.2.7 <-> 198.51.100.7 differ
 *     by 3 characters each);
 *   - a second pass over the output finds nothing left to translate;
 *   - a bound one byte below the needed length fails with -ENOBUFS;
 *   - a Host value changes by 0 or 3 bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_rewrite_pair pairs[2];
static struct http_rewrite_map map = { pairs, 2 };

static void init_map(void)
{
	inet_pton(AF_INET, "192.0.2.5", &pairs[0].real);
	inet_pton(AF_INET, "198.51.100.5", &pairs[0].vip);
	inet_pton(AF_INET, "192.0.2.7", &pairs[1].real);
	inet_pton(AF_INET, "198.51.100.7", &pairs[1].vip);
}

static void check_host(const char *text, size_t len, enum http_rewrite_dir dir)
{
	struct http_rewrite_buf out;
	size_t expected = len;
	int ret;

	http_rewrite_buf_init(&out, len + 16);
	ret = http_rewrite_host(&out, text, len, &map, dir);
	if (ret < 0)
		abort();
	if (ret == 1)
		expected = dir == HTTP_REWRITE_TO_VIP ? len + 3 : len - 3;
	if (out.len != expected)
		abort();
	http_rewrite_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum http_rewrite_dir dir;
	struct http_rewrite_buf out, again, tight;
	const char *text;
	size_t len, expected;
	ssize_t n;

	if (size < 1)
		return 0;
	if (pairs[0].real.s_addr == 0)
		init_map();
	dir = data[0] & 1 ? HTTP_REWRITE_TO_REAL : HTTP_REWRITE_TO_VIP;
	text = (const char *)data + 1;
	len = size - 1;

	http_rewrite_buf_init(&out, 2 * len + 64);
	n = http_rewrite_urls(&out, text, len, &map, dir);
	if (n < 0)
		abort();
	expected = dir == HTTP_REWRITE_TO_VIP ? len + 3 * (size_t)n : len - 3 * (size_t)n;
	if (out.len != expected)
		abort();

	http_rewrite_buf_init(&again, 2 * len + 64);
	if (http_rewrite_urls(&again, out.data, out.len, &map, dir) != 0 || again.len != out.len ||
	    (out.len > 0 && memcmp(again.data, out.data, out.len) != 0))
		abort();

	if (out.len > 0) {
		http_rewrite_buf_init(&tight, out.len - 1);
		if (http_rewrite_urls(&tight, text, len, &map, dir) != -ENOBUFS || tight.len > out.len - 1)
			abort();
		http_rewrite_buf_free(&tight);
	}
	check_host(text, len, dir);
	http_rewrite_buf_free(&again);
	http_rewrite_buf_free(&out);
	return 0;
}
