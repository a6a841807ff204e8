/* ntmctl's tables and cell formatters. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ntmctl_table.h"

int ntmctl_table_init(struct ntmctl_table *t, const char *const *header)
{
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	while (header[n] && n < NTMCTL_TABLE_MAX_COLUMNS)
		n++;
	t->n_columns = n;
	return ntmctl_table_row(t, header);
}

int ntmctl_table_row(struct ntmctl_table *t, const char *const *cells)
{
	char **grown = realloc(t->cells, (t->n_rows + 1) * t->n_columns * sizeof(*grown));
	char **row;

	if (!grown)
		return -1;
	t->cells = grown;
	row = &t->cells[t->n_rows * t->n_columns];
	for (size_t i = 0; i < t->n_columns; i++)
		row[i] = strdup(cells[i] ? cells[i] : "-");
	t->n_rows++;
	return 0;
}

void ntmctl_table_print(struct ntmctl_table *t, FILE *out)
{
	size_t width[NTMCTL_TABLE_MAX_COLUMNS] = { 0 };

	for (size_t r = 0; r < t->n_rows; r++) {
		for (size_t c = 0; c < t->n_columns; c++) {
			const char *cell = t->cells[r * t->n_columns + c];
			size_t len = cell ? strlen(cell) : 0;

			if (len > width[c])
				width[c] = len;
		}
	}
	for (size_t r = 0; r < t->n_rows; r++) {
		for (size_t c = 0; c < t->n_columns; c++) {
			const char *cell = t->cells[r * t->n_columns + c];
			bool last = c + 1 == t->n_columns;

			/* The last column is not padded, so lines carry no trailing blanks. */
			if (last)
				fputs(cell ? cell : "-", out);
			else
				fprintf(out, "%-*s  ", (int)width[c], cell ? cell : "-");
		}
		fputc('\n', out);
	}
	ntmctl_table_free(t);
}

void ntmctl_table_free(struct ntmctl_table *t)
{
	for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

const char *ntmctl_bytes(uint64_t bytes, char *out, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double value = (double)bytes;
	size_t unit = 0;

	if (bytes < 1024) {
		snprintf(out, size, "%llu B", (unsigned long long)bytes);
		return out;
	}
	value /= 1024;
	while (value >= 1024 && unit + 1 < sizeof(units) / sizeof(units[0])) {
		value /= 1024;
		unit++;
	}
	snprintf(out, size, "%.1f %s", value, units[unit]);
	return out;
}

const char *ntmctl_age(uint64_t age_ms, char *out, size_t size)
{
	uint64_t s = age_ms / 1000;

	if (s < 120)
		snprintf(out, size, "%llus ago", (unsigned long long)s);
	else if (s < 7200)
		snprintf(out, size, "%llum ago", (unsigned long long)(s / 60));
	else if (s < 2 * 86400)
		snprintf(out, size, "%lluh ago", (unsigned long long)(s / 3600));
	else
		snprintf(out, size, "%llud ago", (unsigned long long)(s / 86400));
	return out;
}

const char *ntmctl_ago(uint64_t unix_ms, char *out, size_t size)
{
	struct timespec ts;
	uint64_t now;

	if (unix_ms == 0) {
		snprintf(out, size, "never");
		return out;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return ntmctl_age(now > unix_ms ? now - unix_ms : 0, out, size);
}

const char *ntmctl_int(const json_t *obj, const char *key, char *out, size_t size)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return "-";
	snprintf(out, size, "%lld", (long long)json_integer_value(v));
	return out;
}

const char *ntmctl_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "-";
}

uint64_t ntmctl_u64(const json_t *obj, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(obj, key));

	return v > 0 ? (uint64_t)v : 0;
}
