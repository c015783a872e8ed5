// Rebuild when a migration is added: `sqlx::migrate!` embeds the directory's files at compile
// time, and cargo does not otherwise look at it (what `sqlx migrate build-script` writes).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
