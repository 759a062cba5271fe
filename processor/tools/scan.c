/*
 * scan: lines of a file (or records with keys and headers: kcat -J,
 * .ftrec) -> match -> envelope JSON lines.
 */
#include "flagtap/scan.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flagtap/buf.h"
#include "flagtap/cli.h"
#include "flagtap/common.h"
#include "flagtap/envelope.h"
#include "flagtap/format.h"
#include "flagtap/inspect.h"
#include "flagtap/recfile.h"
#include "flagtap/rulescmd.h"

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct scanner {
	const struct ft_ruleset *rs;
	const struct ft_scan_opts *o;
	struct ft_scan_stats *st;
	struct ft_match_ctx *ctx;
	struct ft_inspect in;
	struct ft_buf env;
	const char *name;
	struct ft_inspect_header *hdrs; /* of the current record */
	size_t cap_hdrs;
	/* stateful rules: this file's state and the record's crossings */
	struct ft_state *state;
	struct ft_state_result crossed;
	int64_t ts; /* the current record's timestamp, or -1 */
};

/* Writes the envelope of the flagged message m, read at lineno. */
static int emit(struct scanner *sc, const struct ft_inspect_msg *m,
		int64_t lineno)
{
	struct ft_envelope_opts eo = {
		.head_max = SIZE_MAX,
		.salt = sc->o->salt,
		.salt_len = sc->o->salt_len,
		.hit_in = sc->in.hit_in,
		.header_names = sc->in.names,
		.red = &sc->in.red,
		.state = sc->state ? &sc->crossed : NULL,
	};
	struct ft_source src = {
		.file = sc->name,
		.offset = lineno,
		.key = m->key,
		.key_len = m->key_len,
	};

	if (ft_inspect_redact(&sc->in, m, sc->o->salt, sc->o->salt_len))
		return FT_ENOMEM;
	ft_buf_reset(&sc->env);
	if (ft_envelope_build_ex(&sc->env, sc->rs, &sc->in.res, &src,
				 sc->o->format, m->rec, m->len, wall_ms(), &eo))
		return FT_ENOMEM;
	ft_buf_addc(&sc->env, '\n');
	if (!ft_buf_ok(&sc->env))
		return FT_ENOMEM;
	fwrite(sc->env.data, 1, sc->env.len, sc->o->out);
	return FT_OK;
}

/* Applies the record to the file's state; its crossings become hits. */
static int scan_state_apply(struct scanner *sc, const struct ft_inspect_msg *m,
			    int64_t lineno)
{
	struct ft_state_input si = {lineno, sc->ts, m->key, m->key_len,
				    &sc->in.res};
	size_t i;
	int n = ft_state_apply(sc->state, sc->rs, &si, &sc->crossed);

	for (i = 0; n > 0 && i < sc->crossed.n; i++)
		if (ft_inspect_add_hit(&sc->in, sc->rs,
				       sc->crossed.hits[i].rule))
			return FT_ENOMEM;
	for (i = 0; n >= 0 && i < sc->crossed.nshed; i++)
		fprintf(stderr,
			"flagtap: scan: %s: state full: rule %s shed key "
			"%s (a crossing may have been missed)\n",
			sc->name, sc->rs->rules[sc->crossed.shed[i].rule].id,
			sc->crossed.shed[i].key_hash);
	return n < 0 ? n : (int)sc->in.res.n;
}

/* Evaluates one message (its key and headers too) and writes its
 * envelope if it is flagged. */
static int one(struct scanner *sc, const struct ft_inspect_msg *m,
	       int64_t lineno)
{
	const struct ft_match_result *res = &sc->in.res;
	size_t i;
	int n;

	sc->st->records++;
	sc->st->bytes += m->len;
	n = ft_inspect_match(&sc->in, sc->ctx, sc->rs, m, true);
	if (n >= 0 && sc->state)
		n = scan_state_apply(sc, m, lineno);
	for (i = 0; n >= 0 && i < res->nunreadable; i++)
		sc->st->rule_unreadable[res->unreadable[i]]++;
	if (n <= 0)
		return n;
	sc->st->flagged++;
	sc->st->engine_errors += res->errors;
	for (i = 0; i < res->n; i++)
		if (ft_inspect_first_hit(&sc->in, i))
			sc->st->rule_hits[res->hits[i].rule]++;
	return emit(sc, m, lineno);
}

