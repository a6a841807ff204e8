/* The route decision of docs/protocol.md, "Route decision", as a pure function. */
#ifndef DC_ROUTE_H
#define DC_ROUTE_H

#include <stdbool.h>

#include "control.pb-c.h"
#include "dc_store.h"

struct dc_route {
	Ntm__RouteCase route;
	bool requester_initiates;
};

/*
 * Decides how the requester and the peer build their tunnel from the two
 * records, in this order: peer not behind NAT -> DIRECT from the requester;
 * requester not behind NAT -> NAT_SIDE_OPENS from the peer; same observed IP
 * and !exclude_private -> SAME_NAT from the requester; else TWO_NATS from the
 * requester.
 */
struct dc_route dc_route_decide(const struct dc_node *requester, const struct dc_node *peer,
				bool exclude_private);

#endif
