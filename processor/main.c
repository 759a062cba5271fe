/*
 * flagtap: command line.  The command table, the common options, signals,
 * exit codes; the only place that exits.  Each command parses its own
 * arguments beside its module (ft_<module>_main(), cli.h), except run's
 * and rules', which are here.
 *
 * Exit codes: 0 success, 1 runtime failure (fatal Kafka error, lost
 * delivery, failed rule test), 2 usage or configuration error.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flagtap/audit.h"
#include "flagtap/bench.h"
#include "flagtap/cli.h"
#include "flagtap/common.h"
#include "flagtap/config.h"
#include "flagtap/decode.h"
#include "flagtap/demo.h"
#include "flagtap/gencmd.h"
#include "flagtap/kafka.h"
#include "flagtap/log.h"
#include "flagtap/record.h"
#include "flagtap/rules.h"
#include "flagtap/rulescmd.h"
#include "flagtap/runcmd.h"
#include "flagtap/scan.h"

#define EXIT_RUNTIME FT_EXIT_RUNTIME
#define EXIT_USAGE FT_EXIT_USAGE

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
	int (*run)(int argc, char **argv, const struct ft_cli *cli);
	int min_operands; /* fewer after the name: the parent's usage */
	const char *args;
	const char *help;
	const struct command *sub; /* subcommands, NULL-named last */
};

/* The tables, defined after the handlers they name. */
static const struct command *command_table(void);
static const struct command *rules_table(void);
static const struct command *config_table(void);

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
	ft_config_describe(out, FT_CONFIG_DOC_TEXT);
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
static int dispatch(const struct command *table, int argc, char **argv,
		    const struct ft_cli *cli)
{
	const struct command *c;

	for (c = table; argc > 0 && c->name; c++)
		if (!strcmp(argv[0], c->name) && argc - 1 >= c->min_operands)
			return c->run(argc, argv, cli);
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

static int cmd_run(int argc, char **argv, const struct ft_cli *cli)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"dump-config", no_argument, NULL, 'D'},
		{"check-config", no_argument, NULL, 'C'},
		{"until-eof", no_argument, NULL, 'E'},
		{NULL, 0, NULL, 0},
	};
	struct ft_runcmd_opts ro = {0};
	struct ft_settings set = {0};
	struct ft_config cfg;
	const char *path = NULL;
	char **overrides = calloc((size_t)argc, sizeof(char *));
	bool dump = false, check = false, until_eof = false;
	char errstr[1024];
	int c, i, n = 0, rc = EXIT_USAGE;

	(void)cli;
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
	if (ft_settings_bind(&set, &cfg, !dump, errstr, sizeof(errstr)))
		goto out_err;
	ft_log_set_level((enum ft_log_level)set.log_level);
	ft_log_set_format((enum ft_log_format)set.log_format);
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
	rc = ft_runcmd_run(&set, &ro);
	rc = rc == FT_EINVAL ? EXIT_USAGE : rc ? EXIT_RUNTIME : EXIT_SUCCESS;
	goto out;

out_err:
	fprintf(stderr, "flagtap: %s\n", errstr);
out:
	ft_settings_release(&set);
	ft_config_release(&cfg);
	free(overrides);
	return rc;
}

/* flagtap config keys [--format=text|markdown|man]: the table of keys. */
static int cmd_config_keys(int argc, char **argv, const struct ft_cli *cli)
{
	static const char *const names[] = {"text", "markdown", "man"};
	size_t i;

	(void)cli;
	if (argc == 1) {
		ft_config_describe(stdout, FT_CONFIG_DOC_TEXT);
		return EXIT_SUCCESS;
	}
	for (i = 0; argc == 2 && i < FT_ARRAY_SIZE(names); i++)
		if (!strncmp(argv[1], "--format=", 9) &&
		    !strcmp(argv[1] + 9, names[i])) {
			ft_config_describe(stdout, (enum ft_config_doc)i);
			return EXIT_SUCCESS;
		}
	return command_usage(config_table(), "config", "keys");
}

static int cmd_config(int argc, char **argv, const struct ft_cli *cli)
{
	int rc = dispatch(config_table(), argc - 1, argv + 1, cli);

	return rc >= 0 ? rc : command_usage(config_table(), "config", NULL);
}

static int cmd_rules_check(int argc, char **argv, const struct ft_cli *cli)
{
	return ft_rulescmd_check(argv + 1, (size_t)argc - 1, &cli->rules_opts)
		       ? EXIT_RUNTIME
		       : EXIT_SUCCESS;
}

