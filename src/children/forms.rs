//! The forms for children, guardians and enrolments: what the browser sends, and its
//! validation into domain values (or messages next to the fields). No database here, so the
//! rules are unit-tested directly.
//!
//! The form structs deliberately do not derive `Debug`: the child form holds the CPR number as
//! typed, and nothing should be able to print it.

use serde::Deserialize;
use time::{Date, Duration};
use uuid::Uuid;

use super::domain::{
    check_birth_date, format_date, parse_date, Cpr, Email, Line, Phone, EARLIEST_BIRTH_DATE,
};
use crate::web::FieldErrors;

pub const NAME_MAX: usize = 100;
pub const GUARDIAN_NAME_MAX: usize = 200;
pub const RELATION_MAX: usize = 50;
pub const GROUP_MAX: usize = 100;

pub const DUPLICATE_CPR: &str = "Der er allerede registreret et barn med dette CPR-nummer.";

/// The child form (create and edit). On create it also carries the first enrolment.
#[derive(Default, Deserialize)]
pub struct ChildForm {
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub birth_date: String,
    /// Never sent back to the browser: cleared before any re-render.
    #[serde(default)]
    pub cpr: String,
    /// Edit only: the checkbox "remove the stored number".
    #[serde(default)]
    pub remove_cpr: Option<String>,
    #[serde(default)]
    pub institution_id: String,
    #[serde(default)]
    pub group_name: String,
    #[serde(default)]
    pub starts_on: String,
}

/// What happens to the stored CPR number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CprChange {
    Unchanged,
    Set,
    Changed,
    Removed,
}

impl CprChange {
    /// The audit action for the change (the number itself is never audited).
    pub fn audit_action(self) -> Option<&'static str> {
        match self {
            CprChange::Unchanged => None,
            CprChange::Set => Some("cpr_set"),
            CprChange::Changed => Some("cpr_changed"),
            CprChange::Removed => Some("cpr_removed"),
        }
    }
}

pub struct ValidChild {
    pub first_name: Line,
    pub last_name: Line,
    pub birth_date: Date,
    /// The number to store after the change.
    pub cpr: Option<Cpr>,
    pub cpr_change: CprChange,
}

/// Validates the child's own fields. `stored` is the number already on record (edit), whose
/// birth date must agree with the form's unless the number is removed or replaced.
pub fn validate_child(
    f: &ChildForm,
    today: Date,
    stored: Option<&Cpr>,
    errors: &mut FieldErrors,
) -> Option<ValidChild> {
    let first_name = Line::parse(&f.first_name, NAME_MAX)
        .map_err(|e| errors.add("first_name", e.message("fornavn")))
        .ok();
    let last_name = Line::parse(&f.last_name, NAME_MAX)
        .map_err(|e| errors.add("last_name", e.message("efternavn")))
        .ok();

    let remove = stored.is_some() && f.remove_cpr.is_some();
    let typed = f.cpr.trim();
    // `Err(())` = the typed number was refused (message recorded).
    let new_cpr: Result<Option<Cpr>, ()> = if typed.is_empty() {
        Ok(None)
    } else if remove {
        errors.add(
            "cpr",
            "Du kan ikke både skrive et nyt CPR-nummer og fjerne det registrerede. Vælg det ene.",
        );
        Err(())
    } else {
        Cpr::parse(typed)
            .map(Some)
            .map_err(|e| errors.add("cpr", e.message()))
    };

    let (cpr, cpr_change) = match (&new_cpr, stored) {
        (Ok(Some(new)), Some(old)) if new == old => (Some(new.clone()), CprChange::Unchanged),
        (Ok(Some(new)), Some(_)) => (Some(new.clone()), CprChange::Changed),
        (Ok(Some(new)), None) => (Some(new.clone()), CprChange::Set),
        (_, Some(_)) if remove => (None, CprChange::Removed),
        (_, old) => (old.cloned(), CprChange::Unchanged),
    };
    let typed_new = matches!(new_cpr, Ok(Some(_)));

    let birth_date = if f.birth_date.trim().is_empty() {
        // Known from the CPR number: no need to type it twice.
        match &cpr {
            Some(c) => match check_birth_date(c.birth_date(), today) {
                Ok(d) => Some(d),
                Err(msg) => {
                    let field = if typed_new { "cpr" } else { "birth_date" };
                    errors.add(field, format!("CPR-nummerets dato: {msg}"));
                    None
                }
            },
            None if new_cpr.is_err() => None,
            None => {
                errors.add("birth_date", "Udfyld fødselsdato.");
                None
            }
        }
    } else {
        match parse_date(&f.birth_date) {
            None => {
                errors.add(
                    "birth_date",
                    "Skriv fødselsdatoen som en gyldig dato, fx 2021-03-15.",
                );
                None
            }
            Some(d) => match check_birth_date(d, today) {
                Err(msg) => {
                    errors.add("birth_date", msg);
                    None
                }
                Ok(d) => {
                    if let Some(c) = cpr.as_ref().filter(|c| c.birth_date() != d) {
                        if typed_new {
                            errors.add(
                                "cpr",
                                format!(
                                    "CPR-nummeret passer ikke med fødselsdatoen {}. Ret det ene af dem.",
                                    format_date(d)
                                ),
                            );
                        } else {
                            errors.add(
                                "birth_date",
                                format!(
                                    "Fødselsdatoen passer ikke med det registrerede CPR-nummer ({}). Ret datoen, eller skriv eller fjern CPR-nummeret.",
                                    c.masked()
                                ),
                            );
                        }
                        None
                    } else {
                        Some(d)
                    }
                }
            },
        }
    };

    new_cpr.ok()?;
    Some(ValidChild {
        first_name: first_name?,
        last_name: last_name?,
        birth_date: birth_date?,
        cpr,
        cpr_change,
    })
}

