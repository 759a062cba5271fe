/*
 * prefilter: Vectorscan databases that say which rules may match.
 */
#define _GNU_SOURCE /* memmem */
#include "flagtap/prefilter.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flagtap/common.h"
#include "flagtap/json.h"
#include "flagtap/rules.h"

#ifdef FLAGTAP_HAVE_VECTORSCAN

#include <hs.h>

struct pf_group {
	hs_database_t *db; /* NULL when the group has nothing to scan */
	uint32_t *rules;   /* FT_PF_SCAN rules, ascending */
	size_t nrules;
};

struct ft_prefilter {
	size_t nrules;
	uint8_t *cls;  /* enum ft_pf_class per rule */
	uint32_t *ids; /* expression id -> rule << 1 | exact */
	size_t nids;
	struct pf_group *groups;
	size_t ngroups;
	uint32_t *visit; /* rules to visit on every record */
	size_t nvisit;
	struct ft_prefilter_info info;
};

struct ft_prefilter_scratch {
	hs_scratch_t *hs;
	uint32_t *stamp; /* per rule: == gen when reported in this scan */
	uint32_t gen;
};

bool ft_prefilter_available(void)
{
	return hs_valid_platform() == HS_SUCCESS;
}

const char *ft_prefilter_version(void)
{
	return hs_version();
}

/* One expression being gathered for a group's database. */
struct expr {
	const char *src;
	unsigned flags;
	uint32_t id;
	uint32_t rule;
};

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/*
 * True when a pattern can only ever match ASCII characters, so that
 * Vectorscan's byte mode finds exactly what its UTF-8 mode would in valid
 * UTF-8 (a non-ASCII character is bytes >= 0x80, which no atom of such a
 * pattern matches), and compiles several times faster.  Lexical and
 * conservative: no '.', no negated class, no escape that can match or
 * name a character above 0x7f (\W \S \D \h \v \R \N \X \p, \x{80} and
 * up, octal), no byte >= 0x80.
 */
static bool byte_safe(const char *s)
{
	bool in_class = false;
	unsigned long v;
	char *end;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x80)
			return false;
		if (c == '\\') {
			c = (unsigned char)*++s;
			if (!c)
				return false;
			if (c == 'x') {
				if (s[1] == '{')
					v = strtoul(s + 2, &end, 16);
				else
					v = strtoul((char[3]){s[1],
							      s[1] ? s[2] : 0,
							      0},
						    &end, 16);
				if (v >= 0x80)
					return false;
				continue;
			}
			if (isalnum(c) && !strchr("dwsbBAzZtnrfae", c))
				return false;
			continue;
		}
		if (in_class) {
			if (c == ']')
				in_class = false;
			else if (c == '[' && s[1] == ':' && s[2] == '^')
				return false;
			continue;
		}
		if (c == '[') {
			if (s[1] == '^')
				return false;
			in_class = true;
			if (s[1] == ']')
				s++;
		} else if (c == '.') {
			return false;
		}
	}
	return true;
}

#define HS_BASE (HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH)

/*
 * Exact bounded repeats of 64 or more ("[a-z0-9]{100,}") make Vectorscan
 * fail the whole database late, as "Pattern is too large", after most
 * of the compile time; such patterns go in as prefilters from the start.
 */
static bool large_repeat(const char *s)
{
	const char *p;
	long n;

	for (p = s; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p != '{' || !isdigit((unsigned char)p[1]))
			continue;
		n = strtol(p + 1, NULL, 10);
		if (n >= 64)
			return true;
		while (isdigit((unsigned char)*++p))
			;
		if (*p == ',' && isdigit((unsigned char)p[1]) &&
		    strtol(p + 1, NULL, 10) >= 64)
			return true;
	}
	return false;
}

/*
 * How a pattern can go in: HS_BASE (exact), HS_BASE | HS_FLAG_PREFILTER,
 * or 0 when not at all (unsupported, or it can match the empty string).
 */
