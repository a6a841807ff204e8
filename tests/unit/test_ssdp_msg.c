/* Unit tests of the SSDP parser and builder (ssdp-proxy/ssdp_msg.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ssdp_msg.h"

static const char msearch[] = "M-SEARCH * HTTP/1.1\r\n"
			      "HOST: 239.255.255.250:1900\r\n"
			      "MAN: \"ssdp:discover\"\r\n"
			      "MX: 3\r\n"
			      "ST: urn:schemas-upnp-org:device:MediaServer:1\r\n"
			      "USER-AGENT: Linux/6 UPnP/1.0 GSSDP/1.6.2\r\n"
			      "\r\n";

static const char notify[] = "NOTIFY * HTTP/1.1\r\n"
			     "HOST: 239.255.255.250:1900\r\n"
			     "CACHE-CONTROL: max-age=1810\r\n"
			     "LOCATION: http://192.0.2.3:8200/rootDesc.xml\r\n"
			     "SERVER: Debian/12 DLNADOC/1.50 UPnP/1.0 MiniDLNA/1.3.0\r\n"
			     "NT: upnp:rootdevice\r\n"
			     "USN: uuid:4d696e69-444c-164e-9d41-b827eb54e7a0::upnp:rootdevice\r\n"
			     "NTS: ssdp:alive\r\n"
			     "\r\n";

static const char response[] = "HTTP/1.1 200 OK\r\n"
			       "CACHE-CONTROL: max-age=1800\r\n"
			       "DATE: Thu, 04 Dec 2025 21:00:00 GMT\r\n"
			       "ST: urn:schemas-upnp-org:device:MediaServer:1\r\n"
			       "USN: uuid:abc::urn:schemas-upnp-org:device:MediaServer:1\r\n"
			       "EXT:\r\n"
			       "SERVER: Linux UPnP/1.0 test/1\r\n"
			       "LOCATION: http://192.0.2.3:8200/rootDesc.xml\r\n"
			       "Content-Length: 0\r\n"
			       "\r\n";

static struct ssdp_msg msg;

static enum ssdp_status parse_text(const char *text)
{
	return ssdp_msg_parse(&msg, text, strlen(text));
}

/* ---- parsing ---- */

static void test_parse_msearch(void **state)
{
	assert_int_equal(parse_text(msearch), SSDP_OK);
	assert_int_equal(msg.kind, SSDP_KIND_MSEARCH);
	assert_int_equal(msg.n_headers, 5);
	assert_string_equal(ssdp_msg_st(&msg), "urn:schemas-upnp-org:device:MediaServer:1");
	assert_true(ssdp_msg_man_discover(&msg));
	assert_int_equal(ssdp_msg_mx(&msg), 3);
	assert_string_equal(ssdp_msg_header(&msg, "user-agent"), "Linux/6 UPnP/1.0 GSSDP/1.6.2");
}

static void test_parse_notify(void **state)
{
	uint32_t max_age = 0;

	assert_int_equal(parse_text(notify), SSDP_OK);
	assert_int_equal(msg.kind, SSDP_KIND_NOTIFY);
	assert_int_equal(ssdp_msg_nts(&msg), SSDP_NTS_ALIVE);
	assert_string_equal(ssdp_msg_nt(&msg), "upnp:rootdevice");
	assert_string_equal(ssdp_msg_location(&msg), "http://192.0.2.3:8200/rootDesc.xml");
	assert_string_equal(ssdp_msg_server(&msg),
			    "Debian/12 DLNADOC/1.50 UPnP/1.0 MiniDLNA/1.3.0");
	assert_int_equal(ssdp_msg_max_age(&msg, &max_age), 0);
	assert_int_equal(max_age, 1810);
}

static void test_parse_response(void **state)
{
	assert_int_equal(parse_text(response), SSDP_OK);
	assert_int_equal(msg.kind, SSDP_KIND_RESPONSE);
	assert_string_equal(ssdp_msg_usn(&msg),
			    "uuid:abc::urn:schemas-upnp-org:device:MediaServer:1");
	assert_string_equal(ssdp_msg_header(&msg, "EXT"), "");
	assert_int_equal(msg.n_headers, 8);
}

