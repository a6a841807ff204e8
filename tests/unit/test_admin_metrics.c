/*
 * Unit tests for the Prometheus text writer of the admin API (ntm_metrics):
 * family headers, label escaping, number formats, histograms and the
 * rejection of invalid names.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ntm_admin.h"

static const char *text_of(const struct ntm_metrics *m)
{
	size_t len = 0;
	const char *text = ntm_metrics_text(m, &len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

static void metrics_counter_family(void **state)
{
	struct ntm_metrics *m = ntm_metrics_new();

	ntm_metrics_counter(m, "ntm_test_events_total", "Events seen.", 42);
	assert_string_equal(text_of(m), "# HELP ntm_test_events_total Events seen.\n"
					"# TYPE ntm_test_events_total counter\n"
					"ntm_test_events_total 42\n");
	ntm_metrics_free(m);
}

static void metrics_labels_escaped(void **state)
{
	struct ntm_metrics *m = ntm_metrics_new();

	ntm_metrics_family(m, "ntm_test_info", NTM_METRIC_GAUGE, "Back\\slash and\nnewline.");
	ntm_metrics_sample(m, "ntm_test_info", 1, "name", "a\"b\\c\nd", "kind", "x", NULL);
	assert_string_equal(text_of(m), "# HELP ntm_test_info Back\\\\slash and\\nnewline.\n"
					"# TYPE ntm_test_info gauge\n"
					"ntm_test_info{name=\"a\\\"b\\\\c\\nd\",kind=\"x\"} 1\n");
	ntm_metrics_free(m);
}

static void metrics_number_formats(void **state)
{
	struct ntm_metrics *m = ntm_metrics_new();

	ntm_metrics_sample(m, "a", 0.25, NULL);
	ntm_metrics_sample(m, "b", 18446744073709551615.0, NULL);
	ntm_metrics_sample(m, "c", INFINITY, NULL);
	ntm_metrics_sample(m, "d", NAN, NULL);
	ntm_metrics_sample(m, "e", 0.1, NULL);
	assert_string_equal(text_of(m), "a 0.25\nb 1.8446744073709552e+19\nc +Inf\nd NaN\ne 0.1\n");
	ntm_metrics_free(m);
}

static void metrics_histogram_cumulative(void **state)
{
	static const double bounds[] = { 0.001, 0.01, 0.1 };
	struct ntm_metrics *m = ntm_metrics_new();
	struct ntm_histogram h;

	assert_int_equal(ntm_histogram_init(&h, bounds, 3), 0);
	ntm_histogram_observe(&h, 0.0005);
	ntm_histogram_observe(&h, 0.001);
	ntm_histogram_observe(&h, 0.05);
	ntm_histogram_observe(&h, 3);
	ntm_metrics_histogram(m, "ntm_test_seconds", &h, "side", "a", NULL);
	assert_string_equal(text_of(m), "ntm_test_seconds_bucket{side=\"a\",le=\"0.001\"} 2\n"
					"ntm_test_seconds_bucket{side=\"a\",le=\"0.01\"} 2\n"
					"ntm_test_seconds_bucket{side=\"a\",le=\"0.1\"} 3\n"
					"ntm_test_seconds_bucket{side=\"a\",le=\"+Inf\"} 4\n"
					"ntm_test_seconds_sum{side=\"a\"} 3.0515\n"
					"ntm_test_seconds_count{side=\"a\"} 4\n");
	ntm_metrics_free(m);
}

static void metrics_histogram_bad_bounds(void **state)
{
	static const double descending[] = { 1, 0.5 };
	static const double infinite[] = { 1, INFINITY };
	struct ntm_histogram h;

	assert_int_equal(ntm_histogram_init(&h, descending, 2), -EINVAL);
	assert_int_equal(ntm_histogram_init(&h, infinite, 2), -EINVAL);
	assert_int_equal(ntm_histogram_init(&h, descending, 0), -EINVAL);
}

static void metrics_invalid_name_fails(void **state)
{
	struct ntm_metrics *m = ntm_metrics_new();
	size_t len;

	ntm_metrics_counter(m, "ntm_ok_total", "Fine.", 1);
	ntm_metrics_sample(m, "ntm-bad", 1, NULL);
	assert_null(ntm_metrics_text(m, &len));
	assert_non_null(strstr(ntm_metrics_error(m), "ntm-bad"));
	ntm_metrics_free(m);
}

static void metrics_reserved_label_fails(void **state)
{
	struct ntm_metrics *m = ntm_metrics_new();
	size_t len;

	ntm_metrics_sample(m, "ntm_x", 1, "__name__", "y", NULL);
	assert_null(ntm_metrics_text(m, &len));
	ntm_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(metrics_counter_family),
		cmocka_unit_test(metrics_labels_escaped),
		cmocka_unit_test(metrics_number_formats),
		cmocka_unit_test(metrics_histogram_cumulative),
		cmocka_unit_test(metrics_histogram_bad_bounds),
		cmocka_unit_test(metrics_invalid_name_fails),
		cmocka_unit_test(metrics_reserved_label_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