static unsigned pattern_flags(const char *src)
{
	bool bytes = byte_safe(src);
	unsigned base = bytes ? HS_FLAG_SINGLEMATCH : HS_BASE;
	const unsigned tries[] = {base, base | HS_FLAG_PREFILTER};
	hs_expr_info_t *info;
	hs_compile_error_t *err;
	size_t i;
	bool empty;

	for (i = !bytes && large_repeat(src); i < FT_ARRAY_SIZE(tries); i++) {
		info = NULL;
		err = NULL;
		if (hs_expression_info(src, tries[i], &info, &err) !=
		    HS_SUCCESS) {
			hs_free_compile_error(err);
			continue;
		}
		empty = info->min_width == 0;
		free(info);
		return empty ? 0 : tries[i];
	}
	return 0;
}

static void demote(struct ft_prefilter *pf, struct expr *v, size_t *n,
		   uint32_t rule)
{
	size_t i, j;

	pf->cls[rule] = FT_PF_ALWAYS;
	for (i = j = 0; i < *n; i++)
		if (v[i].rule != rule)
			v[j++] = v[i];
	*n = j;
}

/*
 * Compiles a group's expressions.  An expression Vectorscan rejects at
 * this stage demotes its rule to FT_PF_ALWAYS and the rest is retried.
 */
static int compile_group(struct ft_prefilter *pf, struct pf_group *g,
			 struct expr *v, size_t n, char *errstr,
			 size_t errstr_size)
{
	const char **srcs = calloc(n ? n : 1, sizeof(*srcs));
	unsigned *flags = calloc(n ? n : 1, sizeof(*flags));
	unsigned *ids = calloc(n ? n : 1, sizeof(*ids));
	hs_compile_error_t *err;
	size_t i;
	int rc = FT_OK;

	if (!srcs || !flags || !ids) {
		rc = FT_ENOMEM;
		goto out;
	}
	while (n > 0) {
		for (i = 0; i < n; i++) {
			srcs[i] = v[i].src;
			flags[i] = v[i].flags;
			ids[i] = v[i].id;
		}
		err = NULL;
		if (hs_compile_multi(srcs, flags, ids, (unsigned)n,
				     HS_MODE_BLOCK, NULL, &g->db,
				     &err) == HS_SUCCESS)
			break;
		if (err && err->expression >= 0 &&
		    (size_t)err->expression < n) {
			i = (size_t)err->expression;
			/* exact too large or too complex: try it looser */
			if (!(v[i].flags & HS_FLAG_PREFILTER)) {
				v[i].flags |= HS_FLAG_PREFILTER;
				pf->ids[v[i].id] &= ~1u;
			} else {
				demote(pf, v, &n, v[i].rule);
			}
			hs_free_compile_error(err);
			continue;
		}
		rc = ft_err(errstr, errstr_size, FT_EINVAL,
			    "vectorscan cannot build a database: %s",
			    err ? err->message : "unknown error");
		hs_free_compile_error(err);
		break;
	}
out:
	free(srcs);
	free(flags);
	free(ids);
	return rc;
}

static int add_u32(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (ft_grow((void **)v, *n, cap, sizeof(**v)))
		return FT_ENOMEM;
	(*v)[(*n)++] = x;
	return FT_OK;
}

/* Sorts a group's rules into place after classification. */
static int collect(struct ft_prefilter *pf, const struct ft_ruleset *rs)
{
	size_t i, cap, gi;
	struct pf_group *g;

	for (gi = 0; gi < pf->ngroups; gi++) {
		g = &pf->groups[gi];
		cap = 0;
		for (i = 0; i < rs->nrules; i++)
			if (pf->cls[i] == FT_PF_SCAN &&
			    (size_t)(rs->rules[i].field_index + 1) == gi &&
			    add_u32(&g->rules, &g->nrules, &cap, (uint32_t)i))
				return FT_ENOMEM;
	}
	cap = 0;
	for (i = 0; i < rs->nrules; i++) {
		const struct ft_rule *r = &rs->rules[i];
		bool visit =
			r->enabled && (pf->cls[i] == FT_PF_ALWAYS || r->when ||
				       (!r->npatterns && r->list < 0));

		if (pf->cls[i] == FT_PF_ALWAYS)
			pf->info.always_rules++;
		if (visit &&
		    add_u32(&pf->visit, &pf->nvisit, &cap, (uint32_t)i))
			return FT_ENOMEM;
	}
	return FT_OK;
}