static void test_parse_bare_lf(void **state)
{
	const char *text = "M-SEARCH * HTTP/1.1\nHOST: 239.255.255.250:1900\nMAN: \"ssdp:discover\"\n"
			   "MX: 2\nST: ssdp:all\n\n";

	assert_int_equal(parse_text(text), SSDP_OK);
	assert_string_equal(ssdp_msg_st(&msg), "ssdp:all");
	assert_int_equal(ssdp_msg_mx(&msg), 2);
}

static void test_parse_odd_case_spacing(void **state)
{
	const char *text = "M-SEARCH * HTTP/1.1\r\n"
			   "host:239.255.255.250:1900\r\n"
			   "mAn:\"ssdp:discover\"\r\n"
			   "mx :  \t 4 \t\r\n"
			   "st :  upnp:rootdevice   \r\n"
			   "X-Empty:\r\n"
			   "\r\n";

	assert_int_equal(parse_text(text), SSDP_OK);
	assert_string_equal(ssdp_msg_st(&msg), "upnp:rootdevice");
	assert_string_equal(ssdp_msg_header(&msg, "ST"), "upnp:rootdevice");
	assert_true(ssdp_msg_man_discover(&msg));
	assert_int_equal(ssdp_msg_mx(&msg), 4);
	assert_string_equal(ssdp_msg_header(&msg, "x-empty"), "");
	assert_null(ssdp_msg_header(&msg, "USN"));
}

static void test_parse_no_space_st(void **state)
{
	assert_int_equal(parse_text("M-SEARCH * HTTP/1.1\r\nST:ssdp:all\r\n\r\n"), SSDP_OK);
	assert_string_equal(ssdp_msg_st(&msg), "ssdp:all");
}

static void test_parse_end_without_empty_line(void **state)
{
	assert_int_equal(parse_text("M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n"), SSDP_OK);
	assert_string_equal(ssdp_msg_st(&msg), "ssdp:all");
	assert_int_equal(parse_text("M-SEARCH * HTTP/1.1\r\nST: ssdp:all"), SSDP_ERR_TRUNCATED);
	assert_int_equal(parse_text("M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r"), SSDP_ERR_TRUNCATED);
}

static void test_parse_ignores_body(void **state)
{
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nNT: a\r\n\r\n\x01garbage"), SSDP_OK);
	assert_int_equal(msg.n_headers, 1);
}

static void test_parse_start_lines(void **state)
{
	assert_int_equal(parse_text("M-SEARCH * HTTP/1.0\r\n\r\n"), SSDP_OK);
	assert_int_equal(parse_text("HTTP/1.1 200\r\n\r\n"), SSDP_OK);
	assert_int_equal(msg.kind, SSDP_KIND_RESPONSE);
	assert_int_equal(parse_text("HTTP/1.0 200 Okay\r\n\r\n"), SSDP_OK);
	assert_int_equal(parse_text("m-search * HTTP/1.1\r\n\r\n"), SSDP_ERR_START_LINE);
	assert_int_equal(parse_text("M-SEARCH / HTTP/1.1\r\n\r\n"), SSDP_ERR_START_LINE);
	assert_int_equal(parse_text("M-SEARCH  * HTTP/1.1\r\n\r\n"), SSDP_ERR_START_LINE);
	assert_int_equal(parse_text("M-SEARCH * HTTP/2.0\r\n\r\n"), SSDP_ERR_START_LINE);
	assert_int_equal(parse_text("GET / HTTP/1.1\r\n\r\n"), SSDP_ERR_START_LINE);
	assert_int_equal(parse_text("HTTP/1.1 404 Not Found\r\n\r\n"), SSDP_ERR_START_LINE);
	assert_int_equal(parse_text("HTTP/1.1 2000 OK\r\n\r\n"), SSDP_ERR_START_LINE);
	assert_int_equal(parse_text("\r\n"), SSDP_ERR_START_LINE);
	assert_int_equal(parse_text(""), SSDP_ERR_TRUNCATED);
}

