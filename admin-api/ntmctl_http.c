/* ntmctl's HTTP client: one libcurl easy handle per request. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntmctl_http.h"

/* Characters of a response body that is not JSON, shown in an error. */
#define BODY_EXCERPT 200

struct buffer {
	char *data;
	size_t len, cap;
	bool too_large;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buffer *b = arg;
	size_t n = size * nmemb;

	if (n > NTMCTL_MAX_RESPONSE - b->len) {
		b->too_large = true;
		return 0;   /* makes libcurl fail with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *grown;

		while (cap < b->len + n + 1)
			cap *= 2;
		grown = realloc(b->data, cap);
		if (!grown)
			return 0;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Reads the first line of the token file, without surrounding blanks. */
static int load_token(struct ntmctl_client *c)
{
	FILE *f = fopen(c->token_file, "r");
	size_t len;
	char *start;

	if (!f) {
		fprintf(stderr, "ntmctl: cannot read the admin token file %s: %s; pass "
			"--token-file FILE (the daemon's [admin] token_file)\n", c->token_file,
			strerror(errno));
		return -1;
	}
	if (!fgets(c->token, sizeof(c->token), f))
		c->token[0] = '\0';
	fclose(f);
	len = strcspn(c->token, "\r\n");
	c->token[len] = '\0';
	start = c->token + strspn(c->token, " \t");
	memmove(c->token, start, strlen(start) + 1);
	len = strlen(c->token);
	while (len > 0 && (c->token[len - 1] == ' ' || c->token[len - 1] == '\t'))
		c->token[--len] = '\0';
	if (len == 0) {
		fprintf(stderr, "ntmctl: the admin token file %s has no token on its first line\n",
			c->token_file);
		return -1;
	}
	c->have_token = true;
	return 0;
}

/* Returns the advice for a failed transfer other than a refused connection. */
static const char *connect_hint(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return "; the daemon accepted the connection but did not answer in time";
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
		return "; pass the certificate's CA with --cacert FILE";
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return "; use http://HOST:PORT or https://HOST:PORT";
	default:
		return "";
	}
}

/* Prints the daemon's error for a response outside 2xx. */
static void print_http_error(const struct ntmctl_client *c, const char *method, const char *path,
			     const struct ntmctl_response *r)
{
	json_t *err = json_object_get(r->json, "error");
	const char *code = json_string_value(json_object_get(err, "code"));
	const char *message = json_string_value(json_object_get(err, "message"));

	if (code && message)
		fprintf(stderr, "ntmctl: %s at %s: %s %s: HTTP %ld %s: %s\n", c->daemon, c->url,
			method, path, r->status, code, message);
	else
		fprintf(stderr, "ntmctl: %s at %s: %s %s: HTTP %ld: %.*s\n", c->daemon, c->url,
			method, path, r->status, BODY_EXCERPT, r->body ? r->body : "");
	if (r->status == 401)
		fprintf(stderr, "ntmctl: the token in %s is not this daemon's admin token; pass "
			"--token-file with the file its [admin] token_file names\n", c->token_file);
}

static struct curl_slist *make_headers(const struct ntmctl_client *c, bool auth, bool body)
{
	struct curl_slist *headers = NULL;
	char line[sizeof(c->token) + 32];

	headers = curl_slist_append(headers, "Accept: application/json");
	if (body)
		headers = curl_slist_append(headers, "Content-Type: application/json");
	if (auth) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", c->token);
		headers = curl_slist_append(headers, line);
	}
	return headers;
}

/* Runs the transfer and returns the curl result, with errbuf filled on failure. */
static CURLcode perform(const struct ntmctl_client *c, const char *method, const char *url,
			const char *body, struct curl_slist *headers, struct buffer *buf,
			long *status, char *errbuf)
{
	CURL *curl = curl_easy_init();
	CURLcode rc;

	if (!curl) {
		snprintf(errbuf, CURL_ERROR_SIZE, "libcurl failed to initialise");
		return CURLE_FAILED_INIT;
	}
	errbuf[0] = '\0';
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, buf);
	if (c->cacert)
		curl_easy_setopt(curl, CURLOPT_CAINFO, c->cacert);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	else if (errbuf[0] == '\0')
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
	curl_easy_cleanup(curl);
	return rc;
}

int ntmctl_request(struct ntmctl_client *c, const char *method, const char *path,
		   const char *body, bool auth, struct ntmctl_response *resp)
{
	char url[sizeof(c->url) + 1024], errbuf[CURL_ERROR_SIZE];
	struct buffer buf = { 0 };
	struct curl_slist *headers;
	CURLcode rc;

	memset(resp, 0, sizeof(*resp));
	if (auth && !c->have_token && load_token(c) < 0)
		return -1;
	snprintf(url, sizeof(url), "%s%s", c->url, path);
	headers = make_headers(c, auth, body != NULL);
	rc = perform(c, method, url, body, headers, &buf, &resp->status, errbuf);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK) {
		fprintf(stderr, "ntmctl: cannot reach %s at %s: %s", c->daemon, c->url,
			buf.too_large ? "the response is larger than 16 MiB" : errbuf);
		if (rc == CURLE_COULDNT_CONNECT)
			fprintf(stderr, "; is %s running, and does its [admin] listen match this "
				"URL?\n", c->daemon);
		else
			fprintf(stderr, "%s\n", connect_hint(rc));
		free(buf.data);
		return -1;
	}
	resp->body = buf.data ? buf.data : strdup("");
	resp->body_len = buf.len;
	resp->json = json_loadb(resp->body ? resp->body : "", buf.len, 0, NULL);
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	print_http_error(c, method, path, resp);
	ntmctl_response_free(resp);
	return -1;
}

void ntmctl_response_free(struct ntmctl_response *resp)
{
	free(resp->body);
	json_decref(resp->json);
	memset(resp, 0, sizeof(*resp));
}

json_t *ntmctl_get_json(struct ntmctl_client *c, const char *path)
{
	struct ntmctl_response r;
	json_t *json;

	if (ntmctl_request(c, "GET", path, NULL, true, &r) < 0)
		return NULL;
	if (!json_is_object(r.json)) {
		fprintf(stderr, "ntmctl: %s at %s: GET %s: the response is not a JSON object; is "
			"this URL an ntm admin API?\n", c->daemon, c->url, path);
		ntmctl_response_free(&r);
		return NULL;
	}
	json = json_incref(r.json);
	ntmctl_response_free(&r);
	return json;
}

int ntmctl_path(char *out, size_t out_size, const char *prefix, const char *segment)
{
	char *escaped = curl_easy_escape(NULL, segment, 0);
	int n;

	if (!escaped)
		return -1;
	n = snprintf(out, out_size, "%s%s", prefix, escaped);
	curl_free(escaped);
	return n < 0 || (size_t)n >= out_size ? -1 : 0;
}
