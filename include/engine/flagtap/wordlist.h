/*
 * wordlist: `list = FILE` in rules: does any listed term occur in a text
 * as a whole word (or whole sequence of words), case-insensitively and
 * whatever the Unicode spelling?
 *
 * A list file has one term per line; blank lines and lines starting with
 * '#' are ignored.  Terms and texts are read the same way: NFKC with full
 * case folding (full-width letters are letters, "ß" is "ss"), default
 * ignorable code points removed (zero-width space and joiners, soft
 * hyphen, word joiner, byte order mark), then split into words at every
 * character that is not a letter, combining mark or digit (Unicode
 * general categories L, M and N: spaces, punctuation and symbols); each
 * word is compared by its UTS #39 confusable skeleton, with a
 * letter of another script whose capital looks like a Latin capital
 * taken for that Latin letter.  So the term "Ivan Petrov" matches
 * "IVAN  PETROV,", "ivan-petrov", "Iva\u200bn Petrov", a full-width
 * "\uff29\uff56\uff41\uff4e Petrov" and "\u0406van P\u0435trov" (Cyrillic I
 * and e), but not "Ivan Petrovich", "Ivanov Petrov" or "Iv\u00e1n Petrov";
 * "M\u00fcller" matches "MU\u0308LLER" but not "Mueller" or "Muller".
 * Skeletons also equate "m" and "rn", "1" and "l".  Invalid UTF-8 bytes
 * are letters that match only themselves.
 *
 * Matches are spans of the original text: from the first byte of the
 * first character that contributes to the first word to the last byte of
 * the last one (invisible characters inside a name are in the span,
 * around it they are not).
 *
 * Built for sanctions lists: loading 20,000 terms takes well under a
 * second and a lookup costs a hash probe per word and per term length,
 * independent of the number of terms; pure-ASCII text is read a byte at a
 * time without calling ICU, and reading any text is linear in its length.
 * An immutable list may be shared by threads.
 */
#ifndef FLAGTAP_WORDLIST_H
#define FLAGTAP_WORDLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ft_wordlist;

/*
 * Loads a list file.  Returns 0 and *out, or a negative FT_E* code with
 * "FILE:LINE: message" (or "FILE: message") in errstr.  A term of more
 * than 16 words, with a word of more than 256 bytes after normalization,
 * or with nothing left after normalization is an error; an empty list is
 * an error.  The first call builds process-wide tables from ICU (a few
 * milliseconds); any thread may call it.
 */
int ft_wordlist_load(const char *path, struct ft_wordlist **out, char *errstr,
		     size_t errstr_size);

/* Builds a list from in-memory text, as if it were the file `name`. */
int ft_wordlist_parse(const char *name, const char *text, size_t len,
		      struct ft_wordlist **out, char *errstr,
		      size_t errstr_size);

/*
 * Searches [s, s+n) from byte `from`.  Returns true and the span of the
 * first (leftmost, then longest) occurrence in *start and *len, or false.
 */
bool ft_wordlist_find(const struct ft_wordlist *wl, const char *s, size_t n,
		      size_t from, size_t *start, size_t *len);

/*
 * Work done by the calling thread's ft_wordlist_find() calls so far:
 * bytes read, code points sent to ICU.  Tests use it to check that
 * searching is linear in the text.
 */
uint64_t ft_wordlist_work(void);

/* Number of terms loaded (duplicates, after normalization, counted once). */
size_t ft_wordlist_size(const struct ft_wordlist *wl);

void ft_wordlist_free(struct ft_wordlist *wl);

#endif
