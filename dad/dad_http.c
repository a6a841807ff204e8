/*
 * http-parser 2.9 driven one message at a time. The parser pauses at the
 * end of the head and at the end of the message, so the caller sees the
 * message boundaries and the bytes of a next message stay in the stream's
 * buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "dad_http.h"

/* iovec pieces dad_http_sendv accepts in one call. */
#define SENDV_MAX 8

static struct dad_http_parser *parser_of(http_parser *hp)
{
	return hp->data;
}

/* Appends a piece of the current item to head->text, where the item's
 * earlier pieces end, so an item split across reads stays contiguous. */
static int append_piece(struct dad_http_parser *p, struct dad_http_span *span, const char *at,
			size_t len)
{
	struct dad_http_head *h = &p->head;

	if (len > sizeof(h->text) - h->text_len) {
		p->too_large = true;
		return -1;
	}
	if (span->len == 0)
		span->off = (uint16_t)h->text_len;
	else if ((size_t)span->off + span->len != h->text_len)
		return -1;
	memcpy(h->text + h->text_len, at, len);
	h->text_len += len;
	span->len = (uint16_t)(span->len + len);
	return 0;
}

static int on_message_begin(http_parser *hp)
{
	parser_of(hp)->began = true;
	return 0;
}

static int on_target(http_parser *hp, const char *at, size_t len)
{
	struct dad_http_parser *p = parser_of(hp);

	return append_piece(p, &p->head.target, at, len);
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
	struct dad_http_parser *p = parser_of(hp);
	struct dad_http_head *h = &p->head;

	/* Fields after the head are chunked trailers: dropped. */
	if (p->head_done)
		return 0;
	if (h->field_count == 0 || p->in_value) {
		if (h->field_count == DAD_HTTP_FIELDS_MAX) {
			p->too_large = true;
			return -1;
		}
		h->fields[h->field_count++] = (struct dad_http_field){ { 0, 0 }, { 0, 0 } };
		p->in_value = false;
	}
	return append_piece(p, &h->fields[h->field_count - 1].name, at, len);
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
	struct dad_http_parser *p = parser_of(hp);
	struct dad_http_head *h = &p->head;

	if (p->head_done)
		return 0;
	if (h->field_count == 0)
		return -1;
	p->in_value = true;
	return append_piece(p, &h->fields[h->field_count - 1].value, at, len);
}

/* RFC 9112 section 6.3: which messages have a body and how it ends. */
static enum dad_http_body classify_body(const struct dad_http_parser *p)
{
	const http_parser *hp = &p->hp;
	const struct dad_http_head *h = &p->head;

	if (!h->is_request && (p->no_body || h->status / 100 == 1 || h->status == 204 ||
			       h->status == 304))
		return DAD_HTTP_BODY_NONE;
	if (hp->flags & F_CHUNKED)
		return DAD_HTTP_BODY_CHUNKED;
	/* http-parser rejects a request with another transfer coding; a
	 * response with one is read until EOF. */
	if (hp->uses_transfer_encoding)
		return DAD_HTTP_BODY_EOF;
	if (hp->flags & F_CONTENTLENGTH)
		return hp->content_length == 0 ? DAD_HTTP_BODY_NONE : DAD_HTTP_BODY_LENGTH;
	return h->is_request ? DAD_HTTP_BODY_NONE : DAD_HTTP_BODY_EOF;
}

static int on_headers_complete(http_parser *hp)
{
	struct dad_http_parser *p = parser_of(hp);
	struct dad_http_head *h = &p->head;

	h->method = (enum http_method)hp->method;
	h->status = hp->status_code;
	h->major = hp->http_major;
	h->minor = hp->http_minor;
	h->keep_alive = http_should_keep_alive(hp) != 0;
	h->upgrade = hp->upgrade || (h->is_request && h->method == HTTP_CONNECT);
	h->body = classify_body(p);
	if (h->body == DAD_HTTP_BODY_LENGTH)
		h->content_length = hp->content_length;
	p->head_done = true;
	http_parser_pause(hp, 1);
	/* Returning 1 makes http-parser expect no body. */
	return !h->is_request && h->body == DAD_HTTP_BODY_NONE ? 1 : 0;
}

/* Keeps a receiver's error for DAD_HTTP_SINK; http-parser stops on -1. */
static int sink_result(struct dad_http_parser *p, int ret)
{
	if (ret < 0) {
		p->sink_error = ret;
		return -1;
	}
	return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
	struct dad_http_parser *p = parser_of(hp);

	if (!p->body_ops || !p->body_ops->data)
		return 0;
	return sink_result(p, p->body_ops->data(p->body_ctx, at, len));
}

