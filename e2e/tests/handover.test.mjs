// The handover journey in a browser: a pedagogue creates a child and its transition to the
// school, fills the form and sends it; the school's teacher finds it in the inbox, reads it,
// acknowledges it, records the handover meeting with an agreement and prints it (also as a PDF);
// the pedagogue sees the read receipt and the acknowledgement. Every page passes axe.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ARTIFACTS_DIR,
  DEMO_PASSWORD,
  PHONE,
  assertNoPageErrors,
  checkA11y,
  launch,
  login,
  pathOf,
  shot,
  withPage,
} from '../lib.mjs';

const TIMEOUT = { timeout: 180_000 };
const PAEDAGOG = 'paedagog@vejle.overgang.test';
const LAERER = 'laerer@vejle.overgang.test';

const letters = () =>
  Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
const SURNAME = `Overlevering${letters()}`;
const CHILD = `Bo ${SURNAME}`;
const STRENGTH = `Bo bygger gerne store huse af klodser sammen med andre (${letters()}).`;

let browser;
let transitionPath;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Answers every question of the form: text in text areas, the first choice elsewhere. */
async function fillForm(page) {
  for (const area of await page.locator('textarea').all()) {
    await area.fill(STRENGTH);
  }
  for (const date of await page.locator('input[type="date"]').all()) {
    await date.fill('2027-06-01');
  }
  const radioNames = await page
    .locator('input[type="radio"]')
    .evaluateAll((els) => [...new Set(els.map((e) => e.name))]);
  for (const name of radioNames) {
    await page.locator(`input[type="radio"][name="${name}"]`).first().check();
  }
  for (const select of await page.locator('form[data-autosave] select').all()) {
    await select.selectOption({ index: 1 });
  }
  const boxNames = await page
    .locator('input[type="checkbox"]')
    .evaluateAll((els) => [...new Set(els.map((e) => e.name))]);
  for (const name of boxNames) {
    await page.locator(`input[type="checkbox"][name="${name}"]`).first().check();
  }
}

