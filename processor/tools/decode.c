/*
 * decode: output topic -> zlib -> envelope JSON lines.
 */
#include "flagtap/decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "flagtap/buf.h"
#include "flagtap/cli.h"
#include "flagtap/common.h"
#include "flagtap/envelope.h"
#include "flagtap/log.h"
#include "flagtap/topicread.h"

struct printer {
	const struct ft_decode_opts *o;
	struct ft_decode_stats *stats;
	struct ft_buf buf;
};

static int print_one(void *opaque, const rd_kafka_message_t *rkm, char *errstr,
		     size_t errstr_size)
{
	struct printer *p = opaque;
	struct ft_buf *buf = &p->buf;
	char why[256];

	(void)errstr;
	(void)errstr_size;
	if (ft_envelope_decode(rkm->payload, rkm->len, buf, why, sizeof(why))) {
		p->stats->invalid++;
		ft_error("decode: %s/%d/%lld: %s",
			 rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
			 (long long)rkm->offset, why);
		return FT_OK;
	}
	p->stats->decoded++;
	fwrite(buf->data, 1, buf->len, p->o->out);
	fputc('\n', p->o->out);
	return FT_OK;
}

int ft_decode_run(const struct ft_decode_opts *o, struct ft_decode_stats *stats,
		  char *errstr, size_t errstr_size)
{
	const struct ft_kafka_setting defaults[] = {
		{"group.id", o->group ? o->group : "flagtap-decode"},
		{"auto.offset.reset", "earliest"},
	};
	struct printer p = {.o = o, .stats = stats, .buf = FT_BUF_INIT};
	struct ft_topicread t = {
		.name = "decode",
		.brokers = o->brokers,
		.topic = o->topic,
		.group = o->group,
		.defaults = defaults,
		.ndefaults = FT_ARRAY_SIZE(defaults),
		.props = o->props,
		.nprops = o->nprops,
		.exit_at_end = o->exit_at_end,
		.stop = o->stop,
		.message = print_one,
		.opaque = &p,
	};
	int rc;

	rc = ft_topicread_run(&t, errstr, errstr_size);
	fflush(o->out);
	ft_buf_release(&p.buf);
	return rc;
}

int ft_decode_main(int argc, char **argv, const struct ft_cli *cli)
{
	struct ft_decode_opts o = {.out = stdout, .stop = cli->stop};
	struct ft_decode_stats st = {0};
	char **props = calloc((size_t)argc, sizeof(char *));
	char errstr[1024];
	int c, rc = FT_EXIT_USAGE;

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
		ft_cli_usage("decode", FT_DECODE_SYNOPSIS);
		goto out;
	}
	o.props = (const char *const *)props;
	cli->install_signals();
	if (ft_decode_run(&o, &st, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: %s\n", errstr);
		rc = FT_EXIT_RUNTIME;
		goto out;
	}
	if (st.invalid)
		fprintf(stderr, "flagtap: decode: %llu invalid value%s\n",
			(unsigned long long)st.invalid,
			st.invalid == 1 ? "" : "s");
	rc = st.invalid ? FT_EXIT_RUNTIME : EXIT_SUCCESS;
out:
	free(props);
	return rc;
}
