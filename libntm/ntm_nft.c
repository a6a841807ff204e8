#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "ntm_nft.h"

/* Copies nft's message without its trailing newlines, which would break
 * the log line it ends up in. */
static void copy_error(char *err, size_t err_size, const char *msg)
{
	int n = snprintf(err, err_size, "nftables: %s", msg ? msg : "unknown error");

	if (n < 0 || err_size == 0)
		return;
	for (size_t len = strlen(err); len > 0 && err[len - 1] == '\n'; len--)
		err[len - 1] = '\0';
}

int ntm_nft_run(const char *cmd, char *err, size_t err_size)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc;

	if (!ctx) {
		snprintf(err, err_size, "nftables: cannot create a context");
		return -ENOMEM;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	rc = nft_run_cmd_from_buffer(ctx, cmd);
	if (rc != 0)
		copy_error(err, err_size, nft_ctx_get_error_buffer(ctx));
	nft_ctx_free(ctx);
	return rc == 0 ? 0 : -EIO;
}
