/*
 * deadletter: records sent to dlq.topic (deadletter.h).
 */
#include "flagtap/deadletter.h"

#include <stdio.h>

#include "flagtap/common.h"
#include "flagtap/delivery.h"
#include "flagtap/pipeline_int.h"
#include "flagtap/produce.h"
#include "flagtap/sha256.h"
#include "flagtap/worker.h"

/* Record bytes a dead letter carries; larger records are cut. */
#define DLQ_VALUE_MAX 65536u

/*
 * Adds the message's headers, their values redacted (w->in.red), or
 * without values when the record is withheld: what a rule would have
 * found in the record is unknown, and a copy of it may sit in a header.
 */
static void add_redacted_headers(struct worker *w, rd_kafka_headers_t *h,
				 bool withheld)
{
	const struct ft_buf *v;
	size_t i;

	for (i = 0; i < w->msg.nheaders; i++) {
		v = &w->in.red.headers[i];
		if (!w->msg.headers[i].value || withheld)
			rd_kafka_header_add(h, w->msg.headers[i].name, -1, NULL,
					    0);
		else
			rd_kafka_header_add(h, w->msg.headers[i].name, -1,
					    v->data ? v->data : "",
					    (ssize_t)v->len);
	}
}

/*
 * Sends the message to dlq.topic: its key and headers and its record as
 * redacted (w->in.red; the record cut to DLQ_VALUE_MAX), or, withheld, an
 * empty value, no key and header names without values; the original's
 * size and SHA-256, and why it is there.  d is the caller's, already
 * tracked.
 */
int ft_deadletter_send(struct worker *w, const rd_kafka_message_t *rkm,
		       struct delivery *d, enum ft_dlq_reason reason,
		       const char *detail, const char *withheld)
{
	const struct ft_buf *rec = &w->in.red.rec;
	size_t len = rkm->payload ? rkm->len : 0;
	size_t vlen = withheld ? 0 : rec->len, cut;
	unsigned char digest[FT_SHA256_LEN];
	struct ft_sha256 sha;
	char hex[65], size[32];
	rd_kafka_resp_err_t err;
	rd_kafka_headers_t *h;

	cut = vlen > DLQ_VALUE_MAX ? DLQ_VALUE_MAX : vlen;
	h = rd_kafka_headers_new(16);
	add_redacted_headers(w, h, withheld != NULL);
	if (withheld) {
		w->msg.key = NULL;
		w->msg.key_len = 0;
	}
	ft_worker_source(w, rkm);
	ft_sha256_init(&sha);
	ft_sha256_update(&sha, len ? rkm->payload : "", len);
	ft_sha256_final(&sha, digest);
	ft_sha256_hex(digest, hex);
	snprintf(size, sizeof(size), "%zu", len);
	rd_kafka_header_add(h, "flagtap-error", -1, ft_dlq_reason_names[reason],
			    -1);
	rd_kafka_header_add(h, "flagtap-error-detail", -1, detail, -1);
	rd_kafka_header_add(h, "flagtap-source", -1, w->src.data,
			    (ssize_t)w->src.len);
	rd_kafka_header_add(h, "flagtap-size", -1, size, -1);
	rd_kafka_header_add(h, "flagtap-sha256", -1, hex, 64);
	if (withheld)
		rd_kafka_header_add(h, "flagtap-withheld", -1, withheld, -1);
	else if (w->in.red.redacted)
		rd_kafka_header_add(h, "flagtap-redacted", -1, "true", 4);
	if (cut < vlen)
		rd_kafka_header_add(h, "flagtap-truncated", -1, "true", 4);
	d->dlq = true;
	d->reason = (unsigned char)reason;
	err = ft_produce_send(w, FT_SINK_DLQ, withheld ? NULL : rec->data, cut,
			      h, d);
	return err ? ft_produce_failed(w, rkm, "dead letter", err) : FT_OK;
}

/*
 * Sends a record that is not evaluated in its format to dlq.topic.  A
 * malformed record is evaluated as text, its key and headers as always,
 * and goes redacted (withheld if a rule that redacts could not be
 * evaluated); a record too large to evaluate is withheld, with its key
 * and header values.
 */
int ft_deadletter_route(struct worker *w, const rd_kafka_message_t *rkm,
			struct ft_offsets *o, enum ft_dlq_reason reason,
			const char *detail)
{
	struct pipeline *p = w->p;
	const char *withheld = NULL;
	struct delivery *d;
	int rc;

	w->msg.format = FT_FORMAT_TEXT;
	w->msg.extract = NULL;
	w->msg.canon_json =
		ft_format_detect(w->msg.rec, w->msg.len) == FT_FORMAT_JSON;
	if (reason == FT_DLQ_TOO_LARGE) {
		w->msg.rec = NULL;
		withheld = "too large to evaluate";
	}
	if (ft_inspect_match(&w->in, w->mctx, p->rs, &w->msg,
			     p->keys_and_headers) < 0 ||
	    ft_inspect_redact(&w->in, &w->msg, p->salt, p->salt_len)) {
		ft_pipeline_fatal(p, "out of memory redacting %s/%d/%lld",
				  o->topic, (int)rkm->partition,
				  (long long)rkm->offset);
		return FT_EFATAL;
	}
	if (!withheld && ft_inspect_withhold(&w->in, p->rs))
		withheld = "a rule that redacts could not be evaluated";
	d = ft_delivery_new(w, rkm, o);
	if (!d)
		return FT_EFATAL;
	rc = ft_deadletter_send(w, rkm, d, reason, detail, withheld);
	if (rc)
		ft_delivery_abandon(d);
	return rc;
}
