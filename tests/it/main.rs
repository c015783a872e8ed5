//! Integration tests: one binary, so the throwaway PostgreSQL and the migrated template are
//! set up once per `cargo test` run and every test gets its own fresh database.

mod auth;
mod common;
mod pages;
mod platform;
mod tenancy;
mod users;
