/* Unit tests for logging (ntm_log) and the log rate limit (ntm_ratelimit). */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ntm_log.h"
#include "ntm_ratelimit.h"

/* ---- ntm_log_sanitize ---- */

static void sanitize_plain_text(void **state)
{
	char out[64];

	assert_string_equal(ntm_log_sanitize(out, sizeof(out), "GET /healthz", 100),
			    "GET /healthz");
}

static void sanitize_escapes_control_bytes(void **state)
{
	char out[64];
	const char in[] = "a\r\nb\x7f\xff";

	ntm_log_sanitize(out, sizeof(out), in, sizeof(in) - 1);
	assert_string_equal(out, "a\\x0d\\x0ab\\x7f\\xff");
}

static void sanitize_escapes_backslash(void **state)
{
	char out[64];

	ntm_log_sanitize(out, sizeof(out), "a\\x41", 5);
	assert_string_equal(out, "a\\x5cx41");
}

static void sanitize_stops_at_max_in(void **state)
{
	char out[64];

	ntm_log_sanitize(out, sizeof(out), "abcdef", 3);
	assert_string_equal(out, "abc");
}

static void sanitize_stops_at_nul(void **state)
{
	char out[64];
	const char in[] = "ab\0cd";

	ntm_log_sanitize(out, sizeof(out), in, sizeof(in));
	assert_string_equal(out, "ab");
}

static void sanitize_truncates_with_dots(void **state)
{
	char out[8];

	ntm_log_sanitize(out, sizeof(out), "abcdefghijkl", 12);
	assert_string_equal(out, "abcd...");
	assert_int_equal(strlen(out), sizeof(out) - 1);
}

static void sanitize_exact_fit_no_dots(void **state)
{
	char out[8];

	ntm_log_sanitize(out, sizeof(out), "abcdefg", 7);
	assert_string_equal(out, "abcdefg");
}

static void sanitize_escape_not_split(void **state)
{
	char out[9];

	/* "ab" fits, the 4-character escape of \x01 would not leave room for "...". */
	ntm_log_sanitize(out, sizeof(out), "ab\x01\x02\x03", 5);
	assert_string_equal(out, "ab...");
}

static void sanitize_tiny_buffers(void **state)
{
	char out[4] = "zzz";

	ntm_log_sanitize(out, 0, "abc", 3);
	assert_string_equal(out, "zzz");
	ntm_log_sanitize(out, 1, "abc", 3);
	assert_string_equal(out, "");
	ntm_log_sanitize(out, 3, "abc", 3);
	assert_string_equal(out, "..");
}

/* ---- ntm_log to stderr ---- */

/* Runs ntm_log with stderr redirected into a temporary file and returns what
 * it wrote (static buffer). */
static const char *capture_log(enum ntm_log_level level, const char *text)
{
	static char buf[4096];
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	ntm_log(level, "%s", text);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);

	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return buf;
}

static void log_stderr_format(void **state)
{
	regex_t re;
	char pattern[256];
	const char *line;

	ntm_log_open("ntm-test", true, NTM_LOG_INFO);
	line = capture_log(NTM_LOG_WARNING, "192.0.2.1:4000: packet dropped");

	snprintf(pattern, sizeof(pattern),
		 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
		 "ntm-test\\[%ld\\]: warning: 192\\.0\\.2\\.1:4000: packet dropped\n$",
		 (long)getpid());
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, line, 0, NULL, 0), 0);
	regfree(&re);
}

static void log_level_names(void **state)
{
	ntm_log_open("ntm-test", true, NTM_LOG_DEBUG);
	assert_non_null(strstr(capture_log(NTM_LOG_ERR, "x"), "]: error: x\n"));
	assert_non_null(strstr(capture_log(NTM_LOG_WARNING, "x"), "]: warning: x\n"));
	assert_non_null(strstr(capture_log(NTM_LOG_INFO, "x"), "]: info: x\n"));
	assert_non_null(strstr(capture_log(NTM_LOG_DEBUG, "x"), "]: debug: x\n"));
}

static void log_filters_by_level(void **state)
{
	ntm_log_open("ntm-test", true, NTM_LOG_WARNING);
	assert_string_equal(capture_log(NTM_LOG_INFO, "hidden"), "");
	assert_false(ntm_log_enabled(NTM_LOG_DEBUG));
	assert_true(ntm_log_enabled(NTM_LOG_ERR));

	ntm_log_set_level(NTM_LOG_DEBUG);
	assert_true(ntm_log_enabled(NTM_LOG_DEBUG));
	assert_string_not_equal(capture_log(NTM_LOG_DEBUG, "shown"), "");
}

