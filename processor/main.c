/*
 * flagtap: command line.  Argument parsing, signals, exit codes; the only
 * place that exits.
 *
 * Exit codes: 0 success, 1 runtime failure (fatal Kafka error, lost
 * delivery, failed rule test), 2 usage or configuration error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "flagtap/audit.h"
#include "flagtap/bench.h"
#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/config.h"
#include "flagtap/decode.h"
#include "flagtap/demo.h"
#include "flagtap/format.h"
#include "flagtap/gen.h"
#include "flagtap/gencmd.h"
#include "flagtap/kafka.h"
#include "flagtap/log.h"
#include "flagtap/match.h"
#include "flagtap/pipeline.h"
#include "flagtap/prefilter.h"
#include "flagtap/record.h"
#include "flagtap/recfile.h"
#include "flagtap/import.h"
#include "flagtap/rules.h"
#include "flagtap/rulescmd.h"
#include "flagtap/runcmd.h"
#include "flagtap/scan.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* The numbers commands take (ft_parse_number()). */
static const struct ft_num_spec count_spec = {
	.min = 1, .max = (double)UINT64_MAX, .integer = true};
static const struct ft_num_spec count0_spec = {
	.min = 0, .max = (double)UINT64_MAX, .integer = true};
static const struct ft_num_spec seed_spec = {
	.min = 0, .max = (double)UINT64_MAX, .integer = true, .any_base = true};
/* a rate (records per second, "/s" optional) or a speed factor */
static const struct ft_num_spec positive_spec = {
	.min = 0, .min_open = true, .max = HUGE_VAL, .suffix = "/s"};
static const struct ft_num_spec fraction_spec = {.min = 0, .max = 1};
static const struct ft_num_spec seconds_spec = {.min = 0, .max = HUGE_VAL};
static const struct ft_num_spec workers_spec = {
	.min = 1, .max = 256, .integer = true};

/* "flagtap: CMD: OPT ARG: expected WHAT" on stderr; returns EXIT_USAGE. */
static int bad_value(const char *cmd, const char *opt, const char *arg,
		     const char *what)
{
	fprintf(stderr, "flagtap: %s: %s %s: expected %s\n", cmd, opt, arg,
		what);
	return EXIT_USAGE;
}

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_reload_signal(int sig)
{
	(void)sig;
	reload_requested = 1;
}

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* SIGTERM/SIGINT ask for a clean stop; a second one kills (SA_RESETHAND). */
static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sa.sa_handler = on_reload_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
}

/*
 * A command or a rules subcommand: its handler gets argv from the
 * command's name on.  args: the synopsis after the name (NULL: an alias,
 * not listed); help: what it does, one line per '\n'.
 */
struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	int min_operands; /* fewer after the name: the parent's usage */
	const char *args;
	const char *help;
	const struct command *sub; /* subcommands, NULL-named last */
};

/* The tables, defined after the handlers they name. */
static const struct command *command_table(void);
static const struct command *rules_table(void);

/* "  NAME ARGS" and its help lines, as `flagtap help` lists them. */
static void usage_entry(FILE *out, const char *parent, const struct command *c)
{
	const char *h = c->help, *nl;

	fprintf(out, "  %s%s%s%s%s\n", parent ? parent : "", parent ? " " : "",
		c->name, *c->args ? " " : "", c->args);
	while (h && *h) {
		nl = strchr(h, '\n');
		fprintf(out, "        %.*s\n",
			(int)(nl ? (size_t)(nl - h) : strlen(h)), h);
		h = nl ? nl + 1 : "";
	}
}

static void usage(FILE *out)
{
	const struct command *c, *s;

	fprintf(out,
		"usage: flagtap [--no-jit] [--engine auto|pcre2] <command> "
		"[options]\n\ncommands:\n");
	for (c = command_table(); c->name; c++) {
		for (s = c->sub; s && s->name; s++)
			if (s->args)
				usage_entry(out, c->name, s);
		if (c->args && !c->sub)
			usage_entry(out, NULL, c);
	}
	fprintf(out, "\nconfiguration keys (run):\n");
	ft_config_describe(out);
}

/* One command's synopsis on stderr; returns EXIT_USAGE. */
static int command_usage(const struct command *table, const char *parent,
			 const char *name)
{
	const struct command *c;
	bool first = true;

	for (c = table; c->name; c++) {
		if (!c->args || (name && strcmp(c->name, name)))
			continue;
		fprintf(stderr, "%s flagtap %s%s%s%s%s\n",
			first ? "usage:" : "      ", parent ? parent : "",
			parent ? " " : "", c->name, *c->args ? " " : "",
			c->args);
		first = false;
	}
	return EXIT_USAGE;
}

