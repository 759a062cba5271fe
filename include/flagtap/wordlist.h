/*
 * wordlist: `list = FILE` in rules: does any listed term occur in a text
 * as a whole word (or whole sequence of words), case-insensitively?
 *
 * A list file has one term per line; blank lines and lines starting with
 * '#' are ignored; a term is split into words at every character that is
 * not a letter or digit (ASCII letters/digits, and any byte >= 0x80 outside
 * a Unicode space such as U+00A0 or U+3000, so
 * UTF-8 letters stay inside words), and matching compares word sequences:
 * the term "Ivan Petrov" matches "IVAN  PETROV," and "ivan-petrov" but not
 * "Ivan Petrovich" or "Ivanov Petrov".  Case folding is ASCII plus the
 * Latin-1 Supplement and Cyrillic letters in UTF-8.
 *
 * Built for sanctions lists: loading 20,000 terms takes well under a second
 * and a lookup costs a hash probe per word and per term length, independent
 * of the number of terms.  An immutable list may be shared by threads.
 */
#ifndef FLAGTAP_WORDLIST_H
#define FLAGTAP_WORDLIST_H

#include <stdbool.h>
#include <stddef.h>

struct ft_wordlist;

/*
 * Loads a list file.  Returns 0 and *out, or a negative FT_E* code with
 * "FILE:LINE: message" (or "FILE: message") in errstr.  Terms of more than
 * 16 words are an error; an empty list is an error.
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

/* Number of terms loaded (duplicates counted once). */
size_t ft_wordlist_size(const struct ft_wordlist *wl);

void ft_wordlist_free(struct ft_wordlist *wl);

#endif
