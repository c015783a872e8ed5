// A cohort in a browser: the kindergarten's leader enrols two children born in the same year,
// previews and creates the year's transitions to the SFO in one go, then hands the relay for one
// of them to a pedagogue, who finds it on the worklist. Every page passes axe.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_PASSWORD, assertNoPageErrors, checkA11y, launch, login, pathOf, shot, withPage } from '../lib.mjs';

const TIMEOUT = { timeout: 120_000 };
const LEDER = 'leder@vejle.overgang.test';
const PAEDAGOG = 'paedagog@vejle.overgang.test';

const letters = () =>
  Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
const SURNAME = `Aargang${letters()}`;
// No other journey enrols children born in this year.
const YEAR = '2019';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function enrol(page, first) {
  await page.goto('/children/new');
  await page.getByLabel('Fornavn').fill(first);
  await page.getByLabel('Efternavn').fill(SURNAME);
  await page.getByLabel('Fødselsdato').fill(`${YEAR}-05-0${first.length}`);
  await page.getByLabel('Institution').selectOption({ label: 'Børnehaven Solsikken' });
  await page.getByRole('button', { name: 'Opret barn' }).click();
  await page.locator('h1', { hasText: `${first} ${SURNAME}` }).waitFor();
}

describe('cohort', () => {
  test('a leader creates a year of transitions and hands one to a pedagogue', TIMEOUT, async () => {
    await withPage(browser, 'cohort-leader', {}, async (page) => {
      await login(page, LEDER, DEMO_PASSWORD);
      await enrol(page, 'Ea');
      await enrol(page, 'Oskar');

      await page.goto('/transitions');
      await page.getByRole('link', { name: /årgang/i }).first().click();
      assert.equal(pathOf(page), '/transitions/cohort');
      await checkA11y(page, 'cohort-form');
      await page.getByLabel('Fødselsår').fill(YEAR);
      await page.getByLabel('Børnehaven Solsikken').check();
      await page.getByLabel('Modtagende institution').selectOption({ label: 'SFO Bakkely' });
      await page.getByLabel('Overgangstype').selectOption({ label: 'Børnehave → SFO' });
      await page.getByLabel('Planlagt dato').fill('2026-04-01');
      await page.getByRole('button', { name: 'Vis hvor mange børn' }).click();
      const preview = page.locator('.alert-info');
      await preview.waitFor();
      const count = Number((await preview.textContent()).trim().match(/^(\d+)/)[1]);
      assert.ok(count >= 2, `both children are in the cohort (${count})`);
      await shot(page, 'cohort-preview');
      await checkA11y(page, 'cohort-preview');

      await page.getByRole('button', { name: `Opret ${count} overgange` }).click();
      await page.getByText(`${count} overgange er oprettet.`).waitFor();
      assert.equal(pathOf(page), '/transitions');
      const row = page.locator('tr', { hasText: `Ea ${SURNAME}` });
      assert.match(await row.textContent(), /SFO Bakkely/);
      assert.match(await row.textContent(), /Overskredet/, 'a planned date in the past is flagged');
      await shot(page, 'cohort-created');
      await checkA11y(page, 'worklist-leader');

      // The relay for one child goes to the pedagogue.
      await row.getByRole('link', { name: `Ea ${SURNAME}` }).click();
      await page.getByLabel('Ny ansvarlig').selectOption({ label: 'Sofie Jensen' });
      await page.getByRole('button', { name: 'Skift ansvarlig' }).click();
      await page.getByText('Den ansvarlige er ændret.').waitFor();
      await checkA11y(page, 'transition-reassigned');
      assertNoPageErrors(page);
    });
    await withPage(browser, 'cohort-pedagogue', {}, async (page) => {
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      await page.goto('/transitions');
      const mine = page.locator('table').first();
      assert.match(await mine.textContent(), new RegExp(`Ea ${SURNAME}`), 'on the pedagogue’s own list');
      await shot(page, 'worklist-pedagogue');
      await checkA11y(page, 'worklist-pedagogue');
    });
  });
});
