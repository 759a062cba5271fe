/*
 * statestore: stateful rules' state, its changelog topics and its
 * restore (statestore.h).
 */
#include "flagtap/statestore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "flagtap/delivery.h"
#include "flagtap/envelope.h"
#include "flagtap/kafka.h"
#include "flagtap/log.h"
#include "flagtap/produce.h"
#include "flagtap/worker.h"

/* A restore that reads nothing for this long has failed. */
#define RESTORE_STALL_MS 60000
/* One late record in this many is logged. */
#define LATE_LOG_EVERY 1000
/* Bound on creating a changelog topic. */
#define CREATE_TIMEOUT_MS 30000

/* One input topic's changelog. */
struct store_topic {
	char *input;
	char *name;
	int partitions;
};

/* One input topic's repartition topic; made once with the store's
 * routes, kept until the store is closed. */
struct ft_store_route {
	char *input;
	char *name;
	int partitions;
	rd_kafka_topic_t *rkt;
};

struct ft_store {
	rd_kafka_t *restorer; /* a consumer outside the group: assign() only */
	struct store_topic *topics;
	size_t ntopics;
	struct ft_store_route *routes; /* state.repartition with routed rules */
	size_t nroutes;
	int64_t last_ckpt_ms;
	uint64_t gen; /* of the partition states made so far */
	/* totals for the metrics */
	double restore_seconds;
	uint64_t restored, restore_bad, shed_reported;
	uint64_t routed, route_bad;
};

/* --- the store ---------------------------------------------------------- */

int ft_store_open(struct pipeline *p, const struct ft_ruleset *rs, char *errstr,
		  size_t errstr_size)
{
	static const char *const props[][2] = {
		{"client.id", "flagtap-state-restore"},
		{"enable.auto.commit", "false"},
		{"enable.partition.eof", "true"},
		{"auto.offset.reset", "earliest"},
		/* never an aborted transaction's changelog records */
		{"isolation.level", "read_committed"},
		/* an empty fetch at the end answers at once */
		{"fetch.wait.max.ms", "10"},
	};
	struct ft_store *s;
	rd_kafka_conf_t *conf;
	char why[512];
	size_t i;

	if (p->store || !rs->nstateful)
		return FT_OK;
	if (!p->set->redact_salt)
		return ft_err(
			errstr, errstr_size, FT_EINVAL,
			"stateful rules need redact.salt: their keys "
			"are kept as keyed hashes, which must be the same "
			"after a restart and on every instance of the "
			"group");
	conf = ft_kafka_conf_new(p->set, FT_KAFKA_CONSUMER, errstr,
				 errstr_size);
	if (!conf)
		return FT_EINVAL;
	for (i = 0; i < FT_ARRAY_SIZE(props); i++)
		if (ft_kafka_conf_set(conf, props[i][0], props[i][1],
				      "state restore", errstr, errstr_size)) {
			rd_kafka_conf_destroy(conf);
			return FT_EINVAL;
		}
	s = calloc(1, sizeof(*s));
	if (!s) {
		rd_kafka_conf_destroy(conf);
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	}
	s->restorer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
	if (!s->restorer) {
		rd_kafka_conf_destroy(conf);
		free(s);
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "state restore: kafka: %s", why);
	}
	rd_kafka_poll_set_consumer(s->restorer);
	s->last_ckpt_ms = now_ms();
	p->store = s;
	if (ft_store_routes(p, rs) < 0)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "state: the repartition topics cannot be made");
	return FT_OK;
}

static void part_free(struct ft_store_part *sp)
{
	if (!sp)
		return;
	ft_state_free(sp->st);
	if (sp->rkt)
		rd_kafka_topic_destroy(sp->rkt);
	pthread_mutex_destroy(&sp->lock);
	free(sp);
}

void ft_store_close(struct pipeline *p)
{
	struct ft_store *s = p->store;
	size_t i;

	for (i = 0; i < p->offsets.n; i++) {
		part_free(p->offsets.v[i]->store);
		p->offsets.v[i]->store = NULL;
	}
	if (!s)
		return;
	rd_kafka_consumer_close(s->restorer);
	rd_kafka_destroy(s->restorer);
	for (i = 0; i < s->ntopics; i++) {
		free(s->topics[i].input);
		free(s->topics[i].name);
	}
	free(s->topics);
	for (i = 0; i < s->nroutes; i++) {
		free(s->routes[i].input);
		free(s->routes[i].name);
		if (s->routes[i].rkt)
			rd_kafka_topic_destroy(s->routes[i].rkt);
	}
	free(s->routes);
	free(s);
	p->store = NULL;
}

/* --- changelog topics --------------------------------------------------- */

/*
 * The producer's handle of one of the state's topics, its messages
 * compressed as state.compression says (changelog values repeat their
 * layout and small numbers: lz4 halves them); NULL once fatal.
 */
static rd_kafka_topic_t *state_topic(struct pipeline *p, const char *name)
{
	static const char *const codec[] = {
		[FT_STATE_CODEC_LZ4] = "lz4",
		[FT_STATE_CODEC_ZSTD] = "zstd",
		[FT_STATE_CODEC_GZIP] = "gzip",
		[FT_STATE_CODEC_SNAPPY] = "snappy",
		[FT_STATE_CODEC_NONE] = "none",
	};
	rd_kafka_topic_t *rkt;
	char why[256];

	rkt = ft_sink_kafka_topic(p->sink, name,
				  codec[p->set->state_compression], why,
				  sizeof(why));
	if (!rkt)
		ft_pipeline_fatal(p, "state: topic %s: %s", name, why);
	return rkt;
}

