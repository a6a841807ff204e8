/* Configuration of ntm-rsd: the option table, loading and checks. */
#ifndef RS_CONF_H
#define RS_CONF_H

#include <stddef.h>

#include "rs.h"

/* Loads path into cfg with defaults applied and cross-checks done. Returns 0,
 * or -1 with err naming the file, line and fix. */
int rs_conf_load(struct rs_config *cfg, const char *path, char *err, size_t err_size);
void rs_conf_free(struct rs_config *cfg);

#endif
