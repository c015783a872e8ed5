// Parents: a pedagogue prepares a handover, sends it to the parents and makes a link for a
// guardian without e-mail (to paste into Aula); the guardian opens the link on a phone, reads what
// will be handed over, writes their own perspective and gives consent to a sensitive section. The
// pedagogue then sees it all in the consent ledger. Pages are checked with axe.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DEMO_PASSWORD,
  assertNoPageErrors,
  checkA11y,
  handoverSentToParents,
  launch,
  login,
  newParentLink,
  pathOf,
  shot,
  withPage,
} from '../lib.mjs';

const TIMEOUT = { timeout: 120_000 };
const PAEDAGOG = 'paedagog@vejle.overgang.test';
// The phone the brief names: a small one.
const SMALL_PHONE = { viewport: { width: 375, height: 667 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

const letters = () =>
  Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
const SURNAME = `Forældresen${letters()}`;
const FIRST = 'Lykke';
const GUARDIAN = `Bente Moster${letters()}`;
const PERSPECTIVE = 'Lykke elsker at synge og har brug for lidt ekstra tid om morgenen.';

let browser;
let transitionPath;
let parentLink;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

describe('parents', () => {
  test('a pedagogue sends the handover to the parents and makes a link for Aula', TIMEOUT, async () => {
    await withPage(browser, 'parents-staff', {}, async (page) => {
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      transitionPath = await handoverSentToParents(page, {
        first: FIRST,
        surname: SURNAME,
        birthDate: '2021-03-04',
        guardian: GUARDIAN,
      });

      // The consent ledger, and a link shown once.
      await page.getByRole('link', { name: 'Forældre og samtykke' }).click();
      assert.equal(pathOf(page), `${transitionPath}/parents`);
      await checkA11y(page, 'parents-staff-before');
      parentLink = await newParentLink(page, GUARDIAN);
      await shot(page, 'parents-staff-link');
      await checkA11y(page, 'parents-staff-link');
      assertNoPageErrors(page);
    });
  });

  test('the guardian opens the link on a phone, writes a perspective and gives consent', TIMEOUT, async () => {
    assert.ok(parentLink, 'the first test made the link');
    await withPage(browser, 'parents-phone', SMALL_PHONE, async (page) => {
      const path = new URL(parentLink).pathname;
      const response = await page.goto(path);
      assert.equal(response.status(), 200);
      await page.locator('h1', { hasText: `Overleveringen om ${FIRST}` }).waitFor();
      const html = await page.content();
      assert.ok(!html.includes(SURNAME), 'only the first name of the child');
      assert.ok(html.includes('Bakkeskolen') && html.includes('Børnehaven Solsikken'));
      assert.ok(html.includes('Skrevet i browsertesten.'), 'the answers are shown');
      // Nothing wider than the phone.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px`);
      await checkA11y(page, 'parents-page-phone');
      await shot(page, 'parents-page-phone');

      await page.getByLabel(/^Dit perspektiv/).fill(PERSPECTIVE);
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.getByRole('button', { name: 'Gem mit perspektiv' }).click(),
      ]);
      await page.getByText('Tak. Dit perspektiv er gemt.').waitFor();
      assert.equal(await page.getByLabel(/^Dit perspektiv/).inputValue(), PERSPECTIVE);

      const yes = page.locator('form.parent-consent button[value="given"]').first();
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), yes.click()]);
      await page.getByText('Du har givet samtykke').waitFor();
      await page.locator('form.parent-consent', { hasText: 'Samtykke givet' }).first().waitFor();
      await shot(page, 'parents-page-phone-consent');
      await checkA11y(page, 'parents-page-phone-consent');
      assertNoPageErrors(page);

      // A tampered link gets the plain "does not work" page.
      const bad = await page.goto(`${path.slice(0, -1)}${path.endsWith('A') ? 'B' : 'A'}`);
      assert.equal(bad.status(), 404);
      await page.getByRole('heading', { name: 'Linket virker ikke' }).waitFor();
      await checkA11y(page, 'parents-invalid-link');
    });
  });

  test('the pedagogue sees the perspective and the decision in the ledger', TIMEOUT, async () => {
    assert.ok(transitionPath);
    await withPage(browser, 'parents-ledger', {}, async (page) => {
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      await page.goto(`${transitionPath}/parents`);
      await page.getByText(PERSPECTIVE).waitFor();
      await page.getByRole('cell', { name: 'Via forældrelinket' }).first().waitFor();
      assert.ok((await page.content()).includes('Samtykke givet'));
      await shot(page, 'parents-ledger');
      await checkA11y(page, 'parents-ledger');
    });
  });
});