/* Creates a compacted topic; one that exists already is fine. */
static int create_topic(struct pipeline *p, const char *name, int partitions,
			bool compact)
{
	rd_kafka_t *rk = p->store->restorer;
	const rd_kafka_topic_result_t **res;
	rd_kafka_AdminOptions_t *ao;
	rd_kafka_NewTopic_t *nt;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	rd_kafka_resp_err_t err;
	char why[512];
	size_t n;
	int rc = FT_OK;

	nt = rd_kafka_NewTopic_new(name, partitions,
				   (int)p->set->state_replication_factor, why,
				   sizeof(why));
	if (!nt) {
		ft_pipeline_fatal(p, "state: cannot create %s: %s", name, why);
		return FT_EFATAL;
	}
	if (compact)
		rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
	q = rd_kafka_queue_new(rk);
	ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(ao, CREATE_TIMEOUT_MS, why,
						  sizeof(why));
	rd_kafka_AdminOptions_set_operation_timeout(ao, CREATE_TIMEOUT_MS, why,
						    sizeof(why));
	rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
	ev = rd_kafka_queue_poll(q, CREATE_TIMEOUT_MS + 5000);
	if (!ev) {
		ft_pipeline_fatal(p, "state: creating %s: no answer", name);
		rc = FT_EFATAL;
	} else if ((err = rd_kafka_event_error(ev))) {
		ft_pipeline_fatal(p, "state: cannot create %s: %s", name,
				  rd_kafka_event_error_string(ev));
		rc = FT_EFATAL;
	} else {
		res = rd_kafka_CreateTopics_result_topics(
			rd_kafka_event_CreateTopics_result(ev), &n);
		err = n ? rd_kafka_topic_result_error(res[0])
			: RD_KAFKA_RESP_ERR_UNKNOWN;
		if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			ft_pipeline_fatal(
				p,
				"state: cannot create the %s topic %s "
				"(%d partitions): %s (create it, or "
				"grant flagtap CREATE on it: see README, "
				"Stateful rules)",
				compact ? "changelog" : "repartition", name,
				partitions,
				n ? rd_kafka_topic_result_error_string(res[0])
				  : rd_kafka_err2str(err));
			rc = FT_EFATAL;
		} else if (!err) {
			ft_info("state: created %s topic %s (%d partitions)",
				compact ? "changelog" : "repartition", name,
				partitions);
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	return rc;
}

/* Waits until a new topic's partitions are known; their count or
 * FT_EFATAL. */
static int await_topic(struct pipeline *p, const char *name, int want)
{
	int64_t deadline = now_ms() + CREATE_TIMEOUT_MS;
	struct timespec pause = {0, 100 * 1000000};
	char why[512];
	int n;

	for (;;) {
		n = ft_kafka_partition_count(p->store->restorer, name,
					     FT_KAFKA_METADATA_TIMEOUT_MS, why,
					     sizeof(why));
		if (n >= want)
			return n;
		if (now_ms() >= deadline || *p->opts->stop) {
			ft_pipeline_fatal(p,
					  "state: changelog %s created, but "
					  "not served: %s",
					  name,
					  n < 0 ? why
						: "partitions "
						  "missing");
			return FT_EFATAL;
		}
		nanosleep(&pause, NULL);
	}
}

/* The changelog of input, made if missing; NULL when the pipeline
 * stopped. */
static struct store_topic *changelog_of(struct pipeline *p, const char *input)
{
	struct ft_store *s = p->store;
	struct store_topic *t, *nv;
	char name[512], why[512];
	int nin, ncl;
	size_t i;

	for (i = 0; i < s->ntopics; i++)
		if (!strcmp(s->topics[i].input, input))
			return &s->topics[i];
	if (p->set->state_topic_prefix)
		snprintf(name, sizeof(name), "%s%s", p->set->state_topic_prefix,
			 input);
	else
		snprintf(name, sizeof(name), "%s.flagtap-state.%s",
			 p->set->group_id, input);
	if (strlen(name) > 249) {
		ft_pipeline_fatal(p,
				  "state: changelog topic name %s is longer "
				  "than Kafka's 249 characters: set a shorter "
				  "state.topic.prefix",
				  name);
		return NULL;
	}
	nin = ft_kafka_partition_count(s->restorer, input,
				       FT_KAFKA_METADATA_TIMEOUT_MS, why,
				       sizeof(why));
	if (nin <= 0) {
		ft_pipeline_fatal(p, "state: input %s", why);
		return NULL;
	}
	ncl = ft_kafka_partition_count(s->restorer, name,
				       FT_KAFKA_METADATA_TIMEOUT_MS, why,
				       sizeof(why));
	if (ncl == FT_ENOENT) {
		if (create_topic(p, name, nin, true))
			return NULL;
		ncl = await_topic(p, name, nin);
		if (ncl < 0)
			return NULL;
	} else if (ncl < 0) {
		ft_pipeline_fatal(p, "state: changelog %s", why);
		return NULL;
	}
	if (ncl < nin) {
		ft_pipeline_fatal(p,
				  "state: changelog topic %s has %d "
				  "partitions, input %s has %d: add "
				  "partitions to the changelog to match",
				  name, ncl, input, nin);
		return NULL;
	}
	nv = realloc(s->topics, (s->ntopics + 1) * sizeof(*nv));
	if (!nv) {
		ft_pipeline_fatal(p, "out of memory");
		return NULL;
	}
	s->topics = nv;
	t = &s->topics[s->ntopics];
	t->input = strdup(input);
	t->name = strdup(name);
	t->partitions = ncl;
	if (!t->input || !t->name) {
		free(t->input);
		free(t->name);
		ft_pipeline_fatal(p, "out of memory");
		return NULL;
	}
	s->ntopics++;
	return t;
}

/* --- repartition topics ------------------------------------------------ */

static bool has_routed(const struct pipeline *p, const struct ft_ruleset *rs)
{
	size_t i;

	if (!p->set->state_repartition)
		return false;
	for (i = 0; i < rs->nrules; i++)
		if (rs->rules[i].state && rs->rules[i].enabled &&
		    !rs->rules[i].state->by_key)
			return true;
	return false;
}

/* The repartition topic of each input topic, made if missing. */
static int routes_open(struct pipeline *p)
{
	struct ft_store *s = p->store;
	rd_kafka_topic_partition_list_t *l;
	struct ft_store_route *t;
	char name[512], why[512];
	int i, n, rc = FT_OK;

	l = ft_pipeline_topic_list(p->set->input_topics);
	s->routes = calloc((size_t)l->cnt + 1, sizeof(*s->routes));
	if (!s->routes) {
		rd_kafka_topic_partition_list_destroy(l);
		ft_pipeline_fatal(p, "out of memory");
		return FT_EFATAL;
	}
	for (i = 0; i < l->cnt && !rc; i++) {
		if (l->elems[i].topic[0] == '^') {
			ft_pipeline_fatal(p,
					  "state: input.topics pattern %s: "
					  "contributions can be routed only "
					  "for named topics (name them, or set "
					  "state.repartition = false if the "
					  "input is keyed by the by values)",
					  l->elems[i].topic);
			rc = FT_EFATAL;
			break;
		}
		if (p->set->state_repartition_prefix)
			snprintf(name, sizeof(name), "%s%s",
				 p->set->state_repartition_prefix,
				 l->elems[i].topic);
		else
			snprintf(name, sizeof(name),
				 "%s.flagtap-repartition.%s", p->set->group_id,
				 l->elems[i].topic);
		if (strlen(name) > 249) {
			ft_pipeline_fatal(p,
					  "state: repartition topic name %s is "
					  "longer than Kafka's 249 characters: "
					  "set a shorter "
					  "state.repartition.prefix",
					  name);
			rc = FT_EFATAL;
			break;
		}
		n = ft_kafka_partition_count(s->restorer, l->elems[i].topic,
					     FT_KAFKA_METADATA_TIMEOUT_MS, why,
					     sizeof(why));
		if (n <= 0) {
			ft_pipeline_fatal(p, "state: input %s", why);
			rc = FT_EFATAL;
			break;
		}
		/* an existing one keeps its count: a key's partition is its
		 * hash modulo the count, which must not change under it */
		if (ft_kafka_partition_count(s->restorer, name,
					     FT_KAFKA_METADATA_TIMEOUT_MS, why,
					     sizeof(why)) == FT_ENOENT &&
		    create_topic(p, name, n, false)) {
			rc = FT_EFATAL;
			break;
		}
		n = await_topic(p, name, 1);
		t = &s->routes[s->nroutes];
		t->input = strdup(l->elems[i].topic);
		t->name = strdup(name);
		t->partitions = n;
		s->nroutes++;
		if (n >= 0 && (!t->input || !t->name))
			ft_pipeline_fatal(p, "out of memory");
		else if (n >= 0)
			t->rkt = state_topic(p, name);
		if (!t->rkt)
			rc = FT_EFATAL;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

/* The repartition topic o's routed contributions go to (an input
 * partition) or o is (a repartition partition); NULL when none. */
static const struct ft_store_route *route_of(const struct pipeline *p,
					     const struct ft_offsets *o)
{
	const struct ft_store_route *t;
	size_t i;

	for (i = 0; i < p->store->nroutes; i++) {
		t = &p->store->routes[i];
		if (!strcmp(o->route ? t->name : t->input, o->topic))
			return t;
	}
	return NULL;
}

int ft_store_routes(struct pipeline *p, const struct ft_ruleset *rs)
{
	struct ft_offsets *o;
	size_t i;
	int rc;

	if (!p->store || p->store->routes || !has_routed(p, rs))
		return FT_OK;
	rc = routes_open(p);
	/* the states made before (a reload that routes for the first
	 * time) learn their routes */
	for (i = 0; i < p->offsets.n; i++) {
		o = p->offsets.v[i];
		if (o->store)
			o->store->route = route_of(p, o);
	}
	return rc ? FT_EFATAL : FT_OK;
}

size_t ft_store_subscription(struct pipeline *p,
			     rd_kafka_topic_partition_list_t *l)
{
	size_t i;

	for (i = 0; p->store && i < p->store->nroutes; i++)
		rd_kafka_topic_partition_list_add(l, p->store->routes[i].name,
						  RD_KAFKA_PARTITION_UA);
	return i;
}

size_t ft_store_route_count(const struct pipeline *p)
{
	return p->store ? p->store->nroutes : 0;
}

bool ft_store_is_route(const struct pipeline *p, const char *topic)
{
	size_t i;

	for (i = 0; p->store && i < p->store->nroutes; i++)
		if (!strcmp(p->store->routes[i].name, topic))
			return true;
	return false;
}

/* --- restore ------------------------------------------------------------ */

static struct ft_state *state_new(struct pipeline *p,
				  const struct ft_offsets *o)
{
	struct ft_state_opts so;

	ft_state_opts_default(&so);
	/* an input partition keeps the rules keyed by the Kafka key; the
	 * others' keys are held by the partitions of the repartition topic */
	so.local_only = p->store->nroutes && !o->route;
	so.salt = p->salt;
	so.salt_len = p->salt_len;
	so.max_bytes = (size_t)p->set->state_max_bytes;
	so.changelog = true;
	return ft_state_new(p->rs, &so);
}

/* The end offsets of a partition's changelog; a partition just created
 * may not have its leader yet. */
static int changelog_ends(struct pipeline *p, const char *name, int32_t part,
			  int64_t *lo, int64_t *hi)
{
	rd_kafka_t *rk = p->store->restorer;
	int64_t since = now_ms();
	rd_kafka_resp_err_t err;

	for (;;) {
		err = rd_kafka_query_watermark_offsets(
			rk, name, part, lo, hi, FT_KAFKA_METADATA_TIMEOUT_MS);
		if ((err != RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION &&
		     err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
		     err != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
		     err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) ||
		    now_ms() - since > CREATE_TIMEOUT_MS || *p->opts->stop)
			break;
		rd_kafka_poll(rk, POLL_MS);
	}
	if (err) {
		ft_pipeline_fatal(p, "state: cannot read the end of %s/%d: %s",
				  name, (int)part, rd_kafka_err2str(err));
		return FT_EFATAL;
	}
	return FT_OK;
}

/* The partition awaiting restore whose changelog is (name, part). */
static struct ft_offsets *restoring(struct pipeline *p, const char *name,
				    int32_t part)
{
	struct ft_offsets *o;
	size_t i;

	for (i = 0; i < p->offsets.n; i++) {
		o = p->offsets.v[i];
		if (o->store && o->store->restoring && o->partition == part &&
		    !strcmp(rd_kafka_topic_name(o->store->rkt), name))
			return o;
	}
	return NULL;
}

/* Applies one changelog record to the state it belongs to. */
static int restore_one(struct pipeline *p, const rd_kafka_message_t *m,
		       uint64_t *bad)
{
	const char *name = rd_kafka_topic_name(m->rkt);
	struct ft_offsets *o = restoring(p, name, m->partition);
	int rc;

	if (!o)
		return FT_OK;
	rc = ft_state_restore(o->store->st, p->rs, m->key, m->key_len,
			      m->payload, m->payload ? m->len : 0);
	o->store->restored++;
	if (rc == FT_EINVAL) {
		/* written by something else: it cannot be state */
		if (!(*bad)++)
			ft_warn("state: %s/%d/%lld is not a changelog record: "
				"skipped",
				name, (int)m->partition, (long long)m->offset);
		return FT_OK;
	}
	if (rc) {
		ft_pipeline_fatal(p, "state: out of memory restoring %s/%d",
				  name, (int)m->partition);
		return FT_EFATAL;
	}
	return FT_OK;
}

/*
 * Reads the changelog partition of every state awaiting restore, all at
 * once, each to its end (read_committed: the last stable offset).
 */
static int restore_all(struct pipeline *p)
{
	struct ft_store *s = p->store;
	rd_kafka_t *rk = s->restorer;
	rd_kafka_topic_partition_list_t *l;
	struct ft_store_part *sp;
	struct ft_offsets *o;
	rd_kafka_message_t *m;
	rd_kafka_resp_err_t err;
	uint64_t t0 = ft_mono_ns(), bad = 0;
	int64_t lo, hi, quiet = now_ms();
	int waiting = 0, rc = FT_OK;
	size_t i;
	double secs;

	l = rd_kafka_topic_partition_list_new(8);
	for (i = 0; i < p->offsets.n && !rc; i++) {
		o = p->offsets.v[i];
		sp = o->store;
		if (!sp || !sp->restoring)
			continue;
		rc = changelog_ends(p, rd_kafka_topic_name(sp->rkt),
				    o->partition, &lo, &hi);
		if (!rc && hi > lo) {
			rd_kafka_topic_partition_list_add(
				l, rd_kafka_topic_name(sp->rkt), o->partition)
				->offset = RD_KAFKA_OFFSET_BEGINNING;
			waiting++;
		}
	}
	if (!rc && waiting)
		ft_info("state: restoring %d partition%s from their changelogs",
			waiting, waiting == 1 ? "" : "s");
	if (!rc && waiting && (err = rd_kafka_assign(rk, l))) {
		ft_pipeline_fatal(p, "state: cannot read the changelogs: %s",
				  rd_kafka_err2str(err));
		rc = FT_EFATAL;
	}
	rd_kafka_topic_partition_list_destroy(l);
	while (!rc && waiting) {
		if (*p->opts->stop) {
			rc = FT_ESTOP;
			break;
		}
		m = rd_kafka_consumer_poll(rk, POLL_MS);
		if (!m) {
			if (now_ms() - quiet < RESTORE_STALL_MS)
				continue;
			ft_pipeline_fatal(p,
					  "state: restoring: nothing read for "
					  "%d s (an open transaction on a "
					  "changelog, or the broker "
					  "unreachable)",
					  RESTORE_STALL_MS / 1000);
			rc = FT_EFATAL;
			break;
		}
		quiet = now_ms();
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			waiting--;
		else if (m->err)
			ft_warn("state: restoring %s/%d: %s",
				m->rkt ? rd_kafka_topic_name(m->rkt) : "-",
				(int)m->partition, rd_kafka_message_errstr(m));
		else
			rc = restore_one(p, m, &bad);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_assign(rk, NULL);
	if (rc)
		return rc;
	secs = (double)(ft_mono_ns() - t0) / 1e9;
	s->restore_seconds += secs;
	s->restore_bad += bad;
	for (i = 0; i < p->offsets.n; i++) {
		o = p->offsets.v[i];
		sp = o->store;
		if (!sp || !sp->restoring)
			continue;
		sp->restoring = false;
		s->restored += sp->restored;
		ft_info("state: %s/%d restored from %s: %llu records, %zu "
			"keys, %zu bytes (%.3f s for all partitions)",
			o->topic, (int)o->partition,
			rd_kafka_topic_name(sp->rkt),
			(unsigned long long)sp->restored, ft_state_keys(sp->st),
			ft_state_bytes(sp->st), secs);
	}
	return FT_OK;
}

/* A new, empty state for o under p->rs, to be restored. */
static int part_load(struct pipeline *p, struct ft_offsets *o)
{
	struct store_topic *t;
	struct ft_store_part *sp;

	part_free(o->store);
	o->store = NULL;
	if (!p->rs->nstateful)
		return FT_OK;
	t = changelog_of(p, o->topic);
	if (!t)
		return FT_EFATAL;
	sp = calloc(1, sizeof(*sp));
	if (!sp || !(sp->st = state_new(p, o))) {
		if (sp)
			ft_state_free(sp->st);
		free(sp);
		ft_pipeline_fatal(p, "state: cannot make the state of %s/%d",
				  o->topic, (int)o->partition);
		return FT_EFATAL;
	}
	sp->rkt = state_topic(p, t->name);
	if (!sp->rkt) {
		ft_state_free(sp->st);
		free(sp);
		return FT_EFATAL;
	}
	pthread_mutex_init(&sp->lock, NULL);
	sp->route = route_of(p, o);
	sp->covered = sp->ckpt_offset = -1;
	sp->gen = ++p->store->gen;
	sp->restoring = true;
	o->store = sp;
	return FT_OK;
}

int ft_store_assign(struct pipeline *p, struct ft_offsets *o)
{
	if (!p->store || p->fatal)
		return p->fatal ? FT_EFATAL : FT_OK;
	return part_load(p, o);
}

int ft_store_restore(struct pipeline *p)
{
	if (!p->store || p->fatal)
		return p->fatal ? FT_EFATAL : FT_OK;
	return restore_all(p);
}

/* A restore the partitions stay assigned through: cut short by a stop,
 * they would be read without their state, so it is fatal. */
static int restore_in_place(struct pipeline *p)
{
	int rc = ft_store_restore(p);

	if (rc == FT_ESTOP) {
		ft_pipeline_fatal(p, "state: stopped while restoring");
		return FT_EFATAL;
	}
	return rc;
}

void ft_store_revoke(struct pipeline *p, struct ft_offsets *o)
{
	(void)p;
	part_free(o->store);
	o->store = NULL;
}

int ft_store_rebuild(struct pipeline *p)
{
	size_t i;

	if (!p->store)
		return FT_OK;
	for (i = 0; i < p->offsets.n && !p->fatal; i++)
		if (p->offsets.v[i]->assigned && part_load(p, p->offsets.v[i]))
			return FT_EFATAL;
	return restore_in_place(p);
}

int ft_store_rewind(struct pipeline *p)
{
	struct ft_offsets *o;
	size_t i;

	for (i = 0; p->store && i < p->offsets.n && !p->fatal; i++) {
		o = p->offsets.v[i];
		if (o->assigned && o->store && o->txn_base >= 0 &&
		    part_load(p, o))
			return FT_EFATAL;
	}
	return restore_in_place(p);
}

/* --- evaluation --------------------------------------------------------- */

/* What sets one kind of notice (an envelope of its own, with no record)
 * apart from another. */
struct notice {
	const char *kind;  /* its flagtap-kind */
	const char *doing; /* "out of memory <doing>" */
	const char *what;  /* "cannot produce <what> for ..." */
	/* its delivery holds the record's offset (ft_delivery_new()): a
	 * crossing is all its record makes; a shed report goes ahead of its
	 * record's own envelope, which holds it */
	bool holds_offset;
};

static const struct notice shed_notice = {
	.kind = "state-shed",
	.doing = "reporting shed state",
	.what = "the shed-state report",
};
static const struct notice crossing_notice = {
	.kind = "crossing",
	.doing = "forwarding a crossing",
	.what = "a crossing",
	.holds_offset = true,
};

/*
 * Produces the notice in w->json, compressed, to the output topic,
 * without a key (a notice is no record's), with its headers:
 * kind, source, and when rules is not NULL the rules (comma-joined ids)
 * and the rule set.  0, FT_EFATAL or (exactly once) FT_EKAFKA.
 */
static int send_notice(struct worker *w, const rd_kafka_message_t *rkm,
		       struct ft_offsets *o, const struct notice *n,
		       const struct ft_buf *rules)
{
	struct pipeline *p = w->p;
	rd_kafka_resp_err_t err;
	rd_kafka_headers_t *h;
	struct delivery *d;

	if (!ft_buf_ok(&w->json) ||
	    ft_zlib_compress(&w->zlib, w->json.data, w->json.len, &w->z)) {
		ft_pipeline_fatal(p, "out of memory %s", n->doing);
		return FT_EFATAL;
	}
	if (n->holds_offset) {
		d = ft_delivery_new(w, rkm, o);
	} else if ((d = calloc(1, sizeof(*d)))) {
		d->o = o;
		d->offset = rkm->offset;
	} else {
		ft_pipeline_fatal(p, "out of memory %s", n->doing);
	}
	if (!d)
		return FT_EFATAL;
	ft_worker_source(w, rkm);
	h = rd_kafka_headers_new(5);
	rd_kafka_header_add(h, "content-encoding", -1, "zlib", 4);
	rd_kafka_header_add(h, "flagtap-kind", -1, n->kind, -1);
	if (rules)
		rd_kafka_header_add(h, "flagtap-rules", -1, rules->data,
				    (ssize_t)rules->len);
	rd_kafka_header_add(h, "flagtap-source", -1, w->src.data,
			    (ssize_t)w->src.len);
	if (rules)
		rd_kafka_header_add(h, "flagtap-ruleset", -1, p->rs->hash, -1);
	err = ft_produce_keyed(w, FT_SINK_OUTPUT, NULL, 0, w->z.data, w->z.len,
			       h, d);
	if (err) {
		if (n->holds_offset)
			ft_delivery_abandon(d);
		else
			free(d);
		return ft_produce_failed(w, rkm, n->what, err);
	}
	return FT_OK;
}

/*
 * Tells the reviewers that state was shed: an envelope of its own, kind
 * "state-shed", naming the rule and the keys' hashes (never a key in
 * clear).  It is produced before the record's own envelope, so offsets
 * that pass the record pass it too.
 */
static int report_shed(struct worker *w, const rd_kafka_message_t *rkm,
		       struct ft_offsets *o)
{
	struct pipeline *p = w->p;
	const struct ft_state_result *r = &w->crossed;
	struct ft_source src = {
		.topic = o->topic,
		.partition = o->partition,
		.offset = rkm->offset,
		.timestamp = rd_kafka_message_timestamp(rkm, NULL),
	};
	size_t i;
	int rc;

	for (i = 0; i < r->nshed; i++)
		ft_warn("state: %s/%d full (state.max.bytes %lld): rule %s "
			"shed key %s; a crossing of it may be missed",
			o->topic, (int)o->partition,
			(long long)p->set->state_max_bytes,
			p->rs->rules[r->shed[i].rule].id, r->shed[i].key_hash);
	ft_buf_reset(&w->json);
	ft_envelope_shed(&w->json, p->rs, r, &src, p->set->state_max_bytes,
			 now_ms());
	rc = send_notice(w, rkm, o, &shed_notice, NULL);
	if (!rc)
		__atomic_add_fetch(&p->store->shed_reported, r->nshed,
				   __ATOMIC_RELAXED);
	return rc;
}

/* A late record is logged: the first of its partition, then one in
 * LATE_LOG_EVERY (all are counted in the metrics). */
static void log_late(struct ft_store_part *sp, const struct ft_offsets *o,
		     const rd_kafka_message_t *rkm)
{
	if (sp->late_seen++ % LATE_LOG_EVERY)
		return;
	ft_warn("state: %s/%d/%lld is late (its event time is behind the "
		"watermark by more than allowed-lateness): not applied; "
		"%llu late records in this partition so far",
		o->topic, (int)o->partition, (long long)rkm->offset,
		(unsigned long long)sp->late_seen);
}

/* Where a routed contribution goes, and what it came from. */
struct route_ctx {
	struct worker *w;
	const rd_kafka_message_t *rkm;
	struct ft_offsets *o;
	const struct ft_store_route *t;
};

/*
 * Adds a routed contribution of the record to the message for the
 * partition of its key hash: a record's contributions to one partition
 * travel together (ft_state_apply_contrib() reads them one after
 * another), sent by send_routed() once the record is exported.
 */
static int route(void *opaque, const uint8_t kh[16], const void *rec,
		 size_t len)
{
	struct route_ctx *c = opaque;
	struct worker *w = c->w;
	uint32_t h = (uint32_t)kh[0] << 24 | (uint32_t)kh[1] << 16 |
		     (uint32_t)kh[2] << 8 | kh[3];
	int32_t part = (int32_t)(h % (uint32_t)c->t->partitions);
	struct route_msg *m;
	size_t i;

	for (i = 0; i < w->nroute_msgs && w->route_msgs[i].part != part; i++)
		;
	if (i == w->nroute_msgs) {
		if (i == w->cap_route_msgs) {
			if (ft_grow((void **)&w->route_msgs, i,
				    &w->cap_route_msgs, sizeof(*m))) {
				ft_pipeline_fatal(w->p, "out of memory routing "
							"state");
				return FT_EFATAL;
			}
			for (size_t j = i; j < w->cap_route_msgs; j++)
				ft_buf_init(&w->route_msgs[j].b);
		}
		m = &w->route_msgs[w->nroute_msgs++];
		m->part = part;
		m->n = 0;
		ft_buf_reset(&m->b);
	}
	m = &w->route_msgs[i];
	ft_buf_add(&m->b, rec, len);
	m->n++;
	return FT_OK;
}

/*
 * Produces the record's routed contributions, a message per partition:
 * in the open transaction (exactly once), or awaited by the next
 * checkpoint before the record's offset may be stored (at least once).
 */
static int send_routed(const struct route_ctx *c)
{
	struct worker *w = c->w;
	struct pipeline *p = w->p;
	rd_kafka_resp_err_t err;
	struct route_msg *m;
	struct delivery *d;
	size_t i;

	for (i = 0; i < w->nroute_msgs; i++) {
		m = &w->route_msgs[i];
		if (!ft_buf_ok(&m->b) || !(d = calloc(1, sizeof(*d)))) {
			ft_pipeline_fatal(p, "out of memory routing state");
			return FT_EFATAL;
		}
		d->o = c->o;
		d->offset = c->rkm->offset;
		d->route = true;
		d->route_topic = c->t->name;
		d->route_part = m->part;
		err = ft_produce_to(p, w, c->t->rkt, m->part, NULL, 0,
				    m->b.data, m->b.len, d);
		if (err) {
			free(d);
			return ft_produce_failed(w, c->rkm,
						 "a routed contribution", err);
		}
		__atomic_add_fetch(&p->store->routed, m->n, __ATOMIC_RELAXED);
	}
	return FT_OK;
}

void ft_store_route_report(struct pipeline *p, struct delivery *d,
			   rd_kafka_resp_err_t err, int64_t offset)
{
	struct ft_offsets *dest;

	if (err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
	    err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		return;
	if (err && p->eos) {
		ft_warn("state: contribution of %s/%d/%lld not routed to "
			"%s/%d: "
			"%s; aborting the transaction",
			d->o->topic, (int)d->o->partition, (long long)d->offset,
			d->route_topic, (int)d->route_part,
			rd_kafka_err2str(err));
		atomic_store(&p->abort_txn, true);
		return;
	}
	if (err) {
		ft_pipeline_fatal(p,
				  "state: contribution of %s/%d/%lld not "
				  "routed to %s/%d: %s; its offset will not "
				  "be committed",
				  d->o->topic, (int)d->o->partition,
				  (long long)d->offset, d->route_topic,
				  (int)d->route_part, rd_kafka_err2str(err));
		return;
	}
	/* --until-eof waits until it is read back where it is ours */
	dest = ft_offsets_get(&p->offsets, d->route_topic, d->route_part);
	if (dest && offset > dest->route_high)
		dest->route_high = offset;
}

int ft_store_apply(struct worker *w, const rd_kafka_message_t *rkm,
		   struct ft_offsets *o)
{
	struct pipeline *p = w->p;
	struct ft_store_part *sp = o->store;
	struct ft_state_input in = {
		.offset = rkm->offset,
		.kafka_ts_ms = rd_kafka_message_timestamp(rkm, NULL),
		.key = rkm->key,
		.keylen = rkm->key_len,
		.res = &w->in.res,
	};
	struct route_ctx rc = {w, rkm, o, NULL};
	size_t i;
	int n;

	w->crossed_valid = false;
	if (!w->in.res.ncontrib)
		return (int)w->in.res.n;
	if (!sp || !sp->st) {
		ft_pipeline_fatal(p, "state: no state for %s/%d", o->topic,
				  (int)o->partition);
		return FT_EFATAL;
	}
	pthread_mutex_lock(&sp->lock);
	n = ft_state_apply(sp->st, p->rs, &in, &w->crossed);
	if (n >= 0 && w->crossed.late)
		log_late(sp, o, rkm);
	rc.t = sp->route;
	w->nroute_msgs = 0;
	if (n >= 0 && rc.t &&
	    ft_state_export(sp->st, p->rs, &in, o->partition, route, &rc) < 0) {
		pthread_mutex_unlock(&sp->lock);
		return FT_EFATAL;
	}
	pthread_mutex_unlock(&sp->lock);
	if (w->nroute_msgs && send_routed(&rc))
		return FT_EFATAL;
	for (i = 0; n > 0 && i < w->crossed.n; i++)
		if (ft_inspect_add_hit(&w->in, p->rs, w->crossed.hits[i].rule))
			n = FT_ENOMEM;
	if (n < 0) {
		ft_pipeline_fatal(p, "out of memory applying %s/%d/%lld",
				  o->topic, (int)o->partition,
				  (long long)rkm->offset);
		return FT_EFATAL;
	}
	w->crossed_valid = true;
	if (w->crossed.nshed && report_shed(w, rkm, o))
		return FT_EFATAL;
	return (int)w->in.res.n;
}

/* The envelope of a routed crossing (ft_envelope_crossing()). */
static int forward_crossing(struct worker *w, const rd_kafka_message_t *rkm,
			    struct ft_offsets *o, const char *input)
{
	struct pipeline *p = w->p;
	struct ft_source via = {
		.topic = o->topic,
		.partition = o->partition,
		.offset = rkm->offset,
		.timestamp = -1,
	};
	size_t i;

	ft_buf_reset(&w->json);
	ft_envelope_crossing(&w->json, p->rs, &w->crossed, input, &via,
			     now_ms());
	ft_buf_reset(&w->ids);
	for (i = 0; i < w->crossed.n; i++) {
		if (i)
			ft_buf_addc(&w->ids, ',');
		ft_buf_adds(&w->ids, p->rs->rules[w->crossed.hits[i].rule].id);
	}
	/* a crossing has no record, and no key */
	return send_notice(w, rkm, o, &crossing_notice, &w->ids);
}

int ft_store_apply_routed(struct worker *w, const rd_kafka_message_t *rkm,
			  struct ft_offsets *o)
{
	struct pipeline *p = w->p;
	struct ft_store_part *sp = o->store;
	int n;

	if (!sp || !sp->st) {
		ft_pipeline_fatal(p, "state: no state for %s/%d", o->topic,
				  (int)o->partition);
		return FT_EFATAL;
	}
	pthread_mutex_lock(&sp->lock);
	n = ft_state_apply_contrib(sp->st, p->rs, rkm->offset,
				   rkm->payload ? rkm->payload : "", rkm->len,
				   &w->crossed);
	pthread_mutex_unlock(&sp->lock);
	if (n == FT_EINVAL) {
		/* not flagtap's: counted and logged, nothing to apply */
		if (!__atomic_fetch_add(&p->store->route_bad, 1,
					__ATOMIC_RELAXED) %
		    LATE_LOG_EVERY)
			ft_warn("state: %s/%d/%lld is not a contribution "
				"record: skipped",
				o->topic, (int)o->partition,
				(long long)rkm->offset);
		return ft_delivery_track(p, o, rkm->offset, false);
	}
	if (n < 0) {
		ft_pipeline_fatal(p, "out of memory applying %s/%d/%lld",
				  o->topic, (int)o->partition,
				  (long long)rkm->offset);
		return FT_EFATAL;
	}
	if (w->crossed.nshed && report_shed(w, rkm, o))
		return FT_EFATAL;
	if (n > 0)
		return forward_crossing(w, rkm, o,
					sp->route ? sp->route->input : "");
	return ft_delivery_track(p, o, rkm->offset, false);
}

/* --- the changelog ------------------------------------------------------ */

struct emit_ctx {
	struct pipeline *p;
	struct ft_offsets *o;
};

static int emit(void *opaque, const void *key, size_t klen, const void *val,
		size_t vlen)
{
	struct emit_ctx *c = opaque;
	struct pipeline *p = c->p;
	struct ft_store_part *sp = c->o->store;
	struct delivery *d = calloc(1, sizeof(*d));
	rd_kafka_resp_err_t err;

	if (!d) {
		ft_pipeline_fatal(p, "out of memory writing state");
		return FT_EFATAL;
	}
	d->o = c->o;
	d->offset = -1;
	d->changelog = true;
	d->gen = sp->gen;
	err = ft_produce_to(p, NULL, sp->rkt, c->o->partition, key, klen, val,
			    vlen, d);
	if (err) {
		free(d);
		if (p->eos && !rd_kafka_fatal_error(p->producer, NULL, 0)) {
			ft_warn("state: cannot produce to the changelog of "
				"%s/%d: %s",
				c->o->topic, (int)c->o->partition,
				rd_kafka_err2str(err));
			return FT_EKAFKA;
		}
		ft_pipeline_fatal(p,
				  "state: cannot produce to the changelog of "
				  "%s/%d: %s",
				  c->o->topic, (int)c->o->partition,
				  rd_kafka_err2str(err));
		return FT_EFATAL;
	}
	sp->ckpt_pending++;
	return FT_OK;
}

/* Produces o's changed entries; 0, FT_EKAFKA or FT_EFATAL. */
static int write_part(struct pipeline *p, struct ft_offsets *o)
{
	struct emit_ctx c = {p, o};

	return ft_state_drain_changes(o->store->st, emit, &c);
}

int ft_store_write(struct pipeline *p)
{
	struct ft_offsets *o;
	size_t i;
	int rc;

	for (i = 0; p->store && i < p->offsets.n; i++) {
		o = p->offsets.v[i];
		if (!o->assigned || !o->store || !o->store->st)
			continue;
		rc = write_part(p, o);
		if (rc)
			return rc;
	}
	return p->fatal ? FT_EFATAL : FT_OK;
}

void ft_store_checkpoint(struct pipeline *p, bool now)
{
	struct ft_store *s = p->store;
	struct ft_store_part *sp;
	struct ft_offsets *o;
	int ms;
	size_t i;

	if (!s || p->eos || p->fatal)
		return;
	if (!now && now_ms() - s->last_ckpt_ms < p->set->state_checkpoint_ms)
		return;
	s->last_ckpt_ms = now_ms();
	ft_worker_quiesce(p);
	/*
	 * Every envelope of a record the state holds must be acknowledged
	 * before the state is written: a record at or below an entry's
	 * applied offset is not applied again after a restart.  Waiting is
	 * bounded; one not done in time waits for the next checkpoint (and
	 * the offsets with it), unless the partitions are being given up.
	 */
	if (now) {
		if (ft_delivery_flush(p))
			return;
	} else {
		ms = (int)(p->set->state_checkpoint_ms / 2);
		if (ft_sink_flush(p->sink, ms < 1000 ? ms : 1000))
			return;
	}
	for (i = 0; i < p->offsets.n && !p->fatal; i++) {
		o = p->offsets.v[i];
		sp = o->store;
		if (!o->assigned || !sp || !sp->st || o->next < 0 ||
		    o->next == sp->ckpt_offset)
			continue;
		sp->ckpt_offset = o->next;
		if (write_part(p, o))
			return;
		if (!sp->ckpt_pending)
			sp->covered = sp->ckpt_offset;
	}
}

int64_t ft_store_limit(const struct ft_offsets *o, int64_t committable)
{
	if (!o->store)
		return committable;
	return committable < o->store->covered ? committable
					       : o->store->covered;
}

void ft_store_report(struct pipeline *p, struct delivery *d,
		     rd_kafka_resp_err_t err)
{
	struct ft_store_part *sp = d->o->store;

	/* a state given up since (or rebuilt) no longer waits for it */
	if (!sp || sp->gen != d->gen)
		sp = NULL;
	if (sp)
		sp->ckpt_pending--;
	if (err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
	    err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		return;
	if (err && p->eos) {
		ft_warn("state: changelog record for %s/%d not written: %s; "
			"aborting the transaction",
			d->o->topic, (int)d->o->partition,
			rd_kafka_err2str(err));
		atomic_store(&p->abort_txn, true);
		return;
	}
	if (err) {
		if (sp)
			sp->ckpt_failed = true;
		ft_pipeline_fatal(p,
				  "state: changelog record for %s/%d not "
				  "written: %s; its offsets will not be "
				  "committed",
				  d->o->topic, (int)d->o->partition,
				  rd_kafka_err2str(err));
		return;
	}
	if (sp && !sp->ckpt_pending && !sp->ckpt_failed)
		sp->covered = sp->ckpt_offset;
}

/* --- metrics ------------------------------------------------------------ */

void ft_store_totals(struct pipeline *p, struct ft_store_totals *t,
		     struct ft_state_stats *per_rule, size_t nrules)
{
	struct ft_state_stats x;
	struct ft_store_part *sp;
	size_t i, r;

	memset(t, 0, sizeof(*t));
	memset(per_rule, 0, nrules * sizeof(*per_rule));
	if (!p->store)
		return;
	t->restore_seconds = p->store->restore_seconds;
	t->restored = p->store->restored;
	t->restore_bad = p->store->restore_bad;
	t->shed_reported =
		__atomic_load_n(&p->store->shed_reported, __ATOMIC_RELAXED);
	t->routed = __atomic_load_n(&p->store->routed, __ATOMIC_RELAXED);
	t->route_bad = __atomic_load_n(&p->store->route_bad, __ATOMIC_RELAXED);
	for (i = 0; i < p->offsets.n; i++) {
		sp = p->offsets.v[i]->store;
		if (!p->offsets.v[i]->assigned || !sp || !sp->st)
			continue;
		pthread_mutex_lock(&sp->lock);
		t->keys += ft_state_keys(sp->st);
		t->bytes += ft_state_bytes(sp->st);
		for (r = 0; r < nrules && r < p->rs->nrules; r++) {
			x = ft_state_stats(sp->st, r);
			per_rule[r].applied += x.applied;
			per_rule[r].missing += x.missing;
			per_rule[r].replayed += x.replayed;
			per_rule[r].exempt += x.exempt;
			per_rule[r].late += x.late;
			per_rule[r].fired += x.fired;
			per_rule[r].shed += x.shed;
		}
		pthread_mutex_unlock(&sp->lock);
	}
}
