/* Configuration of ntm-ssdpd: the option table, loading and checks. */
#ifndef SSDP_CONF_H
#define SSDP_CONF_H

#include <stddef.h>

#include "ssdpd.h"

/* Loads path into cfg with defaults applied and the checks of the chosen
 * mode done. Returns 0, or -1 with err naming the file, line and fix. */
int ssdp_conf_load(struct ssdpd_config *cfg, const char *path, char *err, size_t err_size);
void ssdp_conf_free(struct ssdpd_config *cfg);

/* Parses a list of prefixes separated by commas or spaces, at most max.
 * Returns the count, or -1 with err set. */
int ssdp_conf_parse_prefixes(const char *text, struct ntm_prefix *out, size_t max, char *err,
			     size_t err_size);

#endif
