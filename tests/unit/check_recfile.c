/*
 * recfile: .ftrec round trips, damaged files, the line formats.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/record.h"
#include "flagtap/recfile.h"
#include "suites.h"

static char dir[] = "/tmp/ft_recfile_XXXXXX";
static char path[256];

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/ft_recfile_XXXXXX")));
	snprintf(path, sizeof(path), "%s/s.ftrec", dir);
}

static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *p, const void *data, size_t n)
{
	FILE *f = fopen(p, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static char *read_all(const char *p, size_t *n)
{
	char err[128], *data;

	ck_assert_int_eq(ft_read_file(p, 1u << 28, &data, n, err, sizeof(err)),
			 0);
	return data;
}

/* Record i of a deterministic test stream: every field varies, some are
 * null, some values are binary or large. */
static void make(uint64_t i, struct ft_rec *r, struct ft_rec_header *hv,
		 char *key, char *val, size_t valcap)
{
	size_t j, n;

	memset(r, 0, sizeof(*r));
	r->timestamp = i % 7 == 3 ? -1 : 1764201600000 + (int64_t)i * 13;
	r->tstype = r->timestamp < 0 ? FT_TS_NONE : (int)(i % 2) + 1;
	r->partition = i % 5 == 4 ? -1 : (int32_t)(i % 5);
	r->offset = i % 11 == 10 ? -1 : (int64_t)i * 1000003;
	if (i % 4) {
		snprintf(key, 32, "key-%llu", (unsigned long long)i);
		r->key = key;
		r->key_len = strlen(key);
	} else if (i % 8 == 4) {
		r->key = ""; /* empty, not null */
	}
	n = i % 97 == 50 ? valcap : (size_t)(i * 37 % 300);
	for (j = 0; j < n; j++)
		val[j] = (char)(i * 31 + j * 7); /* binary, with NULs */
	if (i % 13 != 12) {
		r->value = val;
		r->value_len = n;
	}
	r->nheaders = (size_t)(i % 4);
	for (j = 0; j < r->nheaders; j++) {
		hv[j].name = j == 0 ? "trace" : j == 1 ? "content-type" : "x";
		hv[j].value = j == 2 ? NULL : val;
		hv[j].value_len = j == 2 ? 0 : n < 9 ? n : 9;
	}
	r->headers = hv;
}

static void same(const struct ft_rec *a, const struct ft_rec *b, uint64_t i)
{
	size_t j;

	ck_assert_msg(a->timestamp == b->timestamp, "record %llu ts",
		      (unsigned long long)i);
	ck_assert_int_eq(a->tstype, b->tstype);
	ck_assert_int_eq(a->partition, b->partition);
	ck_assert_int_eq(a->offset, b->offset);
	ck_assert_int_eq(!a->key, !b->key);
	ck_assert_uint_eq(a->key_len, b->key_len);
	ck_assert(!a->key_len || !memcmp(a->key, b->key, a->key_len));
	ck_assert_int_eq(!a->value, !b->value);
	ck_assert_uint_eq(a->value_len, b->value_len);
	ck_assert(!a->value_len || !memcmp(a->value, b->value, a->value_len));
	ck_assert_uint_eq(a->nheaders, b->nheaders);
	for (j = 0; j < a->nheaders; j++) {
		ck_assert_str_eq(a->headers[j].name, b->headers[j].name);
		ck_assert_int_eq(!a->headers[j].value, !b->headers[j].value);
		ck_assert_uint_eq(a->headers[j].value_len,
				  b->headers[j].value_len);
		ck_assert(!a->headers[j].value_len ||
			  !memcmp(a->headers[j].value, b->headers[j].value,
				  a->headers[j].value_len));
	}
}

#define NREC 3000
#define BIG (300u << 10)

static void write_stream(const char *p, uint64_t from, uint64_t n, bool append,
			 size_t block)
{
	static char val[BIG];
	struct ft_rec_header hv[4];
	struct ft_recw *w;
	struct ft_rec r;
	char key[32], err[256];
	uint64_t i;

	ck_assert_int_eq(ft_recw_open(&w, p, "{\"topic\":\"t\"}", append, block,
				      err, sizeof(err)),
			 0);
	for (i = from; i < from + n; i++) {
		make(i, &r, hv, key, val, BIG);
		ck_assert_int_eq(ft_recw_add(w, &r), 0);
	}
	ck_assert_uint_eq(ft_recw_count(w), n);
	ck_assert_int_eq(ft_recw_close(w, err, sizeof(err)), 0);
}

