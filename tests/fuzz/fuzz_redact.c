/*
 * fuzz_redact: libFuzzer harness for ft_redact_apply().
 *
 * Input: a flags byte (bit 0: the record is JSON; bits 1-3: salt length),
 * a span count byte (0-8), five bytes per span (start and length as 16-bit
 * little-endian numbers, scaled to the record; then the mode), and the
 * record.  Besides memory safety it checks that:
 *  - the output is valid UTF-8 when the record was;
 *  - the output is valid JSON when the record was and is flagged JSON;
 *  - without a hash span, the output has the record's length;
 *  - the reported tokens, wrapped in [ ], are a JSON array of 23-byte
 *    entries.
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_redact
 *   build-fuzz/tests/fuzz/fuzz_redact tests/fuzz/corpus/redact
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/json.h"
#include "flagtap/redact.h"

#define MAX_SPANS 8
#define SPAN_BYTES 5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char salt[] = "fuzz-salt";

/* Start and length from 16-bit values: mostly inside the record, some
 * past its end, and 0xffff as a length that overflows start + len. */
static void make_span(const uint8_t *b, size_t len, struct ft_redaction *sp)
{
	unsigned int start = b[0] | (unsigned int)b[1] << 8;
	unsigned int n = b[2] | (unsigned int)b[3] << 8;

	sp->start = start % (len + 4);
	sp->len = n == 0xffff ? SIZE_MAX : n % (len + 8);
	sp->mode = b[4] % 5 == 4 ? (enum ft_redact)200
				 : (enum ft_redact)(b[4] % 5);
}

static void check_tokens(const struct ft_buf *tokens)
{
	struct ft_buf arr = FT_BUF_INIT;

	if (!tokens->len)
		return;
	if (tokens->len % 23 || tokens->data[tokens->len - 1] != ',')
		abort();
	ft_buf_addc(&arr, '[');
	ft_buf_add(&arr, tokens->data, tokens->len - 1);
	ft_buf_addc(&arr, ']');
	if (!ft_buf_ok(&arr) || ft_json_validate(arr.data, arr.len, NULL, 0))
		abort();
	ft_buf_release(&arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ft_redaction spans[MAX_SPANS];
	struct ft_buf out = FT_BUF_INIT, tokens = FT_BUF_INIT;
	const char *rec;
	size_t nspans, len, i, salt_len;
	bool json, any_hash = false;

	if (size < 2)
		return 0;
	json = data[0] & 1;
	salt_len = (data[0] >> 1) & 7;
	nspans = data[1] % (MAX_SPANS + 1);
	if (size - 2 < nspans * SPAN_BYTES)
		return 0;
	rec = (const char *)data + 2 + nspans * SPAN_BYTES;
	len = size - 2 - nspans * SPAN_BYTES;
	for (i = 0; i < nspans; i++) {
		make_span(data + 2 + i * SPAN_BYTES, len, &spans[i]);
		any_hash |= spans[i].mode == FT_REDACT_HASH;
	}
	if (ft_redact_apply(rec, len, json, spans, nspans, salt, salt_len, &out,
			    &tokens))
		abort();
	if (ft_json_utf8_valid(rec, len) &&
	    !ft_json_utf8_valid(out.data, out.len))
		abort();
	if (json && ft_json_validate(rec, len, NULL, 0) == 0 &&
	    ft_json_validate(out.data, out.len, NULL, 0) != 0)
		abort();
	if (!any_hash && (out.len != len || tokens.len))
		abort();
	check_tokens(&tokens);
	ft_buf_release(&out);
	ft_buf_release(&tokens);
	return 0;
}
