/*
 * libFuzzer target for the SSDP parser: parses each input as one datagram
 * and runs every accessor on an accepted message. Accepted headers must
 * hold no control bytes. A message rebuilt from an accepted one's fields
 * must parse again to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssdp_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			abort();
	}
}

static void run_accessors(const struct ssdp_msg *m)
{
	struct ntm_endpoint ep;
	uint32_t max_age;
	char udn[128];
	const char *usn = ssdp_msg_usn(m), *st = ssdp_msg_st(m), *loc = ssdp_msg_location(m);

	int mx = ssdp_msg_mx(m);

	if (mx == 0 || mx > SSDP_MX_MAX)
		abort();
	if (ssdp_msg_max_age(m, &max_age) == 0 && (max_age == 0 || max_age > SSDP_MAX_AGE_LIMIT))
		abort();
	(void)ssdp_msg_man_discover(m);
	(void)ssdp_msg_nts(m);
	if (usn)
		(void)ssdp_usn_udn(usn, udn, sizeof(udn));
	if (loc)
		(void)ssdp_location_endpoint(loc, &ep);
	if (st && usn)
		(void)ssdp_st_matches(st, usn);
}

/* Rebuilds an announcement as a 200 OK and parses it again. */
static void check_rebuild(const struct ssdp_msg *m)
{
	static struct ssdp_msg again;
	const char *target = m->kind == SSDP_KIND_NOTIFY ? ssdp_msg_nt(m) : ssdp_msg_st(m);
	struct ssdp_advert a = {
		.usn = ssdp_msg_usn(m), .target = target, .location = ssdp_msg_location(m),
		.server = ssdp_msg_server(m), .max_age_s = 1800,
	};
	char buf[SSDP_MSG_MAX];

	if (!a.usn || !a.target || !a.location || !a.server)
		return;

	ssize_t len = ssdp_build_response(buf, sizeof(buf), &a);

	if (len < 0)
		return;
	if (ssdp_msg_parse(&again, buf, (size_t)len) != SSDP_OK)
		abort();
	if (strcmp(ssdp_msg_usn(&again), a.usn) != 0 || strcmp(ssdp_msg_st(&again), a.target) != 0 ||
	    strcmp(ssdp_msg_location(&again), a.location) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ssdp_msg m;

	if (ssdp_msg_parse(&m, data, size) != SSDP_OK)
		return 0;
	if (m.n_headers > SSDP_MAX_HEADERS)
		abort();
	for (size_t i = 0; i < m.n_headers; i++) {
		if (m.headers[i].name[0] == '\0')
			abort();
		check_text(m.headers[i].name);
		check_text(m.headers[i].value);
	}
	run_accessors(&m);
	check_rebuild(&m);
	return 0;
}
