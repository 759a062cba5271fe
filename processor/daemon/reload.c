/*
 * reload: load + test a new rule set; notice changes on disk.
 */
#include "flagtap/reload.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flagtap/common.h"
#include "flagtap/match.h"

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ s[i]) * FNV_PRIME;
	return h;
}

/* Mixes one file's name, size and modification time into h. */
static uint64_t mix_file(uint64_t h, const char *path)
{
	struct stat st;
	int64_t v[3] = {-1, -1, -1};

	if (!stat(path, &st)) {
		v[0] = (int64_t)st.st_size;
		v[1] = (int64_t)st.st_mtim.tv_sec;
		v[2] = (int64_t)st.st_mtim.tv_nsec;
	}
	h = fnv(h, path, strlen(path) + 1);
	return fnv(h, v, sizeof(v));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fingerprint of a rules path (a file, or a directory's *.rules). */
static uint64_t fingerprint(const struct ft_reloader *rl)
{
	char *names[1024], full[4096];
	uint64_t h = mix_file(FNV_OFFSET, rl->path);
	struct dirent *de;
	size_t n = 0, i, len;
	DIR *d;

	d = opendir(rl->path);
	while (d && (de = readdir(d)) && n < FT_ARRAY_SIZE(names)) {
		len = strlen(de->d_name);
		if (de->d_name[0] != '.' && len > 6 &&
		    !strcmp(de->d_name + len - 6, ".rules"))
			names[n++] = strdup(de->d_name);
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		if (names[i]) {
			snprintf(full, sizeof(full), "%s/%s", rl->path,
				 names[i]);
			h = mix_file(h, full);
		}
		free(names[i]);
	}
	for (i = 0; i < rl->nlists; i++)
		h = mix_file(h, rl->lists[i]);
	return h;
}

static void free_lists(struct ft_reloader *rl)
{
	size_t i;

	for (i = 0; i < rl->nlists; i++)
		free(rl->lists[i]);
	free(rl->lists);
	rl->lists = NULL;
	rl->nlists = 0;
}

int ft_reloader_adopt(struct ft_reloader *rl, const struct ft_ruleset *rs)
{
	/* a file that changed while the set was loading and compiling is not
	 * in it: look again at the next poll */
	bool stale = rl->at_load && fingerprint(rl) != rl->at_load;
	size_t i;

	free_lists(rl);
	rl->lists = calloc(rs->nlists ? rs->nlists : 1, sizeof(*rl->lists));
	if (!rl->lists)
		return FT_ENOMEM;
	for (i = 0; i < rs->nlists; i++) {
		rl->lists[i] = strdup(rs->lists[i].path);
		if (!rl->lists[i])
			return FT_ENOMEM;
		rl->nlists++;
	}
	rl->fingerprint = stale ? 0 : fingerprint(rl);
	rl->at_load = 0;
	return FT_OK;
}

int ft_reloader_init(struct ft_reloader *rl, const char *path,
		     const struct ft_rules_opts *opts,
		     const struct ft_ruleset *rs, int interval_ms)
{
	memset(rl, 0, sizeof(*rl));
	rl->path = strdup(path);
	if (!rl->path)
		return FT_ENOMEM;
	rl->opts = *opts;
	rl->interval_ms = interval_ms;
	return ft_reloader_adopt(rl, rs);
}

void ft_reloader_release(struct ft_reloader *rl)
{
	if (!rl)
		return;
	free(rl->path);
	free_lists(rl);
	memset(rl, 0, sizeof(*rl));
}

bool ft_reloader_changed(struct ft_reloader *rl, int64_t now_ms)
{
	if (!rl->interval_ms || now_ms < rl->next_check_ms)
		return false;
	rl->next_check_ms = now_ms + rl->interval_ms;
	return fingerprint(rl) != rl->fingerprint;
}

struct fail_ctx {
	struct ft_diags *diags;
};

static void on_fail(void *opaque, const struct ft_rule *r,
		    const struct ft_rule_test *t, bool example, int outcome)
{
	struct fail_ctx *fc = opaque;

	ft_diags_add(fc->diags, false, "%s:%d: rule %s: %s %s", r->file,
		     t->line, r->id, example ? "example" : "counter",
		     outcome < 0 ? ft_match_error_name((enum ft_match_error) -
						       outcome)
		     : example	 ? "does not fire"
				 : "fires");
}

int ft_reloader_load(struct ft_reloader *rl, struct ft_ruleset **out,
		     struct ft_diags *diags, struct ft_rules_test_report *rep)
{
	struct fail_ctx fc = {diags};
	struct ft_ruleset *rs = NULL;
	int rc;

	*out = NULL;
	memset(rep, 0, sizeof(*rep));
	rl->at_load = fingerprint(rl);
	rc = ft_ruleset_load(rl->path, &rl->opts, &rs, diags);
	if (!rc)
		rc = ft_rules_test(rs, on_fail, &fc, rep);
	if (rc) {
		/* try again on the next change, not on every poll */
		rl->fingerprint = rl->at_load;
		rl->at_load = 0;
		ft_ruleset_free(rs);
		return rc;
	}
	*out = rs;
	return FT_OK;
}
