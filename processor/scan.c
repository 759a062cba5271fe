/*
 * scan: lines of a file -> match -> envelope JSON lines.
 */
#include "flagtap/scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/envelope.h"

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
	struct ft_match_result res;
	struct ft_buf env;
	const char *name;
};

static int one(struct scanner *sc, const char *line, size_t len, int64_t lineno)
{
	struct ft_envelope_opts eo = {
		.head_max = SIZE_MAX,
		.salt = sc->o->salt,
		.salt_len = sc->o->salt_len,
	};
	struct ft_source src = {.file = sc->name, .offset = lineno};
	struct ft_record rec = {line, len, sc->o->format, sc->o->extract};
	size_t i;
	int n;

	sc->st->records++;
	sc->st->bytes += len;
	n = ft_match_run(sc->ctx, sc->rs, &rec, &sc->res);
	for (i = 0; n >= 0 && i < sc->res.nunreadable; i++)
		sc->st->rule_unreadable[sc->res.unreadable[i]]++;
	if (n <= 0)
		return n;
	sc->st->flagged++;
	sc->st->engine_errors += sc->res.errors;
	for (i = 0; i < sc->res.n; i++)
		sc->st->rule_hits[sc->res.hits[i].rule]++;
	ft_buf_reset(&sc->env);
	if (ft_envelope_build_ex(&sc->env, sc->rs, &sc->res, &src,
				 sc->o->format, line, len, wall_ms(), &eo))
		return FT_ENOMEM;
	ft_buf_addc(&sc->env, '\n');
	if (!ft_buf_ok(&sc->env))
		return FT_ENOMEM;
	fwrite(sc->env.data, 1, sc->env.len, sc->o->out);
	return FT_OK;
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
			rc = one(sc, line, (size_t)n, lineno);
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
	sc.ctx = ft_match_ctx_new(rs);
	if (!st->rule_hits || !st->rule_unreadable || !sc.ctx) {
		ft_match_ctx_free(sc.ctx);
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	}
	f = is_stdin ? stdin : fopen(path, "rb");
	if (!f) {
		ft_match_ctx_free(sc.ctx);
		return ft_err(errstr, errstr_size, FT_EIO, "%s: %s", path,
			      strerror(errno));
	}
	sc.name = is_stdin ? "<stdin>" : path;
	ft_match_result_init(&sc.res);
	ft_buf_init(&sc.env);
	rc = lines(&sc, f, errstr, errstr_size);
	if (!is_stdin)
		fclose(f);
	ft_match_result_release(&sc.res);
	ft_buf_release(&sc.env);
	ft_match_ctx_free(sc.ctx);
	return rc;
}

void ft_scan_stats_release(struct ft_scan_stats *st)
{
	free(st->rule_hits);
	free(st->rule_unreadable);
	st->rule_hits = NULL;
	st->rule_unreadable = NULL;
}
