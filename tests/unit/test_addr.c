/* Unit tests for address, endpoint and prefix handling (ntm_addr). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/un.h>

#include "ntm_addr.h"

static struct ntm_ip ip_of(const char *text)
{
	struct ntm_ip ip;

	assert_int_equal(ntm_ip_parse(&ip, text), 0);
	return ip;
}

static struct ntm_prefix prefix_of(const char *text)
{
	struct ntm_prefix p;

	assert_int_equal(ntm_prefix_parse(&p, text), 0);
	return p;
}

static void ip_parse_valid(void **state)
{
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct ntm_ip ip;

	assert_int_equal(ntm_ip_parse(&ip, "192.0.2.1"), 0);
	assert_int_equal(ip.len, 4);
	assert_memory_equal(ip.bytes, v4, 4);

	assert_int_equal(ntm_ip_parse(&ip, "2001:db8::1"), 0);
	assert_int_equal(ip.len, 16);
	assert_memory_equal(ip.bytes, v6, 16);

	assert_int_equal(ntm_ip_parse(&ip, "0.0.0.0"), 0);
	assert_int_equal(ntm_ip_parse(&ip, "255.255.255.255"), 0);
	assert_int_equal(ntm_ip_parse(&ip, "::"), 0);
	assert_int_equal(ip.len, 16);
	/* An IPv4-mapped address in text stays IPv6. */
	assert_int_equal(ntm_ip_parse(&ip, "::ffff:192.0.2.1"), 0);
	assert_int_equal(ip.len, 16);
}

static void ip_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"", "192.0.2", "192.0.2.256", "192.0.2.1.5", " 192.0.2.1", "192.0.2.1 ",
		"01.2.3.4", "0x1.2.3.4", "192.0.2.1/24", "192.0.2.1:80", "2001:db8:::1",
		"2001:db8::1%eth0", "[2001:db8::1]", "1:2:3:4:5:6:7:8:9", "host.example",
		"2001:db8:0000:0000:0000:0000:0000:0000:0001",
	};
	struct ntm_ip ip;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = ntm_ip_parse(&ip, bad[i]);

		if (ret != -EINVAL)
			print_message("accepted: '%s'\n", bad[i]);
		assert_int_equal(ret, -EINVAL);
	}
	assert_int_equal(ntm_ip_parse(&ip, NULL), -EINVAL);
}

static void ip_from_bytes_lengths(void **state)
{
	uint8_t raw[17] = { 1, 2, 3, 4 };
	struct ntm_ip ip;

	for (size_t len = 0; len <= sizeof(raw); len++) {
		int expected = (len == 4 || len == 16) ? 0 : -EINVAL;

		assert_int_equal(ntm_ip_from_bytes(&ip, raw, len), expected);
	}
	assert_int_equal(ntm_ip_from_bytes(&ip, raw, 4), 0);
	assert_int_equal(ip.len, 4);
	assert_memory_equal(ip.bytes, raw, 4);
	assert_int_equal(ntm_ip_from_bytes(&ip, NULL, 4), -EINVAL);
}

static void ip_str_roundtrip(void **state)
{
	static const char *const texts[] = { "192.0.2.1", "2001:db8::1", "::", "0.0.0.0",
					     "2001:db8:1:2:3:4:5:6" };
	char buf[INET6_ADDRSTRLEN];
	struct ntm_ip ip = { 0 };

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ip = ip_of(texts[i]);
		assert_string_equal(ntm_ip_str(&ip, buf, sizeof(buf)), texts[i]);
	}
	ip.len = 0;
	assert_string_equal(ntm_ip_str(&ip, buf, sizeof(buf)), "unset");
	ip = ip_of("192.0.2.1");
	assert_string_equal(ntm_ip_str(&ip, buf, 4), "");
}

