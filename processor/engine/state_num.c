/*
 * state_num: what the state reads from values (see state.h): event times
 * (epoch milliseconds, RFC 3339), exact amounts scaled to fixed point,
 * and calendar windows in fixed offsets or IANA zones (ICU ucal).
 */
#include <ctype.h>
#include <string.h>

#include <unicode/ucal.h>

#include "flagtap/common.h"
#include "flagtap/decimal.h"
#include "state_int.h"

void state_trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int state_utc_date(int64_t t)
{
	int64_t z = (t >= 0 ? t : t - 86399999) / 86400000 + 719468, era, doe,
		yoe, y, doy, mp, d, m;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	return (int)(y * 10000 + m * 100 + d);
}

/* n digits at *p into *v; false when fewer. */
static bool digits(const char **p, const char *end, int n, int *v)
{
	*v = 0;
	while (n--) {
		if (*p == end || !isdigit((unsigned char)**p))
			return false;
		*v = *v * 10 + (*(*p)++ - '0');
	}
	return true;
}

static int parse_epoch(const char *s, size_t n, int64_t *ms)
{
	int64_t v = 0;
	size_t i = 0;
	bool neg = n && s[0] == '-';

	if (neg)
		i++;
	if (i == n || n - i > 15)
		return FT_EINVAL;
	for (; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return FT_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*ms = neg ? -v : v;
	return FT_OK;
}

int ft_state_parse_time(const char *s, size_t n, int64_t *ms)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31};
	const char *p, *end;
	int y, mo, d, h, mi, sec, oh, om, frac = 0, k;
	int64_t off = 0;

	state_trim(&s, &n);
	p = s;
	end = s + n;
	if (n < 11 || s[4] != '-')
		return parse_epoch(s, n, ms);
	if (!digits(&p, end, 4, &y) || *p++ != '-' ||
	    !digits(&p, end, 2, &mo) || mo < 1 || mo > 12 || p == end ||
	    *p++ != '-' || !digits(&p, end, 2, &d) || d < 1 ||
	    d > mdays[mo - 1] || p == end ||
	    (*p != 'T' && *p != 't' && *p != ' '))
		return FT_EINVAL;
	p++;
	if (!digits(&p, end, 2, &h) || h > 23 || p == end || *p++ != ':' ||
	    !digits(&p, end, 2, &mi) || mi > 59 || p == end || *p++ != ':' ||
	    !digits(&p, end, 2, &sec) || sec > 60)
		return FT_EINVAL;
	if (p < end && *p == '.') {
		p++;
		if (p == end || !isdigit((unsigned char)*p))
			return FT_EINVAL;
		for (k = 0; p < end && isdigit((unsigned char)*p); p++, k++)
			if (k < 3)
				frac = frac * 10 + (*p - '0');
		for (; k < 3; k++)
			frac *= 10;
	}
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		char sign = *p++;

		if (!digits(&p, end, 2, &oh) || oh > 23 || p == end ||
		    *p++ != ':' || !digits(&p, end, 2, &om) || om > 59)
			return FT_EINVAL;
		off = (sign == '-' ? -1 : 1) * (int64_t)(oh * 60 + om) * 60000;
	} else {
		return FT_EINVAL; /* RFC 3339 requires the offset */
	}
	if (p != end)
		return FT_EINVAL;
	*ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 +
	      (int64_t)(sec > 59 ? 59 : sec) * 1000 + frac - off;
	return FT_OK;
}

/* 10^k for k <= 38. */
static i128 pow10i(int k)
{
	i128 v = 1;

	while (k-- > 0)
		v *= 10;
	return v;
}

int state_parse_amount(const char *s, size_t n, i128 *out)
{
	struct ft_decimal d;
	int64_t e = 0, k;
	size_t nd, i;
	i128 v = 0;

	if (ft_decimal_parse(s, n, &d))
		return FT_EINVAL;
	if (!d.sign) {
		*out = 0;
		return FT_OK;
	}
	if (d.el > 4)
		return FT_EINVAL;
	for (i = 0; i < d.el; i++)
		e = e * 10 + (d.ep[i] - '0');
	e *= d.esign;
	nd = d.n1 + d.n2;
	/* value = D x 10^(pos + e - nd); scaled: D x 10^k */
	k = d.pos + e - (int64_t)nd + FT_STATE_SCALE;
	if (k < 0 || (int64_t)nd + k > 36)
		return FT_EINVAL;
	for (i = 0; i < nd; i++)
		v = v * 10 + ((i < d.n1 ? d.d1[i] : d.d2[i - d.n1]) - '0');
	*out = v * pow10i((int)k) * d.sign;
	return FT_OK;
}

