/*
 * Long-term X25519 keys. Key files hold the base64 private key (44
 * characters and a newline) and must not be readable by group or others.
 */
#ifndef NTM_KEY_H
#define NTM_KEY_H

#include <stddef.h>
#include <stdint.h>

#define NTM_KEY_LEN 32
/* base64 of 32 bytes with padding, and a NUL */
#define NTM_KEY_B64_LEN 45

struct ntm_keypair {
	uint8_t pub[NTM_KEY_LEN];
	uint8_t priv[NTM_KEY_LEN];
};

void ntm_keypair_generate(struct ntm_keypair *kp);
/* Derives pub from priv. Returns 0 or -EINVAL. */
int ntm_keypair_from_private(struct ntm_keypair *kp, const uint8_t priv[NTM_KEY_LEN]);
/* Wipes the private key. */
void ntm_keypair_wipe(struct ntm_keypair *kp);

int ntm_key_to_base64(char out[NTM_KEY_B64_LEN], const uint8_t key[NTM_KEY_LEN]);
/* Returns 0, or -EINVAL unless text is the base64 of exactly 32 bytes
 * (surrounding white space allowed). */
int ntm_key_from_base64(uint8_t key[NTM_KEY_LEN], const char *text);

/*
 * Loads a private key file. Returns 0, -errno from the file system, -EPERM
 * when the file is readable by group or others, or -EINVAL when its content
 * is not one base64 key. err (size err_size) gets a message naming the file
 * and the fix.
 */
int ntm_key_load(struct ntm_keypair *kp, const char *path, char *err, size_t err_size);
/* Writes kp's private key to path with mode 0600 (failing if it exists
 * unless overwrite) and the public key to path.pub with mode 0644. */
int ntm_key_save(const struct ntm_keypair *kp, const char *path, int overwrite);

/* Short printable id of a public key for logs: the first 8 base64 characters. */
const char *ntm_key_id(const uint8_t key[NTM_KEY_LEN], char out[9]);

#endif
