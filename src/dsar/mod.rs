//! Data-subject access: everything Overgang stores about one child, for an administrator to
//! hand to the child's guardians (GDPR art. 15). `/children/{id}/export.json` is the machine-
//! readable download, `/children/{id}/export` the same content as a printable page.
//!
//! [`SubjectAccess`] is one struct of sections filled by one function, [`collect`]; a capability
//! that stores more about a child (handover meetings, the parents' perspective, …) adds a section
//! there. The export shows the CPR number in full, because it is the subject's own data; it is
//! never put in a URL or a log line, and the audit entry records only that an export was made.

use std::fmt;

use askama::Template;
use axum::{
    http::header,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde::{Serialize, Serializer};
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit::{page::action_label, page::entity_label, Entry},
    auth::{Ctx, Permission},
    db::Tx,
    forms::kinds::{QuestionKind, TransitionKind},
    state::AppState,
    transitions::status::Status,
    web::{self, AppError, AppResult, Layout, Path},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/children/{id}/export", get(page))
        .route("/children/{id}/export.json", get(download))
}

const LOCAL_TZ: &str = "Europe/Copenhagen";

/// The export is handed to the child's guardians, who may be two people apart, one of them
/// perhaps with a protected address: what is about other people and not needed to know what is
/// stored about the child stays out (GDPR art. 15(4)).
pub const WITHHELD: &str = "Af hensyn til andre personer (databeskyttelsesforordningens art. 15, stk. 4) indeholder udtrækket ikke forældres og værgers e-mailadresser og telefonnumre, adresserne forældrelinks er sendt til, eller IP-adresser i adgangsloggen.";

/// The full CPR number, for the subject's own export only: serialised in full, but `Debug` (and
/// so any stray log line) masks it like `children::domain::Cpr`.
#[derive(Clone)]
pub struct SubjectCpr(String);

impl fmt::Debug for SubjectCpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectCpr(xxxxxx-xxxx)")
    }
}

impl Serialize for SubjectCpr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl SubjectCpr {
    /// For the printable page, which is the export itself.
    pub fn full(&self) -> &str {
        &self.0
    }
}

/// One text written about a transition, with what it is, when and by whom.
#[derive(Debug, Serialize)]
pub struct TextSection {
    pub transition_id: Uuid,
    /// "meeting", "agreement", "amendment", "parent_perspective", "class", "handover_wish",
    /// "correction_request", "correction_answer", "transfer", "parent_link" (a link a guardian
    /// got: to where, opened, answered, revoked) or "read" (who at the receiver read it)
    pub kind: String,
    pub at: String,
    pub by: Option<String>,
    pub text: String,
}

impl TextSection {
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "meeting" => "Overleveringsmøde",
            "agreement" => "Aftale fra mødet",
            "amendment" => "Tilføjelse efter afsendelse",
            "parent_perspective" => "Forældrenes perspektiv",
            "class" => "Klasse hos modtageren",
            "handover_wish" => "Afsenderens ønske om møde",
            "correction_request" => "Forælders anmodning om rettelse",
            "correction_answer" => "Svar på anmodning om rettelse",
            "transfer" => "Flytning til en anden kommune",
            "parent_link" => "Link til forælderen",
            "read" => "Læst hos modtageren",
            _ => "Tekst",
        }
    }
}

