//! Input parsing for children and guardians: every value a form sends is turned into one of
//! these types (or a Danish message for the field) before it gets near the database.

use std::fmt;

use sqlx::{
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef},
    Decode, Encode, Postgres, Type,
};
use time::{Date, Duration, Month, OffsetDateTime, UtcOffset};

/// Birth dates must lie after this day (the `children` table checks it too).
pub const EARLIEST_BIRTH_DATE: Date = time::macros::date!(1990 - 01 - 01);

/// A Danish CPR number, normalised to `DDMMYY-XXXX`.
///
/// The number is sensitive: `Debug` and `Display` never show it, there is no accessor for the
/// digits, and the only ways out are `masked()` (for people) and the database encoding (for the
/// `children.cpr` column). That way a stray `{:?}` in a log line or a template cannot leak it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cpr(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CprError {
    /// Not ten digits (with an optional dash after the sixth).
    Format,
    /// The first six digits are not a date (with the century from the seventh digit).
    Date,
}

impl CprError {
    pub fn message(self) -> &'static str {
        match self {
            CprError::Format => "Skriv CPR-nummeret som 10 cifre, fx DDMMÅÅ-XXXX eller DDMMÅÅXXXX.",
            CprError::Date => {
                "CPR-nummerets første seks cifre skal være en gyldig fødselsdato (DDMMÅÅ)."
            }
        }
    }
}

impl Cpr {
    /// Accepts `DDMMYY-XXXX` and `DDMMYYXXXX` (surrounding spaces ignored). Only the date is
    /// checked, not the modulus-11 rule: numbers issued since 2007 need not satisfy it.
    pub fn parse(input: &str) -> Result<Cpr, CprError> {
        let b = input.trim().as_bytes();
        let digits: Vec<u8> = match b.len() {
            10 => b.to_vec(),
            11 if b[6] == b'-' => b[..6].iter().chain(&b[7..]).copied().collect(),
            _ => return Err(CprError::Format),
        };
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(CprError::Format);
        }
        let d: Vec<u8> = digits.iter().map(|c| c - b'0').collect();
        birth_date_of(&d).ok_or(CprError::Date)?;
        let text: String = digits.iter().map(|&c| c as char).collect();
        Ok(Cpr(format!("{}-{}", &text[..6], &text[6..])))
    }

    /// The birth date the number encodes.
    pub fn birth_date(&self) -> Date {
        let d: Vec<u8> = self
            .0
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|c| c - b'0')
            .collect();
        birth_date_of(&d).expect("a parsed CPR number holds a valid date")
    }

    /// `DDMMYY-xxxx`: enough to recognise the child, not enough to use the number.
    pub fn masked(&self) -> String {
        format!("{}-xxxx", &self.0[..6])
    }
}

/// The date in ten CPR digits (as numbers 0–9), century from the seventh digit.
fn birth_date_of(d: &[u8]) -> Option<Date> {
    let day = d[0] * 10 + d[1];
    let month = d[2] * 10 + d[3];
    let yy = i32::from(d[4] * 10 + d[5]);
    let century = match d[6] {
        0..=3 => 1900,
        4 | 9 => {
            if yy <= 36 {
                2000
            } else {
                1900
            }
        }
        _ => {
            if yy <= 57 {
                2000
            } else {
                1800
            }
        }
    };
    Date::from_calendar_date(century + yy, Month::try_from(month).ok()?, day).ok()
}

impl fmt::Debug for Cpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cpr(xxxxxx-xxxx)")
    }
}

impl fmt::Display for Cpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("xxxxxx-xxxx")
    }
}

// Stored as text in `children.cpr`; reading it back re-validates, so a `Cpr` is always sound.
impl Type<Postgres> for Cpr {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <String as Type<Postgres>>::compatible(ty)
    }
}

// Bulk imports bind whole columns of CPR numbers as one text[] parameter.
impl sqlx::postgres::PgHasArrayType for Cpr {
    fn array_type_info() -> PgTypeInfo {
        <String as sqlx::postgres::PgHasArrayType>::array_type_info()
    }
}

impl Encode<'_, Postgres> for Cpr {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode(self.0.as_str(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for Cpr {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Postgres>>::decode(value)?;
        // The message must not carry the value.
        Cpr::parse(text).map_err(|_| "stored CPR number is invalid".into())
    }
}

/// Why a line of text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextError {
    Empty,
    TooLong(usize),
    InvalidChars,
}

