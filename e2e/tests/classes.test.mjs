// Class overview: the administrator creates class 0.A at Bakkeskolen and places the demo child
// "Ida Eksempel" (handed over from Børnehaven Solsikken) and the school's teacher in it; the
// teacher opens "Klasser" on a tablet (768 px wide), finds the child with the handover's key
// points, sorts the table, and the page fits the screen without sideways scrolling. Printed, the
// menu and the forms disappear. Every page is checked with axe.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_PASSWORD, assertNoPageErrors, checkA11y, launch, login, pathOf, shot, withPage } from '../lib.mjs';

const TIMEOUT = { timeout: 120_000 };
const ADMIN = 'admin@vejle.overgang.test';
const LAERER = 'laerer@vejle.overgang.test';
const CHILD = 'Ida Eksempel';
const TABLET = { viewport: { width: 768, height: 1024 }, hasTouch: true };

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

describe('classes', () => {
  test('the administrator places a child and a teacher in a class', TIMEOUT, async () => {
    await withPage(browser, 'classes-admin', {}, async (page) => {
      await login(page, ADMIN, DEMO_PASSWORD);
      await page.goto('/classes');
      assert.equal(await page.locator('h1').textContent(), 'Klasser');
      await checkA11y(page, 'classes-list');
      await page.getByLabel('Institution').selectOption({ label: 'Bakkeskolen' });
      await page.getByLabel('Klassens navn').fill('0.A');
      await page.getByRole('button', { name: 'Opret klassen' }).click();
      assert.match(pathOf(page), /^\/classes\/[0-9a-f-]{36}$/);
      assert.equal(await page.locator('h1').textContent(), 'Klasse 0.A');
      const child = await page
        .locator('#transition_id option')
        .evaluateAll((options, name) => options.find((o) => o.textContent.includes(name))?.value, CHILD);
      assert.ok(child, `${CHILD} can be placed`);
      await page.locator('#transition_id').selectOption(child);
      await page.getByRole('button', { name: 'Sæt barnet i klassen' }).click();
      await page.locator('.class-table').waitFor();
      await page.getByRole('button', { name: 'Gør til lærer i klassen' }).click();
      await page.locator('.alert-success').waitFor();
      await checkA11y(page, 'class-arrange');
      await shot(page, 'class-arrange');
      assertNoPageErrors(page);
    });
  });

  test('the teacher reads the class on a tablet and prints it', TIMEOUT, async () => {
    await withPage(browser, 'classes-teacher', TABLET, async (page) => {
      await login(page, LAERER, DEMO_PASSWORD);
      await page.goto('/classes');
      await page.getByRole('link', { name: '0.A' }).click();
      assert.equal(await page.locator('h1').textContent(), 'Klasse 0.A');
      const row = page.locator('.class-table tbody tr', { hasText: CHILD });
      assert.equal(await row.count(), 1);
      assert.match(await row.textContent(), /Børnehaven Solsikken/);
      assert.match(await row.textContent(), /Styrker og det, der virker/);
      await checkA11y(page, 'class-overview-tablet');
      await shot(page, 'class-overview-tablet');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `no sideways scrolling at 768 px (overflow ${overflow}px)`);

      await page.goto(`${pathOf(page)}?sort=-child`);
      assert.equal(await page.locator('th[aria-sort="descending"]').count(), 1);
      await checkA11y(page, 'class-overview-sorted');

      await page.emulateMedia({ media: 'print' });
      assert.equal(await page.locator('header.header').isVisible(), false, 'no menu on paper');
      assert.equal(await page.locator('.class-sort').isVisible(), false);
      assert.equal(await row.isVisible(), true, 'the children are printed');
      await shot(page, 'class-overview-print');
      assertNoPageErrors(page);
    });
  });
});
