/*
 * HTTP/1.x message parsing for the DLNA Agent on top of http-parser 2.9.
 * Heads have a bounded size and field count. Bodies in every framing go to
 * callbacks. Blocking stream I/O reads into a buffer that keeps the bytes
 * of the next message on a persistent connection.
 */
#ifndef DAD_HTTP_H
#define DAD_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "http_rewrite.h"

/* Wire bytes of one head, start line to the empty line; longer heads are
 * rejected (431 for requests). */
#define DAD_HTTP_HEAD_MAX (16 * 1024)
/* Header fields of one head; more are rejected like an oversized head. */
#define DAD_HTTP_FIELDS_MAX 64
/* Read buffer of a stream: one recv(2) reads at most this many bytes. */
#define DAD_HTTP_READ_BUF (64 * 1024)

enum dad_http_result {
	DAD_HTTP_MORE,        /* all bytes consumed, the message goes on */
	DAD_HTTP_DONE,        /* head or message complete */
	DAD_HTTP_INVALID,     /* not HTTP/1.x, or a framing error */
	DAD_HTTP_TOO_LARGE,   /* head longer than DAD_HTTP_HEAD_MAX or too many fields */
	DAD_HTTP_SINK,        /* the body callback failed; see sink_error */
};

/* Body framing of a message (RFC 9112 section 6.3). */
enum dad_http_body {
	DAD_HTTP_BODY_NONE,      /* no body: HEAD response, 1xx, 204, 304, length 0 */
	DAD_HTTP_BODY_LENGTH,    /* Content-Length */
	DAD_HTTP_BODY_CHUNKED,   /* Transfer-Encoding: chunked */
	DAD_HTTP_BODY_EOF,       /* response read until the server closes */
};

/* Offset and length of a piece of dad_http_head.text. */
struct dad_http_span {
	uint16_t off;
	uint16_t len;
};

struct dad_http_field {
	struct dad_http_span name;
	struct dad_http_span value;
};

/*
 * A parsed head. The request target or the reason phrase, and every field
 * name and value, are copied back to back into text, which is never longer
 * than the wire head.
 */
struct dad_http_head {
	bool is_request;
	enum http_method method;   /* requests */
	unsigned status;           /* responses */
	unsigned short major;
	unsigned short minor;
	struct dad_http_span target;   /* request target, or reason phrase */
	struct dad_http_field fields[DAD_HTTP_FIELDS_MAX];
	size_t field_count;
	enum dad_http_body body;
	uint64_t content_length;   /* with DAD_HTTP_BODY_LENGTH */
	bool keep_alive;           /* the connection may carry another message */
	bool upgrade;              /* Upgrade or CONNECT: not relayed */
	size_t text_len;
	char text[DAD_HTTP_HEAD_MAX];
};

/* Receivers of a body. Each returns 0, or -errno to stop parsing with
 * DAD_HTTP_SINK. */
struct dad_http_body_ops {
	/* A piece of the body, chunked framing removed. */
	int (*data)(void *ctx, const char *data, size_t len);
	/* Optional: a chunk of size bytes starts; 0 is the last chunk. Chunk
	 * extensions are not passed on. */
	int (*chunk_start)(void *ctx, uint64_t size);
	/* Optional: a chunk ended; after the last chunk, its trailer fields
	 * were read (and dropped). */
	int (*chunk_end)(void *ctx);
};

struct dad_http_parser {
	http_parser hp;
	struct dad_http_head head;
	size_t head_bytes;          /* wire bytes consumed by the head so far */
	bool began;                 /* the first byte of a message arrived */
	bool head_done;
	bool message_done;
	bool no_body;               /* a response to HEAD */
	bool too_large;
	bool in_value;              /* the last field callback was a value */
	const struct dad_http_body_ops *body_ops;
	void *body_ctx;
	int sink_error;
};

/* Readies p for one message. no_body marks a response to a HEAD request. */
void dad_http_parser_init(struct dad_http_parser *p, enum http_parser_type type, bool no_body);
/* Sets the body receivers; NULL discards the body. */
void dad_http_parser_set_body(struct dad_http_parser *p, const struct dad_http_body_ops *ops,
			      void *ctx);

