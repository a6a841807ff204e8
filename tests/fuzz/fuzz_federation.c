/* libFuzzer target: a FedMessage from a federated DC, unpacked and validated
 * as the DC's ROUTER handler does. */
#include <stddef.h>
#include <stdint.h>

#include "dc_federation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[160];
	Ntm__FedMessage *m = ntm__fed_message__unpack(NULL, size, data);

	if (!m)
		return 0;
	dc_fed_validate(m, why, sizeof(why));
	ntm__fed_message__free_unpacked(m, NULL);
	return 0;
}
