/*
 * ntm-keygen: creates the X25519 key pair of a node, DC or relay.
 *   ntm-keygen [-f] FILE   writes FILE (private, 0600) and FILE.pub (0644)
 *   ntm-keygen -p FILE     prints the public key of an existing FILE
 * The public key goes to stdout in base64. Exit status: 0 on success, 1 on
 * failure, 2 on a usage error.
 */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ntm_key.h"

static void print_usage(FILE *out)
{
	fprintf(out,
		"usage: ntm-keygen [-f] FILE\n"
		"       ntm-keygen -p FILE\n"
		"  Creates an X25519 key pair: the private key in FILE (mode 0600), the\n"
		"  public key in FILE.pub (mode 0644) and on stdout, both in base64.\n"
		"  -f  overwrite FILE and FILE.pub when they exist\n"
		"  -p  print the public key of the private key in FILE instead\n"
		"  -h  print this help\n");
}

static int print_public(const uint8_t pub[NTM_KEY_LEN])
{
	char b64[NTM_KEY_B64_LEN];

	ntm_key_to_base64(b64, pub);
	if (printf("%s\n", b64) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "ntm-keygen: cannot write to stdout: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

static int show_public(const char *path)
{
	struct ntm_keypair kp;
	char err[512];
	int status;

	if (ntm_key_load(&kp, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "ntm-keygen: %s\n", err);
		return 1;
	}
	status = print_public(kp.pub);
	ntm_keypair_wipe(&kp);
	return status;
}

static int generate(const char *path, bool overwrite)
{
	struct ntm_keypair kp;
	int rc;
	int status = 1;

	ntm_keypair_generate(&kp);
	rc = ntm_key_save(&kp, path, overwrite);
	if (rc == -EEXIST) {
		fprintf(stderr, "ntm-keygen: %s or %s.pub already exists; use -f to overwrite "
			"them\n", path, path);
		goto out;
	}
	if (rc < 0) {
		fprintf(stderr, "ntm-keygen: cannot write %s and %s.pub: %s\n", path, path,
			strerror(-rc));
		goto out;
	}
	status = print_public(kp.pub);
out:
	ntm_keypair_wipe(&kp);
	return status;
}

int main(int argc, char **argv)
{
	bool overwrite = false;
	bool print_only = false;
	int opt;

	while ((opt = getopt(argc, argv, "fph")) != -1) {
		switch (opt) {
		case 'f':
			overwrite = true;
			break;
		case 'p':
			print_only = true;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1 || (print_only && overwrite)) {
		print_usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "ntm-keygen: libsodium failed to initialise\n");
		return 1;
	}
	return print_only ? show_public(argv[optind]) : generate(argv[optind], overwrite);
}