/* Runs the command of table named argv[0]; -1 if there is none. */
static int dispatch(const struct command *table, int argc, char **argv)
{
	const struct command *c;

	for (c = table; argc > 0 && c->name; c++)
		if (!strcmp(argv[0], c->name) && argc - 1 >= c->min_operands)
			return c->run(argc, argv);
	return -1;
}

static const char *default_rules(void)
{
	const char *env = getenv("FLAGTAP_RULES");

	if (env && *env)
		return env;
#ifdef FT_SOURCE_RULES_DIR
	struct stat st;

	if (!stat(FT_SOURCE_RULES_DIR, &st) && S_ISDIR(st.st_mode))
		return FT_SOURCE_RULES_DIR;
#endif
	return FT_INSTALL_RULES_DIR;
}

/* Options of commands that load rules without a config (--no-jit). */
static struct ft_rules_opts cli_rules_opts;

static int load_rules(const char *path, const struct ft_rules_opts *opts,
		      struct ft_ruleset **rs)
{
	return ft_rulescmd_load(path, opts ? opts : &cli_rules_opts, rs);
}

static int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"dump-config", no_argument, NULL, 'D'},
		{"check-config", no_argument, NULL, 'C'},
		{"until-eof", no_argument, NULL, 'E'},
		{NULL, 0, NULL, 0},
	};
	struct ft_runcmd_opts ro = {0};
	struct ft_config cfg;
	const char *path = NULL;
	char **overrides = calloc((size_t)argc, sizeof(char *));
	bool dump = false, check = false, until_eof = false;
	char errstr[1024];
	int c, i, n = 0, rc = EXIT_USAGE;

	ft_config_init(&cfg);
	while (overrides &&
	       (c = getopt_long(argc, argv, "c:X:", longopts, NULL)) != -1) {
		if (c == 'c')
			path = optarg;
		else if (c == 'X')
			overrides[n++] = optarg;
		else if (c == 'D')
			dump = true;
		else if (c == 'C')
			check = true;
		else if (c == 'E')
			until_eof = true;
		else
			goto out;
	}
	if (!path || optind != argc) {
		command_usage(command_table(), NULL, "run");
		goto out;
	}
	if (ft_config_load(&cfg, path, errstr, sizeof(errstr)))
		goto out_err;
	for (i = 0; i < n; i++)
		if (ft_config_override(&cfg, overrides[i], errstr,
				       sizeof(errstr)))
			goto out_err;
	if (ft_config_validate(&cfg, !dump, errstr, sizeof(errstr)))
		goto out_err;
	ft_log_set_level((enum ft_log_level)ft_log_parse_level(
		ft_config_get(&cfg, "log.level")));
	ft_log_set_format((enum ft_log_format)ft_log_parse_format(
		ft_config_get(&cfg, "log.format")));
	if (dump) {
		ft_config_dump(&cfg, stdout);
		rc = EXIT_SUCCESS;
		goto out;
	}
	install_signals();
	ro.check_only = check;
	ro.until_eof = until_eof;
	ro.stop = &stop_requested;
	ro.reload = &reload_requested;
	rc = ft_runcmd_run(&cfg, &ro);
	rc = rc == FT_EINVAL ? EXIT_USAGE : rc ? EXIT_RUNTIME : EXIT_SUCCESS;
	goto out;

out_err:
	fprintf(stderr, "flagtap: %s\n", errstr);
out:
	ft_config_release(&cfg);
	free(overrides);
	return rc;
}

