/* Unit tests for key pairs, base64 keys and key files (ntm_key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ntm_key.h"

/* A temporary directory per test, removed with everything in it. */
struct keydir {
	char dir[64];
	char key[PATH_MAX];
	char pub[PATH_MAX];
};

static int keydir_setup(void **state)
{
	struct keydir *kd = calloc(1, sizeof(*kd));

	if (kd == NULL)
		return -1;
	snprintf(kd->dir, sizeof(kd->dir), "/tmp/ntm-test-key-XXXXXX");
	if (mkdtemp(kd->dir) == NULL) {
		free(kd);
		return -1;
	}
	snprintf(kd->key, sizeof(kd->key), "%s/node.key", kd->dir);
	snprintf(kd->pub, sizeof(kd->pub), "%s/node.key.pub", kd->dir);
	*state = kd;
	return 0;
}

static int keydir_teardown(void **state)
{
	struct keydir *kd = *state;
	struct dirent *de;
	DIR *d = opendir(kd->dir);
	char path[PATH_MAX];

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", kd->dir, de->d_name);
		if (unlink(path) < 0)
			rmdir(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(kd->dir);
	free(kd);
	return 0;
}

static void file_write(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void file_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void key_base64_roundtrip(void **state)
{
	struct ntm_keypair kp;
	char b64[NTM_KEY_B64_LEN];
	uint8_t back[NTM_KEY_LEN];

	ntm_keypair_generate(&kp);
	assert_int_equal(ntm_key_to_base64(b64, kp.pub), 0);
	assert_int_equal(strlen(b64), NTM_KEY_B64_LEN - 1);
	assert_int_equal(b64[43], '=');
	assert_int_equal(ntm_key_from_base64(back, b64), 0);
	assert_memory_equal(back, kp.pub, NTM_KEY_LEN);
}

static void key_base64_white_space(void **state)
{
	uint8_t key[NTM_KEY_LEN], back[NTM_KEY_LEN];
	char b64[NTM_KEY_B64_LEN], text[80];

	randombytes_buf(key, sizeof(key));
	ntm_key_to_base64(b64, key);
	snprintf(text, sizeof(text), " \t%s\r\n\n", b64);
	assert_int_equal(ntm_key_from_base64(back, text), 0);
	assert_memory_equal(back, key, NTM_KEY_LEN);
}

static void key_base64_invalid(void **state)
{
	uint8_t key[NTM_KEY_LEN], bytes[33] = { 0 };
	char valid[NTM_KEY_B64_LEN], text[128];

	memset(key, 0xa5, sizeof(key));
	ntm_key_to_base64(valid, key);

	assert_int_equal(ntm_key_from_base64(key, ""), -EINVAL);
	assert_int_equal(ntm_key_from_base64(key, "   \n"), -EINVAL);
	assert_int_equal(ntm_key_from_base64(key, NULL), -EINVAL);

	/* One character short, one too many, and the padding missing. */
	snprintf(text, sizeof(text), "%.42s=", valid);
	assert_int_equal(ntm_key_from_base64(key, text), -EINVAL);
	snprintf(text, sizeof(text), "%sA", valid);
	assert_int_equal(ntm_key_from_base64(key, text), -EINVAL);
	snprintf(text, sizeof(text), "%.43s", valid);
	assert_int_equal(ntm_key_from_base64(key, text), -EINVAL);

	/* A character outside the alphabet, the URL-safe alphabet, inner space. */
	snprintf(text, sizeof(text), "*%s", valid + 1);
	assert_int_equal(ntm_key_from_base64(key, text), -EINVAL);
	snprintf(text, sizeof(text), "-_%s", valid + 2);
	assert_int_equal(ntm_key_from_base64(key, text), -EINVAL);
	snprintf(text, sizeof(text), "%.20s %s", valid, valid + 21);
	assert_int_equal(ntm_key_from_base64(key, text), -EINVAL);

	/* base64 of 31 and 33 bytes. */
	sodium_bin2base64(text, sizeof(text), bytes, 31, sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(ntm_key_from_base64(key, text), -EINVAL);
	sodium_bin2base64(text, sizeof(text), bytes, 33, sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(ntm_key_from_base64(key, text), -EINVAL);

	/* Padding bits that are not zero: "AAA...AB=" is not canonical. */
	snprintf(text, sizeof(text), "%.42sB=", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(ntm_key_from_base64(key, text), -EINVAL);

	/* Two keys on two lines. */
	snprintf(text, sizeof(text), "%s\n%s\n", valid, valid);
	assert_int_equal(ntm_key_from_base64(key, text), -EINVAL);
}

static void key_from_private(void **state)
{
	struct ntm_keypair kp, derived;

	ntm_keypair_generate(&kp);
	assert_int_equal(ntm_keypair_from_private(&derived, kp.priv), 0);
	assert_memory_equal(derived.pub, kp.pub, NTM_KEY_LEN);
	assert_memory_equal(derived.priv, kp.priv, NTM_KEY_LEN);

	/* The private key may come from the pair itself. */
	assert_int_equal(ntm_keypair_from_private(&derived, derived.priv), 0);
	assert_memory_equal(derived.pub, kp.pub, NTM_KEY_LEN);
}

static void key_wipe(void **state)
{
	static const uint8_t zero[NTM_KEY_LEN];
	struct ntm_keypair kp;

	ntm_keypair_generate(&kp);
	ntm_keypair_wipe(&kp);
	assert_memory_equal(kp.priv, zero, NTM_KEY_LEN);
}

static void key_id_prefix(void **state)
{
	struct ntm_keypair kp;
	char b64[NTM_KEY_B64_LEN], id[9];

	ntm_keypair_generate(&kp);
	ntm_key_to_base64(b64, kp.pub);
	memset(id, 'x', sizeof(id));
	assert_ptr_equal(ntm_key_id(kp.pub, id), id);
	assert_int_equal(strlen(id), 8);
	assert_memory_equal(id, b64, 8);
}

static void key_save_load(void **state)
{
	struct keydir *kd = *state;
	struct ntm_keypair kp, loaded;
	char b64[NTM_KEY_B64_LEN], line[NTM_KEY_B64_LEN + 1], buf[128];
	char err[256] = "";

	ntm_keypair_generate(&kp);
	assert_int_equal(ntm_key_save(&kp, kd->key, 0), 0);

	assert_int_equal(file_mode(kd->key), 0600);
	ntm_key_to_base64(b64, kp.priv);
	snprintf(line, sizeof(line), "%s\n", b64);
	file_read(kd->key, buf, sizeof(buf));
	assert_string_equal(buf, line);

	assert_int_equal(file_mode(kd->pub), 0644);
	ntm_key_to_base64(b64, kp.pub);
	snprintf(line, sizeof(line), "%s\n", b64);
	file_read(kd->pub, buf, sizeof(buf));
	assert_string_equal(buf, line);

	assert_int_equal(ntm_key_load(&loaded, kd->key, err, sizeof(err)), 0);
	assert_memory_equal(loaded.priv, kp.priv, NTM_KEY_LEN);
	assert_memory_equal(loaded.pub, kp.pub, NTM_KEY_LEN);
}

static void key_save_exists(void **state)
{
	struct keydir *kd = *state;
	struct ntm_keypair first, second, loaded;
	char err[256] = "";

	ntm_keypair_generate(&first);
	ntm_keypair_generate(&second);
	assert_int_equal(ntm_key_save(&first, kd->key, 0), 0);
	assert_int_equal(ntm_key_save(&second, kd->key, 0), -EEXIST);
	assert_int_equal(ntm_key_load(&loaded, kd->key, err, sizeof(err)), 0);
	assert_memory_equal(loaded.priv, first.priv, NTM_KEY_LEN);

	/* Overwriting also restores mode 0600 on a file that had lost it. */
	assert_int_equal(chmod(kd->key, 0644), 0);
	assert_int_equal(ntm_key_save(&second, kd->key, 1), 0);
	assert_int_equal(file_mode(kd->key), 0600);
	assert_int_equal(ntm_key_load(&loaded, kd->key, err, sizeof(err)), 0);
	assert_memory_equal(loaded.priv, second.priv, NTM_KEY_LEN);
}

static void key_save_pub_exists(void **state)
{
	struct keydir *kd = *state;
	struct ntm_keypair kp;

	file_write(kd->pub, "old\n", 0644);
	ntm_keypair_generate(&kp);
	assert_int_equal(ntm_key_save(&kp, kd->key, 0), -EEXIST);
	/* The private key file is not left behind without its public half. */
	assert_int_equal(access(kd->key, F_OK), -1);
}

static void key_save_bad_dir(void **state)
{
	struct ntm_keypair kp;

	ntm_keypair_generate(&kp);
	assert_int_equal(ntm_key_save(&kp, "/nonexistent-ntm-dir/node.key", 0), -ENOENT);
}

static void key_load_mode(void **state)
{
	static const mode_t bad_modes[] = { 0640, 0604, 0660, 0610, 0601, 0644, 0602 };
	struct keydir *kd = *state;
	struct ntm_keypair kp, loaded;
	char err[512], fix[PATH_MAX + 16];

	ntm_keypair_generate(&kp);
	assert_int_equal(ntm_key_save(&kp, kd->key, 0), 0);
	snprintf(fix, sizeof(fix), "chmod 600 %s", kd->key);

	for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		assert_int_equal(chmod(kd->key, bad_modes[i]), 0);
		err[0] = '\0';
		assert_int_equal(ntm_key_load(&loaded, kd->key, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, fix));
	}
	assert_int_equal(chmod(kd->key, 0400), 0);
	assert_int_equal(ntm_key_load(&loaded, kd->key, err, sizeof(err)), 0);
}

static void key_load_missing(void **state)
{
	struct keydir *kd = *state;
	struct ntm_keypair kp;
	char err[512] = "";

	assert_int_equal(ntm_key_load(&kp, kd->key, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, kd->key));
}

static void key_load_directory(void **state)
{
	struct keydir *kd = *state;
	struct ntm_keypair kp;
	char err[512] = "";

	assert_int_equal(mkdir(kd->key, 0700), 0);
	assert_int_equal(ntm_key_load(&kp, kd->key, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, kd->key));
}

static void key_load_bad_content(void **state)
{
	struct keydir *kd = *state;
	struct ntm_keypair kp;
	char valid[NTM_KEY_B64_LEN], text[600], err[512];
	uint8_t priv[NTM_KEY_LEN];
	const char *cases[5];

	randombytes_buf(priv, sizeof(priv));
	ntm_key_to_base64(valid, priv);
	cases[0] = "";
	cases[1] = "hello\n";
	cases[2] = "AAAA\n";
	snprintf(text, sizeof(text), "%s\n%s\n", valid, valid);
	cases[3] = strdup(text);
	memset(text, ' ', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text + 10, valid, strlen(valid));
	cases[4] = strdup(text);
	assert_non_null(cases[3]);
	assert_non_null(cases[4]);

	for (size_t i = 0; i < 5; i++) {
		file_write(kd->key, cases[i], 0600);
		err[0] = '\0';
		assert_int_equal(ntm_key_load(&kp, kd->key, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, kd->key));
	}
	free((char *)cases[3]);
	free((char *)cases[4]);
}

static void key_load_white_space(void **state)
{
	struct keydir *kd = *state;
	struct ntm_keypair kp, expected;
	char valid[NTM_KEY_B64_LEN], text[128], err[512] = "";

	ntm_keypair_generate(&expected);
	ntm_key_to_base64(valid, expected.priv);
	snprintf(text, sizeof(text), "\n  %s  \r\n", valid);
	file_write(kd->key, text, 0600);
	assert_int_equal(ntm_key_load(&kp, kd->key, err, sizeof(err)), 0);
	assert_memory_equal(kp.pub, expected.pub, NTM_KEY_LEN);
}

#define KEYDIR_TEST(fn) cmocka_unit_test_setup_teardown(fn, keydir_setup, keydir_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_base64_roundtrip),
		cmocka_unit_test(key_base64_white_space),
		cmocka_unit_test(key_base64_invalid),
		cmocka_unit_test(key_from_private),
		cmocka_unit_test(key_wipe),
		cmocka_unit_test(key_id_prefix),
		KEYDIR_TEST(key_save_load),
		KEYDIR_TEST(key_save_exists),
		KEYDIR_TEST(key_save_pub_exists),
		KEYDIR_TEST(key_save_bad_dir),
		KEYDIR_TEST(key_load_mode),
		KEYDIR_TEST(key_load_missing),
		KEYDIR_TEST(key_load_directory),
		KEYDIR_TEST(key_load_bad_content),
		KEYDIR_TEST(key_load_white_space),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
