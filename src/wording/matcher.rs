//! Finding deficit wording in a free-text answer: a phrase matches case-insensitively on word
//! boundaries (the characters before and after are not letters or digits), and the spaces of a
//! phrase match any run of white space, so «kan ikke» finds «Kan\nikke» but not «kanikke» or
//! «kan ikkeløsbare». `static/app.js` does the same in the browser, live while typing.

/// One phrase of the municipality's list.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Phrase {
    pub phrase: String,
    pub suggestion: String,
}

/// A phrase found in a text: the sentence it stands in, split around the match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub phrase: String,
    pub suggestion: String,
    pub before: String,
    pub matched: String,
    pub after: String,
}

/// At most this many hints per answer: a list longer than that helps nobody.
pub const MAX_HITS: usize = 10;
/// Characters of context shown on either side of a match.
const CONTEXT: usize = 80;

/// The stored form of a phrase: trimmed, lower case, single spaces.
pub fn normalize(phrase: &str) -> String {
    phrase
        .split_whitespace()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A character in lower case, when that is one character (it is for every letter a Danish text
/// uses); else the character itself. Texts and phrases are lowered once, so the scan below
/// compares plain characters: this runs over every free-text answer each time a form is shown.
fn lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// `text` with every character through `lower`. Runs of ASCII (most of a Danish text) are
/// copied and lowered in one piece; only the other characters go one at a time.
fn lowered(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let ascii = rest
            .bytes()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        let start = out.len();
        out.push_str(&rest[..ascii]);
        out.as_mut_str()[start..].make_ascii_lowercase();
        rest = &rest[ascii..];
        if let Some(c) = rest.chars().next() {
            out.push(lower(c));
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric()
}

/// Where `phrase` (already split into its lowered words) matches the lowered `text` at `start`:
/// the end index.
fn match_at(text: &[char], start: usize, words: &[Vec<char>]) -> Option<usize> {
    let mut i = start;
    for (n, word) in words.iter().enumerate() {
        if n > 0 {
            let gap = i;
            while i < text.len() && text[i].is_whitespace() {
                i += 1;
            }
            if i == gap {
                return None;
            }
        }
        if i + word.len() > text.len() {
            return None;
        }
        if word[..] != text[i..i + word.len()] {
            return None;
        }
        i += word.len();
    }
    Some(i)
}

fn sentence_bounds(text: &[char], start: usize, end: usize) -> (usize, usize) {
    let stop = |c: char| matches!(c, '.' | '!' | '?' | '\n');
    let mut from = start;
    while from > 0 && !stop(text[from - 1]) && start - from < CONTEXT {
        from -= 1;
    }
    let mut to = end;
    while to < text.len() && !stop(text[to]) && to - end < CONTEXT {
        to += 1;
    }
    if to < text.len() && stop(text[to]) && text[to] != '\n' {
        to += 1;
    }
    (from, to)
}

/// A phrase split into its lowered words, once, for `find`.
struct Prepared<'a> {
    phrase: &'a Phrase,
    /// The first word as a string, for the substring precheck.
    first_word: String,
    words: Vec<Vec<char>>,
}

/// The phrases of `list` found in `text`, each once (its first occurrence), in the order they
/// appear in the text; at most `MAX_HITS`.
pub fn find(text: &str, list: &[Phrase]) -> Vec<Hit> {
    Matcher::new(list).find(text)
}

/// A phrase list prepared once for many texts (every free-text answer of a form).
pub struct Matcher<'a> {
    phrases: Vec<Prepared<'a>>,
}

impl<'a> Matcher<'a> {
    pub fn new(list: &'a [Phrase]) -> Self {
        let phrases = list
            .iter()
            .filter_map(|phrase| {
                let words: Vec<Vec<char>> = phrase
                    .phrase
                    .split_whitespace()
                    .map(|w| w.chars().map(lower).collect())
                    .collect();
                let first_word = words.first()?.iter().collect();
                Some(Prepared {
                    phrase,
                    first_word,
                    words,
                })
            })
            .collect();
        Matcher { phrases }
    }

    /// As `find`.
    pub fn find(&self, text: &str) -> Vec<Hit> {
        if text.is_empty() {
            return Vec::new();
        }
        // Most phrases are in no answer: a substring search for the first word (in the same
        // lowering) rules them out, and an answer with no candidate costs one pass over it.
        let lowered_text = lowered(text);
        let candidates: Vec<&Prepared> = self
            .phrases
            .iter()
            .filter(|p| lowered_text.contains(&p.first_word))
            .collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        let chars: Vec<char> = text.chars().collect();
        let lowered: Vec<char> = lowered_text.chars().collect();
        let mut found: Vec<(usize, Hit)> = Vec::new();
        for p in candidates {
            let first = p.words[0][0];
            let hit = (0..chars.len()).find_map(|s| {
                if lowered[s] != first || (s > 0 && is_word(chars[s - 1])) {
                    return None;
                }
                let e = match_at(&lowered, s, &p.words)?;
                if e < chars.len() && is_word(chars[e]) {
                    return None;
                }
                Some((s, e))
            });
            if let Some((s, e)) = hit {
                found.push((s, hit_at(&chars, s, e, p.phrase)));
            }
        }
        found.sort_by_key(|(s, _)| *s);
        found.into_iter().take(MAX_HITS).map(|(_, h)| h).collect()
    }
}

/// The hint for `phrase` matched at `s..e` of `chars`: its sentence, split around the match.
fn hit_at(chars: &[char], s: usize, e: usize, phrase: &Phrase) -> Hit {
    let (from, to) = sentence_bounds(chars, s, e);
    let piece = |a: usize, b: usize| chars[a..b].iter().collect::<String>();
    let mut before = piece(from, s).trim_start().to_string();
    if from > 0 && !matches!(chars[from - 1], '.' | '!' | '?' | '\n') {
        before.insert(0, '…');
    }
    let mut after = piece(e, to).trim_end().to_string();
    if to < chars.len() && !matches!(chars[to - 1], '.' | '!' | '?') && chars[to] != '\n' {
        after.push('…');
    }
    Hit {
        phrase: phrase.phrase.clone(),
        suggestion: phrase.suggestion.clone(),
        before,
        matched: piece(s, e),
        after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(phrases: &[&str]) -> Vec<Phrase> {
        phrases
            .iter()
            .map(|p| Phrase {
                phrase: normalize(p),
                suggestion: format!("om {p}"),
            })
            .collect()
    }

    fn phrases(text: &str, l: &[&str]) -> Vec<String> {
        find(text, &list(l)).into_iter().map(|h| h.phrase).collect()
    }

    #[test]
    fn lowering_in_runs_is_lowering_each_character() {
        for text in [
            "",
            "KAN IKKE",
            "Ærlig Øjeblik Å",
            "ÆØÅ",
            "aÆbØcÅd",
            "İstanbul ẞ ǅ Σ", // lower case of more than one character: kept as it is
            "Mix: ABC æøå 💡 Def\nGHI",
        ] {
            let each: String = text.chars().map(lower).collect();
            assert_eq!(lowered(text), each, "{text:?}");
            assert_eq!(lowered(text).chars().count(), text.chars().count());
        }
    }

    #[test]
    fn matches_case_insensitively_on_word_boundaries() {
        let l = ["kan ikke", "doven", "umulig"];
        assert_eq!(phrases("Hun KAN IKKE lide larm.", &l), ["kan ikke"]);
        assert_eq!(phrases("Doven, siger de.", &l), ["doven"]);
        assert_eq!(phrases("Han er (umulig).", &l), ["umulig"]);
        // parts of other words are not matches
        assert!(phrases("Vi kanikke noget. Dovenskab og umuligheder.", &l).is_empty());
        assert!(phrases("Hun kan ikkeløsbare opgaver", &l).is_empty());
        assert!(phrases("ekan ikke", &l).is_empty());
        assert!(phrases("Han er glad og nysgerrig.", &l).is_empty());
        assert!(phrases("", &l).is_empty());
    }

    #[test]
    fn danish_letters_and_whitespace() {
        let l = ["dårlig til", "ærlig"];
        assert_eq!(phrases("Er DÅRLIG\n  til at vente.", &l), ["dårlig til"]);
        assert_eq!(phrases("Ærlig og sjov.", &l), ["ærlig"]);
        // å is a letter: «uærlig» does not contain the word «ærlig»
        assert!(phrases("uærlig", &l).is_empty());
        assert!(phrases("dårligtil", &l).is_empty());
    }

    #[test]
    fn each_phrase_once_in_text_order_with_its_sentence() {
        let hits = find(
            "Leger godt med andre. Han er doven om morgenen! Han kan ikke sidde stille. Han kan ikke vente.",
            &list(&["kan ikke", "doven"]),
        );
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].phrase, "doven");
        assert_eq!(hits[0].before, "Han er ");
        assert_eq!(hits[0].matched, "doven");
        assert_eq!(hits[0].after, " om morgenen!");
        assert_eq!(hits[0].suggestion, "om doven");
        assert_eq!(hits[1].matched, "kan ikke");
        assert_eq!(hits[1].after, " sidde stille.");
    }

    #[test]
    fn keeps_the_original_spelling_and_shortens_long_sentences() {
        let long = format!("{} Kan Ikke {}", "a ".repeat(100), "b ".repeat(100));
        let hits = find(&long, &list(&["kan ikke"]));
        assert_eq!(hits[0].matched, "Kan Ikke");
        assert!(hits[0].before.starts_with('…'));
        assert!(hits[0].after.ends_with('…'));
        assert!(hits[0].before.chars().count() <= CONTEXT + 1);
    }

    #[test]
    fn at_most_max_hits() {
        let words: Vec<String> = (0..20).map(|i| format!("ord{i}")).collect();
        let text = words.join(" ");
        let l: Vec<&str> = words.iter().map(String::as_str).collect();
        assert_eq!(find(&text, &list(&l)).len(), MAX_HITS);
    }

    #[test]
    fn normalizes_phrases() {
        assert_eq!(normalize("  Kan   IKKE \n"), "kan ikke");
        assert_eq!(normalize("ÆBLE"), "æble");
        assert_eq!(normalize("   "), "");
    }
}