static int on_chunk_header(http_parser *hp)
{
	struct dad_http_parser *p = parser_of(hp);

	if (!p->body_ops || !p->body_ops->chunk_start)
		return 0;
	/* http-parser keeps the size of the chunk in content_length here. */
	return sink_result(p, p->body_ops->chunk_start(p->body_ctx, hp->content_length));
}

static int on_chunk_complete(http_parser *hp)
{
	struct dad_http_parser *p = parser_of(hp);

	if (!p->body_ops || !p->body_ops->chunk_end)
		return 0;
	return sink_result(p, p->body_ops->chunk_end(p->body_ctx));
}

static int on_message_complete(http_parser *hp)
{
	struct dad_http_parser *p = parser_of(hp);

	p->message_done = true;
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_target,
	.on_status = on_target,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
	.on_chunk_header = on_chunk_header,
	.on_chunk_complete = on_chunk_complete,
};

void dad_http_parser_init(struct dad_http_parser *p, enum http_parser_type type, bool no_body)
{
	struct dad_http_head *h = &p->head;

	http_parser_init(&p->hp, type);
	p->hp.data = p;
	p->head_bytes = 0;
	p->began = false;
	p->head_done = false;
	p->message_done = false;
	p->no_body = no_body;
	p->too_large = false;
	p->in_value = false;
	p->body_ops = NULL;
	p->body_ctx = NULL;
	p->sink_error = 0;

	h->is_request = type == HTTP_REQUEST;
	h->method = HTTP_GET;
	h->status = 0;
	h->major = 0;
	h->minor = 0;
	h->target = (struct dad_http_span){ 0, 0 };
	h->field_count = 0;
	h->body = DAD_HTTP_BODY_NONE;
	h->content_length = 0;
	h->keep_alive = false;
	h->upgrade = false;
	h->text_len = 0;
}

void dad_http_parser_set_body(struct dad_http_parser *p, const struct dad_http_body_ops *ops,
			      void *ctx)
{
	p->body_ops = ops;
	p->body_ctx = ctx;
}

enum dad_http_result dad_http_parse_head(struct dad_http_parser *p, const char *buf, size_t len,
					 size_t *consumed)
{
	size_t room = DAD_HTTP_HEAD_MAX - p->head_bytes;
	size_t feed = len < room ? len : room;
	enum http_errno err;
	size_t n;

	*consumed = 0;
	if (p->head_done)
		return DAD_HTTP_DONE;
	/* A zero length means EOF to http-parser. */
	if (feed == 0)
		return room == 0 ? DAD_HTTP_TOO_LARGE : DAD_HTTP_MORE;

	n = http_parser_execute(&p->hp, &parser_settings, buf, feed);
	p->head_bytes += n;
	*consumed = n;
	err = HTTP_PARSER_ERRNO(&p->hp);
	if (p->head_done) {
		if (err == HPE_PAUSED)
			http_parser_pause(&p->hp, 0);
		return err == HPE_PAUSED || err == HPE_OK ? DAD_HTTP_DONE : DAD_HTTP_INVALID;
	}
	if (err != HPE_OK)
		return p->too_large ? DAD_HTTP_TOO_LARGE : DAD_HTTP_INVALID;
	return p->head_bytes >= DAD_HTTP_HEAD_MAX ? DAD_HTTP_TOO_LARGE : DAD_HTTP_MORE;
}

enum dad_http_result dad_http_parse_body(struct dad_http_parser *p, const char *buf, size_t len,
					 size_t *consumed)
{
	enum http_errno err;

	*consumed = 0;
	if (!p->head_done)
		return DAD_HTTP_INVALID;
	if (p->message_done)
		return DAD_HTTP_DONE;
	if (len == 0)
		return DAD_HTTP_MORE;

	*consumed = http_parser_execute(&p->hp, &parser_settings, buf, len);
	err = HTTP_PARSER_ERRNO(&p->hp);
	if (p->message_done) {
		if (err == HPE_PAUSED)
			http_parser_pause(&p->hp, 0);
		return DAD_HTTP_DONE;
	}
	if (err == HPE_OK)
		return DAD_HTTP_MORE;
	if (err == HPE_CB_body || err == HPE_CB_chunk_header || err == HPE_CB_chunk_complete)
		return p->sink_error < 0 ? DAD_HTTP_SINK : DAD_HTTP_INVALID;
	return DAD_HTTP_INVALID;
}

enum dad_http_result dad_http_parse_eof(struct dad_http_parser *p)
{
	if (!p->head_done)
		return DAD_HTTP_INVALID;
	if (!p->message_done)
		http_parser_execute(&p->hp, &parser_settings, NULL, 0);
	return p->message_done ? DAD_HTTP_DONE : DAD_HTTP_INVALID;
}

const char *dad_http_field_name(const struct dad_http_head *h, size_t i, size_t *len)
{
	*len = h->fields[i].name.len;
	return h->text + h->fields[i].name.off;
}

