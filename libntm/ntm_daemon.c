/* Command line conventions shared by every daemon. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ntm_daemon.h"
#include "ntm_log.h"

static void print_usage(FILE *out, const char *name, const char *default_config)
{
	fprintf(out,
		"usage: %s [-fnvVh] [-c FILE]\n"
		"  -c FILE  read the configuration from FILE (default: %s)\n"
		"  -f       stay in the foreground and log to stderr\n"
		"  -n       check the configuration and exit\n"
		"  -v       log debug messages too\n"
		"  -V       print the version and exit\n"
		"  -h       print this help and exit\n",
		name, default_config);
}

void ntm_daemon_parse_args(struct ntm_daemon_args *args, int argc, char **argv,
			   const char *name, const char *default_config)
{
	int opt;

	*args = (struct ntm_daemon_args){ .config_path = default_config };

	while ((opt = getopt(argc, argv, "c:fnvVh")) != -1) {
		switch (opt) {
		case 'c':
			args->config_path = optarg;
			break;
		case 'f':
			args->foreground = true;
			break;
		case 'n':
			args->check_only = true;
			break;
		case 'v':
			args->verbose++;
			break;
		case 'V':
			printf("%s %s\n", name, NTM_VERSION);
			exit(0);
		case 'h':
			print_usage(stdout, name, default_config);
			exit(0);
		default:
			/* getopt() has printed what was wrong. */
			print_usage(stderr, name, default_config);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", name, argv[optind]);
		print_usage(stderr, name, default_config);
		exit(2);
	}
}

/* A configuration check (-n) reports to the terminal, like -f. */
void ntm_daemon_open_log(const struct ntm_daemon_args *args, const char *name)
{
	bool to_stderr = args->foreground || args->check_only;

	ntm_log_open(name, to_stderr, args->verbose > 0 ? NTM_LOG_DEBUG : NTM_LOG_INFO);
}