/* A line: a message with neither key nor headers. */
static int one_line(struct scanner *sc, const char *line, size_t len,
		    int64_t lineno)
{
	struct ft_inspect_msg m = {
		.rec = line,
		.len = len,
		.format = sc->o->format,
		.extract = sc->o->extract,
	};

	return one(sc, &m, lineno);
}

/* A record with its key and headers (kcat -J, .ftrec). */
static int one_rec(struct scanner *sc, const struct ft_rec *r, int64_t n)
{
	struct ft_inspect_msg m = {
		.rec = r->value ? r->value : "",
		.len = r->value ? r->value_len : 0,
		.format = sc->o->format,
		.extract = sc->o->extract,
		.key = r->key,
		.key_len = r->key_len,
		.headers = sc->hdrs,
		.nheaders = r->nheaders,
	};
	size_t i;
	int rc;

	for (i = 0; i < r->nheaders; i++) {
		if (ft_grow((void **)&sc->hdrs, i, &sc->cap_hdrs,
			    sizeof(*sc->hdrs)))
			return FT_ENOMEM;
		sc->hdrs[i] = (struct ft_inspect_header){
			r->headers[i].name, r->headers[i].value,
			r->headers[i].value_len};
	}
	m.headers = sc->hdrs;
	sc->ts = r->timestamp;
	rc = one(sc, &m, n);
	sc->ts = -1;
	return rc;
}

/* Reads path as recorded records; each is numbered as its "line". */
static int records(struct scanner *sc, const char *path, char *errstr,
		   size_t errstr_size)
{
	struct ft_recr *r;
	struct ft_rec rec;
	int64_t n = 0;
	int rc;

	rc = ft_recr_open(&r, path, sc->o->input, false, errstr, errstr_size);
	if (rc)
		return rc;
	while ((rc = ft_recr_next(r, &rec, errstr, errstr_size)) == 1) {
		rc = one_rec(sc, &rec, ++n);
		if (rc) {
			rc = ft_err(errstr, errstr_size, rc,
				    "%s: record %lld: out of memory", sc->name,
				    (long long)n);
			break;
		}
	}
	ft_recr_close(r);
	return rc;
}

static int lines(struct scanner *sc, FILE *f, char *errstr, size_t errstr_size)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int64_t lineno = 0;
	int rc = FT_OK;

	while (!rc && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (n && line[n - 1] == '\n')
			n--;
		if (n && line[n - 1] == '\r')
			n--;
		if (n)
			rc = one_line(sc, line, (size_t)n, lineno);
	}
	free(line);
	if (rc)
		return ft_err(errstr, errstr_size, rc, "%s:%lld: out of memory",
			      sc->name, (long long)lineno);
	if (ferror(f))
		return ft_err(errstr, errstr_size, FT_EIO, "%s: read error: %s",
			      sc->name, strerror(errno));
	return FT_OK;
}

/* A file's state, keyed with the hash key (keys are hashed, never kept). */
static struct ft_state *scan_state_new(const struct ft_ruleset *rs,
				       const struct ft_scan_opts *o)
{
	struct ft_state_opts so;

	ft_state_opts_default(&so);
	so.salt = o->salt;
	so.salt_len = o->salt_len;
	return ft_state_new(rs, &so);
}

/* Adds the file's per-rule state counts to the stats. */
static void scan_state_sum(struct scanner *sc, struct ft_scan_stats *st)
{
	struct ft_state_stats s, *t;
	size_t i;

	for (i = 0; sc->state && i < sc->rs->nrules; i++) {
		s = ft_state_stats(sc->state, i);
		t = &st->rule_state[i];
		t->applied += s.applied;
		t->missing += s.missing;
		t->replayed += s.replayed;
		t->exempt += s.exempt;
		t->late += s.late;
		t->fired += s.fired;
		t->shed += s.shed;
	}
}

