/*
 * log: timestamped lines on stderr.
 */
#include "flagtap/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum ft_log_level min_level = FT_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};

void ft_log_set_level(enum ft_log_level level)
{
	min_level = level;
}

int ft_log_parse_level(const char *name)
{
	int i;

	for (i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

void ft_log(enum ft_log_level level, const char *fmt, ...)
{
	char msg[1024], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ flagtap[%ld] %s: %s\n", ts,
		now.tv_nsec / 1000000, (long)getpid(), names[level], msg);
}
