/*
 * Home mode, shared by its two halves. ssdp_home.c searches the home LAN
 * and keeps the cache of the servers it hears. ssdp_home_ipc.c serves that
 * cache to ntm-dad over a ZeroMQ ROUTER.
 */
#ifndef SSDP_HOME_H
#define SSDP_HOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntm_msg.h"
#include "ssdp_ipc.h"
#include "ssdpd.h"

/* Clients (ntm-dad) that get LocalSsdpGone. */
#define HOME_MAX_CLIENTS 16
/* Searches waiting for their repeat 100 ms later. */
#define HOME_MAX_REPEATS 8

struct home_client {
	uint8_t routing_id[SSDP_IPC_MAX_ROUTING_ID];
	size_t routing_id_len;
};

struct ssdp_home {
	void *router;
	struct home_client clients[HOME_MAX_CLIENTS];
	size_t n_clients;

	unsigned lan_ifindex;         /* 0 while the interface is missing */
	struct ntm_ip lan_ip;         /* its IPv4 address, len 0 while none */
	int search_fd;                /* bound to lan_ip with an ephemeral port */
	uint64_t last_search_ms;      /* monotonic: the last periodic search */
	uint64_t last_refresh_ms;     /* monotonic: the last search for ntm-dad */
	char repeats[HOME_MAX_REPEATS][NTM_SEARCH_TARGET_MAX + 1];
	size_t n_repeats;
	struct ntm_timer *repeat_timer;
	struct ntm_ratelimit prefix_log;
};

/* ssdp_home.c, called by the IPC half: searches the LAN for st now and
 * again 100 ms later. */
void ssdp_home_search(struct ssdpd *d, const char *st, unsigned mx);

/* ssdp_home_ipc.c */
int ssdp_home_ipc_start(struct ssdpd *d, char *err, size_t err_size);
void ssdp_home_ipc_stop(struct ssdpd *d);
/* Sends LocalSsdpGone{usn} to every client. */
void ssdp_home_send_gone(struct ssdpd *d, const char *usn);

#endif
