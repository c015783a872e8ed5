// The parents' page in English, and correction requests: a pedagogue sends a handover to the
// parents and makes a link; the guardian opens it, switches the page to English with the language
// switch, asks for a correction of a section (first without filling in the form: the errors are in
// English too); the pedagogue finds the request on the transition and answers it; the guardian
// (a browser asking for English) reads the answer, then switches back to Danish. Every page, in
// both languages, passes axe.
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

const letters = () =>
  Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
const FIRST = 'Ellen';
const SURNAME = `Sprogsen${letters()}`;
const GUARDIAN = `Jane Sprogsen${letters()}`;
const REQUEST = `Ellen is not afraid of dogs any more; please remove that (${letters()}).`;
const ANSWER = `Tak, det har vi rettet i skemaet (${letters()}).`;

let browser;
let transitionPath;
let linkPath;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function htmlLang(page) {
  return page.locator('html').getAttribute('lang');
}

describe('parents in English, and correction requests', () => {
  test('a pedagogue sends the handover to the parents and makes a link', TIMEOUT, async () => {
    await withPage(browser, 'i18n-staff', {}, async (page) => {
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      transitionPath = await handoverSentToParents(page, {
        first: FIRST,
        surname: SURNAME,
        birthDate: '2021-02-03',
        guardian: GUARDIAN,
      });
      await page.goto(`${transitionPath}/parents`);
      const link = await newParentLink(page, GUARDIAN);
      linkPath = new URL(link).pathname;
      assertNoPageErrors(page);
    });
  });

  test('the guardian switches to English and asks for a correction', TIMEOUT, async () => {
    assert.ok(linkPath, 'the first test made the link');
    await withPage(browser, 'i18n-parent', {}, async (page) => {
      // A Danish browser gets the Danish page.
      assert.equal((await page.goto(linkPath)).status(), 200);
      assert.equal(await htmlLang(page), 'da');
      await page.getByRole('heading', { level: 1, name: `Overleveringen om ${FIRST}` }).waitFor();
      await checkA11y(page, 'i18n-parent-da');

      const switcher = page.getByRole('navigation', { name: 'Sprog' });
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        switcher.getByRole('link', { name: 'English' }).click(),
      ]);
      assert.equal(await htmlLang(page), 'en');
      assert.equal(await page.locator('html').getAttribute('dir'), 'ltr');
      await page.getByRole('heading', { level: 1, name: `The handover about ${FIRST}` }).waitFor();
      await page.getByRole('heading', { name: 'What will be handed over' }).waitFor();
      await page.getByText('The handover is written in Danish by the staff and is shown exactly as written.').waitFor();
      assert.ok(
        await page.getByRole('navigation', { name: 'Language' }).getByRole('link', { name: 'English' }).getAttribute('aria-current'),
        'the switch marks the current language',
      );
      assert.ok(!(await page.content()).includes(SURNAME), 'only the first name of the child');
      // Staff's Danish is marked as Danish; a translated scale value is not (WCAG 3.1.2).
      assert.equal(await page.locator('dl.parent-answers dt').first().getAttribute('lang'), 'da');
      const scale = page.locator('dl.parent-answers dd', { hasText: '1 – needs a lot of support' }).first();
      assert.equal(await scale.getAttribute('lang'), null);
      const written = page.locator('dl.parent-answers dd', { hasText: 'Skrevet i browsertesten.' }).first();
      assert.equal(await written.getAttribute('lang'), 'da');
      await shot(page, 'i18n-parent-en');
      await checkA11y(page, 'i18n-parent-en');

      // Nothing filled in: the errors, in English, with the form kept.
      const [invalid] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.getByRole('button', { name: 'Send the request' }).click(),
      ]);
      assert.equal(invalid.status(), 422);
      assert.equal(await htmlLang(page), 'en');
      // each message in the summary at the top (a link to the field) and at the field
      for (const message of ['Choose the section that should be corrected.', 'Write what is wrong.']) {
        await page.getByRole('link', { name: message }).waitFor();
        await page.locator('.form-error-message', { hasText: message }).waitFor();
      }
      assert.match(await page.title(), /^Error: /, 'the title says so first, in English');
      assert.equal(await page.getByLabel('What is wrong?').getAttribute('aria-invalid'), 'true');
      await shot(page, 'i18n-parent-en-errors');
      await checkA11y(page, 'i18n-parent-en-errors');

      const section = page.getByLabel('Section', { exact: true });
      const sectionTitle = await section.evaluate((el) => el.options[1].textContent.trim());
      await section.selectOption({ index: 1 });
      await page.getByLabel('What is wrong?').fill(REQUEST);
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.getByRole('button', { name: 'Send the request' }).click(),
      ]);
      assert.equal(pathOf(page), linkPath);
      assert.equal(await htmlLang(page), 'en', 'the language is remembered');
      await page.getByText('Thank you. Your correction request has been sent to Børnehaven Solsikken.').waitFor();
      await page.getByRole('heading', { name: 'Your correction requests' }).waitFor();
      const mine = page.locator('.correction-request', { hasText: REQUEST });
      assert.match(await mine.textContent(), new RegExp(`About “${escapeRe(sectionTitle)}”, sent [^–]*–\\s*Awaiting an answer`));
      await shot(page, 'i18n-parent-en-requested');
      await checkA11y(page, 'i18n-parent-en-requested');
      assertNoPageErrors(page);
    });
  });

  test('the pedagogue answers the request', TIMEOUT, async () => {
    assert.ok(transitionPath);
    await withPage(browser, 'i18n-corrections', {}, async (page) => {
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      await page.goto(transitionPath);
      await page.getByRole('link', { name: '1 anmodning om rettelse fra forældrene venter på svar' }).click();
      assert.equal(pathOf(page), `${transitionPath}/corrections`);
      await page.getByText(REQUEST).waitFor();
      await page.getByText(`Fra ${GUARDIAN}`, { exact: false }).waitFor();
      assert.match(await page.locator('.correction-request h2').textContent(), /Afventer svar/);
      await shot(page, 'i18n-corrections');
      await checkA11y(page, 'i18n-corrections');

      // Neither a decision nor an answer: both errors.
      const [invalid] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.getByRole('button', { name: 'Gem svaret' }).click(),
      ]);
      assert.equal(invalid.status(), 422);
      await page.getByText('Vælg, om oplysningen er rettet eller ej.').waitFor();
      await page.getByText('Udfyld svaret.').waitFor();
      await checkA11y(page, 'i18n-corrections-errors');

      await page.getByLabel('Rettet', { exact: true }).check();
      await page.getByLabel('Svar til forælderen').fill(ANSWER);
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.getByRole('button', { name: 'Gem svaret' }).click(),
      ]);
      await page.getByText('Svaret er gemt, og forælderen kan læse det på sin side.').waitFor();
      assert.match(await page.locator('.correction-request h2').textContent(), /Rettet/);
      await page.getByText(ANSWER).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Gem svaret' }).count(), 0, 'answered once');
      await checkA11y(page, 'i18n-corrections-answered');
      assertNoPageErrors(page);
    });
  });

  test('the guardian reads the answer in English, then in Danish', TIMEOUT, async () => {
    assert.ok(linkPath);
    // A browser that asks for English gets it without choosing.
    await withPage(browser, 'i18n-parent-answer', { locale: 'en-GB' }, async (page) => {
      await page.goto(linkPath);
      assert.equal(await htmlLang(page), 'en');
      const mine = page.locator('.correction-request', { hasText: REQUEST });
      assert.match(await mine.textContent(), /–\s*Corrected/);
      assert.match(await mine.textContent(), /Answer from Børnehaven Solsikken, /);
      await mine.getByText(ANSWER).waitFor();
      assert.equal(await mine.getByText(ANSWER).getAttribute('lang'), 'da', "staff's Danish is marked as Danish");
      await shot(page, 'i18n-parent-en-answer');
      await checkA11y(page, 'i18n-parent-en-answer');

      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.getByRole('navigation', { name: 'Language' }).getByRole('link', { name: 'Dansk' }).click(),
      ]);
      assert.equal(await htmlLang(page), 'da');
      await page.getByRole('heading', { name: 'Dine anmodninger om rettelse' }).waitFor();
      const dansk = page.locator('.correction-request', { hasText: REQUEST });
      assert.match(await dansk.textContent(), /–\s*Rettet/);
      assert.match(await dansk.textContent(), /Svar fra Børnehaven Solsikken, /);
      await checkA11y(page, 'i18n-parent-da-answer');
      assertNoPageErrors(page);
    });
  });
});
