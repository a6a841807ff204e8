/*
 * Command line and process conventions shared by every daemon:
 *   -c FILE  configuration file       -f  foreground, log to stderr
 *   -n       check the configuration and exit
 *   -v       more verbose (repeatable) -V  print the version and exit
 *   -h       help
 */
#ifndef NTM_DAEMON_H
#define NTM_DAEMON_H

#include <stdbool.h>

struct ntm_daemon_args {
	const char *config_path;
	bool foreground;
	bool check_only;
	int verbose;
};

/*
 * Parses argv. Prints the version or help and exits for -V and -h, prints
 * usage and exits 2 on bad options. default_config is used without -c.
 */
void ntm_daemon_parse_args(struct ntm_daemon_args *args, int argc, char **argv,
			   const char *name, const char *default_config);

/* Opens the log (stderr with -f, syslog otherwise) at info, or debug with -v. */
void ntm_daemon_open_log(const struct ntm_daemon_args *args, const char *name);

#endif