int ft_scan_file(const char *path, const struct ft_ruleset *rs,
		 const struct ft_scan_opts *o, struct ft_scan_stats *st,
		 char *errstr, size_t errstr_size)
{
	struct scanner sc = {.rs = rs, .o = o, .st = st};
	bool is_stdin = !strcmp(path, "-");
	FILE *f;
	int rc;

	if (!st->rule_hits)
		st->rule_hits = calloc(rs->nrules ? rs->nrules : 1,
				       sizeof(*st->rule_hits));
	if (!st->rule_unreadable)
		st->rule_unreadable = calloc(rs->nrules ? rs->nrules : 1,
					     sizeof(*st->rule_unreadable));
	if (!st->rule_state)
		st->rule_state = calloc(rs->nrules ? rs->nrules : 1,
					sizeof(*st->rule_state));
	sc.ctx = ft_match_ctx_new(rs);
	sc.ts = -1;
	if (rs->nstateful)
		sc.state = scan_state_new(rs, o);
	if (!st->rule_hits || !st->rule_unreadable || !st->rule_state ||
	    !sc.ctx || (rs->nstateful && !sc.state)) {
		ft_match_ctx_free(sc.ctx);
		ft_state_free(sc.state);
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	}
	sc.name = is_stdin ? "<stdin>" : path;
	ft_inspect_init(&sc.in);
	ft_buf_init(&sc.env);
	if (o->records) {
		rc = records(&sc, path, errstr, errstr_size);
	} else if (!(f = is_stdin ? stdin : fopen(path, "rb"))) {
		rc = ft_err(errstr, errstr_size, FT_EIO, "%s: %s", path,
			    strerror(errno));
	} else {
		rc = lines(&sc, f, errstr, errstr_size);
		if (!is_stdin)
			fclose(f);
	}
	scan_state_sum(&sc, st);
	ft_state_result_release(&sc.crossed);
	ft_state_free(sc.state);
	ft_inspect_release(&sc.in);
	ft_buf_release(&sc.env);
	free(sc.hdrs);
	ft_match_ctx_free(sc.ctx);
	return rc;
}

void ft_scan_stats_release(struct ft_scan_stats *st)
{
	free(st->rule_hits);
	free(st->rule_unreadable);
	free(st->rule_state);
	st->rule_hits = NULL;
	st->rule_unreadable = NULL;
	st->rule_state = NULL;
}

#define SALT_FILE_MAX 4096
#define RANDOM_KEY_LEN 32

/* --salt-file: the file's bytes less one final newline; never empty. */
static int salt_from_file(const char *file, char **key, size_t *len)
{
	char errstr[512];

	if (ft_read_file(file, SALT_FILE_MAX, key, len, errstr,
			 sizeof(errstr))) {
		fprintf(stderr, "flagtap: --salt-file: %s\n", errstr);
		return FT_EINVAL;
	}
	if (*len && (*key)[*len - 1] == '\n')
		(*len)--;
	if (*len && (*key)[*len - 1] == '\r')
		(*len)--;
	if (!*len) {
		fprintf(stderr, "flagtap: --salt-file %s: empty key\n", file);
		free(*key);
		*key = NULL;
		return FT_EINVAL;
	}
	return 0;
}

/*
 * The HMAC key of scan's redact = hash tokens, never empty: --salt-file,
 * --salt (arg) or FLAGTAP_REDACT_SALT, else random bytes for this run.
 * *key is heap (free it).
 */
