/* Configuration of ntm-noded: the option table and loading. */
#ifndef ND_CONF_H
#define ND_CONF_H

#include <stddef.h>

#include "nd.h"

/* Loads path into cfg with defaults applied. Returns 0, or -1 with err
 * naming the file, line and fix. */
int nd_conf_load(struct nd_config *cfg, const char *path, char *err, size_t err_size);
void nd_conf_free(struct nd_config *cfg);

#endif
