// Children: a pedagogue creates a child with a guardian, finds it by name and opens its page;
// an administrator lists the municipality's children. Every page is checked with axe, the
// child's page also on a phone. The CPR number must never show up in full, nor in any URL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
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

const TIMEOUT = { timeout: 90_000 };
const PAEDAGOG = 'paedagog@vejle.overgang.test';
const ADMIN = 'admin@vejle.overgang.test';

// The server keeps its data between runs, so every run makes its own child: a name nobody else
// has and a CPR number that is (almost certainly) not taken. Seventh digit 4 with YY ≤ 36 means
// born in the 2000s.
const letters = () =>
  Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
const SURNAME = `Testesen${letters()}`;
const FIRST = 'Alma';
const DAY = String(1 + Math.floor(Math.random() * 28)).padStart(2, '0');
const MONTH = String(1 + Math.floor(Math.random() * 12)).padStart(2, '0');
const CPR = `${DAY}${MONTH}21-4${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}`;
const CPR_DIGITS = CPR.replace('-', '');
const MASKED = `${CPR.slice(0, 6)}-xxxx`;
const BIRTH_DATE = `2021-${MONTH}-${DAY}`;

let browser;
let childPath;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Fails if the full CPR number is anywhere in the page's HTML or in its URL. */
async function assertNoCpr(page) {
  const html = await page.content();
  assert.ok(!html.includes(CPR) && !html.includes(CPR_DIGITS), `the full CPR number is on ${page.url()}`);
  assert.ok(!page.url().includes(CPR_DIGITS.slice(0, 6)), `the CPR number is in the URL ${page.url()}`);
}

