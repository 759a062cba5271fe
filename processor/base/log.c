/*
 * log: timestamped lines on stderr, as text, logfmt or JSON.
 */
#include "flagtap/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flagtap/buf.h"
#include "flagtap/json.h"

static enum ft_log_level min_level = FT_LOG_INFO;
static enum ft_log_format format = FT_LOG_TEXT;
static const char *names[] = {"debug", "info", "warn", "error"};
static const char *formats[] = {"text", "logfmt", "json"};

void ft_log_set_level(enum ft_log_level level)
{
	min_level = level;
}

static int lookup(const char *const *v, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i], name))
			return i;
	return -1;
}

int ft_log_parse_level(const char *name)
{
	return lookup(names, (int)(sizeof(names) / sizeof(names[0])), name);
}

void ft_log_set_format(enum ft_log_format f)
{
	format = f;
}

int ft_log_parse_format(const char *name)
{
	return lookup(formats, (int)(sizeof(formats) / sizeof(formats[0])),
		      name);
}

/* logfmt: a value with a space, quote, '=' or control character is
 * quoted, with '"' and '\' escaped and control characters as \n, \t or
 * \u00XX. */
static void logfmt_value(struct ft_buf *b, const char *s)
{
	const char *p;

	if (*s && !strpbrk(s, " \"=\\")) {
		for (p = s; *p && (unsigned char)*p >= 0x20; p++)
			;
		if (!*p) {
			ft_buf_adds(b, s);
			return;
		}
	}
	ft_buf_addc(b, '"');
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\') {
			ft_buf_addc(b, '\\');
			ft_buf_addc(b, (char)c);
		} else if (c == '\n') {
			ft_buf_adds(b, "\\n");
		} else if (c == '\t') {
			ft_buf_adds(b, "\\t");
		} else if (c < 0x20) {
			ft_buf_addf(b, "\\u%04x", c);
		} else {
			ft_buf_addc(b, (char)c);
		}
	}
	ft_buf_addc(b, '"');
}

void ft_log_format_line(struct ft_buf *b, enum ft_log_format f, const char *ts,
			long pid, enum ft_log_level level, const char *msg)
{
	switch (f) {
	case FT_LOG_LOGFMT:
		ft_buf_addf(b, "ts=%s level=%s pid=%ld msg=", ts, names[level],
			    pid);
		logfmt_value(b, msg);
		break;
	case FT_LOG_JSON:
		ft_buf_addf(b,
			    "{\"ts\":\"%s\",\"level\":\"%s\",\"pid\":%ld,"
			    "\"msg\":",
			    ts, names[level], pid);
		ft_json_quote(b, msg, strlen(msg));
		ft_buf_addc(b, '}');
		break;
	default:
		ft_buf_addf(b, "%s flagtap[%ld] %s: %s", ts, pid, names[level],
			    msg);
	}
	ft_buf_addc(b, '\n');
}

void ft_log(enum ft_log_level level, const char *fmt, ...)
{
	char msg[1024], ts[64], sec[32];
	struct ft_buf line = FT_BUF_INIT;
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts, sizeof(ts), "%s.%03dZ", sec, (int)(now.tv_nsec / 1000000));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ft_log_format_line(&line, format, ts, (long)getpid(), level, msg);
	/* one write per line: lines from threads never interleave */
	if (ft_buf_ok(&line))
		fwrite(line.data, 1, line.len, stderr);
	ft_buf_release(&line);
}
