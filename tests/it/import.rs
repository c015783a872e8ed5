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
               Fremtid;Barn;01-02-2099;;Børnehaven Solsikken;i morgen;;;;\n";
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
}