static int cmd_decode(int argc, char **argv)
{
	struct ft_decode_opts o = {.out = stdout, .stop = &stop_requested};
	struct ft_decode_stats st = {0};
	char **props = calloc((size_t)argc, sizeof(char *));
	char errstr[1024];
	int c, rc = EXIT_USAGE;

	while (props && (c = getopt(argc, argv, "b:t:g:eX:")) != -1) {
		switch (c) {
		case 'b':
			o.brokers = optarg;
			break;
		case 't':
			o.topic = optarg;
			break;
		case 'g':
			o.group = optarg;
			break;
		case 'e':
			o.exit_at_end = true;
			break;
		case 'X':
			props[o.nprops++] = optarg;
			break;
		default:
			goto out;
		}
	}
	if (!o.brokers || !o.topic || optind != argc) {
		command_usage(command_table(), NULL, "decode");
		goto out;
	}
	o.props = (const char *const *)props;
	install_signals();
	if (ft_decode_run(&o, &st, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: %s\n", errstr);
		rc = EXIT_RUNTIME;
		goto out;
	}
	if (st.invalid)
		fprintf(stderr, "flagtap: decode: %llu invalid value%s\n",
			(unsigned long long)st.invalid,
			st.invalid == 1 ? "" : "s");
	rc = st.invalid ? EXIT_RUNTIME : EXIT_SUCCESS;
out:
	free(props);
	return rc;
}

static int cmd_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"rules", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	struct ft_audit_opts o = {.out = stdout, .stop = &stop_requested};
	struct ft_audit_stats st = {0};
	char **props = calloc((size_t)argc, sizeof(char *));
	struct ft_ruleset *rs = NULL;
	const char *rules = NULL;
	char errstr[1024];
	int c, rc = EXIT_USAGE;

	while (props &&
	       (c = getopt_long(argc, argv, "b:t:eX:", longopts, NULL)) != -1) {
		if (c == 'b')
			o.brokers = optarg;
		else if (c == 't')
			o.topic = optarg;
		else if (c == 'e')
			o.exit_at_end = true;
		else if (c == 'X')
			props[o.nprops++] = optarg;
		else if (c == 'r')
			rules = optarg;
		else
			goto out;
	}
	if (!props || !o.brokers || !o.topic || !rules || optind != argc) {
		rc = command_usage(command_table(), NULL, "audit");
		goto out;
	}
	if (load_rules(rules, NULL, &rs))
		goto out;
	o.props = (const char *const *)props;
	o.rs = rs;
	install_signals();
	if (ft_audit_run(&o, &st, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: %s\n", errstr);
		rc = EXIT_RUNTIME;
		goto out_free_rules;
	}
	fprintf(stderr,
		"audit: %llu envelopes, %llu dead letters, %llu with something "
		"in clear, %llu unreadable\n",
		(unsigned long long)st.envelopes,
		(unsigned long long)st.dead_letters,
		(unsigned long long)st.found,
		(unsigned long long)st.unreadable);
	rc = st.found || st.unreadable ? EXIT_RUNTIME : EXIT_SUCCESS;
out_free_rules:
	ft_ruleset_free(rs);
out:
	free(props);
	return rc;
}

/* "beginning", "end", or a time ft_parse_time_ms() reads. */
static int parse_start(const char *s, struct ft_record_opts *o)
{
	o->start_ms = -1;
	if (!strcmp(s, "beginning")) {
		o->start = RD_KAFKA_OFFSET_BEGINNING;
		return 0;
	}
	if (!strcmp(s, "end")) {
		o->start = RD_KAFKA_OFFSET_END;
		return 0;
	}
	return ft_parse_time_ms(s, &o->start_ms) ? -1 : 0;
}

static int cmd_record(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"append", no_argument, NULL, 'a'},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	struct ft_record_opts o = {
		.start = RD_KAFKA_OFFSET_BEGINNING,
		.start_ms = -1,
		.stop = &stop_requested,
	};
	struct ft_record_stats st;
	char **props = calloc((size_t)argc, sizeof(char *));
	bool quiet = false;
	struct ft_num num;
	char errstr[1024];
	int c, rc = EXIT_USAGE;

	while (props && (c = getopt_long(argc, argv, "b:t:o:c:ew:aqX:",
					 longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o.brokers = optarg;
			break;
		case 't':
			o.topic = optarg;
			break;
		case 'o':
			if (parse_start(optarg, &o)) {
				bad_value("record", "-o", optarg,
					  "beginning, end, milliseconds since "
					  "the epoch or YYYY-MM-DDTHH:MM:SSZ");
				goto out;
			}
			break;
		case 'c':
			if (ft_parse_number(optarg, &count_spec, &num)) {
				bad_value("record", "-c", optarg,
					  "a positive count");
				goto out;
			}
			o.count = num.u;
			break;
		case 'e':
			o.exit_at_end = true;
			break;
		case 'w':
			o.path = optarg;
			break;
		case 'a':
			o.append = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'X':
			props[o.nprops++] = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (!o.brokers || !o.topic || !o.path || optind != argc)
		goto usage;
	o.props = (const char *const *)props;
	o.progress = !quiet && isatty(STDERR_FILENO);
	install_signals();
	if (ft_record_run(&o, &st, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: record: %s\n", errstr);
		rc = EXIT_RUNTIME;
		goto out;
	}
	fprintf(stderr,
		"record: %llu records (%llu bytes) from %d partitions of %s "
		"in %.2f s -> %s\n",
		(unsigned long long)st.records, (unsigned long long)st.bytes,
		st.partitions, o.topic, st.seconds, o.path);
	rc = EXIT_SUCCESS;
	goto out;
usage:
	fprintf(stderr, "usage: flagtap record -b BROKERS -t TOPIC "
			"[-o beginning|end|TIMESTAMP] [-c N] [-e] [-a] [-q] "
			"[-X prop=value]... -w FILE\n");
out:
	free(props);
	return rc;
}

static int cmd_replay(int argc, char **argv)
{
	enum {
		O_RATE = 256,
		O_SPEED,
		O_MAX,
		O_LOOP,
		O_KEEP_PART,
		O_KEEP_TS,
		O_INPUT,
		O_FOLLOW,
		O_JSON,
		O_PRINT
	};
	static const struct option longopts[] = {
		{"rate", required_argument, NULL, O_RATE},
		{"speed", required_argument, NULL, O_SPEED},
		{"max", no_argument, NULL, O_MAX},
		{"loop", required_argument, NULL, O_LOOP},
		{"count", required_argument, NULL, 'c'},
		{"keep-partitions", no_argument, NULL, O_KEEP_PART},
		{"keep-timestamps", no_argument, NULL, O_KEEP_TS},
		{"input", required_argument, NULL, O_INPUT},
		{"follow", no_argument, NULL, O_FOLLOW},
		{"json", no_argument, NULL, O_JSON},
		{"print", no_argument, NULL, O_PRINT},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	struct ft_replay_opts o = {
		.pace = FT_PACE_MAX,
		.loops = 1,
		.stop = &stop_requested,
	};
	struct ft_replay_stats st;
	char **props = calloc((size_t)argc, sizeof(char *));
	bool json = false, quiet = false, paced = false;
	struct ft_num num;
	char errstr[1024];
	int c, in, rc = EXIT_USAGE;

	while (props && (c = getopt_long(argc, argv, "b:t:c:qX:", longopts,
					 NULL)) != -1) {
		switch (c) {
		case 'b':
			o.brokers = optarg;
			break;
		case 't':
			o.topic = optarg;
			break;
		case 'c':
			if (ft_parse_number(optarg, &count_spec, &num))
				goto bad_number;
			o.limit = num.u;
			break;
		case O_RATE:
		case O_SPEED:
		case O_MAX:
			if (paced) {
				fprintf(stderr, "flagtap: replay: choose one "
						"of --rate, --speed, --max\n");
				goto out;
			}
			paced = true;
			if (c == O_MAX)
				break;
			if (ft_parse_number(optarg, &positive_spec, &num))
				goto bad_number;
			*(c == O_RATE ? &o.rate : &o.speed) = num.d;
			o.pace = c == O_RATE ? FT_PACE_RATE : FT_PACE_SPEED;
			break;
		case O_LOOP:
			if (ft_parse_number(optarg, &count0_spec, &num))
				goto bad_number;
			o.loops = num.u;
			break;
		case O_KEEP_PART:
			o.keep_partitions = true;
			break;
		case O_KEEP_TS:
			o.keep_timestamps = true;
			break;
		case O_INPUT:
			in = ft_rec_input_parse(optarg);
			if (in < 0) {
				fprintf(stderr,
					"flagtap: replay: --input %s: "
					"expected auto, ftrec, text, "
					"json or kcat\n",
					optarg);
				goto out;
			}
			o.input = (enum ft_rec_input)in;
			break;
		case O_FOLLOW:
			o.follow = true;
			break;
		case O_JSON:
			json = true;
			break;
		case O_PRINT:
			o.print = stdout;
			break;
		case 'q':
			quiet = true;
			break;
		case 'X':
			props[o.nprops++] = optarg;
			break;
		default:
			goto usage;
		}
	}
	if ((!o.print && (!o.brokers || !o.topic)) || optind >= argc)
		goto usage;
	o.files = (const char *const *)argv + optind;
	o.nfiles = (size_t)(argc - optind);
	o.props = (const char *const *)props;
	o.progress = !quiet && !o.print && isatty(STDERR_FILENO);
	install_signals();
	if (ft_replay_run(&o, &st, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: replay: %s\n", errstr);
		rc = EXIT_RUNTIME;
		goto out;
	}
	if (o.print) {
		rc = fflush(stdout) ? EXIT_RUNTIME : EXIT_SUCCESS;
		goto out;
	}
	ft_replay_print_stats(stderr, json ? stdout : NULL, &st);
	rc = st.errors || st.delivered != st.records || stop_requested
		     ? EXIT_RUNTIME
		     : EXIT_SUCCESS;
	goto out;
bad_number:
	fprintf(stderr, "flagtap: replay: %s: expected a positive number\n",
		optarg);
	goto out;
usage:
	fprintf(stderr,
		"usage: flagtap replay -b BROKERS -t TOPIC "
		"[--rate N/s | --speed X | --max] [--loop N] [-c N]\n"
		"                      [--keep-partitions] [--keep-timestamps] "
		"[--input auto|ftrec|text|json|kcat]\n"
		"                      [--follow] [--json] [-q] "
		"[-X prop=value]... FILE...\n"
		"       flagtap replay --print [--input ...] FILE...\n");
out:
	free(props);
	return rc;
}

static int cmd_demo(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"rules", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	struct ft_demo_opts o = {.rules = default_rules(),
				 .out = stdout,
				 .stop = &stop_requested};
	char errstr[1024];
	int c;

	while ((c = getopt_long(argc, argv, "r:", longopts, NULL)) != -1) {
		if (c != 'r') {
			return command_usage(command_table(), NULL, "demo");
		}
		o.rules = optarg;
	}
	ft_log_set_level(FT_LOG_WARN);
	install_signals();
	if (ft_demo_run(&o, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: %s\n", errstr);
		return EXIT_RUNTIME;
	}
	return EXIT_SUCCESS;
}

static int cmd_rules_check(int argc, char **argv)
{
	return ft_rulescmd_check(argv + 1, (size_t)argc - 1, &cli_rules_opts)
		       ? EXIT_RUNTIME
		       : EXIT_SUCCESS;
}

static int cmd_rules_test(int argc, char **argv)
{
	return ft_rulescmd_test(argv + 1, (size_t)argc - 1, &cli_rules_opts)
		       ? EXIT_RUNTIME
		       : EXIT_SUCCESS;
}

static int cmd_rules_list(int argc, char **argv)
{
	return ft_rulescmd_list(argv + 1, (size_t)argc - 1, &cli_rules_opts)
		       ? EXIT_RUNTIME
		       : EXIT_SUCCESS;
}

/* flagtap rules import gitleaks FILE.toml [-o OUT] */
static int cmd_rules_import(int argc, char **argv)
{
	const char *dest = NULL;
	char errstr[512] = "";
	int c, rc;

	optind = 2;
	while ((c = getopt(argc, argv, "o:")) != -1) {
		if (c != 'o')
			return EXIT_USAGE;
		dest = optarg;
	}
	if (argc < 2 || strcmp(argv[1], "gitleaks") || optind != argc - 1)
		return command_usage(rules_table(), "rules", NULL);
	rc = ft_rulescmd_import(argv[optind], dest, errstr, sizeof(errstr));
	if (rc == FT_EIO && errstr[0])
		fprintf(stderr, "flagtap: %s\n", errstr);
	return rc ? EXIT_RUNTIME : EXIT_SUCCESS;
}

static int cmd_rules(int argc, char **argv)
{
	int rc = dispatch(rules_table(), argc - 1, argv + 1);

	return rc >= 0 ? rc : command_usage(rules_table(), "rules", NULL);
}

static int scan_usage(void)
{
	char names[64];

	fprintf(stderr,
		"usage: flagtap scan --rules PATH [--format %s] [--extract "
		"PATTERN] [--salt-file FILE | --salt SALT] "
		"[--input lines|auto|ftrec|text|json|kcat] [FILE...|-]\n",
		ft_format_list(names, sizeof(names), "|", "|", true));
	return EXIT_USAGE;
}

/* Compiles a text topic's extract pattern given on the command line. */
static pcre2_code *compile_extract(const char *src)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	pcre2_code *code;
	int ecode;

	code = ft_pcre2_compile(src, strlen(src), NULL, &ecode, &off);
	if (!code) {
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		fprintf(stderr, "flagtap: --extract:%zu: %s\n", (size_t)off + 1,
			(char *)msg);
	}
	return code;
}

static int cmd_scan(int argc, char **argv)
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
			extract = compile_extract(optarg);
		else if (c == 's')
			salt = optarg;
		else if (c == 'S')
			salt_file = optarg;
		else
			return scan_usage();
		if (c == 'x' && !extract)
			return EXIT_USAGE;
	}
	if (!rules || (salt && salt_file)) {
		pcre2_code_free(extract);
		return scan_usage();
	}
	if (load_rules(rules, NULL, &rs)) {
		pcre2_code_free(extract);
		return EXIT_USAGE;
	}
	rc = ft_scan_key(salt, salt_file, rs, &key, &key_len);
	if (rc) {
		ft_ruleset_free(rs);
		pcre2_code_free(extract);
		return rc == FT_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	}
	o.extract = extract;
	o.salt = key;
	o.salt_len = key_len;
	if (ft_scan_files(argv + optind, (size_t)(argc - optind), rs, &o))
		rc = EXIT_RUNTIME;
	ft_ruleset_free(rs);
	pcre2_code_free(extract);
	free(key);
	return rc;
}

static int bench_usage(void)
{
	char names[64];

	fprintf(stderr,
		"usage: flagtap bench --rules PATH [--format %s]\n"
		"         [--engine auto|pcre2|scan-only] [--workers N] "
		"[--seconds S]\n"
		"         [--extract PATTERN] [--profile N] [--top N] [--json] "
		"FILE...\n",
		ft_format_list(names, sizeof(names), "|", "|", false));
	return EXIT_USAGE;
}

static const char *const bench_engines[] = {"auto", "pcre2", "scan-only"};

static int cmd_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"rules", required_argument, NULL, 'r'},
		{"format", required_argument, NULL, 'f'},
		{"engine", required_argument, NULL, 'e'},
		{"workers", required_argument, NULL, 'w'},
		{"seconds", required_argument, NULL, 's'},
		{"extract", required_argument, NULL, 'x'},
		{"profile", required_argument, NULL, 'p'},
		{"top", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct ft_bench_opts o = {.format = FT_FORMAT_TEXT,
				  .threads = 1,
				  .min_seconds = 3.0,
				  .profile_records = 200000};
	struct ft_bench_report rep = {.top = 15};
	struct ft_rules_opts ro = cli_rules_opts;
	struct ft_ruleset *rs = NULL;
	pcre2_code *extract = NULL;
	const char *rules = NULL;
	int c, engine = 0, rc = EXIT_USAGE;
	struct ft_num num;
	uint64_t t0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rules = optarg;
			break;
		case 'f':
			if (ft_format_parse(optarg) < 0)
				return bench_usage();
			o.format = (enum ft_format)ft_format_parse(optarg);
			break;
		case 'e':
			for (engine = 0; engine < 3; engine++)
				if (!strcmp(optarg, bench_engines[engine]))
					break;
			if (engine == 3)
				return bench_usage();
			break;
		case 'w':
			if (ft_parse_number(optarg, &workers_spec, &num))
				return bench_usage();
			o.threads = (int)num.u;
			break;
		case 's':
			if (ft_parse_number(optarg, &seconds_spec, &num))
				return bench_usage();
			o.min_seconds = num.d;
			break;
		case 'x':
			if (extract)
				return bench_usage();
			extract = compile_extract(optarg);
			if (!extract)
				return EXIT_USAGE;
			break;
		case 'p':
			if (ft_parse_number(optarg, &count0_spec, &num))
				return bench_usage();
			o.profile_records = (size_t)num.u;
			break;
		case 't':
			if (ft_parse_number(optarg, &count0_spec, &num))
				return bench_usage();
			rep.top = (size_t)num.u;
			break;
		case 'j':
			rep.json = true;
			break;
		default:
			goto out;
		}
	}
	if (!rules || optind == argc) {
		bench_usage();
		goto out;
	}
	ro.engine = engine == 1 ? FT_ENGINE_PCRE2 : FT_ENGINE_AUTO;
	o.engine = engine == 2 ? FT_BENCH_SCAN_ONLY : FT_BENCH_AUTO;
	o.extract = extract;
	t0 = ft_mono_ns();
	if (load_rules(rules, &ro, &rs))
		goto out;
	rep.engine = bench_engines[engine];
	rep.load_seconds = (double)(ft_mono_ns() - t0) / 1e9;
	rc = ft_bench_files(rs, argv + optind, (size_t)(argc - optind), &o,
			    &rep);
	rc = rc == FT_EINVAL ? EXIT_USAGE : rc ? EXIT_RUNTIME : EXIT_SUCCESS;
out:
	ft_ruleset_free(rs);
	pcre2_code_free(extract);
	return rc;
}

static int cmd_gen(int argc, char **argv)
{
	enum {
		O_SEED = 256,
		O_KINDS,
		O_VIOLATIONS,
		O_DECOYS,
		O_START,
		O_RATE,
		O_TRUTH,
	};
	static const struct option longopts[] = {
		{"count", required_argument, NULL, 'n'},
		{"seed", required_argument, NULL, O_SEED},
		{"kinds", required_argument, NULL, O_KINDS},
		{"violations", required_argument, NULL, O_VIOLATIONS},
		{"decoys", required_argument, NULL, O_DECOYS},
		{"start", required_argument, NULL, O_START},
		{"rate", required_argument, NULL, O_RATE},
		{"write", required_argument, NULL, 'w'},
		{"truth", required_argument, NULL, O_TRUTH},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ft_gen_opts o;
	struct ft_gen g;
	struct ft_gencmd_totals t;
	const char *wpath = NULL, *tpath = NULL;
	char errstr[1024];
	double rate = 1000;
	struct ft_num num;
	uint64_t t0;
	int c, rc = EXIT_RUNTIME;

	ft_gen_opts_default(&o);
	o.count = 10000;
	while ((c = getopt_long(argc, argv, "n:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (ft_parse_number(optarg, &count0_spec, &num))
				return bad_value("gen", "-n", optarg,
						 "a count");
			o.count = num.u;
			break;
		case O_SEED:
			if (ft_parse_number(optarg, &seed_spec, &num))
				return bad_value("gen", "--seed", optarg,
						 "an unsigned integer");
			o.seed = num.u;
			break;
		case O_KINDS:
			if (ft_gen_parse_kinds(optarg, o.weights, errstr,
					       sizeof(errstr))) {
				fprintf(stderr, "flagtap: gen: %s\n", errstr);
				return EXIT_USAGE;
			}
			break;
		case O_VIOLATIONS:
		case O_DECOYS:
			if (ft_parse_number(optarg, &fraction_spec, &num))
				return bad_value("gen",
						 c == O_DECOYS ? "--decoys"
							       : "--violations",
						 optarg, "a fraction in 0..1");
			if (c == O_DECOYS)
				o.decoy_rate = num.d;
			else
				o.violation_rate = num.d;
			break;
		case O_START:
			if (ft_parse_time_ms(optarg, &o.start_ms))
				return bad_value(
					"gen", "--start", optarg,
					"milliseconds since the epoch "
					"or YYYY-MM-DDTHH:MM:SS[.mmm]Z");
			break;
		case O_RATE:
			if (ft_parse_number(optarg, &positive_spec, &num) ||
			    1e6 / num.d > 4e9)
				return bad_value("gen", "--rate", optarg,
						 "records per second "
						 "(> 0.00025)");
			rate = num.d;
			break;
		case 'w':
			wpath = optarg;
			break;
		case O_TRUTH:
			tpath = optarg;
			break;
		case 'h':
			ft_gencmd_usage(stdout);
			return EXIT_SUCCESS;
		default:
			ft_gencmd_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		ft_gencmd_usage(stderr);
		return EXIT_USAGE;
	}
	o.interval_us = (uint32_t)(1e6 / rate + 0.5);
	if (ft_gen_init(&g, &o, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: gen: %s\n", errstr);
		return EXIT_USAGE;
	}
	if (!wpath)
		setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	t0 = ft_mono_ns();
	if (ft_gencmd_write(&g, &o, wpath, tpath, &t, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: gen: %s\n", errstr);
		goto out;
	}
	ft_gencmd_print_summary(stderr, g.seq, &t,
				(double)(ft_mono_ns() - t0) / 1e9);
	rc = EXIT_SUCCESS;
out:
	ft_gen_release(&g);
	return rc;
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return EXIT_SUCCESS;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char kafka[128];

	ft_kafka_version_describe(kafka, sizeof(kafka));
	printf("flagtap %s\n%s\n", FT_VERSION, kafka);
	return EXIT_SUCCESS;
}

static const struct command rules_commands[] = {
	{"check", cmd_rules_check, 1, "PATH...",
	 "compile rule files; report every problem as FILE:LINE:COL", NULL},
	{"test", cmd_rules_test, 1, "PATH...",
	 "run every example and counter written in the rules", NULL},
	{"list", cmd_rules_list, 1, "PATH...",
	 "id, severity, field and title of every rule", NULL},
	{"import", cmd_rules_import, 0, "gitleaks FILE.toml [-o OUT.rules]",
	 "convert a gitleaks configuration into a rule pack", NULL},
	{NULL, NULL, 0, NULL, NULL, NULL},
};

static const struct command commands[] = {
	{"run", cmd_run, 0,
	 "-c FILE [-X key=value]... [--dump-config] [--check-config] "
	 "[--until-eof]",
	 "consume input topics, apply rules, forward flagged records\n"
	 "(--until-eof: stop when every partition is read and delivered;\n"
	 "print records, seconds, records/s as JSON)",
	 NULL},
	{"decode", cmd_decode, 0,
	 "-b BROKERS -t TOPIC [-g GROUP] [-e] [-X prop=value]...",
	 "print the envelopes on an output topic as JSON lines", NULL},
	{"audit", cmd_audit, 0,
	 "-b BROKERS -t TOPIC --rules PATH [-e] [-X prop=value]...",
	 "report envelopes and dead letters that carry in clear what the\n"
	 "rules would redact (exit status 1)",
	 NULL},
	{"record", cmd_record, 0,
	 "-b BROKERS -t TOPIC [-o beginning|end|TIMESTAMP] [-c N] [-e] -w "
	 "FILE",
	 "capture a topic into a recorded-stream file (.ftrec)", NULL},
	{"replay", cmd_replay, 0,
	 "-b BROKERS -t TOPIC [--rate N/s | --speed X | --max] [--loop N] "
	 "FILE...",
	 "produce a recorded stream (or text, JSON, kcat -J lines) into a "
	 "topic",
	 NULL},
	{"gen", cmd_gen, 0,
	 "[-n N] [--seed S] [--kinds K=W,...] [--violations R] [-w FILE] "
	 "[--truth FILE]",
	 "synthetic financial logs with planted violations and a ground truth",
	 NULL},
	{"demo", cmd_demo, 0, "[--rules PATH]",
	 "run the pipeline on an in-process Kafka with sample records", NULL},
	{"rules", cmd_rules, 0, "", NULL, rules_commands},
	{"scan", cmd_scan, 0,
	 "--rules PATH [--format F] [--extract RE] [--salt-file F] [--input "
	 "I] [FILE...|-]",
	 "run the rules over recorded lines (or records with keys and "
	 "headers:\n"
	 "--input kcat|ftrec|auto); envelopes on stdout",
	 NULL},
	{"bench", cmd_bench, 0,
	 "--rules PATH [--engine auto|pcre2|scan-only] [--workers N] [--json] "
	 "FILE...",
	 "engine throughput over recorded lines, per-rule cost", NULL},
	{"version", cmd_version, 0, "", NULL, NULL},
	{"--version", cmd_version, 0, NULL, NULL, NULL},
	{"help", cmd_help, 0, NULL, NULL, NULL},
	{"--help", cmd_help, 0, NULL, NULL, NULL},
	{"-h", cmd_help, 0, NULL, NULL, NULL},
	{NULL, NULL, 0, NULL, NULL, NULL},
};

static const struct command *command_table(void)
{
	return commands;
}

static const struct command *rules_table(void)
{
	return rules_commands;
}

int main(int argc, char **argv)
{
	int rc;

	ft_rules_opts_default(&cli_rules_opts);
	for (;;) {
		if (argc > 1 && !strcmp(argv[1], "--no-jit")) {
			/* the PCRE2 interpreter only, as under
			 * MemoryDenyWriteExecute */
			cli_rules_opts.no_jit = true;
			argc--;
			argv++;
		} else if (argc > 2 && !strcmp(argv[1], "--engine")) {
			if (!strcmp(argv[2], "pcre2"))
				cli_rules_opts.engine = FT_ENGINE_PCRE2;
			else if (strcmp(argv[2], "auto")) {
				fprintf(stderr, "flagtap: --engine: auto or "
						"pcre2\n");
				exit(EXIT_USAGE);
			}
			argc -= 2;
			argv += 2;
		} else {
			break;
		}
	}
	if (argc < 2) {
		usage(stderr);
		exit(EXIT_USAGE);
	}
	rc = dispatch(commands, argc - 1, argv + 1);
	if (rc >= 0)
		exit(rc);
	fprintf(stderr, "flagtap: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	exit(EXIT_USAGE);
}