int ft_scan_key(const char *arg, const char *file, const struct ft_ruleset *rs,
		char **key, size_t *len)
{
	const char *env = getenv("FLAGTAP_REDACT_SALT");
	const char *text = arg ? arg : env;

	*key = NULL;
	if (file)
		return salt_from_file(file, key, len);
	if (arg)
		fprintf(stderr, "flagtap: scan: --salt is visible to other "
				"users (ps, /proc): prefer --salt-file or "
				"FLAGTAP_REDACT_SALT\n");
	if (text && !*text) {
		fprintf(stderr,
			"flagtap: scan: %s is empty: a hash key must "
			"not be\n",
			arg ? "--salt" : "FLAGTAP_REDACT_SALT");
		return FT_EINVAL;
	}
	*len = text ? strlen(text) : RANDOM_KEY_LEN;
	*key = text ? strdup(text) : malloc(RANDOM_KEY_LEN);
	if (!*key) {
		fprintf(stderr, "flagtap: scan: out of memory\n");
		return FT_ENOMEM;
	}
	if (text)
		return 0;
	if (ft_random_bytes(*key, RANDOM_KEY_LEN)) {
		fprintf(stderr,
			"flagtap: scan: cannot read random bytes for "
			"the hash key: %s\n",
			strerror(errno));
		free(*key);
		*key = NULL;
		return FT_EIO;
	}
	if (ft_rulescmd_uses_hash(rs))
		fprintf(stderr, "flagtap: scan: no --salt-file: redact = hash "
				"tokens use a random key for this run and do "
				"not correlate with other runs\n");
	return 0;
}

/* Rules whose `when` met values that are not numbers, and how often. */
static void unreadable_summary(FILE *out, const struct ft_ruleset *rs,
			       const struct ft_scan_stats *st)
{
	bool head = false;
	size_t i;

	for (i = 0; st->rule_unreadable && i < rs->nrules; i++) {
		if (!st->rule_unreadable[i])
			continue;
		if (!head)
			fprintf(out, "scan: records whose numbers a rule's "
				     "`when` could not read (compared as "
				     "false):\n");
		head = true;
		fprintf(out, "  %-14s %8llu  %s\n", rs->rules[i].id,
			(unsigned long long)st->rule_unreadable[i],
			rs->rules[i].when_src ? rs->rules[i].when_src : "");
	}
}

/* What the stateful rules did with their records. */
static void state_summary(FILE *out, const struct ft_ruleset *rs,
			  const struct ft_scan_stats *st)
{
	const struct ft_state_stats *s;
	size_t i;

	if (!rs->nstateful || !st->rule_state)
		return;
	fprintf(out,
		"scan: stateful rules (records):\n  %-34s %8s %8s %8s %8s "
		"%8s\n",
		"rule", "applied", "missing", "late", "exempt", "fired");
	for (i = 0; i < rs->nrules; i++) {
		if (!rs->rules[i].state || !rs->rules[i].enabled)
			continue;
		s = &st->rule_state[i];
		fprintf(out, "  %-34s %8llu %8llu %8llu %8llu %8llu\n",
			rs->rules[i].id, (unsigned long long)s->applied,
			(unsigned long long)s->missing,
			(unsigned long long)s->late,
			(unsigned long long)s->exempt,
			(unsigned long long)s->fired);
		if (s->shed)
			fprintf(out,
				"  %-34s %llu events or keys shed for room: "
				"crossings may have been missed\n",
				"", (unsigned long long)s->shed);
	}
}

void ft_scan_print_summary(FILE *out, const struct ft_ruleset *rs,
			   const struct ft_scan_stats *st, double secs)
{
	size_t i;

	fprintf(out,
		"scan: %llu records (%llu bytes), %llu flagged, %llu engine "
		"errors, %.2f s\n",
		(unsigned long long)st->records, (unsigned long long)st->bytes,
		(unsigned long long)st->flagged,
		(unsigned long long)st->engine_errors, secs);
	for (i = 0; st->rule_hits && i < rs->nrules; i++)
		if (st->rule_hits[i])
			fprintf(out, "  %-14s %8llu  %s\n", rs->rules[i].id,
				(unsigned long long)st->rule_hits[i],
				rs->rules[i].title);
	unreadable_summary(out, rs, st);
	state_summary(out, rs, st);
}