const char *dad_http_field_value(const struct dad_http_head *h, size_t i, size_t *len)
{
	*len = h->fields[i].value.len;
	return h->text + h->fields[i].value.off;
}

bool dad_http_field_is(const struct dad_http_head *h, size_t i, const char *name)
{
	size_t len;
	const char *text = dad_http_field_name(h, i, &len);

	return len == strlen(name) && strncasecmp(text, name, len) == 0;
}

ssize_t dad_http_find(const struct dad_http_head *h, const char *name)
{
	for (size_t i = 0; i < h->field_count; i++) {
		if (dad_http_field_is(h, i, name))
			return (ssize_t)i;
	}
	return -1;
}

const char *dad_http_target(const struct dad_http_head *h, size_t *len)
{
	*len = h->target.len;
	return h->text + h->target.off;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

bool dad_http_media_type(const struct dad_http_head *h, char *out, size_t out_size)
{
	ssize_t i = dad_http_find(h, "Content-Type");
	size_t len, start = 0, end;
	const char *value;

	if (i < 0)
		return false;
	value = dad_http_field_value(h, (size_t)i, &len);
	end = len;
	for (size_t k = 0; k < len; k++) {
		if (value[k] == ';') {
			end = k;
			break;
		}
	}
	while (start < end && is_space(value[start]))
		start++;
	while (end > start && is_space(value[end - 1]))
		end--;
	if (end - start >= out_size)
		return false;
	for (size_t k = start; k < end; k++) {
		char c = value[k];

		out[k - start] = c >= 'A' && c <= 'Z' ? (char)(c + 'a' - 'A') : c;
	}
	out[end - start] = '\0';
	return true;
}

static int put_version(struct http_rewrite_buf *out, const struct dad_http_head *h,
		       const char *before, const char *after)
{
	char text[48];
	int n = snprintf(text, sizeof(text), "%sHTTP/%u.%u%s", before, h->major, h->minor, after);

	if (n < 0 || (size_t)n >= sizeof(text))
		return -EINVAL;
	return http_rewrite_buf_append(out, text, (size_t)n);
}

int dad_http_put_request_line(struct http_rewrite_buf *out, const struct dad_http_head *h,
			      const char *target, size_t target_len)
{
	int ret = http_rewrite_buf_puts(out, http_method_str(h->method));

	if (ret == 0)
		ret = http_rewrite_buf_append(out, " ", 1);
	if (ret == 0)
		ret = http_rewrite_buf_append(out, target, target_len);
	if (ret == 0)
		ret = put_version(out, h, " ", "\r\n");
	return ret;
}

int dad_http_put_status_line(struct http_rewrite_buf *out, const struct dad_http_head *h)
{
	char status[16];
	size_t reason_len;
	const char *reason = dad_http_target(h, &reason_len);
	int ret = put_version(out, h, "", "");

	snprintf(status, sizeof(status), " %03u ", h->status % 1000);
	if (ret == 0)
		ret = http_rewrite_buf_puts(out, status);
	if (ret == 0)
		ret = http_rewrite_buf_append(out, reason, reason_len);
	if (ret == 0)
		ret = http_rewrite_buf_append(out, "\r\n", 2);
	return ret;
}

static bool breaks_line(char c)
{
	return c == '\r' || c == '\n' || c == '\0';
}

int dad_http_put_field(struct http_rewrite_buf *out, const char *name, size_t name_len,
		       const char *value, size_t value_len)
{
	size_t run = 0;
	int ret = http_rewrite_buf_append(out, name, name_len);

	/* "EXT:" of SSDP-style responses stays without a trailing space. */
	if (ret == 0)
		ret = http_rewrite_buf_append(out, ": ", value_len > 0 ? 2 : 1);
	for (size_t i = 0; ret == 0 && i < value_len; i++) {
		if (!breaks_line(value[i]))
			continue;
		ret = http_rewrite_buf_append(out, value + run, i - run);
		if (ret == 0)
			ret = http_rewrite_buf_append(out, " ", 1);
		run = i + 1;
	}
	if (ret == 0)
		ret = http_rewrite_buf_append(out, value + run, value_len - run);
	if (ret == 0)
		ret = http_rewrite_buf_append(out, "\r\n", 2);
	return ret;
}

void dad_http_stream_init_fd(struct dad_http_stream *s, int fd)
{
	s->fd = fd;
	s->mem_in = NULL;
	s->mem_in_len = 0;
	s->mem_in_pos = 0;
	s->mem_piece = 0;
	s->mem_out = NULL;
	s->r = 0;
	s->w = 0;
	s->bytes_in = 0;
	s->bytes_out = 0;
}

void dad_http_stream_init_mem(struct dad_http_stream *s, const char *in, size_t in_len,
			      size_t piece, struct http_rewrite_buf *out)
{
	dad_http_stream_init_fd(s, -1);
	s->mem_in = in;
	s->mem_in_len = in_len;
	s->mem_piece = piece;
	s->mem_out = out;
}

void dad_http_stream_reset(struct dad_http_stream *s, int fd)
{
	s->fd = fd;
	s->r = 0;
	s->w = 0;
}

static ssize_t mem_recv(struct dad_http_stream *s, size_t room)
{
	size_t n = s->mem_in_len - s->mem_in_pos;

	if (n > room)
		n = room;
	if (s->mem_piece > 0 && n > s->mem_piece)
		n = s->mem_piece;
	if (n > 0)
		memcpy(s->buf + s->w, s->mem_in + s->mem_in_pos, n);
	s->mem_in_pos += n;
	return (ssize_t)n;
}

static int errno_of_io(void)
{
	/* SO_RCVTIMEO and SO_SNDTIMEO expire with EAGAIN. */
	return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
}

/* Reads more bytes after the unparsed ones. Returns the count, 0 at EOF,
 * or -errno. */
static ssize_t stream_recv(struct dad_http_stream *s)
{
	ssize_t n;

	if (s->r == s->w) {
		s->r = 0;
		s->w = 0;
	} else if (s->w == sizeof(s->buf)) {
		memmove(s->buf, s->buf + s->r, s->w - s->r);
		s->w -= s->r;
		s->r = 0;
	}
	if (s->fd < 0) {
		n = mem_recv(s, sizeof(s->buf) - s->w);
	} else {
		do
			n = recv(s->fd, s->buf + s->w, sizeof(s->buf) - s->w, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return errno_of_io();
	}
	s->w += (size_t)n;
	s->bytes_in += (uint64_t)n;
	return n;
}

int dad_http_send(struct dad_http_stream *s, const void *data, size_t len)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };

	return dad_http_sendv(s, &iov, 1);
}

