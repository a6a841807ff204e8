/* Configuration of ntm-dad. */
#ifndef DAD_CONF_H
#define DAD_CONF_H

#include <stddef.h>

#include "dad.h"

/* Loads path into dad->cfg and the allow list into dad->allow. Returns 0,
 * or -1 with err naming the file, line and fix. */
int dad_conf_load(struct dad *dad, const char *path, char *err, size_t err_size);
void dad_conf_free(struct dad *dad);

#endif
