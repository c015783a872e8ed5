// The sender's status page and the strengths-based wording hints in a browser:
// 1. the kindergarten's leader opens the status of sent handovers from the worklist, follows a
//    count and lands on exactly the children behind it (the demo's "Ida Eksempel" was sent from
//    Børnehaven Solsikken), and gets back to the status filtered to that cohort;
// 2. the municipal administrator adds a deficit phrase with a suggestion to the wording list,
//    is told about a duplicate, edits the suggestion, and adds a phrase with a hyphen;
// 3. a pedagogue writes deficit sentences in free-text answers of a handover form (a default
//    phrase, and the administrator's two): the hints appear while typing (static/app.js, no
//    request to the server), the server renders the same hints after saving, and neutral text
//    shows none (and no empty hint box).
// Every page passes axe.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_PASSWORD, assertNoPageErrors, checkA11y, launch, login, pathOf, shot, withPage } from '../lib.mjs';

const TIMEOUT = { timeout: 180_000 };
const LEDER = 'leder@vejle.overgang.test';
const ADMIN = 'admin@vejle.overgang.test';
const PAEDAGOG = 'paedagog@vejle.overgang.test';
const SENDER = 'Børnehaven Solsikken';
const DEMO_CHILD = 'Ida Eksempel';

const letters = () =>
  Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');

/** Collapsed white space, for comparing what two renderings say. */
const squash = (s) => (s ?? '').replace(/\s+/g, ' ').trim();

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** A navigation link a person can see (the layout has a desktop and a mobile menu). */
function navLink(page, name) {
  return page.getByRole('link', { name, exact: true }).filter({ visible: true }).first();
}

describe('sender status', () => {
  test('the leader follows a count to the children behind it', TIMEOUT, async () => {
    await withPage(browser, 'sender-status', {}, async (page) => {
      await login(page, LEDER, DEMO_PASSWORD);
      await navLink(page, 'Overgange').click();
      assert.equal(pathOf(page), '/transitions');
      await page.getByRole('link', { name: 'Status for afsendte overleveringer' }).click();
      assert.equal(pathOf(page), '/transitions/status');
      await page.getByRole('heading', { level: 1, name: 'Status for afsendte overleveringer' }).waitFor();

      const table = page.locator('table.sender-status');
      await table.waitFor();
      const headings = (await table.locator('thead th').allTextContents()).map(squash);
      assert.deepEqual(headings, [
        'Afsender',
        'Årgang',
        'Type',
        'I alt',
        'Kladde',
        'Hos forældrene',
        'Klar til afsendelse',
        'Sendt',
        'Læst af modtager',
        'Kvitteret',
        'Overskredet',
      ]);
      // The leader sees only the institution they lead.
      const senders = new Set((await table.locator('tbody th[scope="row"]').allTextContents()).map(squash));
      assert.deepEqual([...senders], [SENDER]);
      await shot(page, 'sender-status');
      await checkA11y(page, 'sender-status');

      // Every "Sendt" count of Solsikken links to its list; the oldest cohort holds the demo child
      // (sent with a planned date in the past; other journeys plan later ones).
      const sentName = new RegExp(`^(\\d+) (?:barn|børn): Sendt, ${SENDER}, årgang (\\d{4}), `);
      const sentLinks = table.getByRole('link', { name: sentName });
      assert.ok((await sentLinks.count()) >= 1, 'at least one sent handover is counted');
      const link = sentLinks.last();
      const label = squash(await link.textContent());
      const [, countText, year] = label.match(/^(\d+) (?:barn|børn): Sendt, .*, årgang (\d{4}), /);
      const count = Number(countText);
      assert.ok(count >= 1, `a linked count is positive: ${label}`);
      const row = link.locator('xpath=ancestor::tr');
      const totalText = squash(await row.locator('td.count').first().textContent());
      assert.ok(Number(totalText.match(/^\d+/)[0]) >= count, '"I alt" counts at least the sent ones');

      await link.click();
      assert.equal(pathOf(page), '/transitions');
      const params = new URL(page.url()).searchParams;
      assert.equal(params.get('state'), 'sent');
      assert.equal(params.get('year'), year);
      assert.equal(params.get('kind'), 'kindergarten_school');
      assert.match(params.get('institution') ?? '', /^[0-9a-f-]{36}$/);
      await page.getByRole('heading', { level: 1, name: 'Overgange: Sendt' }).waitFor();
      assert.equal(squash(await page.locator('#filtered-count').textContent()), count === 1 ? '1 barn' : `${count} børn`);
      const listed = page.locator('main table tbody tr');
      assert.equal(await listed.count(), count, 'the list shows exactly the counted children');
      assert.ok(await page.getByRole('link', { name: DEMO_CHILD }).isVisible(), 'the demo child is among them');
      for (const status of await listed.locator('td:nth-child(5)').allTextContents()) {
        assert.doesNotMatch(status, /Kladde|Hos forældrene|Klar til afsendelse/, 'only sent handovers are listed');
      }
      assert.match(squash(await page.locator('main').textContent()), new RegExp(`Afsender: ${SENDER}`));
      await shot(page, 'sender-status-filtered');
      await checkA11y(page, 'sender-status-filtered');

      // Back to the status, filtered to that institution and cohort.
      await page.getByRole('link', { name: 'Tilbage til status for afsendte overleveringer' }).click();
      assert.equal(pathOf(page), '/transitions/status');
      assert.equal(new URL(page.url()).searchParams.get('year'), year);
      await page.getByRole('heading', { level: 2, name: `Overleveringer: ${SENDER}, årgang ${year}` }).waitFor();
      assert.equal(await page.getByLabel('Årgang (år for den planlagte dato)').inputValue(), year);
      assert.equal(await table.locator('tbody tr').filter({ hasNotText: year }).count(), 0, 'only that cohort');
      await checkA11y(page, 'sender-status-cohort');
      assertNoPageErrors(page);
    });
  });
});