static void log_keeps_errno(void **state)
{
	ntm_log_open("ntm-test", true, NTM_LOG_INFO);
	errno = EADDRINUSE;
	capture_log(NTM_LOG_ERR, "bind failed");
	assert_int_equal(errno, EADDRINUSE);
}

static void log_truncates_long_line(void **state)
{
	char text[5000];
	const char *line;
	size_t len;

	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	ntm_log_open("ntm-test", true, NTM_LOG_INFO);
	line = capture_log(NTM_LOG_INFO, text);
	len = strlen(line);

	assert_true(len > 1000);
	assert_true(len < sizeof(text));
	assert_string_equal(line + len - 4, "...\n");
}

/* ---- ntm_ratelimit ---- */

static void ratelimit_burst_then_refuse(void **state)
{
	struct ntm_ratelimit rl = NTM_RATELIMIT_INIT(3, 1);
	uint64_t now = 100000;

	assert_true(ntm_ratelimit_allow(&rl, now));
	assert_true(ntm_ratelimit_allow(&rl, now));
	assert_true(ntm_ratelimit_allow(&rl, now));
	assert_false(ntm_ratelimit_allow(&rl, now));
	assert_false(ntm_ratelimit_allow(&rl, now + 500));
	assert_int_equal(rl.suppressed, 2);
}

static void ratelimit_refills_over_time(void **state)
{
	struct ntm_ratelimit rl = NTM_RATELIMIT_INIT(2, 2);
	uint64_t now = 100000;

	assert_true(ntm_ratelimit_allow(&rl, now));
	assert_true(ntm_ratelimit_allow(&rl, now));
	assert_false(ntm_ratelimit_allow(&rl, now + 100));
	/* 2 tokens a second: one more after 500 ms. */
	assert_true(ntm_ratelimit_allow(&rl, now + 500));
	assert_false(ntm_ratelimit_allow(&rl, now + 500));
}

static void ratelimit_refill_capped_at_burst(void **state)
{
	struct ntm_ratelimit rl = NTM_RATELIMIT_INIT(2, 10);
	uint64_t now = 100000;

	assert_true(ntm_ratelimit_allow(&rl, now));
	assert_true(ntm_ratelimit_allow(&rl, now + 3600000));
	assert_true(ntm_ratelimit_allow(&rl, now + 3600000));
	assert_false(ntm_ratelimit_allow(&rl, now + 3600000));
}

static void ratelimit_suppressed_reset(void **state)
{
	struct ntm_ratelimit rl = NTM_RATELIMIT_INIT(1, 1);
	uint64_t now = 100000;

	assert_true(ntm_ratelimit_allow(&rl, now));
	assert_false(ntm_ratelimit_allow(&rl, now));
	assert_false(ntm_ratelimit_allow(&rl, now));
	assert_int_equal(rl.suppressed, 2);
	assert_true(ntm_ratelimit_allow(&rl, now + 1000));
	assert_int_equal(rl.suppressed, 0);
}

static void ratelimit_clock_backwards(void **state)
{
	struct ntm_ratelimit rl = NTM_RATELIMIT_INIT(1, 1);

	assert_true(ntm_ratelimit_allow(&rl, 100000));
	assert_false(ntm_ratelimit_allow(&rl, 50000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sanitize_plain_text),
		cmocka_unit_test(sanitize_escapes_control_bytes),
		cmocka_unit_test(sanitize_escapes_backslash),
		cmocka_unit_test(sanitize_stops_at_max_in),
		cmocka_unit_test(sanitize_stops_at_nul),
		cmocka_unit_test(sanitize_truncates_with_dots),
		cmocka_unit_test(sanitize_exact_fit_no_dots),
		cmocka_unit_test(sanitize_escape_not_split),
		cmocka_unit_test(sanitize_tiny_buffers),
		cmocka_unit_test(log_stderr_format),
		cmocka_unit_test(log_level_names),
		cmocka_unit_test(log_filters_by_level),
		cmocka_unit_test(log_keeps_errno),
		cmocka_unit_test(log_truncates_long_line),
		cmocka_unit_test(ratelimit_burst_then_refuse),
		cmocka_unit_test(ratelimit_refills_over_time),
		cmocka_unit_test(ratelimit_refill_capped_at_burst),
		cmocka_unit_test(ratelimit_suppressed_reset),
		cmocka_unit_test(ratelimit_clock_backwards),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