static void ip_equal_cases(void **state)
{
	struct ntm_ip a = ip_of("192.0.2.1"), b = ip_of("192.0.2.1");
	struct ntm_ip c = ip_of("192.0.2.2"), mapped = ip_of("::ffff:192.0.2.1");

	assert_true(ntm_ip_equal(&a, &b));
	assert_false(ntm_ip_equal(&a, &c));
	assert_false(ntm_ip_equal(&a, &mapped));
}

static void endpoint_parse_valid(void **state)
{
	struct ntm_endpoint ep;
	char buf[NTM_ENDPOINT_STRLEN];

	assert_int_equal(ntm_endpoint_parse(&ep, "192.0.2.1:4000", 0), 0);
	assert_int_equal(ep.ip.len, 4);
	assert_int_equal(ep.port, 4000);
	assert_string_equal(ntm_endpoint_str(&ep, buf, sizeof(buf)), "192.0.2.1:4000");

	assert_int_equal(ntm_endpoint_parse(&ep, "[2001:db8::1]:4000", 0), 0);
	assert_int_equal(ep.ip.len, 16);
	assert_int_equal(ep.port, 4000);
	assert_string_equal(ntm_endpoint_str(&ep, buf, sizeof(buf)), "[2001:db8::1]:4000");

	assert_int_equal(ntm_endpoint_parse(&ep, "192.0.2.1:1", 0), 0);
	assert_int_equal(ep.port, 1);
	assert_int_equal(ntm_endpoint_parse(&ep, "192.0.2.1:65535", 0), 0);
	assert_int_equal(ep.port, 65535);
	assert_int_equal(ntm_endpoint_parse(&ep, "192.0.2.1:00080", 0), 0);
	assert_int_equal(ep.port, 80);
}

static void endpoint_parse_default_port(void **state)
{
	struct ntm_endpoint ep;
	struct ntm_ip expected = ip_of("2001:db8::1:80");

	assert_int_equal(ntm_endpoint_parse(&ep, "192.0.2.1", 47800), 0);
	assert_int_equal(ep.port, 47800);
	assert_int_equal(ntm_endpoint_parse(&ep, "[2001:db8::1]", 47800), 0);
	assert_int_equal(ep.ip.len, 16);
	assert_int_equal(ep.port, 47800);
	/* A bare IPv6 address never takes a port: the last group is address. */
	assert_int_equal(ntm_endpoint_parse(&ep, "2001:db8::1:80", 47800), 0);
	assert_true(ntm_ip_equal(&ep.ip, &expected));
	assert_int_equal(ep.port, 47800);
	/* An explicit port wins over the default. */
	assert_int_equal(ntm_endpoint_parse(&ep, "192.0.2.1:9", 47800), 0);
	assert_int_equal(ep.port, 9);
}

static void endpoint_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"192.0.2.1:0", "192.0.2.1:65536", "192.0.2.1:99999", "192.0.2.1:000080",
		"192.0.2.1:", "192.0.2.1:+80", "192.0.2.1:-1", "192.0.2.1: 80", "192.0.2.1:80 ",
		"192.0.2.1:80x", "192.0.2.1:0x50", "[192.0.2.1]:80", "[2001:db8::1]:",
		"[2001:db8::1]80", "[2001:db8::1", "2001:db8::1]:80", "[2001:db8::1]]:80",
		"[2001:db8::1]:80:81", "[]:80", ":80", "", "host.example:80", "192.0.2.1",
		"2001:db8::1", "[2001:db8::1]", "192.0.2.256:80",
	};
	struct ntm_endpoint ep;
	char long_text[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = ntm_endpoint_parse(&ep, bad[i], 0);

		if (ret != -EINVAL)
			print_message("accepted: '%s'\n", bad[i]);
		assert_int_equal(ret, -EINVAL);
	}
	assert_int_equal(ntm_endpoint_parse(&ep, NULL, 80), -EINVAL);
	assert_int_equal(ntm_endpoint_parse(&ep, "192.0.2.1:0", 80), -EINVAL);

	/* Longer than any endpoint text. */
	memset(long_text, '1', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	assert_int_equal(ntm_endpoint_parse(&ep, long_text, 80), -EINVAL);
}

