// The administrator's template editor: view the kindergarten → school template, make a new
// version, add a question, publish it. Every page on the way must pass axe.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_PASSWORD, assertNoPageErrors, checkA11y, launch, login, pathOf, shot, withPage } from '../lib.mjs';

const TIMEOUT = { timeout: 120_000 };
// Stevns, so the journey never meets versions another test file made in Vejle.
const ADMIN = 'admin@stevns.overgang.test';
const QUESTION = 'Hvilket sprog taler barnet helst i leg?';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Submit the form the locator points into and wait for the page it leads to. */
async function submit(page, button) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
}

describe('form templates', () => {
  test('an administrator makes, edits and publishes a new version', TIMEOUT, async () => {
    await withPage(browser, 'templates', {}, async (page) => {
      // app.js asks window.confirm before forms with data-confirm are sent; say yes.
      page.on('dialog', (d) => d.accept().catch(() => {}));
      await login(page, ADMIN, DEMO_PASSWORD);
      const nav = page.getByRole('link', { name: 'Skabeloner', exact: true }).filter({ visible: true }).first();
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), nav.click()]);
      assert.equal(pathOf(page), '/templates');
      await page.getByRole('heading', { name: 'Børnehave → skole', level: 2 }).waitFor();
      await shot(page, 'templates-list');
      await checkA11y(page, 'templates-list');

      // The published kindergarten → school template, read-only.
      const section = page.locator('section', { has: page.getByRole('heading', { name: 'Børnehave → skole', level: 2 }) });
      // The row of the published version (earlier runs may have left archived ones).
      const published = section
        .getByRole('row')
        .filter({ has: page.getByRole('cell', { name: 'Offentliggjort', exact: true }) })
        .getByRole('link');
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), published.click()]);
      assert.match(pathOf(page), /^\/templates\/[0-9a-f-]{36}$/);
      for (const theme of [
        'Alsidig personlig udvikling',
        'Social udvikling',
        'Kommunikation og sprog',
        'Krop, sanser og bevægelse',
        'Natur, udeliv og science',
        'Kultur, æstetik og fællesskab',
      ]) {
        await page.getByRole('heading', { name: new RegExp(theme) }).first().waitFor();
      }
      assert.equal(await page.getByRole('link', { name: /Tilføj spørgsmål/ }).count(), 0, 'no editing of a published version');
      await shot(page, 'templates-published');
      await checkA11y(page, 'templates-published');

      // A new version is a draft copy.
      await submit(page, page.getByRole('button', { name: 'Opret ny version ud fra denne' }));
      await page.getByText(/Version \d+ er oprettet som kladde/).waitFor();
      const draftPath = pathOf(page);
      await shot(page, 'templates-draft');
      await checkA11y(page, 'templates-draft');

      // Add a question to the first section (counted: reruns copy earlier runs' questions).
      const before = await page.getByRole('heading', { name: QUESTION }).count();
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.getByRole('link', { name: 'Tilføj spørgsmål til Sprog' }).click(),
      ]);
      await checkA11y(page, 'templates-question-form');
      await page.locator('#label').fill(QUESTION);
      await page.locator('#kind').selectOption('single_choice');
      // An invalid attempt first: a choice question without options.
      await submit(page, page.getByRole('button', { name: 'Gem spørgsmål' }));
      await page.locator('.form-error-message', { hasText: 'mindst to svarmuligheder' }).waitFor();
      await shot(page, 'templates-question-invalid');
      await checkA11y(page, 'templates-question-invalid');
      await page.locator('#options').fill('Dansk\nModersmålet\nBegge dele');
      await page.locator('#theme').selectOption('language');
      // A double click sends the form once (static/app.js), so the question is added once.
      // The answer to the post is held back for a moment, as on a slow line, so that the
      // second click lands while the first is on its way; the posts that reach the server
      // are counted.
      const button = page.getByRole('button', { name: 'Gem spørgsmål' });
      const action = await button.evaluate((b) => b.form.action);
      let posts = 0;
      await page.route(action, async (route) => {
        if (route.request().method() !== 'POST') {
          return route.continue();
        }
        posts += 1;
        const response = await route.fetch({ maxRedirects: 0 });
        await new Promise((resolve) => setTimeout(resolve, 700));
        await route.fulfill({ response }).catch(() => {});
      });
      // the mouse, not the locator: a locator's click waits for the page it leads to
      await button.scrollIntoViewIfNeeded();
      const box = await button.boundingBox();
      const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
      await page.mouse.click(x, y);
      await page.waitForTimeout(150);
      await page.mouse.click(x, y);
      await page.waitForURL((url) => url.pathname === draftPath);
      await page.waitForLoadState('load');
      await page.unroute(action);
      assert.equal(posts, 1, 'the second click sent nothing');
      await page.goto(draftPath);
      assert.equal(pathOf(page), draftPath);
      const added = page.getByRole('heading', { name: QUESTION });
      assert.equal(await added.count(), before + 1, 'the question was added once');

      // Publish.
      await submit(page, page.getByRole('button', { name: /^Offentliggør version/ }));
      await page.getByText(/er offentliggjort/).first().waitFor();
      assert.equal(await page.getByRole('link', { name: 'Tilføj afsnit' }).count(), 0, 'published: no editing');
      await shot(page, 'templates-published-new');
      await checkA11y(page, 'templates-published-new');

      await page.goto('/templates');
      const kindSection = page.locator('section', { has: page.getByRole('heading', { name: 'Børnehave → skole', level: 2 }) });
      assert.ok((await kindSection.getByRole('cell', { name: 'Arkiveret' }).count()) >= 1, 'the old version is archived');
      await checkA11y(page, 'templates-list-after');
      assertNoPageErrors(page);
    });
  });
});