describe('wording', () => {
  const PHRASE = 'sur og tvær';
  const SUGGESTION = 'Beskriv, hvornår barnet er glad, og hvad der hjælper det i gang om morgenen.';
  const EDITED = `Beskriv situationen, hvad der går forud, og hvad der gør barnet glad igen (${letters()}).`;
  const DEFICIT = 'Ida kan ikke sidde stille i samlingen. Hun elsker at male.';
  const NEUTRAL = 'Ida sidder stille i samlingen, når hun har noget i hænderne. Hun elsker at male.';
  const DEFICIT_OTHER = `Om morgenen er Ida ${PHRASE}. Hun er ikke-skoleparat, siger mor.`;
  const NEUTRAL_OTHER = 'Om morgenen falder Ida til ro med en bog. Hun glæder sig til skolen.';
  // A phrase with a hyphen: nothing special for the server, and must not be for the browser.
  const HYPHENATED = 'ikke-skoleparat';
  const HYPHENATED_SUGGESTION = 'Beskriv, hvad barnet allerede kan, og hvad det øver sig på inden skolestart.';
  const KAN_IKKE =
    'Beskriv, hvad barnet kan, og hvad der hjælper det videre, fx «kan med støtte fra en voksen …» eller «er på vej til at …».';

  test('the administrator adds and edits a phrase', TIMEOUT, async () => {
    await withPage(browser, 'wording-settings', {}, async (page) => {
      await login(page, ADMIN, DEMO_PASSWORD);
      // "Indstillinger" is folded into the menu's «Mere» on an administrator's wide menu.
      await page.goto('/settings');
      await page.getByRole('link', { name: 'Ret listen over ordvalg' }).click();
      assert.equal(pathOf(page), '/settings/wording');
      await page.getByRole('heading', { level: 1, name: 'Ordvalg i overleveringer' }).waitFor();
      assert.ok(await page.getByRole('cell', { name: 'kan ikke', exact: true }).isVisible(), 'the default list');
      await checkA11y(page, 'wording-list');

      // Nothing filled in: both fields are reported.
      await page.getByRole('button', { name: 'Tilføj', exact: true }).click();
      await page.getByRole('heading', { name: 'Der er problemer' }).waitFor();
      assert.equal(await page.locator('.form-error-message').count(), 2);
      await checkA11y(page, 'wording-list-errors');

      await page.getByLabel('Ord eller udtryk').fill(PHRASE);
      await page.getByLabel('Forslag til pædagogen').fill(SUGGESTION);
      await page.getByRole('button', { name: 'Tilføj', exact: true }).click();
      await page.getByText(`«${PHRASE}» er tilføjet til listen.`).waitFor();
      const row = page.locator('tbody tr', { has: page.getByRole('cell', { name: PHRASE, exact: true }) });
      assert.equal(await row.count(), 1);
      assert.equal(squash(await row.locator('td').nth(1).textContent()), SUGGESTION);

      // The same phrase again, in other case and spacing, is a duplicate.
      await page.getByLabel('Ord eller udtryk').fill('Sur  og  Tvær');
      await page.getByLabel('Forslag til pædagogen').fill(SUGGESTION);
      await page.getByRole('button', { name: 'Tilføj', exact: true }).click();
      await page.locator('#phrase-error', { hasText: 'Ordet eller udtrykket står allerede på listen.' }).waitFor();
      assert.equal(await page.getByRole('cell', { name: PHRASE, exact: true }).count(), 1);

      await row.getByRole('link', { name: `Ret eller slet «${PHRASE}»` }).click();
      assert.match(pathOf(page), /^\/settings\/wording\/[0-9a-f-]{36}$/);
      assert.equal(await page.getByLabel('Ord eller udtryk').inputValue(), PHRASE);
      assert.equal(await page.getByLabel('Forslag til pædagogen').inputValue(), SUGGESTION);
      await checkA11y(page, 'wording-edit');
      await page.getByLabel('Forslag til pædagogen').fill(EDITED);
      await page.getByRole('button', { name: 'Gem', exact: true }).click();
      assert.equal(pathOf(page), '/settings/wording');
      await page.getByText(`«${PHRASE}» er gemt.`).waitFor();
      assert.equal(squash(await row.locator('td').nth(1).textContent()), EDITED);
      assert.equal(await page.getByText(SUGGESTION).count(), 0, 'the old suggestion is gone');

      await page.getByLabel('Ord eller udtryk').fill(HYPHENATED);
      await page.getByLabel('Forslag til pædagogen').fill(HYPHENATED_SUGGESTION);
      await page.getByRole('button', { name: 'Tilføj', exact: true }).click();
      await page.getByText(`«${HYPHENATED}» er tilføjet til listen.`).waitFor();
      await shot(page, 'wording-list');
      await checkA11y(page, 'wording-list-edited');
      assertNoPageErrors(page);
    });
  });

  // Also uses the two phrases the administrator added above (node:test runs them in order).
  test('the pedagogue gets a hint while typing and after saving', TIMEOUT, async () => {
    const surname = `Ordvalg${letters()}`;
    const child = `Ida ${surname}`;
    await withPage(browser, 'wording-form', {}, async (page) => {
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      // A child of the pedagogue's kindergarten with a transition to school, theirs to write.
      await page.goto('/children/new');
      await page.getByLabel('Fornavn').fill('Ida');
      await page.getByLabel('Efternavn').fill(surname);
      await page.getByLabel('Fødselsdato').fill('2021-05-05');
      await page.getByLabel('Institution').selectOption({ label: SENDER });
      await page.getByRole('button', { name: 'Opret barn' }).click();
      await page.locator('h1', { hasText: child }).waitFor();
      const childId = pathOf(page).split('/').pop();
      await page.goto(`/transitions/new?child=${childId}`);
      await page.getByLabel('Modtagende institution').selectOption({ label: 'Bakkeskolen' });
      await page.getByLabel('Overgangstype').selectOption({ label: 'Børnehave → skole' });
      await page.getByLabel('Planlagt dato').fill('2027-08-01');
      await page.getByLabel('Ansvarlig medarbejder').selectOption({ label: 'Sofie Jensen' });
      await page.getByRole('button', { name: /Opret/ }).click();
      await page.getByText('Overgangen er oprettet.').waitFor();

      // Found from the worklist, like a pedagogue would.
      await navLink(page, 'Overgange').click();
      await page.getByRole('link', { name: child }).click();
      await page.getByRole('link', { name: 'Overleveringsskemaet' }).click();
      assert.match(pathOf(page), /^\/transitions\/[0-9a-f-]{36}\/form$/);
      const formPath = pathOf(page);

      const saves = [];
      page.on('request', (r) => {
        if (r.method() === 'POST' && new URL(r.url()).pathname === formPath) saves.push(r);
      });
      const areas = page.locator('textarea[data-wording-target]');
      assert.ok((await areas.count()) >= 2, 'the form has free-text answers');
      const area = areas.nth(0);
      const other = areas.nth(1);
      const hints = page.locator(`#${await area.getAttribute('data-wording-target')}`);
      const otherHints = page.locator(`#${await other.getAttribute('data-wording-target')}`);
      const liveRegion = page.locator('#wording-live');
      const items = async (box) => (await box.locator('li').allTextContents()).map(squash);
      assert.match(await area.getAttribute('aria-describedby'), /-wording$/, 'the hints describe the field');
      assert.equal(await hints.isVisible(), false, 'no hint box before anything is written');
      assert.equal(await otherHints.isVisible(), false, 'no hint box before anything is written');

      // Live, while typing: the default phrase «kan ikke» …
      await area.click();
      await area.pressSequentially(DEFICIT);
      await hints.locator('strong', { hasText: '«kan ikke»' }).waitFor({ timeout: 2_000 });
      const TITLE = 'Forslag til ordvalg (kun et råd – du kan gemme som det står):';
      assert.equal(squash(await hints.locator('.wording-hints-title').textContent()), TITLE);
      const live = await items(hints);
      assert.deepEqual(live, [`«kan ikke» i «Ida kan ikke sidde stille i samlingen.»: ${KAN_IKKE}`]);
      assert.equal(squash(await hints.locator('mark').textContent()), 'kan ikke');
      assert.equal(squash(await liveRegion.textContent()), 'Forslag til ordvalg: «kan ikke». Forslaget står under feltet.');
      // … and the administrator's two phrases, with the edited suggestion.
      await other.click();
      await other.pressSequentially(DEFICIT_OTHER);
      await otherHints.locator('li').nth(1).waitFor({ timeout: 2_000 });
      const liveOther = await items(otherHints);
      assert.deepEqual(liveOther, [
        `«${PHRASE}» i «Om morgenen er Ida ${PHRASE}.»: ${EDITED}`,
        `«${HYPHENATED}» i «Hun er ${HYPHENATED}, siger mor.»: ${HYPHENATED_SUGGESTION}`,
      ]);
      assert.equal(
        squash(await liveRegion.textContent()),
        `Forslag til ordvalg: «${PHRASE}», «${HYPHENATED}». Forslaget står under feltet.`,
      );
      assert.equal(saves.length, 0, 'the live hints need no request to the server');
      assert.equal(await page.getByText(/svar har forslag til ordvalg/).count(), 0, 'no server hint yet');
      await shot(page, 'wording-form-live-hint');
      await checkA11y(page, 'wording-form-live-hint');
      // The autosave comes 3 s after the last key; let it finish so "Gem kladde" cannot race it.
      await page.getByText(/^Gemt kl\. \d\d:\d\d$/).waitFor({ timeout: 15_000 });
      assert.equal(saves.length, 1, 'one autosave, after the hints');

      // Saved: the server shows the same hints, and says how many answers have them.
      await page.getByRole('button', { name: 'Gem kladde' }).click();
      await page.getByText('Kladden er gemt.').waitFor();
      assert.equal(pathOf(page), formPath);
      assert.equal(await area.inputValue(), DEFICIT);
      await page.getByText('2 svar har forslag til ordvalg').waitFor();
      assert.equal(squash(await hints.locator('.wording-hints-title').textContent()), TITLE);
      assert.deepEqual(await items(hints), live, 'the server says what the browser said');
      assert.deepEqual(await items(otherHints), liveOther, 'the server says what the browser said');
      await shot(page, 'wording-form-saved-hint');
      await checkA11y(page, 'wording-form-saved-hint');

      // Neutral text: the hints go away while typing, and none come back after saving.
      await area.fill('');
      await area.pressSequentially(NEUTRAL);
      await other.fill('');
      await other.pressSequentially(NEUTRAL_OTHER);
      await hints.waitFor({ state: 'hidden', timeout: 2_000 });
      await otherHints.waitFor({ state: 'hidden', timeout: 2_000 });
      assert.equal(squash(await liveRegion.textContent()), 'Ingen forslag til ordvalg i feltet længere.');
      await page.getByText(/^Gemt kl\. \d\d:\d\d$/).waitFor({ timeout: 15_000 });
      await page.getByRole('button', { name: 'Gem kladde' }).click();
      await page.getByText('Kladden er gemt.').waitFor();
      assert.equal(await area.inputValue(), NEUTRAL);
      assert.equal(await other.inputValue(), NEUTRAL_OTHER);
      assert.equal(await page.locator('.wording-hints li').count(), 0, 'no hints anywhere in the form');
      assert.equal(await page.getByText(/svar har forslag til ordvalg/).count(), 0);
      assert.equal(await hints.isVisible(), false, 'an empty hint box takes no room');
      await checkA11y(page, 'wording-form-neutral');
      assertNoPageErrors(page);
    });
  });
});