/// The enrolment form (a child's additional enrolment, and the first one on create).
#[derive(Default, Deserialize)]
pub struct EnrolmentForm {
    #[serde(default)]
    pub institution_id: String,
    #[serde(default)]
    pub group_name: String,
    #[serde(default)]
    pub starts_on: String,
    #[serde(default)]
    pub ends_on: String,
}

impl EnrolmentForm {
    /// The enrolment part of the child form.
    pub fn from_child_form(f: &ChildForm) -> EnrolmentForm {
        EnrolmentForm {
            institution_id: f.institution_id.clone(),
            group_name: f.group_name.clone(),
            starts_on: f.starts_on.clone(),
            ends_on: String::new(),
        }
    }
}

pub struct ValidEnrolment {
    pub institution_id: Uuid,
    pub group_name: Option<Line>,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
}

/// How far ahead an enrolment may start: far enough for next year's school start, near enough
/// to catch a mistyped year.
const MAX_START_AHEAD: Duration = Duration::days(3 * 366);

/// The latest day an enrolment may start or end, seen from `today` (`MAX_START_AHEAD`).
fn latest_enrolment_date(today: Date) -> Date {
    today.checked_add(MAX_START_AHEAD).unwrap_or(today)
}

/// An enrolment's first day, in the window of the form and the import: not before the child's
/// birth (unknown: 1990), at most three years ahead.
pub fn check_start(day: Date, birth_date: Option<Date>, today: Date) -> Result<Date, String> {
    if day < birth_date.unwrap_or(EARLIEST_BIRTH_DATE) {
        return Err(match birth_date {
            Some(b) => format!(
                "Startdatoen kan ikke ligge før barnets fødselsdato ({}).",
                format_date(b)
            ),
            None => "Startdatoen ligger for langt tilbage.".to_string(),
        });
    }
    if day > latest_enrolment_date(today) {
        return Err("Startdatoen kan højst ligge tre år ude i fremtiden.".into());
    }
    Ok(day)
}

/// An enrolment's last day: not before its first (when known), at most three years ahead.
pub fn check_end(day: Date, starts_on: Option<Date>, today: Date) -> Result<Date, &'static str> {
    if starts_on.is_some_and(|s| day < s) {
        return Err("Slutdatoen kan ikke ligge før startdatoen.");
    }
    if day > latest_enrolment_date(today) {
        return Err("Slutdatoen kan højst ligge tre år ude i fremtiden.");
    }
    Ok(day)
}

