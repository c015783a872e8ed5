//! The SQL for children, guardians and enrolments.
//!
//! Every query names the municipality explicitly (row-level security is the second line, not
//! the first) and every query that finds a child applies the user's child scope:
//! `$all OR EXISTS (an enrolment at one of $institutions that has not ended)`. Lists and the
//! child's page widen it with open transitions to or from those institutions (view only); edit
//! forms and writes do not. A child outside
//! the scope is indistinguishable from one that does not exist. The CPR number is selected
//! only where the child is edited, and only into the `Cpr` type, which cannot print it.

use serde::Deserialize;
use sqlx::types::Json;
use time::Date;
use uuid::Uuid;

use super::domain::Cpr;
use crate::{auth::ChildScope, db::Tx};

/// Rows per page of the children list.
pub const PAGE_SIZE: i64 = 50;

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// One enrolment of a child as the list shows it ("institution, group"), from the copy kept on
/// the child (`children.placements`, migration 30), which holds ended enrolments too.
#[derive(Debug, Deserialize)]
pub struct Placement {
    pub institution: String,
    pub group_name: Option<String>,
    #[serde(with = "iso_date")]
    pub starts_on: Date,
    #[serde(with = "iso_date::option")]
    pub ends_on: Option<Date>,
}

impl Placement {
    /// Whether it still counts on `today`: it has not ended.
    pub fn current(&self, today: Date) -> bool {
        !self.ends_on.is_some_and(|end| end < today)
    }
}

pub struct ListRow {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Date,
    pub placements: Json<Vec<Placement>>,
}

/// What the list is asked for.
pub struct ListFilter<'a> {
    /// The name search, LIKE-escaped; `None` lists everyone in scope.
    pub pattern: Option<&'a str>,
    pub institution: Option<Uuid>,
    pub page: i64,
}

