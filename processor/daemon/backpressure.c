/*
 * backpressure: pausing the input while too much is held
 * (backpressure.h).
 */
#include "flagtap/backpressure.h"

#include "flagtap/log.h"
#include "flagtap/pipeline_int.h"

/* Pauses or resumes every assigned input partition. */
static void pause_input(struct pipeline *p, bool pause, int64_t held)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_resp_err_t err;

	err = rd_kafka_assignment(p->consumer, &l);
	if (!err)
		err = pause ? rd_kafka_pause_partitions(p->consumer, l)
			    : rd_kafka_resume_partitions(p->consumer, l);
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	if (err) {
		ft_warn("cannot %s the input: %s", pause ? "pause" : "resume",
			rd_kafka_err2str(err));
		return;
	}
	p->paused = pause;
	if (pause) {
		p->stats->pauses++;
		ft_warn("pausing input: %lld bytes held reach "
			"inflight.max.bytes "
			"(%lld): the output is slow or unreachable",
			(long long)held, (long long)p->cap);
	} else {
		ft_info("resuming input: %lld bytes held", (long long)held);
	}
}

/* Pauses the input above the cap, resumes it below half of it. */
void ft_backpressure_check(struct pipeline *p)
{
	int64_t held = __atomic_load_n(&p->held, __ATOMIC_RELAXED);

	if (!p->paused && held >= p->cap)
		pause_input(p, true, held);
	else if (p->paused && held <= p->cap / 2)
		pause_input(p, false, held);
}

void ft_backpressure_assigned(struct pipeline *p, rd_kafka_t *rk,
			      rd_kafka_topic_partition_list_t *parts)
{
	if (p->paused)
		rd_kafka_pause_partitions(rk, parts);
}