/// Validates an enrolment; `allowed` are the institutions the user may enrol at, `birth_date`
/// the child's (when known; an enrolment cannot start before it).
pub fn validate_enrolment(
    f: &EnrolmentForm,
    allowed: &[Uuid],
    birth_date: Option<Date>,
    today: Date,
    errors: &mut FieldErrors,
) -> Option<ValidEnrolment> {
    let institution_id = Uuid::parse_str(f.institution_id.trim())
        .ok()
        .filter(|id| allowed.contains(id));
    if institution_id.is_none() {
        errors.add("institution_id", "Vælg en institution.");
    }
    let group_name = Line::parse_optional(&f.group_name, GROUP_MAX)
        .map_err(|e| errors.add("group_name", e.message("gruppe")))
        .ok();
    let starts_on = match parse_date(&f.starts_on) {
        None if f.starts_on.trim().is_empty() => {
            errors.add("starts_on", "Udfyld startdato.");
            None
        }
        None => {
            errors.add(
                "starts_on",
                "Skriv startdatoen som en gyldig dato, fx 2026-08-01.",
            );
            None
        }
        Some(d) => check_start(d, birth_date, today)
            .map_err(|e| errors.add("starts_on", e))
            .ok(),
    };
    let ends_on = if f.ends_on.trim().is_empty() {
        Some(None)
    } else {
        match parse_date(&f.ends_on) {
            None => {
                errors.add(
                    "ends_on",
                    "Skriv slutdatoen som en gyldig dato, fx 2027-07-31.",
                );
                None
            }
            Some(end) => check_end(end, starts_on, today)
                .map(Some)
                .map_err(|e| errors.add("ends_on", e))
                .ok(),
        }
    };
    Some(ValidEnrolment {
        institution_id: institution_id?,
        group_name: group_name?,
        starts_on: starts_on?,
        ends_on: ends_on?,
    })
}

/// The form that ends an enrolment.
#[derive(Default, Deserialize)]
pub struct EndForm {
    #[serde(default)]
    pub ends_on: String,
}

pub fn validate_end(
    f: &EndForm,
    starts_on: Date,
    today: Date,
    errors: &mut FieldErrors,
) -> Option<Date> {
    let latest = latest_enrolment_date(today);
    match parse_date(&f.ends_on) {
        None if f.ends_on.trim().is_empty() => {
            errors.add("ends_on", "Udfyld slutdato.");
            None
        }
        None => {
            errors.add(
                "ends_on",
                "Skriv slutdatoen som en gyldig dato, fx 2027-07-31.",
            );
            None
        }
        Some(d) if d < starts_on => {
            errors.add(
                "ends_on",
                format!(
                    "Slutdatoen kan ikke ligge før startdatoen ({}).",
                    format_date(starts_on)
                ),
            );
            None
        }
        Some(d) if d > latest => {
            errors.add(
                "ends_on",
                "Slutdatoen kan højst ligge tre år ude i fremtiden.",
            );
            None
        }
        Some(d) => Some(d),
    }
}

/// The guardian form (add and edit).
#[derive(Default, Deserialize)]
pub struct GuardianForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub relation: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    /// The checkbox: present when ticked.
    #[serde(default)]
    pub has_custody: Option<String>,
}

impl GuardianForm {
    pub fn custody(&self) -> bool {
        self.has_custody.is_some()
    }
}

pub struct ValidGuardian {
    pub name: Line,
    pub relation: Line,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub has_custody: bool,
}

