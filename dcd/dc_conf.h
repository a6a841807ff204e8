/* Configuration of ntm-dcd: the option table, loading and checks. */
#ifndef DC_CONF_H
#define DC_CONF_H

#include <stddef.h>

#include "dc.h"

/* Loads path into cfg with defaults applied and cross-checks done. Returns 0,
 * or -1 with err naming the file, line and fix. */
int dc_conf_load(struct dc_config *cfg, const char *path, char *err, size_t err_size);
void dc_conf_free(struct dc_config *cfg);

#endif