static void read_stream(const char *p, uint64_t n)
{
	static char val[BIG];
	struct ft_rec_header hv[4];
	struct ft_recr *rd;
	struct ft_rec a, b;
	char key[32], err[256];
	uint64_t i;

	ck_assert_int_eq(
		ft_recr_open(&rd, p, FT_REC_AUTO, false, err, sizeof(err)), 0);
	ck_assert_int_eq(ft_recr_input(rd), FT_REC_FTREC);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(ft_recr_next(rd, &b, err, sizeof(err)), 1);
		make(i, &a, hv, key, val, BIG);
		same(&a, &b, i);
	}
	ck_assert_int_eq(ft_recr_next(rd, &b, err, sizeof(err)), 0);
	ft_recr_close(rd);
}

START_TEST(test_round_trip)
{
	/* small blocks: many block boundaries, a big record alone */
	write_stream(path, 0, NREC, false, 4096);
	read_stream(path, NREC);
	write_stream(path, 0, NREC, false, 0);
	read_stream(path, NREC);
}
END_TEST

/* A record carries as many headers as Kafka allows; the reader's header
 * array grows to any count in one record (once 8, then 20,000). */
START_TEST(test_many_headers)
{
	static const size_t counts[] = {3, 8, 9, 17, 20000, 5};
	struct ft_rec_header *hv;
	struct ft_recw *w;
	struct ft_recr *rd;
	struct ft_rec a, b;
	char err[256], *names;
	size_t i, j, max = 20000;

	hv = calloc(max, sizeof(*hv));
	names = malloc(max * 16);
	ck_assert_ptr_nonnull(hv);
	ck_assert_ptr_nonnull(names);
	for (j = 0; j < max; j++) {
		snprintf(names + j * 16, 16, "h%zu", j);
		hv[j].name = names + j * 16;
		hv[j].value = j % 3 ? names + j * 16 : NULL;
		hv[j].value_len = j % 3 ? strlen(names + j * 16) : 0;
	}
	ck_assert_int_eq(
		ft_recw_open(&w, path, NULL, false, 0, err, sizeof(err)), 0);
	for (i = 0; i < FT_ARRAY_SIZE(counts); i++) {
		memset(&a, 0, sizeof(a));
		a.timestamp = -1;
		a.offset = (int64_t)i;
		a.value = "v";
		a.value_len = 1;
		a.headers = hv;
		a.nheaders = counts[i];
		ck_assert_int_eq(ft_recw_add(w, &a), 0);
	}
	ck_assert_int_eq(ft_recw_close(w, err, sizeof(err)), 0);
	ck_assert_int_eq(
		ft_recr_open(&rd, path, FT_REC_AUTO, false, err, sizeof(err)),
		0);
	for (i = 0; i < FT_ARRAY_SIZE(counts); i++) {
		ck_assert_int_eq(ft_recr_next(rd, &b, err, sizeof(err)), 1);
		memset(&a, 0, sizeof(a));
		a.timestamp = -1;
		a.offset = (int64_t)i;
		a.value = "v";
		a.value_len = 1;
		a.headers = hv;
		a.nheaders = counts[i];
		same(&a, &b, i);
	}
	ck_assert_int_eq(ft_recr_next(rd, &b, err, sizeof(err)), 0);
	ft_recr_close(rd);
	free(names);
	free(hv);
}
END_TEST

START_TEST(test_meta_and_append)
{
	struct ft_recr *rd;
	char err[256];

	write_stream(path, 0, 1000, false, 8192);
	write_stream(path, 1000, NREC - 1000, true, 8192);
	read_stream(path, NREC);
	ck_assert_int_eq(
		ft_recr_open(&rd, path, FT_REC_FTREC, false, err, sizeof(err)),
		0);
	ck_assert_str_eq(ft_recr_meta(rd), "{\"topic\":\"t\"}");
	ft_recr_close(rd);
}
END_TEST

START_TEST(test_rewind)
{
	struct ft_recr *rd;
	struct ft_rec r;
	char err[256];
	int n = 0, pass;

	write_stream(path, 0, 500, false, 2048);
	ck_assert_int_eq(
		ft_recr_open(&rd, path, FT_REC_AUTO, false, err, sizeof(err)),
		0);
	for (pass = 0; pass < 3; pass++) {
		while (ft_recr_next(rd, &r, err, sizeof(err)) == 1)
			n++;
		ck_assert_int_eq(ft_recr_rewind(rd, err, sizeof(err)), 0);
	}
	ck_assert_int_eq(n, 1500);
	ft_recr_close(rd);
}
END_TEST

