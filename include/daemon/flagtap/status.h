/*
 * status: the pipeline's metrics page (metrics.listen).
 *
 * The loop renders the counters (the workers' read live), the assigned
 * partitions' positions and readiness into a page it hands to the
 * metrics server (metrics.h).  Readiness needs rules, an assignment and
 * an output broker connection, which the producer's statistics report.
 */
#ifndef FLAGTAP_STATUS_H
#define FLAGTAP_STATUS_H

#include "flagtap/pipeline_int.h"

/* librdkafka's statistics callback (opaque: the pipeline): notes whether
 * a connection to an output broker is up.  Returns 0 (json is freed by
 * librdkafka). */
int ft_status_on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque);

/* Did the user set the producer's statistics interval (kafka.* or
 * producer.statistics.interval.ms) in conf, the producer's configuration
 * before flagtap's own callbacks? */
bool ft_status_configured(const rd_kafka_conf_t *conf);

/* Renders and publishes the page.  Loop thread. */
void ft_status_publish(struct pipeline *p);

#endif
