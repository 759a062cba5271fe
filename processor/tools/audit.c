/*
 * audit: output or dead-letter topic -> current redacting rules -> a JSON
 * line for each message that carries in clear what they would redact.
 */
#include "flagtap/audit.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "flagtap/cli.h"
#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "flagtap/envelope.h"
#include "flagtap/json.h"
#include "flagtap/log.h"
#include "flagtap/match.h"
#include "flagtap/redact.h"
#include "flagtap/rulescmd.h"
#include "flagtap/topicread.h"

/* The redacted copy is only compared, never shown: any key will do. */
static const char COMPARE_KEY[] = "flagtap-audit";

struct ft_audit {
	const struct ft_ruleset *rs;
	struct ft_match_ctx *ctx;
	struct ft_match_result res;
	struct ft_buf env;   /* the decoded envelope */
	struct ft_buf text;  /* a subject taken out of the envelope */
	struct ft_buf b64;   /* its base64 text */
	struct ft_buf red;   /* a subject's redacted copy */
	struct ft_buf items; /* the "found" array being built */
	size_t nfound;
};

struct ft_audit *ft_audit_new(const struct ft_ruleset *rs)
{
	struct ft_audit *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->rs = rs;
	ft_match_result_init(&a->res);
	ft_buf_init(&a->env);
	ft_buf_init(&a->text);
	ft_buf_init(&a->b64);
	ft_buf_init(&a->red);
	ft_buf_init(&a->items);
	a->ctx = ft_match_ctx_new(rs);
	if (!a->ctx) {
		ft_audit_free(a);
		return NULL;
	}
	return a;
}

void ft_audit_free(struct ft_audit *a)
{
	if (!a)
		return;
	ft_match_ctx_free(a->ctx);
	ft_match_result_release(&a->res);
	ft_buf_release(&a->env);
	ft_buf_release(&a->text);
	ft_buf_release(&a->b64);
	ft_buf_release(&a->red);
	ft_buf_release(&a->items);
	free(a);
}

/* Appends "name":[ids of the redacting hits with or without an error]. */
static void add_ids(struct ft_audit *a, const char *name, bool errors)
{
	const struct ft_match_result *res = &a->res;
	bool first = true;
	size_t i;

	ft_buf_addf(&a->items, ",\"%s\":[", name);
	for (i = 0; i < res->n; i++) {
		const struct ft_rule *r = &a->rs->rules[res->hits[i].rule];

		if (!r->redact ||
		    (res->hits[i].error != FT_MERR_NONE) != errors)
			continue;
		if (!first)
			ft_buf_addc(&a->items, ',');
		ft_json_quote(&a->items, r->id, strlen(r->id));
		first = false;
	}
	ft_buf_addc(&a->items, ']');
}

/* Would redacting the hits change [data, data+len)? */
static int changes(struct ft_audit *a, const char *data, size_t len,
		   enum ft_format format)
{
	bool json;

	if (!a->res.nredact)
		return 0;
	if (format == FT_FORMAT_AUTO)
		format = ft_format_detect(data, len);
	json = format == FT_FORMAT_JSON;
	if (ft_redact_apply(data, len, json, a->res.redact, a->res.nredact,
			    COMPARE_KEY, sizeof(COMPARE_KEY) - 1, &a->red,
			    NULL) ||
	    !ft_buf_ok(&a->red))
		return FT_ENOMEM;
	return a->red.len != len || memcmp(a->red.data, data, len);
}

/*
 * Runs the rules over one subject; where something is found, adds its
 * item (where, with name after a space when not NULL) to a->items.
 * Returns 1 found, 0 clean, FT_ENOMEM.
 */