describe('children', () => {
  test('a pedagogue creates a child with a guardian, searches and opens the page', TIMEOUT, async () => {
    await withPage(browser, 'children-pedagogue', {}, async (page) => {
      const visited = [];
      page.on('framenavigated', (frame) => {
        if (frame === page.mainFrame()) visited.push(frame.url());
      });
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      await page.goto('/children');
      assert.equal(await page.locator('h1').textContent(), 'Børn');
      await checkA11y(page, 'children-list-pedagogue');

      await page.getByRole('link', { name: 'Opret barn' }).click();
      assert.equal(pathOf(page), '/children/new');
      await checkA11y(page, 'children-new');

      // A mistake first: the form comes back with the messages and passes axe.
      await page.getByLabel('Fornavn').fill(FIRST);
      await page.getByLabel('CPR-nummer').fill('310299-1234');
      await page.getByRole('button', { name: 'Opret barn' }).click();
      await page.locator('.alert-error').waitFor();
      assert.match(await page.locator('#cpr-error').textContent(), /gyldig fødselsdato/);
      assert.match(await page.locator('#last_name-error').textContent(), /Udfyld efternavn/);
      assert.equal(await page.getByLabel('Fornavn').inputValue(), FIRST, 'input is kept');
      assert.equal(await page.getByLabel('CPR-nummer').inputValue(), '', 'the CPR is not sent back');
      await shot(page, 'children-new-errors');
      await checkA11y(page, 'children-new-errors');

      await page.getByLabel('Efternavn').fill(SURNAME);
      await page.getByLabel('Fødselsdato').fill(BIRTH_DATE);
      await page.getByLabel('CPR-nummer').fill(CPR);
      await page.getByLabel('Institution').selectOption({ label: 'Børnehaven Solsikken' });
      await page.getByLabel('Gruppe, stue eller klasse').fill('Stue A');
      await page.getByRole('button', { name: 'Opret barn' }).click();
      await page.locator('h1', { hasText: `${FIRST} ${SURNAME}` }).waitFor();
      childPath = pathOf(page);
      assert.match(childPath, /^\/children\/[0-9a-f-]{36}$/);
      assert.ok((await page.content()).includes(MASKED), 'the CPR is shown masked');
      await assertNoCpr(page);
      await checkA11y(page, 'child-page-new');

      await page.getByRole('link', { name: 'Tilføj forælder eller værge' }).click();
      await checkA11y(page, 'guardian-new');
      await page.getByLabel('Navn', { exact: true }).fill(`Mette ${SURNAME}`);
      await page.getByLabel('Relation til barnet').fill('Mor');
      await page.getByLabel('E-mail').fill('mette@example.dk');
      await page.getByLabel('Telefon').fill('12 34 56 78');
      await page.getByRole('button', { name: 'Tilføj' }).click();
      await page.getByText('Forælderen er tilføjet.').waitFor();
      assert.equal(pathOf(page), childPath);
      assert.ok(await page.getByRole('cell', { name: `Mette ${SURNAME}`, exact: true }).isVisible());
      await shot(page, 'child-page-with-guardian');
      await checkA11y(page, 'child-page-with-guardian');

      // The other forms of the child's page pass axe too.
      await page.getByRole('link', { name: 'Tilføj indskrivning' }).click();
      await checkA11y(page, 'enrolment-new');
      await page.goBack();
      await page.getByRole('link', { name: /^Afslut/ }).click();
      await checkA11y(page, 'enrolment-end');
      await page.goto(childPath);
      await page.getByRole('link', { name: /^Redigér Mette/ }).click();
      await checkA11y(page, 'guardian-edit');
      await page.goto(`${childPath}/edit`);
      assert.equal(await page.locator('#cpr').inputValue(), '', 'the number is not sent back');
      await assertNoCpr(page);
      await checkA11y(page, 'child-edit');

      await page.getByRole('link', { name: 'Børn', exact: true }).first().click();
      // A CPR number typed into the search is refused before it can reach the address bar.
      await page.getByLabel('Søg efter navn').fill(CPR);
      await page.getByRole('button', { name: 'Søg' }).click();
      await page.getByText('kan der ikke søges på CPR-nummer').first().waitFor();
      await assertNoCpr(page);
      await checkA11y(page, 'children-search-cpr-refused');

      await page.getByLabel('Søg efter navn').fill(SURNAME.toLowerCase());
      await page.getByRole('button', { name: 'Søg' }).click();
      const link = page.getByRole('link', { name: `${FIRST} ${SURNAME}` });
      await link.waitFor();
      assert.equal(await page.locator('tbody tr').count(), 1, 'one child matches');
      await assertNoCpr(page);
      assert.ok(!(await page.content()).includes(MASKED), 'not even the masked CPR in the list');
      await shot(page, 'children-search');
      await checkA11y(page, 'children-search');

      await link.click();
      assert.equal(pathOf(page), childPath);
      await assertNoCpr(page);
      assertNoPageErrors(page);
      for (const url of visited) {
        assert.ok(!url.includes(CPR_DIGITS.slice(0, 6)), `CPR in a visited URL: ${url}`);
      }
    });
  });

  test("the child's page on a phone passes axe", TIMEOUT, async () => {
    assert.ok(childPath, 'the first test created the child');
    await withPage(browser, 'child-page-phone', PHONE, async (page) => {
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      const response = await page.goto(childPath);
      assert.equal(response.status(), 200);
      await shot(page, 'child-page-phone');
      await checkA11y(page, 'child-page-phone');
      assertNoPageErrors(page);
    });
  });

  test('the administrator lists the children of the municipality', TIMEOUT, async () => {
    await withPage(browser, 'children-admin', {}, async (page) => {
      await login(page, ADMIN, DEMO_PASSWORD);
      await page.getByRole('link', { name: 'Børn', exact: true }).first().click();
      assert.equal(pathOf(page), '/children');
      assert.match(await page.locator('.font-lead').textContent(), /Alle børn i kommunen/);
      await page.getByLabel('Søg efter navn').fill(SURNAME);
      await page.getByLabel('Institution').selectOption({ label: 'Børnehaven Solsikken' });
      await page.getByRole('button', { name: 'Søg' }).click();
      await page.getByRole('link', { name: `${FIRST} ${SURNAME}` }).waitFor();
      await assertNoCpr(page);
      await shot(page, 'children-admin');
      await checkA11y(page, 'children-admin');
      await page.goto('/children');
      await checkA11y(page, 'children-admin-all');
      assertNoPageErrors(page);
    });
  });
});
