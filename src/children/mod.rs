//! Children, their guardians and enrolments.

pub mod domain;
pub mod forms;