static int mem_sendv(struct dad_http_stream *s, const struct iovec *iov, int count)
{
	for (int i = 0; i < count; i++) {
		int ret = http_rewrite_buf_append(s->mem_out, iov[i].iov_base, iov[i].iov_len);

		if (ret < 0)
			return ret;
		s->bytes_out += iov[i].iov_len;
	}
	return 0;
}

int dad_http_sendv(struct dad_http_stream *s, const struct iovec *iov, int count)
{
	struct iovec left[SENDV_MAX];
	struct msghdr msg = { .msg_iov = left };
	size_t first = 0;

	if (count < 0 || count > SENDV_MAX)
		return -EINVAL;
	if (s->fd < 0)
		return mem_sendv(s, iov, count);
	memcpy(left, iov, sizeof(*iov) * (size_t)count);
	while (first < (size_t)count) {
		ssize_t n;

		if (left[first].iov_len == 0) {
			first++;
			continue;
		}
		msg.msg_iov = left + first;
		msg.msg_iovlen = (size_t)count - first;
		n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno_of_io();
		s->bytes_out += (uint64_t)n;
		/* Skip what was sent: whole pieces, then part of one. */
		while (n > 0 && first < (size_t)count) {
			size_t take = (size_t)n < left[first].iov_len ? (size_t)n : left[first].iov_len;

			left[first].iov_base = (char *)left[first].iov_base + take;
			left[first].iov_len -= take;
			n -= (ssize_t)take;
			if (left[first].iov_len == 0)
				first++;
		}
	}
	return 0;
}

int dad_http_read_head(struct dad_http_stream *s, struct dad_http_parser *p)
{
	for (;;) {
		enum dad_http_result res;
		size_t used;

		if (s->r == s->w) {
			ssize_t n = stream_recv(s);

			if (n < 0)
				return (int)n;
			if (n == 0)
				return p->began ? -EPROTO : -ENODATA;
		}
		res = dad_http_parse_head(p, s->buf + s->r, s->w - s->r, &used);
		s->r += used;
		switch (res) {
		case DAD_HTTP_DONE:
			return 0;
		case DAD_HTTP_MORE:
			continue;
		case DAD_HTTP_TOO_LARGE:
			return -EMSGSIZE;
		default:
			return -EPROTO;
		}
	}
}

int dad_http_read_body(struct dad_http_stream *s, struct dad_http_parser *p)
{
	while (!p->message_done) {
		enum dad_http_result res;
		size_t used;

		if (s->r == s->w) {
			ssize_t n = stream_recv(s);

			if (n < 0)
				return (int)n;
			if (n == 0)
				return dad_http_parse_eof(p) == DAD_HTTP_DONE ? 0 : -EPROTO;
		}
		res = dad_http_parse_body(p, s->buf + s->r, s->w - s->r, &used);
		s->r += used;
		if (res == DAD_HTTP_SINK)
			return p->sink_error;
		if (res == DAD_HTTP_INVALID)
			return -EPROTO;
	}
	return 0;
}