int ft_prefilter_build(const struct ft_ruleset *rs, struct ft_prefilter **out,
		       char *errstr, size_t errstr_size)
{
	struct ft_prefilter *pf;
	struct expr *all = NULL, *v = NULL;
	size_t i, j, k, gi, n, nall = 0, cap_all = 0, cap_ids = 0;
	uint64_t t0;
	hs_database_t *db;
	size_t dbsize;
	unsigned fl;
	int rc;

	*out = NULL;
	if (!ft_prefilter_available())
		return ft_err(errstr, errstr_size, FT_ENOTSUP,
			      "this CPU is not supported by vectorscan");
	t0 = ft_mono_ns();
	pf = calloc(1, sizeof(*pf));
	if (!pf)
		return FT_ENOMEM;
	pf->nrules = rs->nrules;
	pf->ngroups = rs->nfields + 1;
	pf->cls = calloc(rs->nrules ? rs->nrules : 1, 1);
	pf->groups = calloc(pf->ngroups, sizeof(*pf->groups));
	if (!pf->cls || !pf->groups)
		goto nomem;

	/* classify every rule; its patterns' flags, in rule order */
	for (i = 0; i < rs->nrules; i++) {
		const struct ft_rule *r = &rs->rules[i];
		size_t first = nall;

		if (!r->enabled || !r->npatterns) {
			pf->cls[i] = r->enabled && r->list >= 0 ? FT_PF_ALWAYS
								: FT_PF_OFF;
			continue;
		}
		pf->cls[i] = r->list >= 0 ? FT_PF_ALWAYS : FT_PF_SCAN;
		for (j = 0; j < r->npatterns && pf->cls[i] == FT_PF_SCAN; j++) {
			fl = r->patterns[j].risky
				     ? 0
				     : pattern_flags(r->patterns[j].src);
			if (!fl) {
				pf->cls[i] = FT_PF_ALWAYS;
				nall = first; /* none of its patterns go in */
			} else if (ft_grow((void **)&all, nall, &cap_all,
					   sizeof(*all))) {
				goto nomem;
			} else {
				all[nall++] = (struct expr){r->patterns[j].src,
							    fl, 0, (uint32_t)i};
			}
		}
	}
	v = calloc(nall ? nall : 1, sizeof(*v));
	if (!v)
		goto nomem;
	/* one expression id per pattern, databases by group */
	for (gi = 0; gi < pf->ngroups; gi++) {
		n = 0;
		for (k = 0; k < nall; k++) {
			const struct expr *e = &all[k];
			bool exact;

			if ((size_t)(rs->rules[e->rule].field_index + 1) != gi)
				continue;
			exact = !(e->flags & HS_FLAG_PREFILTER) &&
				ascii(e->src);
			if (add_u32(&pf->ids, &pf->nids, &cap_ids,
				    e->rule << 1 | exact))
				goto nomem;
			v[n] = *e;
			v[n++].id = (uint32_t)pf->nids - 1;
		}
		if (!n)
			continue;
		rc = compile_group(pf, &pf->groups[gi], v, n, errstr,
				   errstr_size);
		if (rc) {
			free(v);
			free(all);
			ft_prefilter_free(pf);
			return rc;
		}
	}
	free(v);
	free(all);
	v = all = NULL;
	for (i = 0; i < pf->nids; i++) {
		size_t rule = pf->ids[i] >> 1;

		if (pf->cls[rule] != FT_PF_SCAN)
			continue;
		if (pf->ids[i] & 1)
			pf->info.exact++;
		else
			pf->info.prefilter++;
	}
	if (collect(pf, rs))
		goto nomem;
	for (gi = 0; gi < pf->ngroups; gi++) {
		db = pf->groups[gi].db;
		if (!db)
			continue;
		pf->info.groups++;
		if (hs_database_size(db, &dbsize) == HS_SUCCESS)
			pf->info.bytes += dbsize;
	}
	pf->info.compile_seconds = (double)(ft_mono_ns() - t0) / 1e9;
	*out = pf;
	return FT_OK;

nomem:
	free(v);
	free(all);
	ft_prefilter_free(pf);
	return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
}

