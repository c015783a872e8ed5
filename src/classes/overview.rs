//! One class on one screen: every incoming child with the sending institution, the key points
//! of the handover (strengths and what works, support in place, agreements), consent, whether
//! the sender wants a meeting or an oral handover, and whether it has been read and
//! acknowledged. The key points are read as the receiver reads the handover
//! (`handover::load(.., Audience::Receiver)`, i.e. through `receiver_answers`), so a section
//! the parents have not released never shows here. Reading the overview is audited per child.

use askama::Template;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use time::Date;
use uuid::Uuid;

use super::{manage, ClassAccess, NAV};
use crate::{
    audit::Entry,
    auth::Ctx,
    children::domain::format_date,
    db::Tx,
    transitions::{
        handover::{self, Audience, SectionRead},
        receiving::is_delivered,
        status::Status,
    },
    web::{self, AppResult, Layout, Path, Query},
};

/// The three kinds of key points a teacher needs first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPoint {
    Strengths,
    Support,
    Agreements,
}

impl KeyPoint {
    pub fn label(self) -> &'static str {
        match self {
            KeyPoint::Strengths => "Styrker og det, der virker",
            KeyPoint::Support => "Støtte og indsatser",
            KeyPoint::Agreements => "Aftaler",
        }
    }

    /// Which key point a template section holds, by its title. The default templates of every
    /// transition kind name these sections "Styrker …" / "Det, der virker", "Indsatser og
    /// støtte" / "Støtte og særlige hensyn", and "Anbefalinger og aftaler …" / "Aftaler …";
    /// an administrator's own template is read the same way.
    pub fn of_section(title: &str) -> Option<KeyPoint> {
        let t = title.trim().to_lowercase();
        if t.starts_with("styrke") || t.contains("det, der virker") || t.contains("det der virker")
        {
            Some(KeyPoint::Strengths)
        } else if t.starts_with("indsats") || t.contains("støtte") || t.contains("særlige hensyn")
        {
            Some(KeyPoint::Support)
        } else if t.contains("aftale") || t.starts_with("anbefaling") {
            Some(KeyPoint::Agreements)
        } else {
            None
        }
    }
}

pub struct KeyItem {
    pub label: String,
    pub answer: String,
}

pub struct KeyGroup {
    pub title: &'static str,
    pub items: Vec<KeyItem>,
    /// Part of it is not shared with the receiver (no consent).
    pub withheld: bool,
}

/// The key points of a handover as the receiver reads it, in the order strengths, support,
/// agreements; only answered questions.
pub fn key_points(sections: &[SectionRead]) -> Vec<KeyGroup> {
    [KeyPoint::Strengths, KeyPoint::Support, KeyPoint::Agreements]
        .into_iter()
        .filter_map(|kind| {
            let mut items = Vec::new();
            let mut withheld = false;
            for s in sections
                .iter()
                .filter(|s| KeyPoint::of_section(&s.title) == Some(kind))
            {
                withheld |= s.withheld;
                items.extend(
                    s.items
                        .iter()
                        .filter(|i| !i.answer.trim().is_empty())
                        .map(|i| KeyItem {
                            label: i.label.clone(),
                            answer: i.answer.clone(),
                        }),
                );
            }
            (!items.is_empty() || withheld).then_some(KeyGroup {
                title: kind.label(),
                items,
                withheld,
            })
        })
        .collect()
}

struct Row {
    transition_id: Uuid,
    child_id: Uuid,
    child_name: String,
    sending_name: String,
    planned_date: Date,
    status: String,
    template_id: Uuid,
    wish: Option<String>,
    has_meeting: bool,
    read_by_me: bool,
    readers: i64,
    sensitive_sections: i64,
    released_sections: i64,
}