static int check(struct ft_audit *a, const char *where, const char *name,
		 const void *data, size_t len, enum ft_format format)
{
	const char *s = data ? data : "";
	bool unverified = false;
	size_t i;
	int n, leak;

	n = ft_match_record(a->ctx, a->rs, format, s, len, &a->res);
	if (n <= 0)
		return n;
	for (i = 0; i < a->res.n; i++)
		if (a->res.hits[i].error != FT_MERR_NONE &&
		    a->rs->rules[a->res.hits[i].rule].redact)
			unverified = true;
	leak = changes(a, s, len, format);
	if (leak < 0)
		return leak;
	if (!leak && !unverified)
		return 0;
	ft_buf_adds(&a->items, a->nfound++ ? ",{\"where\":" : "{\"where\":");
	if (name) {
		struct ft_buf w = FT_BUF_INIT;

		ft_buf_addf(&w, "%s %s", where, name);
		ft_json_quote(&a->items, w.data ? w.data : "", w.len);
		ft_buf_release(&w);
	} else {
		ft_json_quote(&a->items, where, strlen(where));
	}
	if (leak)
		add_ids(a, "rules", false);
	else
		ft_buf_adds(&a->items, ",\"rules\":[]");
	if (unverified)
		add_ids(a, "unverified", true);
	ft_buf_addc(&a->items, '}');
	return ft_buf_ok(&a->items) ? 1 : FT_ENOMEM;
}

static int check_headers(struct ft_audit *a, const struct ft_audit_msg *m)
{
	size_t i;
	int rc;

	for (i = 0; i < m->nheaders; i++) {
		if (!m->headers[i].value)
			continue;
		rc = check(a, "header", m->headers[i].name, m->headers[i].value,
			   m->headers[i].value_len, FT_FORMAT_TEXT);
		if (rc < 0)
			return rc;
	}
	return FT_OK;
}

/*
 * The subject at path in the envelope (a string's contents, or the
 * decoded path_base64), or 0 with *data NULL when there is none.
 */
static int envelope_bytes(struct ft_audit *a, const char *path,
			  const char **data, size_t *len)
{
	struct ft_json_value v;
	char b64[64], err[8];
	int rc;

	*data = NULL;
	*len = 0;
	ft_buf_reset(&a->text);
	if (!ft_json_find(a->env.data, a->env.len, path, &v, err,
			  sizeof(err)) &&
	    v.type == FT_JSON_STRING) {
		ft_json_text(&v, &a->text);
	} else {
		snprintf(b64, sizeof(b64), "%s_base64", path);
		if (ft_json_find(a->env.data, a->env.len, b64, &v, err,
				 sizeof(err)) ||
		    v.type != FT_JSON_STRING)
			return FT_OK;
		ft_buf_reset(&a->b64);
		ft_json_text(&v, &a->b64);
		if (!ft_buf_ok(&a->b64))
			return FT_ENOMEM;
		rc = ft_base64_decode(a->b64.data, a->b64.len, &a->text);
		if (rc == FT_ENOMEM)
			return rc;
		if (rc) {
			/* not base64 after all: what it says is the subject */
			ft_buf_reset(&a->text);
			ft_buf_add(&a->text, a->b64.data, a->b64.len);
		}
	}
	if (!ft_buf_ok(&a->text))
		return FT_ENOMEM;
	*data = a->text.data ? a->text.data : "";
	*len = a->text.len;
	return FT_OK;
}

/* The envelope's "format", text when absent or unknown. */
static enum ft_format envelope_format(const struct ft_audit *a)
{
	struct ft_json_value v;
	char name[16], err[8];
	int f;

	if (ft_json_find(a->env.data, a->env.len, "format", &v, err,
			 sizeof(err)) ||
	    v.type != FT_JSON_STRING || v.len < 2 || v.len - 2 >= sizeof(name))
		return FT_FORMAT_TEXT;
	memcpy(name, v.ptr + 1, v.len - 2);
	name[v.len - 2] = '\0';
	f = ft_format_parse(name);
	return f < 0 || f == FT_FORMAT_AUTO ? FT_FORMAT_TEXT
					    : (enum ft_format)f;
}

