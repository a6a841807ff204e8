/*
 * Prometheus text exposition format, version 0.0.4: "# HELP" and "# TYPE"
 * lines per family, then one "name{label="value",...} value" line per
 * sample. Names and label names are checked against the format's grammar,
 * so a programming error fails the scrape instead of producing text that
 * Prometheus rejects.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_admin.h"
#include "ntm_log.h"

/* Label pairs per sample, "le" of a histogram bucket included. */
#define MAX_LABELS 8
/* Characters of the text form of a double: sign, 17 digits, point, exponent. */
#define NUMBER_MAX 32

struct ntm_metrics {
	char *text;
	size_t len, cap;
	char error[160];         /* empty while the scrape is good */
};

struct label {
	const char *name;
	const char *value;
};

struct ntm_metrics *ntm_metrics_new(void)
{
	return calloc(1, sizeof(struct ntm_metrics));
}

void ntm_metrics_free(struct ntm_metrics *m)
{
	if (!m)
		return;
	free(m->text);
	free(m);
}

const char *ntm_metrics_text(const struct ntm_metrics *m, size_t *len)
{
	if (m->error[0])
		return NULL;
	*len = m->len;
	return m->text ? m->text : "";
}

const char *ntm_metrics_error(const struct ntm_metrics *m)
{
	return m->error[0] ? m->error : NULL;
}

