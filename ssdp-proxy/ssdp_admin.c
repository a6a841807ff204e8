/* The admin API routes of ntm-ssdpd: the server cache and the counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntm_admin.h"
#include "ntm_time.h"
#include "ssdpd.h"

static const char *mode_str(const struct ssdpd *d)
{
	return d->cfg.mode == SSDPD_MODE_PLAYER ? "player" : "home";
}

static json_t *entry_json(const struct ssdp_entry *e, uint64_t now_ms)
{
	char source[NTM_ENDPOINT_STRLEN];

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "usn", e->usn, "st", e->target,
			 "location", e->location, "server", e->server,
			 "source", ntm_endpoint_str(&e->source, source, sizeof(source)),
			 "max_age", (json_int_t)e->max_age_s,
			 "age", (json_int_t)((now_ms - e->seen_ms) / 1000));
}

static int usn_cmp(const void *a, const void *b)
{
	const struct ssdp_entry *const *ea = a;
	const struct ssdp_entry *const *eb = b;

	return strcmp((*ea)->usn, (*eb)->usn);
}

/* GET /v1/cache: the servers known, sorted by USN; max_age and age in s. */
static unsigned get_cache(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct ssdpd *d = arg;
	const struct ssdp_entry *sorted[SSDP_CACHE_MAX];
	uint64_t now = ntm_now_ms();
	json_t *entries = json_array();

	memcpy(sorted, d->cache.entries, d->cache.n * sizeof(sorted[0]));
	qsort(sorted, d->cache.n, sizeof(sorted[0]), usn_cmp);
	for (size_t i = 0; i < d->cache.n; i++)
		json_array_append_new(entries, entry_json(sorted[i], now));
	*resp = json_pack("{s:s, s:o, s:I}", "mode", mode_str(d), "entries", entries, "total",
			  (json_int_t)d->cache.n);
	return 200;
}

static json_t *counters_json(const struct ssdpd *d)
{
	json_t *o = json_object();

	for (int i = 0; i < SSDPD_COUNTER_COUNT; i++)
		json_object_set_new(o, ssdpd_counter_str(i), json_integer((json_int_t)d->counters[i]));
	return o;
}

static json_t *drops_json(const struct ssdpd *d)
{
	json_t *o = json_object();

	for (int i = 0; i < SSDPD_DROP_COUNT; i++)
		json_object_set_new(o, ssdpd_drop_str(i), json_integer((json_int_t)d->drops[i]));
	return o;
}

/* GET /v1/status: the mode's state, the counters and the drops by reason. */
static unsigned get_status(const struct ntm_admin_request *req, json_t **resp, void *arg)
{
	struct ssdpd *d = arg;
	json_t *status = json_pack("{s:s, s:I, s:o, s:o}", "mode", mode_str(d), "cache_entries",
				   (json_int_t)d->cache.n, "counters", counters_json(d),
				   "dropped", drops_json(d));

	if (d->cfg.mode == SSDPD_MODE_PLAYER)
		ssdp_player_status(d, status);
	else
		ssdp_home_status(d, status);
	*resp = status;
	return 200;
}

static void health(json_t *h, void *arg)
{
	struct ssdpd *d = arg;

	json_object_set_new(h, "mode", json_string(mode_str(d)));
	json_object_set_new(h, "cache_entries", json_integer((json_int_t)d->cache.n));
}

/* Prometheus metrics: the cache size, every event counter labelled by its
 * name, and drops by reason. */
static void metrics(struct ntm_metrics *m, void *arg)
{
	struct ssdpd *d = arg;

	ntm_metrics_gauge(m, "ntm_ssdpd_cache_entries", "Servers in the cache",
			  (double)d->cache.n);
	ntm_metrics_family(m, "ntm_ssdpd_events_total", NTM_METRIC_COUNTER,
			   "SSDP and IPC events by kind");
	for (int i = 0; i < SSDPD_COUNTER_COUNT; i++)
		ntm_metrics_sample(m, "ntm_ssdpd_events_total", (double)d->counters[i], "event",
				   ssdpd_counter_str(i), NULL);
	ntm_metrics_family(m, "ntm_ssdpd_dropped_total", NTM_METRIC_COUNTER,
			   "Datagrams and messages dropped, by reason");
	for (int i = 0; i < SSDPD_DROP_COUNT; i++)
		ntm_metrics_sample(m, "ntm_ssdpd_dropped_total", (double)d->drops[i], "reason",
				   ssdpd_drop_str(i), NULL);
}

int ssdp_admin_start(struct ssdpd *d, char *err, size_t err_size)
{
	struct ntm_admin_config ac = {
		.listen = d->cfg.admin_listen,
		.token_file = d->cfg.admin_token_file,
		.daemon_name = "ntm-ssdpd",
		.cert_file = d->cfg.admin_cert_file,
		.key_file = d->cfg.admin_key_file,
	};

	d->admin = ntm_admin_start(&ac, d->loop, err, err_size);
	if (!d->admin)
		return -1;
	ntm_admin_set_health(d->admin, health, d);
	ntm_admin_set_metrics(d->admin, metrics, d);
	if (ntm_admin_route(d->admin, "GET", "/v1/cache", get_cache, d) < 0 ||
	    ntm_admin_route(d->admin, "GET", "/v1/status", get_status, d) < 0) {
		snprintf(err, err_size, "admin API: cannot register the routes");
		return -1;
	}
	return 0;
}
