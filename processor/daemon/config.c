/*
 * config: the properties file as written: parser, -X overrides, origins.
 * The table of keys and the typed settings are in settings.c.
 */
#include "flagtap/config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"

#define CONFIG_MAX_BYTES (4u << 20)

void ft_config_init(struct ft_config *c)
{
	c->v = NULL;
	c->n = c->cap = 0;
}

void ft_config_release(struct ft_config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
		free(c->v[i].origin);
	}
	free(c->v);
	ft_config_init(c);
}

static struct ft_config_entry *find(const struct ft_config *c, const char *key)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].key, key))
			return &c->v[i];
	return NULL;
}

const struct ft_config_entry *ft_config_entry(const struct ft_config *c,
					      const char *key)
{
	return find(c, key);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int ft_config_set(struct ft_config *c, const char *key, const char *value,
		  const char *origin, int line)
{
	struct ft_config_entry *e = find(c, key);
	char *v, *o = NULL;

	v = strdup(value);
	if (!v || (origin && !(o = strdup(origin)))) {
		free(v);
		return FT_ENOMEM;
	}
	if (e) {
		free(e->value);
		free(e->origin);
		e->value = v;
		e->origin = o;
		e->line = line;
		return FT_OK;
	}
	if (ft_grow((void **)&c->v, c->n, &c->cap, sizeof(*c->v)))
		goto out_nomem;
	e = &c->v[c->n];
	e->key = dup_or_null(key);
	if (!e->key)
		goto out_nomem;
	e->value = v;
	e->origin = o;
	e->line = line;
	c->n++;
	return FT_OK;

out_nomem:
	free(v);
	free(o);
	return FT_ENOMEM;
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *trim_end(const char *start, const char *end)
{
	while (end > start &&
	       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	return end;
}

static bool valid_key_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '.' || ch == '_' ||
	       ch == '-';
}

/* Parses one non-blank, non-comment line into key and value. */
static int parse_line(struct ft_config *c, const char *name, int lineno,
		      const char *p, const char *end, char *errstr,
		      size_t errstr_size)
{
	const char *k = p, *kend, *v;
	const struct ft_config_entry *prev;
	char key[256];
	char *value;
	size_t klen;
	int rc;

	while (p < end && valid_key_char(*p))
		p++;
	kend = p;
	p = skip_space(p, end);
	if (kend == k || p == end || (*p != '=' && *p != ':'))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%d: expected 'key = value'", name, lineno);
	klen = (size_t)(kend - k);
	if (klen >= sizeof(key))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%d: key too long", name, lineno);
	memcpy(key, k, klen);
	key[klen] = '\0';
	prev = find(c, key);
	if (prev && prev->origin && !strcmp(prev->origin, name))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%d: duplicate key '%s' (first set at line "
			      "%d)",
			      name, lineno, key, prev->line);
	v = skip_space(p + 1, end);
	value = strndup(v, (size_t)(trim_end(v, end) - v));
	if (!value)
		return ft_err(errstr, errstr_size, FT_ENOMEM,
			      "%s:%d: out of memory", name, lineno);
	rc = ft_config_set(c, key, value, name, lineno);
	free(value);
	if (rc)
		return ft_err(errstr, errstr_size, rc, "%s:%d: out of memory",
			      name, lineno);
	return FT_OK;
}

int ft_config_parse(struct ft_config *c, const char *name, const char *text,
		    size_t len, char *errstr, size_t errstr_size)
{
	const char *p = text, *end = text + len, *eol;
	int lineno = 0, rc;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		lineno++;
		if (memchr(p, '\0', (size_t)(eol - p)))
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s:%d: NUL byte in line", name, lineno);
		p = skip_space(p, eol);
		if (p < trim_end(p, eol) && *p != '#') {
			rc = parse_line(c, name, lineno, p, trim_end(p, eol),
					errstr, errstr_size);
			if (rc)
				return rc;
		}
		p = eol + 1;
	}
	return FT_OK;
}

int ft_config_load(struct ft_config *c, const char *path, char *errstr,
		   size_t errstr_size)
{
	char *text;
	size_t len;
	int rc;

	rc = ft_read_file(path, CONFIG_MAX_BYTES, &text, &len, errstr,
			  errstr_size);
	if (rc)
		return rc;
	rc = ft_config_parse(c, path, text, len, errstr, errstr_size);
	free(text);
	return rc;
}

int ft_config_override(struct ft_config *c, const char *arg, char *errstr,
		       size_t errstr_size)
{
	const char *eq = strchr(arg, '=');
	char *key;
	int rc;

	if (!eq || eq == arg)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "-X %s: expected key=value", arg);
	key = strndup(arg, (size_t)(eq - arg));
	if (!key)
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	rc = ft_config_set(c, key, eq + 1, NULL, 0);
	free(key);
	if (rc)
		return ft_err(errstr, errstr_size, rc, "out of memory");
	return FT_OK;
}

void ft_config_where(const struct ft_config_entry *e, char *out,
		     size_t out_size)
{
	if (e->origin)
		snprintf(out, out_size, "%s:%d", e->origin, e->line);
	else
		snprintf(out, out_size, "-X %s", e->key);
}