void ft_prefilter_free(struct ft_prefilter *pf)
{
	size_t i;

	if (!pf)
		return;
	for (i = 0; pf->groups && i < pf->ngroups; i++) {
		hs_free_database(pf->groups[i].db);
		free(pf->groups[i].rules);
	}
	free(pf->groups);
	free(pf->cls);
	free(pf->ids);
	free(pf->visit);
	free(pf);
}

void ft_prefilter_get_info(const struct ft_prefilter *pf,
			   struct ft_prefilter_info *info)
{
	*info = pf->info;
}

enum ft_pf_class ft_prefilter_class(const struct ft_prefilter *pf, size_t i)
{
	return i < pf->nrules ? (enum ft_pf_class)pf->cls[i] : FT_PF_OFF;
}

size_t ft_prefilter_groups(const struct ft_prefilter *pf)
{
	return pf->ngroups;
}

const uint32_t *ft_prefilter_group_rules(const struct ft_prefilter *pf,
					 size_t group, size_t *n)
{
	*n = group < pf->ngroups ? pf->groups[group].nrules : 0;
	return *n ? pf->groups[group].rules : NULL;
}

const uint32_t *ft_prefilter_visit_rules(const struct ft_prefilter *pf,
					 size_t *n)
{
	*n = pf->nvisit;
	return pf->visit;
}

struct ft_prefilter_scratch *
ft_prefilter_scratch_new(const struct ft_prefilter *pf)
{
	struct ft_prefilter_scratch *s = calloc(1, sizeof(*s));
	size_t i;

	if (!s)
		return NULL;
	s->stamp = calloc(pf->nrules ? pf->nrules : 1, sizeof(*s->stamp));
	if (!s->stamp)
		goto fail;
	for (i = 0; i < pf->ngroups; i++)
		if (pf->groups[i].db &&
		    hs_alloc_scratch(pf->groups[i].db, &s->hs) != HS_SUCCESS)
			goto fail;
	return s;
fail:
	ft_prefilter_scratch_free(s);
	return NULL;
}

void ft_prefilter_scratch_free(struct ft_prefilter_scratch *s)
{
	if (!s)
		return;
	hs_free_scratch(s->hs);
	free(s->stamp);
	free(s);
}

struct scan_ctx {
	const struct ft_prefilter *pf;
	struct ft_prefilter_scratch *s;
	void (*hit)(void *opaque, uint32_t rule, bool exact);
	void *opaque;
	int reported;
};

static int on_match(unsigned int id, unsigned long long from,
		    unsigned long long to, unsigned int flags, void *opaque)
{
	struct scan_ctx *sc = opaque;
	uint32_t v = sc->pf->ids[id], rule = v >> 1;

	(void)from;
	(void)to;
	(void)flags;
	if (sc->s->stamp[rule] == sc->s->gen)
		return 0;
	sc->s->stamp[rule] = sc->s->gen;
	sc->reported++;
	if (sc->hit)
		sc->hit(sc->opaque, rule, v & 1);
	return 0;
}

static void next_gen(struct ft_prefilter_scratch *s, size_t nrules)
{
	if (++s->gen == 0) {
		memset(s->stamp, 0, nrules * sizeof(*s->stamp));
		s->gen = 1;
	}
}

/*
 * PCRE2's caseless UTF mode folds K and S with two non-ASCII characters,
 * KELVIN SIGN (U+212A) and LATIN SMALL LETTER LONG S (U+017F): (?i)k
 * matches U+212A.  Byte-mode patterns cannot see that, so a subject
 * holding either is not scanned.
 */
static bool has_fold_trap(const char *s, size_t n)
{
	return (memchr(s, 0xe2, n) && memmem(s, n, "\xe2\x84\xaa", 3)) ||
	       (memchr(s, 0xc5, n) && memmem(s, n, "\xc5\xbf", 2));
}

