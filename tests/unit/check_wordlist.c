/*
 * check_wordlist: list parsing, whole-word case-insensitive matching,
 * leftmost-longest choice, `from` offsets, and a 20,000-name list checked
 * against a brute-force reference on random texts.
 *
 * Non-ASCII letters are written as UTF-8 escapes, split from the letters
 * that follow them ("M\xc3\x9c" "LLER") since a hex escape swallows every
 * hex digit after it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/wordlist.h"
#include "suites.h"

#define S(x) x, sizeof(x) - 1

static size_t below(uint64_t *s, size_t n);
static struct ft_wordlist *parse_ok(const char *text, size_t n);

/* ---- find: table ------------------------------------------------ */

struct find_case {
	const char *list;
	const char *text;
	size_t from;
	const char *want; /* the matched text, or NULL for no match */
	size_t start;
};

/* clang-format off */
#define HIT(list, text, from, start, want) {list, text, from, want, start}
#define MISS(list, text, from) {list, text, from, NULL, 0}
/* clang-format on */

/* clang-format off */
static const struct find_case find_cases[] = {
	/* the header's examples */
	HIT("Ivan Petrov", "IVAN  PETROV,", 0, 0, "IVAN  PETROV"),
	HIT("Ivan Petrov", "to ivan-petrov.", 0, 3, "ivan-petrov"),
	MISS("Ivan Petrov", "Ivan Petrovich", 0),
	MISS("Ivan Petrov", "Ivanov Petrov", 0),
	MISS("Ivan Petrov", "Ivan", 0),
	MISS("Ivan Petrov", "Petrov Ivan", 0),
	/* whole words only */
	MISS("Ali", "Alibaba", 0),
	MISS("Ali", "Khalid", 0),
	MISS("Ali", "Bali", 0),
	MISS("Ali", "ali2", 0),
	MISS("Ali", "2ali", 0),
	HIT("Ali", "Ali's shop", 0, 0, "Ali"),
	HIT("Ali", "(ali)", 0, 1, "ali"),
	HIT("Ali", "x=ALI;", 0, 2, "ALI"),
	MISS("Ali Hassan", "Ali Hassanein", 0),
	MISS("Ali Hassan", "Mali Hassan", 0),
	HIT("007", "agent 007.", 0, 6, "007"),
	MISS("007", "agent 0071", 0),
	MISS("caf\xc3\xa9", "caf\xc3\xa9s", 0),
	MISS("caf\xc3\xa9", "cafe", 0),
	/* case folding: ASCII, Latin-1 Supplement, Cyrillic */
	HIT("M\xc3\xbcller", "Herr M\xc3\x9c" "LLER", 0, 5, "M\xc3\x9c" "LLER"),
	HIT("M\xc3\x9c" "LLER", "m\xc3\xbcller", 0, 0, "m\xc3\xbcller"),
	MISS("M\xc3\xbcller", "Muller", 0),
	MISS("M\xc3\xbcller", "M\xc3\xbcllers", 0),
	HIT("\xc3\x89lodie \xc3\x80lvarez", "\xc3\xa9LODIE \xc3\xa0LVAREZ", 0,
	    0, "\xc3\xa9LODIE \xc3\xa0LVAREZ"),
	HIT("\xc3\x98stberg", "\xc3\xb8STBERG", 0, 0, "\xc3\xb8STBERG"),
	/* full case folding: sharp s is "ss" */
	HIT("stra\xc3\x9f" "e", "STRASSE", 0, 0, "STRASSE"),
	/* U+00D7 and U+00F7 are not letters: they separate words */
	HIT("a\xc3\x97" "b", "a\xc3\xb7" "b", 0, 0, "a\xc3\xb7" "b"),
	MISS("a\xc3\x97" "b", "a\xc3\xb7", 0),
	/* Cyrillic: "Иван Петров" */
	HIT("\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd \xd0\x9f\xd0\xb5\xd1\x82\xd1\x80"
	    "\xd0\xbe\xd0\xb2",
	    "\xd0\x98\xd0\x92\xd0\x90\xd0\x9d-\xd0\x9f\xd0\x95\xd0\xa2\xd0\xa0"
	    "\xd0\x9e\xd0\x92!",
	    0, 0,
	    "\xd0\x98\xd0\x92\xd0\x90\xd0\x9d-\xd0\x9f\xd0\x95\xd0\xa2\xd0\xa0"
	    "\xd0\x9e\xd0\x92"),
	/* "иван петров" does not match "иван петрович" */
	MISS("\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd \xd0\xbf\xd0\xb5\xd1\x82\xd1\x80"
	     "\xd0\xbe\xd0\xb2",
	     "\xd0\x98\xd0\x92\xd0\x90\xd0\x9d \xd0\x9f\xd0\x95\xd0\xa2\xd0\xa0"
	     "\xd0\x9e\xd0\x92\xd0\x98\xd0\xa7",
	     0),
	/* Ё U+0401 / ё U+0451: "Ёлкин" */
	HIT("\xd0\x81\xd0\xbb\xd0\xba\xd0\xb8\xd0\xbd",
	    "\xd1\x91\xd0\x9b\xd0\x9a\xd0\x98\xd0\x9d", 0, 0,
	    "\xd1\x91\xd0\x9b\xd0\x9a\xd0\x98\xd0\x9d"),
	/* Є U+0404 / є U+0454, Ѣ U+0462 / ѣ U+0463, Ґ U+0490 / ґ U+0491 */
	HIT("\xd1\x94\xd1\xa3\xd2\x91", "\xd0\x84\xd1\xa2\xd2\x90", 0, 0,
	    "\xd0\x84\xd1\xa2\xd2\x90"),
	/* Ӂ U+04C1 / ӂ U+04C2, Ӏ U+04C0 / ӏ U+04CF, Ӑ U+04D0 / ӑ U+04D1 */
	HIT("\xd3\x82\xd3\x8f\xd3\x91", "\xd3\x81\xd3\x80\xd3\x90", 0, 0,
	    "\xd3\x81\xd3\x80\xd3\x90"),
	/* Latin and Cyrillic look-alikes match: Latin "A" vs Cyrillic "А" */
	HIT("Anna", "\xd0\x90nna", 0, 0, "\xd0\x90nna"),
	/* punctuation and white space between words */
	HIT("Ivan Petrov", "Ivan\t\n.,;Petrov", 0, 0, "Ivan\t\n.,;Petrov"),
	HIT("Ivan, Petrov", "ivan petrov", 0, 0, "ivan petrov"),
	HIT("  Ivan   Petrov  ", "(Ivan Petrov)", 0, 1, "Ivan Petrov"),
	/* Unicode spaces separate words as ' ' does */
	HIT("Ivan Petrov", "Ivan\xe2\x80\x83Petrov", 0, 0,
	    "Ivan\xe2\x80\x83Petrov"),
	HIT("Ivan Petrov", "to Ivan\xc2\xa0Petrov.", 0, 3,
	    "Ivan\xc2\xa0Petrov"),
	HIT("Ivan Petrov", "Ivan\xe3\x80\x80Petrov", 0, 0,
	    "Ivan\xe3\x80\x80Petrov"),
	/* so does Unicode punctuation, but not a letter: ¡ and ª */
	HIT("Ivan Petrov", "Ivan\xc2\xa1Petrov", 0, 0, "Ivan\xc2\xa1Petrov"),
	MISS("Ivan Petrov", "Ivan\xc2\xaaPetrov", 0),
	/* multiword terms */
	HIT("Bank of America", "pay BANK-OF-AMERICA now", 0, 4,
	    "BANK-OF-AMERICA"),
	MISS("Bank of America", "Bank of Americana", 0),
	MISS("Bank of America", "Bank America", 0),
	HIT("a b c d e f g h i j k l m n o p", "x A B C D E F G H I J K L M N O P",
	    0, 2, "A B C D E F G H I J K L M N O P"),
	/* leftmost, then longest */
	HIT("new york\nnew york city\nyork city hall",
	    "in new york city hall", 0, 3, "new york city"),
	HIT("york\nnew york", "new york", 0, 0, "new york"),
	HIT("b c d\na b", "a b c d", 0, 0, "a b"),
	HIT("b c\na b c d", "a b c x", 0, 2, "b c"),
	HIT("ivan\nivan petrov\nivan petrov jr", "Ivan Petrov Sr", 0, 0,
	    "Ivan Petrov"),
	HIT("x y z\ny", "x y q", 0, 2, "y"),
	/* from */
	HIT("Ivan Petrov", "ivan petrov and ivan petrov", 1, 16, "ivan petrov"),
	HIT("Petrov", "ivan petrov", 5, 5, "petrov"),
	MISS("Petrov", "ivan petrov", 6),
	HIT("trov\npetrov", "ivan petrov trov", 7, 12, "trov"),
	HIT("Petrov", "ivan petrov", 4, 5, "petrov"),
	MISS("Petrov", "ivan petrov", 11),
	MISS("Petrov", "ivan petrov", 12),
	MISS("Petrov", "ivan petrov", 1000),
	MISS("Petrov", "", 0),
	/* from inside a multibyte word */
	MISS("\xc3\xbc" "ber", "m\xc3\xbc" "ber", 2),
};
/* clang-format on */