static void test_parse_bad_header_lines(void **state)
{
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nNoColon\r\n\r\n"), SSDP_ERR_HEADER);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\n: value\r\n\r\n"), SSDP_ERR_HEADER);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nNT: a\r\n folded\r\n\r\n"),
			 SSDP_ERR_HEADER);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nN(T): a\r\n\r\n"), SSDP_ERR_HEADER);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nN T: a\r\n\r\n"), SSDP_ERR_HEADER);
}

static void test_parse_control_bytes(void **state)
{
	static const char nul[] = "NOTIFY * HTTP/1.1\r\nNT: a\0b\r\n\r\n";

	assert_int_equal(ssdp_msg_parse(&msg, nul, sizeof(nul) - 1), SSDP_ERR_CONTROL_BYTE);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nNT: a\x01z\r\n\r\n"),
			 SSDP_ERR_CONTROL_BYTE);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nNT: a\x7fz\r\n\r\n"),
			 SSDP_ERR_CONTROL_BYTE);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nNT: a\rb\r\n\r\n"),
			 SSDP_ERR_CONTROL_BYTE);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\x1b\r\n\r\n"), SSDP_ERR_CONTROL_BYTE);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nSERVER: a\tb \xc3\xa9\r\n\r\n"), SSDP_OK);
	assert_string_equal(ssdp_msg_server(&msg), "a\tb \xc3\xa9");
}

static void test_parse_duplicates(void **state)
{
	assert_int_equal(parse_text("M-SEARCH * HTTP/1.1\r\nST: a\r\nst: b\r\n\r\n"),
			 SSDP_ERR_DUPLICATE);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nLOCATION: a\r\nLocation: a\r\n\r\n"),
			 SSDP_ERR_DUPLICATE);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nX-Foo: a\r\nX-Foo: b\r\n\r\n"), SSDP_OK);
	assert_string_equal(ssdp_msg_header(&msg, "x-foo"), "a");
}

/* ---- size limits ---- */