static int cmd_rules_test(int argc, char **argv, const struct ft_cli *cli)
{
	return ft_rulescmd_test(argv + 1, (size_t)argc - 1, &cli->rules_opts)
		       ? EXIT_RUNTIME
		       : EXIT_SUCCESS;
}

static int cmd_rules_list(int argc, char **argv, const struct ft_cli *cli)
{
	return ft_rulescmd_list(argv + 1, (size_t)argc - 1, &cli->rules_opts)
		       ? EXIT_RUNTIME
		       : EXIT_SUCCESS;
}

/* flagtap rules import gitleaks FILE.toml [-o OUT] */
static int cmd_rules_import(int argc, char **argv, const struct ft_cli *cli)
{
	const char *dest = NULL;
	char errstr[512] = "";
	int c, rc;

	(void)cli;
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

static int cmd_rules(int argc, char **argv, const struct ft_cli *cli)
{
	int rc = dispatch(rules_table(), argc - 1, argv + 1, cli);

	return rc >= 0 ? rc : command_usage(rules_table(), "rules", NULL);
}

static int cmd_help(int argc, char **argv, const struct ft_cli *cli)
{
	(void)argc;
	(void)argv;
	(void)cli;
	usage(stdout);
	return EXIT_SUCCESS;
}

static int cmd_version(int argc, char **argv, const struct ft_cli *cli)
{
	(void)argc;
	(void)argv;
	char kafka[128];

	(void)cli;
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

static const struct command config_commands[] = {
	{"keys", cmd_config_keys, 0, "[--format=text|markdown|man]",
	 "every configuration key: type, default, meaning", NULL},
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
	{"decode", ft_decode_main, 0, FT_DECODE_SYNOPSIS,
	 "print the envelopes on an output topic as JSON lines", NULL},
	{"audit", ft_audit_main, 0, FT_AUDIT_SYNOPSIS,
	 "report envelopes and dead letters that carry in clear what the\n"
	 "rules would redact (exit status 1)",
	 NULL},
	{"record", ft_record_main, 0,
	 "-b BROKERS -t TOPIC [-o beginning|end|TIMESTAMP] [-c N] [-e] -w "
	 "FILE",
	 "capture a topic into a recorded-stream file (.ftrec)", NULL},
	{"replay", ft_replay_main, 0,
	 "-b BROKERS -t TOPIC [--rate N/s | --speed X | --max] [--loop N] "
	 "FILE...",
	 "produce a recorded stream (or text, JSON, kcat -J lines) into a "
	 "topic",
	 NULL},
	{"gen", ft_gencmd_main, 0,
	 "[-n N] [--seed S] [--kinds K=W,...] [--violations R] [-w FILE] "
	 "[--truth FILE]",
	 "synthetic financial logs with planted violations and a ground truth",
	 NULL},
	{"demo", ft_demo_main, 0, FT_DEMO_SYNOPSIS,
	 "run the pipeline on an in-process Kafka with sample records", NULL},
	{"rules", cmd_rules, 0, "", NULL, rules_commands},
	{"config", cmd_config, 0, "", NULL, config_commands},
	{"scan", ft_scan_main, 0,
	 "--rules PATH [--format F] [--extract RE] [--salt-file F] [--input "
	 "I] [FILE...|-]",
	 "run the rules over recorded lines (or records with keys and "
	 "headers:\n"
	 "--input kcat|ftrec|auto); envelopes on stdout",
	 NULL},
	{"bench", ft_bench_main, 0,
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

static const struct command *config_table(void)
{
	return config_commands;
}

int main(int argc, char **argv)
{
	struct ft_cli cli = {
		.default_rules = default_rules(),
		.stop = &stop_requested,
		.install_signals = install_signals,
	};
	int rc;

	ft_rules_opts_default(&cli.rules_opts);
	for (;;) {
		if (argc > 1 && !strcmp(argv[1], "--no-jit")) {
			/* the PCRE2 interpreter only, as under
			 * MemoryDenyWriteExecute */
			cli.rules_opts.no_jit = true;
			argc--;
			argv++;
		} else if (argc > 2 && !strcmp(argv[1], "--engine")) {
			if (!strcmp(argv[2], "pcre2"))
				cli.rules_opts.engine = FT_ENGINE_PCRE2;
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
	rc = dispatch(commands, argc - 1, argv + 1, &cli);
	if (rc >= 0)
		exit(rc);
	fprintf(stderr, "flagtap: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	exit(EXIT_USAGE);
}
