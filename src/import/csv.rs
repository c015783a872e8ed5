//! Reading an uploaded CSV file into rows, and reporting problems by line and column.

/// A problem with one cell (or a whole line when `column` is empty), as shown in the preview.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: String,
    pub reason: String,
}

#[derive(Debug)]
pub struct Table {
    headers: Vec<String>,
    /// (line number in the file, cells)
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Most problems a preview lists; past that the file is clearly of the wrong kind.
pub const MAX_PROBLEMS: usize = 500;

impl Table {
    /// Parses `bytes` (UTF-8, optional BOM; `;` or `,` separated, detected from the header).
    pub fn parse(bytes: &[u8]) -> Result<Table, String> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = std::str::from_utf8(bytes).map_err(|_| {
            "Filen er ikke gemt som UTF-8. Gem den som »CSV UTF-8« i regnearket, og prøv igen."
                .to_string()
        })?;
        // A NUL cannot be stored in a text at all, and no other control character belongs in
        // these files (tabs and line breaks are layout).
        if let Some(at) = text.find(|c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
            let line = text[..at].matches('\n').count() + 1;
            return Err(format!(
                "Linje {line} indeholder et kontroltegn, som ikke kan stå i en tekst. Gem filen igen som »CSV UTF-8«, og prøv igen."
            ));
        }
        let first = text.lines().next().unwrap_or("");
        let delimiter = if first.matches(';').count() >= first.matches(',').count() {
            b';'
        } else {
            b','
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .trim(csv::Trim::Headers)
            .from_reader(text.as_bytes());
        let headers: Vec<String> = reader
            .headers()
            .map_err(|_| "Filens første linje skal være kolonneoverskrifter.".to_string())?
            .iter()
            .map(|h| h.trim().to_lowercase())
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err("Filen er tom.".into());
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                format!("Linje {line} kunne ikke læses (fx et citationstegn, der ikke er lukket).")
            })?;
            if record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
            if record.iter().any(|c| c.contains(['\n', '\r'])) {
                // Legal CSV, but in these files it means a quote that was never closed and
                // swallowed the lines after it.
                return Err(format!(
                    "Linje {line}: en celle fortsætter over flere linjer. Mangler der et afsluttende citationstegn?"
                ));
            }
            rows.push((line, record.iter().map(|c| c.trim().to_string()).collect()));
        }
        Ok(Table { headers, rows })
    }

    /// Index of a column; the first of `names` that is present wins (so a column can have a
    /// Danish name and an ASCII spelling).
    pub fn column(&self, names: &[&str]) -> Option<usize> {
        names
            .iter()
            .find_map(|n| self.headers.iter().position(|h| h == n))
    }

    /// Problems for required columns that are missing from the header.
    pub fn require(&self, columns: &[&[&str]]) -> Vec<Problem> {
        columns
            .iter()
            .filter(|names| self.column(names).is_none())
            .map(|names| Problem {
                line: 1,
                column: names[0].to_string(),
                reason: format!("Kolonnen »{}« mangler i overskriften.", names[0]),
            })
            .collect()
    }
}

/// A cell of a row, or "" when the column is absent or the row is short.
pub fn cell(row: &[String], column: Option<usize>) -> &str {
    column
        .and_then(|c| row.get(c))
        .map(String::as_str)
        .unwrap_or("")
}

/// ja/nej and their usual spellings; None for anything else.
pub fn parse_yes_no(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "ja" | "j" | "x" | "1" | "true" | "yes" => Some(true),
        "nej" | "n" | "" | "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_semicolons_bom_and_quotes() {
        let t = Table::parse(
            "\u{feff}Navn;Type\n\"Solsikken; Øst\";børnehave\n\n;\nMariehønen;skole\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(t.column(&["navn"]), Some(0));
        assert_eq!(t.rows.len(), 2);
        assert_eq!(
            t.rows[0],
            (
                2,
                vec!["Solsikken; Øst".to_string(), "børnehave".to_string()]
            )
        );
        assert_eq!(t.rows[1].0, 5, "line numbers count blank lines");
        let t = Table::parse(b"navn,type\na,b\n").unwrap();
        assert_eq!(t.rows[0].1, ["a", "b"]);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(Table::parse(b"navn;type\n\xff\xfe;x\n")
            .unwrap_err()
            .contains("UTF-8"));
        assert!(Table::parse(b"").is_err());
        assert!(Table::parse(b"navn;type\n\"open;x\n").is_err());
        // a NUL (which PostgreSQL cannot store) or another control character, in a column the
        // import reads or not
        for bad in [
            "navn;type;x\nSol;skole;a\0b\n",
            "navn;type\nSol\u{1b};skole\n",
        ] {
            let e = Table::parse(bad.as_bytes()).unwrap_err();
            assert!(e.starts_with("Linje 2 indeholder et kontroltegn"), "{e}");
        }
        assert!(Table::parse(b"navn;type\r\nSol\t;skole\r\n").is_ok());
        let t = Table::parse(b"navn\nx\n").unwrap();
        let problems = t.require(&[&["navn"], &["type"]]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].column, "type");
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_yes_no("Ja"), Some(true));
        assert_eq!(parse_yes_no(""), Some(false));
        assert_eq!(parse_yes_no("måske"), None);
    }
}