static void endpoint_equal_cases(void **state)
{
	struct ntm_endpoint a, b;

	assert_int_equal(ntm_endpoint_parse(&a, "192.0.2.1:80", 0), 0);
	assert_int_equal(ntm_endpoint_parse(&b, "192.0.2.1:80", 0), 0);
	assert_true(ntm_endpoint_equal(&a, &b));
	b.port = 81;
	assert_false(ntm_endpoint_equal(&a, &b));
	assert_int_equal(ntm_endpoint_parse(&b, "192.0.2.2:80", 0), 0);
	assert_false(ntm_endpoint_equal(&a, &b));
}

static void endpoint_sockaddr_v4(void **state)
{
	struct ntm_endpoint ep, back;
	struct sockaddr_storage ss;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
	socklen_t len;

	assert_int_equal(ntm_endpoint_parse(&ep, "192.0.2.1:4000", 0), 0);
	len = ntm_endpoint_to_sockaddr(&ep, &ss);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 4000);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc0000201);

	assert_int_equal(ntm_endpoint_from_sockaddr(&back, (struct sockaddr *)&ss, len), 0);
	assert_true(ntm_endpoint_equal(&ep, &back));
	assert_int_equal(ntm_endpoint_from_sockaddr(&back, (struct sockaddr *)&ss, len - 1),
			 -EINVAL);
}

static void endpoint_sockaddr_v6(void **state)
{
	struct ntm_endpoint ep, back;
	struct sockaddr_storage ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
	socklen_t len;

	assert_int_equal(ntm_endpoint_parse(&ep, "[2001:db8::1]:4000", 0), 0);
	len = ntm_endpoint_to_sockaddr(&ep, &ss);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 4000);

	assert_int_equal(ntm_endpoint_from_sockaddr(&back, (struct sockaddr *)&ss, len), 0);
	assert_true(ntm_endpoint_equal(&ep, &back));
	assert_int_equal(ntm_endpoint_from_sockaddr(&back, (struct sockaddr *)&ss, len - 1),
			 -EINVAL);

	ep.ip.len = 0;
	assert_int_equal(ntm_endpoint_to_sockaddr(&ep, &ss), 0);
}

static void endpoint_sockaddr_mapped(void **state)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(53) };
	struct ntm_endpoint ep;
	char buf[NTM_ENDPOINT_STRLEN];

	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr), 1);
	assert_int_equal(ntm_endpoint_from_sockaddr(&ep, (struct sockaddr *)&sin6, sizeof(sin6)),
			 0);
	assert_int_equal(ep.ip.len, 4);
	assert_string_equal(ntm_endpoint_str(&ep, buf, sizeof(buf)), "192.0.2.7:53");
}

static void endpoint_sockaddr_family(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ntm_endpoint ep;

	assert_int_equal(ntm_endpoint_from_sockaddr(&ep, (struct sockaddr *)&sun, sizeof(sun)),
			 -EAFNOSUPPORT);
	assert_int_equal(ntm_endpoint_from_sockaddr(&ep, (struct sockaddr *)&sun, 1), -EINVAL);
}

static void prefix_parse_valid(void **state)
{
	struct ntm_prefix p;
	char buf[INET6_ADDRSTRLEN + 4];

	assert_int_equal(ntm_prefix_parse(&p, "198.51.100.0/24"), 0);
	assert_int_equal(p.ip.len, 4);
	assert_int_equal(p.len, 24);
	assert_string_equal(ntm_prefix_str(&p, buf, sizeof(buf)), "198.51.100.0/24");

	assert_int_equal(ntm_prefix_parse(&p, "2001:db8::/32"), 0);
	assert_int_equal(p.ip.len, 16);
	assert_int_equal(p.len, 32);
	assert_string_equal(ntm_prefix_str(&p, buf, sizeof(buf)), "2001:db8::/32");

	assert_int_equal(ntm_prefix_parse(&p, "0.0.0.0/0"), 0);
	assert_int_equal(ntm_prefix_parse(&p, "::/0"), 0);
	assert_int_equal(ntm_prefix_parse(&p, "192.0.2.255/32"), 0);
	assert_int_equal(ntm_prefix_parse(&p, "2001:db8::1/128"), 0);
	assert_int_equal(ntm_prefix_parse(&p, "198.51.100.128/25"), 0);
}

