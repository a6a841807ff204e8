/*
 * Home media servers and their VIPs. A server is named by its UDN, so its
 * VIP stays when its address changes; two servers announcing one UDN are
 * told apart by address (the second gets the UDN with "@address"
 * appended). The table is saved as JSON, so VIPs survive restarts.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dad.h"
#include "ntm_time.h"

static void save(struct dad_servers *s)
{
	json_t *arr = json_array();
	char real[INET6_ADDRSTRLEN], vip[INET6_ADDRSTRLEN], tmp[512];

	for (size_t i = 0; i < s->n; i++) {
		const struct dad_server *e = &s->list[i];

		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I}", "udn", e->udn,
						     "real", ntm_ip_str(&e->real, real, sizeof(real)),
						     "vip", ntm_ip_str(&e->vip, vip, sizeof(vip)),
						     "location", e->location,
						     "last_seen_ms", (json_int_t)e->last_seen_ms));
	}
	/* Write a new file and rename it over the old one, so a crash never
	 * leaves half a table. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", s->state_file) < (int)sizeof(tmp) &&
	    json_dump_file(arr, tmp, JSON_INDENT(1)) == 0 && rename(tmp, s->state_file) == 0) {
		json_decref(arr);
		return;
	}
	log_warn("%s: cannot save the server table: %s; VIPs may change after a restart",
		 s->state_file, strerror(errno));
	json_decref(arr);
}

static int load_entry(struct dad_server *e, json_t *item)
{
	const char *udn, *real, *vip, *location;
	json_int_t seen = 0;

	if (json_unpack(item, "{s:s, s:s, s:s, s?s, s?I}", "udn", &udn, "real", &real, "vip", &vip,
			"location", &location, "last_seen_ms", &seen) < 0)
		return -EINVAL;
	if (strlen(udn) >= sizeof(e->udn) || ntm_ip_parse(&e->real, real) < 0 ||
	    ntm_ip_parse(&e->vip, vip) < 0)
		return -EINVAL;
	snprintf(e->udn, sizeof(e->udn), "%s", udn);
	snprintf(e->location, sizeof(e->location), "%s", location ? location : "");
	e->last_seen_ms = (uint64_t)seen;
	e->gone = true;   /* until heard again */
	return 0;
}

int dad_servers_init(struct dad_servers *s, const char *state_file, char *err, size_t err_size)
{
	json_error_t jerr;
	json_t *arr;
	size_t i;
	json_t *item;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->state_file = state_file;
	if (access(state_file, F_OK) != 0)
		return 0;
	arr = json_load_file(state_file, 0, &jerr);
	if (!arr || !json_is_array(arr)) {
		snprintf(err, err_size, "%s:%d: invalid server table: %s; move the file away to "
			 "start with an empty table", state_file, jerr.line, jerr.text);
		json_decref(arr);
		return -1;
	}
	json_array_foreach(arr, i, item) {
		if (s->n < DAD_MAX_SERVERS && load_entry(&s->list[s->n], item) == 0)
			s->n++;
	}
	json_decref(arr);
	log_info("%s: %zu known servers loaded", state_file, s->n);
	return 0;
}

void dad_servers_set_pool(struct dad_servers *s, const struct ntm_ip *pool, size_t n)
{
	pthread_mutex_lock(&s->lock);
	s->n_pool = n < NTM_MAX_POOL_VIPS ? n : NTM_MAX_POOL_VIPS;
	memcpy(s->pool, pool, s->n_pool * sizeof(*pool));
	pthread_mutex_unlock(&s->lock);
}

static bool vip_used(const struct dad_servers *s, const struct ntm_ip *vip)
{
	for (size_t i = 0; i < s->n; i++) {
		if (ntm_ip_equal(&s->list[i].vip, vip))
			return true;
	}
	return false;
}

static const struct ntm_ip *free_vip(const struct dad_servers *s)
{
	for (size_t i = 0; i < s->n_pool; i++) {
		if (!vip_used(s, &s->pool[i]))
			return &s->pool[i];
	}
	return NULL;
}

static struct dad_server *find_udn(struct dad_servers *s, const char *udn)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->list[i].udn, udn) == 0)
			return &s->list[i];
	}
	return NULL;
}

/* The same UDN from another address while the first is alive is another
 * server (a copied configuration): key it by UDN and address. */
static void effective_udn(struct dad_servers *s, const char *udn, const struct ntm_ip *real,
			  char out[DAD_UDN_MAX])
{
	struct dad_server *e = find_udn(s, udn);
	char ip[INET6_ADDRSTRLEN];

	snprintf(out, DAD_UDN_MAX, "%s", udn);
	if (e && !e->gone && !ntm_ip_equal(&e->real, real))
		snprintf(out, DAD_UDN_MAX, "%.80s@%s", udn, ntm_ip_str(real, ip, sizeof(ip)));
}