async fn rows(
    tx: &mut Tx,
    municipality_id: Uuid,
    class_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as!(
        Row,
        r#"SELECT t.id AS transition_id, t.child_id,
                  c.first_name || ' ' || c.last_name AS "child_name!",
                  s.name AS sending_name, t.planned_date, t.status, t.template_id,
                  w.wish AS "wish?",
                  EXISTS (SELECT 1 FROM handover_meetings h
                          WHERE h.municipality_id = t.municipality_id AND h.transition_id = t.id) AS "has_meeting!",
                  EXISTS (SELECT 1 FROM transition_reads x
                          WHERE x.municipality_id = t.municipality_id AND x.transition_id = t.id
                            AND x.user_id = $3) AS "read_by_me!",
                  (SELECT count(*) FROM transition_reads x
                   WHERE x.municipality_id = t.municipality_id AND x.transition_id = t.id) AS "readers!",
                  (SELECT count(*) FROM template_sections ts
                   WHERE ts.municipality_id = t.municipality_id AND ts.template_id = t.template_id
                     AND EXISTS (SELECT 1 FROM template_questions q
                                 WHERE q.municipality_id = ts.municipality_id AND q.section_id = ts.id
                                   AND q.sensitive AND q.visible_to_receiver)) AS "sensitive_sections!",
                  (SELECT count(*) FROM template_sections ts
                   WHERE ts.municipality_id = t.municipality_id AND ts.template_id = t.template_id
                     AND EXISTS (SELECT 1 FROM template_questions q
                                 WHERE q.municipality_id = ts.municipality_id AND q.section_id = ts.id
                                   AND q.sensitive AND q.visible_to_receiver)
                     AND consent_released(t.municipality_id, t.id, ts.id)) AS "released_sections!"
           FROM class_children k
           JOIN transitions t ON t.municipality_id = k.municipality_id AND t.id = k.transition_id
           JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
           JOIN institutions s ON s.municipality_id = t.municipality_id AND s.id = t.sending_institution_id
           LEFT JOIN handover_wishes w ON w.municipality_id = t.municipality_id AND w.transition_id = t.id
           WHERE k.municipality_id = $1 AND k.class_id = $2 AND t.status <> 'cancelled'
           ORDER BY c.first_name, c.last_name, t.id"#,
        municipality_id,
        class_id,
        user_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// The sortable columns: (key in `?sort=`, header).
pub const COLUMNS: [(&str, &str); 6] = [
    ("child", "Barn"),
    ("sending", "Fra"),
    ("consent", "Samtykke"),
    ("wish", "Møde"),
    ("read", "Læst"),
    ("status", "Status"),
];

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SortQuery {
    pub sort: String,
}

/// A parsed `?sort=`: a column key, `-` in front for descending. Unknown → by child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: &'static str,
    pub descending: bool,
}

impl Sort {
    pub fn parse(raw: &str) -> Sort {
        let raw = raw.trim();
        let (descending, key) = match raw.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, raw),
        };
        match COLUMNS.iter().find(|(k, _)| *k == key) {
            Some((k, _)) => Sort {
                column: k,
                descending,
            },
            None => Sort {
                column: "child",
                descending: false,
            },
        }
    }
}

pub struct Header {
    pub label: &'static str,
    pub href: String,
    /// "ascending" / "descending" on the sorted column, "" elsewhere.
    pub aria_sort: &'static str,
}