static char *repeat_char(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_parse_oversize_datagram(void **state)
{
	size_t len = SSDP_MSG_MAX + 1;
	char *big = repeat_char('a', len);

	assert_int_equal(ssdp_msg_parse(&msg, big, len), SSDP_ERR_TOO_LONG);
	free(big);
}

static void test_parse_line_length(void **state)
{
	char *value = repeat_char('v', SSDP_LINE_MAX - 4);
	char text[SSDP_LINE_MAX + 64];

	snprintf(text, sizeof(text), "NOTIFY * HTTP/1.1\r\nNT: %s\r\n\r\n", value);
	assert_int_equal(parse_text(text), SSDP_OK);
	assert_int_equal(strlen(ssdp_msg_nt(&msg)), SSDP_LINE_MAX - 4);

	snprintf(text, sizeof(text), "NOTIFY * HTTP/1.1\r\nNT: %sv\r\n\r\n", value);
	assert_int_equal(parse_text(text), SSDP_ERR_LINE_TOO_LONG);
	snprintf(text, sizeof(text), "NOTIFY * HTTP/1.1\nNT: %sv\n\n", value);
	assert_int_equal(parse_text(text), SSDP_ERR_LINE_TOO_LONG);
	free(value);
}

static void build_many_headers(char *text, size_t size, int count)
{
	size_t pos = (size_t)snprintf(text, size, "NOTIFY * HTTP/1.1\r\n");

	for (int i = 0; i < count; i++)
		pos += (size_t)snprintf(text + pos, size - pos, "X-H%d: %d\r\n", i, i);
	snprintf(text + pos, size - pos, "\r\n");
}

static void test_parse_header_count(void **state)
{
	char text[2048];

	build_many_headers(text, sizeof(text), SSDP_MAX_HEADERS);
	assert_int_equal(parse_text(text), SSDP_OK);
	assert_int_equal(msg.n_headers, SSDP_MAX_HEADERS);
	build_many_headers(text, sizeof(text), SSDP_MAX_HEADERS + 1);
	assert_int_equal(parse_text(text), SSDP_ERR_TOO_MANY_HEADERS);
}

/* Cuts text at every byte: a prefix parses only when it ends right after a
 * line ending, and then with the first headers of the whole message. */
static void check_truncations(const char *text)
{
	size_t len = strlen(text);
	struct ssdp_msg *whole = malloc(sizeof(*whole));

	assert_non_null(whole);
	assert_int_equal(ssdp_msg_parse(whole, text, len), SSDP_OK);
	for (size_t cut = 0; cut < len; cut++) {
		enum ssdp_status st = ssdp_msg_parse(&msg, text, cut);

		if (st != SSDP_OK)
			continue;
		assert_true(cut > 0 && text[cut - 1] == '\n');
		assert_int_equal(msg.kind, whole->kind);
		assert_true(msg.n_headers <= whole->n_headers);
		for (size_t i = 0; i < msg.n_headers; i++) {
			assert_string_equal(msg.headers[i].name, whole->headers[i].name);
			assert_string_equal(msg.headers[i].value, whole->headers[i].value);
		}
	}
	free(whole);
}

static void test_parse_truncated_everywhere(void **state)
{
	check_truncations(msearch);
	check_truncations(notify);
	check_truncations(response);
	check_truncations("M-SEARCH * HTTP/1.1\nST:ssdp:all\nMX:1\n\n");
}

/* ---- accessors ---- */

static int mx_of(const char *value)
{
	char text[256];

	snprintf(text, sizeof(text), "M-SEARCH * HTTP/1.1\r\nMX: %s\r\n\r\n", value);
	assert_int_equal(parse_text(text), SSDP_OK);
	return ssdp_msg_mx(&msg);
}

static void test_mx_range(void **state)
{
	assert_int_equal(mx_of("1"), 1);
	assert_int_equal(mx_of("5"), 5);
	assert_int_equal(mx_of("6"), 5);
	assert_int_equal(mx_of("120"), 5);
	assert_int_equal(mx_of("99999999999999999999"), 5);
	assert_int_equal(mx_of("03"), 3);
	assert_int_equal(mx_of("0"), -EINVAL);
	assert_int_equal(mx_of("-1"), -EINVAL);
	assert_int_equal(mx_of("3s"), -EINVAL);
	assert_int_equal(mx_of(""), -EINVAL);
	assert_int_equal(parse_text("M-SEARCH * HTTP/1.1\r\n\r\n"), SSDP_OK);
	assert_int_equal(ssdp_msg_mx(&msg), -EINVAL);
}

static bool man_ok(const char *value)
{
	char text[256];

	snprintf(text, sizeof(text), "M-SEARCH * HTTP/1.1\r\nMAN: %s\r\n\r\n", value);
	assert_int_equal(parse_text(text), SSDP_OK);
	return ssdp_msg_man_discover(&msg);
}

static void test_man_quoted(void **state)
{
	assert_true(man_ok("\"ssdp:discover\""));
	assert_false(man_ok("ssdp:discover"));
	assert_false(man_ok("\"ssdp:discover"));
	assert_false(man_ok("\"ssdp:update\""));
}

static int max_age_of(const char *value, uint32_t *seconds)
{
	char text[256];

	snprintf(text, sizeof(text), "NOTIFY * HTTP/1.1\r\nCache-Control: %s\r\n\r\n", value);
	assert_int_equal(parse_text(text), SSDP_OK);
	*seconds = 0;
	return ssdp_msg_max_age(&msg, seconds);
}

static void test_max_age_forms(void **state)
{
	uint32_t s;

	assert_int_equal(max_age_of("max-age=1800", &s), 0);
	assert_int_equal(s, 1800);
	assert_int_equal(max_age_of("max-age = 100", &s), 0);
	assert_int_equal(s, 100);
	assert_int_equal(max_age_of("MAX-AGE=\"60\"", &s), 0);
	assert_int_equal(s, 60);
	assert_int_equal(max_age_of("no-cache=\"Ext\", max-age=5000", &s), 0);
	assert_int_equal(s, 5000);
	assert_int_equal(max_age_of("max-age=2147483647", &s), 0);
	assert_int_equal(s, 2147483647u);
	assert_int_equal(max_age_of("max-age=0", &s), -EINVAL);
	assert_int_equal(max_age_of("max-age=2147483648", &s), -EINVAL);
	assert_int_equal(max_age_of("max-age=abc", &s), -EINVAL);
	assert_int_equal(max_age_of("max-age=10x", &s), -EINVAL);
	assert_int_equal(max_age_of("max-age=\"10", &s), -EINVAL);
	assert_int_equal(max_age_of("no-cache", &s), -EINVAL);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\n\r\n"), SSDP_OK);
	assert_int_equal(ssdp_msg_max_age(&msg, &s), -EINVAL);
}

static void test_nts_values(void **state)
{
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nNTS: ssdp:byebye\r\n\r\n"), SSDP_OK);
	assert_int_equal(ssdp_msg_nts(&msg), SSDP_NTS_BYEBYE);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nNTS: ssdp:update\r\n\r\n"), SSDP_OK);
	assert_int_equal(ssdp_msg_nts(&msg), SSDP_NTS_UPDATE);
	assert_int_equal(parse_text("NOTIFY * HTTP/1.1\r\nNTS: ssdp:other\r\n\r\n"), SSDP_OK);
	assert_int_equal(ssdp_msg_nts(&msg), SSDP_NTS_NONE);
}

static void test_usn_udn(void **state)
{
	char udn[64];

	assert_int_equal(ssdp_usn_udn("uuid:abc-1::upnp:rootdevice", udn, sizeof(udn)), 0);
	assert_string_equal(udn, "uuid:abc-1");
	assert_int_equal(ssdp_usn_udn("uuid:abc-1", udn, sizeof(udn)), 0);
	assert_string_equal(udn, "uuid:abc-1");
	assert_int_equal(ssdp_usn_udn("UUID:X::urn:a", udn, sizeof(udn)), 0);
	assert_string_equal(udn, "UUID:X");
	assert_int_equal(ssdp_usn_udn("uuid:", udn, sizeof(udn)), -EINVAL);
	assert_int_equal(ssdp_usn_udn("uuid:::upnp:rootdevice", udn, sizeof(udn)), -EINVAL);
	assert_int_equal(ssdp_usn_udn("urn:schemas-upnp-org:device:x:1", udn, sizeof(udn)),
			 -EINVAL);
	assert_int_equal(ssdp_usn_udn("uuid:abcdef", udn, 8), -ENOSPC);
}

static void test_st_matching(void **state)
{
	const char *ms1 = "urn:schemas-upnp-org:device:MediaServer:1";
	const char *ms2 = "urn:schemas-upnp-org:device:MediaServer:2";
	const char *cd1 = "urn:schemas-upnp-org:service:ContentDirectory:1";
	const char *cd3 = "urn:schemas-upnp-org:service:ContentDirectory:3";

	assert_true(ssdp_st_matches("ssdp:all", ms1));
	assert_true(ssdp_st_matches("ssdp:all", "upnp:rootdevice"));
	assert_true(ssdp_st_matches("upnp:rootdevice", "upnp:rootdevice"));
	assert_false(ssdp_st_matches("upnp:rootdevice", ms1));
	assert_true(ssdp_st_matches("uuid:abc", "uuid:abc"));
	assert_false(ssdp_st_matches("uuid:abc", "uuid:abcd"));
	assert_true(ssdp_st_matches(ms1, ms1));
	assert_true(ssdp_st_matches(ms1, ms2));
	assert_false(ssdp_st_matches(ms2, ms1));
	assert_true(ssdp_st_matches(cd1, cd3));
	assert_false(ssdp_st_matches(ms1, "urn:schemas-upnp-org:device:MediaRenderer:1"));
	assert_false(ssdp_st_matches(ms1, "urn:schemas-upnp-org:device:MediaServer:x"));
	assert_false(ssdp_st_matches("urn:schemas-upnp-org:device:MediaServer:", ms1));
	assert_false(ssdp_st_matches(ms1, "urn:other-org:device:MediaServer:2"));
	assert_false(ssdp_st_matches(ms1, "upnp:rootdevice"));
}

static void test_location_endpoint(void **state)
{
	struct ntm_endpoint ep;
	char text[NTM_ENDPOINT_STRLEN];

	assert_int_equal(ssdp_location_endpoint("http://192.0.2.3:8200/rootDesc.xml", &ep), 0);
	assert_string_equal(ntm_endpoint_str(&ep, text, sizeof(text)), "192.0.2.3:8200");
	assert_int_equal(ssdp_location_endpoint("HTTP://198.51.100.10/desc", &ep), 0);
	assert_int_equal(ep.port, 80);
	assert_int_equal(ssdp_location_endpoint("http://[2001:db8::1]:49152/", &ep), 0);
	assert_int_equal(ep.ip.len, 16);
	assert_int_equal(ssdp_location_endpoint("http://192.0.2.3", &ep), 0);
	assert_int_equal(ssdp_location_endpoint("https://192.0.2.3/", &ep), -EINVAL);
	assert_int_equal(ssdp_location_endpoint("http://server.example/", &ep), -EINVAL);
	assert_int_equal(ssdp_location_endpoint("http://192.0.2.3:99999/", &ep), -EINVAL);
	assert_int_equal(ssdp_location_endpoint("http://192.0.2.3:0/", &ep), -EINVAL);
	assert_int_equal(ssdp_location_endpoint("http://192.0.2.3:80x/", &ep), -EINVAL);
	assert_int_equal(ssdp_location_endpoint("http:///x", &ep), -EINVAL);
	assert_int_equal(ssdp_location_endpoint("http://[2001:db8::1/", &ep), -EINVAL);
}

/* ---- building ---- */

static void test_build_msearch(void **state)
{
	char buf[512];
	ssize_t len = ssdp_build_msearch(buf, sizeof(buf), "ssdp:all", 2, "test/1");

	assert_true(len > 0);
	assert_int_equal(ssdp_msg_parse(&msg, buf, (size_t)len), SSDP_OK);
	assert_int_equal(msg.kind, SSDP_KIND_MSEARCH);
	assert_true(ssdp_msg_man_discover(&msg));
	assert_int_equal(ssdp_msg_mx(&msg), 2);
	assert_string_equal(ssdp_msg_st(&msg), "ssdp:all");
	assert_string_equal(ssdp_msg_header(&msg, "HOST"), "239.255.255.250:1900");
	assert_string_equal(ssdp_msg_header(&msg, "USER-AGENT"), "test/1");
	assert_memory_equal(buf + len - 4, "\r\n\r\n", 4);
}

static void test_build_msearch_limits(void **state)
{
	char buf[512];
	ssize_t len = ssdp_build_msearch(buf, sizeof(buf), "ssdp:all", 9, "t");

	assert_int_equal(ssdp_msg_parse(&msg, buf, (size_t)len), SSDP_OK);
	assert_int_equal(ssdp_msg_mx(&msg), 5);
	len = ssdp_build_msearch(buf, sizeof(buf), "ssdp:all", 0, "t");
	assert_int_equal(ssdp_msg_parse(&msg, buf, (size_t)len), SSDP_OK);
	assert_int_equal(ssdp_msg_mx(&msg), 1);
	assert_int_equal(ssdp_build_msearch(buf, sizeof(buf), "a\r\nX: y", 2, "t"), -EINVAL);
	assert_int_equal(ssdp_build_msearch(buf, 40, "ssdp:all", 2, "t"), -ENOSPC);
	assert_int_equal(ssdp_build_msearch(buf, 0, "ssdp:all", 2, "t"), -ENOSPC);
}

static const char *const extra_lines[] = {
	"BOOTID.UPNP.ORG: 7",
	"LOCATION: http://203.0.113.66/evil.xml",
	"Not a header",
	"X-Injected: a\r\nST: evil",
};

static struct ssdp_advert sample_advert(void)
{
	return (struct ssdp_advert){
		.usn = "uuid:abc::urn:schemas-upnp-org:device:MediaServer:1",
		.target = "urn:schemas-upnp-org:device:MediaServer:1",
		.location = "http://198.51.100.10:8200/rootDesc.xml",
		.server = "Linux UPnP/1.0 MiniDLNA/1.3.0",
		.max_age_s = 1810,
		.extra = extra_lines,
		.n_extra = sizeof(extra_lines) / sizeof(extra_lines[0]),
	};
}

static void test_build_response(void **state)
{
	struct ssdp_advert a = sample_advert();
	char buf[1024];
	uint32_t max_age = 0;
	ssize_t len = ssdp_build_response(buf, sizeof(buf), &a);

	assert_true(len > 0);
	assert_int_equal(ssdp_msg_parse(&msg, buf, (size_t)len), SSDP_OK);
	assert_int_equal(msg.kind, SSDP_KIND_RESPONSE);
	assert_int_equal(ssdp_msg_max_age(&msg, &max_age), 0);
	assert_int_equal(max_age, 1810);
	assert_string_equal(ssdp_msg_location(&msg), a.location);
	assert_string_equal(ssdp_msg_st(&msg), a.target);
	assert_string_equal(ssdp_msg_usn(&msg), a.usn);
	assert_string_equal(ssdp_msg_server(&msg), a.server);
	assert_string_equal(ssdp_msg_header(&msg, "EXT"), "");
	assert_string_equal(ssdp_msg_header(&msg, "BOOTID.UPNP.ORG"), "7");
	assert_null(ssdp_msg_header(&msg, "X-Injected"));
	assert_int_equal(msg.n_headers, 7);
}

static void test_build_response_rejects_injection(void **state)
{
	struct ssdp_advert a = sample_advert();
	char buf[1024];

	a.location = "http://198.51.100.10/\r\nX-Evil: 1";
	assert_int_equal(ssdp_build_response(buf, sizeof(buf), &a), -EINVAL);
	a = sample_advert();
	a.server = NULL;
	assert_int_equal(ssdp_build_response(buf, sizeof(buf), &a), -EINVAL);
	a = sample_advert();
	assert_int_equal(ssdp_build_response(buf, 100, &a), -ENOSPC);
}

static void test_build_notify(void **state)
{
	struct ssdp_advert a = sample_advert();
	char buf[1024];
	ssize_t len = ssdp_build_notify(buf, sizeof(buf), &a, true);

	assert_true(len > 0);
	assert_int_equal(ssdp_msg_parse(&msg, buf, (size_t)len), SSDP_OK);
	assert_int_equal(msg.kind, SSDP_KIND_NOTIFY);
	assert_int_equal(ssdp_msg_nts(&msg), SSDP_NTS_ALIVE);
	assert_string_equal(ssdp_msg_nt(&msg), a.target);
	assert_string_equal(ssdp_msg_location(&msg), a.location);
	assert_string_equal(ssdp_msg_header(&msg, "HOST"), "239.255.255.250:1900");

	len = ssdp_build_notify(buf, sizeof(buf), &a, false);
	assert_true(len > 0);
	assert_int_equal(ssdp_msg_parse(&msg, buf, (size_t)len), SSDP_OK);
	assert_int_equal(ssdp_msg_nts(&msg), SSDP_NTS_BYEBYE);
	assert_string_equal(ssdp_msg_usn(&msg), a.usn);
	assert_null(ssdp_msg_location(&msg));
	assert_null(ssdp_msg_header(&msg, "CACHE-CONTROL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_msearch),
		cmocka_unit_test(test_parse_notify),
		cmocka_unit_test(test_parse_response),
		cmocka_unit_test(test_parse_bare_lf),
		cmocka_unit_test(test_parse_odd_case_spacing),
		cmocka_unit_test(test_parse_no_space_st),
		cmocka_unit_test(test_parse_end_without_empty_line),
		cmocka_unit_test(test_parse_ignores_body),
		cmocka_unit_test(test_parse_start_lines),
		cmocka_unit_test(test_parse_bad_header_lines),
		cmocka_unit_test(test_parse_control_bytes),
		cmocka_unit_test(test_parse_duplicates),
		cmocka_unit_test(test_parse_oversize_datagram),
		cmocka_unit_test(test_parse_line_length),
		cmocka_unit_test(test_parse_header_count),
		cmocka_unit_test(test_parse_truncated_everywhere),
		cmocka_unit_test(test_mx_range),
		cmocka_unit_test(test_man_quoted),
		cmocka_unit_test(test_max_age_forms),
		cmocka_unit_test(test_nts_values),
		cmocka_unit_test(test_usn_udn),
		cmocka_unit_test(test_st_matching),
		cmocka_unit_test(test_location_endpoint),
		cmocka_unit_test(test_build_msearch),
		cmocka_unit_test(test_build_msearch_limits),
		cmocka_unit_test(test_build_response),
		cmocka_unit_test(test_build_response_rejects_injection),
		cmocka_unit_test(test_build_notify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
