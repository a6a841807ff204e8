/*
 * Checks of query arguments and JSON bodies for the admin API's handlers.
 * Every rejection is a 400 whose message names the argument or member, the
 * value received and what is expected, so a caller can fix the request
 * without reading the source.
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_admin.h"
#include "ntm_log.h"

/* Characters of a rejected value quoted back in an error message. */
#define VALUE_TEXT_MAX 64
/* Characters of the list of valid names in an error message. */
#define NAMES_TEXT_MAX 256

struct unknown_arg {
	const char *const *allowed;
	char name[VALUE_TEXT_MAX * 4 + 4];    /* the first one not allowed, sanitised */
	bool found;
};

static bool name_listed(const char *const *names, const char *name)
{
	for (size_t i = 0; names && names[i]; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

static enum MHD_Result find_unknown(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct unknown_arg *u = cls;

	if (name_listed(u->allowed, key))
		return MHD_YES;
	ntm_log_sanitize(u->name, sizeof(u->name), key, VALUE_TEXT_MAX);
	u->found = true;
	return MHD_NO;
}

/* Joins names with ", " into out, "none" for an empty list. */
static const char *join_names(const char *const *names, char *out, size_t size)
{
	size_t pos = 0;

	snprintf(out, size, "none");
	for (size_t i = 0; names && names[i] && pos < size; i++) {
		int n = snprintf(out + pos, size - pos, "%s%s", i ? ", " : "", names[i]);

		if (n < 0)
			break;
		pos += (size_t)n;
	}
	return out;
}

unsigned ntm_admin_check_query(const struct ntm_admin_request *req, const char *const *allowed,
			       json_t **response)
{
	struct unknown_arg u = { .allowed = allowed };
	char valid[NAMES_TEXT_MAX];

	MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, find_unknown, &u);
	if (!u.found)
		return 0;
	return ntm_admin_error(response, MHD_HTTP_BAD_REQUEST, "invalid_argument",
			       "unknown query argument '%s'; valid arguments: %s", u.name,
			       join_names(allowed, valid, sizeof(valid)));
}

unsigned ntm_admin_query_bool(const struct ntm_admin_request *req, const char *name, int *value,
			      json_t **response)
{
	const char *text = ntm_admin_query(req, name);
	char shown[VALUE_TEXT_MAX * 4 + 4];

	*value = -1;
	if (!text)
		return 0;
	if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
		*value = text[0] == 't';
		return 0;
	}
	ntm_log_sanitize(shown, sizeof(shown), text, VALUE_TEXT_MAX);
	return ntm_admin_error(response, MHD_HTTP_BAD_REQUEST, "invalid_argument",
			       "%s '%s' is invalid: expected 'true' or 'false'", name, shown);
}

/* Parses a decimal whole number within [0, max]. Returns 0 or -EINVAL. */
static int parse_count(const char *text, unsigned long long max, size_t *out)
{
	char *end = NULL;
	unsigned long long n;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || *end != '\0' || n > max)
		return -EINVAL;
	*out = (size_t)n;
	return 0;
}

static unsigned reject_count(json_t **response, const char *name, const char *text,
			     unsigned long long max)
{
	char shown[VALUE_TEXT_MAX * 4 + 4];

	ntm_log_sanitize(shown, sizeof(shown), text, VALUE_TEXT_MAX);
	return ntm_admin_error(response, MHD_HTTP_BAD_REQUEST, "invalid_argument",
			       "%s '%s' is invalid: expected a whole number from 0 to %llu", name,
			       shown, max);
}

unsigned ntm_admin_page_args(const struct ntm_admin_request *req, struct ntm_admin_page *page,
			     json_t **response)
{
	/* Offsets past any real list still parse, so a client paging past the
	 * end gets an empty page rather than an error. */
	const unsigned long long max_offset = 1ULL << 40;
	const char *limit = ntm_admin_query(req, "limit");
	const char *offset = ntm_admin_query(req, "offset");

	page->limit = NTM_ADMIN_DEFAULT_LIMIT;
	page->offset = 0;
	if (limit && parse_count(limit, NTM_ADMIN_MAX_LIMIT, &page->limit) < 0)
		return reject_count(response, "limit", limit, NTM_ADMIN_MAX_LIMIT);
	if (offset && parse_count(offset, max_offset, &page->offset) < 0)
		return reject_count(response, "offset", offset, max_offset);
	return 0;
}

