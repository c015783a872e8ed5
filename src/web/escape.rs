//! HTML escaping for every `.html` template (configured in `askama.toml`).
//!
//! It escapes the same five characters to the same entities as askama's own escaper
//! (`askama::filters::Html`), and the tests below hold it to that. askama's looks at one byte
//! after another; on a handover form page (about 60 KB, most of it answers) that was a tenth of
//! the app's time (perf, Dec 2026). This one finds the next character to escape with memchr's
//! vectorised search and copies the text between in one piece.

use std::fmt::{self, Write};

/// The escaper (`askama::filters::Escaper`) named in `askama.toml`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Html;

/// The entity for one of the five characters that need escaping, as askama writes it.
fn entity(byte: u8) -> Option<&'static str> {
    match byte {
        b'"' => Some("&#34;"),
        b'&' => Some("&#38;"),
        b'\'' => Some("&#39;"),
        b'<' => Some("&#60;"),
        b'>' => Some("&#62;"),
        _ => None,
    }
}

/// The next `<`, `>` or `&` in `bytes` from `from` on.
fn next_markup(bytes: &[u8], from: usize) -> Option<usize> {
    memchr::memchr3(b'<', b'>', b'&', &bytes[from..]).map(|i| i + from)
}

/// The next `"` or `'` in `bytes` from `from` on.
fn next_quote(bytes: &[u8], from: usize) -> Option<usize> {
    memchr::memchr2(b'"', b'\'', &bytes[from..]).map(|i| i + from)
}

#[cfg(test)]
thread_local! {
    /// How often this thread escaped a text (for the test that templates use `Html`).
    static ESCAPED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: Write>(&self, mut dest: W, text: &str) -> fmt::Result {
        #[cfg(test)]
        ESCAPED.with(|n| n.set(n.get() + 1));
        let bytes = text.as_bytes();
        // Two searches (memchr looks for at most three bytes at once); each is run again only
        // when its find has been written, so a text full of quotes is still one pass.
        let mut markup = next_markup(bytes, 0);
        let mut quote = next_quote(bytes, 0);
        let mut done = 0;
        loop {
            let at = match (markup, quote) {
                (Some(m), Some(q)) => m.min(q),
                (Some(at), None) | (None, Some(at)) => at,
                (None, None) => break,
            };
            // `at` is an ASCII byte, so both slices end on a character boundary
            if at > done {
                dest.write_str(&text[done..at])?;
            }
            dest.write_str(entity(bytes[at]).unwrap_or_default())?;
            done = at + 1;
            if markup == Some(at) {
                markup = next_markup(bytes, done);
            }
            if quote == Some(at) {
                quote = next_quote(bytes, done);
            }
        }
        if done < text.len() {
            dest.write_str(&text[done..])?;
        }
        Ok(())
    }

    fn write_escaped_char<W: Write>(&self, mut dest: W, c: char) -> fmt::Result {
        match u8::try_from(c).ok().and_then(entity) {
            Some(e) => dest.write_str(e),
            None => dest.write_char(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use askama::filters::Escaper;

    fn ours(text: &str) -> String {
        let mut out = String::new();
        Html.write_escaped_str(&mut out, text).unwrap();
        out
    }

    fn askamas(text: &str) -> String {
        let mut out = String::new();
        askama::filters::Html
            .write_escaped_str(&mut out, text)
            .unwrap();
        out
    }

    #[test]
    fn escapes_as_askama_does() {
        let samples = [
            "",
            "plain text with æøå and no markup",
            "<script>alert('x')</script>",
            "\"quoted\" & 'single' <b>bold</b>",
            "<<>>&&\"\"''",
            "ends with <",
            "> starts with",
            "a\"b'c<d>e&f",
            "Ærø & Åbenrå «citat» – 💡 <i>ikon</i>",
        ];
        for s in samples {
            assert_eq!(ours(s), askamas(s), "{s:?}");
        }
        assert_eq!(ours("<a href=\"x\">"), "&#60;a href=&#34;x&#34;&#62;");
    }

    #[test]
    fn escapes_every_mix_of_characters_as_askama_does() {
        // Every string of up to five characters over an alphabet of the five special ones,
        // a letter and a multi-byte one: all positions and neighbours of the searches.
        let alphabet = ['<', '>', '&', '"', '\'', 'a', 'ø'];
        let mut strings = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = strings
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            for s in &longer {
                assert_eq!(ours(s), askamas(s), "{s:?}");
            }
            strings = longer;
        }
        // and long texts, where memchr works in blocks
        let long = "Barnet leger gerne med andre & deler <legetøj> \"godt\". ".repeat(200);
        assert_eq!(ours(&long), askamas(&long));
    }

    #[test]
    fn escapes_characters_as_askama_does() {
        for c in ['<', '>', '&', '"', '\'', 'a', 'ø', '💡', ' '] {
            let mut ours = String::new();
            Html.write_escaped_char(&mut ours, c).unwrap();
            let mut theirs = String::new();
            askama::filters::Html
                .write_escaped_char(&mut theirs, c)
                .unwrap();
            assert_eq!(ours, theirs, "{c:?}");
        }
    }

    #[test]
    fn templates_use_this_escaper() {
        // A page template renders what it is given through `Html` (askama.toml), not through
        // askama's own escaper (whose output is the same).
        #[derive(askama::Template)]
        #[template(source = "<p title=\"{{ v }}\">{{ v }}</p>", ext = "html")]
        struct Probe<'a> {
            v: &'a str,
        }
        let before = ESCAPED.with(|n| n.get());
        let html = askama::Template::render(&Probe {
            v: "<i>'x' & \"y\"</i>",
        })
        .unwrap();
        assert_eq!(ESCAPED.with(|n| n.get()), before + 2);
        assert_eq!(
            html,
            "<p title=\"&#60;i&#62;&#39;x&#39; &#38; &#34;y&#34;&#60;/i&#62;\">\
             &#60;i&#62;&#39;x&#39; &#38; &#34;y&#34;&#60;/i&#62;</p>"
        );
    }
}
