/*
 * Plain-text tables for ntmctl: a header row and data rows, each column as
 * wide as its widest cell, two spaces apart, in the manner of `ip -br` and
 * `tailscale status`. Also the formatters the cells use.
 */
#ifndef NTMCTL_TABLE_H
#define NTMCTL_TABLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NTMCTL_TABLE_MAX_COLUMNS 12

struct ntmctl_table {
	size_t n_columns;
	size_t n_rows;            /* the header included */
	char **cells;             /* n_rows * n_columns strings */
};

/* Starts a table with the header cells of the NULL-terminated array header
 * (at most NTMCTL_TABLE_MAX_COLUMNS). Returns 0 or -1 without memory. */
int ntmctl_table_init(struct ntmctl_table *t, const char *const *header);
/* Adds a row of n_columns cells, copied; a NULL cell prints as "-".
 * Returns 0 or -1 without memory. */
int ntmctl_table_row(struct ntmctl_table *t, const char *const *cells);
/* Prints the table to out and frees it. */
void ntmctl_table_print(struct ntmctl_table *t, FILE *out);
void ntmctl_table_free(struct ntmctl_table *t);

/* "1.5 KiB" style sizes; returns out. */
const char *ntmctl_bytes(uint64_t bytes, char *out, size_t size);
/* "5s ago", "3m ago", "2h ago", "4d ago" for a Unix time in ms; "never" for 0. */
const char *ntmctl_ago(uint64_t unix_ms, char *out, size_t size);
/* The same for an age in ms. */
const char *ntmctl_age(uint64_t age_ms, char *out, size_t size);
/* Decimal text of a JSON integer member, "-" when missing. */
const char *ntmctl_int(const json_t *obj, const char *key, char *out, size_t size);
/* String member, or "-" when missing or null. */
const char *ntmctl_str(const json_t *obj, const char *key);
/* Integer member as uint64_t, 0 when missing. */
uint64_t ntmctl_u64(const json_t *obj, const char *key);

#endif