/*
 * Feeds head bytes. *consumed is how many of buf were used: the rest, and
 * the caller's later bytes, go to dad_http_parse_body, even for a message
 * without a body, because the parser keeps the last byte of the head.
 */
enum dad_http_result dad_http_parse_head(struct dad_http_parser *p, const char *buf, size_t len,
					 size_t *consumed);
/* Feeds body bytes; stops at the end of the message (DAD_HTTP_DONE). */
enum dad_http_result dad_http_parse_body(struct dad_http_parser *p, const char *buf, size_t len,
					 size_t *consumed);
/* Tells the parser the peer closed: completes a body read until EOF, and
 * returns DAD_HTTP_INVALID for a message cut short. */
enum dad_http_result dad_http_parse_eof(struct dad_http_parser *p);

/* Field i's name and value; *len gets the length, the text is not NUL-terminated. */
const char *dad_http_field_name(const struct dad_http_head *h, size_t i, size_t *len);
const char *dad_http_field_value(const struct dad_http_head *h, size_t i, size_t *len);
bool dad_http_field_is(const struct dad_http_head *h, size_t i, const char *name);
/* Index of the first field called name (case-insensitive), or -1. */
ssize_t dad_http_find(const struct dad_http_head *h, const char *name);
/* The target (requests) or reason phrase (responses). */
const char *dad_http_target(const struct dad_http_head *h, size_t *len);
/* The media type of Content-Type, lower-cased, without parameters, into out;
 * returns false when the field is missing or does not fit. */
bool dad_http_media_type(const struct dad_http_head *h, char *out, size_t out_size);

/* Appends the request line with a replacement target. */
int dad_http_put_request_line(struct http_rewrite_buf *out, const struct dad_http_head *h,
			      const char *target, size_t target_len);
/* Appends the status line. */
int dad_http_put_status_line(struct http_rewrite_buf *out, const struct dad_http_head *h);
/* Appends "name: value\r\n", or "name:\r\n" for an empty value. CR, LF and NUL in the value become spaces, which
 * also unfolds obsolete line folding (RFC 9112 section 5.2). */
int dad_http_put_field(struct http_rewrite_buf *out, const char *name, size_t name_len,
		       const char *value, size_t value_len);

/*
 * One end of a connection: a blocking socket, or, for tests of the
 * translation, a memory source and sink (fd -1). mem_piece > 0 splits the
 * memory source into reads of that many bytes.
 */
struct dad_http_stream {
	int fd;
	const char *mem_in;
	size_t mem_in_len;
	size_t mem_in_pos;
	size_t mem_piece;
	struct http_rewrite_buf *mem_out;
	size_t r;   /* next unparsed byte in buf */
	size_t w;   /* end of the bytes read */
	uint64_t bytes_in;
	uint64_t bytes_out;
	char buf[DAD_HTTP_READ_BUF];
};

void dad_http_stream_init_fd(struct dad_http_stream *s, int fd);
void dad_http_stream_init_mem(struct dad_http_stream *s, const char *in, size_t in_len,
			      size_t piece, struct http_rewrite_buf *out);
/* Drops buffered bytes, for a new connection on the same stream. */
void dad_http_stream_reset(struct dad_http_stream *s, int fd);
/* Sends every byte. Returns 0 or -errno (-ETIMEDOUT for the send timeout). */
int dad_http_send(struct dad_http_stream *s, const void *data, size_t len);
/* Sends the pieces as one write where the socket allows. Returns 0 or -errno. */
int dad_http_sendv(struct dad_http_stream *s, const struct iovec *iov, int count);

/*
 * Reads and parses a head from s. Returns 0, -ENODATA when the peer closed
 * before the first byte, -EPROTO for an invalid or truncated head,
 * -EMSGSIZE when it is too large, or -errno from recv(2) (-ETIMEDOUT after
 * the receive timeout).
 */
int dad_http_read_head(struct dad_http_stream *s, struct dad_http_parser *p);
/* Reads the rest of the message, handing the body to p's callback. Returns
 * 0, -EPROTO, the callback's error, or -errno from recv(2). */
int dad_http_read_body(struct dad_http_stream *s, struct dad_http_parser *p);

#endif