fn headers(class_id: Uuid, sort: Sort) -> Vec<Header> {
    COLUMNS
        .iter()
        .map(|(key, label)| {
            let current = sort.column == *key;
            // a click on the sorted column turns it around
            let next = if current && !sort.descending {
                format!("-{key}")
            } else {
                key.to_string()
            };
            Header {
                label,
                href: format!("/classes/{class_id}?sort={next}"),
                aria_sort: match (current, sort.descending) {
                    (false, _) => "",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
            }
        })
        .collect()
}

pub struct ChildView {
    pub href: String,
    pub child: String,
    pub sending: String,
    pub planned_date: String,
    pub status: &'static str,
    pub delivered: bool,
    pub key_points: Vec<KeyGroup>,
    pub consent: String,
    pub wish: &'static str,
    pub has_meeting: bool,
    pub read: String,
    pub acknowledged: bool,
    pub transition_id: Uuid,
    // sort keys
    status_rank: usize,
    consent_rank: i64,
    wish_rank: u8,
    read_rank: u8,
}

fn wish_label(wish: Option<&str>) -> (&'static str, u8) {
    match wish {
        Some("meeting") => ("Ønsker overleveringsmøde", 0),
        Some("oral") => ("Ønsker mundtlig overlevering", 1),
        Some("none") => ("Intet ønske", 2),
        _ => ("Ikke oplyst", 3),
    }
}

fn consent_text(sensitive: i64, released: i64) -> (String, i64) {
    if sensitive == 0 {
        ("Intet kræver samtykke".into(), 3)
    } else if released >= sensitive {
        ("Givet for alt".into(), 2)
    } else if released == 0 {
        ("Ikke givet – noget deles ikke".into(), 0)
    } else {
        (format!("Givet for {released} af {sensitive} afsnit"), 1)
    }
}

const STATUS_ORDER: [&str; 8] = [
    "draft",
    "with_parents",
    "ready",
    "sent",
    "received",
    "feedback_requested",
    "feedback_given",
    "closed",
];

fn sort_rows(rows: &mut [ChildView], sort: Sort) {
    // the rows arrive by name; a stable sort keeps that order within equal keys
    match sort.column {
        "sending" => rows.sort_by_cached_key(|r| r.sending.to_lowercase()),
        "consent" => rows.sort_by_key(|r| r.consent_rank),
        "wish" => rows.sort_by_key(|r| r.wish_rank),
        "read" => rows.sort_by_key(|r| r.read_rank),
        "status" => rows.sort_by_key(|r| r.status_rank),
        _ => {}
    }
    if sort.descending {
        rows.reverse();
    }
}

#[derive(Template)]
#[template(path = "classes/show.html")]
pub struct ShowPage {
    pub layout: Layout,
    pub id: Uuid,
    pub name: String,
    pub institution: String,
    pub school_year: String,
    /// The column headers, and the same links above the table (where the headers are hidden
    /// on a narrow screen).
    pub headers: Vec<Header>,
    pub rows: Vec<ChildView>,
    pub teachers: Vec<manage::Person>,
    /// The placing forms (leader, delegates, administrators).
    pub arrange: Option<manage::ArrangeForms>,
}

pub async fn show(
    mut ctx: Ctx,
    Path(id): Path<Uuid>,
    Query(q): Query<SortQuery>,
) -> AppResult<Response> {
    let access = ClassAccess::check(&mut ctx).await?;
    let m = access.municipality_id;
    let class = super::find(&mut ctx.tx, &access, id).await?;
    let sort = Sort::parse(&q.sort);
    let raw = rows(&mut ctx.tx, m, id, ctx.user.id).await?;
    // Key points are content: the handovers whose key points the receiving school's staff see
    // count as seen by the receiver (no recall), and one recalled since `rows` read it shows
    // none. An administrator looking on is not the receiver, as with read receipts.
    let delivered: Vec<Uuid> = raw
        .iter()
        .filter(|r| is_delivered(&r.status))
        .map(|r| r.transition_id)
        .collect();
    let shown = if crate::transitions::receiving::works_at(&ctx.user, class.institution_id) {
        crate::transitions::receiving::record_previews(&mut ctx.tx, m, &delivered).await?
    } else {
        delivered
    };
    let mut children = Vec::with_capacity(raw.len());
    let mut child_ids = Vec::with_capacity(raw.len());
    for r in raw {
        child_ids.push(r.child_id);
        let delivered = shown.contains(&r.transition_id);
        let key_points = if delivered {
            let sections = handover::load(
                &mut ctx.tx,
                m,
                r.transition_id,
                r.template_id,
                Audience::Receiver,
            )
            .await?;
            key_points(&sections)
        } else {
            Vec::new()
        };
        let (consent, consent_rank) = consent_text(r.sensitive_sections, r.released_sections);
        let (wish, wish_rank) = wish_label(r.wish.as_deref());
        let acknowledged = delivered && r.status != Status::Sent.as_str();
        let (read, read_rank) = if !delivered {
            ("Ikke sendt endnu".to_string(), 3)
        } else if r.read_by_me {
            (
                format!(
                    "Læst af dig{}",
                    if r.readers > 1 {
                        format!(" og {} andre", r.readers - 1)
                    } else {
                        String::new()
                    }
                ),
                2,
            )
        } else if r.readers > 0 {
            (format!("Læst af {} hos jer, ikke af dig", r.readers), 1)
        } else {
            ("Ulæst".to_string(), 0)
        };
        children.push(ChildView {
            href: format!("/transitions/{}", r.transition_id),
            child: r.child_name,
            sending: r.sending_name,
            planned_date: format_date(r.planned_date),
            status: Status::parse(&r.status)
                .map(Status::label)
                .unwrap_or("Ukendt"),
            status_rank: STATUS_ORDER
                .iter()
                .position(|s| *s == r.status)
                .unwrap_or(STATUS_ORDER.len()),
            delivered,
            key_points,
            consent,
            consent_rank,
            wish,
            wish_rank,
            has_meeting: r.has_meeting,
            read,
            read_rank,
            acknowledged,
            transition_id: r.transition_id,
        });
    }
    sort_rows(&mut children, sort);
    let teachers = manage::teachers(&mut ctx.tx, m, id).await?;
    let arrange = if access.arranges_at(class.institution_id) {
        Some(manage::arrange_forms(&mut ctx.tx, m, &class).await?)
    } else {
        None
    };
    let actor = ctx.actor();
    crate::audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("read_class_overview", "class", Some(id))
            .details(json!({ "children": child_ids.len() })),
    )
    .await?;
    crate::audit::record_children(&mut ctx.tx, &actor, "read_class_overview", &child_ids).await?;
    let page = ShowPage {
        layout: ctx.layout(&format!("Klasse {}", class.name), NAV),
        id,
        headers: headers(id, sort),
        rows: children,
        teachers,
        arrange,
        school_year: super::school_year_label(class.school_year),
        institution: class.institution_name,
        name: class.name,
    };
    ctx.commit().await?;
    Ok(web::render(&page)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_of_every_default_template_are_recognised() {
        for (title, kind) in [
            ("Styrker og det, der virker", KeyPoint::Strengths),
            ("Det, der virker", KeyPoint::Strengths),
            ("Styrker og interesser", KeyPoint::Strengths),
            ("Indsatser og støtte", KeyPoint::Support),
            ("Støtte og særlige hensyn", KeyPoint::Support),
            ("Helbred og særlige hensyn", KeyPoint::Support),
            (
                "Anbefalinger og aftaler for den første tid",
                KeyPoint::Agreements,
            ),
            ("Aftaler for den første tid", KeyPoint::Agreements),
            ("Aftaler for opstarten", KeyPoint::Agreements),
        ] {
            assert_eq!(KeyPoint::of_section(title), Some(kind), "{title}");
        }
        for title in [
            "Sprog",
            "Barnets egen stemme",
            "Forældrenes perspektiv",
            "Social udvikling",
        ] {
            assert_eq!(KeyPoint::of_section(title), None, "{title}");
        }
    }

    #[test]
    fn sort_parses_known_columns_only() {
        assert_eq!(
            Sort::parse("-sending"),
            Sort {
                column: "sending",
                descending: true
            }
        );
        assert_eq!(Sort::parse("consent").column, "consent");
        assert_eq!(Sort::parse("'; drop").column, "child");
        let h = headers(Uuid::nil(), Sort::parse("sending"));
        assert_eq!(h[1].aria_sort, "ascending");
        assert!(h[1].href.ends_with("?sort=-sending"));
        assert_eq!(h[0].aria_sort, "");
    }
}