static void prefix_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"198.51.100.1/24", "198.51.100.128/24", "198.51.100.0/33", "198.51.100.0/",
		"198.51.100.0", "/24", "198.51.100.0/-1", "198.51.100.0/+24", "198.51.100.0/ 24",
		"198.51.100.0/24 ", "198.51.100.0/2a", "198.51.100.0/0024", "2001:db8::1/64",
		"2001:db8::/129", "2001:db8::/1000", "[2001:db8::]/32", "198.51.100.0/24/24", "",
		"0.0.0.1/0",
	};
	struct ntm_prefix p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = ntm_prefix_parse(&p, bad[i]);

		if (ret != -EINVAL)
			print_message("accepted: '%s'\n", bad[i]);
		assert_int_equal(ret, -EINVAL);
	}
	assert_int_equal(ntm_prefix_parse(&p, NULL), -EINVAL);
}

static void prefix_contains_cases(void **state)
{
	struct ntm_prefix p = prefix_of("198.51.100.0/24");
	struct ntm_prefix half = prefix_of("198.51.100.128/25");
	struct ntm_prefix all = prefix_of("0.0.0.0/0");
	struct ntm_prefix v6 = prefix_of("2001:db8::/32");
	struct ntm_ip in = ip_of("198.51.100.7"), out = ip_of("198.51.101.7");
	struct ntm_ip v6_in = ip_of("2001:db8:ffff::1"), v6_out = ip_of("2001:db9::1");

	assert_true(ntm_prefix_contains(&p, &in));
	assert_false(ntm_prefix_contains(&p, &out));
	assert_false(ntm_prefix_contains(&p, &v6_in));
	assert_true(ntm_prefix_contains(&half, &(struct ntm_ip){ 4, { 198, 51, 100, 128 } }));
	assert_true(ntm_prefix_contains(&half, &(struct ntm_ip){ 4, { 198, 51, 100, 255 } }));
	assert_false(ntm_prefix_contains(&half, &(struct ntm_ip){ 4, { 198, 51, 100, 127 } }));
	assert_true(ntm_prefix_contains(&all, &out));
	assert_false(ntm_prefix_contains(&all, &v6_in));
	assert_true(ntm_prefix_contains(&v6, &v6_in));
	assert_false(ntm_prefix_contains(&v6, &v6_out));
}

static void prefix_size_cases(void **state)
{
	struct ntm_prefix p;

	p = prefix_of("198.51.100.0/24");
	assert_int_equal(ntm_prefix_size(&p), 256);
	p = prefix_of("192.0.2.1/32");
	assert_int_equal(ntm_prefix_size(&p), 1);
	p = prefix_of("0.0.0.0/0");
	assert_int_equal(ntm_prefix_size(&p), UINT64_C(1) << 32);
	p = prefix_of("2001:db8::/65");
	assert_int_equal(ntm_prefix_size(&p), UINT64_C(1) << 63);
	p = prefix_of("2001:db8::/64");
	assert_int_equal(ntm_prefix_size(&p), UINT64_MAX);
	p = prefix_of("::/0");
	assert_int_equal(ntm_prefix_size(&p), UINT64_MAX);
	p = prefix_of("2001:db8::1/128");
	assert_int_equal(ntm_prefix_size(&p), 1);
}