/* 10^19: the most decimal digits a uint64_t holds in full. */
#define DIGITS_CHUNK 10000000000000000000ull

void state_format_amount(i128 v, int scale, char *out, size_t size)
{
	char d[48], buf[64];
	bool neg = v < 0;
	unsigned __int128 u =
		neg ? -(unsigned __int128)v : (unsigned __int128)v;
	uint64_t part;
	size_t n = 0, len = 0, k, z = 0;

	if (!size)
		return;
	/* the digits, least significant first: 128-bit divisions by 10^19
	 * (at most two), the rest in 64 bits */
	do {
		part = (uint64_t)(u % DIGITS_CHUNK);
		u /= DIGITS_CHUNK;
		for (k = 0; k < 19 && (part || u); k++, part /= 10)
			d[n++] = (char)('0' + (int)(part % 10));
	} while (u);
	while (n <= (size_t)scale)
		d[n++] = '0';
	/* fraction digits, trailing zeros dropped */
	while (z < (size_t)scale && d[z] == '0')
		z++;
	if (neg)
		buf[len++] = '-';
	for (k = n; k > (size_t)scale; k--)
		buf[len++] = d[k - 1];
	if (z < (size_t)scale)
		buf[len++] = '.';
	for (k = (size_t)scale; k > z; k--)
		buf[len++] = d[k - 1];
	if (len > size - 1)
		len = size - 1;
	memcpy(out, buf, len);
	out[len] = '\0';
}

int state_zone_open(struct rstate *x, const char *zone)
{
	UChar uz[64];
	UErrorCode err = U_ZERO_ERROR;
	size_t i, n = strlen(zone);

	if (n >= FT_ARRAY_SIZE(uz))
		return FT_EINVAL;
	for (i = 0; i < n; i++)
		uz[i] = (UChar)(unsigned char)zone[i];
	x->cal = ucal_open(uz, (int32_t)n, "en_US_POSIX", UCAL_GREGORIAN, &err);
	if (U_FAILURE(err)) {
		x->cal = NULL;
		return FT_EINVAL;
	}
	return FT_OK;
}

void state_zone_close(struct rstate *x)
{
	if (x->cal)
		ucal_close(x->cal);
	x->cal = NULL;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

int state_calendar(struct rstate *x, const struct ft_rule_state *rst, int64_t t,
		   int64_t *start, int64_t *end)
{
	UErrorCode err = U_ZERO_ERROR;
	int64_t w = rst->window_ms, off = (int64_t)rst->offset_min * 60000;

	if (x->cache_end > x->cache_start && t >= x->cache_start &&
	    t < x->cache_end) {
		*start = x->cache_start;
		*end = x->cache_end;
		return FT_OK;
	}
	if (!x->cal) {
		*start = floor_div(t + off, w) * w - off;
		*end = *start + w;
	} else {
		ucal_setMillis(x->cal, (UDate)t, &err);
		ucal_set(x->cal, UCAL_MILLISECOND, 0);
		ucal_set(x->cal, UCAL_SECOND, 0);
		ucal_set(x->cal, UCAL_MINUTE, 0);
		if (rst->window == FT_WIN_DAY)
			ucal_set(x->cal, UCAL_HOUR_OF_DAY, 0);
		*start = (int64_t)ucal_getMillis(x->cal, &err);
		ucal_add(x->cal,
			 rst->window == FT_WIN_DAY ? UCAL_DATE : UCAL_HOUR, 1,
			 &err);
		*end = (int64_t)ucal_getMillis(x->cal, &err);
		if (U_FAILURE(err) || *end <= *start || t < *start || t >= *end)
			return FT_EINVAL;
	}
	x->cache_start = *start;
	x->cache_end = *end;
	return FT_OK;
}