/*
 * Evasions: the same name with invisible characters, decomposed or
 * full-width letters, Cyrillic or Greek look-alikes, other cases and
 * white space.  Spans are in the original text.
 */
/* clang-format off */
static const struct find_case evasion_cases[] = {
	/* zero-width space inside a word: removed, the span keeps it */
	HIT("Ivan Ivanov", "to Ivan Ivan\xe2\x80\x8bov.", 0, 3,
	    "Ivan Ivan\xe2\x80\x8bov"),
	MISS("Ivan", "Ivan\xe2\x80\x8bov", 0),
	/* a leading or trailing invisible character is not in the span */
	HIT("Ivanov", "\xe2\x80\x8bIvanov\xe2\x80\x8b.", 0, 3, "Ivanov"),
	/* soft hyphen */
	HIT("Petrov", "x Pet\xc2\xadrov", 0, 2, "Pet\xc2\xadrov"),
	/* zero-width joiner and non-joiner, word joiner, byte order mark */
	HIT("Ivanov", "I\xe2\x80\x8dva\xe2\x80\x8cno\xe2\x81\xa0v\xef\xbb\xbf!",
	    0, 0, "I\xe2\x80\x8dva\xe2\x80\x8cno\xe2\x81\xa0v"),
	/* NFD text, NFC term and the reverse */
	HIT("M\xc3\xbcller", "Herr Mu\xcc\x88ller", 0, 5, "Mu\xcc\x88ller"),
	HIT("Mu\xcc\x88ller", "M\xc3\x9c" "LLER", 0, 0, "M\xc3\x9c" "LLER"),
	HIT("M\xc3\xbcller", "MU\xcc\x88LLER;", 0, 0, "MU\xcc\x88LLER"),
	/* transliterations and other accents are other names */
	MISS("M\xc3\xbcller", "Mueller", 0),
	MISS("Ivan", "Iva\xcc\x81n", 0),
	/* full-width letters and hyphen */
	HIT("Ivan", "\xef\xbc\xa9\xef\xbd\x96\xef\xbd\x81\xef\xbd\x8e", 0, 0,
	    "\xef\xbc\xa9\xef\xbd\x96\xef\xbd\x81\xef\xbd\x8e"),
	HIT("Ivan Petrov",
	    "\xc2\xab\xef\xbc\xa9\xef\xbd\x96\xef\xbd\x81\xef\xbd\x8e\xef\xbc\x8d"
	    "\xef\xbc\xb0\xef\xbd\x85\xef\xbd\x94\xef\xbd\x92\xef\xbd\x8f\xef\xbd"
	    "\x96\xc2\xbb",
	    0, 2,
	    "\xef\xbc\xa9\xef\xbd\x96\xef\xbd\x81\xef\xbd\x8e\xef\xbc\x8d"
	    "\xef\xbc\xb0\xef\xbd\x85\xef\xbd\x94\xef\xbd\x92\xef\xbd\x8f\xef\xbd"
	    "\x96"),
	HIT("M\xc3\xbcller", "\xef\xbc\xad\xc3\xbcller", 0, 0,
	    "\xef\xbc\xad\xc3\xbcller"),
	/* Cyrillic look-alikes: І U+0406; Р, е, о; В looks like B */
	HIT("Ivanov", "\xd0\x86vanov", 0, 0, "\xd0\x86vanov"),
	HIT("Petrov", "\xd0\xa0\xd0\xb5tr\xd0\xbev", 0, 0,
	    "\xd0\xa0\xd0\xb5tr\xd0\xbev"),
	HIT("Boris", "\xd0\x92\xd0\x9eRIS", 0, 0, "\xd0\x92\xd0\x9eRIS"),
	/* Greek look-alikes: alpha; capital alpha, nu, omicron */
	HIT("Ivan", "Iv\xce\xb1n", 0, 0, "Iv\xce\xb1n"),
	HIT("Anna", "\xce\x91\xce\x9d\xce\x9d\xce\x91", 0, 0,
	    "\xce\x91\xce\x9d\xce\x9d\xce\x91"),
	HIT("Olga", "\xce\x9fLGA", 0, 0, "\xce\x9fLGA"),
	/* Cyrillic terms still fold case: "Вера" and "вЕРА" */
	HIT("\xd0\x92\xd0\xb5\xd1\x80\xd0\xb0",
	    "\xd0\xb2\xd0\x95\xd0\xa0\xd0\x90", 0, 0,
	    "\xd0\xb2\xd0\x95\xd0\xa0\xd0\x90"),
	/* look-alike letters, not look-alike words */
	MISS("Ali", "All", 0),
	MISS("Ivan", "Ivana", 0),
	/* rules/README.md, Lists: the table for "Müller" */
	HIT("M\xc3\xbcller", "\xd0\x9c\xc3\xbcller", 0, 0,
	    "\xd0\x9c\xc3\xbcller"),
	HIT("M\xc3\xbcller", "M\xc3\xbcl\xc2\xadler", 0, 0,
	    "M\xc3\xbcl\xc2\xadler"),
	HIT("M\xc3\xbcller", "Herr-M\xc3\xbcller,", 0, 5, "M\xc3\xbcller"),
	MISS("M\xc3\xbcller", "M\xc3\xb9ller", 0),
	MISS("M\xc3\xbcller", "M\xc3\xbcllerBank", 0),
	MISS("M\xc3\xbcller", "M\xc3\xbcllers", 0),
	/* and the rest of it */
	HIT("Ivan Petrov", "\xd0\x86VAN  PETROV", 0, 0,
	    "\xd0\x86VAN  PETROV"),
	HIT("Ivan Petrov", "Iv\xce\xb1n\xc2\xa0Petrov", 0, 0,
	    "Iv\xce\xb1n\xc2\xa0Petrov"),
	HIT("Kim", "Kirn", 0, 0, "Kirn"),
	HIT("Ali", "A1i", 0, 0, "A1i"),
	MISS("Oleg", "0leg", 0),
	/* ligatures and enclosed forms are their letters */
	HIT("fine", "\xef\xac\x81ne", 0, 0, "\xef\xac\x81ne"),
	/* white space runs, Unicode spaces and line separators */
	HIT("Ivan Petrov", "Ivan \t\xc2\xa0\xe3\x80\x80\n Petrov", 0, 0,
	    "Ivan \t\xc2\xa0\xe3\x80\x80\n Petrov"),
	HIT("Ivan Petrov", "Ivan\xe2\x80\xa8Petrov", 0, 0,
	    "Ivan\xe2\x80\xa8Petrov"),
	/* mixed with valid UTF-8 around: "Платёж: Іvan Pеtrov — спасибо" */
	HIT("Ivan Petrov",
	    "\xd0\x9f\xd0\xbb\xd0\xb0\xd1\x82\xd1\x91\xd0\xb6: \xd0\x86van"
	    "\xc2\xa0P\xd0\xb5trov \xe2\x80\x94 \xd1\x81\xd0\xbf\xd0\xb0\xd1\x81"
	    "\xd0\xb8\xd0\xb1\xd0\xbe",
	    0, 14, "\xd0\x86van\xc2\xa0P\xd0\xb5trov"),
	/* invalid UTF-8 is a letter of its own: it glues, it does not break */
	HIT("Ivan", "\xff Ivan \xc3", 0, 2, "Ivan"),
	MISS("Ivan", "\xffIvan", 0),
	MISS("Ivan", "Ivan\xc3", 0),
	HIT("\xff" "a", "x \xff" "A", 0, 2, "\xff" "A"),
	/* from inside a word made of several code points */
	MISS("\xcc\x88ller", "Mu\xcc\x88ller", 2),
	MISS("ller", "Mu\xcc\x88ller", 4),
	HIT("Ivanov", "Ivan\xe2\x80\x8bov Ivanov", 4, 10, "Ivanov"),
};
/* clang-format on */