pub fn validate_guardian(f: &GuardianForm, errors: &mut FieldErrors) -> Option<ValidGuardian> {
    let name = Line::parse(&f.name, GUARDIAN_NAME_MAX)
        .map_err(|e| errors.add("name", e.message("navn")))
        .ok();
    let relation = Line::parse(&f.relation, RELATION_MAX)
        .map_err(|e| errors.add("relation", e.message("relation til barnet")))
        .ok();
    let email = Email::parse_optional(&f.email)
        .map_err(|msg| errors.add("email", msg))
        .ok();
    let phone = Phone::parse_optional(&f.phone)
        .map_err(|msg| errors.add("phone", msg))
        .ok();
    Some(ValidGuardian {
        name: name?,
        relation: relation?,
        email: email?,
        phone: phone?,
        has_custody: f.custody(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 23);

    fn child(first: &str, last: &str, birth: &str, cpr: &str) -> ChildForm {
        ChildForm {
            first_name: first.into(),
            last_name: last.into(),
            birth_date: birth.into(),
            cpr: cpr.into(),
            ..Default::default()
        }
    }

    fn check(f: &ChildForm, stored: Option<&Cpr>) -> (Option<ValidChild>, FieldErrors) {
        let mut errors = FieldErrors::default();
        let v = validate_child(f, TODAY, stored, &mut errors);
        assert_eq!(
            v.is_some(),
            errors.is_empty(),
            "valid exactly when no errors"
        );
        (v, errors)
    }

    #[test]
    fn a_child_without_cpr() {
        let (v, _) = check(&child(" Anna ", "Hansen", "2021-03-15", ""), None);
        let v = v.unwrap();
        assert_eq!(v.first_name.as_str(), "Anna");
        assert_eq!(v.birth_date, date!(2021 - 03 - 15));
        assert!(v.cpr.is_none());
        assert_eq!(v.cpr_change, CprChange::Unchanged);
    }

    #[test]
    fn the_birth_date_comes_from_the_cpr_when_left_empty() {
        let (v, _) = check(&child("Anna", "Hansen", "", "1503214321"), None);
        let v = v.unwrap();
        assert_eq!(v.birth_date, date!(2021 - 03 - 15));
        assert_eq!(v.cpr_change, CprChange::Set);
        assert_eq!(v.cpr.unwrap().masked(), "150321-xxxx");
    }

    #[test]
    fn cpr_and_birth_date_must_agree() {
        let (_, e) = check(&child("Anna", "Hansen", "2021-03-16", "150321-4321"), None);
        assert!(e
            .msg("cpr")
            .contains("passer ikke med fødselsdatoen 16-03-2021"));
        assert_eq!(e.msg("birth_date"), "");
        let (v, _) = check(&child("Anna", "Hansen", "15-03-2021", "150321-4321"), None);
        assert!(v.is_some());
    }

    #[test]
    fn field_errors() {
        let (_, e) = check(
            &child("", &"x".repeat(101), "2021-02-30", "310299-1234"),
            None,
        );
        assert_eq!(e.msg("first_name"), "Udfyld fornavn.");
        assert_eq!(e.msg("last_name"), "Efternavn må højst være 100 tegn.");
        assert!(e.msg("birth_date").contains("gyldig dato"));
        assert!(e.msg("cpr").contains("gyldig fødselsdato"));
        let (_, e) = check(&child("A", "B", "", ""), None);
        assert_eq!(e.msg("birth_date"), "Udfyld fødselsdato.");
        let (_, e) = check(&child("A", "B", "", "12345"), None);
        assert_eq!(
            e.msg("birth_date"),
            "",
            "no second message for the same mistake"
        );
        assert!(e.msg("cpr").contains("10 cifre"));
        let (_, e) = check(&child("A", "B", "1989-12-31", ""), None);
        assert!(e.msg("birth_date").contains("1990"));
        let (_, e) = check(&child("A", "B", "2026-11-24", ""), None);
        assert!(e.msg("birth_date").contains("fremtiden"));
        let (_, e) = check(&child("A", "B", "", "010185-1234"), None);
        assert!(e.msg("cpr").contains("1990"), "{}", e.msg("cpr"));
    }

    #[test]
    fn editing_the_cpr() {
        let stored = Cpr::parse("150321-4321").unwrap();
        let base = child("Anna", "Hansen", "2021-03-15", "");

        let (v, _) = check(&base, Some(&stored));
        let v = v.unwrap();
        assert_eq!(v.cpr_change, CprChange::Unchanged);
        assert_eq!(
            v.cpr.as_ref(),
            Some(&stored),
            "kept when the field is left empty"
        );

        let same = child("Anna", "Hansen", "2021-03-15", "1503214321");
        assert_eq!(
            check(&same, Some(&stored)).0.unwrap().cpr_change,
            CprChange::Unchanged
        );

        let other = child("Anna", "Hansen", "2021-03-15", "150321-4111");
        let v = check(&other, Some(&stored)).0.unwrap();
        assert_eq!(v.cpr_change, CprChange::Changed);
        assert_eq!(v.cpr.unwrap(), Cpr::parse("1503214111").unwrap());

        let mut remove = base;
        remove.remove_cpr = Some("ja".into());
        let v = check(&remove, Some(&stored)).0.unwrap();
        assert_eq!(v.cpr_change, CprChange::Removed);
        assert!(v.cpr.is_none());

        remove.cpr = "150321-1111".into();
        let (_, e) = check(&remove, Some(&stored));
        assert!(e.msg("cpr").contains("både"));

        // A new birth date must still agree with the number on record.
        let moved = child("Anna", "Hansen", "2021-03-16", "");
        let (_, e) = check(&moved, Some(&stored));
        assert!(e.msg("birth_date").contains("150321-xxxx"));
        let mut moved_and_removed = moved;
        moved_and_removed.remove_cpr = Some("ja".into());
        assert!(check(&moved_and_removed, Some(&stored)).0.is_some());

        // The remove box means nothing when there is no number.
        let mut nothing = child("Anna", "Hansen", "2021-03-15", "");
        nothing.remove_cpr = Some("ja".into());
        assert_eq!(
            check(&nothing, None).0.unwrap().cpr_change,
            CprChange::Unchanged
        );
    }

    #[test]
    fn enrolments() {
        let inst = Uuid::new_v4();
        let allowed = [inst];
        let birth = Some(date!(2021 - 03 - 15));
        let form = |i: &str, start: &str, end: &str| EnrolmentForm {
            institution_id: i.into(),
            group_name: " Stue  A ".into(),
            starts_on: start.into(),
            ends_on: end.into(),
        };
        let run = |f: &EnrolmentForm| {
            let mut e = FieldErrors::default();
            let v = validate_enrolment(f, &allowed, birth, TODAY, &mut e);
            (v, e)
        };
        let (v, _) = run(&form(&inst.to_string(), "2024-08-01", ""));
        let v = v.unwrap();
        assert_eq!(v.institution_id, inst);
        assert_eq!(v.group_name.unwrap().as_str(), "Stue A");
        assert_eq!(v.ends_on, None);

        let (_, e) = run(&form(&Uuid::new_v4().to_string(), "", ""));
        assert_eq!(e.msg("institution_id"), "Vælg en institution.");
        assert_eq!(e.msg("starts_on"), "Udfyld startdato.");
        let (_, e) = run(&form("not-a-uuid", "2020-01-01", "2019-01-01"));
        assert!(e.msg("institution_id").contains("Vælg"));
        assert!(e.msg("starts_on").contains("fødselsdato (15-03-2021)"));
        let (_, e) = run(&form(&inst.to_string(), "2024-08-01", "2024-07-31"));
        assert!(e.msg("ends_on").contains("før startdatoen"));
        let (_, e) = run(&form(&inst.to_string(), "2205-08-01", ""));
        assert!(e.msg("starts_on").contains("tre år"));
        let (v, _) = run(&form(&inst.to_string(), "2024-08-01", "2024-08-01"));
        assert_eq!(v.unwrap().ends_on, Some(date!(2024 - 08 - 01)));
    }

    #[test]
    fn ending() {
        let start = date!(2024 - 08 - 01);
        let run = |s: &str| {
            let mut e = FieldErrors::default();
            let v = validate_end(&EndForm { ends_on: s.into() }, start, TODAY, &mut e);
            (v, e)
        };
        assert_eq!(run("2026-11-22").0, Some(date!(2026 - 11 - 22)));
        assert!(run("2024-07-31").1.msg("ends_on").contains("01-08-2024"));
        assert_eq!(run("").1.msg("ends_on"), "Udfyld slutdato.");
        assert!(run("31-31-2026").1.msg("ends_on").contains("gyldig"));
    }

    #[test]
    fn guardians() {
        let f = GuardianForm {
            name: "Mette Hansen".into(),
            relation: "Mor".into(),
            email: "Mette@Example.dk".into(),
            phone: "12 34 56 78".into(),
            has_custody: Some("ja".into()),
        };
        let mut e = FieldErrors::default();
        let v = validate_guardian(&f, &mut e).unwrap();
        assert_eq!(v.email.unwrap().into_string(), "mette@example.dk");
        assert_eq!(v.phone.unwrap().into_string(), "12345678");
        assert!(v.has_custody);

        let bad = GuardianForm {
            name: "".into(),
            relation: "x".repeat(51),
            email: "nope".into(),
            phone: "12".into(),
            has_custody: None,
        };
        let mut e = FieldErrors::default();
        assert!(validate_guardian(&bad, &mut e).is_none());
        assert_eq!(e.msg("name"), "Udfyld navn.");
        assert!(e.msg("relation").contains("50 tegn"));
        assert!(e.msg("email").contains("e-mailadresse"));
        assert!(e.msg("phone").contains("8 til 20 cifre"));
    }
}