/* Reads the file to its end; returns the error code (0 at a clean end)
 * and the records read. */
static int read_until_error(const char *p, int *records, char *err,
			    size_t errsz)
{
	struct ft_recr *rd;
	struct ft_rec r;
	int rc;

	*records = 0;
	rc = ft_recr_open(&rd, p, FT_REC_FTREC, false, err, errsz);
	if (rc)
		return rc;
	while ((rc = ft_recr_next(rd, &r, err, errsz)) == 1)
		(*records)++;
	ft_recr_close(rd);
	return rc;
}

START_TEST(test_damage)
{
	char *data, err[256], bad[300];
	size_t n, cut;
	int records, rc;

	write_stream(path, 0, 400, false, 4096);
	data = read_all(path, &n);
	snprintf(bad, sizeof(bad), "%s/bad.ftrec", dir);

	/* a writer that never closed: whole blocks are read, no error */
	write_file(bad, data, n - 20);
	ck_assert_int_eq(read_until_error(bad, &records, err, sizeof(err)), 0);
	ck_assert_int_eq(records, 400);

	/* cut inside a block: the records before it, then an error naming
	 * the byte */
	cut = n / 2;
	write_file(bad, data, cut);
	rc = read_until_error(bad, &records, err, sizeof(err));
	ck_assert_int_eq(rc, FT_EINVAL);
	ck_assert_int_gt(records, 0);
	ck_assert_int_lt(records, 400);
	ck_assert_ptr_nonnull(strstr(err, "truncated"));
	ck_assert_ptr_nonnull(strstr(err, "byte "));

	/* a flipped bit in compressed data: the checksum catches it */
	data[n / 2] ^= 0x10;
	write_file(bad, data, n);
	rc = read_until_error(bad, &records, err, sizeof(err));
	ck_assert_int_eq(rc, FT_EINVAL);
	ck_assert_msg(strstr(err, "checksum") || strstr(err, "not a block") ||
			      strstr(err, "lengths"),
		      "%s", err);
	data[n / 2] ^= 0x10;

	/* another version */
	data[8] = 2;
	write_file(bad, data, n);
	ck_assert_int_eq(read_until_error(bad, &records, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "version 2"));
	data[8] = 1;

	/* not a recorded stream at all */
	write_file(bad, "hello\n", 6);
	ck_assert_int_eq(read_until_error(bad, &records, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a flagtap recorded stream"));

	/* appending to something else is refused, not clobbered */
	{
		struct ft_recw *w;

		ck_assert_int_eq(
			ft_recw_open(&w, bad, NULL, true, 0, err, sizeof(err)),
			FT_EINVAL);
		ck_assert_ptr_null(w);
	}
	free(data);
}
END_TEST

static int read_lines(const char *text, enum ft_rec_input in,
		      enum ft_rec_input *seen, struct ft_buf *out, char *err,
		      size_t errsz)
{
	struct ft_recr *rd;
	struct ft_rec r;
	char p[300];
	int rc, n = 0;

	snprintf(p, sizeof(p), "%s/in.txt", dir);
	write_file(p, text, strlen(text));
	rc = ft_recr_open(&rd, p, in, false, err, errsz);
	if (rc)
		return rc;
	*seen = ft_recr_input(rd);
	while ((rc = ft_recr_next(rd, &r, err, errsz)) == 1) {
		ft_rec_to_json(out, NULL, &r);
		ft_buf_addc(out, '\n');
		n++;
	}
	ft_recr_close(rd);
	return rc ? rc : n;
}

START_TEST(test_text_lines)
{
	struct ft_buf out = FT_BUF_INIT;
	enum ft_rec_input seen;
	char err[256];

	/* CRLF stripped, empty lines skipped, last line without newline */
	ck_assert_int_eq(read_lines("a b\r\n\n{\"x\":1}\nlast", FT_REC_AUTO,
				    &seen, &out, err, sizeof(err)),
			 3);
	ck_assert_int_eq(seen, FT_REC_TEXT);
	ft_buf_addc(&out, '\0');
	ck_assert_str_eq(out.data,
			 "{\"topic\":null,\"partition\":-1,\"offset\":-1,"
			 "\"tstype\":\"none\",\"ts\":-1,\"key\":null,"
			 "\"payload\":\"a b\"}\n"
			 "{\"topic\":null,\"partition\":-1,\"offset\":-1,"
			 "\"tstype\":\"none\",\"ts\":-1,\"key\":null,"
			 "\"payload\":\"{\\\"x\\\":1}\"}\n"
			 "{\"topic\":null,\"partition\":-1,\"offset\":-1,"
			 "\"tstype\":\"none\",\"ts\":-1,\"key\":null,"
			 "\"payload\":\"last\"}\n");
	ft_buf_release(&out);
}
END_TEST

START_TEST(test_json_lines)
{
	struct ft_buf out = FT_BUF_INIT;
	enum ft_rec_input seen;
	char err[256];

	ck_assert_int_eq(read_lines("{\"a\":1}\n[2]\n", FT_REC_JSON, &seen,
				    &out, err, sizeof(err)),
			 2);
	ft_buf_reset(&out);
	ck_assert_int_eq(read_lines("{\"a\":1}\n{\"a\":\n", FT_REC_JSON, &seen,
				    &out, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_msg(strstr(err, "in.txt:2: not JSON"), "%s", err);
	ft_buf_release(&out);
}
END_TEST

START_TEST(test_kcat_lines)
{
	struct ft_buf out = FT_BUF_INIT;
	enum ft_rec_input seen;
	char err[256];
	const char *in =
		"{\"topic\":\"kc\",\"partition\":1,\"offset\":7,\"tstype\":"
		"\"create\",\"ts\":1795755025451,\"broker\":1,\"headers\":"
		"[\"trace\",\"abc\",\"empty\",\"\"],\"key\":\"a\",\"payload\":"
		"\"one \\\"q\\\" \\u00e9\"}\n"
		"{\"topic\":\"kc\",\"partition\":0,\"offset\":8,\"tstype\":"
		"\"logappend\",\"ts\":5,\"key\":null,\"payload\":null}\n"
		"{\"partition\":0,\"offset\":9,\"ts\":6,\"key_base64\":\"AP8="
		"\","
		"\"payload_base64\":\"\"}\n";

	ck_assert_int_eq(
		read_lines(in, FT_REC_AUTO, &seen, &out, err, sizeof(err)), 3);
	ck_assert_int_eq(seen, FT_REC_KCAT);
	ft_buf_addc(&out, '\0');
	ck_assert_str_eq(
		out.data,
		"{\"topic\":null,\"partition\":1,\"offset\":7,\"tstype\":"
		"\"create\",\"ts\":1795755025451,\"headers\":[\"trace\","
		"\"abc\","
		"\"empty\",\"\"],\"key\":\"a\",\"payload\":\"one \\\"q\\\" "
		"\xc3\xa9\"}\n"
		"{\"topic\":null,\"partition\":0,\"offset\":8,\"tstype\":"
		"\"logappend\",\"ts\":5,\"key\":null,\"payload\":null}\n"
		"{\"topic\":null,\"partition\":0,\"offset\":9,\"tstype\":"
		"\"create\",\"ts\":6,\"key_base64\":\"AP8=\",\"payload\":\"\"}"
		"\n");
	ft_buf_reset(&out);
	ck_assert_int_eq(read_lines("{\"partition\":0,\"payload\":\"x\"}\n"
				    "{\"partition\":\"zero\",\"payload\":1}\n",
				    FT_REC_KCAT, &seen, &out, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_msg(strstr(err, "in.txt:2:"), "%s", err);
	ft_buf_release(&out);
}
END_TEST

/* A kcat -J line is read in a constant number of passes whatever its
 * header count: the JSON reader's work stays a small multiple of the
 * line (reading each header by its index was quadratic). */
START_TEST(test_kcat_headers_linear)
{
	static const size_t counts[] = {1, 100, 5000};
	struct ft_buf in = FT_BUF_INIT;
	struct ft_recr *rd;
	struct ft_rec r;
	char p[300], err[256];
	size_t i, j;

	snprintf(p, sizeof(p), "%s/in.txt", dir);
	for (i = 0; i < FT_ARRAY_SIZE(counts); i++) {
		ft_buf_reset(&in);
		ft_buf_adds(&in, "{\"partition\":0,\"offset\":1,\"headers\":[");
		for (j = 0; j < counts[i]; j++)
			ft_buf_addf(&in, "%s\"n\\u0041%zu\",%s", j ? "," : "",
				    j, j % 3 ? "\"v\\\"\"" : "null");
		ft_buf_adds(&in, "],\"key\":\"k\",\"payload\":\"p\"}\n");
		ck_assert(ft_buf_ok(&in));
		write_file(p, in.data, in.len);
		ck_assert_int_eq(ft_recr_open(&rd, p, FT_REC_KCAT, false, err,
					      sizeof(err)),
				 0);
		ck_assert_int_eq(ft_recr_next(rd, &r, err, sizeof(err)), 1);
		ck_assert_uint_eq(r.nheaders, counts[i]);
		for (j = 0; j < counts[i]; j++) {
			char name[32];

			snprintf(name, sizeof(name), "nA%zu", j);
			ck_assert_str_eq(r.headers[j].name, name);
			ck_assert_int_eq(!r.headers[j].value, !(j % 3));
			if (j % 3)
				ck_assert(
					r.headers[j].value_len == 2 &&
					!memcmp(r.headers[j].value, "v\"", 2));
		}
		ck_assert_msg(ft_recr_work(rd) <= 16 * (uint64_t)in.len,
			      "%zu headers: %llu bytes of work for a %zu-byte "
			      "line",
			      counts[i], (unsigned long long)ft_recr_work(rd),
			      in.len);
		ck_assert_int_eq(ft_recr_next(rd, &r, err, sizeof(err)), 0);
		ft_recr_close(rd);
	}
	/* elements that are not strings (or null values) are refused */
	write_file(p, "{\"partition\":0,\"headers\":[\"a\",1]}\n", 34);
	ck_assert_int_eq(
		ft_recr_open(&rd, p, FT_REC_KCAT, false, err, sizeof(err)), 0);
	ck_assert_int_eq(ft_recr_next(rd, &r, err, sizeof(err)), FT_EINVAL);
	ck_assert_msg(strstr(err, "\"headers\" must be"), "%s", err);
	ft_recr_close(rd);
	write_file(p, "{\"partition\":0,\"headers\":[null,\"a\"]}\n", 37);
	ck_assert_int_eq(
		ft_recr_open(&rd, p, FT_REC_KCAT, false, err, sizeof(err)), 0);
	ck_assert_int_eq(ft_recr_next(rd, &r, err, sizeof(err)), FT_EINVAL);
	ft_recr_close(rd);
	write_file(p, "{\"partition\":0,\"headers\":[\"a\"]}\n", 32);
	ck_assert_int_eq(
		ft_recr_open(&rd, p, FT_REC_KCAT, false, err, sizeof(err)), 0);
	ck_assert_int_eq(ft_recr_next(rd, &r, err, sizeof(err)), FT_EINVAL);
	ft_recr_close(rd);
	ft_buf_release(&in);
}
END_TEST

START_TEST(test_follow)
{
	static char val[BIG];
	struct ft_rec_header hv[4];
	struct ft_recw *w;
	struct ft_recr *rd;
	struct ft_rec a, b;
	char key[32], err[256], c;
	pid_t pid;
	int i, status, fds[2];

	/* a writer adds blocks while the reader follows the file; the pipe
	 * says when the header is there */
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		close(fds[0]);
		if (ft_recw_open(&w, path, NULL, false, 0, err, sizeof(err)) ||
		    write(fds[1], "x", 1) != 1)
			_exit(1);
		for (i = 0; i < 50; i++) {
			make((uint64_t)i, &a, hv, key, val, 1000);
			if (ft_recw_add(w, &a) || ft_recw_flush(w))
				_exit(1);
			nanosleep(&(struct timespec){0, 2000000}, NULL);
		}
		_exit(ft_recw_close(w, err, sizeof(err)) ? 1 : 0);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	close(fds[0]);
	ck_assert_int_eq(
		ft_recr_open(&rd, path, FT_REC_AUTO, true, err, sizeof(err)),
		0);
	for (i = 0; i < 50; i++) {
		ck_assert_int_eq(ft_recr_next(rd, &b, err, sizeof(err)), 1);
		make((uint64_t)i, &a, hv, key, val, 1000);
		same(&a, &b, (uint64_t)i);
	}
	/* the end block ends a follow */
	ck_assert_int_eq(ft_recr_next(rd, &b, err, sizeof(err)), 0);
	ft_recr_close(rd);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && !WEXITSTATUS(status));
}
END_TEST

Suite *ft_recfile_suite(void)
{
	Suite *s = suite_create("recfile");
	TCase *tc = tcase_create("ftrec");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_many_headers);
	tcase_add_test(tc, test_meta_and_append);
	tcase_add_test(tc, test_rewind);
	tcase_add_test(tc, test_damage);
	tcase_add_test(tc, test_follow);
	suite_add_tcase(s, tc);

	tc = tcase_create("lines");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_text_lines);
	tcase_add_test(tc, test_json_lines);
	tcase_add_test(tc, test_kcat_lines);
	tcase_add_test(tc, test_kcat_headers_linear);
	suite_add_tcase(s, tc);
	return s;
}
