/*
 * Steers TCP connections from players to the pool VIPs into the Agent's
 * proxy: an nftables NAT rule (libnftables) redirects every TCP port of the
 * pool VIPs arriving on the tunnel device to the proxy's port, and the proxy
 * reads the original VIP and port with SO_ORIGINAL_DST. The kernel's own TCP
 * then ends each connection here, so payload rewriting never breaks TCP
 * sequence numbers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dad.h"
#include "ntm_nft.h"

#define DAD_NFT_TABLE "ntm_dad"

/* Writes "{ a, b, ... }" of the pool into out. */
static int pool_set(const struct dad_servers *s, char *out, size_t size)
{
	size_t off = 0;
	char ip[INET6_ADDRSTRLEN];

	off += (size_t)snprintf(out, size, "{ ");
	for (size_t i = 0; i < s->n_pool && off < size; i++)
		off += (size_t)snprintf(out + off, size - off, "%s%s", i ? ", " : "",
					ntm_ip_str(&s->pool[i], ip, sizeof(ip)));
	if (off >= size)
		return -ENOSPC;
	off += (size_t)snprintf(out + off, size - off, " }");
	return off < size ? 0 : -ENOSPC;
}

int dad_redirect_install(struct dad *dad, char *err, size_t err_size)
{
	char set[NTM_MAX_POOL_VIPS * (INET6_ADDRSTRLEN + 2) + 8];
	char cmd[sizeof(set) + 512];

	if (dad->servers.n_pool == 0 || pool_set(&dad->servers, set, sizeof(set)) < 0) {
		snprintf(err, err_size, "nftables: no VIP pool to redirect");
		return -EINVAL;
	}
	dad_redirect_remove(dad);
	snprintf(cmd, sizeof(cmd),
		 "add table ip " DAD_NFT_TABLE "\n"
		 "add chain ip " DAD_NFT_TABLE " prerouting { type nat hook prerouting "
		 "priority dstnat; policy accept; }\n"
		 "add rule ip " DAD_NFT_TABLE " prerouting iifname \"%s\" ip daddr %s "
		 "meta l4proto tcp redirect to :%llu\n",
		 dad->cfg.tun_interface, set, (unsigned long long)dad->cfg.proxy_port);
	if (ntm_nft_run(cmd, err, err_size) < 0)
		return -EIO;
	dad->redirect_installed = true;
	log_info("nftables: TCP to the %zu pool VIPs on %s goes to the proxy on port %llu",
		 dad->servers.n_pool, dad->cfg.tun_interface,
		 (unsigned long long)dad->cfg.proxy_port);
	return 0;
}

void dad_redirect_remove(struct dad *dad)
{
	char err[256];

	/* Deleting a table that is not there fails harmlessly. */
	ntm_nft_run("delete table ip " DAD_NFT_TABLE "\n", err, sizeof(err));
	dad->redirect_installed = false;
}