describe('handover', () => {
  test('a pedagogue writes and sends a handover', TIMEOUT, async () => {
    await withPage(browser, 'handover-sender', {}, async (page) => {
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      await page.goto('/children/new');
      await page.getByLabel('Fornavn').fill('Bo');
      await page.getByLabel('Efternavn').fill(SURNAME);
      await page.getByLabel('Fødselsdato').fill('2021-04-04');
      await page.getByLabel('Institution').selectOption({ label: 'Børnehaven Solsikken' });
      await page.getByRole('button', { name: 'Opret barn' }).click();
      await page.locator('h1', { hasText: CHILD }).waitFor();
      const childId = pathOf(page).split('/').pop();

      await page.goto(`/transitions/new?child=${childId}`);
      await page.getByLabel('Modtagende institution').selectOption({ label: 'Bakkeskolen' });
      await page.getByLabel('Overgangstype').selectOption({ label: 'Børnehave → skole' });
      await page.getByLabel('Planlagt dato').fill('2027-08-01');
      await page.getByLabel('Ansvarlig medarbejder').selectOption({ index: 1 });
      await checkA11y(page, 'transition-new');
      await page.getByRole('button', { name: /Opret/ }).click();
      await page.getByText('Overgangen er oprettet.').waitFor();
      transitionPath = pathOf(page);
      assert.match(transitionPath, /^\/transitions\/[0-9a-f-]{36}$/);
      await checkA11y(page, 'transition-draft');

      await page.getByRole('link', { name: 'Overleveringsskemaet' }).click();
      const formPath = pathOf(page);
      // Autosave: a change is saved without pressing anything, and survives a reload.
      const first = page.locator('textarea').first();
      await first.fill('Autogemt tekst');
      await page.getByText(/^Gemt kl\. \d\d:\d\d$/).waitFor({ timeout: 15_000 });
      await page.reload();
      assert.equal(await page.locator('textarea').first().inputValue(), 'Autogemt tekst');

      // Two people in the same form: the one who saves second is told, never overwrites.
      const other = await page.context().newPage();
      await other.goto(formPath);
      await page.locator('textarea').first().fill('Første person skriver');
      await page.getByText(/^Gemt kl\./).waitFor({ timeout: 15_000 });
      await other.locator('textarea').first().fill('Anden person skriver');
      await other.getByText('Ikke gemt: en anden har ændret formularen – genindlæs siden').waitFor({ timeout: 15_000 });
      await shot(other, 'handover-form-autosave-conflict');
      await other.close();
      await page.reload();
      assert.equal(await page.locator('textarea').first().inputValue(), 'Første person skriver');

      await fillForm(page);
      await page.getByRole('button', { name: 'Gem kladde' }).click();
      await page.locator('#form-progress').waitFor();
      assert.match(await page.locator('#form-progress').textContent(), /^(\d+) af \1 spørgsmål besvaret/);
      await shot(page, 'handover-form-filled');
      await checkA11y(page, 'handover-form-filled');

      await page.goto(transitionPath);
      await page.getByRole('button', { name: 'Markér som klar' }).click();
      await page.getByText('Status er nu «Klar til afsendelse»').waitFor();
      await page.getByRole('button', { name: 'Send til modtager' }).click();
      await page.getByText('Status er nu «Sendt»').waitFor();
      assert.ok(await page.getByText('Ingen hos modtageren har åbnet overleveringen endnu.').isVisible());
      await checkA11y(page, 'transition-sent-sender');
      assertNoPageErrors(page);
    });
  });

  test('the teacher reads, acknowledges, records the meeting and prints', TIMEOUT, async () => {
    assert.ok(transitionPath, 'the first test made the handover');
    await withPage(browser, 'handover-receiver', {}, async (page) => {
      await login(page, LAERER, DEMO_PASSWORD);
      await page.getByRole('link', { name: 'Indbakke' }).first().click();
      assert.equal(pathOf(page), '/inbox');
      const row = page.locator('tr', { hasText: CHILD });
      assert.match(await row.textContent(), /Ulæst/);
      await shot(page, 'inbox');
      await checkA11y(page, 'inbox');

      await row.getByRole('link', { name: CHILD }).click();
      assert.equal(pathOf(page), transitionPath);
      assert.ok(await page.getByText(STRENGTH).first().isVisible(), 'the receiver reads the answers');
      await shot(page, 'handover-receiver');
      await checkA11y(page, 'handover-receiver');

      await page.getByLabel('Besked til afsenderen').fill('Tak, vi glæder os til at møde Bo.');
      await page.getByRole('button', { name: 'Kvittér for modtagelsen' }).click();
      await page.getByText('Afsenderen kan nu se, at I har modtaget overleveringen.').waitFor();

      await page.getByRole('link', { name: 'Registrér mødet' }).click();
      await checkA11y(page, 'meeting-new');
      await page.getByRole('button', { name: 'Gem mødet' }).click();
      await page.locator('.alert-error').waitFor();
      await checkA11y(page, 'meeting-errors');
      await page.getByLabel('Dato').fill('2027-06-10');
      await page.getByLabel('Klokkeslæt').fill('14:30');
      await page.getByLabel('Sted').fill('Bakkeskolen, lokale 3');
      await page.getByLabel('Deltagere').fill('Bos forældre\nSofie Jensen, pædagog\nPeter Nielsen, lærer');
      await page.getByLabel('Noter fra mødet').fill('Bo glæder sig til at lære bogstaver.');
      await page.getByRole('button', { name: 'Gem mødet' }).click();
      await page.getByText('Mødet er gemt.').waitFor();
      await page.getByLabel('Aftale').fill('Lærer og forældre mødes efter tre uger.');
      await page.getByLabel('Hvem følger op').fill('Peter Nielsen');
      await page.getByLabel('Opfølgningsdato').fill('2027-09-01');
      await page.getByRole('button', { name: 'Tilføj aftalen' }).click();
      await page.getByText('Aftalen er tilføjet.').waitFor();
      await shot(page, 'meeting');
      await checkA11y(page, 'meeting');

      await page.goto('/inbox');
      assert.ok(await page.getByText('Lærer og forældre mødes efter tre uger.').isVisible());

      await page.goto(`${transitionPath}/print`);
      assert.ok(await page.getByText('Modtagerens eksemplar').isVisible());
      await checkA11y(page, 'print');
      await page.emulateMedia({ media: 'print' });
      assert.equal(await page.locator('header.header').isVisible(), false, 'no header on paper');
      await shot(page, 'print');
      await mkdir(ARTIFACTS_DIR, { recursive: true });
      await page.pdf({ path: path.join(ARTIFACTS_DIR, 'handover.pdf'), format: 'A4' });
      assertNoPageErrors(page);
    });
  });

  test('the inbox works on a phone', TIMEOUT, async () => {
    await withPage(browser, 'inbox-phone', PHONE, async (page) => {
      await login(page, LAERER, DEMO_PASSWORD);
      await page.goto('/inbox');
      await shot(page, 'inbox-phone');
      await checkA11y(page, 'inbox-phone');
    });
  });

  test('the pedagogue sees the read receipt and the acknowledgement', TIMEOUT, async () => {
    assert.ok(transitionPath, 'the first test made the handover');
    await withPage(browser, 'handover-sender-after', {}, async (page) => {
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      await page.goto(transitionPath);
      assert.ok(await page.getByText(/Kvitteret for modtagelsen .* af Peter Nielsen/).isVisible());
      assert.ok(await page.getByRole('cell', { name: 'Peter Nielsen' }).first().isVisible());
      assert.ok(await page.getByText('Bakkeskolen, lokale 3').isVisible());
      await shot(page, 'transition-received-sender');
      await checkA11y(page, 'transition-received-sender');
    });
  });
});