static int audit_envelope(struct ft_audit *a, const struct ft_audit_msg *m,
			  char *errstr, size_t errstr_size)
{
	struct ft_json_value v;
	const char *data;
	char err[8];
	size_t len;
	int rc;

	rc = ft_envelope_decode(m->value, m->value_len, &a->env, errstr,
				errstr_size);
	if (rc)
		return rc;
	if (!ft_json_find(a->env.data, a->env.len, "record", &v, err,
			  sizeof(err)) &&
	    v.type != FT_JSON_STRING && v.type != FT_JSON_NULL) {
		/* embedded JSON */
		rc = check(a, "record", NULL, v.ptr, v.len, FT_FORMAT_JSON);
	} else {
		rc = envelope_bytes(a, "record", &data, &len);
		if (!rc && data)
			rc = check(a, "record", NULL, data, len,
				   envelope_format(a));
	}
	if (rc < 0)
		return rc;
	rc = envelope_bytes(a, "source.key", &data, &len);
	if (!rc && data)
		rc = check(a, "source.key", NULL, data, len, FT_FORMAT_TEXT);
	if (rc < 0)
		return rc;
	return check_headers(a, m);
}

static bool is_dead_letter(const struct ft_audit_msg *m)
{
	size_t i;

	for (i = 0; i < m->nheaders; i++)
		if (!strcmp(m->headers[i].name, "flagtap-error"))
			return true;
	return false;
}

static int audit_dead_letter(struct ft_audit *a, const struct ft_audit_msg *m)
{
	int rc = FT_OK;

	if (m->value)
		rc = check(a, "record", NULL, m->value, m->value_len,
			   FT_FORMAT_AUTO);
	if (rc >= 0 && m->key)
		rc = check(a, "key", NULL, m->key, m->key_len, FT_FORMAT_TEXT);
	if (rc < 0)
		return rc;
	return check_headers(a, m);
}

int ft_audit_message(struct ft_audit *a, const struct ft_audit_msg *m,
		     struct ft_buf *out, char *errstr, size_t errstr_size)
{
	bool dead = is_dead_letter(m);
	int rc;

	ft_buf_reset(&a->items);
	a->nfound = 0;
	rc = dead ? audit_dead_letter(a, m)
		  : audit_envelope(a, m, errstr, errstr_size);
	if (rc == FT_ENOMEM)
		return ft_err(errstr, errstr_size, rc, "out of memory");
	if (rc)
		return rc;
	if (!a->nfound)
		return 0;
	ft_buf_adds(out, "{\"topic\":");
	ft_json_quote(out, m->topic, strlen(m->topic));
	ft_buf_addf(out,
		    ",\"partition\":%d,\"offset\":%lld,\"kind\":\"%s\","
		    "\"found\":[",
		    (int)m->partition, (long long)m->offset,
		    dead ? "dead-letter" : "envelope");
	ft_buf_add(out, a->items.data, a->items.len);
	ft_buf_adds(out, "]}\n");
	if (!ft_buf_ok(out))
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	return 1;
}

/* ------------------------------------------------------------- Kafka */

struct reader {
	const struct ft_audit_opts *o;
	struct ft_audit_stats *st;
	struct ft_audit *a;
	struct ft_buf line;
	struct ft_rec_header *hv;
	size_t hcap;
};

/* The message's headers into r->hv; their count, or FT_ENOMEM. */
static int headers_of(struct reader *r, const rd_kafka_message_t *rkm,
		      size_t *n)
{
	rd_kafka_headers_t *h;
	const char *name;
	const void *val;
	size_t len;

	*n = 0;
	if (rd_kafka_message_headers(rkm, &h))
		return FT_OK;
	while (!rd_kafka_header_get_all(h, *n, &name, &val, &len)) {
		if (ft_grow((void **)&r->hv, *n, &r->hcap, sizeof(*r->hv)))
			return FT_ENOMEM;
		r->hv[*n] = (struct ft_rec_header){name, val, len};
		(*n)++;
	}
	return FT_OK;
}