int ft_prefilter_scan(const struct ft_prefilter *pf, size_t group,
		      struct ft_prefilter_scratch *s, const char *data,
		      size_t len,
		      void (*hit)(void *opaque, uint32_t rule, bool exact),
		      void *opaque)
{
	struct scan_ctx sc = {pf, s, hit, opaque, 0};
	const struct pf_group *g;

	if (group >= pf->ngroups || !pf->groups[group].db || len == 0 ||
	    len > 0xffffffffu || !ft_json_utf8_valid(data, len) ||
	    has_fold_trap(data, len))
		return 0;
	g = &pf->groups[group];
	next_gen(s, pf->nrules);
	if (hs_scan(g->db, data, (unsigned)len, 0, s->hs, on_match, &sc) !=
	    HS_SUCCESS)
		return FT_EIO;
	return 1;
}

int ft_prefilter_scan_only(const struct ft_prefilter *pf,
			   struct ft_prefilter_scratch *s, const char *data,
			   size_t len)
{
	struct scan_ctx sc = {pf, s, NULL, NULL, 0};
	size_t gi;

	if (len == 0 || len > 0xffffffffu)
		return 0;
	next_gen(s, pf->nrules);
	for (gi = 0; gi < pf->ngroups; gi++)
		if (pf->groups[gi].db &&
		    hs_scan(pf->groups[gi].db, data, (unsigned)len, 0, s->hs,
			    on_match, &sc) != HS_SUCCESS)
			return FT_EIO;
	return sc.reported;
}

#else /* !FLAGTAP_HAVE_VECTORSCAN */

bool ft_prefilter_available(void)
{
	return false;
}

const char *ft_prefilter_version(void)
{
	return "none";
}

int ft_prefilter_build(const struct ft_ruleset *rs, struct ft_prefilter **out,
		       char *errstr, size_t errstr_size)
{
	(void)rs;
	*out = NULL;
	return ft_err(errstr, errstr_size, FT_ENOTSUP,
		      "built without vectorscan");
}

void ft_prefilter_free(struct ft_prefilter *pf)
{
	(void)pf;
}

void ft_prefilter_get_info(const struct ft_prefilter *pf,
			   struct ft_prefilter_info *info)
{
	(void)pf;
	memset(info, 0, sizeof(*info));
}

enum ft_pf_class ft_prefilter_class(const struct ft_prefilter *pf, size_t i)
{
	(void)pf;
	(void)i;
	return FT_PF_ALWAYS;
}

size_t ft_prefilter_groups(const struct ft_prefilter *pf)
{
	(void)pf;
	return 0;
}

const uint32_t *ft_prefilter_group_rules(const struct ft_prefilter *pf,
					 size_t group, size_t *n)
{
	(void)pf;
	(void)group;
	*n = 0;
	return NULL;
}

const uint32_t *ft_prefilter_visit_rules(const struct ft_prefilter *pf,
					 size_t *n)
{
	(void)pf;
	*n = 0;
	return NULL;
}

struct ft_prefilter_scratch *
ft_prefilter_scratch_new(const struct ft_prefilter *pf)
{
	(void)pf;
	return NULL;
}

void ft_prefilter_scratch_free(struct ft_prefilter_scratch *s)
{
	(void)s;
}

int ft_prefilter_scan(const struct ft_prefilter *pf, size_t group,
		      struct ft_prefilter_scratch *s, const char *data,
		      size_t len,
		      void (*hit)(void *opaque, uint32_t rule, bool exact),
		      void *opaque)
{
	(void)pf;
	(void)group;
	(void)s;
	(void)data;
	(void)len;
	(void)hit;
	(void)opaque;
	return 0;
}

int ft_prefilter_scan_only(const struct ft_prefilter *pf,
			   struct ft_prefilter_scratch *s, const char *data,
			   size_t len)
{
	(void)pf;
	(void)s;
	(void)data;
	(void)len;
	return 0;
}

#endif
