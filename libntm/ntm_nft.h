/*
 * Runs nftables commands through libnftables, for the daemons that install
 * NAT rules of their own (ntm-dad's redirect into its proxy, ntm-noded's
 * GENA callback routes). Needs CAP_NET_ADMIN.
 */
#ifndef NTM_NFT_H
#define NTM_NFT_H

#include <stddef.h>

/* Runs cmd, one or more nft commands separated by newlines, as one atomic
 * batch. Returns 0, or -ENOMEM / -EIO with nft's message in err. */
int ntm_nft_run(const char *cmd, char *err, size_t err_size);

#endif