static int one(void *opaque, const rd_kafka_message_t *rkm, char *errstr,
	       size_t errstr_size)
{
	struct reader *r = opaque;
	struct ft_audit_msg m = {
		.topic = rd_kafka_topic_name(rkm->rkt),
		.partition = rkm->partition,
		.offset = rkm->offset,
		.key = rkm->key,
		.key_len = rkm->key_len,
		.value = rkm->payload,
		.value_len = rkm->len,
	};
	char why[256];
	int rc;

	if (headers_of(r, rkm, &m.nheaders))
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	m.headers = r->hv;
	ft_buf_reset(&r->line);
	rc = ft_audit_message(r->a, &m, &r->line, why, sizeof(why));
	if (rc == FT_ENOMEM)
		return ft_err(errstr, errstr_size, rc, "out of memory");
	if (rc < 0) {
		r->st->unreadable++;
		ft_error("audit: %s/%d/%lld: not an envelope or a dead letter: "
			 "%s",
			 m.topic, (int)m.partition, (long long)m.offset, why);
		return FT_OK;
	}
	if (is_dead_letter(&m))
		r->st->dead_letters++;
	else
		r->st->envelopes++;
	if (rc) {
		r->st->found++;
		fwrite(r->line.data, 1, r->line.len, r->o->out);
	}
	return FT_OK;
}

int ft_audit_run(const struct ft_audit_opts *o, struct ft_audit_stats *st,
		 char *errstr, size_t errstr_size)
{
	static const struct ft_kafka_setting defaults[] = {
		{"group.id", "flagtap-audit"},
		{"enable.auto.commit", "false"},
	};
	struct reader r = {.o = o, .st = st};
	struct ft_topicread t = {
		.name = "audit",
		.brokers = o->brokers,
		.topic = o->topic,
		.defaults = defaults,
		.ndefaults = FT_ARRAY_SIZE(defaults),
		.props = o->props,
		.nprops = o->nprops,
		.exit_at_end = o->exit_at_end,
		.stop = o->stop,
		.message = one,
		.opaque = &r,
	};
	int rc;

	r.a = ft_audit_new(o->rs);
	if (!r.a)
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	ft_buf_init(&r.line);
	rc = ft_topicread_run(&t, errstr, errstr_size);
	fflush(o->out);
	free(r.hv);
	ft_buf_release(&r.line);
	ft_audit_free(r.a);
	return rc;
}

int ft_audit_main(int argc, char **argv, const struct ft_cli *cli)
{
	static const struct option longopts[] = {
		{"rules", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	struct ft_audit_opts o = {.out = stdout, .stop = cli->stop};
	struct ft_audit_stats st = {0};
	char **props = calloc((size_t)argc, sizeof(char *));
	struct ft_ruleset *rs = NULL;
	const char *rules = NULL;
	char errstr[1024];
	int c, rc = FT_EXIT_USAGE;

	while (props &&
	       (c = getopt_long(argc, argv, "b:t:eX:", longopts, NULL)) != -1) {
		if (c == 'b')
			o.brokers = optarg;
		else if (c == 't')
			o.topic = optarg;
		else if (c == 'e')
			o.exit_at_end = true;
		else if (c == 'X')
			props[o.nprops++] = optarg;
		else if (c == 'r')
			rules = optarg;
		else
			goto out;
	}
	if (!props || !o.brokers || !o.topic || !rules || optind != argc) {
		rc = ft_cli_usage("audit", FT_AUDIT_SYNOPSIS);
		goto out;
	}
	if (ft_rulescmd_load(rules, &cli->rules_opts, &rs))
		goto out;
	o.props = (const char *const *)props;
	o.rs = rs;
	cli->install_signals();
	if (ft_audit_run(&o, &st, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: %s\n", errstr);
		rc = FT_EXIT_RUNTIME;
		goto out_free_rules;
	}
	fprintf(stderr,
		"audit: %llu envelopes, %llu dead letters, %llu with something "
		"in clear, %llu unreadable\n",
		(unsigned long long)st.envelopes,
		(unsigned long long)st.dead_letters,
		(unsigned long long)st.found,
		(unsigned long long)st.unreadable);
	rc = st.found || st.unreadable ? FT_EXIT_RUNTIME : EXIT_SUCCESS;
out_free_rules:
	ft_ruleset_free(rs);
out:
	free(props);
	return rc;
}
