use reqwest::StatusCode;

use crate::common::{csrf_from, form_action, location, spawn_app};

#[tokio::test]
async fn a_clean_institutions_file_is_previewed_then_imported_in_one_go() {
    let app = spawn_app().await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let (status, html) = admin.get_text("/import").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("enctype=\"multipart/form-data\""));
    let example = admin.get("/import/institutions/eksempel.csv").await;
    assert_eq!(example.status(), StatusCode::OK);
    let example = example.bytes().await.unwrap().to_vec();

    let r = admin
        .upload("/import/institutions", "eksempel.csv", example)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Filen er fejlfri") && html.contains("2 institutioner er klar"));
    assert!(html.contains("Klyngen »Nordklyngen« oprettes."));
    assert_eq!(
        app.count("SELECT count(*) FROM institutions WHERE name = 'Nordskolen'")
            .await,
        0,
        "nothing before confirm"
    );

    let action = form_action(&html, "/import/batch/").expect("confirm form");
    let r = admin
        .post_form(&action, &[("_csrf", &csrf_from(&html))])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/import");
    let (_, html) = admin.get_text("/import").await;
    assert!(html.contains("2 institutioner er importeret."));
    assert_eq!(
        app.count("SELECT count(*) FROM institutions i JOIN clusters c ON c.id = i.cluster_id WHERE c.name = 'Nordklyngen'").await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM institutions WHERE name = 'Børnehaven Kastanjen' AND is_pilot"
        )
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM imports WHERE content IS NOT NULL")
            .await,
        0,
        "the file is not kept"
    );

    // Confirming twice imports nothing more.
    let r = admin
        .post_form(&action, &[("_csrf", &admin.csrf("/import").await)])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT count(*) FROM institutions WHERE name = 'Nordskolen'")
            .await,
        1
    );
}