static void check_find(const struct find_case *t, int i)
{
	struct ft_wordlist *wl = NULL;
	size_t start = 99, len = 99;
	char err[128];
	bool found;
	int rc;

	rc = ft_wordlist_parse("t.list", t->list, strlen(t->list), &wl, err,
			       sizeof(err));
	ck_assert_msg(rc == 0, "case %d: %s", i, err);
	found = ft_wordlist_find(wl, t->text, strlen(t->text), t->from, &start,
				 &len);
	if (!t->want) {
		ck_assert_msg(!found, "case %d: found '%.*s' at %zu", i,
			      (int)len, t->text + start, start);
		ck_assert_msg(start == 99 && len == 99, "case %d: spans set",
			      i);
	} else {
		ck_assert_msg(found, "case %d: not found", i);
		ck_assert_msg(start == t->start, "case %d: start %zu, want %zu",
			      i, start, t->start);
		ck_assert_msg(len == strlen(t->want) &&
				      memcmp(t->text + start, t->want, len) ==
					      0,
			      "case %d: '%.*s', want '%s'", i, (int)len,
			      t->text + start, t->want);
	}
	ft_wordlist_free(wl);
}

START_TEST(test_evasion)
{
	check_find(&evasion_cases[_i], _i);
}
END_TEST

