/* Long-term X25519 key pairs and their base64 key files. */
#include "ntm_key.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Base64 characters of a 32-byte key, without the NUL. */
#define KEY_B64_CHARS (NTM_KEY_B64_LEN - 1)
/* Largest key file read: one key with generous room for white space and
 * line ends. Anything longer is not a key file. */
#define KEY_FILE_MAX 256

void ntm_keypair_generate(struct ntm_keypair *kp)
{
	/* crypto_kx key pairs are plain X25519 key pairs. */
	crypto_kx_keypair(kp->pub, kp->priv);
}

int ntm_keypair_from_private(struct ntm_keypair *kp, const uint8_t priv[NTM_KEY_LEN])
{
	uint8_t pub[NTM_KEY_LEN];

	if (crypto_scalarmult_base(pub, priv) != 0)
		return -EINVAL;
	memmove(kp->priv, priv, NTM_KEY_LEN);
	memcpy(kp->pub, pub, NTM_KEY_LEN);
	return 0;
}

void ntm_keypair_wipe(struct ntm_keypair *kp)
{
	sodium_memzero(kp, sizeof(*kp));
}

int ntm_key_to_base64(char out[NTM_KEY_B64_LEN], const uint8_t key[NTM_KEY_LEN])
{
	sodium_bin2base64(out, NTM_KEY_B64_LEN, key, NTM_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Decodes exactly len characters of base64 into a 32-byte key. */
static int key_decode(uint8_t key[NTM_KEY_LEN], const char *b64, size_t len)
{
	uint8_t bin[NTM_KEY_LEN];
	size_t bin_len = 0;
	const char *end = NULL;
	int ret = -EINVAL;

	if (len != KEY_B64_CHARS)
		goto out;
	if (sodium_base642bin(bin, sizeof(bin), b64, len, NULL, &bin_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		goto out;
	if (bin_len != NTM_KEY_LEN || end != b64 + len)
		goto out;
	memcpy(key, bin, NTM_KEY_LEN);
	ret = 0;
out:
	sodium_memzero(bin, sizeof(bin));
	return ret;
}

/* Decodes text[0..len) after trimming white space at both ends. */
static int key_decode_trimmed(uint8_t key[NTM_KEY_LEN], const char *text, size_t len)
{
	while (len > 0 && is_space(text[0])) {
		text++;
		len--;
	}
	while (len > 0 && is_space(text[len - 1]))
		len--;
	return key_decode(key, text, len);
}

int ntm_key_from_base64(uint8_t key[NTM_KEY_LEN], const char *text)
{
	size_t len;

	if (text == NULL)
		return -EINVAL;
	len = strnlen(text, KEY_FILE_MAX);
	if (len == KEY_FILE_MAX)
		return -EINVAL;
	return key_decode_trimmed(key, text, len);
}

/* Reads the whole file behind fd into buf. Returns the length, or -errno,
 * or -EFBIG when the file does not fit. */
static ssize_t fd_read_all(int fd, char *buf, size_t size)
{
	size_t used = 0;

	for (;;) {
		ssize_t n = read(fd, buf + used, size - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return (ssize_t)used;
		used += (size_t)n;
		if (used == size)
			return -EFBIG;
	}
}

static int key_file_check_mode(int fd, const char *path, char *err, size_t err_size)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int ret = -errno;

		snprintf(err, err_size, "key file %s: stat failed: %s", path, strerror(-ret));
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, err_size, "key file %s: not a regular file", path);
		return -EINVAL;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, err_size,
			 "key file %s is readable or writable by group or others (mode %03o): "
			 "run chmod 600 %s",
			 path, (unsigned)(st.st_mode & 0777), path);
		return -EPERM;
	}
	return 0;
}

int ntm_key_load(struct ntm_keypair *kp, const char *path, char *err, size_t err_size)
{
	char buf[KEY_FILE_MAX];
	uint8_t priv[NTM_KEY_LEN];
	ssize_t len = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, err_size, "key file %s: open failed: %s%s", path, strerror(-ret),
			 ret == -ENOENT ? " (create it with ntm-keygen)" : "");
		return ret;
	}
	ret = key_file_check_mode(fd, path, err, err_size);
	if (ret < 0)
		goto out;

	len = fd_read_all(fd, buf, sizeof(buf));
	if (len < 0 && len != -EFBIG) {
		ret = (int)len;
		snprintf(err, err_size, "key file %s: read failed: %s", path, strerror(-ret));
		goto out;
	}
	if (len < 0 || key_decode_trimmed(priv, buf, (size_t)len) < 0 ||
	    ntm_keypair_from_private(kp, priv) < 0) {
		ret = -EINVAL;
		snprintf(err, err_size,
			 "key file %s: expected one base64 X25519 private key of %d characters "
			 "(create one with ntm-keygen)",
			 path, KEY_B64_CHARS);
		goto out;
	}
	ret = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(priv, sizeof(priv));
	close(fd);
	return ret;
}

static int fd_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes key as "<base64>\n" to path with mode (exclusive unless overwrite). */
static int key_file_write(const char *path, const uint8_t key[NTM_KEY_LEN], mode_t mode,
			  int overwrite)
{
	char line[NTM_KEY_B64_LEN + 1];
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY;
	int fd, ret;

	flags |= overwrite ? O_TRUNC : O_EXCL;
	fd = open(path, flags, mode);
	if (fd < 0)
		return -errno;

	ntm_key_to_base64(line, key);
	line[KEY_B64_CHARS] = '\n';

	/* An existing file keeps its old mode on open: set it explicitly. */
	ret = fchmod(fd, mode) < 0 ? -errno : 0;
	if (ret == 0)
		ret = fd_write_all(fd, line, KEY_B64_CHARS + 1);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	sodium_memzero(line, sizeof(line));
	return ret;
}

int ntm_key_save(const struct ntm_keypair *kp, const char *path, int overwrite)
{
	char pub_path[PATH_MAX];
	int n, ret;

	n = snprintf(pub_path, sizeof(pub_path), "%s.pub", path);
	if (n < 0 || (size_t)n >= sizeof(pub_path))
		return -ENAMETOOLONG;

	ret = key_file_write(path, kp->priv, 0600, overwrite);
	if (ret < 0)
		return ret;
	ret = key_file_write(pub_path, kp->pub, 0644, overwrite);
	/* Do not leave a private key behind whose public half was never written,
	 * unless the file existed before this call. */
	if (ret < 0 && !overwrite)
		unlink(path);
	return ret;
}

const char *ntm_key_id(const uint8_t key[NTM_KEY_LEN], char out[9])
{
	char b64[NTM_KEY_B64_LEN];

	ntm_key_to_base64(b64, key);
	memcpy(out, b64, 8);
	out[8] = '\0';
	return out;
}