#[tokio::test]
async fn every_problem_is_listed_by_line_and_column_and_nothing_is_imported() {
    let app = spawn_app().await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let csv = "navn;type;institutionsnummer;pilot\n\
               Ny børnehave;børnehave;;ja\n\
               Bakkeskolen;skole;;nej\n\
               ;ufo;12 34;måske\n\
               Ny børnehave;SFO;;\n";
    let r = admin
        .upload("/import/institutions", "fejl.csv", csv.as_bytes().to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    for expected in [
        "<td>3</td><td><code>navn</code></td><td>Der findes allerede en institution, der hedder »Bakkeskolen«.</td>",
        "<td>4</td><td><code>navn</code></td>",
        "<td>4</td><td><code>type</code></td><td>»ufo« er ikke en kendt institutionstype.</td>",
        "<td>4</td><td><code>institutionsnummer</code></td>",
        "<td>4</td><td><code>pilot</code></td><td>Skriv ja eller nej.</td>",
        "<td>5</td><td><code>navn</code></td>",
    ] {
        assert!(html.contains(expected), "missing {expected}");
    }
    assert!(
        !html.contains("/import/batch/"),
        "no confirm button for a file with errors"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM institutions WHERE name = 'Ny børnehave'")
            .await,
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM imports").await, 0);

    let r = admin
        .upload(
            "/import/institutions",
            "latin1.csv",
            b"navn;type\nB\xf8rnehaven;b\xf8rnehave\n".to_vec(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("UTF-8"));
    let r = admin
        .upload("/import/institutions", "tom.csv", b"type\nskole\n".to_vec())
        .await;
    assert!(r.text().await.unwrap().contains("Kolonnen »navn« mangler"));
    let r = admin
        .upload("/import/institutions", "tom.csv", Vec::new())
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn imports_are_for_administrators_of_their_own_municipality() {
    let app = spawn_app().await;
    let csv = b"navn;type\nSnyd;skole\n".to_vec();
    for email in [
        "leder@vejle.overgang.test",
        "analytiker@vejle.overgang.test",
    ] {
        let c = app.login(email).await;
        assert_eq!(c.get("/import").await.status(), StatusCode::FORBIDDEN);
        let token = c.csrf("/").await;
        let form = reqwest::multipart::Form::new().text("_csrf", token).part(
            "file",
            reqwest::multipart::Part::bytes(csv.clone()).file_name("x.csv"),
        );
        let r = c
            .http
            .post(c.url("/import/institutions"))
            .header("origin", &c.base)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{email}");
    }
    // Without the CSRF field the upload is refused before it is read.
    let admin = app.login("admin@vejle.overgang.test").await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.clone()).file_name("x.csv"),
    );
    let r = admin
        .http
        .post(admin.url("/import/institutions"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A Stevns administrator cannot confirm a Vejle batch.
    let r = admin.upload("/import/institutions", "x.csv", csv).await;
    let html = r.text().await.unwrap();
    assert!(html.contains("1 institution er klar til import"), "{html}");
    assert!(html.contains("Importér 1 institution</button>"));
    let action = form_action(&html, "/import/batch/").unwrap();
    let stevns = app.login("admin@stevns.overgang.test").await;
    let r = stevns
        .post_form(&action, &[("_csrf", &stevns.csrf("/import").await)])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT count(*) FROM institutions WHERE name = 'Snyd'")
            .await,
        0
    );
    assert_eq!(
        admin.get("/import/unknown/eksempel.csv").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn children_with_guardians_and_enrolments_are_imported_and_cpr_numbers_stay_hidden() {
    let app = spawn_app().await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let example = admin
        .get("/import/children/eksempel.csv")
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let r = admin.upload("/import/children", "børn.csv", example).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("2 børn er klar") && html.contains("i alt 3 forældre"),
        "{html}"
    );
    assert!(
        !html.contains("020521"),
        "the preview never shows a CPR number"
    );
    let action = form_action(&html, "/import/batch/").unwrap();
    let r = admin
        .post_form(&action, &[("_csrf", &csrf_from(&html))])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT count(*) FROM children").await, 2);
    assert_eq!(app.count("SELECT count(*) FROM guardians").await, 3);
    assert_eq!(
        app.count("SELECT count(*) FROM children WHERE first_name = 'Noah' AND birth_date = '2021-05-02' AND cpr = '020521-5123'").await,
        1,
        "the birth date comes from the CPR number"
    );
    assert_eq!(app.count("SELECT count(*) FROM audit_log WHERE action = 'import_create' AND child_id IS NOT NULL").await, 2);

    // The pedagogue at Solsikken now sees them; the teacher at the school does not.
    let staff = app.login("paedagog@vejle.overgang.test").await;
    let (_, html) = staff.get_text("/children").await;
    assert!(html.contains("Alma") && html.contains("Noah") && !html.contains("020521"));
    let teacher = app.login("laerer@vejle.overgang.test").await;
    let (_, html) = teacher.get_text("/children").await;
    assert!(!html.contains("Alma"));

    // Importing the same file again: every CPR is now a duplicate.
    let example = admin
        .get("/import/children/eksempel.csv")
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let r = admin.upload("/import/children", "børn.csv", example).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("<td>3</td><td><code>cpr</code></td>"));
}

#[tokio::test]
async fn a_children_file_with_problems_lists_them_all_and_imports_nothing() {
    let app = spawn_app().await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let csv = "fornavn;efternavn;foedselsdato;cpr;institution;startdato;slutdato;forælder1_navn;forælder1_email;forælder1_forældremyndighed\n\
               Ok;Barn;01-02-2020;;Børnehaven Solsikken;01-08-2023;;Mor;mor@example.dk;ja\n\
               ;Uden fornavn;01-02-2020;;Børnehaven Solsikken;01-08-2023;;;;\n\
               Forkert;Cpr;01-02-2020;320120-1234;Børnehaven Solsikken;01-08-2023;;;;\n\
               Skæv;Dato;01-02-2020;020220-5555;Børnehaven Solsikken;01-08-2023;;;;\n\
               Dobbelt;Cpr;;020220-5555;Børnehaven Solsikken;01-08-2023;;;;\n\
               Ukendt;Sted;01-02-2020;;Strandskolen;01-08-2023;;;;\n\
               Baglæns;Datoer;01-02-2020;;Børnehaven Solsikken;01-08-2023;01-01-2023;;;\n\
               Dårlig;Forælder;01-02-2020;;Børnehaven Solsikken;01-08-2023;;;ikke-en-mail;måske\n\
               Fremtid;Barn;01-02-2099;;Børnehaven Solsikken;i morgen;;;;\n\
               Gammel;Cpr;;010185-1234;Børnehaven Solsikken;01-08-2023;;;;\n\
               Langt;Frem;01-02-2020;;Børnehaven Solsikken;01-08-2099;31-12-9999;;;\n\
               Før;Født;01-02-2020;;Børnehaven Solsikken;01-08-2019;;;;\n";
    let r = admin
        .upload("/import/children", "fejl.csv", csv.as_bytes().to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    for (line, column) in [
        (3, "fornavn"),
        (4, "cpr"),
        (5, "cpr"),
        (6, "cpr"),
        (7, "institution"),
        (8, "slutdato"),
        (9, "forælder1_navn"),
        (9, "forælder1_email"),
        (9, "forælder1_forældremyndighed"),
        (10, "fødselsdato"),
        (10, "startdato"),
        // the CPR number's date before 1990, as a typed one would be
        (11, "cpr"),
        // the enrolment form's window: from the birth date to three years ahead
        (12, "startdato"),
        (12, "slutdato"),
        (13, "startdato"),
    ] {
        assert!(
            html.contains(&format!("<td>{line}</td><td><code>{column}</code></td>")),
            "missing line {line} {column}"
        );
    }
    assert!(!html.contains("<td>2</td>"), "the good row has no problem");
    assert!(
        !html.contains("020220-5555") && !html.contains("320120"),
        "CPR numbers are never echoed"
    );
    assert_eq!(app.count("SELECT count(*) FROM children").await, 0);

    // A NUL, which PostgreSQL cannot store, in a column the import does not even read.
    for path in ["/import/children", "/import/institutions"] {
        let r = admin
            .upload(path, "nul.csv", b"navn;type;x\nSol;skole;a\0b\n".to_vec())
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("Linje 2 indeholder et kontroltegn"));
    }
    assert_eq!(app.count("SELECT count(*) FROM imports").await, 0);
    // Each upload is audited (its rows and problems, never its content), kept or not; the two
    // with a NUL could not be read at all.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_log WHERE action = 'upload' AND entity_type = 'import'
               AND entity_id IS NULL AND details->>'kept' = 'false'"
        )
        .await,
        3
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_log WHERE action = 'upload' AND details @> '{\"unreadable\": true}'"
        )
        .await,
        2
    );
    assert_eq!(
        app.count(
            r#"SELECT count(*) FROM audit_log WHERE action = 'upload'
               AND details @> '{"kind": "children", "rows": 1, "problems": 16, "unreadable": false}'"#
        )
        .await,
        1
    );
}

