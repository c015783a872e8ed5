//! Integration tests: one binary, so the throwaway PostgreSQL and the migrated template are
//! set up once per `cargo test` run and every test gets its own fresh database.

mod abuse;
mod access;
mod answers;
mod auth;
mod children;
mod class_overview;
mod common;
mod durability;
mod feedback;
mod forms;
mod import;
mod insights;
mod institutions;
mod page_views;
mod pages;
mod parents;
mod parents_i18n;
mod platform;
mod privacy;
mod receiving;
mod sender_status;
mod settings;
mod tenancy;
mod transfers;
mod transitions;
mod users;
mod wording;