START_TEST(test_find)
{
	check_find(&find_cases[_i], _i);
}
END_TEST

/* Only [s, s+n) is searched. */
START_TEST(test_find_length_bounded)
{
	const char text[] = "ivan petrovich ivan";
	struct ft_wordlist *wl;
	size_t start, len;

	ck_assert_int_eq(ft_wordlist_parse("t", S("Ivan Petrov"), &wl, NULL, 0),
			 0);
	ck_assert(
		!ft_wordlist_find(wl, text, sizeof(text) - 1, 0, &start, &len));
	ck_assert(ft_wordlist_find(wl, text, 11, 0, &start, &len));
	ck_assert_uint_eq(start, 0);
	ck_assert_uint_eq(len, 11);
	ck_assert(!ft_wordlist_find(wl, "ivan petro", 10, 0, &start, &len));
	ft_wordlist_free(wl);
}
END_TEST

/* Iterating with from = end of the last match visits every match. */
START_TEST(test_find_all)
{
	const char *text = "Ivan Petrov, ivan; ANNA-MARIA ivan petrova anna "
			   "maria ivan petrov";
	static const size_t want[][2] = {{0, 11}, {13, 4},  {19, 10},
					 {30, 4}, {43, 10}, {54, 11}};
	struct ft_wordlist *wl;
	size_t from = 0, start, len, i = 0;

	ck_assert_int_eq(ft_wordlist_parse("t",
					   S("ivan\nivan petrov\nanna "
					     "maria\n"),
					   &wl, NULL, 0),
			 0);
	while (ft_wordlist_find(wl, text, strlen(text), from, &start, &len)) {
		ck_assert_uint_lt(i, FT_ARRAY_SIZE(want));
		ck_assert_uint_eq(start, want[i][0]);
		ck_assert_uint_eq(len, want[i][1]);
		from = start + len;
		i++;
	}
	ck_assert_uint_eq(i, FT_ARRAY_SIZE(want));
	ft_wordlist_free(wl);
}
END_TEST

/* ---- linear work on hostile text ------------------------------- */

/*
 * Hostile texts of n units: one letter followed by combining marks in
 * the order that canonical reordering sorts slowest, zero-width spaces
 * between listed names, invalid UTF-8, and listed names back to back.
 */
static void hostile(struct ft_buf *b, int kind, size_t n)
{
	size_t i;

	ft_buf_reset(b);
	for (i = 0; i < n; i++) {
		switch (kind) {
		case 0: /* a, then U+0301 and U+0316 alternating */
			ft_buf_adds(b, i == 0  ? "a"
				       : i % 2 ? "\xcc\x81"
					       : "\xcc\x96");
			break;
		case 1:
			ft_buf_adds(b, i % 8 ? "\xe2\x80\x8b" : "Ivan");
			break;
		case 2:
			ft_buf_adds(b, i % 3 ? "\xff\xc3" : "\xe2\x80Ivan ");
			break;
		default:
			ft_buf_adds(b, "ivan ");
			break;
		}
	}
	ck_assert(ft_buf_ok(b));
}

/*
 * Walks every match as match.c does: from the end of a match, and from
 * the next character when a match is rejected.  Returns the work done.
 */
static uint64_t walk_all(const struct ft_wordlist *wl, const struct ft_buf *b,
			 bool reject)
{
	uint64_t w0 = ft_wordlist_work();
	size_t from = 0, start, len;

	while (ft_wordlist_find(wl, b->data, b->len, from, &start, &len))
		from = reject ? start + 1 : start + len;
	return ft_wordlist_work() - w0;
}