static int map_locked(struct dad_servers *s, const char *udn, const struct ntm_ip *real,
		      const char *location, struct ntm_ip *vip)
{
	char key[DAD_UDN_MAX];
	struct dad_server *e;

	effective_udn(s, udn, real, key);
	e = find_udn(s, key);
	if (!e) {
		const struct ntm_ip *v = free_vip(s);

		if (!v || s->n == DAD_MAX_SERVERS)
			return -ENOSPC;
		e = &s->list[s->n++];
		memset(e, 0, sizeof(*e));
		snprintf(e->udn, sizeof(e->udn), "%s", key);
		e->vip = *v;
	}

	bool changed = !ntm_ip_equal(&e->real, real) || e->gone ||
		       strcmp(e->location, location) != 0;

	e->real = *real;
	e->gone = false;
	snprintf(e->location, sizeof(e->location), "%s", location);
	e->last_seen_ms = ntm_wall_ms();
	*vip = e->vip;
	if (changed)
		save(s);
	return 0;
}

/* ---- friendly names, read from the device descriptions ---- */

#define DESC_MAX (64 * 1024)
#define DESC_TIMEOUT_S 3

struct name_job {
	struct dad_servers *s;
	struct ntm_ip vip;
	char location[512];
};

/* Fetches url (http://IPv4:PORT/path) with HTTP/1.0 into buf; returns the
 * number of bytes read, or -1. */
static ssize_t fetch(const char *url, char *buf, size_t size)
{
	char host[INET_ADDRSTRLEN + 8], req[700];
	const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
	const char *path;
	struct ntm_endpoint ep;
	struct sockaddr_storage ss;
	struct timeval tv = { .tv_sec = DESC_TIMEOUT_S };
	size_t n = 0;

	if (!p || !(path = strchr(p, '/')) || (size_t)(path - p) >= sizeof(host))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(path - p), p);
	if (ntm_endpoint_parse(&ep, host, 80) < 0)
		return -1;

	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t sl = ntm_endpoint_to_sockaddr(&ep, &ss);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 || len <= 0 || len >= (int)sizeof(req) ||
	    write(fd, req, (size_t)len) != len) {
		close(fd);
		return -1;
	}
	for (ssize_t r; n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) > 0;)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

static void *read_name(void *arg)
{
	struct name_job *job = arg;
	static const char open_tag[] = "<friendlyName>", close_tag[] = "</friendlyName>";
	char *buf = malloc(DESC_MAX);
	const char *a, *b;

	if (buf && fetch(job->location, buf, DESC_MAX) > 0 && (a = strstr(buf, open_tag)) &&
	    (b = strstr(a, close_tag))) {
		a += sizeof(open_tag) - 1;
		pthread_mutex_lock(&job->s->lock);
		for (size_t i = 0; i < job->s->n; i++) {
			struct dad_server *e = &job->s->list[i];

			/* NOTE: XML entities in the name are kept as they are. */
			if (ntm_ip_equal(&e->vip, &job->vip))
				snprintf(e->friendly_name, sizeof(e->friendly_name), "%.*s",
					 (int)(b - a), a);
		}
		pthread_mutex_unlock(&job->s->lock);
	}
	free(buf);
	free(job);
	return NULL;
}

/* Reads the server's friendly name on a thread of its own, so a slow
 * server never holds up the event loop.
 * NOTE: the thread is detached; one still reading when ntm-dad stops is
 * ended with the process. */
static void start_name_read(struct dad_servers *s, const struct ntm_ip *vip, const char *location)
{
	struct name_job *job = calloc(1, sizeof(*job));
	pthread_t t;

	if (!job)
		return;
	job->s = s;
	job->vip = *vip;
	snprintf(job->location, sizeof(job->location), "%s", location);
	if (pthread_create(&t, NULL, read_name, job) != 0) {
		free(job);
		return;
	}
	pthread_detach(t);
}

int dad_servers_map(struct dad_servers *s, const char *udn, const struct ntm_ip *real,
		    const char *location, struct ntm_ip *vip)
{
	pthread_mutex_lock(&s->lock);
	bool had_name = false;

	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->list[i].udn, udn) == 0 && strcmp(s->list[i].location, location) == 0)
			had_name = s->list[i].friendly_name[0] != '\0';
	}
	int rc = map_locked(s, udn, real, location, vip);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0 && !had_name)
		start_name_read(s, vip, location);
	return rc;
}

bool dad_servers_real(struct dad_servers *s, const struct ntm_ip *vip, struct ntm_ip *real)
{
	bool found = false;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n && !found; i++) {
		if (ntm_ip_equal(&s->list[i].vip, vip) && s->list[i].real.len != 0) {
			*real = s->list[i].real;
			found = true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

size_t dad_servers_pairs(struct dad_servers *s, struct ntm_ip *real, struct ntm_ip *vip,
			 size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n && n < max; i++) {
		real[n] = s->list[i].real;
		vip[n] = s->list[i].vip;
		n++;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

void dad_servers_gone(struct dad_servers *s, const char *udn)
{
	pthread_mutex_lock(&s->lock);
	struct dad_server *e = find_udn(s, udn);

	if (e)
		e->gone = true;
	pthread_mutex_unlock(&s->lock);
}

void dad_servers_destroy(struct dad_servers *s)
{
	pthread_mutex_destroy(&s->lock);
}