/// One page of the children in scope, ordered by name, and how many there are in all.
///
/// One statement: the children in scope are gathered from the indexed enrolments and
/// transitions of the user's institutions (not by testing every child of the municipality), the
/// total is a window count over the matches, and the placements are the copy kept on each
/// child (migration 30; the caller drops the ended ones).
pub async fn list(
    tx: &mut Tx,
    municipality_id: Uuid,
    scope: &ChildScope,
    filter: &ListFilter<'_>,
) -> Result<(Vec<ListRow>, i64), sqlx::Error> {
    let (all, ids) = scope.as_params();
    let offset = (filter.page - 1) * PAGE_SIZE;
    // The children of one institution (the filter, or the user's only one) without a search:
    // read in order from `child_scope` (migration 27), which holds exactly the children the
    // general statements below find for that institution.
    let single = filter
        .institution
        .or_else(|| (!all && ids.len() == 1).then(|| ids[0]));
    // Two statements rather than `$q IS NULL OR …`: a prepared statement's generic plan
    // cannot use the trigram index behind such an OR.
    let rows = if let (None, Some(institution)) = (filter.pattern, single) {
        sqlx::query_as!(
            CountedRow,
            r#"WITH page AS (
                   SELECT s.municipality_id, s.child_id, s.last_lower, s.first_lower
                   FROM child_scope s
                   WHERE s.municipality_id = $1 AND s.institution_id = $2
                     AND (s.until IS NULL OR s.until >= current_date)
                   ORDER BY s.last_lower, s.first_lower, s.child_id
                   LIMIT $3 OFFSET $4
               )
               SELECT c.id, c.first_name, c.last_name, c.birth_date,
                      (SELECT count(*) FROM child_scope s
                       WHERE s.municipality_id = $1 AND s.institution_id = $2
                         AND (s.until IS NULL OR s.until >= current_date)) AS "total!",
                      c.placements AS "placements!: Json<Vec<Placement>>"
               FROM page p
               JOIN children c ON c.municipality_id = p.municipality_id AND c.id = p.child_id
               ORDER BY p.last_lower, p.first_lower, p.child_id"#,
            municipality_id,
            institution,
            PAGE_SIZE,
            offset
        )
        .fetch_all(&mut **tx)
        .await?
    } else if let Some(pattern) = filter.pattern {
        sqlx::query_as!(
            CountedRow,
            r#"WITH visible AS (
                   SELECT c.id FROM children c WHERE c.municipality_id = $1 AND $2
                   UNION
                   SELECT e.child_id FROM enrolments e
                   WHERE e.municipality_id = $1 AND e.institution_id = ANY($3)
                     AND (e.ends_on IS NULL OR e.ends_on >= current_date)
                   UNION
                   SELECT t.child_id FROM transitions t
                   WHERE t.municipality_id = $1
                     AND (t.sending_institution_id = ANY($3) OR t.receiving_institution_id = ANY($3))
                     AND t.status NOT IN ('cancelled', 'closed')
               ), page AS (
                   SELECT c.id, c.first_name, c.last_name, c.birth_date, c.placements,
                          count(*) OVER () AS total
                   FROM children c
                   WHERE c.municipality_id = $1 AND c.id IN (SELECT id FROM visible)
                     AND lower(c.first_name || ' ' || c.last_name) LIKE '%' || lower($4) || '%' ESCAPE '\'
                     AND ($5::uuid IS NULL OR c.id IN (
                            SELECT e.child_id FROM enrolments e
                            WHERE e.municipality_id = $1 AND e.institution_id = $5
                              AND (e.ends_on IS NULL OR e.ends_on >= current_date)
                            UNION
                            SELECT t.child_id FROM transitions t
                            WHERE t.municipality_id = $1
                              AND (t.sending_institution_id = $5 OR t.receiving_institution_id = $5)
                              AND t.status NOT IN ('cancelled', 'closed')))
                   ORDER BY lower(c.last_name), lower(c.first_name), c.id
                   LIMIT $6 OFFSET $7
               )
               SELECT p.id, p.first_name, p.last_name, p.birth_date, p.total AS "total!",
                      p.placements AS "placements!: Json<Vec<Placement>>"
               FROM page p
               ORDER BY lower(p.last_name), lower(p.first_name), p.id"#,
            municipality_id,
            all,
            &ids[..],
            pattern,
            filter.institution,
            PAGE_SIZE,
            offset
        )
        .fetch_all(&mut **tx)
        .await?
    } else {
        sqlx::query_as!(
            CountedRow,
            r#"WITH visible AS (
                   SELECT c.id FROM children c WHERE c.municipality_id = $1 AND $2
                   UNION
                   SELECT e.child_id FROM enrolments e
                   WHERE e.municipality_id = $1 AND e.institution_id = ANY($3)
                     AND (e.ends_on IS NULL OR e.ends_on >= current_date)
                   UNION
                   SELECT t.child_id FROM transitions t
                   WHERE t.municipality_id = $1
                     AND (t.sending_institution_id = ANY($3) OR t.receiving_institution_id = ANY($3))
                     AND t.status NOT IN ('cancelled', 'closed')
               ), page AS (
                   SELECT c.id, c.first_name, c.last_name, c.birth_date, c.placements,
                          count(*) OVER () AS total
                   FROM children c
                   WHERE c.municipality_id = $1 AND c.id IN (SELECT id FROM visible)
                     AND ($4::uuid IS NULL OR c.id IN (
                            SELECT e.child_id FROM enrolments e
                            WHERE e.municipality_id = $1 AND e.institution_id = $4
                              AND (e.ends_on IS NULL OR e.ends_on >= current_date)
                            UNION
                            SELECT t.child_id FROM transitions t
                            WHERE t.municipality_id = $1
                              AND (t.sending_institution_id = $4 OR t.receiving_institution_id = $4)
                              AND t.status NOT IN ('cancelled', 'closed')))
                   ORDER BY lower(c.last_name), lower(c.first_name), c.id
                   LIMIT $5 OFFSET $6
               )
               SELECT p.id, p.first_name, p.last_name, p.birth_date, p.total AS "total!",
                      p.placements AS "placements!: Json<Vec<Placement>>"
               FROM page p
               ORDER BY lower(p.last_name), lower(p.first_name), p.id"#,
            municipality_id,
            all,
            &ids[..],
            filter.institution,
            PAGE_SIZE,
            offset
        )
        .fetch_all(&mut **tx)
        .await?
    };
    let total = match rows.first() {
        Some(row) => row.total,
        // Past the last page the window has no row to carry the count.
        None if filter.page > 1 => {
            return Box::pin(list(
                tx,
                municipality_id,
                scope,
                &ListFilter { page: 1, ..*filter },
            ))
            .await
            .map(|(_, total)| (Vec::new(), total));
        }
        None => 0,
    };
    Ok((rows.into_iter().map(ListRow::from).collect(), total))
}