json_t *ntm_admin_page_json(const char *key, json_t *items, const struct ntm_admin_page *page)
{
	size_t total = json_array_size(items);
	json_t *slice = json_array();

	if (!items || !slice) {
		json_decref(items);
		json_decref(slice);
		return NULL;
	}
	for (size_t i = page->offset; i < total && i - page->offset < page->limit; i++)
		json_array_append(slice, json_array_get(items, i));
	json_decref(items);
	return json_pack("{s:o, s:I, s:I, s:I}", key, slice, "total", (json_int_t)total, "offset",
			 (json_int_t)page->offset, "limit", (json_int_t)page->limit);
}

static const char *type_name(json_type type)
{
	switch (type) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

static bool type_matches(const json_t *value, json_type want)
{
	if (want == JSON_TRUE || want == JSON_FALSE)
		return json_is_boolean(value);
	if (want == JSON_REAL)
		return json_is_number(value);
	return json_typeof(value) == want;
}

/* Lists the field names into out as "a, b, c". */
static const char *field_names(const struct ntm_admin_field *fields, size_t n, char *out,
			       size_t size)
{
	const char *names[16];
	size_t k = 0;

	for (size_t i = 0; i < n && k < sizeof(names) / sizeof(names[0]) - 1; i++)
		names[k++] = fields[i].name;
	names[k] = NULL;
	return join_names(names, out, size);
}

static unsigned check_unknown_members(const json_t *body, const struct ntm_admin_field *fields,
				      size_t n_fields, json_t **response)
{
	char valid[NAMES_TEXT_MAX], shown[VALUE_TEXT_MAX * 4 + 4];
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)body, key, value) {
		bool known = false;

		for (size_t i = 0; i < n_fields && !known; i++)
			known = strcmp(fields[i].name, key) == 0;
		if (known)
			continue;
		ntm_log_sanitize(shown, sizeof(shown), key, VALUE_TEXT_MAX);
		return ntm_admin_error(response, MHD_HTTP_BAD_REQUEST, "invalid_argument",
				       "unknown member '%s' in the request body; valid members: %s",
				       shown, field_names(fields, n_fields, valid, sizeof(valid)));
	}
	return 0;
}

unsigned ntm_admin_check_body(const struct ntm_admin_request *req,
			      const struct ntm_admin_field *fields, size_t n_fields,
			      json_t **response)
{
	char valid[NAMES_TEXT_MAX];
	bool any_required = false;

	for (size_t i = 0; i < n_fields; i++)
		any_required |= fields[i].required;
	if (!req->body) {
		if (!any_required)
			return 0;
		return ntm_admin_error(response, MHD_HTTP_BAD_REQUEST, "invalid_argument",
				       "the request needs a JSON object body with the members %s",
				       field_names(fields, n_fields, valid, sizeof(valid)));
	}
	for (size_t i = 0; i < n_fields; i++) {
		const json_t *value = json_object_get(req->body, fields[i].name);

		if (!value && fields[i].required)
			return ntm_admin_error(response, MHD_HTTP_BAD_REQUEST, "invalid_argument",
					       "missing member '%s' (%s) in the request body",
					       fields[i].name, type_name(fields[i].type));
		if (value && !type_matches(value, fields[i].type))
			return ntm_admin_error(response, MHD_HTTP_BAD_REQUEST, "invalid_argument",
					       "member '%s' must be %s, not %s", fields[i].name,
					       type_name(fields[i].type),
					       type_name(json_typeof(value)));
	}
	return check_unknown_members(req->body, fields, n_fields, response);
}

json_t *ntm_admin_json_endpoint(const struct ntm_endpoint *ep)
{
	char text[NTM_ENDPOINT_STRLEN];

	if (ep->ip.len == 0)
		return json_null();
	return json_string(ntm_endpoint_str(ep, text, sizeof(text)));
}

json_t *ntm_admin_json_ip(const struct ntm_ip *ip)
{
	char text[INET6_ADDRSTRLEN];

	if (ip->len == 0)
		return json_null();
	return json_string(ntm_ip_str(ip, text, sizeof(text)));
}
