use std::process::ExitCode;

use overgang::{config::Config, server, synthetic};

/// Page rendering allocates a lot from both worker threads; glibc's allocator spent a tenth of
/// the app's CPU on the form page in lock contention (perf, Dec 2026).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str =
    "Brug: overgang [serve | migrate | seed-demo | seed-synthetic | purge [--dry-run]]
  serve      start webserveren (standard)
  migrate    opdatér databasens skema og stop
  seed-demo  opret demodata (to kommuner med en pilotklynge hver) og vis demo-logins
  seed-synthetic --municipalities N --children M
             opret syntetiske data i landsskala: N kommuner (koder 9001…), M børn pr. årgang
             i alt, 5 årgange (til belastningstest; standard 98 og 60000)
  purge      slet eller anonymisér persondata efter kommunernes opbevaringsperiode
             (--dry-run: vis hvad der ville blive slettet, uden at ændre noget)

Konfiguration via miljøvariabler: DATABASE_URL, OVERGANG_ADDR, OVERGANG_DATA_DIR,
OVERGANG_SECURE_COOKIES, OVERGANG_SEED_DEMO, OVERGANG_REQUEST_TIMEOUT_SECS,
OVERGANG_DB_CONNECTIONS, RUST_LOG (se README).";

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    server::init_tracing(&config);
    let result = match command.as_str() {
        "serve" => server::serve(config).await,
        "migrate" => server::migrate(config).await,
        "seed-demo" => server::seed_demo(config).await,
        "purge" => {
            let dry_run = match std::env::args().nth(2).as_deref() {
                None => false,
                Some("--dry-run") => true,
                Some(other) => {
                    eprintln!("Ukendt valg til purge: {other}\n\n{USAGE}");
                    return ExitCode::from(2);
                }
            };
            server::purge(config, dry_run).await
        }
        "seed-synthetic" => match synthetic_options(std::env::args().skip(2).collect()) {
            Ok(options) => server::seed_synthetic(config, options).await,
            Err(e) => {
                eprintln!("{e}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("Ukendt kommando: {other}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Fejl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn synthetic_options(args: Vec<String>) -> Result<synthetic::Options, String> {
    let mut options = synthetic::Options {
        municipalities: 98,
        children: 60_000,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| format!("{flag} skal efterfølges af et positivt heltal"))?;
        match flag.as_str() {
            "--municipalities" if (1..=900).contains(&value) => options.municipalities = value,
            "--children" if (1..=1_000_000).contains(&value) => options.children = value,
            _ => return Err(format!("Ukendt eller ugyldig indstilling: {flag} {value}")),
        }
    }
    Ok(options)
}