/// The CSRF check reads only the beginning of an upload, where our forms put the token: a post
/// with a wrong token, or none, is refused before the rest of its body arrives, and one with a
/// visitor's own token reaches the handler, which sends them to log in without reading it. Before,
/// the check buffered up to 32 MB of every multipart post, signed in or not: 64 anonymous
/// uploads of 31 MB at once took the server from 52 to 1,863 MiB.
#[tokio::test]
async fn an_upload_is_refused_before_its_body_arrives() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app().await;
    let visitor = "A".repeat(43);
    let file = "Content-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n";
    let token = |t: &str| {
        format!("Content-Disposition: form-data; name=\"_csrf\"\r\n\r\n{t}\r\n--XX\r\n{file}")
    };
    for (case, parts, expected) in [
        ("a wrong token", token(&"B".repeat(43)), "403"),
        ("no token", file.to_string(), "403"),
        ("the visitor's own token", token(&visitor), "303"),
    ] {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let head = format!(
            "POST /import/children HTTP/1.1\r\nHost: {}\r\nCookie: ov_csrf={visitor}\r\n\
             Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: 33000000\r\n\r\n\
             --XX\r\n{parts}",
            app.addr
        );
        s.write_all(head.as_bytes()).await.unwrap();
        // 100 KB of the 33 MB announced, and then nothing.
        s.write_all(&[b'a'; 100 * 1024]).await.unwrap();
        let mut answer = vec![0; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("{case}: no answer while the body is still to come"))
            .unwrap();
        let line = String::from_utf8_lossy(&answer[..n]).to_string();
        assert!(
            line.starts_with(&format!("HTTP/1.1 {expected}")),
            "{case}: {line}"
        );
    }
}

/// A file far longer than the part the CSRF check reads arrives whole at the import.
#[tokio::test]
async fn a_large_file_streams_on_to_the_import() {
    let app = spawn_app().await;
    let admin = app.login("admin@vejle.overgang.test").await;
    let mut csv = String::from("navn;type\n");
    for i in 0..40_000 {
        csv.push_str(&format!("Streamhuset nummer {i:05};boernehave\n"));
    }
    assert!(csv.len() > 1_000_000);
    let r = admin
        .upload("/import/institutions", "stor.csv", csv.into_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("40000 institutioner er klar"), "{html}");
}
