/*
 * log: one line per event on stderr (the journal, under systemd).
 *
 *   text:   2026-11-26T23:59:01.123Z flagtap[4242] info: assigned payments/0
 *   logfmt: ts=2026-11-26T23:59:01.123Z level=info pid=4242 msg="assigned
 *           payments/0"
 *   json:   {"ts":"2026-11-26T23:59:01.123Z","level":"info","pid":4242,
 *            "msg":"assigned payments/0"}
 *
 * Messages never contain secrets: callers log configuration by key, never
 * librdkafka's configuration dump.  Thread-safe (one fprintf per line).
 */
#ifndef FLAGTAP_LOG_H
#define FLAGTAP_LOG_H

enum ft_log_level {
	FT_LOG_DEBUG,
	FT_LOG_INFO,
	FT_LOG_WARN,
	FT_LOG_ERROR,
};

/* Sets the least severe level written; default FT_LOG_INFO. */
void ft_log_set_level(enum ft_log_level level);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int ft_log_parse_level(const char *name);
enum ft_log_format {
	FT_LOG_TEXT,
	FT_LOG_LOGFMT,
	FT_LOG_JSON,
};

/* Sets the line format; default FT_LOG_TEXT. */
void ft_log_set_format(enum ft_log_format f);
/* Parses "text", "logfmt", "json"; returns -1 if unknown. */
int ft_log_parse_format(const char *name);

struct ft_buf;
/* Appends one formatted line (with its newline): the pure part of
 * ft_log(), for tests. */
void ft_log_format_line(struct ft_buf *b, enum ft_log_format f, const char *ts,
			long pid, enum ft_log_level level, const char *msg);

void ft_log(enum ft_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define ft_debug(...) ft_log(FT_LOG_DEBUG, __VA_ARGS__)
#define ft_info(...) ft_log(FT_LOG_INFO, __VA_ARGS__)
#define ft_warn(...) ft_log(FT_LOG_WARN, __VA_ARGS__)
#define ft_error(...) ft_log(FT_LOG_ERROR, __VA_ARGS__)

#endif