impl TextError {
    /// A message for a field called `label` (lower case, e.g. "fornavn").
    pub fn message(self, label: &str) -> String {
        match self {
            TextError::Empty => format!("Udfyld {label}."),
            TextError::TooLong(max) => format!("{} må højst være {max} tegn.", capitalize(label)),
            TextError::InvalidChars => format!("{} indeholder ugyldige tegn.", capitalize(label)),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A required single line: trimmed, runs of white space collapsed, 1..=max characters, no
/// control characters (they break lists and exports and are never typed on purpose).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line(String);

impl Line {
    pub fn parse(input: &str, max: usize) -> Result<Line, TextError> {
        // Checked before collapsing, so a tab or newline is reported rather than silently eaten.
        if input.chars().any(|c| c.is_control() && c != '\t') {
            return Err(TextError::InvalidChars);
        }
        let text = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            Err(TextError::Empty)
        } else if text.chars().count() > max {
            Err(TextError::TooLong(max))
        } else {
            Ok(Line(text))
        }
    }

    /// Like `parse`, but an empty input is `None`.
    pub fn parse_optional(input: &str, max: usize) -> Result<Option<Line>, TextError> {
        match Line::parse(input, max) {
            Ok(line) => Ok(Some(line)),
            Err(TextError::Empty) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A date typed or picked in a form: `YYYY-MM-DD` (what `<input type="date">` sends) or the
/// Danish `DD-MM-YYYY` / `DD.MM.YYYY` / `DD/MM/YYYY` (browsers without a date picker).
pub fn parse_date(input: &str) -> Option<Date> {
    let s = input.trim();
    let sep = s.chars().find(|c| matches!(c, '-' | '.' | '/'))?;
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let (y, m, d) = if parts[0].len() == 4 && parts[1].len() <= 2 && parts[2].len() <= 2 {
        (parts[0], parts[1], parts[2])
    } else if parts[2].len() == 4 && parts[0].len() <= 2 && parts[1].len() <= 2 {
        (parts[2], parts[1], parts[0])
    } else {
        return None;
    };
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// `DD-MM-YYYY`, the date format used across the app's pages.
pub fn format_date(date: Date) -> String {
    format!(
        "{:02}-{:02}-{:04}",
        date.day(),
        u8::from(date.month()),
        date.year()
    )
}

/// `at` in Danish time: CET, and CEST from 01:00 UTC on the last Sunday of March to 01:00 UTC on
/// the last Sunday of October (the EU rule). The database hands timestamps over in UTC.
pub fn danish_time(at: OffsetDateTime) -> OffsetDateTime {
    let utc = at.to_offset(UtcOffset::UTC);
    // March and October both have 31 days.
    let change = |month| {
        let last = Date::from_calendar_date(utc.year(), month, 31).expect("31st exists");
        let sunday = last - Duration::days(i64::from(last.weekday().number_days_from_sunday()));
        sunday.midnight().assume_utc() + Duration::hours(1)
    };
    let summer = utc >= change(Month::March) && utc < change(Month::October);
    let hours = if summer { 2 } else { 1 };
    utc.to_offset(UtcOffset::from_hms(hours, 0, 0).expect("valid offset"))
}

/// `DD-MM-YYYY HH:MM` in Danish time: when something happened.
pub fn format_at(at: OffsetDateTime) -> String {
    let at = danish_time(at);
    format!(
        "{} {:02}:{:02}",
        format_date(at.date()),
        at.hour(),
        at.minute()
    )
}

/// `YYYY-MM-DD`, for the value of `<input type="date">`.
pub fn iso_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// A child's birth date must be after 1 January 1990 and not in the future.
pub fn check_birth_date(date: Date, today: Date) -> Result<Date, &'static str> {
    if date <= EARLIEST_BIRTH_DATE {
        Err("Fødselsdatoen skal ligge efter 1. januar 1990.")
    } else if date > today {
        Err("Fødselsdatoen kan ikke ligge i fremtiden.")
    } else {
        Ok(date)
    }
}

/// A guardian's e-mail address, lower-cased. Empty input means "none".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const INVALID: &'static str = "Skriv en gyldig e-mailadresse, fx navn@example.dk.";

    pub fn parse_optional(input: &str) -> Result<Option<Email>, &'static str> {
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            Ok(None)
        } else if email.len() >= 3 && crate::web::form::valid_email(&email) {
            Ok(Some(Email(email)))
        } else {
            Err(Email::INVALID)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A phone number: an optional leading `+` and 8–20 digits; spaces, dashes, dots and
/// parentheses people type are removed. Empty input means "none".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub const INVALID: &'static str =
        "Skriv et telefonnummer med 8 til 20 cifre, evt. med landekode, fx 12 34 56 78 eller +45 12 34 56 78.";

    pub fn parse_optional(input: &str) -> Result<Option<Phone>, &'static str> {
        let s = input.trim();
        if s.is_empty() {
            return Ok(None);
        }
        let (plus, rest) = match s.strip_prefix('+') {
            Some(rest) => ("+", rest),
            None => ("", s),
        };
        let mut digits = String::new();
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(Phone::INVALID),
            }
        }
        if (8..=20).contains(&digits.len()) {
            Ok(Some(Phone(format!("{plus}{digits}"))))
        } else {
            Err(Phone::INVALID)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A search text for the name search, with LIKE's metacharacters escaped so that `%` and `_`
/// typed by the user match themselves (used with `ESCAPE '\'`).
pub fn like_escape(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for c in query.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether a search text looks like a CPR number (six digits in a row). Such searches are
/// refused, so the number does not end up in the address bar, the history or the audit log.
pub fn looks_like_cpr(query: &str) -> bool {
    let mut run = 0;
    for c in query.chars() {
        if c.is_ascii_digit() {
            run += 1;
            if run >= 6 {
                return true;
            }
        } else if c != '-' && c != ' ' {
            run = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn danish_time_follows_summer_time() {
        use time::macros::datetime;
        let cases = [
            (datetime!(2026-01-15 12:00 UTC), "15-01-2026 13:00"),
            // 2026: summer time from 29 March to 25 October, 01:00 UTC
            (datetime!(2026-03-29 00:59 UTC), "29-03-2026 01:59"),
            (datetime!(2026-03-29 01:00 UTC), "29-03-2026 03:00"),
            (datetime!(2026-07-01 22:30 UTC), "02-07-2026 00:30"),
            (datetime!(2026-10-25 00:59 UTC), "25-10-2026 02:59"),
            (datetime!(2026-10-25 01:00 UTC), "25-10-2026 02:00"),
            (datetime!(2026-12-31 23:00 UTC), "01-01-2027 00:00"),
            // 2027: 28 March and 31 October
            (datetime!(2027-03-28 01:00 UTC), "28-03-2027 03:00"),
            (datetime!(2027-10-31 00:30 UTC), "31-10-2027 02:30"),
            (datetime!(2027-10-31 01:30 UTC), "31-10-2027 02:30"),
            // an offset other than UTC is converted, not reinterpreted
            (datetime!(2026-06-01 12:00 +05:00), "01-06-2026 09:00"),
        ];
        for (at, expected) in cases {
            assert_eq!(format_at(at), expected, "{at}");
        }
    }

    #[test]
    fn cpr_accepts_both_forms_and_normalises() {
        let a = Cpr::parse("130299-1234").unwrap();
        let b = Cpr::parse(" 1302991234 ").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.masked(), "130299-xxxx");
        assert_eq!(a.birth_date(), date!(1999 - 02 - 13));
    }

    #[test]
    fn cpr_format_errors() {
        for bad in [
            "",
            "13029912345",
            "130299-123",
            "130299 1234",
            "13029-91234",
            "130299–1234", // en dash
            "13O299-1234",
            "+130299123",
            "130299-12a4",
            "١٣٠٢٩٩١٢٣٤", // Arabic-Indic digits are not ASCII digits
        ] {
            assert_eq!(Cpr::parse(bad), Err(CprError::Format), "{bad:?}");
        }
    }

    #[test]
    fn cpr_date_must_exist() {
        for bad in [
            "310299-1234", // 31 February
            "290201-1234", // 2001 is not a leap year (7th digit 1 → 1900s: 1901, not leap either)
            "000199-1234",
            "011399-1234",
            "320199-1234",
            "300200-4234", // 30 February 2000
        ] {
            assert_eq!(Cpr::parse(bad), Err(CprError::Date), "{bad:?}");
        }
        assert_eq!(
            Cpr::parse("290200-4234").unwrap().birth_date(),
            date!(2000 - 02 - 29),
            "2000 was a leap year"
        );
        assert_eq!(
            Cpr::parse("290200-1234"),
            Err(CprError::Date),
            "1900 was not a leap year"
        );
    }

    #[test]
    fn cpr_century_from_the_seventh_digit() {
        let year = |s: &str| Cpr::parse(s).unwrap().birth_date().year();
        for (seventh, yy, expected) in [
            (0, 99, 1999),
            (1, 5, 1905),
            (2, 20, 1920),
            (3, 36, 1936),
            (4, 36, 2036),
            (4, 37, 1937),
            (9, 0, 2000),
            (9, 36, 2036),
            (9, 37, 1937),
            (5, 57, 2057),
            (5, 58, 1858),
            (6, 10, 2010),
            (7, 0, 2000),
            (8, 99, 1899),
        ] {
            let cpr = format!("0101{yy:02}-{seventh}000");
            assert_eq!(year(&cpr), expected, "{cpr}");
        }
    }

    #[test]
    fn cpr_is_never_printed() {
        let cpr = Cpr::parse("130299-1234").unwrap();
        let debug = format!("{cpr:?} {:?}", Some(&cpr));
        let display = format!("{cpr}");
        for text in [debug, display] {
            assert!(!text.contains("1234"), "{text}");
            assert!(!text.contains("130299"), "{text}");
        }
        assert!(CprError::Format.message().contains("DDMMÅÅ"));
    }

    #[test]
    fn lines() {
        assert_eq!(
            Line::parse("  Anna  Marie ", 100).unwrap().as_str(),
            "Anna Marie"
        );
        assert_eq!(Line::parse(" \t ", 100), Err(TextError::Empty));
        assert_eq!(Line::parse("abc", 2), Err(TextError::TooLong(2)));
        assert_eq!(
            Line::parse("æøå", 3).unwrap().as_str(),
            "æøå",
            "characters, not bytes"
        );
        assert_eq!(Line::parse("a\nb", 10), Err(TextError::InvalidChars));
        assert_eq!(Line::parse("a\u{0}b", 10), Err(TextError::InvalidChars));
        assert_eq!(Line::parse_optional("", 10), Ok(None));
        assert_eq!(
            Line::parse_optional("x", 10)
                .unwrap()
                .map(Line::into_string),
            Some("x".into())
        );
        assert_eq!(TextError::Empty.message("fornavn"), "Udfyld fornavn.");
        assert_eq!(
            TextError::TooLong(100).message("efternavn"),
            "Efternavn må højst være 100 tegn."
        );
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2021-03-15"), Some(date!(2021 - 03 - 15)));
        assert_eq!(parse_date("15-03-2021"), Some(date!(2021 - 03 - 15)));
        assert_eq!(parse_date("5.3.2021"), Some(date!(2021 - 03 - 05)));
        assert_eq!(parse_date(" 15/03/2021 "), Some(date!(2021 - 03 - 15)));
        for bad in [
            "",
            "2021-02-30",
            "2021-13-01",
            "21-03-15",
            "2021-03",
            "2021-03-15-01",
            "99999-01-01",
            "2021-3-+1",
            "2021.03-15x",
            "i går",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
        assert_eq!(format_date(date!(2021 - 03 - 05)), "05-03-2021");
        assert_eq!(iso_date(date!(2021 - 03 - 05)), "2021-03-05");
    }

    #[test]
    fn birth_date_range() {
        let today = date!(2026 - 11 - 23);
        assert!(check_birth_date(date!(2020 - 01 - 01), today).is_ok());
        assert!(check_birth_date(today, today).is_ok());
        assert!(check_birth_date(date!(1990 - 01 - 01), today).is_err());
        assert!(check_birth_date(date!(2026 - 11 - 24), today).is_err());
    }

    #[test]
    fn emails_and_phones() {
        assert_eq!(
            Email::parse_optional(" Mor@Example.DK ")
                .unwrap()
                .map(Email::into_string),
            Some("mor@example.dk".into())
        );
        assert_eq!(Email::parse_optional(""), Ok(None));
        assert!(Email::parse_optional("mor@").is_err());
        assert!(Email::parse_optional("a b@c.dk").is_err());

        let phone = |s: &str| Phone::parse_optional(s).map(|p| p.map(Phone::into_string));
        assert_eq!(phone("12 34 56 78"), Ok(Some("12345678".into())));
        assert_eq!(phone("+45 12-34-56-78"), Ok(Some("+4512345678".into())));
        assert_eq!(phone("(+45)"), Err(Phone::INVALID));
        assert_eq!(phone(""), Ok(None));
        assert!(phone("1234567").is_err());
        assert!(phone("123456789012345678901").is_err());
        assert!(phone("12 34 56 78 ext").is_err());
        assert!(phone("++4512345678").is_err());
    }

    #[test]
    fn search_helpers() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
        assert!(looks_like_cpr("130299-1234"));
        assert!(looks_like_cpr("130299"));
        assert!(looks_like_cpr("13 02 99"));
        assert!(!looks_like_cpr("Anna 2"));
        assert!(!looks_like_cpr("12a3456"));
    }
}