START_TEST(test_linear)
{
	struct ft_wordlist *wl = parse_ok(S("ivan\na\xcc\x81\nivan ivan\n"));
	struct ft_buf b = FT_BUF_INIT;
	uint64_t w1, w2;
	int kind, reject;

	for (kind = 0; kind < 4; kind++) {
		for (reject = 0; reject < 2; reject++) {
			hostile(&b, kind, 20000);
			w1 = walk_all(wl, &b, reject);
			ck_assert_uint_gt(w1, 0);
			ck_assert_msg(w1 <= 64 * (uint64_t)b.len,
				      "kind %d: %llu work for %zu bytes", kind,
				      (unsigned long long)w1, b.len);
			hostile(&b, kind, 40000);
			w2 = walk_all(wl, &b, reject);
			ck_assert_msg(w2 <= 2 * w1 + w1 / 10,
				      "kind %d reject %d: %llu then %llu", kind,
				      reject, (unsigned long long)w1,
				      (unsigned long long)w2);
		}
	}
	ft_buf_release(&b);
	ft_wordlist_free(wl);
}
END_TEST

/* Random bytes: no crash, every match inside the text. */
START_TEST(test_random_bytes)
{
	struct ft_wordlist *wl = parse_ok(
		S("ivan\n\xd0\x86\xff\nm\xc3\xbc\n\xc3\nab\xcc\x88\n"));
	static const char alphabet[] = "ivan \xff\xc3\xbc\xcc\x88\xd0\x86\xe2"
				       "\x80\x8bM\xef\xbc\xa9";
	uint64_t seed = 42;
	char text[64];
	size_t i, j, n, from, start, len;

	for (i = 0; i < 20000; i++) {
		n = below(&seed, sizeof(text));
		for (j = 0; j < n; j++)
			text[j] = alphabet[below(&seed, sizeof(alphabet) - 1)];
		for (from = 0; from < n; from++) {
			if (!ft_wordlist_find(wl, text, n, from, &start, &len))
				continue;
			ck_assert(start >= from && len > 0 && len <= n - start);
		}
	}
	ft_wordlist_free(wl);
}
END_TEST

/* ---- parsing ---------------------------------------------------- */

static struct ft_wordlist *parse_ok(const char *text, size_t n)
{
	struct ft_wordlist *wl = NULL;
	char err[128];
	int rc;

