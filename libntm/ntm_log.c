/* Logging to stderr (foreground) or syslog(3), with one level filter. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ntm_log.h"

/* Maximum length of a line written to stderr, timestamp and ident included. */
#define LOG_LINE_MAX 2048
#define LOG_IDENT_MAX 64

static char log_ident[LOG_IDENT_MAX] = "ntm";
static bool log_to_stderr = true;
static enum ntm_log_level log_max_level = NTM_LOG_INFO;

void ntm_log_open(const char *ident, bool to_stderr, enum ntm_log_level max_level)
{
	/* openlog() keeps the pointer, so the ident lives in static storage. */
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_to_stderr = to_stderr;
	log_max_level = max_level;
	if (!to_stderr)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void ntm_log_set_level(enum ntm_log_level max_level)
{
	log_max_level = max_level;
}

bool ntm_log_enabled(enum ntm_log_level level)
{
	return level <= log_max_level;
}

static const char *level_name(enum ntm_log_level level)
{
	switch (level) {
	case NTM_LOG_ERR:
		return "error";
	case NTM_LOG_WARNING:
		return "warning";
	case NTM_LOG_INFO:
		return "info";
	case NTM_LOG_DEBUG:
		return "debug";
	}
	return "unknown";
}

static int syslog_priority(enum ntm_log_level level)
{
	switch (level) {
	case NTM_LOG_ERR:
		return LOG_ERR;
	case NTM_LOG_WARNING:
		return LOG_WARNING;
	case NTM_LOG_INFO:
		return LOG_INFO;
	case NTM_LOG_DEBUG:
		return LOG_DEBUG;
	}
	return LOG_NOTICE;
}

/* Writes "2026-12-04T20:21:49.123Z " (UTC, milliseconds) into out. */
static size_t format_timestamp(char *out, size_t out_size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, out_size, "%Y-%m-%dT%H:%M:%S", &tm);
	int m = snprintf(out + n, out_size - n, ".%03ldZ ", ts.tv_nsec / 1000000);

	return m < 0 ? n : n + (size_t)m;
}

/* Builds the whole line first so that one write(2) keeps concurrent lines
 * from different processes apart. */
static void write_stderr(enum ntm_log_level level, const char *text)
{
	char line[LOG_LINE_MAX];
	size_t n = format_timestamp(line, sizeof(line));
	int m = snprintf(line + n, sizeof(line) - n, "%s[%ld]: %s: %s\n", log_ident,
			 (long)getpid(), level_name(level), text);

	if (m < 0)
		return;
	n += (size_t)m;
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
		memcpy(line + n - 4, "...\n", 4);
	}
	ssize_t written = write(STDERR_FILENO, line, n);
	(void)written;
}

void ntm_log(enum ntm_log_level level, const char *fmt, ...)
{
	char text[LOG_LINE_MAX];
	int saved_errno = errno;
	va_list ap;

	if (!ntm_log_enabled(level))
		return;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);

	if (log_to_stderr)
		write_stderr(level, text);
	else
		syslog(syslog_priority(level), "%s", text);
	errno = saved_errno;
}

static bool byte_is_plain(unsigned char c)
{
	/* The backslash is escaped too, so that "\x41" in the output always
	 * stands for one escaped byte. */
	return c >= 0x20 && c <= 0x7e && c != '\\';
}

/*
 * The input ends at max_in bytes or at its first NUL byte, whichever comes
 * first, so that a C string shorter than max_in is never read past its end.
 */
char *ntm_log_sanitize(char *out, size_t out_size, const void *in, size_t max_in)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *src = in;
	size_t in_len = strnlen(in, max_in);
	size_t need = 0;
	size_t pos = 0;

	if (out_size == 0)
		return out;
	for (size_t i = 0; i < in_len; i++)
		need += byte_is_plain(src[i]) ? 1 : 4;

	/* When everything does not fit, keep room for "..." and the NUL. */
	size_t limit = need < out_size ? out_size - 1 : (out_size > 4 ? out_size - 4 : 0);

	for (size_t i = 0; i < in_len; i++) {
		unsigned char c = src[i];
		size_t piece = byte_is_plain(c) ? 1 : 4;

		if (pos + piece > limit)
			break;
		if (piece == 1) {
			out[pos++] = (char)c;
			continue;
		}
		out[pos++] = '\\';
		out[pos++] = 'x';
		out[pos++] = hex[c >> 4];
		out[pos++] = hex[c & 0xf];
	}
	if (need >= out_size) {
		for (size_t i = 0; i < 3 && pos + 1 < out_size; i++)
			out[pos++] = '.';
	}
	out[pos] = '\0';
	return out;
}
