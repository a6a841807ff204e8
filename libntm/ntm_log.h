/* Logging for every daemon: stderr in the foreground (-f), syslog otherwise. */
#ifndef NTM_LOG_H
#define NTM_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum ntm_log_level {
	NTM_LOG_ERR = 3,
	NTM_LOG_WARNING = 4,
	NTM_LOG_INFO = 6,
	NTM_LOG_DEBUG = 7,
};

/* Opens the log under ident; to_stderr selects stderr over syslog. */
void ntm_log_open(const char *ident, bool to_stderr, enum ntm_log_level max_level);
void ntm_log_set_level(enum ntm_log_level max_level);
bool ntm_log_enabled(enum ntm_log_level level);

void ntm_log(enum ntm_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) ntm_log(NTM_LOG_ERR, __VA_ARGS__)
#define log_warn(...) ntm_log(NTM_LOG_WARNING, __VA_ARGS__)
#define log_info(...) ntm_log(NTM_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                          \
	do {                                                    \
		if (ntm_log_enabled(NTM_LOG_DEBUG))             \
			ntm_log(NTM_LOG_DEBUG, __VA_ARGS__);    \
	} while (0)

/*
 * Copies at most max_in bytes of untrusted peer data into out (size out_size,
 * always NUL-terminated) with every byte outside printable ASCII shown as \xNN
 * and "..." appended when truncated. Returns out.
 */
char *ntm_log_sanitize(char *out, size_t out_size, const void *in, size_t max_in);

#endif
