/*
 * format: one table entry per input format (name, detection, check).
 */
#include "flagtap/format.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/json.h"

const char *ft_format_field(const char *name, enum ft_format format)
{
	static const char *const prefixes[] = {
		"capture:", "json:", "logfmt:", "fix:"};
	size_t i, n;

	for (i = 0; i < FT_ARRAY_SIZE(prefixes); i++) {
		n = strlen(prefixes[i]);
		if (strncmp(name, prefixes[i], n))
			continue;
		return (int)i == (int)format ? name + n : NULL;
	}
	return name;
}

/* Past the blanks at the start of a record. */
static const char *skip_blanks(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

static bool json_detect(const char *p, const char *e)
{
	return p < e && *p == '{';
}

static int json_check(const char *rec, size_t len, const char *p, char *why,
		      size_t why_size)
{
	if (!json_detect(p, rec + len))
		return ft_err(why, why_size, FT_EINVAL, "not a JSON object");
	return ft_json_validate(rec, len, why, why_size) ? FT_EINVAL : FT_OK;
}

static bool fix_detect(const char *p, const char *e)
{
	return e - p >= 5 && !memcmp(p, "8=FIX", 5);
}

static int fix_check(const char *rec, size_t len, const char *p, char *why,
		     size_t why_size)
{
	if (!fix_detect(p, rec + len))
		return ft_err(why, why_size, FT_EINVAL,
			      "not a FIX message (no 8=FIX)");
	return FT_OK;
}

/* logfmt: an identifier, then '=' */
static bool logfmt_detect(const char *p, const char *e)
{
	if (p == e || !(isalpha((unsigned char)*p) || *p == '_'))
		return false;
	while (p < e && (isalnum((unsigned char)*p) || *p == '_' || *p == '.' ||
			 *p == '-'))
		p++;
	return p < e && *p == '=';
}

static int logfmt_check(const char *rec, size_t len, const char *p, char *why,
			size_t why_size)
{
	(void)p;
	if (!memchr(rec, '=', len))
		return ft_err(why, why_size, FT_EINVAL,
			      "not logfmt (no key=value)");
	return FT_OK;
}

/*
 * Indexed by enum ft_format.  detect: does a record starting at p (after
 * blanks) look like one, tried in ft_format_detect()'s order (NULL: not
 * detected, text being what is left); check: 0 or FT_EINVAL with why
 * (NULL: always readable).
 */
static const struct format_def {
	const char *name;
	bool (*detect)(const char *p, const char *e);
	int (*check)(const char *rec, size_t len, const char *p, char *why,
		     size_t why_size);
} formats[] = {
	[FT_FORMAT_TEXT] = {"text", NULL, NULL},
	[FT_FORMAT_JSON] = {"json", json_detect, json_check},
	[FT_FORMAT_LOGFMT] = {"logfmt", logfmt_detect, logfmt_check},
	[FT_FORMAT_FIX] = {"fix", fix_detect, fix_check},
	[FT_FORMAT_AUTO] = {"auto", NULL, NULL},
};

/* The order in which auto tries the formats. */
static const enum ft_format detect_order[] = {FT_FORMAT_JSON, FT_FORMAT_FIX,
					      FT_FORMAT_LOGFMT};

int ft_format_parse(const char *name)
{
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(formats); i++)
		if (!strcmp(formats[i].name, name))
			return (int)i;
	return -1;
}

const char *ft_format_name(enum ft_format f)
{
	return (unsigned)f < FT_ARRAY_SIZE(formats) ? formats[f].name : "?";
}

const char *ft_format_list(char *out, size_t size, const char *sep,
			   const char *last, bool with_auto)
{
	size_t i, len = 0;
	size_t n = with_auto ? FT_ARRAY_SIZE(formats) : FT_FORMAT_AUTO;
	int w;

	if (!size)
		return out;
	out[0] = '\0';
	for (i = 0; i < n && len < size; i++) {
		w = snprintf(out + len, size - len, "%s%s",
			     !i		  ? ""
			     : i + 1 == n ? last
					  : sep,
			     formats[i].name);
		if (w < 0)
			break;
		len += (size_t)w;
	}
	return out;
}

enum ft_format ft_format_detect(const char *rec, size_t len)
{
	const char *e = rec + len, *p = skip_blanks(rec, e);
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(detect_order); i++)
		if (formats[detect_order[i]].detect(p, e))
			return detect_order[i];
	return FT_FORMAT_TEXT;
}

int ft_format_check(const char *rec, size_t len, enum ft_format format,
		    char *why, size_t why_size)
{
	if (format == FT_FORMAT_AUTO)
		format = ft_format_detect(rec, len);
	if ((unsigned)format >= FT_ARRAY_SIZE(formats) ||
	    !formats[format].check)
		return FT_OK;
	return formats[format].check(rec, len, skip_blanks(rec, rec + len), why,
				     why_size);
}
