//! The handover as it is read: its sections with the answers as text. The receiver's reading goes
//! through the database view `receiver_answers`, so a sensitive answer without the parents'
//! consent never leaves the database for them; the sender (and the print of the sender's own
//! copy) reads every answer.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::{
    children::domain::{format_date, parse_date},
    db::Tx,
    forms::{self, kinds::QuestionKind},
    web::{AppError, AppResult},
};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The sending institution (and administrators): everything that was written.
    Sender,
    /// The receiving institution: what is visible to it, sensitive sections only with consent.
    Receiver,
}

pub struct ItemView {
    pub label: String,
    /// Empty when unanswered.
    pub answer: String,
}

pub struct SectionRead {
    /// The template section (what consent decisions refer to).
    pub id: Uuid,
    pub title: String,
    pub items: Vec<ItemView>,
    /// For the receiver: the section has sensitive content that is not released by consent.
    pub withheld: bool,
    /// For the sender: the section holds sensitive questions (needs consent to be shared).
    pub sensitive: bool,
    /// The section holds sensitive questions visible to the receiver: what the receiver reads
    /// of it depends on consent.
    pub needs_consent: bool,
}

/// Stored answers as raw values (one value, or the chosen options), for `audience`.
async fn values(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
    audience: Audience,
) -> Result<HashMap<Uuid, Vec<String>>, sqlx::Error> {
    let rows: Vec<(Uuid, Option<String>, Vec<String>)> = match audience {
        Audience::Sender => sqlx::query!(
            r#"SELECT question_id, value, "values" AS "values!" FROM answers
               WHERE municipality_id = $1 AND transition_id = $2"#,
            municipality_id,
            transition_id
        )
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|r| (r.question_id, r.value, r.values))
        .collect(),
        Audience::Receiver => sqlx::query!(
            r#"SELECT question_id AS "question_id!", value, "values" AS "values!"
               FROM receiver_answers WHERE municipality_id = $1 AND transition_id = $2"#,
            municipality_id,
            transition_id
        )
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|r| (r.question_id, r.value, r.values))
        .collect(),
    };
    Ok(rows
        .into_iter()
        .map(|(q, value, mut values)| {
            if let Some(v) = value {
                values.insert(0, v);
            }
            (q, values)
        })
        .collect())
}

/// The sections of the template the consent has released for this transition.
async fn released_sections(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
    template_id: Uuid,
) -> Result<HashSet<Uuid>, sqlx::Error> {
    let ids = sqlx::query_scalar!(
        "SELECT id FROM template_sections
         WHERE municipality_id = $1 AND template_id = $2 AND consent_released($1, $3, id)",
        municipality_id,
        template_id,
        transition_id
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids.into_iter().collect())
}

/// One answer as a reader sees it: the labels of chosen values, a Danish date, or the text.
fn answer_text(q: &forms::Question, raw: &[String]) -> String {
    let given: Vec<&String> = raw.iter().filter(|v| !v.trim().is_empty()).collect();
    match q.kind {
        QuestionKind::FreeText => given.first().map(|s| s.to_string()).unwrap_or_default(),
        QuestionKind::Date => given
            .first()
            .map(|s| {
                parse_date(s)
                    .map(format_date)
                    .unwrap_or_else(|| s.to_string())
            })
            .unwrap_or_default(),
        _ => {
            let choices = q.choices();
            given
                .iter()
                .map(|v| {
                    choices
                        .iter()
                        .find(|(value, _)| *value == v.as_str())
                        .map(|(_, label)| label.to_string())
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// The handover of `transition_id` (written on `template_id`) as `audience` may read it.
pub async fn load(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
    template_id: Uuid,
    audience: Audience,
) -> AppResult<Vec<SectionRead>> {
    let template = forms::load_template(tx, municipality_id, template_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let values = values(tx, municipality_id, transition_id, audience).await?;
    let released = match audience {
        Audience::Receiver => {
            released_sections(tx, municipality_id, transition_id, template_id).await?
        }
        Audience::Sender => HashSet::new(),
    };
    let empty = Vec::new();
    let mut sections = Vec::new();
    for s in template.sections.iter() {
        let sensitive = s.questions.iter().any(|q| q.sensitive);
        let needs_consent = s
            .questions
            .iter()
            .any(|q| q.sensitive && q.visible_to_receiver);
        let withheld = audience == Audience::Receiver && needs_consent && !released.contains(&s.id);
        let items: Vec<ItemView> = s
            .questions
            .iter()
            .filter(|q| match audience {
                Audience::Sender => true,
                // what is withheld is left out entirely, not shown as unanswered
                Audience::Receiver => q.visible_to_receiver && !(q.sensitive && withheld),
            })
            .map(|q| ItemView {
                label: q.label.clone(),
                answer: answer_text(q, values.get(&q.id).unwrap_or(&empty)),
            })
            .collect();
        if items.is_empty() && !withheld {
            continue;
        }
        sections.push(SectionRead {
            id: s.id,
            title: s.title.clone(),
            items,
            withheld,
            sensitive,
            needs_consent,
        });
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(kind: QuestionKind, options: &[&str]) -> forms::Question {
        forms::Question {
            id: Uuid::nil(),
            section_id: Uuid::nil(),
            position: 1,
            kind,
            label: "Q".into(),
            help_text: String::new(),
            options: options.iter().map(|s| s.to_string()).collect(),
            required: false,
            visible_to_receiver: true,
            visible_to_parents: true,
            sensitive: false,
            theme: None,
        }
    }

    fn raw(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn answers_read_as_labels_dates_and_text() {
        let scale = question(QuestionKind::TrafficLight, &[]);
        assert!(answer_text(&scale, &raw(&["green"])).starts_with("Grøn"));
        let multi = question(QuestionKind::MultiChoice, &["Dansk", "Arabisk", "Tyrkisk"]);
        assert_eq!(
            answer_text(&multi, &raw(&["", "Dansk", "Tyrkisk"])),
            "Dansk, Tyrkisk"
        );
        let date = question(QuestionKind::Date, &[]);
        assert_eq!(answer_text(&date, &raw(&["2027-08-01"])), "01-08-2027");
        let text = question(QuestionKind::FreeText, &[]);
        assert_eq!(answer_text(&text, &raw(&["Leger gerne"])), "Leger gerne");
        assert_eq!(answer_text(&text, &raw(&["  "])), "");
    }
}