static void prefix_nth_v4(void **state)
{
	struct ntm_prefix p = prefix_of("198.51.100.0/24");
	struct ntm_prefix all = prefix_of("0.0.0.0/0");
	struct ntm_ip ip, expected;

	assert_int_equal(ntm_prefix_nth(&p, 0, &ip), 0);
	expected = ip_of("198.51.100.0");
	assert_true(ntm_ip_equal(&ip, &expected));
	assert_int_equal(ntm_prefix_nth(&p, 255, &ip), 0);
	expected = ip_of("198.51.100.255");
	assert_true(ntm_ip_equal(&ip, &expected));
	assert_int_equal(ntm_prefix_nth(&p, 256, &ip), -ERANGE);
	assert_int_equal(ntm_prefix_nth(&p, UINT64_MAX, &ip), -ERANGE);

	assert_int_equal(ntm_prefix_nth(&all, 0xffffffffu, &ip), 0);
	expected = ip_of("255.255.255.255");
	assert_true(ntm_ip_equal(&ip, &expected));
	assert_int_equal(ntm_prefix_nth(&all, UINT64_C(1) << 32, &ip), -ERANGE);
}

static void prefix_nth_v6(void **state)
{
	struct ntm_prefix p64 = prefix_of("2001:db8::/64");
	struct ntm_prefix p32 = prefix_of("2001:db8::/32");
	struct ntm_prefix p120 = prefix_of("2001:db8::100/120");
	struct ntm_ip ip, expected;

	assert_int_equal(ntm_prefix_nth(&p64, 0x1234, &ip), 0);
	expected = ip_of("2001:db8::1234");
	assert_true(ntm_ip_equal(&ip, &expected));
	assert_int_equal(ntm_prefix_nth(&p64, UINT64_MAX, &ip), 0);
	expected = ip_of("2001:db8::ffff:ffff:ffff:ffff");
	assert_true(ntm_ip_equal(&ip, &expected));

	assert_int_equal(ntm_prefix_nth(&p32, UINT64_C(1) << 40, &ip), 0);
	expected = ip_of("2001:db8::100:0:0");
	assert_true(ntm_ip_equal(&ip, &expected));

	assert_int_equal(ntm_prefix_nth(&p120, 255, &ip), 0);
	expected = ip_of("2001:db8::1ff");
	assert_true(ntm_ip_equal(&ip, &expected));
	assert_int_equal(ntm_prefix_nth(&p120, 256, &ip), -ERANGE);
}

static void prefix_nth_invalid(void **state)
{
	struct ntm_prefix p = { .ip = { .len = 5 }, .len = 8 };
	struct ntm_ip ip;

	assert_int_equal(ntm_prefix_nth(&p, 0, &ip), -EINVAL);
	p = prefix_of("198.51.100.0/24");
	p.len = 33;
	assert_int_equal(ntm_prefix_nth(&p, 0, &ip), -EINVAL);
	assert_int_equal(ntm_prefix_size(&p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ip_parse_valid),
		cmocka_unit_test(ip_parse_invalid),
		cmocka_unit_test(ip_from_bytes_lengths),
		cmocka_unit_test(ip_str_roundtrip),
		cmocka_unit_test(ip_equal_cases),
		cmocka_unit_test(endpoint_parse_valid),
		cmocka_unit_test(endpoint_parse_default_port),
		cmocka_unit_test(endpoint_parse_invalid),
		cmocka_unit_test(endpoint_equal_cases),
		cmocka_unit_test(endpoint_sockaddr_v4),
		cmocka_unit_test(endpoint_sockaddr_v6),
		cmocka_unit_test(endpoint_sockaddr_mapped),
		cmocka_unit_test(endpoint_sockaddr_family),
		cmocka_unit_test(prefix_parse_valid),
		cmocka_unit_test(prefix_parse_invalid),
		cmocka_unit_test(prefix_contains_cases),
		cmocka_unit_test(prefix_size_cases),
		cmocka_unit_test(prefix_nth_v4),
		cmocka_unit_test(prefix_nth_v6),
		cmocka_unit_test(prefix_nth_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