	rc = ft_wordlist_parse("t.list", text, n, &wl, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_ptr_nonnull(wl);
	return wl;
}

static bool has(const struct ft_wordlist *wl, const char *text)
{
	size_t start, len;

	return ft_wordlist_find(wl, text, strlen(text), 0, &start, &len);
}

START_TEST(test_comments_and_blanks)
{
	struct ft_wordlist *wl = parse_ok(S("# sanctions, test data\n"
					    "\n"
					    "  \t\n"
					    "Ivan Petrov\n"
					    "   # an indented comment\n"
					    "Anna#Maria\n"
					    "\r\n"
					    "# Hidden Name\n"
					    "last line"));

	ck_assert_uint_eq(ft_wordlist_size(wl), 3);
	ck_assert(has(wl, "ivan petrov"));
	ck_assert(has(wl, "anna maria"));
	ck_assert(has(wl, "last line"));
	ck_assert(!has(wl, "hidden name"));
	ck_assert(!has(wl, "sanctions"));
	ck_assert(!has(wl, "an indented comment"));
	ft_wordlist_free(wl);
}
END_TEST

START_TEST(test_crlf_and_bom)
{
	struct ft_wordlist *wl =
		parse_ok(S("\xef\xbb\xbfIvan\r\nPetrov\r\n\r\n"));

	ck_assert_uint_eq(ft_wordlist_size(wl), 2);
	ck_assert(has(wl, "ivan"));
	ck_assert(has(wl, "petrov"));
	ft_wordlist_free(wl);
}
END_TEST

START_TEST(test_duplicates)
{
	struct ft_wordlist *wl = parse_ok(S("Ivan Petrov\n"
					    "IVAN PETROV\n"
					    "ivan-petrov\n"
					    "  Ivan,  Petrov.\n"
					    "M\xc3\xbcller\n"
					    "M\xc3\x9cLLER\n"
					    "Ivan\n"));

	ck_assert_uint_eq(ft_wordlist_size(wl), 3);
	ft_wordlist_free(wl);
}
END_TEST

START_TEST(test_nul_in_text)
{
	struct ft_wordlist *wl = parse_ok(S("ivan petrov\n"));
	size_t start, len;

	ck_assert(
		ft_wordlist_find(wl, S("x\0ivan\0petrov\0"), 0, &start, &len));
	ck_assert_uint_eq(start, 2);
	ck_assert_uint_eq(len, 11);
	ft_wordlist_free(wl);
}
END_TEST

struct parse_error {
	const char *text;
	const char *err;
};

static const struct parse_error parse_errors[] = {
	{"", "t.list: no terms"},
	{"# only\n\n  \n# comments\n", "t.list: no terms"},
	{"\xef\xbb\xbf", "t.list: no terms"},
	{"ok\n\n---\n", "t.list:3: term has no letter or digit"},
	/* only invisible characters: nothing is left to match */
	{"ok\n\xe2\x80\x8b\xc2\xad \xef\xbb\xbf\n",
	 "t.list:2: term has no letter or digit"},
	{"a b c d e f g h i j k l m n o p q\n",
	 "t.list:1: term has more than 16 words"},
	{"fine\nw w w w w w w w w w w w w w w w, w\n",
	 "t.list:2: term has more than 16 words"},
};

START_TEST(test_parse_errors)
{
	const struct parse_error *t = &parse_errors[_i];
	struct ft_wordlist *wl = (struct ft_wordlist *)&wl;
	char err[128];
	int rc;

	rc = ft_wordlist_parse("t.list", t->text, strlen(t->text), &wl, err,
			       sizeof(err));
	ck_assert_int_eq(rc, FT_EINVAL);
	ck_assert_str_eq(err, t->err);
	ck_assert_ptr_eq(wl, (struct ft_wordlist *)&wl);
}
END_TEST

/* A word longer than any name is a mistake in the list. */
START_TEST(test_long_word)
{
	struct ft_wordlist *wl = NULL;
	char text[400], err[128];

	memset(text, 'x', sizeof(text));
	text[0] = 'a';
	text[1] = '\n';
	ck_assert_int_eq(ft_wordlist_parse("t.list", text, 2 + 256, &wl, err,
					   sizeof(err)),
			 0);
	ck_assert(ft_wordlist_find(wl, text + 2, 256, 0, &(size_t){0},
				   &(size_t){0}));
	ft_wordlist_free(wl);
	wl = NULL;
	ck_assert_int_eq(ft_wordlist_parse("t.list", text, 2 + 257, &wl, err,
					   sizeof(err)),
			 FT_EINVAL);
	ck_assert_str_eq(err, "t.list:2: term has a word of more than 256 "
			      "bytes");
	ck_assert_ptr_null(wl);
}
END_TEST

START_TEST(test_sixteen_words)
{
	struct ft_wordlist *wl =
		parse_ok(S("a b c d e f g h i j k l m n o p\n"));

	ck_assert(has(wl, "A-B-C-D-E-F-G-H-I-J-K-L-M-N-O-P"));
	ck_assert(!has(wl, "a b c d e f g h i j k l m n o"));
	ck_assert(!has(wl, "b c d e f g h i j k l m n o p"));
	ft_wordlist_free(wl);
}
END_TEST

START_TEST(test_load_file)
{
	char path[] = "/tmp/ft_wordlist_XXXXXX";
	struct ft_wordlist *wl = NULL;
	char err[256];
	FILE *f;
	int fd;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# list\nIvan Petrov\nAnna\n", f);
	fclose(f);
	ck_assert_int_eq(ft_wordlist_load(path, &wl, err, sizeof(err)), 0);
	ck_assert_uint_eq(ft_wordlist_size(wl), 2);
	ck_assert(has(wl, "ANNA"));
	ft_wordlist_free(wl);

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("Ivan Petrov\n!!\n", f);
	fclose(f);
	wl = NULL;
	ck_assert_int_eq(ft_wordlist_load(path, &wl, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_ptr_null(wl);
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0 &&
			      strcmp(err + strlen(path),
				     ":2: term has no letter or digit") == 0,
		      "errstr '%s'", err);
	unlink(path);

	ck_assert_int_eq(ft_wordlist_load(path, &wl, err, sizeof(err)),
			 FT_ENOENT);
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "errstr '%s'",
		      err);
}
END_TEST

START_TEST(test_null_safe)
{
	size_t start, len;

	ft_wordlist_free(NULL);
	ck_assert_uint_eq(ft_wordlist_size(NULL), 0);
	ck_assert(!ft_wordlist_find(NULL, "x", 1, 0, &start, &len));
}
END_TEST

/* ---- 20,000 names against a brute-force reference ---------------- */

/*
 * Words are made of syllables that are each exactly two letters, so a
 * word is identified by its syllable sequence (an integer id) and two
 * words fold to the same text iff their ids are equal.  The reference
 * works on these ids only; it never sees the bytes.
 *
 * Names have words of 3 or 4 syllables; texts are filler words of 1 or 2
 * syllables, some random 3-syllable words (a few of them listed
 * one-word names), and planted names or near misses of them.
 */
#define N_NAMES 20000
#define N_TEXTS 300
#define NAME_MAX_WORDS 5
#define TEXT_MAX_TOKENS 128
#define WORD_MAX_SYL 6

/* clang-format off */
static const char *const syl_lower[] = {
	"ka", "ri", "mo", "an", "el", "vo", "ta", "sh",
	"in", "ou", "be", "lu", "za", "ne", "go", "pe",
	"di", "ro", "qu", "ti", "ar", "is", "ha", "fe",
	"m\xc3\xbc", "\xc3\xa9\x61", "\xd1\x80\xd0\xb8", "\xd0\xb2\xd0\xb0",
	"\xd1\x91\xd0\xbb", "\xd1\x8f\xd1\x89", "\xc3\xb8y", "\xc3\xa7o",
};

static const char *const syl_upper[] = {
	"KA", "RI", "MO", "AN", "EL", "VO", "TA", "SH",
	"IN", "OU", "BE", "LU", "ZA", "NE", "GO", "PE",
	"DI", "RO", "QU", "TI", "AR", "IS", "HA", "FE",
	"M\xc3\x9c", "\xc3\x89\x41", "\xd0\xa0\xd0\x98", "\xd0\x92\xd0\x90",
	"\xd0\x81\xd0\x9b", "\xd0\xaf\xd0\xa9", "\xc3\x98Y", "\xc3\x87O",
};

#define N_SYL (FT_ARRAY_SIZE(syl_lower))
_Static_assert(FT_ARRAY_SIZE(syl_lower) == 32, "5 bits per syllable");
_Static_assert(FT_ARRAY_SIZE(syl_upper) == 32, "5 bits per syllable");

static const char *const seps[] = {
	" ", " ", " ", "  ", "-", ", ", "\t", "\n", " (", ") ", "/", ". ",
	"'", "\"",
};
/* clang-format on */

struct name {
	uint64_t w[NAME_MAX_WORDS];
	size_t n;
};

struct tok {
	uint64_t id;
	size_t b, e;
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t below(uint64_t *s, size_t n)
{
	return (size_t)(rnd(s) % n);
}

/* A word id: the syllable count in the top bits, 5 bits per syllable. */
static uint64_t word_new(uint64_t *s, size_t nsyl)
{
	uint64_t id = nsyl;
	size_t i;

	for (i = 0; i < nsyl; i++)
		id = id << 5 | below(s, N_SYL);
	return id;
}

static size_t word_nsyl(uint64_t id)
{
	size_t n = 0;

	while (id >> (5 * (n + 1)))
		n++;
	return (size_t)(id >> (5 * n));
}

/* Appends word id in random case (per syllable). */
static void word_render(struct ft_buf *b, uint64_t *s, uint64_t id)
{
	size_t n = word_nsyl(id), i, k;

	for (i = n; i > 0; i--) {
		k = (size_t)(id >> (5 * (i - 1))) & 31;
		ft_buf_adds(b, below(s, 3) ? syl_lower[k] : syl_upper[k]);
	}
}

/* Appends a syllable to a word, if it has room. */
static uint64_t word_extend(uint64_t *s, uint64_t id)
{
	size_t n = word_nsyl(id);
	uint64_t low = id & ((1ull << (5 * n)) - 1);

	if (n == WORD_MAX_SYL)
		return id;
	return ((uint64_t)(n + 1) << (5 * (n + 1))) | low << 5 |
	       below(s, N_SYL);
}

/* Glues word b onto the end of *a, if the result has room. */
static bool word_glue(uint64_t *a, uint64_t b)
{
	size_t na = word_nsyl(*a), nb = word_nsyl(b), n = na + nb;

	if (n > WORD_MAX_SYL)
		return false;
	*a = (uint64_t)n << (5 * n) |
	     (*a & ((1ull << (5 * na)) - 1)) << (5 * nb) |
	     (b & ((1ull << (5 * nb)) - 1));
	return true;
}

static void name_new(uint64_t *s, struct name *nm)
{
	static const size_t nwords[] = {1, 1, 2, 2, 2, 2, 3, 3, 4, 5};
	size_t i;

	nm->n = nwords[below(s, FT_ARRAY_SIZE(nwords))];
	for (i = 0; i < nm->n; i++)
		nm->w[i] = word_new(s, below(s, 4) ? 3 : 4);
}

static int name_cmp(const void *a, const void *b)
{
	const struct name *x = a, *y = b;
	size_t i;

	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	for (i = 0; i < x->n; i++)
		if (x->w[i] != y->w[i])
			return x->w[i] < y->w[i] ? -1 : 1;
	return 0;
}

static void list_render(struct ft_buf *b, uint64_t *s, const struct name *names,
			size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (below(s, 500) == 0)
			ft_buf_adds(b, "# a comment\n\n");
		for (j = 0; j < names[i].n; j++) {
			if (j)
				ft_buf_adds(b, below(s, 4) ? " " : "-");
			word_render(b, s, names[i].w[j]);
		}
		ft_buf_addc(b, '\n');
	}
}

struct text {
	struct ft_buf buf;
	struct tok tok[TEXT_MAX_TOKENS];
	size_t ntok;
};

static void text_word(struct text *t, uint64_t *s, uint64_t id)
{
	if (t->ntok == TEXT_MAX_TOKENS)
		return;
	if (t->buf.len)
		ft_buf_adds(&t->buf, seps[below(s, FT_ARRAY_SIZE(seps))]);
	t->tok[t->ntok].id = id;
	t->tok[t->ntok].b = t->buf.len;
	word_render(&t->buf, s, id);
	t->tok[t->ntok].e = t->buf.len;
	t->ntok++;
}

/* A listed name, or a near miss of one: longer word, word missing, glued
 * words, one syllable changed. */
static void text_name(struct text *t, uint64_t *s, const struct name *nm)
{
	struct name v = *nm;
	size_t i, k = below(s, v.n);

	switch (below(s, 6)) {
	case 0:
		v.w[k] = word_extend(s, v.w[k]);
		break;
	case 1:
		if (v.n > 1)
			memmove(&v.w[k], &v.w[k + 1],
				(--v.n - k) * sizeof(v.w[0]));
		break;
	case 2:
		if (k + 1 < v.n && word_glue(&v.w[k], v.w[k + 1]))
			memmove(&v.w[k + 1], &v.w[k + 2],
				(--v.n - k - 1) * sizeof(v.w[0]));
		break;
	case 3:
		v.w[k] ^= 1;
		break;
	}
	for (i = 0; i < v.n; i++)
		text_word(t, s, v.w[i]);
}

static void text_new(struct text *t, uint64_t *s, const struct name *names,
		     size_t n)
{
	ft_buf_reset(&t->buf);
	t->ntok = 0;
	while (t->buf.len < 300) {
		if (below(s, 20) == 0)
			text_name(t, s, &names[below(s, n)]);
		else if (below(s, 10) == 0)
			text_word(t, s, word_new(s, 3));
		else
			text_word(t, s, word_new(s, 1 + below(s, 2)));
	}
	ck_assert(ft_buf_ok(&t->buf));
}

static bool name_tail_eq(const struct name *nm, const struct text *t, size_t i)
{
	size_t j;

	for (j = 1; j < nm->n; j++)
		if (nm->w[j] != t->tok[i + j].id)
			return false;
	return true;
}

/* Leftmost-longest over all names, from token `from`, by brute force. */
static bool ref_find(const struct name *names, size_t n, const struct text *t,
		     size_t from, size_t *ti, size_t *tk)
{
	size_t i, j, best;

	for (i = from; i < t->ntok; i++) {
		best = 0;
		for (j = 0; j < n; j++) {
			if (names[j].n <= best || names[j].n > t->ntok - i)
				continue;
			if (names[j].w[0] != t->tok[i].id)
				continue;
			if (names[j].n == 1 || name_tail_eq(&names[j], t, i))
				best = names[j].n;
		}
		if (best) {
			*ti = i;
			*tk = best;
			return true;
		}
	}
	return false;
}

/*
 * Walks all matches of t (from = end of the previous one) with the list
 * and with the reference; they must agree.  Returns the number of matches.
 */
static size_t check_text(const struct ft_wordlist *wl, const struct name *names,
			 size_t n, const struct text *t)
{
	size_t from = 0, ft = 0, start, len, ti, tk, hits = 0;
	bool got, want;

	for (;;) {
		got = ft_wordlist_find(wl, t->buf.data, t->buf.len, from,
				       &start, &len);
		want = ref_find(names, n, t, ft, &ti, &tk);
		ck_assert_msg(got == want,
			      "from %zu: found %d, reference %d in '%s'", from,
			      got, want, t->buf.data);
		if (!got)
			return hits;
		ck_assert_msg(start == t->tok[ti].b &&
				      len == t->tok[ti + tk - 1].e - start,
			      "span %zu+%zu, reference %zu+%zu in '%s'", start,
			      len, t->tok[ti].b, t->tok[ti + tk - 1].e - start,
			      t->buf.data);
		from = start + len;
		ft = ti + tk;
		hits++;
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static size_t count_unique(const struct name *names, size_t n)
{
	struct name *sorted = malloc(n * sizeof(*sorted));
	size_t i, uniq = 0;

	ck_assert_ptr_nonnull(sorted);
	memcpy(sorted, names, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), name_cmp);
	for (i = 0; i < n; i++)
		if (i == 0 || name_cmp(&sorted[i - 1], &sorted[i]) != 0)
			uniq++;
	free(sorted);
	return uniq;
}

START_TEST(test_scale)
{
	uint64_t seed = 0x5eed2024;
	struct name *names = calloc(N_NAMES, sizeof(*names));
	struct ft_buf list = FT_BUF_INIT;
	struct ft_wordlist *wl = NULL;
	struct text t = {.buf = FT_BUF_INIT};
	size_t i, hits = 0, quiet = 0, k;
	char err[128];
	double t0;

	ck_assert_ptr_nonnull(names);
	for (i = 0; i < N_NAMES; i++)
		name_new(&seed, &names[i]);
	list_render(&list, &seed, names, N_NAMES);
	ck_assert(ft_buf_ok(&list));
	t0 = now_ms();
	ck_assert_msg(ft_wordlist_parse("synthetic", list.data, list.len, &wl,
					err, sizeof(err)) == 0,
		      "%s", err);
	printf("wordlist: %d names (%zu bytes) loaded in %.2f ms\n", N_NAMES,
	       list.len, now_ms() - t0);
	ck_assert_uint_eq(ft_wordlist_size(wl), count_unique(names, N_NAMES));
	for (i = 0; i < N_TEXTS; i++) {
		text_new(&t, &seed, names, N_NAMES);
		k = check_text(wl, names, N_NAMES, &t);
		hits += k;
		quiet += k == 0;
	}
	printf("wordlist: %d texts, %zu matches, %zu texts without\n", N_TEXTS,
	       hits, quiet);
	ck_assert_uint_gt(hits, N_TEXTS / 2);
	ck_assert_uint_gt(quiet, 0);
	ft_buf_release(&t.buf);
	ft_buf_release(&list);
	ft_wordlist_free(wl);
	free(names);
}
END_TEST

Suite *ft_wordlist_suite(void)
{
	Suite *s = suite_create("wordlist");
	TCase *tc;

	tc = tcase_create("find");
	tcase_add_loop_test(tc, test_find, 0, (int)FT_ARRAY_SIZE(find_cases));
	tcase_add_loop_test(tc, test_evasion, 0,
			    (int)FT_ARRAY_SIZE(evasion_cases));
	tcase_add_test(tc, test_find_length_bounded);
	tcase_add_test(tc, test_find_all);
	tcase_add_test(tc, test_nul_in_text);
	tcase_add_test(tc, test_null_safe);
	tcase_add_test(tc, test_linear);
	tcase_add_test(tc, test_random_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_comments_and_blanks);
	tcase_add_test(tc, test_crlf_and_bom);
	tcase_add_test(tc, test_duplicates);
	tcase_add_loop_test(tc, test_parse_errors, 0,
			    (int)FT_ARRAY_SIZE(parse_errors));
	tcase_add_test(tc, test_sixteen_words);
	tcase_add_test(tc, test_long_word);
	tcase_add_test(tc, test_load_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_scale);
	suite_add_tcase(s, tc);
	return s;
}