struct CountedRow {
    id: Uuid,
    first_name: String,
    last_name: String,
    birth_date: Date,
    total: i64,
    placements: Json<Vec<Placement>>,
}

impl From<CountedRow> for ListRow {
    fn from(r: CountedRow) -> Self {
        ListRow {
            id: r.id,
            first_name: r.first_name,
            last_name: r.last_name,
            birth_date: r.birth_date,
            placements: r.placements,
        }
    }
}

/// A child's own data, as shown on its page and in the edit form.
pub struct Child {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Date,
    pub cpr: Option<Cpr>,
}

/// How far the user's scope reaches for this lookup.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Enrolled at the user's institutions: the children they may change.
    Edit,
    /// Also children in an open transition to or from those institutions: the receiving school
    /// may read about a child it is about to receive, not change what the sender keeps.
    View,
}

/// The child with `id` if it is within `reach` of the user's scope (else `None`, answered as
/// 404).
pub async fn find_child(
    tx: &mut Tx,
    municipality_id: Uuid,
    scope: &ChildScope,
    id: Uuid,
    reach: Reach,
) -> Result<Option<Child>, sqlx::Error> {
    let (all, ids) = scope.as_params();
    sqlx::query_as!(
        Child,
        r#"SELECT c.id, c.first_name, c.last_name, c.birth_date, c.cpr AS "cpr: Cpr"
           FROM children c
           WHERE c.municipality_id = $1 AND c.id = $4
             AND ($2 OR EXISTS (SELECT 1 FROM enrolments e
                                WHERE e.municipality_id = c.municipality_id AND e.child_id = c.id
                                  AND e.institution_id = ANY($3)
                                  AND (e.ends_on IS NULL OR e.ends_on >= current_date))
                 OR ($5 AND EXISTS (SELECT 1 FROM transitions t
                                    WHERE t.municipality_id = c.municipality_id AND t.child_id = c.id
                                      AND (t.sending_institution_id = ANY($3) OR t.receiving_institution_id = ANY($3))
                                      AND t.status NOT IN ('cancelled', 'closed'))))"#,
        municipality_id,
        all,
        &ids[..],
        id,
        reach == Reach::View
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Like `find_child`, and locks the child's row for the rest of the transaction, so changes to
/// one child (and its guardians and enrolments) happen one after the other.
pub async fn lock_child(
    tx: &mut Tx,
    municipality_id: Uuid,
    scope: &ChildScope,
    id: Uuid,
) -> Result<Option<Child>, sqlx::Error> {
    let (all, ids) = scope.as_params();
    sqlx::query_as!(
        Child,
        r#"SELECT c.id, c.first_name, c.last_name, c.birth_date, c.cpr AS "cpr: Cpr"
           FROM children c
           WHERE c.municipality_id = $1 AND c.id = $4
             AND ($2 OR EXISTS (SELECT 1 FROM enrolments e
                                WHERE e.municipality_id = c.municipality_id AND e.child_id = c.id
                                  AND e.institution_id = ANY($3)
                                  AND (e.ends_on IS NULL OR e.ends_on >= current_date)))
           FOR UPDATE OF c"#,
        municipality_id,
        all,
        &ids[..],
        id
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Whether the child is (still) in the edit scope, after a change to its enrolments.
pub async fn in_scope(
    tx: &mut Tx,
    municipality_id: Uuid,
    scope: &ChildScope,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    Ok(find_child(tx, municipality_id, scope, id, Reach::Edit)
        .await?
        .is_some())
}

pub struct NewChild<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub birth_date: Date,
    pub cpr: Option<&'a Cpr>,
}

/// Inserts a child; a duplicate CPR number comes back as the `children_cpr` constraint error.
pub async fn insert_child(
    tx: &mut Tx,
    municipality_id: Uuid,
    child: &NewChild<'_>,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO children (municipality_id, first_name, last_name, birth_date, cpr)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        municipality_id,
        child.first_name,
        child.last_name,
        child.birth_date,
        child.cpr as Option<&Cpr>
    )
    .fetch_one(&mut **tx)
    .await
}

pub async fn update_child(
    tx: &mut Tx,
    municipality_id: Uuid,
    id: Uuid,
    child: &NewChild<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE children SET first_name = $3, last_name = $4, birth_date = $5, cpr = $6,
                             updated_at = now()
         WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id,
        child.first_name,
        child.last_name,
        child.birth_date,
        child.cpr as Option<&Cpr>
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the child; guardians and enrolments go with it (ON DELETE CASCADE).
pub async fn delete_child(tx: &mut Tx, municipality_id: Uuid, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM children WHERE municipality_id = $1 AND id = $2",
        municipality_id,
        id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct Guardian {
    pub id: Uuid,
    pub name: String,
    pub relation: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub has_custody: bool,
}

pub async fn guardians(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
) -> Result<Vec<Guardian>, sqlx::Error> {
    sqlx::query_as!(
        Guardian,
        "SELECT id, name, relation, email, phone, has_custody FROM guardians
         WHERE municipality_id = $1 AND child_id = $2
         ORDER BY created_at, id",
        municipality_id,
        child_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// The guardian `id` of the child `child_id` (a guardian of another child is not found).
pub async fn find_guardian(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
    id: Uuid,
) -> Result<Option<Guardian>, sqlx::Error> {
    sqlx::query_as!(
        Guardian,
        "SELECT id, name, relation, email, phone, has_custody FROM guardians
         WHERE municipality_id = $1 AND child_id = $2 AND id = $3",
        municipality_id,
        child_id,
        id
    )
    .fetch_optional(&mut **tx)
    .await
}

pub struct GuardianData<'a> {
    pub name: &'a str,
    pub relation: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub has_custody: bool,
}

pub async fn insert_guardian(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
    g: &GuardianData<'_>,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO guardians (municipality_id, child_id, name, relation, email, phone, has_custody)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        municipality_id,
        child_id,
        g.name,
        g.relation,
        g.email,
        g.phone,
        g.has_custody
    )
    .fetch_one(&mut **tx)
    .await
}

pub async fn update_guardian(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
    id: Uuid,
    g: &GuardianData<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE guardians SET name = $4, relation = $5, email = $6, phone = $7, has_custody = $8
         WHERE municipality_id = $1 AND child_id = $2 AND id = $3",
        municipality_id,
        child_id,
        id,
        g.name,
        g.relation,
        g.email,
        g.phone,
        g.has_custody
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_guardian(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
    id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM guardians WHERE municipality_id = $1 AND child_id = $2 AND id = $3",
        municipality_id,
        child_id,
        id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct Enrolment {
    pub id: Uuid,
    pub institution_id: Uuid,
    pub institution: String,
    pub group_name: Option<String>,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
}

/// The institutions whose records a deletion of the child would remove: those of its
/// enrolments, both ends of its transitions (a received handover, its feedback, the class
/// placement and meeting go with the child) and the receivers of handovers from elsewhere.
pub async fn institutions_of(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT institution_id AS "id!" FROM enrolments
           WHERE municipality_id = $1 AND child_id = $2
           UNION
           SELECT unnest(ARRAY[sending_institution_id, receiving_institution_id]) FROM transitions
           WHERE municipality_id = $1 AND child_id = $2
           UNION
           SELECT receiving_institution_id FROM incoming_handovers
           WHERE municipality_id = $1 AND child_id = $2"#,
        municipality_id,
        child_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// The sending institutions of the child's handovers whose consent still decides what their
/// receivers read (not cancelled, not purged): custody decides whose consent counts, so only
/// the sending side (or an administrator) may take it away from a guardian.
pub async fn consent_senders(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT DISTINCT sending_institution_id FROM transitions
         WHERE municipality_id = $1 AND child_id = $2 AND status <> 'cancelled'
           AND purged_at IS NULL",
        municipality_id,
        child_id
    )
    .fetch_all(&mut **tx)
    .await
}

pub async fn enrolments(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
) -> Result<Vec<Enrolment>, sqlx::Error> {
    sqlx::query_as!(
        Enrolment,
        "SELECT e.id, e.institution_id, i.name AS institution, e.group_name, e.starts_on, e.ends_on
         FROM enrolments e
         JOIN institutions i ON i.municipality_id = e.municipality_id AND i.id = e.institution_id
         WHERE e.municipality_id = $1 AND e.child_id = $2
         ORDER BY e.starts_on DESC, i.name",
        municipality_id,
        child_id
    )
    .fetch_all(&mut **tx)
    .await
}

/// The enrolment `id` of the child `child_id` (one of another child is not found).
pub async fn find_enrolment(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
    id: Uuid,
) -> Result<Option<Enrolment>, sqlx::Error> {
    sqlx::query_as!(
        Enrolment,
        "SELECT e.id, e.institution_id, i.name AS institution, e.group_name, e.starts_on, e.ends_on
         FROM enrolments e
         JOIN institutions i ON i.municipality_id = e.municipality_id AND i.id = e.institution_id
         WHERE e.municipality_id = $1 AND e.child_id = $2 AND e.id = $3",
        municipality_id,
        child_id,
        id
    )
    .fetch_optional(&mut **tx)
    .await
}

pub struct NewEnrolment<'a> {
    pub institution_id: Uuid,
    pub group_name: Option<&'a str>,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
}

pub async fn insert_enrolment(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
    e: &NewEnrolment<'_>,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO enrolments (municipality_id, child_id, institution_id, group_name, starts_on, ends_on)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        municipality_id,
        child_id,
        e.institution_id,
        e.group_name,
        e.starts_on,
        e.ends_on
    )
    .fetch_one(&mut **tx)
    .await
}

pub async fn end_enrolment(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
    id: Uuid,
    ends_on: Date,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE enrolments SET ends_on = $4
         WHERE municipality_id = $1 AND child_id = $2 AND id = $3",
        municipality_id,
        child_id,
        id,
        ends_on
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_enrolment(
    tx: &mut Tx,
    municipality_id: Uuid,
    child_id: Uuid,
    id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM enrolments WHERE municipality_id = $1 AND child_id = $2 AND id = $3",
        municipality_id,
        child_id,
        id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An institution a child may be enrolled at by this user.
pub struct InstitutionChoice {
    pub id: Uuid,
    pub name: String,
}

/// The active institutions where the user may enrol children: all of the municipality's for
/// administrators, the user's own for leaders and staff (so the child stays in their scope).
pub async fn institution_choices(
    tx: &mut Tx,
    municipality_id: Uuid,
    scope: &ChildScope,
) -> Result<Vec<InstitutionChoice>, sqlx::Error> {
    let (all, ids) = scope.as_params();
    sqlx::query_as!(
        InstitutionChoice,
        "SELECT id, name FROM institutions
         WHERE municipality_id = $1 AND is_active AND ($2 OR id = ANY($3))
         ORDER BY name, id",
        municipality_id,
        all,
        &ids[..]
    )
    .fetch_all(&mut **tx)
    .await
}

/// Today's date as the database sees it: the same `current_date` the scope checks use.
pub async fn today(tx: &mut Tx) -> Result<Date, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT current_date AS "today!""#)
        .fetch_one(&mut **tx)
        .await
}
