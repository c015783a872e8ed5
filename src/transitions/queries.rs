//! The transitions' SQL. Every query names the municipality explicitly (RLS is the second lock).

use sqlx::types::Json;
use time::Date;
use uuid::Uuid;

use super::status::Status;
use crate::{auth::ChildScope, db::Tx, forms::TransitionKind, transfers::handlers::TransferRow};

/// An id and a name, for selects.
pub struct Choice {
    pub id: Uuid,
    pub name: String,
}

/// The kinds the municipality has switched on, in the order children meet them.
pub async fn enabled_kinds(
    tx: &mut Tx,
    municipality_id: Uuid,
) -> Result<Vec<TransitionKind>, sqlx::Error> {
    let kinds: Vec<String> = sqlx::query_scalar!(
        "SELECT enabled_transition_kinds FROM municipalities WHERE id = $1",
        municipality_id
    )
    .fetch_optional(&mut **tx)
    .await?
    .unwrap_or_default();
    Ok(TransitionKind::ALL
        .into_iter()
        .filter(|k| kinds.iter().any(|s| s == k.as_str()))
        .collect())
}

/// Every active institution of the municipality: a child may move to any of them.
pub async fn active_institutions(
    tx: &mut Tx,
    municipality_id: Uuid,
) -> Result<Vec<Choice>, sqlx::Error> {
    sqlx::query_as!(
        Choice,
        "SELECT id, name FROM institutions WHERE municipality_id = $1 AND is_active ORDER BY name, id",
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// The children the user may start a transition for: in scope and enrolled today at an
/// institution the user works at (administrators: anywhere).
pub async fn child_choices(
    tx: &mut Tx,
    municipality_id: Uuid,
    scope: &ChildScope,
) -> Result<Vec<Choice>, sqlx::Error> {
    let (all, ids) = scope.as_params();
    sqlx::query_as!(
        Choice,
        r#"SELECT c.id, c.first_name || ' ' || c.last_name AS "name!"
           FROM children c
           WHERE c.municipality_id = $1
             AND EXISTS (SELECT 1 FROM enrolments e
                         WHERE e.municipality_id = c.municipality_id AND e.child_id = c.id
                           AND ($2 OR e.institution_id = ANY($3))
                           AND e.starts_on <= current_date
                           AND (e.ends_on IS NULL OR e.ends_on >= current_date))
           ORDER BY c.first_name, c.last_name, c.id
           LIMIT 2000"#,
        municipality_id,
        all,
        &ids[..]
    )
    .fetch_all(&mut **tx)
    .await
}

/// The sending institution: where the child is enrolled today, within the user's scope.
pub async fn current_institution(
    tx: &mut Tx,
    municipality_id: Uuid,
    scope: &ChildScope,
    child_id: Uuid,
) -> Result<Option<Choice>, sqlx::Error> {
    let (all, ids) = scope.as_params();
    sqlx::query_as!(
        Choice,
        "SELECT i.id, i.name
         FROM enrolments e
         JOIN institutions i ON i.municipality_id = e.municipality_id AND i.id = e.institution_id
         WHERE e.municipality_id = $1 AND e.child_id = $4
           AND ($2 OR e.institution_id = ANY($3))
           AND e.starts_on <= current_date
           AND (e.ends_on IS NULL OR e.ends_on >= current_date)
         ORDER BY e.starts_on DESC, e.id
         LIMIT 1",
        municipality_id,
        all,
        &ids[..],
        child_id
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Active users with a staff or leader role at `institution`: who can hold the relay.
pub async fn staff_of(
    tx: &mut Tx,
    municipality_id: Uuid,
    institution: Uuid,
) -> Result<Vec<Choice>, sqlx::Error> {
    sqlx::query_as!(
        Choice,
        "SELECT DISTINCT u.id, u.name
         FROM users u
         JOIN role_assignments r ON r.municipality_id = u.municipality_id AND r.user_id = u.id
         WHERE u.municipality_id = $1 AND r.institution_id = $2 AND u.is_active
           AND r.role IN ('staff', 'institution_leader')
         ORDER BY u.name, u.id",
        municipality_id,
        institution
    )
    .fetch_all(&mut **tx)
    .await
}

pub struct NewTransition {
    pub child_id: Uuid,
    pub sending_institution_id: Uuid,
    pub receiving_institution_id: Uuid,
    pub kind: TransitionKind,
    pub planned_date: Date,
    pub template_id: Uuid,
    pub responsible_user_id: Option<Uuid>,
}

pub async fn insert(
    tx: &mut Tx,
    municipality_id: Uuid,
    t: &NewTransition,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO transitions (municipality_id, child_id, sending_institution_id,
                                  receiving_institution_id, kind, planned_date, template_id,
                                  responsible_user_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        municipality_id,
        t.child_id,
        t.sending_institution_id,
        t.receiving_institution_id,
        t.kind.as_str(),
        t.planned_date,
        t.template_id,
        t.responsible_user_id
    )
    .fetch_one(&mut **tx)
    .await
}

/// One transition as its page shows it.
pub struct Transition {
    pub id: Uuid,
    pub child_id: Uuid,
    pub child_name: String,
    pub sending_institution_id: Uuid,
    pub sending_name: String,
    pub receiving_institution_id: Uuid,
    pub receiving_name: String,
    pub kind: String,
    pub planned_date: Date,
    pub template_id: Uuid,
    pub template_title: String,
    pub template_version: i32,
    pub responsible_user_id: Option<Uuid>,
    pub responsible_name: Option<String>,
    pub status: String,
    pub version: i32,
}

/// The transition if the user may see it: administrators all of the municipality's, leaders and
/// staff those from or to their institutions. Else `None`, answered as 404.
pub async fn find(
    tx: &mut Tx,
    municipality_id: Uuid,
    scope: &ChildScope,
    id: Uuid,
) -> Result<Option<Transition>, sqlx::Error> {
    let (all, ids) = scope.as_params();
    sqlx::query_as!(
        Transition,
        r#"SELECT t.id, t.child_id, c.first_name || ' ' || c.last_name AS "child_name!",
                  t.sending_institution_id,
                  (SELECT s.name FROM institutions s
                   WHERE s.municipality_id = t.municipality_id
                     AND s.id = t.sending_institution_id) AS "sending_name!",
                  t.receiving_institution_id,
                  (SELECT r.name FROM institutions r
                   WHERE r.municipality_id = t.municipality_id
                     AND r.id = t.receiving_institution_id) AS "receiving_name!",
                  t.kind, t.planned_date, t.template_id, f.title AS template_title, f.version AS template_version,
                  t.responsible_user_id,
                  (SELECT u.name FROM users u
                   WHERE u.municipality_id = t.municipality_id
                     AND u.id = t.responsible_user_id) AS "responsible_name?",
                  t.status, t.version
           FROM transitions t
           JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
           JOIN form_templates f ON f.municipality_id = t.municipality_id AND f.id = t.template_id
           WHERE t.municipality_id = $1 AND t.id = $4
             AND ($2 OR t.sending_institution_id = ANY($3) OR t.receiving_institution_id = ANY($3))"#,
        municipality_id,
        all,
        &ids[..],
        id
    )
    .fetch_optional(&mut **tx)
    .await
}

#[derive(serde::Deserialize)]
pub struct Event {
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    pub user_name: Option<String>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: Option<String>,
}

/// What the transition's page reads besides the transition and the receiving end.
pub struct PageData {
    /// The status history, oldest first.
    pub events: Json<Vec<Event>>,
    /// Parents' open correction requests (0 unless asked for).
    pub open_corrections: i64,
    /// Transfers to other municipalities, oldest first (none unless asked for).
    pub transfers: Json<Vec<TransferRow>>,
    /// The meeting, the wish and the agreements (all `None` unless asked for).
    pub meeting: super::meeting::SummaryRow,
}

/// `PageData` as the statement returns it, in one row.
struct PageRow {
    events: Json<Vec<Event>>,
    open_corrections: i64,
    transfers: Json<Vec<TransferRow>>,
    held_on: Option<Date>,
    held_time: Option<time::Time>,
    place: Option<String>,
    participants: Option<String>,
    notes: Option<String>,
    version: Option<i32>,
    wish: Option<String>,
    agreements: Option<Json<Vec<super::meeting::AgreementRow>>>,
}

/// What `page_data` reads besides the history.
pub struct PageParts {
    pub corrections: bool,
    pub transfers: bool,
    /// The meeting, as of `today`.
    pub meeting: bool,
    pub today: Date,
}

/// One statement for the transition's page: the history always, the open correction requests,
/// the transfers and the meeting if asked for (each part reads its own index; a part not asked
/// for reads nothing).
pub async fn page_data(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
    parts: PageParts,
) -> Result<PageData, sqlx::Error> {
    let r = sqlx::query_as!(
        PageRow,
        r#"SELECT
             (SELECT coalesce(json_agg(json_build_object(
                         'at', e.at,
                         'user_name', (SELECT u.name FROM users u
                                       WHERE u.municipality_id = e.municipality_id
                                         AND u.id = e.user_id),
                         'from_status', e.from_status, 'to_status', e.to_status, 'note', e.note)
                       ORDER BY e.at, e.id), '[]')
              FROM transition_events e
              WHERE e.municipality_id = $1 AND e.transition_id = $2)
               AS "events!: Json<Vec<Event>>",
             (SELECT count(*) FROM correction_requests r
              WHERE $3 AND r.municipality_id = $1 AND r.transition_id = $2
                AND r.status = 'open') AS "open_corrections!",
             (SELECT coalesce(json_agg(json_build_object(
                         'started_at', x.started_at,
                         'destination', (SELECT tm.name FROM transfer_municipalities() tm
                                         WHERE tm.id = x.receiving_municipality_id),
                         'status', x.status, 'decision_note', x.decision_note)
                       ORDER BY x.started_at, x.id), '[]')
              FROM transfers x
              WHERE $4 AND x.municipality_id = $1 AND x.transition_id = $2)
               AS "transfers!: Json<Vec<TransferRow>>",
             ms.held_on, ms.held_time, ms.place, ms.participants, ms.notes, ms.version, ms.wish,
             ms.agreements AS "agreements: Json<Vec<super::meeting::AgreementRow>>"
           FROM (SELECT) AS one
           LEFT JOIN LATERAL meeting_summary($1, $2, $6) ms ON $5"#,
        municipality_id,
        transition_id,
        parts.corrections,
        parts.transfers,
        parts.meeting,
        parts.today
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(PageData {
        events: r.events,
        open_corrections: r.open_corrections,
        transfers: r.transfers,
        meeting: super::meeting::SummaryRow {
            held_on: r.held_on,
            held_time: r.held_time,
            place: r.place,
            participants: r.participants,
            notes: r.notes,
            version: r.version,
            wish: r.wish,
            agreements: r.agreements,
        },
    })
}

/// A row of the worklist.
pub struct ListRow {
    pub id: Uuid,
    pub child_name: String,
    pub receiving_name: String,
    pub kind: String,
    pub planned_date: Date,
    pub status: String,
    /// Questions answered, of all the form's questions.
    pub answered: i64,
    pub questions: i64,
}

/// Open transitions the user holds the relay of, sent from where they still work (`all`: the
/// whole municipality): one who has left the sending institution no longer sees them here.
pub async fn mine(
    tx: &mut Tx,
    municipality_id: Uuid,
    user_id: Uuid,
    all: bool,
    institutions: &[Uuid],
) -> Result<Vec<ListRow>, sqlx::Error> {
    sqlx::query_as!(
        ListRow,
        r#"SELECT t.id, c.first_name || ' ' || c.last_name AS "child_name!", r.name AS receiving_name,
                  t.kind, t.planned_date, t.status,
                  (SELECT count(*) FROM answers a
                   WHERE a.municipality_id = t.municipality_id AND a.transition_id = t.id
                     AND (a.value <> '' OR cardinality(a."values") > 0)) AS "answered!",
                  (SELECT count(*) FROM template_questions q
                   WHERE q.municipality_id = t.municipality_id AND q.template_id = t.template_id) AS "questions!"
           FROM transitions t
           JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
           JOIN institutions r ON r.municipality_id = t.municipality_id AND r.id = t.receiving_institution_id
           WHERE t.municipality_id = $1 AND t.responsible_user_id = $2
             AND t.status NOT IN ('closed', 'cancelled')
             AND ($3 OR t.sending_institution_id = ANY($4))
           ORDER BY t.planned_date, c.first_name, t.id
           LIMIT 500"#,
        municipality_id,
        user_id,
        all,
        institutions
    )
    .fetch_all(&mut **tx)
    .await
}

/// Open transitions sent from the institutions (or, with `all`, the whole municipality).
pub async fn outgoing(
    tx: &mut Tx,
    municipality_id: Uuid,
    all: bool,
    institutions: &[Uuid],
) -> Result<Vec<ListRow>, sqlx::Error> {
    sqlx::query_as!(
        ListRow,
        r#"SELECT t.id, c.first_name || ' ' || c.last_name AS "child_name!", r.name AS receiving_name,
                  t.kind, t.planned_date, t.status,
                  (SELECT count(*) FROM answers a
                   WHERE a.municipality_id = t.municipality_id AND a.transition_id = t.id
                     AND (a.value <> '' OR cardinality(a."values") > 0)) AS "answered!",
                  (SELECT count(*) FROM template_questions q
                   WHERE q.municipality_id = t.municipality_id AND q.template_id = t.template_id) AS "questions!"
           FROM transitions t
           JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
           JOIN institutions r ON r.municipality_id = t.municipality_id AND r.id = t.receiving_institution_id
           WHERE t.municipality_id = $1 AND ($2 OR t.sending_institution_id = ANY($3))
             AND t.status NOT IN ('closed', 'cancelled')
           ORDER BY t.planned_date, c.first_name, t.id
           LIMIT 500"#,
        municipality_id,
        all,
        institutions
    )
    .fetch_all(&mut **tx)
    .await
}

/// Reassigns the relay; bumps the version so a form opened before it is answered with a conflict.
pub async fn set_responsible(
    tx: &mut Tx,
    municipality_id: Uuid,
    id: Uuid,
    user_id: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE transitions SET responsible_user_id = $3, version = version + 1, updated_at = now()
         WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id,
        user_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A cluster, for the administrator's cohort choice.
pub async fn clusters(tx: &mut Tx, municipality_id: Uuid) -> Result<Vec<Choice>, sqlx::Error> {
    sqlx::query_as!(
        Choice,
        "SELECT id, name FROM clusters WHERE municipality_id = $1 ORDER BY name, id",
        municipality_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// The active institutions of a cluster.
pub async fn cluster_institutions(
    tx: &mut Tx,
    municipality_id: Uuid,
    cluster_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM institutions WHERE municipality_id = $1 AND cluster_id = $2 AND is_active",
        municipality_id,
        cluster_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// The cohort: children born in `year` enrolled today at one of `institutions` (not the receiving
/// one), each with the institution it is sent from, and whether it already has an open
/// transition of `kind` (those are skipped).
pub struct CohortChild {
    pub child_id: Uuid,
    pub sending_institution_id: Uuid,
    pub has_open: bool,
}

/// Locks the transition's row for the rest of the transaction (`FOR NO KEY UPDATE`, as a change
/// to the row itself would), so that changes that read what the transition has and then add
/// to it are made one after the other, each seeing those before it (the statement after the
/// lock sees what they committed): consent decisions, correction requests, parent links,
/// amendments. Without it, a double click, or a parent and a pedagogue at the same moment,
/// each read the state from before the other: 16 presses of one consent button at once
/// recorded the same decision six times, where pressing it again records nothing new, and 16
/// correction requests at once passed a cap of 10 open ones.
///
/// Returns the status and the version as they are once the lock is held (`None`: no such
/// transition). A change that depends on them checks these, not ones read before the lock: a
/// recall or a status change committed while it waited is seen here and nowhere earlier.
pub async fn lock(
    tx: &mut Tx,
    municipality_id: Uuid,
    transition_id: Uuid,
) -> Result<Option<(Status, i32)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT status, version FROM transitions WHERE municipality_id = $1 AND id = $2
         FOR NO KEY UPDATE",
        municipality_id,
        transition_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.and_then(|r| Some((Status::parse(&r.status)?, r.version))))
}

/// Whether the child has an open transition of the kind (a child gets one at a time; a cohort
/// skips those that have one). Takes the lock on the municipality's open transitions of the
/// kind first (`db::Lock::OpenTransitions`), held to the end of the transaction, so that a
/// transition created at the same moment, alone or in a cohort, is seen.
pub async fn has_open(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
    kind: TransitionKind,
) -> Result<bool, sqlx::Error> {
    lock_open(tx, municipality_id, kind).await?;
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM transitions
                          WHERE municipality_id = $1 AND child_id = $2 AND kind = $3
                            AND status NOT IN ('closed', 'cancelled')) AS "open!""#,
        municipality_id,
        child_id,
        kind.as_str()
    )
    .fetch_one(&mut **tx)
    .await
}

/// The lock on a municipality's open transitions of one kind, to the end of the transaction.
pub async fn lock_open(
    tx: &mut Tx,
    municipality_id: Uuid,
    kind: TransitionKind,
) -> Result<(), sqlx::Error> {
    let key = format!("{municipality_id}/{}", kind.as_str());
    crate::db::lock(tx, crate::db::Lock::OpenTransitions, &key).await
}

pub async fn cohort(
    tx: &mut Tx,
    municipality_id: Uuid,
    year: i32,
    institutions: &[Uuid],
    receiving: Uuid,
    kind: TransitionKind,
) -> Result<Vec<CohortChild>, sqlx::Error> {
    sqlx::query_as!(
        CohortChild,
        r#"SELECT DISTINCT ON (c.id) c.id AS child_id, e.institution_id AS sending_institution_id,
                  EXISTS (SELECT 1 FROM transitions t
                          WHERE t.municipality_id = c.municipality_id AND t.child_id = c.id
                            AND t.kind = $5 AND t.status NOT IN ('closed', 'cancelled')) AS "has_open!"
           FROM children c
           JOIN enrolments e ON e.municipality_id = c.municipality_id AND e.child_id = c.id
           WHERE c.municipality_id = $1
             AND c.birth_date >= make_date($2, 1, 1) AND c.birth_date < make_date($2 + 1, 1, 1)
             AND e.institution_id = ANY($3) AND e.institution_id <> $4
             AND e.starts_on <= current_date AND (e.ends_on IS NULL OR e.ends_on >= current_date)
           ORDER BY c.id, e.starts_on DESC, e.id"#,
        municipality_id,
        year,
        institutions,
        receiving,
        kind.as_str()
    )
    .fetch_all(&mut **tx)
    .await
}

/// Creates the cohort's transitions, their creation events and one audit entry each, in three
/// statements (a cohort can be a whole municipality's year).
#[allow(clippy::too_many_arguments)]
pub async fn insert_cohort(
    tx: &mut Tx,
    actor: &crate::audit::Actor,
    municipality_id: Uuid,
    children: &[Uuid],
    sending: &[Uuid],
    receiving: Uuid,
    kind: TransitionKind,
    planned_date: Date,
    template_id: Uuid,
    responsible: Option<Uuid>,
) -> Result<u64, sqlx::Error> {
    let rows = sqlx::query!(
        "INSERT INTO transitions (municipality_id, child_id, sending_institution_id,
                                  receiving_institution_id, kind, planned_date, template_id,
                                  responsible_user_id)
         SELECT $1, c, s, $4, $5, $6, $7, $8 FROM UNNEST($2::uuid[], $3::uuid[]) AS x(c, s)
         RETURNING id, child_id",
        municipality_id,
        children,
        sending,
        receiving,
        kind.as_str(),
        planned_date,
        template_id,
        responsible
    )
    .fetch_all(&mut **tx)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let child_ids: Vec<Uuid> = rows.iter().map(|r| r.child_id).collect();
    sqlx::query!(
        "INSERT INTO transition_events (municipality_id, transition_id, user_id, to_status, note)
         SELECT $1, t, $2, 'draft', 'Oprettet for en årgang' FROM UNNEST($3::uuid[]) AS t",
        municipality_id,
        actor.user_id,
        &ids[..]
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "INSERT INTO audit_log (municipality_id, user_id, role, action, entity_type, entity_id, child_id, client_addr)
         SELECT $1, $2, $3, 'create', 'transition', t, c, $4
         FROM UNNEST($5::uuid[], $6::uuid[]) AS x(t, c)",
        actor.municipality_id,
        actor.user_id,
        actor.role,
        actor.client_addr.map(sqlx::types::ipnetwork::IpNetwork::from),
        &ids[..],
        &child_ids[..]
    )
    .execute(&mut **tx)
    .await?;
    Ok(rows.len() as u64)
}

/// The transitions behind one count of the sender's status page (`sender_status`): in scope,
/// of the filters given, in `state` as `handover_states` defines it (the count uses the same).
#[allow(clippy::too_many_arguments)]
pub async fn by_state(
    tx: &mut Tx,
    municipality_id: Uuid,
    all: bool,
    institutions: &[Uuid],
    institution: Option<Uuid>,
    year: Option<i32>,
    kind: Option<&str>,
    state: &str,
) -> Result<Vec<ListRow>, sqlx::Error> {
    sqlx::query_as!(
        ListRow,
        r#"SELECT t.id, c.first_name || ' ' || c.last_name AS "child_name!", r.name AS receiving_name,
                  t.kind, t.planned_date, t.status,
                  (SELECT count(*) FROM answers a
                   WHERE a.municipality_id = t.municipality_id AND a.transition_id = t.id
                     AND (a.value <> '' OR cardinality(a."values") > 0)) AS "answered!",
                  (SELECT count(*) FROM template_questions q
                   WHERE q.municipality_id = t.municipality_id AND q.template_id = t.template_id) AS "questions!"
           FROM transitions t
           JOIN children c ON c.municipality_id = t.municipality_id AND c.id = t.child_id
           JOIN institutions r ON r.municipality_id = t.municipality_id AND r.id = t.receiving_institution_id
           WHERE t.municipality_id = $1 AND ($2 OR t.sending_institution_id = ANY($3))
             AND ($4::uuid IS NULL OR t.sending_institution_id = $4)
             AND ($5::int IS NULL OR (t.planned_date >= make_date($5, 1, 1)
                                      AND t.planned_date < make_date($5 + 1, 1, 1)))
             AND ($6::text IS NULL OR t.kind = $6)
             AND $7 = ANY(handover_states(
                 t.status, t.planned_date, current_date,
                 EXISTS (SELECT 1 FROM transition_reads x
                         WHERE x.municipality_id = t.municipality_id AND x.transition_id = t.id),
                 EXISTS (SELECT 1 FROM transition_events e
                         WHERE e.municipality_id = t.municipality_id AND e.transition_id = t.id
                           AND e.to_status = 'received')))
           ORDER BY t.planned_date, c.first_name, c.last_name, t.id
           LIMIT 5000"#,
        municipality_id,
        all,
        institutions,
        institution,
        year,
        kind,
        state
    )
    .fetch_all(&mut **tx)
    .await
}