static void set_error(struct ntm_metrics *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct ntm_metrics *m, const char *fmt, ...)
{
	va_list ap;

	if (m->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(m->error, sizeof(m->error), fmt, ap);
	va_end(ap);
	log_warn("admin API: metrics scrape failed: %s", m->error);
}

/* Makes room for need more bytes and the NUL. */
static int reserve(struct ntm_metrics *m, size_t need)
{
	size_t cap = m->cap ? m->cap : 4096;
	char *grown;

	if (need > NTM_METRICS_MAX_TEXT - m->len - 1) {
		set_error(m, "the metrics text exceeds %d bytes", NTM_METRICS_MAX_TEXT);
		return -ENOSPC;
	}
	if (m->len + need + 1 <= m->cap)
		return 0;
	while (cap < m->len + need + 1)
		cap *= 2;
	grown = realloc(m->text, cap);
	if (!grown) {
		set_error(m, "out of memory");
		return -ENOMEM;
	}
	m->text = grown;
	m->cap = cap;
	return 0;
}

static void append(struct ntm_metrics *m, const char *s, size_t n)
{
	if (m->error[0] || reserve(m, n) < 0)
		return;
	memcpy(m->text + m->len, s, n);
	m->len += n;
	m->text[m->len] = '\0';
}

static void append_str(struct ntm_metrics *m, const char *s)
{
	append(m, s, strlen(s));
}

/* Appends s with backslash and newline escaped, and '"' too when quoted
 * (label values; HELP text leaves it as is). */
static void append_escaped(struct ntm_metrics *m, const char *s, bool quoted)
{
	for (; *s; s++) {
		if (*s == '\\')
			append_str(m, "\\\\");
		else if (*s == '\n')
			append_str(m, "\\n");
		else if (*s == '"' && quoted)
			append_str(m, "\\\"");
		else
			append(m, s, 1);
	}
}

/* Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. Label names: the same without
 * ':', and names starting with "__" are reserved for Prometheus itself. */
static bool name_valid(const char *name, bool label)
{
	if (!name || !name[0] || (name[0] >= '0' && name[0] <= '9'))
		return false;
	if (label && name[0] == '_' && name[1] == '_')
		return false;
	for (const char *p = name; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_' || (*p == ':' && !label);

		if (!ok)
			return false;
	}
	return true;
}

/*
 * Formats value as Go's strconv.ParseFloat reads it: "+Inf", "-Inf", "NaN",
 * whole numbers without exponent up to 2^53, else the shortest %g form that
 * reads back as the same double.
 */
static const char *format_number(double value, char *out, size_t size)
{
	if (isnan(value))
		return "NaN";
	if (isinf(value))
		return value > 0 ? "+Inf" : "-Inf";
	if (value == floor(value) && fabs(value) <= 9007199254740992.0) {
		snprintf(out, size, "%.0f", value);
		return out;
	}
	for (int precision = 15; precision <= 17; precision++) {
		snprintf(out, size, "%.*g", precision, value);
		if (strtod(out, NULL) == value)
			break;
	}
	return out;
}

void ntm_metrics_family(struct ntm_metrics *m, const char *name, enum ntm_metric_type type,
			const char *help)
{
	static const char *const type_names[] = { "counter", "gauge", "histogram" };

	if (!name_valid(name, false)) {
		set_error(m, "invalid metric name '%.64s'", name ? name : "(null)");
		return;
	}
	append_str(m, "# HELP ");
	append_str(m, name);
	append_str(m, " ");
	append_escaped(m, help ? help : "", false);
	append_str(m, "\n# TYPE ");
	append_str(m, name);
	append_str(m, " ");
	append_str(m, type_names[type <= NTM_METRIC_HISTOGRAM ? type : NTM_METRIC_GAUGE]);
	append_str(m, "\n");
}

/* Collects the NULL-terminated name/value pairs of ap into labels. Returns
 * their count, or -1 with the error set. */
static int collect_labels(struct ntm_metrics *m, const char *metric, va_list ap,
			  struct label *labels, size_t max)
{
	size_t n = 0;
	const char *name;

	while ((name = va_arg(ap, const char *)) != NULL) {
		const char *value = va_arg(ap, const char *);

		if (n == max) {
			set_error(m, "metric '%.64s' has more than %zu labels", metric, max);
			return -1;
		}
		if (!name_valid(name, true) || !value) {
			set_error(m, "metric '%.64s': invalid label '%.64s'", metric, name);
			return -1;
		}
		labels[n++] = (struct label){ name, value };
	}
	return (int)n;
}

static void write_sample(struct ntm_metrics *m, const char *name, const char *suffix,
			 const struct label *labels, size_t n_labels, double value)
{
	char number[NUMBER_MAX];

	append_str(m, name);
	append_str(m, suffix);
	for (size_t i = 0; i < n_labels; i++) {
		append_str(m, i == 0 ? "{" : ",");
		append_str(m, labels[i].name);
		append_str(m, "=\"");
		append_escaped(m, labels[i].value, true);
		append_str(m, "\"");
	}
	if (n_labels > 0)
		append_str(m, "}");
	append_str(m, " ");
	append_str(m, format_number(value, number, sizeof(number)));
	append_str(m, "\n");
}

void ntm_metrics_sample(struct ntm_metrics *m, const char *name, double value, ...)
{
	struct label labels[MAX_LABELS];
	va_list ap;
	int n;

	if (!name_valid(name, false)) {
		set_error(m, "invalid metric name '%.64s'", name ? name : "(null)");
		return;
	}
	va_start(ap, value);
	n = collect_labels(m, name, ap, labels, MAX_LABELS);
	va_end(ap);
	if (n >= 0)
		write_sample(m, name, "", labels, (size_t)n, value);
}

void ntm_metrics_counter(struct ntm_metrics *m, const char *name, const char *help,
			 uint64_t value)
{
	ntm_metrics_family(m, name, NTM_METRIC_COUNTER, help);
	ntm_metrics_sample(m, name, (double)value, NULL);
}

void ntm_metrics_gauge(struct ntm_metrics *m, const char *name, const char *help, double value)
{
	ntm_metrics_family(m, name, NTM_METRIC_GAUGE, help);
	ntm_metrics_sample(m, name, value, NULL);
}

int ntm_histogram_init(struct ntm_histogram *h, const double *bounds, size_t n_bounds)
{
	if (n_bounds == 0 || n_bounds > NTM_HISTOGRAM_MAX_BOUNDS)
		return -EINVAL;
	for (size_t i = 0; i < n_bounds; i++) {
		if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
			return -EINVAL;
	}
	memset(h, 0, sizeof(*h));
	memcpy(h->bounds, bounds, n_bounds * sizeof(bounds[0]));
	h->n_bounds = n_bounds;
	return 0;
}

void ntm_histogram_observe(struct ntm_histogram *h, double value)
{
	/* Values above the last bound count only in +Inf, which is count. */
	for (size_t i = 0; i < h->n_bounds; i++) {
		if (value <= h->bounds[i]) {
			h->buckets[i]++;
			break;
		}
	}
	h->count++;
	h->sum += value;
}

void ntm_metrics_histogram(struct ntm_metrics *m, const char *name,
			   const struct ntm_histogram *h, ...)
{
	struct label labels[MAX_LABELS];
	char le[NUMBER_MAX];
	uint64_t cumulative = 0;
	va_list ap;
	int n;

	if (!name_valid(name, false)) {
		set_error(m, "invalid metric name '%.64s'", name ? name : "(null)");
		return;
	}
	va_start(ap, h);
	n = collect_labels(m, name, ap, labels, MAX_LABELS - 1);
	va_end(ap);
	if (n < 0)
		return;

	labels[n].name = "le";
	for (size_t i = 0; i < h->n_bounds; i++) {
		cumulative += h->buckets[i];
		labels[n].value = format_number(h->bounds[i], le, sizeof(le));
		write_sample(m, name, "_bucket", labels, (size_t)n + 1, (double)cumulative);
	}
	labels[n].value = "+Inf";
	write_sample(m, name, "_bucket", labels, (size_t)n + 1, (double)h->count);
	write_sample(m, name, "_sum", labels, (size_t)n, h->sum);
	write_sample(m, name, "_count", labels, (size_t)n, (double)h->count);
}
