/* Route decision between two NTM records. */
#include "dc_route.h"

struct dc_route dc_route_decide(const struct dc_node *requester, const struct dc_node *peer,
				bool exclude_private)
{
	struct dc_route r = { NTM__ROUTE_CASE__ROUTE_CASE_DIRECT, true };

	if (!peer->behind_nat)
		return r;
	if (!requester->behind_nat) {
		r.route = NTM__ROUTE_CASE__ROUTE_CASE_NAT_SIDE_OPENS;
		r.requester_initiates = false;
		return r;
	}
	/* The same public address may be one home or two homes behind one
	 * carrier-grade NAT; the private probe tells them apart. */
	if (!exclude_private && ntm_ip_equal(&requester->observed.ip, &peer->observed.ip)) {
		r.route = NTM__ROUTE_CASE__ROUTE_CASE_SAME_NAT;
		return r;
	}
	r.route = NTM__ROUTE_CASE__ROUTE_CASE_TWO_NATS;
	return r;
}