/// Everything about one child, section by section.
#[derive(Debug, Serialize)]
pub struct SubjectAccess {
    /// When the export was made (local time) and by which municipality.
    pub generated_at: String,
    /// What the export leaves out, and why (`WITHHELD`).
    pub withheld: &'static str,
    pub municipality: MunicipalitySection,
    pub child: ChildSection,
    pub guardians: Vec<GuardianSection>,
    pub enrolments: Vec<EnrolmentSection>,
    /// Every transition of the child, each with its status history.
    pub transitions: Vec<TransitionSection>,
    /// Every answer of every handover form about the child, with the question it answers.
    pub answers: Vec<AnswerSection>,
    pub consent_records: Vec<ConsentSection>,
    /// The receiving institution's feedback on the child's transitions.
    pub feedback: Vec<FeedbackSection>,
    /// What else people wrote about the child's transitions: the handover meeting and its
    /// agreements, amendments after sending, and the parents' own perspective.
    pub texts: Vec<TextSection>,
    /// Handovers received for the child from other municipalities, with their packages.
    pub incoming_handovers: Vec<IncomingSection>,
    /// Who read or changed the child's data, when and from where (newest first).
    pub audit_log: Vec<AuditSection>,
}

#[derive(Debug, Serialize)]
pub struct IncomingSection {
    pub id: Uuid,
    pub sending_municipality: String,
    pub received_at: String,
    /// "transfer" or "import"
    pub source: String,
    /// The package as received (docs/handover-package.md).
    pub package: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct MunicipalitySection {
    pub code: String,
    pub name: String,
    pub retention_days: i32,
}

#[derive(Debug, Serialize)]
pub struct ChildSection {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: String,
    pub cpr: Option<SubjectCpr>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize)]