int ft_scan_files(char *const *paths, size_t n, const struct ft_ruleset *rs,
		  const struct ft_scan_opts *opts)
{
	struct ft_scan_stats st = {0};
	char errstr[1024];
	uint64_t t0 = ft_mono_ns();
	size_t i;
	int rc = FT_OK;

	for (i = 0; i < n || i == 0; i++)
		if (ft_scan_file(i < n ? paths[i] : "-", rs, opts, &st, errstr,
				 sizeof(errstr))) {
			fprintf(stderr, "flagtap: %s\n", errstr);
			rc = FT_EIO;
		}
	fflush(opts->out);
	ft_scan_print_summary(stderr, rs, &st,
			      (double)(ft_mono_ns() - t0) / 1e9);
	ft_scan_stats_release(&st);
	return rc;
}

static int scan_usage(void)
{
	char names[64];

	fprintf(stderr,
		"usage: flagtap scan --rules PATH [--format %s] [--extract "
		"PATTERN] [--salt-file FILE | --salt SALT] "
		"[--input lines|auto|ftrec|text|json|kcat] [FILE...|-]\n",
		ft_format_list(names, sizeof(names), "|", "|", true));
	return FT_EXIT_USAGE;
}

int ft_scan_main(int argc, char **argv, const struct ft_cli *cli)
{
	static const struct option longopts[] = {
		{"rules", required_argument, NULL, 'r'},
		{"format", required_argument, NULL, 'f'},
		{"extract", required_argument, NULL, 'x'},
		{"salt", required_argument, NULL, 's'},
		{"salt-file", required_argument, NULL, 'S'},
		{"input", required_argument, NULL, 'i'},
		{NULL, 0, NULL, 0},
	};
	struct ft_scan_opts o = {.format = FT_FORMAT_TEXT, .out = stdout};
	const char *rules = NULL, *salt = NULL, *salt_file = NULL;
	char *key = NULL;
	size_t key_len = 0;
	struct ft_ruleset *rs = NULL;
	pcre2_code *extract = NULL;
	int c, rc = EXIT_SUCCESS;

	while ((c = getopt_long(argc, argv, "r:f:x:s:i:", longopts, NULL)) !=
	       -1) {
		if (c == 'r')
			rules = optarg;
		else if (c == 'i' && !strcmp(optarg, "lines"))
			o.records = false;
		else if (c == 'i' && ft_rec_input_parse(optarg) >= 0) {
			o.records = true;
			o.input = (enum ft_rec_input)ft_rec_input_parse(optarg);
		} else if (c == 'f' && ft_format_parse(optarg) >= 0)
			o.format = (enum ft_format)ft_format_parse(optarg);
		else if (c == 'x' && !extract)
			extract = ft_cli_compile_extract(optarg);
		else if (c == 's')
			salt = optarg;
		else if (c == 'S')
			salt_file = optarg;
		else
			return scan_usage();
		if (c == 'x' && !extract)
			return FT_EXIT_USAGE;
	}
	if (!rules || (salt && salt_file)) {
		pcre2_code_free(extract);
		return scan_usage();
	}
	if (ft_rulescmd_load(rules, &cli->rules_opts, &rs)) {
		pcre2_code_free(extract);
		return FT_EXIT_USAGE;
	}
	rc = ft_scan_key(salt, salt_file, rs, &key, &key_len);
	if (rc) {
		ft_ruleset_free(rs);
		pcre2_code_free(extract);
		return rc == FT_EINVAL ? FT_EXIT_USAGE : FT_EXIT_RUNTIME;
	}
	o.extract = extract;
	o.salt = key;
	o.salt_len = key_len;
	if (ft_scan_files(argv + optind, (size_t)(argc - optind), rs, &o))
		rc = FT_EXIT_RUNTIME;
	ft_ruleset_free(rs);
	pcre2_code_free(extract);
	free(key);
	return rc;
}