pub struct GuardianSection {
    pub id: Uuid,
    pub name: String,
    pub relation: String,
    pub has_custody: bool,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct EnrolmentSection {
    pub id: Uuid,
    pub institution: String,
    pub group_name: Option<String>,
    pub starts_on: String,
    pub ends_on: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TransitionSection {
    pub id: Uuid,
    pub kind: String,
    pub kind_label: String,
    pub sending_institution: String,
    pub receiving_institution: String,
    pub planned_date: String,
    pub status: String,
    pub status_label: String,
    pub responsible: Option<String>,
    pub template: String,
    pub created_at: String,
    pub updated_at: String,
    /// Set when retention removed the transition's personal data.
    pub purged_at: Option<String>,
    pub events: Vec<EventSection>,
}

#[derive(Debug, Serialize)]
pub struct EventSection {
    pub at: String,
    pub by: Option<String>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AnswerSection {
    pub transition_id: Uuid,
    pub section: String,
    pub question: String,
    pub question_kind: String,
    pub value: Option<String>,
    pub values: Vec<String>,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ConsentSection {
    pub transition_id: Uuid,
    /// NULL once retention removed the guardian.
    pub guardian: Option<String>,
    pub section: String,
    pub decision: String,
    pub method: String,
    pub note: Option<String>,
    pub recorded_by: Option<String>,
    pub recorded_at: String,
}

#[derive(Debug, Serialize)]
pub struct FeedbackSection {
    pub transition_id: Uuid,
    pub round: i16,
    pub due_on: String,
    pub answered_at: Option<String>,
    pub answered_by: Option<String>,
    pub usefulness: Option<i16>,
    pub completeness: Option<i16>,
    pub missing: Option<String>,
    pub special_support: Option<bool>,
    pub deferred_start: Option<bool>,
    pub ppr_referral: Option<bool>,
    pub ratings: sqlx::types::Json<Vec<RatingSection>>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct RatingSection {
    pub question: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct AuditSection {
    pub at: String,
    pub user: Option<String>,
    pub role: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<Uuid>,
}

struct TransitionRow {
    id: Uuid,
    kind: String,
    sending_institution: String,
    receiving_institution: String,
    planned_date: String,
    status: String,
    responsible: Option<String>,
    template: String,
    created_at: String,
    updated_at: String,
    purged_at: Option<String>,
}

struct EventRow {
    transition_id: Uuid,
    at: String,
    by: Option<String>,
    from_status: Option<String>,
    to_status: String,
    note: Option<String>,
}

/// Everything about child `child_id` of `municipality_id`, or `None` if there is no such child
/// in the municipality. Reads only; the caller audits.
pub async fn collect(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
) -> Result<Option<SubjectAccess>, sqlx::Error> {
    let Some(child) = sqlx::query!(
        r#"SELECT id, first_name, last_name, birth_date::text AS "birth_date!", cpr,
                  to_char(created_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS "created_at!",
                  to_char(updated_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS "updated_at!"
           FROM children WHERE municipality_id = $1 AND id = $2"#,
        municipality_id,
        child_id,
        LOCAL_TZ
    )
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(None);
    };
    let municipality = sqlx::query_as!(
        MunicipalitySection,
        "SELECT code, name, retention_days FROM municipalities WHERE id = $1",
        municipality_id
    )
    .fetch_one(&mut **tx)
    .await?;
    let generated_at = sqlx::query_scalar!(
        r#"SELECT to_char(now() AT TIME ZONE $1, 'YYYY-MM-DD HH24:MI:SS') AS "at!""#,
        LOCAL_TZ
    )
    .fetch_one(&mut **tx)
    .await?;
    let guardians = sqlx::query_as!(
        GuardianSection,
        r#"SELECT id, name, relation, has_custody,
                  to_char(created_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS "created_at!"
           FROM guardians WHERE municipality_id = $1 AND child_id = $2 ORDER BY created_at, id"#,
        municipality_id,
        child_id,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await?;
    let enrolments = sqlx::query_as!(
        EnrolmentSection,
        r#"SELECT e.id, i.name AS institution, e.group_name, e.starts_on::text AS "starts_on!",
                  e.ends_on::text AS ends_on
           FROM enrolments e
           JOIN institutions i ON i.municipality_id = e.municipality_id AND i.id = e.institution_id
           WHERE e.municipality_id = $1 AND e.child_id = $2 ORDER BY e.starts_on, e.id"#,
        municipality_id,
        child_id
    )
    .fetch_all(&mut **tx)
    .await?;
    let transition_rows = sqlx::query_as!(
        TransitionRow,
        r#"SELECT t.id, t.kind, s.name AS sending_institution, r.name AS receiving_institution,
                  t.planned_date::text AS "planned_date!", t.status, u.name AS "responsible?",
                  f.title || ' (version ' || f.version || ')' AS "template!",
                  to_char(t.created_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS "created_at!",
                  to_char(t.updated_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS "updated_at!",
                  to_char(t.purged_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS purged_at
           FROM transitions t
           JOIN institutions s ON s.municipality_id = t.municipality_id AND s.id = t.sending_institution_id
           JOIN institutions r ON r.municipality_id = t.municipality_id AND r.id = t.receiving_institution_id
           JOIN form_templates f ON f.municipality_id = t.municipality_id AND f.id = t.template_id
           LEFT JOIN users u ON u.municipality_id = t.municipality_id AND u.id = t.responsible_user_id
           WHERE t.municipality_id = $1 AND t.child_id = $2
           ORDER BY t.planned_date, t.created_at, t.id"#,
        municipality_id,
        child_id,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await?;
    let ids: Vec<Uuid> = transition_rows.iter().map(|t| t.id).collect();
    let mut events = sqlx::query_as!(
        EventRow,
        r#"SELECT e.transition_id, to_char(e.at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS "at!",
                  u.name AS "by?", e.from_status, e.to_status, e.note
           FROM transition_events e
           LEFT JOIN users u ON u.municipality_id = e.municipality_id AND u.id = e.user_id
           WHERE e.municipality_id = $1 AND e.transition_id = ANY($2)
           ORDER BY e.at, e.id"#,
        municipality_id,
        &ids,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await?;
    let status_label = |s: &str| Status::parse(s).map(Status::label).unwrap_or(s).to_string();
    let transitions = transition_rows
        .into_iter()
        .map(|t| {
            let (mine, rest): (Vec<EventRow>, Vec<EventRow>) = std::mem::take(&mut events)
                .into_iter()
                .partition(|e| e.transition_id == t.id);
            events = rest;
            TransitionSection {
                id: t.id,
                kind_label: TransitionKind::parse(&t.kind)
                    .map(TransitionKind::label)
                    .unwrap_or(&t.kind)
                    .to_string(),
                kind: t.kind,
                sending_institution: t.sending_institution,
                receiving_institution: t.receiving_institution,
                planned_date: t.planned_date,
                status_label: status_label(&t.status),
                status: t.status,
                responsible: t.responsible,
                template: t.template,
                created_at: t.created_at,
                updated_at: t.updated_at,
                purged_at: t.purged_at,
                events: mine
                    .into_iter()
                    .map(|e| EventSection {
                        at: e.at,
                        by: e.by,
                        from_status: e.from_status.as_deref().map(status_label),
                        to_status: status_label(&e.to_status),
                        note: e.note,
                    })
                    .collect(),
            }
        })
        .collect();
    let answers = sqlx::query_as!(
        AnswerSection,
        r#"SELECT a.transition_id, s.title AS section, q.label AS question, q.kind AS question_kind,
                  a.value, a."values" AS "values!",
                  to_char(a.updated_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS "updated_at!",
                  u.name AS "updated_by?"
           FROM answers a
           JOIN template_questions q ON q.municipality_id = a.municipality_id
                                    AND q.template_id = a.template_id AND q.id = a.question_id
           JOIN template_sections s ON s.municipality_id = q.municipality_id AND s.id = q.section_id
           LEFT JOIN users u ON u.municipality_id = a.municipality_id AND u.id = a.updated_by
           WHERE a.municipality_id = $1 AND a.transition_id = ANY($2)
           ORDER BY a.transition_id, s.position, q.position"#,
        municipality_id,
        &ids,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|mut a| {
        a.question_kind = QuestionKind::parse(&a.question_kind)
            .map(QuestionKind::label)
            .unwrap_or(&a.question_kind)
            .to_string();
        a
    })
    .collect();
    let consent_records = sqlx::query_as!(
        ConsentSection,
        r#"SELECT c.transition_id, g.name AS "guardian?", s.title AS section, c.decision, c.method,
                  c.note, u.name AS "recorded_by?",
                  to_char(c.recorded_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS "recorded_at!"
           FROM consent_records c
           JOIN template_sections s ON s.municipality_id = c.municipality_id AND s.id = c.section_id
           LEFT JOIN guardians g ON g.municipality_id = c.municipality_id AND g.id = c.guardian_id
           LEFT JOIN users u ON u.municipality_id = c.municipality_id AND u.id = c.recorded_by
           WHERE c.municipality_id = $1 AND c.transition_id = ANY($2)
           ORDER BY c.recorded_at, c.id"#,
        municipality_id,
        &ids,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await?;
    let feedback = sqlx::query_as!(
        FeedbackSection,
        r#"SELECT f.transition_id, f.round, f.due_on::text AS "due_on!",
                  to_char(f.answered_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS answered_at,
                  u.name AS "answered_by?", f.usefulness, f.completeness, f.missing,
                  f.special_support, f.deferred_start, f.ppr_referral,
                  coalesce((SELECT json_agg(json_build_object('question', q.label, 'value', r.value)
                                            ORDER BY q.position)
                            FROM feedback_ratings r
                            JOIN template_questions q ON q.municipality_id = r.municipality_id
                                                     AND q.id = r.question_id
                            WHERE r.municipality_id = f.municipality_id AND r.request_id = f.id), '[]')
                    AS "ratings!: sqlx::types::Json<Vec<RatingSection>>"
           FROM feedback_requests f
           LEFT JOIN users u ON u.municipality_id = f.municipality_id AND u.id = f.answered_by
           WHERE f.municipality_id = $1 AND f.transition_id = ANY($2)
           ORDER BY f.due_on, f.round"#,
        municipality_id,
        &ids,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await?;
    let texts = sqlx::query_as!(
        TextSection,
        r#"SELECT transition_id AS "transition_id!", kind AS "kind!",
                  to_char(at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS "at!", by_name AS "by?",
                  body AS "text!"
           FROM (
               SELECT h.transition_id, 'meeting' AS kind, h.updated_at AS at, u.name AS by_name,
                      concat_ws(E'\n', 'Dato: ' || h.held_on::text || coalesce(' ' || h.held_time::text, ''),
                                nullif('Sted: ' || h.place, 'Sted: '), 'Deltagere: ' || h.participants,
                                nullif(h.notes, '')) AS body
               FROM handover_meetings h
               LEFT JOIN users u ON u.municipality_id = h.municipality_id AND u.id = h.updated_by
               WHERE h.municipality_id = $1 AND h.transition_id = ANY($2)
               UNION ALL
               SELECT a.transition_id, 'agreement', a.created_at, u.name,
                      concat_ws(E'\n', a.description, nullif('Følges op af: ' || a.responsible, 'Følges op af: '),
                                'Opfølgning: ' || a.follow_up_on::text)
               FROM meeting_agreements a
               LEFT JOIN users u ON u.municipality_id = a.municipality_id AND u.id = a.created_by
               WHERE a.municipality_id = $1 AND a.transition_id = ANY($2)
               UNION ALL
               SELECT m.transition_id, 'amendment', m.created_at, u.name, m.body
               FROM transition_amendments m
               LEFT JOIN users u ON u.municipality_id = m.municipality_id AND u.id = m.created_by
               WHERE m.municipality_id = $1 AND m.transition_id = ANY($2)
               UNION ALL
               SELECT p.transition_id, 'parent_perspective', p.updated_at, g.name, p.body
               FROM parent_perspectives p
               LEFT JOIN guardians g ON g.municipality_id = p.municipality_id AND g.id = p.guardian_id
               WHERE p.municipality_id = $1 AND p.transition_id = ANY($2)
               UNION ALL
               SELECT k.transition_id, 'class', k.assigned_at, u.name,
                      c.name || ', ' || i.name || ', skoleåret ' || c.school_year || '/' || (c.school_year + 1)
               FROM class_children k
               JOIN school_classes c ON c.municipality_id = k.municipality_id AND c.id = k.class_id
               JOIN institutions i ON i.municipality_id = c.municipality_id AND i.id = c.institution_id
               LEFT JOIN users u ON u.municipality_id = k.municipality_id AND u.id = k.assigned_by
               WHERE k.municipality_id = $1 AND k.transition_id = ANY($2)
               UNION ALL
               SELECT w.transition_id, 'handover_wish', w.updated_at, u.name,
                      CASE w.wish WHEN 'meeting' THEN 'Ønsker et overleveringsmøde'
                                  WHEN 'oral' THEN 'Ønsker en mundtlig overlevering'
                                  ELSE 'Intet møde eller samtale' END
               FROM handover_wishes w
               LEFT JOIN users u ON u.municipality_id = w.municipality_id AND u.id = w.updated_by
               WHERE w.municipality_id = $1 AND w.transition_id = ANY($2)
               UNION ALL
               SELECT c.transition_id, 'correction_request', c.created_at, g.name,
                      concat_ws(E'\n', 'Afsnit: ' || s.title, c.body)
               FROM correction_requests c
               LEFT JOIN guardians g ON g.municipality_id = c.municipality_id AND g.id = c.guardian_id
               LEFT JOIN template_sections s ON s.municipality_id = c.municipality_id AND s.id = c.section_id
               WHERE c.municipality_id = $1 AND c.transition_id = ANY($2)
               UNION ALL
               SELECT c.transition_id, 'correction_answer', c.answered_at, u.name,
                      concat_ws(E'\n', CASE c.status WHEN 'resolved' THEN 'Rettet' ELSE 'Ikke rettet' END, c.answer)
               FROM correction_requests c
               LEFT JOIN users u ON u.municipality_id = c.municipality_id AND u.id = c.answered_by
               WHERE c.municipality_id = $1 AND c.transition_id = ANY($2) AND c.answer IS NOT NULL
               UNION ALL
               SELECT t.transition_id, 'transfer', t.started_at, u.name,
                      concat_ws(E'\n', 'Til: ' || coalesce(tm.name || ' (' || tm.code || ')', 'ukendt destination'),
                                'Status: ' || t.status, 'Besluttet: ' || t.decided_at::text,
                                nullif('Begrundelse: ' || t.decision_note, 'Begrundelse: '))
               FROM transfers t
               LEFT JOIN transfer_municipalities() tm ON tm.id = t.receiving_municipality_id
               LEFT JOIN users u ON u.municipality_id = t.municipality_id AND u.id = t.started_by
               WHERE t.municipality_id = $1 AND t.transition_id = ANY($2)
               UNION ALL
               SELECT l.transition_id, 'parent_link', l.created_at, g.name,
                      concat_ws(E'\n',
                                CASE l.delivery WHEN 'email' THEN 'Sendt med e-mail'
                                                WHEN 'reminder' THEN 'Påmindelse med e-mail'
                                                ELSE 'Vist til personalet' END,
                                'Åbnet: ' || to_char(l.first_opened_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI'),
                                'Besvaret: ' || to_char(l.responded_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI'),
                                'Trukket tilbage: ' || to_char(l.revoked_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI'),
                                'Udløber: ' || to_char(l.expires_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI'))
               FROM parent_links l
               LEFT JOIN guardians g ON g.municipality_id = l.municipality_id AND g.id = l.guardian_id
               WHERE l.municipality_id = $1 AND l.transition_id = ANY($2)
               UNION ALL
               SELECT r.transition_id, 'read', r.first_read_at, u.name,
                      'Læst første gang ' || to_char(r.first_read_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI')
                      || ', senest ' || to_char(r.last_read_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI')
               FROM transition_reads r
               LEFT JOIN users u ON u.municipality_id = r.municipality_id AND u.id = r.user_id
               WHERE r.municipality_id = $1 AND r.transition_id = ANY($2)
           ) x
           ORDER BY at, kind"#,
        municipality_id,
        &ids,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await?;
    let incoming_handovers = sqlx::query_as!(
        IncomingSection,
        r#"SELECT id, sending_municipality_name || ' (' || sending_municipality_code || ')' AS "sending_municipality!",
                  to_char(received_at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS "received_at!",
                  source, package
           FROM incoming_handovers WHERE municipality_id = $1 AND child_id = $2
           ORDER BY received_at, id"#,
        municipality_id,
        child_id,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await?;
    let audit_log = sqlx::query_as!(
        AuditSection,
        r#"SELECT to_char(a.at AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS') AS "at!",
                  u.name AS "user?", a.role, a.action, a.entity_type, a.entity_id
           FROM audit_log a
           LEFT JOIN users u ON u.municipality_id = a.municipality_id AND u.id = a.user_id
           WHERE a.municipality_id = $1 AND a.child_id = $2
           ORDER BY a.at DESC, a.id DESC"#,
        municipality_id,
        child_id,
        LOCAL_TZ
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(Some(SubjectAccess {
        generated_at,
        withheld: WITHHELD,
        municipality,
        child: ChildSection {
            id: child.id,
            first_name: child.first_name,
            last_name: child.last_name,
            birth_date: child.birth_date,
            cpr: child.cpr.map(SubjectCpr),
            created_at: child.created_at,
            updated_at: child.updated_at,
        },
        guardians,
        enrolments,
        transitions,
        answers,
        consent_records,
        feedback,
        texts,
        incoming_handovers,
        audit_log,
    }))
}

/// The permission check, the lookup and the audit entry both routes share.
async fn export(ctx: &mut Ctx, child_id: Uuid, format: &str) -> AppResult<SubjectAccess> {
    ctx.user.require(Permission::ExportChildData)?;
    let m = ctx.user.municipality()?;
    let data = collect(&mut ctx.tx, m, child_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let actor = ctx.actor();
    crate::audit::record(
        &mut ctx.tx,
        &actor,
        Entry::new("export", "child", Some(child_id))
            .child(child_id)
            .details(json!({
                "format": format,
                "transitions": data.transitions.len(),
                "answers": data.answers.len(),
                "audit_entries": data.audit_log.len(),
            })),
    )
    .await?;
    Ok(data)
}

pub async fn download(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let data = export(&mut ctx, id, "json").await?;
    let body = serde_json::to_vec_pretty(&data).map_err(|e| AppError::Internal(e.into()))?;
    ctx.commit().await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/json; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                // the id, not the name or the CPR number, in the file name
                format!("attachment; filename=\"indsigt-barn-{id}.json\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

pub struct AuditView {
    pub at: String,
    pub user: String,
    pub role: String,
    pub action: String,
    pub entity: String,
}

#[derive(Template)]
#[template(path = "dsar/show.html")]
pub struct ExportPage {
    pub layout: Layout,
    pub data: SubjectAccess,
    pub name: String,
    pub cpr: String,
    pub audit: Vec<AuditView>,
}

impl ExportPage {
    /// Answers of one transition, for the page's per-transition tables.
    pub fn answers_of(&self, transition: &Uuid) -> Vec<&AnswerSection> {
        self.data
            .answers
            .iter()
            .filter(|a| a.transition_id == *transition)
            .collect()
    }

    pub fn consent_of(&self, transition: &Uuid) -> Vec<&ConsentSection> {
        self.data
            .consent_records
            .iter()
            .filter(|c| c.transition_id == *transition)
            .collect()
    }

    pub fn texts_of(&self, transition: &Uuid) -> Vec<&TextSection> {
        self.data
            .texts
            .iter()
            .filter(|t| t.transition_id == *transition)
            .collect()
    }

    pub fn feedback_of(&self, transition: &Uuid) -> Vec<&FeedbackSection> {
        self.data
            .feedback
            .iter()
            .filter(|f| f.transition_id == *transition)
            .collect()
    }

    pub fn answer_text(&self, a: &AnswerSection) -> String {
        if !a.values.is_empty() {
            a.values.join(", ")
        } else {
            match a.value.as_deref() {
                Some("green") => "Grøn".into(),
                Some("yellow") => "Gul".into(),
                Some("red") => "Rød".into(),
                Some(v) => v.to_string(),
                None => "–".into(),
            }
        }
    }

    pub fn yes_no(&self, b: &Option<bool>) -> &'static str {
        match b {
            Some(true) => "Ja",
            Some(false) => "Nej",
            None => "–",
        }
    }
}

pub async fn page(mut ctx: Ctx, Path(id): Path<Uuid>) -> AppResult<Response> {
    let data = export(&mut ctx, id, "html").await?;
    let name = format!("{} {}", data.child.first_name, data.child.last_name);
    let audit = data
        .audit_log
        .iter()
        .map(|a| AuditView {
            at: a.at.clone(),
            user: a.user.clone().unwrap_or_else(|| "System".into()),
            role: a.role.clone().unwrap_or_default(),
            action: action_label(&a.action).to_string(),
            entity: entity_label(&a.entity_type).to_string(),
        })
        .collect();
    let page = ExportPage {
        layout: ctx.layout(&format!("Indsigt: {name}"), "/children"),
        cpr: data
            .child
            .cpr
            .as_ref()
            .map(|c| c.full().to_string())
            .unwrap_or_else(|| "Ikke registreret".into()),
        name,
        audit,
        data,
    };
    let html = web::render(&page)?;
    ctx.commit().await?;
    let mut response = html.into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
